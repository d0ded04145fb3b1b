"""Checkpoints: atomic under SIGKILL, weights-only loadable, and clear errors when unusable."""

from __future__ import annotations

import io
import pickle
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from odedsl.training import OptimizerConfig, RunError, RunFolder, load_run, read_checkpoint, train
from odedsl.training.atomic import partial_files

from .workers import regression_config, regression_data, regression_model

WORKERS = Path(__file__).with_name("workers.py")
STEPS = 12


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    config = regression_config(STEPS, eval_every=4)
    model = regression_model()
    held_out = regression_data(64).batch(0, torch.Generator().manual_seed(1))
    train(model, regression_data(), config, run, spec_text="model regression\n", eval_data=held_out)
    return run


def test_sigkill_during_saves_never_leaves_a_broken_checkpoint(tmp_path):
    """A writer saving 32 MB checkpoints back to back is killed at random moments: the file on
    disk is always a complete version, the last one reported saved or the one after it."""
    rng = random.Random(0)
    path = tmp_path / "checkpoint.pt"
    interrupted_writes = 0
    # At least 3 kills; more (up to 10) until one lands inside a write, which a quiet machine
    # may take a few tries to hit.
    for attempt in range(10):
        if attempt >= 3 and interrupted_writes:
            break
        child = subprocess.Popen(
            [sys.executable, str(WORKERS), "save-loop", str(tmp_path), "32"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline() == "saved 1\n"
        time.sleep(rng.uniform(0.0, 0.4))
        child.kill()
        last = max([1, *map(int, child.stdout.read().split()[1::2])])
        child.wait()
        left = partial_files(path)  # each writer stages under its own pid
        interrupted_writes += bool(left)
        for staging in left:
            staging.unlink()
        checkpoint = read_checkpoint(path)
        version = checkpoint["step"]
        weight = checkpoint["model"]["weight"]
        assert weight.numel() == 32 * 2**20 // 4
        assert torch.all(weight == version), "a torn checkpoint"
        assert version in (last, last + 1)  # the last reported save, or one not yet reported
    # Saving is nearly all the writer does, so some kill lands inside a write (a staging file
    # left): the property above was tested against torn writes, not only finished ones.
    assert interrupted_writes >= 1


def test_checkpoint_loads_weights_only_and_load_run_rebuilds_the_model(finished_run):
    raw = torch.load(finished_run / "checkpoint.pt", weights_only=True)
    assert raw["step"] == STEPS
    config, best_state, metadata = load_run(finished_run)
    assert config == regression_config(STEPS, eval_every=4)
    assert metadata["spec"] == "model regression\n"
    assert metadata["checkpoint"].endswith("best.pt")
    assert metadata["step"] == metadata["best"]["step"] in (4, 8, 12)
    best = torch.load(finished_run / "best.pt", weights_only=True)["model"]
    assert all(torch.equal(best[k], v) for k, v in best_state.items())
    latest = load_run(finished_run, which="latest")[1]
    model = regression_model(seed=99)
    model.load_state_dict(latest)
    assert all(torch.equal(latest[k], v) for k, v in model.state_dict().items())
    assert [r["step"] for r in RunFolder(finished_run).read_metrics()] == [4, 5, 8, 10, 12]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _python_object(path: Path) -> None:
    torch.save({"format": "odedsl-checkpoint", "thing": io.BytesIO()}, path, pickle_module=pickle)


def _foreign(path: Path) -> None:
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)


def _incomplete(path: Path) -> None:
    data = torch.load(path, weights_only=True)
    del data["optimizer"]
    torch.save(data, path)


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_truncate, "truncated"),
        (lambda p: p.write_bytes(b"not a checkpoint"), "truncated, or not written by torch.save"),
        (_flip_middle_byte, "corrupt"),
        (_python_object, "holds Python objects"),
        (_foreign, "not an odedsl checkpoint"),
        (_incomplete, "entry 'optimizer' is missing"),
        (lambda p: p.unlink(), "no checkpoint here"),
    ],
    ids=["truncated", "garbage", "flipped-byte", "python-object", "foreign", "incomplete", "gone"],
)
def test_unusable_checkpoint_names_the_file_and_the_problem(
    finished_run, tmp_path, damage, expected
):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes((finished_run / "checkpoint.pt").read_bytes())
    damage(path)
    with pytest.raises(RunError) as caught:
        read_checkpoint(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def _copy_run(source: Path, target: Path) -> Path:
    target.mkdir()
    for file in source.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


def test_resuming_into_another_model_names_the_mismatched_parameter(finished_run, tmp_path):
    run = _copy_run(finished_run, tmp_path / "run")
    wider = regression_model(hidden=32)
    with pytest.raises(RunError) as caught:
        train(
            wider, regression_data(), regression_config(2 * STEPS, eval_every=4), run, resume=True
        )
    message = str(caught.value)
    assert message.startswith(f"{run / 'checkpoint.pt'}: the checkpoint does not fit this model")
    assert "'net.0.weight' has shape (16, 2) in the checkpoint but (32, 2) in the model" in message


def test_resuming_with_other_settings_is_refused(finished_run, tmp_path):
    run = _copy_run(finished_run, tmp_path / "run")
    other = regression_config(2 * STEPS, eval_every=4, optimizer=OptimizerConfig("SGD", {"lr": 1}))
    with pytest.raises(RunError, match=r"optimizer: run has .*'Adam'.*given .*'SGD'"):
        train(regression_model(), regression_data(), other, run, resume=True)


def test_a_fresh_run_refuses_a_folder_holding_a_run(finished_run):
    with pytest.raises(RunError, match="already holds a run; resume it"):
        train(regression_model(), regression_data(), regression_config(STEPS), finished_run)
