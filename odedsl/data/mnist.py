"""MNIST from the four IDX files in a folder (``train-images-idx3-ubyte[.gz]`` and friends).

The validation split is a fixed part of the training files: the 1/12 of their images (5000
of 60 000) picked by a permutation from ``default_rng(VALIDATION_SEED)``; the training split
is the rest, each in file order. The test split is the t10k files.

Returned keys: ``x`` (n, 1, rows, cols) float64 in [0, 1] (bytes / 255; 28 × 28 for MNIST),
``y`` (n,) int64 in 0..9; the first ``n`` images of the split if ``n`` is given. Note: all 60 000
training images take 376 MB as float64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from odedsl import machine
from odedsl.data.errors import DataError, DataFileNotFoundError
from odedsl.data.idx import read_idx

FILE_STEMS = {"train": "train", "validation": "train", "test": "t10k"}
VALIDATION_SEED = 1
VALIDATION_SHARE = 12


def _find(root: Path, name: str) -> Path:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.exists():  # a directory or device of that name is refused by read_idx
            return candidate
    raise DataFileNotFoundError(
        f"MNIST: {name} (or {name}.gz) not found in {root}; the folder must hold "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
        "t10k-labels-idx1-ubyte, each optionally gzipped"
    )


def mnist(*, split: str, n: int | None, root: str | Path) -> dict[str, np.ndarray]:
    """The ``split`` part of MNIST read from the IDX files in ``root``."""
    root = Path(root)
    if not root.is_dir():
        what = "a file" if root.is_file() else machine.special_kind(root) or "not found"
        raise DataFileNotFoundError(
            f"MNIST: `root` {str(root)!r} is not a folder ({what}); point it at the folder "
            "holding the IDX files (train-images-idx3-ubyte[.gz], ...)"
        )
    stem = FILE_STEMS[split]
    image_path = _find(root, f"{stem}-images-idx3-ubyte")
    label_path = _find(root, f"{stem}-labels-idx1-ubyte")
    images = read_idx(image_path, ndim=3)
    labels = read_idx(label_path, ndim=1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise DataError(f"MNIST: {image_path} and {label_path} must hold unsigned bytes")
    if len(images) != len(labels):
        raise DataError(
            f"MNIST: {image_path} has {len(images)} images but {label_path} has "
            f"{len(labels)} labels"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"MNIST: {label_path} holds label {labels.max()}, expected 0..9")
    if split != "test":
        held = np.zeros(len(images), dtype=bool)
        order = np.random.default_rng(VALIDATION_SEED).permutation(len(images))
        held[order[: -(-len(images) // VALIDATION_SHARE)]] = True
        keep = held if split == "validation" else ~held
        images, labels = images[keep], labels[keep]
    x = images[:n, None].astype(np.float64) / 255.0
    return {"x": x, "y": labels[:n].astype(np.int64)}
