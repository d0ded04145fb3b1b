"""Image augmentation for the classifier runtime (numpy, seeded by the caller's generator)."""

from __future__ import annotations

import numpy as np

from odedsl.data.arguments import check_int
from odedsl.data.errors import DataError


def random_crop(images: np.ndarray, rng: np.random.Generator, padding: int = 4) -> np.ndarray:
    """Zero-pad each image by ``padding`` pixels and crop it back at a random offset.

    ``images`` is (B, C, H, W); each image gets its own offset, uniform in
    {0, …, 2·padding}² (so it is shifted by −padding … +padding pixels on each axis, with zeros
    filling the uncovered border). Returns a new array of the same shape and dtype.
    """
    padding = check_int("padding", padding, 0)
    images = np.asarray(images)
    if images.ndim != 4:
        raise DataError(f"`images` must have shape (B, C, H, W), got {images.shape}")
    batch, _, height, width = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    top = rng.integers(0, 2 * padding + 1, batch)
    left = rng.integers(0, 2 * padding + 1, batch)
    rows = (top[:, None] + np.arange(height))[:, None, :, None]
    cols = (left[:, None] + np.arange(width))[:, None, None, :]
    images_index = np.arange(batch)[:, None, None, None]
    channels = np.arange(images.shape[1])[:, None, None]
    return padded[images_index, channels, rows, cols]
