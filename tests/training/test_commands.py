"""The command-line entry points: exit statuses, messages, resuming, reloading a trained model."""

from __future__ import annotations

import functools
import io

import torch

from odedsl.training import load_trained, read_checkpoint, run_training
from odedsl.training.commands import EXIT_FAILED, EXIT_INTERRUPTED, TrainingSetup

from .workers import regression_config, regression_data, regression_model


def setup(**kwargs) -> TrainingSetup:
    held_out = regression_data(64).batch(0, torch.Generator().manual_seed(1))
    return TrainingSetup(regression_model(**kwargs), regression_data(), held_out)


def test_train_resume_longer_and_load(tmp_path):
    run = tmp_path / "run"
    out = io.StringIO()
    config = regression_config(20, eval_every=10)
    assert run_training(setup, run, config=config, spec_text="spec", device="cpu", stream=out) == 0
    assert "step 20/20" in out.getvalue() and "validation at step 10: loss" in out.getvalue()
    assert run_training(setup, run, resume=True, length=30, device="cpu", stream=out) == 0
    assert read_checkpoint(run / "checkpoint.pt")["step"] == 30

    def compile_spec(text: str) -> torch.nn.Module:
        assert text == "spec"
        return regression_model(seed=123)

    model, metadata = load_trained(run, compile_spec, which="latest")
    saved = read_checkpoint(run / "checkpoint.pt")["model"]
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert metadata["step"] == 30 and metadata["summary"]["status"] == "completed"


def test_interrupted_run_exits_130(tmp_path):
    build = functools.partial(setup, fail_at=5, failure="sigint")
    config = regression_config(20)
    status = run_training(build, tmp_path, config=config, device="cpu", stream=io.StringIO())
    assert status == EXIT_INTERRUPTED
    assert read_checkpoint(tmp_path / "checkpoint.pt")["step"] == 5


def test_errors_are_printed_with_the_file(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert run_training(setup, missing, resume=True, stream=io.StringIO()) == EXIT_FAILED
    assert capsys.readouterr().err == (
        f"error: {missing / 'config.json'}: missing; {missing} is not a run folder\n"
    )
    build = functools.partial(setup, fail_at=3, failure="nan")
    status = run_training(
        build, tmp_path / "run", config=regression_config(9), stream=io.StringIO()
    )
    assert status == EXIT_FAILED
    assert "error: non-finite loss (nan) at step 3 of 9" in capsys.readouterr().err
