"""The file readers read the documented formats strictly: each refusal names the file, and the
line and column where there is one; and the data section's declarations of user files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from odedsl.compiler.runtime import build_data
from odedsl.data import DataError
from odedsl.data.csv_file import csv_rows, csv_trajectory
from odedsl.data.npz_file import npz_rows, npz_series
from odedsl.errors import SpecError
from odedsl.lang import check_text
from tests.data.specs import FLOW
from tests.data.test_images import write_idx


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('a,b\n"1,5",2\n', r"m.csv:2: column 1 \('a'\): '1,5' is not a number \(write a decimal "),
        ("a,b\n1+2j,2\n", r"column 1 \('a'\): '1\+2j' is a complex number"),
        ("a,b\n1,-inf\n", r"m.csv:2: column 2 \('b'\): non-finite value '-inf'"),
        ("a,b\n1_000,2\n", r"'1_000' is not a number"),
        ("a,b\n0x10,2\n", r"'0x10' is not a number"),
        ("a,b\n1,NA\n", r"missing value 'NA'; missing values are allowed only in the channels"),
        ("a,1\n2,3\n", r"m.csv:1: the first row mixes names \('a'\) and numbers \('1'\)"),
        ("a,a\n2,3\n", r"m.csv:1: column name 'a' appears twice"),
        ("a,b\n1,2\n3\n", r"m.csv:3: 1 cells, expected 2"),
        ("\n\n", r"m.csv: the file holds no rows"),
    ],
)
def test_csv_refusals_name_the_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        csv_rows(path)


def test_an_encoding_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("a,b\n1,2\n3,é\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.csv:3: not UTF-8 text \(byte 0xe9"):
        csv_rows(path)


def test_header_detected_declared_and_needed_for_names(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("1,2\n3,4\n")
    np.testing.assert_array_equal(csv_rows(path)["x"], [[1, 2], [3, 4]])  # numbers: no header
    np.testing.assert_array_equal(csv_rows(path, header=True)["x"], [[3, 4]])  # declared
    with pytest.raises(DataError, match=r"`label` names column 'y', but the file has no header"):
        csv_rows(path, label="y")
    named = tmp_path / "h.csv"
    named.write_text("time,u,v\n0,1,2\n")
    with pytest.raises(DataError, match=r"no column named 'tme' \(`time`\) \(did you mean `time`"):
        csv_trajectory(named, time="tme")


def test_labels_are_classes_or_real_numbers(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,y\n1,0\n2,2.5\n")
    assert csv_rows(path, label="y", labels="real")["y"].tolist() == [0.0, 2.5]
    with pytest.raises(DataError, match=r"t.csv:3: column 2 \('y'\): '2.5' is not a class"):
        csv_rows(path, label="y", labels="int")


def test_trajectory_missing_values_are_masked_and_repeated_times_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("t,u,v\n1,1,\n0,NaN,2\n")
    one = csv_trajectory(path, time="t")
    assert one.ts.tolist() == [0.0, 1.0]
    assert one.mask.tolist() == [[False, True], [True, False]]
    assert one.x.tolist() == [[0.0, 2.0], [1.0, 0.0]]
    path.write_text("t,u\n1,1\n1,2\n")
    with pytest.raises(DataError, match=r"o.csv:3: the trajectory repeats time 1.0"):
        csv_trajectory(path, time="t")


def test_npz_refuses_complex_values_and_misfit_labels(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    np.savez(path, x=np.ones((3, 2)) * (1 + 2j))
    with pytest.raises(DataError, match=r"array 'x' is complex"):
        npz_rows(path)
    np.savez(path, x=np.ones((3, 2)), y=np.arange(4))
    with pytest.raises(DataError, match=r"array 'y' has shape \(4,\); expected one label"):
        npz_rows(path, y="y")


def test_npz_series_mask_nan_values_and_padding_times(tmp_path: Path) -> None:
    path = tmp_path / "s.npz"
    ts = np.array([[0.0, 1.0, 2.0], [0.5, 1.5, np.nan]])
    x = np.array([[[1.0], [np.nan], [3.0]], [[4.0], [5.0], [np.nan]]])
    np.savez(path, ts=ts, x=x)
    first, second = npz_series(path)
    assert first.mask[:, 0].tolist() == [True, False, True]
    assert second.ts.tolist() == [0.5, 1.5]  # the NaN time is padding


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        ('x ~ CSV(path = "p.csv")', "E072", "does not know the shape of its rows"),
        ('x :: Real[2] ~ CSV(path = "p.csv", train = "a.csv")', "E062", "replaces `path`"),
        ('x :: Real[2] ~ CSV(train = "a.csv")', "E062", "needs `test` as well"),
        (
            'x :: Real[2] ~ CSV(test = "a.csv", train = "b.csv", split = (0.5, 0.5, 0))',
            "E062",
            "the split files are read whole",
        ),
        ('x :: Real[2] ~ CSV(path = "p.csv", split = (0.5, 0.6, 0.1))', "E062", "summing to 1"),
        ('x :: Real[2] ~ CSV(path = "p.csv", holdout = :random)', "E062", "single trajectory"),
        ('x :: Real[2] ~ CSV(path = "p.csv", columns = [1, 2])', "E062", "a list of strings"),
        ("x :: Real[2] ~ CSV()", "E044", "needs its argument `path`"),
        ('x :: Real[2, 2] ~ CSV(path = "p.csv")', "E072", "of type Real[D]"),
        ('x :: Int ~ CSV(path = "p.csv")', "E072", "of type Real[D]"),
    ],
)
def test_file_sources_in_the_spec_are_checked(data: str, code: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        check_text(FLOW.format(data=data))
    assert caught.value.diagnostics[0].code == code
    assert message in caught.value.diagnostics[0].message


def test_tuple_types_of_file_sources() -> None:
    text = FLOW.format(data='(ts, x) :: (Real[N], Real[N, 2]) ~ CSV(path = "o.csv", time = "t")')
    with pytest.raises(SpecError) as caught:  # a flow reads no series, but the data line is fine
        check_text(text)
    assert not [d for d in caught.value.diagnostics if d.code in ("E047", "E062", "E071", "E072")]
    bad = FLOW.format(data='(x, y) :: (Real[2], Real[2]) ~ CSV(path = "t.csv", label = "y")')
    with pytest.raises(SpecError, match="a label: `Int` classes, `Real` regression"):
        check_text(bad)
    free = FLOW.format(data='x :: Real[N] ~ CSV(path = "p.csv")')
    with pytest.raises(SpecError, match="only the time axis of a series may be free"):
        check_text(free)


def test_mnist_of_the_wrong_image_size_is_a_located_error(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    root.mkdir()
    for stem in ("train", "t10k"):
        write_idx(root / f"{stem}-images-idx3-ubyte", np.zeros((4, 8, 8)))
        write_idx(root / f"{stem}-labels-idx1-ubyte", np.arange(4))
    spec_path = Path(__file__).resolve().parents[2] / "specs" / "odenet_mnist.ode"
    text = spec_path.read_text(encoding="utf-8").replace('"data/mnist"', '"idx"')
    (tmp_path / "mnist.ode").write_text(text, encoding="utf-8")
    spec = check_text(text, str(tmp_path / "mnist.ode"))
    with pytest.raises(SpecError) as caught:
        build_data(spec, "test")
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.code == "E072" and diagnostic.line == spec.data.loc.line
    assert "of shape Real[1, 8, 8]" in diagnostic.message
    assert "declared Real[1, 28, 28]" in diagnostic.message
