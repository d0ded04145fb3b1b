"""Honest splits of users' files and of the built-in sets, through the spec (``build_data``).

Each test builds the train / validation / test splits of one kind of source and checks that
no held-out example reaches an earlier split: rows of a CSV, images of an NPZ, whole series of
a long-format CSV, the points of a single trajectory, and the draws of the generated sets.
Paths are relative to the spec; a recorded file that moves or changes is refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from odedsl.compiler.runtime import build_data, check_data_files, data_files
from odedsl.data import DATASETS, DataError, load
from odedsl.errors import SpecError
from odedsl.lang import check_text
from tests.data.specs import FLOW

SPLITS = ("train", "validation", "test")
LABELLED = '(x, y) :: (Real[4], Int) ~ CSV(path = "table.csv", label = "y")'

SUPERVISED = """model Table
    data
        {data}
        batch = 16
    end
    networks
        f = MLP({D} => 16 => {D})
        head = Dense({D} => 3)
    end
    states
        h(t) :: Real[{D}]
        t ∈ (0.0, 1.0)
    end
    dynamics
        h(0) = x
        dh/dt = f(h)
    end
    likelihood
        y ~ Categorical(logits = head(h(1.0)))
    end
    train
        steps = 10
    end
end
"""


SERIES = """model Series
    data
        {data}
        batch = 8
    end
    networks
        rec = GRU({D} => 8 => 4)
        f = MLP(2 => 16 => 2)
        dec = Dense(2 => {D})
    end
    states
        z(t) :: Real[2]
    end
    prior
        z0 ~ Normal(0, 1)
    end
    encoder
        (μ, logσ²) = chunk(rec(reverse(x), reverse(ts)), 2)
        z0 ~ Normal(μ, exp(0.5 * logσ²))
    end
    dynamics
        z(0) = z0
        dz/dt = f(z)
    end
    likelihood
        for t in ts
            x[t] ~ Normal(dec(z(t)), 0.1)
        end
    end
