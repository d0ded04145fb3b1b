"""scikit-learn's bundled 8×8 handwritten digits (1797 images, no download), split 75/25,
with a validation split carved out of the 75 %.

The split is stratified and fixed: per class, a random permutation drawn from
``default_rng(SPLIT_SEED)`` puts the class's share of ⌈0.25 · 1797⌉ = 450 test images
(shares by largest remainder) in the test split and the rest (1347) in the training part. The
same stratified draw, from ``default_rng(VALIDATION_SEED)`` over the training part, puts
⌈0.1 · 1797⌉ = 180 of its images in the validation split; the other 1167 are the training
split. Each split keeps the bundled order. The splits never depend on ``seed``, so every run is
selected on the same 180 images and scored on the same 450, which selection never sees.

Returned keys: ``x`` (n, 1, 8, 8) float64 in [0, 1] (pixel values / 16), ``y`` (n,) int64.
Needs scikit-learn: ``pip install 'odedsl[digits]'``.
"""

from __future__ import annotations

import numpy as np

from odedsl.data.errors import DataError

SPLIT_SEED = 0
TEST_FRACTION = 0.25
VALIDATION_SEED = 1
VALIDATION_SIZE = 180
INSTALL_HINT = "pip install 'odedsl[digits]'"


def _load_bundled() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise DataError(
            f"Digits() needs scikit-learn, which is not installed; install it with {INSTALL_HINT}"
        ) from error
    bunch = load_digits()
    return np.asarray(bunch.images, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def stratified_test_mask(
    labels: np.ndarray, fraction: float, seed: int, total: int | None = None
) -> np.ndarray:
    """Boolean mask of a stratified test subset of ``total`` (default ⌈fraction · len(labels)⌉)
    items."""
    classes, counts = np.unique(labels, return_counts=True)
    if total is None:
        total = int(np.ceil(fraction * len(labels)))
    exact = counts * total / len(labels)
    share = np.floor(exact).astype(int)
    remainder_order = np.argsort(-(exact - share), kind="stable")
    share[remainder_order[: total - share.sum()]] += 1
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for label, take in zip(classes, share, strict=True):
        members = np.flatnonzero(labels == label)
        mask[rng.permutation(members)[:take]] = True
    return mask


def digits(*, split: str, n: int | None) -> dict[str, np.ndarray]:
    """The ``split`` part of the digits (its first ``n`` images if ``n`` is given)."""
    images, labels = _load_bundled()
    test = stratified_test_mask(labels, TEST_FRACTION, SPLIT_SEED)
    if split == "test":
        chosen = test
    else:
        part = np.flatnonzero(~test)
        held = stratified_test_mask(labels[part], 0.0, VALIDATION_SEED, VALIDATION_SIZE)
        chosen = np.zeros(len(labels), dtype=bool)
        chosen[part[held if split == "validation" else ~held]] = True
    x = (images[chosen] / 16.0)[:, None][:n]
    return {"x": x, "y": labels[chosen][:n]}
