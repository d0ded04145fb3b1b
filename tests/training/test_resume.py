"""Exact resumption: an interrupted and resumed run equals the uninterrupted one, bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from odedsl.errors import SolverError
from odedsl.training import (
    RunFolder,
    ScheduleConfig,
    TensorBatches,
    TrainConfig,
    TrainingError,
    read_checkpoint,
    train,
)
from odedsl.training.sources import Transform

from .workers import regression_config, regression_data, regression_model

WORKERS = Path(__file__).with_name("workers.py")
STEPS = 40


def assert_same_state(one: torch.nn.Module, other: torch.nn.Module) -> None:
    for (name, a), b in zip(one.state_dict().items(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b), f"{name} differs"


def records_without_time(run: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in RunFolder(run).read_metrics()]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> tuple[torch.nn.Module, Path]:
    """The reference: STEPS steps without interruption."""
    run = tmp_path_factory.mktemp("straight")
    model = regression_model()
    train(model, regression_data(), regression_config(STEPS), run)
    return model, run


def test_sigint_then_resume_equals_straight_run(straight, tmp_path):
    run = tmp_path / "run"
    ready_at = 12  # not a multiple of log_every = 5: the unlogged window must resume too
    child = subprocess.Popen(
        [sys.executable, str(WORKERS), "interruptible", str(run), str(STEPS), str(ready_at)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready", child.stderr.read()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    stopped = read_checkpoint(run / "checkpoint.pt")["step"]
    # After "ready" each step sleeps 50 ms, so the signal lands well before the end.
    assert ready_at <= stopped < STEPS
    assert f"interrupted by SIGINT at step {stopped} of {STEPS}" in out
    assert f"status interrupted step {stopped}" in out
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"

    model = regression_model()
    result = train(model, regression_data(), regression_config(STEPS), run, resume=True)

    reference, reference_run = straight
    assert result.status == "completed" and result.step == STEPS
    assert_same_state(model, reference)
    assert records_without_time(run) == records_without_time(reference_run)
    # The optimizer state resumed too: the checkpoints' Adam moments agree exactly.
    ours = read_checkpoint(run / "checkpoint.pt")["optimizer"]["state"]
    theirs = read_checkpoint(reference_run / "checkpoint.pt")["optimizer"]["state"]
    for key in theirs:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(ours[key][name], theirs[key][name])


def test_model_error_keeps_checkpoint_and_resume_repairs_the_log(tmp_path):
    """A SolverError at step 27 stops the run; checkpoint.pt keeps step 20 while metrics.jsonl
    already has lines up to 26. Resuming drops those and ends where the straight run ends."""
    run = tmp_path / "run"
    config = regression_config(STEPS, checkpoint_every=10, log_every=1)
    model = regression_model(fail_at=27)
    with pytest.raises(TrainingError) as caught:
        train(model, regression_data(), config, run)
    message = str(caught.value)
    assert "at step 27 the model raised SolverError: step size underflow" in message
    assert f"{run / 'checkpoint.pt'} keeps step 20" in message
    assert isinstance(caught.value.__cause__, SolverError)
    assert read_checkpoint(run / "checkpoint.pt")["step"] == 20
    assert RunFolder(run).read_metrics()[-1]["step"] == 26
    assert json.loads((run / "summary.json").read_text())["status"] == "failed"

    resumed = regression_model()
    train(resumed, regression_data(), config, run, resume=True)
    reference = regression_model()
    train(reference, regression_data(), config, tmp_path / "straight")
    assert_same_state(resumed, reference)
    assert [r["step"] for r in RunFolder(run).read_metrics()] == list(range(1, STEPS + 1))
    assert records_without_time(run) == records_without_time(tmp_path / "straight")


@pytest.mark.parametrize("failure", ["nan", "inf"])
def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(failure, tmp_path):
    run = tmp_path / "run"
    # A constant rate, so the first 10 of 40 steps are a 10-step run.
    config = regression_config(STEPS, checkpoint_every=5, schedule=ScheduleConfig("none"))
    model = regression_model(fail_at=13, failure=failure)
    with pytest.raises(TrainingError) as caught:
        train(model, regression_data(), config, run)
    assert f"non-finite loss ({failure}) at step 13 of {STEPS}" in str(caught.value)
    assert "keeps step 10" in str(caught.value)
    assert (caught.value.step, caught.value.checkpoint_step) == (13, 10)
    # The checkpoint holds exactly the parameters of 10 good steps.
    ten = regression_model()
    train(ten, regression_data(), config.with_length(10), tmp_path / "ten")
    saved = read_checkpoint(run / "checkpoint.pt")
    assert saved["step"] == 10
    assert all(torch.equal(saved["model"][k], v) for k, v in ten.state_dict().items())


class SignalAt:
    """Sends this process a real signal after a given step (a progress reporter)."""

    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum = step, signum

    def start(self, total: int, initial: int) -> None: ...

    def update(self, step: int, values) -> None:
        if step == self.step:
            os.kill(os.getpid(), self.signum)

    def note(self, text: str) -> None: ...

    def close(self) -> None: ...


def epoch_config(epochs: int) -> TrainConfig:
    return regression_config(None, epochs=epochs)


def jitter(batch: dict[str, torch.Tensor], rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """A data augmentation: noise on the inputs, drawn from the batch's generator."""
    noise = torch.as_tensor(rng.normal(0.0, 0.1, tuple(batch["x"].shape)), dtype=torch.float32)
    return {**batch, "x": batch["x"] + noise}


def epoch_data(transform: Transform | None = None) -> TensorBatches:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(100, 2, generator=generator)
    return TensorBatches(
        {"x": x, "y": torch.sin(x[:, :1] * x[:, 1:])}, batch_size=16, transform=transform
    )


@pytest.mark.parametrize("transform", [None, jitter], ids=["plain", "augmented"])
def test_sigterm_mid_epoch_resumes_exactly_and_restores_handlers(transform, tmp_path):
    """Epoch data (7 batches per epoch, the last one short): SIGTERM after step 11, in the
    middle of epoch 2 and of a logging window (every 5 steps). Augmented batches resume too:
    their generator depends on the batch's position, not on what was drawn before."""
    before = signal.getsignal(signal.SIGTERM)
    stopped = tmp_path / "stopped"
    model = regression_model()
    result = train(
        model,
        epoch_data(transform),
        epoch_config(3),
        stopped,
        progress=SignalAt(11, signal.SIGTERM),
    )
    assert signal.getsignal(signal.SIGTERM) is before
    assert (result.status, result.step) == ("interrupted", 11)
    saved = read_checkpoint(stopped / "checkpoint.pt")
    assert (saved["epoch"], saved["batch_in_epoch"]) == (1, 4)

    resumed = regression_model()
    result = train(resumed, epoch_data(transform), epoch_config(3), stopped, resume=True)
    straight = regression_model()
    train(straight, epoch_data(transform), epoch_config(3), tmp_path / "straight")
    assert (result.status, result.step) == ("completed", 21)
    assert_same_state(resumed, straight)
    assert records_without_time(stopped) == records_without_time(tmp_path / "straight")