end
"""


def _spec(folder: Path, template: str, data: str, **sizes: int):
    """The checked spec written to ``folder/spec.ode`` (its paths are relative to it)."""
    path = folder / "spec.ode"
    path.write_text(template.format(data=data, **sizes), encoding="utf-8")
    return check_text(path.read_text(encoding="utf-8"), str(path))


def _table(folder: Path, rows: int = 100) -> np.ndarray:
    """A CSV ``table.csv`` of distinct rows (a, b, c, d, y): a is the row number."""
    rng = np.random.default_rng(0)
    values = np.column_stack([np.arange(rows), rng.normal(size=(rows, 3))])
    labels = rng.integers(0, 3, rows)
    lines = ["a,b,c,d,y"] + [
        ",".join(f"{v:.6f}" for v in row) + f",{y}" for row, y in zip(values, labels, strict=True)
    ]
    (folder / "table.csv").write_text("\n".join(lines) + "\n")
    return np.round(values, 6)


def _all(source) -> dict[str, torch.Tensor]:
    """Every row of a split, whether it is a dict or epochs of batches (unshuffled)."""
    if isinstance(source, dict):
        return source
    return {key: value for key, value in source.tensors.items()}


def test_csv_rows_split_without_overlap(tmp_path: Path) -> None:
    values = _table(tmp_path)
    data = '(x, y) :: (Real[4], Int) ~ CSV(path = "table.csv", label = "y")'
    spec = _spec(tmp_path, SUPERVISED, data, D=4)
    parts = {split: _all(build_data(spec, split)) for split in SPLITS}
    rows = {split: set(parts[split]["x"][:, 0].round().long().tolist()) for split in SPLITS}
    # 100 rows at 0.7 / 0.15 / 0.15: 70, 15 and 15, each row in exactly one split.
    assert [len(rows[s]) for s in SPLITS] == [70, 15, 15]
    assert not rows["test"] & (rows["train"] | rows["validation"])
    assert not rows["validation"] & rows["train"]
    assert rows["train"] | rows["validation"] | rows["test"] == set(range(100))
    test = parts["test"]
    np.testing.assert_allclose(test["x"].double().numpy(), values[sorted(rows["test"])], atol=1e-6)
    assert test["y"].dtype == torch.int64
    assert not build_data(spec, "validation").shuffle and build_data(spec, "train").shuffle


def test_csv_split_fractions_seed_and_columns(tmp_path: Path) -> None:
    _table(tmp_path, rows=50)
    data = (
        'x :: Real[2] ~ CSV(path = "table.csv", columns = ["a", "c"], split = (0.6, 0.2, 0.2), '
        "seed = {seed})"
    )
    tests = []
    for seed in (1, 2):
        spec = _spec(tmp_path, FLOW, data.format(seed=seed))
        test = build_data(spec, "test")["x"]
        assert test.shape == (10, 2)  # 20 % of 50 rows, columns a and c
        tests.append(set(test[:, 0].round().long().tolist()))
    assert tests[0] != tests[1]  # the seed draws the split


def test_explicit_files_per_split(tmp_path: Path) -> None:
    for name, rows in (("a", 3), ("b", 2), ("c", 4)):
        (tmp_path / f"{name}.csv").write_text("u,v\n" + "".join(f"{k},{k}\n" for k in range(rows)))
    data = 'x :: Real[2] ~ CSV(train = "a.csv", validation = "b.csv", test = "c.csv")'
    spec = _spec(tmp_path, FLOW, data)
    assert [len(_all(build_data(spec, s))["x"]) for s in SPLITS] == [3, 2, 4]


def test_npz_images_split_and_gain_a_channel(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    images = rng.uniform(size=(40, 4, 4))
    images[:, 0, 0] = np.arange(40)  # the image's number, to find it again
    np.savez(tmp_path / "images.npz", images=images, labels=np.arange(40) % 3)
    data = '(x, y) :: (Real[1, 4, 4], Int) ~ NPZ(path = "images.npz", x = "images", y = "labels")'
    text = SUPERVISED.replace("h(0) = x", "h(0) = reshape(x, 16)")
    spec = _spec(tmp_path, text, data, D=16)
    parts = {split: _all(build_data(spec, split)) for split in SPLITS}
    assert parts["train"]["x"].shape == (28, 1, 4, 4)  # (N, H, W) read as one channel
    ids = {s: set(parts[s]["x"][:, 0, 0, 0].round().long().tolist()) for s in SPLITS}
    assert not ids["test"] & (ids["train"] | ids["validation"])
    assert not ids["validation"] & ids["train"]
    assert sum(len(v) for v in ids.values()) == 40
    for split in SPLITS:
        np.testing.assert_array_equal(parts[split]["y"].numpy(), np.array(sorted(ids[split])) % 3)


def _long_csv(folder: Path) -> None:
    """20 series s0..s19 of 3 channels, series k with k % 4 + 2 points; the first value of
    every series is k (to recognise it); one cell missing, an empty one in s3."""
    lines = ["id,t,x1,x2,x3"]
    for k in range(20):
        for j in range(k % 4 + 2):
            cells = [f"{k}" if j == 0 else f"{0.1 * j:.1f}", "1.5", "-2"]
            if k == 3 and j == 1:
                cells[1] = ""
            lines.append(f"s{k},{1.5 - 0.5 * j},{','.join(cells)}")  # times descend in the file
    (folder / "series.csv").write_text("\n".join(lines) + "\n")


def test_long_format_series_split_whole_padded_and_masked(tmp_path: Path) -> None:
    _long_csv(tmp_path)
    data = '(ts, x) :: (Real[N], Real[N, 3]) ~ CSV(path = "series.csv", time = "t", series = "id")'
    spec = _spec(tmp_path, SERIES, data, D=3)
    parts = {split: _all(build_data(spec, split)) for split in SPLITS}
    assert set(parts["test"]) == {"ts", "x", "mask"}
    ids = {}
    for split, batch in parts.items():
        x, mask, ts = batch["x"], batch["mask"], batch["ts"]
        assert x.shape == mask.shape and x.shape[:2] == ts.shape and x.shape[2] == 3
        assert torch.all(ts.diff(dim=1) >= 0)  # sorted by time, padding repeats the last time
        # each series' last point (time sorted) carries its number in x1
        last = mask[:, :, 0].sum(dim=1) - 1
        ids[split] = {round(float(x[b, last[b], 0])) for b in range(len(x))}
        lengths = mask.any(dim=2).sum(dim=1)
        assert all(int(n) == k % 4 + 2 for n, k in zip(lengths, sorted(ids[split]), strict=False))
    assert [len(ids[s]) for s in SPLITS] == [14, 3, 3]
    assert not ids["test"] & (ids["train"] | ids["validation"])
    assert not ids["validation"] & ids["train"]
    split = next(s for s in SPLITS if 3 in ids[s])
    b = sorted(ids[split]).index(3)
    # s3 has 5 points at times -0.5, 0.0, 0.5, 1.0, 1.5 (sorted): its x2 at time 1.0 is missing.
    assert parts[split]["mask"][b, :5, 1].tolist() == [True, True, True, False, True]


def _trajectory(folder: Path, points: int = 20) -> np.ndarray:
    """One trajectory at times 0..points-1 with values 1 + time in both channels."""
    t = np.arange(points, dtype=float)
    rows = "".join(f"{k},{1 + k},{1 + k}\n" for k in t[::-1])  # unsorted in the file
    (folder / "orbit.csv").write_text("t,u,v\n" + rows)
    return t


@pytest.mark.parametrize("holdout", ["", ", holdout = :random"])
def test_single_trajectory_hides_later_splits(tmp_path: Path, holdout: str) -> None:
    _trajectory(tmp_path)
    data = f'(ts, x) :: (Real[N], Real[N, 2]) ~ CSV(path = "orbit.csv", time = "t"{holdout})'
    spec = _spec(tmp_path, SERIES, data, D=2)
    parts = {split: _all(build_data(spec, split)) for split in SPLITS}
    own = {}
    for k, split in enumerate(SPLITS):
        batch = parts[split]
        assert batch["ts"].shape == (1, 20) and batch["x"].shape == batch["mask"].shape == (
            1,
            20,
            2,
        )
        np.testing.assert_array_equal(batch["ts"][0].numpy(), np.arange(20))  # every time
        own[split] = set(torch.nonzero(batch["mask"][0, :, 0]).ravel().tolist())
        later = set().union(*(own.get(s, set()) for s in SPLITS[k + 1 :]))
        visible = set(torch.nonzero(batch["x"][0, :, 0]).ravel().tolist())
        assert not visible & later or k == 2
    # the values visible in each batch: train sees only train points; validation adds its own
    # points; test sees everything. Later splits' values are never in an earlier batch.
    for k, split in enumerate(SPLITS):
        visible = set(torch.nonzero(parts[split]["x"][0, :, 0]).ravel().tolist())
        assert visible == set().union(*(own[s] for s in SPLITS[: k + 1]))
    # 20 points at 0.7 / 0.15 / 0.15: 14, 3, 3 points
    assert [len(own[s]) for s in SPLITS] == [14, 3, 3]
    if not holdout:  # forecasting: the test points are the last three times
        assert own["test"] == {17, 18, 19} and own["validation"] == {14, 15, 16}
    else:
        assert own["test"] != {17, 18, 19}


@pytest.mark.parametrize(
    "name", [n for n, s in DATASETS.items() if s.kind in ("density2d", "series")]
)
def test_generated_sets_draw_each_split_from_its_own_stream(name: str) -> None:
    parts = [load(name, split=split, n=40, seed=0)["x"] for split in SPLITS]
    flat = [np.round(p.reshape(len(p), -1)[:, :2], 12) for p in parts]
    rows = [set(map(tuple, f)) for f in flat]
    assert not rows[0] & rows[1] and not rows[0] & rows[2] and not rows[1] & rows[2]


def test_paths_are_relative_to_the_spec_not_the_cwd(tmp_path: Path, monkeypatch) -> None:
    home, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    _table(home)
    (elsewhere / "table.csv").write_text("a,b,c,d,y\n" + "9,9,9,9,1\n" * 20)  # a decoy, same name
    spec = _spec(
        home, SUPERVISED, '(x, y) :: (Real[4], Int) ~ CSV(path = "table.csv", label = "y")', D=4
    )
    monkeypatch.chdir(home)
    here = _all(build_data(spec, "test"))["x"]
    monkeypatch.chdir(elsewhere)
    there = _all(build_data(spec, "test"))["x"]
    assert torch.equal(here, there)
    # spec text without a file reads relative to the current folder: the decoy
    text = (home / "spec.ode").read_text()
    assert float(_all(build_data(check_text(text), "train"))["x"][0, 0]) == 9.0


def test_recorded_files_refuse_a_change_or_a_move(tmp_path: Path) -> None:
    _table(tmp_path)
    spec = _spec(
        tmp_path, SUPERVISED, '(x, y) :: (Real[4], Int) ~ CSV(path = "table.csv", label = "y")', D=4
    )
    records = data_files(spec)
    assert [r["path"] for r in records] == [str((tmp_path / "table.csv").resolve())]
    check_data_files(records)  # unchanged: accepted
    with (tmp_path / "table.csv").open("a") as handle:
        handle.write("1,2,3,4,0\n")
    assert data_files(spec)[0]["sha256"] != records[0]["sha256"]
    with pytest.raises(DataError, match="changed since this run was trained"):
        check_data_files(records)
    shutil.move(tmp_path / "table.csv", tmp_path / "moved.csv")
    with pytest.raises(DataError, match="gone \\(moved or deleted\\)"):
        check_data_files(records)


def test_a_file_of_the_wrong_shape_is_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "points.csv").write_text("a,b,c\n" + "1,2,3\n" * 10)
    spec = _spec(tmp_path, FLOW, 'x :: Real[2] ~ CSV(path = "points.csv")')
    with pytest.raises(SpecError) as caught:
        build_data(spec, "train")
    diagnostic = caught.value.diagnostics[0]
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("E072", 3, 9)
    assert "gives `x` of shape Real[3]" in diagnostic.message
    assert "declared Real[2]" in diagnostic.message
    assert "x :: Real[2] ~ CSV" in str(caught.value)  # the excerpt of the spec's data line


def test_a_file_error_names_the_spec_line_and_the_cell(tmp_path: Path) -> None:
    (tmp_path / "points.csv").write_text("a,b\n1,2\n3,1,5\n")
    spec = _spec(tmp_path, FLOW, 'x :: Real[2] ~ CSV(path = "points.csv")')
    with pytest.raises(
        DataError, match=r"spec.ode:3:9: CSV\(\): .*points.csv:3: 3 cells, expected 2"
    ):
        build_data(spec, "test")
