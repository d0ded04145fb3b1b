"""User files: NPZ, CSV matrices and long-format series CSV, valid and broken."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from odedsl.data import DataError, DataFileNotFoundError, load, load_series_csv


def test_npz_roundtrip_and_key_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "points.npz"
    values = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
    np.savez(path, points=values)
    # A file per split is read whole: the training file's first 5 rows, in order.
    out = load("NPZ", train=str(path), test=str(path), key="points", n=5)
    assert out["x"].dtype == np.float64
    np.testing.assert_array_equal(out["x"], values[:5].astype(np.float64))
    with pytest.raises(DataError, match=r"no array named 'point' \(did you mean `points`\?\)"):
        load("NPZ", path=str(path), key="point")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.arange(5.0), r"shape \(5,\); expected one row per example"),
        (
            np.array([[1.0, 2.0], [np.inf, 0.0]]),
            r"non-finite values, the first inf at index \(1, 0\)",
        ),
        (np.array([["a", "b"]]), "non-numeric dtype"),
    ],
)
def test_npz_bad_arrays(tmp_path: Path, content: np.ndarray, message: str) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, x=content)
    with pytest.raises(DataError, match=message):
        load("NPZ", path=str(path))


def test_npz_missing_and_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(DataFileNotFoundError, match="not found"):
        load("NPZ", path=str(tmp_path / "none.npz"))
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DataError, match=r"not a readable \.npz archive"):
        load("NPZ", path=str(tmp_path / "text.npz"))
    np.save(tmp_path / "single.npy", np.zeros((2, 2)))
    with pytest.raises(DataError, match=r"not an \.npz archive"):
        load("NPZ", path=str(tmp_path / "single.npy"))


@pytest.mark.parametrize("header", ["a,b,c\n", ""])
def test_csv_matrix_with_or_without_header(tmp_path: Path, header: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(header + "1,2,3\n\n4.5,-5e-1,6\n")
    np.testing.assert_array_equal(load("CSV", path=str(path))["x"], [[1, 2, 3], [4.5, -0.5, 6]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2\n3,\n", r"m.csv:3: column 2 \('b'\): missing value ''"),
        ("a,b\n1,2\n3,x\n", r"m.csv:3: column 2 \('b'\): 'x' is not a number"),
        ("1,2\n3,inf\n", r"m.csv:2: column 2 \('column 2'\): non-finite value 'inf'"),
        ("a,b\n1,2\n3\n", r"m.csv:3: 1 cells, expected 2"),
        ("a,b\n", "header but no data rows"),
        ("\n", "holds no rows"),
    ],
)
def test_csv_matrix_errors_name_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load("CSV", path=str(path))


def test_series_csv_pads_and_masks(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("id,time,u,v\nb,0.5,1,2\na,2.0,,3\na,0.0,4,NaN\na,1.0,5,6\nb,0.1,7,8\n")
    data = load_series_csv(path)
    np.testing.assert_array_equal(data["series_ids"], ["b", "a"])
    np.testing.assert_array_equal(data["lengths"], [2, 3])
    np.testing.assert_array_equal(data["ts"], [[0.1, 0.5, 0.5], [0.0, 1.0, 2.0]])
    np.testing.assert_array_equal(data["time_mask"], [[True, True, False], [True, True, True]])
    np.testing.assert_array_equal(data["x"], [[[7, 8], [1, 2], [0, 0]], [[4, 0], [5, 6], [0, 3]]])
    np.testing.assert_array_equal(
        data["mask"],
        [[[1, 1], [1, 1], [0, 0]], [[1, 0], [1, 1], [0, 1]]],
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,t,u\na,1,2\na,1,3\n", r"s.csv:3: series 'a' repeats time 1.0 \(also on line 2\)"),
        ("id,t,u\na,,2\n", r"s.csv:2: column 2 \('t'\): missing value"),
        ("id,t,u\na,1,inf\n", "non-finite value 'inf'"),
        ("id,t\na,1\n", "2 columns, expected at least 3"),
    ],
)
def test_series_csv_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "s.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_series_csv(path)
