"""Seeding and capturing every random stream a training step may draw from.

The streams are torch's global generator (and CUDA's, when in use), numpy's global generator,
Python's ``random`` and the data generator the loop hands to streaming sources. Captured states
hold only tensors, numbers and lists, so checkpoints load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

GLOBAL_STREAM = 0
DATA_STREAM = 1
SHUFFLE_STREAM = 2
RESEED_STREAM = 3
AUGMENT_STREAM = 4


def derive_seed(seed: int, index: int, stream: int, bits: int = 63) -> int:
    """An independent ``bits``-bit seed for (``seed``, ``index``, ``stream``): ``index`` is the
    process rank for ``GLOBAL_STREAM``/``DATA_STREAM``, the epoch for ``SHUFFLE_STREAM``, the
    step for ``RESEED_STREAM``."""
    words = np.random.SeedSequence([seed, index, stream]).generate_state(2, np.uint32)
    return (int(words[0]) << 32 | int(words[1])) >> (64 - bits)


def batch_rng(seed: int, epoch: int, batch: int) -> np.random.Generator:
    """The numpy generator that augments batch ``batch`` of epoch ``epoch`` (``AUGMENT_STREAM``):
    a function of its position only, so a resumed run augments exactly as an uninterrupted one."""
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, AUGMENT_STREAM, batch]))


def seed_everything(seed: int) -> None:
    """Seeds torch (CPU and CUDA), numpy's and Python's global generators from ``seed``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def seed_process(seed: int, rank: int, data_generator: torch.Generator) -> None:
    """Seeds the global generators and the data generator of process ``rank``."""
    seed_everything(derive_seed(seed, rank, GLOBAL_STREAM))
    data_generator.manual_seed(derive_seed(seed, rank, DATA_STREAM))


def capture_rng(data_generator: torch.Generator) -> dict[str, Any]:
    """Every stream's state, as tensors, numbers and lists."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return {
        "torch": torch.get_rng_state(),
        "cuda": cuda,
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {"version": version, "state": list(python_state), "gauss_next": gauss_next},
        "data": data_generator.get_state(),
    }


def restore_rng(state: dict[str, Any], data_generator: torch.Generator) -> None:
    """Puts every stream back where ``capture_rng`` found it."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = state["python"]
    random.setstate(
        (python_state["version"], tuple(python_state["state"]), python_state["gauss_next"])
    )
    data_generator.set_state(state["data"])
