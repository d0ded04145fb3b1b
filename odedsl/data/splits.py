"""Train / validation / test splits of a user's data (numpy only).

Rows of a table, images or whole series are split by a seeded random permutation: with
fractions (f_train, f_val, f_test) of n items, the counts are the largest-remainder rounding of
(f · n) (so they sum to n), and the permutation comes from ``rng_for(seed, "split")``; each
split keeps the file's order. The split never depends on the training seed.

A single trajectory is split by its points. ``holdout = "last"`` (forecasting, the default):
in time order, the first points are train, the next validation, the last test.
``holdout = "random"`` (interpolation): the points of each split are drawn by the seeded
permutation. :func:`trajectory_view` gives the batch of one split: the whole series' times,
the values of that split and of the splits before it (as context), never those of a later
split, and a mask True only at the split's own observed points.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from odedsl.data.errors import DataError
from odedsl.data.rng import rng_for

SPLITS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.7, 0.15, 0.15)
HOLDOUTS = ("last", "random")


def check_fractions(fractions: object) -> tuple[float, float, float]:
    """``fractions`` as three non-negative numbers summing to 1 with a positive train share."""
    if fractions is None:
        return DEFAULT_FRACTIONS
    if not (
        isinstance(fractions, Sequence)
        and len(fractions) == 3
        and all(isinstance(f, numbers.Real) and not isinstance(f, bool) for f in fractions)
    ):
        raise DataError(
            f"`split` must be three fractions (train, validation, test), e.g. (0.7, 0.15, 0.15); "
            f"got {fractions!r}"
        )
    values = tuple(float(f) for f in fractions)
    if any(not math.isfinite(f) or f < 0 for f in values) or abs(sum(values) - 1) > 1e-9:
        raise DataError(
            f"`split` fractions must be non-negative and sum to 1; got {values} (sum "
            f"{sum(values):.6g})"
        )
    if values[0] == 0:
        raise DataError("`split` gives the training split nothing; its first fraction must be > 0")
    return values  # type: ignore[return-value]


def split_counts(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """How many of ``n`` items go to each split: the largest-remainder rounding of f · n."""
    exact = [f * n for f in fractions]
    counts = [math.floor(e) for e in exact]
    order = sorted(range(3), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts[0], counts[1], counts[2]


def split_parts(n: int, fractions: Sequence[float], seed: int) -> np.ndarray:
    """For each of ``n`` items, its split (0 train, 1 validation, 2 test), drawn by the
    seeded permutation."""
    counts = split_counts(n, fractions)
    order = rng_for(seed, "split").permutation(n)
    parts = np.empty(n, dtype=np.int64)
    parts[order] = np.repeat(np.arange(3), counts)
    return parts


def split_index(n: int, fractions: Sequence[float], seed: int, split: str, what: str) -> np.ndarray:
    """The sorted indices of ``split``'s items among ``n`` ``what`` (rows, series)."""
    parts = split_parts(n, fractions, seed)
    chosen = np.flatnonzero(parts == SPLITS.index(split))
    if not len(chosen):
        raise DataError(
            f"the {split} split is empty: {n} {what} split by fractions {tuple(fractions)} "
            f"give it none; give it a larger share in `split` or use more data"
        )
    return chosen


def trajectory_parts(n: int, fractions: Sequence[float], holdout: str, seed: int) -> np.ndarray:
    """The split (0, 1, 2) of each of a trajectory's ``n`` points, in time order."""
    if holdout not in HOLDOUTS:
        raise DataError(f"`holdout` must be :last or :random, got {holdout!r}")
    if holdout == "random":
        return split_parts(n, fractions, seed)
    return np.repeat(np.arange(3), split_counts(n, fractions)).astype(np.int64)


def trajectory_view(
    ts: np.ndarray, x: np.ndarray, mask: np.ndarray, parts: np.ndarray, split: str
) -> dict[str, np.ndarray]:
    """The batch of one split of a single trajectory (module doc): ``ts`` (1, N), ``x``
    (1, N, D) holding the values of this split and earlier ones (0 elsewhere), ``mask``
    (1, N, D) True only at this split's observed points."""
    k = SPLITS.index(split)
    own = (parts == k)[:, None] & mask
    if not own.any():
        raise DataError(
            f"the {split} split of the trajectory holds no observed point; give it a larger "
            "share in `split`"
        )
    visible = (parts <= k)[:, None] & mask
    return {"ts": ts[None], "x": np.where(visible, x, 0.0)[None], "mask": own[None]}
