"""The run commands on run folders they must not clobber, their bounds and their messages:
refusals that write nothing, the lock between two processes, interrupts (exit 130 with the
real path), one-line errors, and what the end of a run prints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import odedsl
from odedsl import workflow
from odedsl.cli import main
from odedsl.training import TrainingSetup
from odedsl.training.errors import RunError, RunInterrupted
from odedsl.training.lock import LOCK
from odedsl.training.memory import cores

from .test_run_commands import QUICK, SPEC

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "training"))
from workers import regression_data, regression_model  # noqa: E402


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runs") / "moons"
    assert main(["train", str(SPEC), "--steps", "3", "--out", str(folder), *QUICK]) == 0
    return folder


def test_a_refused_train_changes_nothing(run: Path, capsys) -> None:
    before = snapshot(run)
    euler = ["--set", "method=:euler", "--set", "step_size=0.5"]
    assert main(["train", str(SPEC), "--steps", "3", "--out", str(run), *euler]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"odedsl: error: {run}: already holds a run; continue it with `odedsl train --resume "
        f"{run}`, or train into another folder (--out)\n"
    )
    assert snapshot(run) == before  # overrides.json too: eval and --resume stay on rk4


def test_a_folder_of_other_files_is_refused_and_kept(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in ("spec.ode", "best.pt", "metrics.jsonl", "summary.json", "eval.json"):
        (folder / name).write_text(f"my {name}")
    before = snapshot(folder)
    assert main(["train", str(SPEC), "--steps", "1", "--out", str(folder), *QUICK]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"odedsl: error: {folder}: holds best.pt, eval.json, metrics.jsonl")
    assert "and 2 more but no run (no checkpoint.pt), and is not overwritten" in err
    assert err.endswith("train into a new or empty folder (--out)\n")
    assert snapshot(folder) == before  # not even a lock file


def test_an_empty_folder_takes_a_run_and_a_failed_start_leaves_it_empty(tmp_path, capsys):
    folder = tmp_path / "empty"
    folder.mkdir()
    # 10^8 examples a step: refused with the measured figure before a byte of data is drawn
    big = ["--set", "batch=100000000"]
    assert main(["train", str(SPEC), "--steps", "1", "--out", str(folder), *big]) == 1
    err = capsys.readouterr().err
    assert "batch = 100000000: a training step would keep about" in err
    assert "of free memory; give batch ≤" in err and "Traceback" not in err
    assert [p.name for p in folder.iterdir()] == [LOCK]  # what it wrote is gone
    assert main(["train", str(SPEC), "--steps", "1", "--out", str(folder), *QUICK]) == 0


def test_the_end_of_a_run_gives_units_the_folder_and_next_commands(tmp_path, capsys) -> None:
    folder = tmp_path / "done"
    assert main(["train", str(SPEC), "--steps", "2", "--out", str(folder), *QUICK]) == 0
    out = capsys.readouterr().out
    assert out.count("nfe fwd/bwd: evaluations of the dynamics") == 1  # the legend, once
    assert out.index("nfe fwd/bwd:") < out.index("step 2/2")
    assert " nats, " in out.split("evaluation on test")[1]  # the NLL with its unit
    assert f"run folder: {folder}\n" in out
    for command in (f"odedsl eval {folder}", f"odedsl train --resume {folder} --steps 4"):
        assert command in out


def failing(kind: str):
    """``workflow._build`` replaced by a small regression whose 2nd loss fails as ``kind``."""

    def build(spec_text, overrides, root=None) -> TrainingSetup:
        return TrainingSetup(regression_model(fail_at=2, failure=kind), regression_data())

    return build


def test_a_failed_run_says_its_cause_and_what_is_kept(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(workflow, "_build", failing("nan"))
    folder = tmp_path / "nan"
    with pytest.raises(RunError) as failed:
        workflow.train(SPEC, out=folder, steps=5, overrides={"step_size": 0.5})
    message = str(failed.value)
    assert message.startswith(f"{folder}: training failed: non-finite loss (nan) at step 2 of 5")
    assert f"{folder / 'checkpoint.pt'} keeps step 0, the initial parameters" in message
    assert "last good checkpoint" not in message


def test_an_interrupt_names_the_run_in_the_surfaces_own_spelling(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(workflow, "_build", failing("sigint"))
    folder = tmp_path / "python"
    with pytest.raises(RunInterrupted) as stopped:
        workflow.train(SPEC, out=folder, steps=5)
    assert str(stopped.value).endswith(f"continue with odedsl.resume({str(folder)!r})")
    assert "--resume" not in str(stopped.value) and "RUN" not in str(stopped.value)
    assert odedsl.resume is workflow.resume  # the spelling given is the public one
    folder = tmp_path / "cli"
    assert main(["train", str(SPEC), "--steps", "5", "--out", str(folder)]) == 130
    err = capsys.readouterr().err
    # SIGINT arrives inside step 2's loss: the step finishes, and training stops after it
    assert err == (
        f"odedsl: {folder}: training interrupted at step 2, its checkpoint saved; continue "
        f"with `odedsl train --resume {folder}`\n"
    )


def test_two_processes_one_run(tmp_path: Path) -> None:
    """A long training holds its run: a second `--resume` is refused naming its pid; then
    SIGINT stops the first with exit 130 and the command that continues it."""
    folder = tmp_path / "long"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    odedsl = [sys.executable, "-m", "odedsl"]
    long = [*odedsl, "train", str(SPEC), "--steps", "100000", "--out", str(folder), *QUICK]
    first = subprocess.Popen(long, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        while not (folder / LOCK).is_file() or not (folder / LOCK).read_text():
            assert first.poll() is None, first.stderr.read()
            time.sleep(0.05)
        assert (folder / LOCK).read_text() == f"{first.pid}\nfresh run"
        second = subprocess.run(
            [*odedsl, "train", "--resume", str(folder)], capture_output=True, text=True, env=env
        )
        assert second.returncode == 1
        assert f"{folder}: in use by process {first.pid} " in second.stderr
        assert first.stdout.readline().startswith(b"nfe fwd/bwd")  # training has started
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 130
    assert err.decode().endswith(f"continue with `odedsl train --resume {folder}`\n")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "interrupted"


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_one_line_and_writes_nothing(tmp_path, capsys) -> None:
    folder = tmp_path / "gpu"
    assert main(["train", str(SPEC), "--out", str(folder), "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("odedsl: error: device 'cuda': CUDA is not available")
    assert err.count("\n") == 1 and not folder.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--threads", "0"], "--threads 0: give at least 1"),
        (["--threads", "-3"], "--threads -3: give at least 1"),
        (["--nproc", "0"], "--nproc 0: give at least 1"),
        (["--nproc", str(cores() + 1)], f"more processes than the {cores()} cores here"),
    ],
)
def test_process_and_thread_counts_are_bounded(argv, message, tmp_path, capsys) -> None:
    folder = tmp_path / "never"
    assert main(["train", str(SPEC), "--out", str(folder), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not folder.exists()


def test_samples_are_drawn_in_chunks(run: Path, monkeypatch) -> None:
    monkeypatch.setattr(workflow, "SAMPLE_CHUNK", 4)
    chunked = workflow.sample(run, 10, seed=3)
    assert chunked.shape == (10, 2) and np.isfinite(chunked).all()
    # the first chunk is the draw of 4 from the same seed; the rest go on from its generator
    np.testing.assert_array_equal(chunked[:4], workflow.sample(run, 4, seed=3))


def test_samples_beyond_free_memory_are_refused(run: Path, monkeypatch, capsys) -> None:
    # 2 float32 values a sample, 8 bytes: 10^9 samples are 8 GB, above a 1 MB budget
    monkeypatch.setattr(workflow, "available_memory", lambda: 10**6)
    out = run.parent / "never.npy"
    assert main(["sample", str(run), "-n", "1000000000", "-o", str(out)]) == 1
    assert capsys.readouterr().err == (
        "odedsl: error: -n 1000000000: the samples would take 8.0 GB, more than the 1.0 MB of free "
        "memory; draw at most 125000 at a time\n"
    )
    assert not out.exists()
