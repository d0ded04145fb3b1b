"""Digits, MNIST's IDX files (generated here, valid and broken) and random-crop augmentation."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

from odedsl.data import (
    DataError,
    DataFileNotFoundError,
    load,
    random_affine,
    random_crop,
    read_idx,
    rng_for,
)


def write_idx(path: Path, array: np.ndarray, *, compress: bool = False) -> None:
    """Write ``array`` (uint8) in IDX format, written from the format's description."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    payload = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(payload) if compress else payload)


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for stem, count, compress in [("train", 7, True), ("t10k", 3, False)]:
        suffix = ".gz" if compress else ""
        images = rng.integers(0, 256, (count, 28, 28))
        write_idx(tmp_path / f"{stem}-images-idx3-ubyte{suffix}", images, compress=compress)
        write_idx(
            tmp_path / f"{stem}-labels-idx1-ubyte{suffix}", np.arange(count) % 10, compress=compress
        )
    return tmp_path


def test_mnist_reads_plain_and_gzipped_idx(mnist_root: Path) -> None:
    train = load("MNIST", root=str(mnist_root))
    validation = load("MNIST", root=str(mnist_root), split="validation")
    test = load("MNIST", root=str(mnist_root), split="test")
    # 7 training images: ⌈7 / 12⌉ = 1 is the validation split, the other 6 the training split.
    assert train["x"].shape == (6, 1, 28, 28) and validation["x"].shape == (1, 1, 28, 28)
    assert test["x"].shape == (3, 1, 28, 28)
    assert train["x"].dtype == np.float64 and train["y"].dtype == np.int64
    raw = np.frombuffer(
        gzip.decompress((mnist_root / "train-images-idx3-ubyte.gz").read_bytes())[16:], np.uint8
    ).reshape(7, 28 * 28)
    # train and validation together are the training file, each image once, in file order.
    together = np.concatenate([train["x"], validation["x"]]).reshape(7, -1) * 255.0
    assert sorted(map(bytes, np.rint(together).astype(np.uint8))) == sorted(map(bytes, raw))
    np.testing.assert_array_equal(test["y"], [0, 1, 2])
    assert load("MNIST", root=str(mnist_root), n=2)["x"].shape == (2, 1, 28, 28)


def test_mnist_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFoundError, match="train-images-idx3-ubyte"):
        load("MNIST", root=str(tmp_path))
    with pytest.raises(DataFileNotFoundError, match="is not a folder"):
        load("MNIST", root=str(tmp_path / "absent"))


def _truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda p: _truncate(p / "t10k-images-idx3-ubyte", 16 + 100),
            "truncated: shape (3, 28, 28)",
        ),
        (lambda p: _truncate(p / "t10k-images-idx3-ubyte", 10), "truncated header"),
        (lambda p: _truncate(p / "t10k-images-idx3-ubyte", 2), "too short for an IDX header"),
        (lambda p: _truncate(p / "train-images-idx3-ubyte.gz", 200), "gzip stream ends early"),
        (
            lambda p: (p / "t10k-images-idx3-ubyte").write_bytes(b"\x12\x34" + bytes(30)),
            "not an IDX file",
        ),
        (
            lambda p: write_idx(p / "t10k-labels-idx1-ubyte", np.zeros(4)),
            "has 3 images but",
        ),
        (
            lambda p: write_idx(p / "t10k-labels-idx1-ubyte", np.zeros((3, 1))),
            "has 2 dimensions, expected 1",
        ),
        (
            lambda p: write_idx(p / "t10k-labels-idx1-ubyte", np.array([0, 1, 12])),
            "holds label 12",
        ),
        (
            lambda p: (p / "t10k-labels-idx1-ubyte").write_bytes(
                (p / "t10k-labels-idx1-ubyte").read_bytes() + b"\x00"
            ),
            "1 unexpected trailing bytes",
        ),
    ],
)
def test_mnist_broken_files_are_explained(mnist_root: Path, damage, message: str) -> None:
    damage(mnist_root)
    split = "train" if "gzip" in message else "test"
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load("MNIST", root=str(mnist_root), split=split)


def test_read_idx_other_types(tmp_path: Path) -> None:
    values = np.arange(6, dtype=">f4").reshape(2, 3)
    (tmp_path / "f.idx").write_bytes(
        bytes([0, 0, 0x0D, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + values.tobytes()
    )
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), values)


def test_digits_split_is_stratified_fixed_and_scaled() -> None:
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    train, test = load("Digits"), load("Digits", split="test", seed=7)
    validation = load("Digits", split="validation", seed=3)
    # 450 test images (25 %), 180 validation images (10 % of 1797) carved from the other 1347.
    assert train["x"].shape == (1167, 1, 8, 8) and test["x"].shape == (450, 1, 8, 8)
    assert validation["x"].shape == (180, 1, 8, 8)
    assert train["x"].min() >= 0.0 and train["x"].max() == 1.0
    bunch = load_digits()
    # train ∪ validation ∪ test is the whole set, each image once: compare the rows' bytes.
    together = np.concatenate([train["x"], validation["x"], test["x"]]).reshape(1797, 64) * 16
    assert sorted(map(bytes, together.astype(np.uint8))) == sorted(
        map(bytes, bunch.data.astype(np.uint8))
    )
    share = np.bincount(test["y"], minlength=10) / np.bincount(bunch.target, minlength=10)
    assert np.all(abs(share - 0.25) < 0.01)  # stratified: each class within 1 image of 25 %
    share = np.bincount(validation["y"], minlength=10) / np.bincount(bunch.target, minlength=10)
    assert np.all(abs(share - 0.1) < 0.01)  # each class within 1 image of 10 %
    np.testing.assert_array_equal(load("Digits", split="test", seed=0)["y"], test["y"])


