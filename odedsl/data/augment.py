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


def random_affine(
    images: np.ndarray,
    rng: np.random.Generator,
    *,
    rotate: float = 0.0,
    zoom: float = 0.0,
    shift: float = 0.0,
) -> np.ndarray:
    """Rotate, zoom and shift each image by its own random amounts, resampled bilinearly.

    ``images`` is (B, C, H, W). Each image is rotated by an angle uniform in ±``rotate``
    degrees and scaled by a factor uniform in 1 ± ``zoom`` about its centre, then moved by
    amounts uniform in ±``shift`` pixels along each axis. Output pixels whose source falls
    outside the image read zeros (the images' background). All channels of an image move
    together. Returns a new array of the same shape and dtype; with all three 0, a copy.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise DataError(f"`images` must have shape (B, C, H, W), got {images.shape}")
    for name, value in (("rotate", rotate), ("zoom", zoom), ("shift", shift)):
        if not (np.isfinite(value) and value >= 0):
            raise DataError(f"`{name}` must be a finite number >= 0, got {value!r}")
    if zoom >= 1:
        raise DataError(f"`zoom` must be below 1 (scale factors 1 ± zoom), got {zoom!r}")
    batch, _, height, width = images.shape
    angle = np.deg2rad(rng.uniform(-rotate, rotate, batch))
    scale = 1.0 + rng.uniform(-zoom, zoom, batch)
    move = rng.uniform(-shift, shift, (2, batch))
    # Output pixel p reads the source at c + A (p - c - move), A = [[cos, -sin], [sin, cos]] / s.
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    dy = rows[None] - (height - 1) / 2 - move[0][:, None, None]
    dx = cols[None] - (width - 1) / 2 - move[1][:, None, None]
    cos, sin = (np.cos(angle) / scale)[:, None, None], (np.sin(angle) / scale)[:, None, None]
    source_rows = (height - 1) / 2 + cos * dy - sin * dx
    source_cols = (width - 1) / 2 + sin * dy + cos * dx
    return _bilinear(images, source_rows, source_cols).astype(images.dtype, copy=False)


def _bilinear(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``images`` (B, C, H, W) read at fractional (B, H, W) positions, zeros outside."""
    batch, channels, height, width = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))  # zeros one pixel around
    rows = np.clip(rows + 1, 0, height + 1)
    cols = np.clip(cols + 1, 0, width + 1)
    top = np.minimum(np.floor(rows).astype(np.intp), height)
    left = np.minimum(np.floor(cols).astype(np.intp), width)
    down, right = (rows - top)[:, None], (cols - left)[:, None]
    index = np.arange(batch)[:, None, None, None], np.arange(channels)[None, :, None, None]

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return padded[index[0], index[1], r[:, None], c[:, None]]

    upper = at(top, left) * (1 - right) + at(top, left + 1) * right
    lower = at(top + 1, left) * (1 - right) + at(top + 1, left + 1) * right
    return upper * (1 - down) + lower * down
