"""Run folders that cannot be clobbered: the lock, fresh-run claims, staging names, and the
bounds checked before a run allocates."""

from __future__ import annotations

import functools
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from odedsl.training import ConfigError, LossOutput, RunError, TensorBatches, run_training, train
from odedsl.training.atomic import atomic_write_text, partial_path
from odedsl.training.lock import LOCK, RunLocked, run_lock
from odedsl.training.memory import bytes_per_example, check_batch_memory
from odedsl.training.run import fresh_run

from .test_commands import setup
from .workers import regression_config, regression_data, regression_model

HOLDER = """
import sys
from odedsl.training.lock import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


@pytest.fixture
def holder(tmp_path: Path):
    """Another process holding the lock of ``tmp_path / "run"``; yields it."""
    folder = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout.readline() == "locked\n"
    yield child
    child.stdin.close()
    child.wait(timeout=30)


def test_a_second_process_is_refused_naming_the_holder(holder, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    refusal = pytest.raises(RunLocked, match=f"in use by process {holder.pid} ")
    with refusal as refused, run_lock(folder):
        pass
    assert refused.value.holder == holder.pid
    # the training command refuses too, and writes nothing beside the lock file
    status = run_training(setup, folder, config=regression_config(5), stream=io.StringIO())
    assert status == 1
    assert sorted(p.name for p in folder.iterdir()) == [LOCK]


def test_a_dead_holders_lock_is_taken_over(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / LOCK).write_text(f"{dead.pid}\n")  # what a killed holder leaves
    with run_lock(folder):
        assert (folder / LOCK).read_text().split()[0] == str(os.getpid())
        with run_lock(folder):  # re-entrant within one process
            pass
    assert (folder / LOCK).read_text() == ""  # released: no holder recorded


def test_the_lock_is_released_when_its_holder_is_killed(holder, tmp_path: Path) -> None:
    holder.kill()
    holder.wait()
    with run_lock(tmp_path / "run"):
        pass


@pytest.mark.parametrize("contents", ["notes.txt", "spec.ode", "metrics.jsonl"])
def test_a_fresh_run_never_overwrites_a_folder_of_other_files(contents: str, tmp_path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / contents).write_text("mine")
    with pytest.raises(RunError, match=f"holds {contents} but no run .* not overwritten"):
        train(regression_model(), regression_data(), regression_config(5), folder)
    assert [p.name for p in folder.iterdir()] == [contents]
    assert (folder / contents).read_text() == "mine"


def test_a_fresh_run_never_overwrites_a_file(tmp_path: Path) -> None:
    path = tmp_path / "run"
    path.write_text("mine")
    with pytest.raises(RunError, match="run: is a file, not a folder, and is not overwritten"):
        train(regression_model(), regression_data(), regression_config(5), path)
    assert path.read_text() == "mine"


def test_a_start_that_fails_before_its_first_checkpoint_leaves_the_folder_empty(tmp_path):
    folder = tmp_path / "run"
    with pytest.raises(ValueError, match="data failed"), fresh_run(folder):
        atomic_write_text(folder / "overrides.json", "{}")
        raise ValueError("data failed")
    assert [p.name for p in folder.iterdir()] == [LOCK]
    # so a retry starts there
    train(regression_model(), regression_data(), regression_config(2), folder)
    assert (folder / "checkpoint.pt").is_file()


def test_staging_names_are_unique_to_their_process(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    assert partial_path(path).name == f".checkpoint.pt.{os.getpid()}.partial"


def test_a_failure_says_which_checkpoint_is_kept(tmp_path: Path, capsys) -> None:
    # a NaN at step 1, before any step was saved: the checkpoint holds the initial parameters
    build = functools.partial(setup, fail_at=1, failure="nan")
    status = run_training(
        build, tmp_path / "run", config=regression_config(9), stream=io.StringIO()
    )
    assert status == 1
    err = capsys.readouterr().err
    assert "non-finite loss (nan) at step 1 of 9" in err
    assert "keeps step 0, the initial parameters" in err


class Scaled(nn.Module):
    """loss = Σ x·w: the product keeps x (its other operand is the parameter w)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(8))

    def loss(self, batch):
        return LossOutput((batch["x"] * self.w).sum())


def test_a_step_is_measured_per_example_and_a_batch_that_does_not_fit_is_refused(monkeypatch):
    data = TensorBatches({"x": torch.zeros(1000, 8)}, 500)
    # one row of x: 8 float32 values, 32 bytes; w, a parameter, is not counted
    assert bytes_per_example(Scaled(), data) == 32
    monkeypatch.setattr("odedsl.training.memory.available_memory", lambda: 3200)
    check_batch_memory(Scaled(), TensorBatches({"x": torch.zeros(1000, 8)}, 100))  # 3.2 kB
    message = (
        r"batch = 500: .* about 16.0 kB \(32 bytes an example\), more than .* give batch ≤ 100"
    )
    with pytest.raises(ConfigError, match=message):
        check_batch_memory(Scaled(), data)
    # a batch beyond the data takes all 10 rows: 320 B, which fits
    check_batch_memory(Scaled(), TensorBatches({"x": torch.zeros(10, 8)}, 10**9))


def test_a_data_error_in_training_names_the_spec_file(tmp_path: Path) -> None:
    """Data are read in the training process from the spec's text: a bad cell is reported
    under the spec's path and line (not `<string>`), then the file's own line and column."""
    import odedsl
    from odedsl.data import DataError

    (tmp_path / "bad.csv").write_text("t,a,b\n0,1,2\n1,1_000,3\n2,1,2\n")
    spec = tmp_path / "m.ode"
    spec.write_text(
        (Path(__file__).resolve().parents[2] / "specs" / "sysid_oscillator.ode")
        .read_text()
        .replace("data/oscillator.csv", "bad.csv")
    )
    with pytest.raises(DataError, match=rf"{spec}:9:9: CSV\(\): .*bad.csv:3: column 2 \('a'\)"):
        odedsl.train(spec, out=tmp_path / "run", steps=1, stream=io.StringIO())