def test_digits_without_scikit_learn_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError, match=r"pip install 'odedsl\[digits\]'"):
        load("Digits")


def test_random_crop_is_a_shift_with_zero_fill() -> None:
    rng = rng_for(0, "augment")
    images = rng.uniform(0.1, 1.0, (400, 2, 8, 8))
    cropped = random_crop(images, rng, padding=2)
    assert cropped.shape == images.shape and cropped.dtype == images.dtype
    shifts = set()
    for original, out in zip(images, cropped, strict=True):
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                padded = np.pad(original, ((0, 0), (2, 2), (2, 2)))
                if np.array_equal(out, padded[:, 2 + dy : 10 + dy, 2 + dx : 10 + dx]):
                    matches.append((dy, dx))
        assert len(matches) == 1  # positive pixels make every shift distinguishable
        shifts.add(matches[0])
    assert len(shifts) == 25  # all (2·2 + 1)² offsets occur in 400 draws


def test_random_crop_without_padding_is_identity() -> None:
    images = np.arange(2 * 1 * 3 * 3, dtype=float).reshape(2, 1, 3, 3)
    np.testing.assert_array_equal(random_crop(images, rng_for(0, "augment"), padding=0), images)
    with pytest.raises(DataError, match="shape"):
        random_crop(images[0], rng_for(0, "augment"))


def test_random_affine_matches_scipy_bilinear_resampling() -> None:
    # Independent truth: scipy.ndimage.affine_transform (order 1: bilinear; grid-constant:
    # zeros outside, interpolated up to the edge) with the same draws, taken in the documented
    # order (angles, scale factors, then the (row, column) shifts).
    ndimage = pytest.importorskip("scipy.ndimage")
    images = np.random.default_rng(1).uniform(0.0, 1.0, (6, 2, 8, 7))
    out = random_affine(images, rng_for(2, "augment"), rotate=30, zoom=0.2, shift=1.5)
    draws = rng_for(2, "augment")
    angles = np.deg2rad(draws.uniform(-30, 30, 6))
    scales = 1 + draws.uniform(-0.2, 0.2, 6)
    moves = draws.uniform(-1.5, 1.5, (2, 6))
    centre = np.array([3.5, 3.0])
    for i, image in enumerate(images):
        cos, sin = np.cos(angles[i]), np.sin(angles[i])
        matrix = np.array([[cos, -sin], [sin, cos]]) / scales[i]
        offset = centre - matrix @ (centre + moves[:, i])
        for channel in range(2):
            expected = ndimage.affine_transform(
                image[channel], matrix, offset=offset, order=1, mode="grid-constant", cval=0.0
            )
            np.testing.assert_allclose(out[i, channel], expected, rtol=0, atol=1e-12)


def test_random_affine_special_cases() -> None:
    images = np.random.default_rng(3).uniform(0.1, 1.0, (50, 1, 8, 8)).astype(np.float32)
    # nothing asked: the images unchanged (a copy), in their dtype
    same = random_affine(images, rng_for(0, "augment"))
    assert same.dtype == np.float32 and same is not images
    np.testing.assert_array_equal(same, images)
    # a square image turned by exactly 90° about its centre is np.rot90 of it
    quarter = random_affine(images, _Fixed(90.0), rotate=90)
    np.testing.assert_allclose(quarter[:, 0], np.rot90(images[:, 0], k=-1, axes=(1, 2)), atol=1e-6)
    # a whole-pixel shift is a zero-filled roll: every draw of 1 moves rows and columns by 1
    moved_one = random_affine(images, _Fixed(1.0), shift=1)
    np.testing.assert_array_equal(moved_one[:, 0, 1:, 1:], images[:, 0, :-1, :-1])
    assert not moved_one[:, 0, 0].any() and not moved_one[:, 0, :, 0].any()
    # each draw moves each image differently: no two of 50 images get the same transform
    moved = random_affine(np.ones((50, 1, 8, 8)), rng_for(4, "augment"), rotate=20, shift=1)
    assert len({out.tobytes() for out in moved}) == 50


class _Fixed:
    """A generator stand-in whose uniform draws are all ``value`` (capped to the range)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def uniform(self, low, high, size):
        return np.clip(np.full(size, self.value), low, high)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rotate": -1.0}, "`rotate` must be a finite number >= 0"),
        ({"shift": float("nan")}, "`shift` must be a finite number >= 0"),
        ({"zoom": 1.0}, "`zoom` must be below 1"),
    ],
)
def test_random_affine_refuses_bad_amounts(options, message) -> None:
    with pytest.raises(DataError, match=message):
        random_affine(np.zeros((1, 1, 4, 4)), rng_for(0, "augment"), **options)
    with pytest.raises(DataError, match="shape"):
        random_affine(np.zeros((4, 4)), rng_for(0, "augment"))
