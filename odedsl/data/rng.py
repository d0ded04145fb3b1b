"""Seed streams: one independent random generator per (seed, purpose).

``rng_for(seed, purpose)`` is ``numpy.random.default_rng(SeedSequence(seed, spawn_key=(k,)))``
with ``k`` = 0 for ``"train"``, 1 for ``"test"``, 2 for ``"batches"`` (fresh training batches of
the toy densities), 3 for ``"augment"`` (image augmentation), 4 for ``"validation"`` (the
validation draw of a generated data set) and 5 for ``"split"`` (the seeded split of a user's
file into train / validation / test). The streams never overlap, so a held-out test set is
independent of the training and validation sets and of every streamed batch drawn with the same
seed (and of ``default_rng(seed)``, whose spawn key is empty).
"""

from __future__ import annotations

import numpy as np

from odedsl.data.arguments import check_int, suggestion
from odedsl.data.errors import DataError

PURPOSES: dict[str, int] = {
    "train": 0,
    "test": 1,
    "batches": 2,
    "augment": 3,
    "validation": 4,
    "split": 5,
}


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """The generator of stream ``purpose`` (see the module doc) for ``seed`` ≥ 0."""
    seed = check_int("seed", seed, 0)
    if purpose not in PURPOSES:
        hint = suggestion(purpose, PURPOSES)
        raise DataError(f"unknown random stream {purpose!r}{hint}; known: {', '.join(PURPOSES)}")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(PURPOSES[purpose],)))
