"""Error control of an ODE-Net (the paper's figure 3): the numbers behind the pictures, and the
pictures a classifier run draws."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from odedsl.compiler import build_data, compile
from odedsl.plots.odenet import error_control, plot_error_control
from odedsl.workflow import _draw

DIGITS = Path(__file__).parents[2] / "specs" / "odenet_digits.ode"
TOLERANCES = (1e-1, 1e-3, 1e-5)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return compile(DIGITS, seed=0)


@pytest.fixture(scope="module")
def images(model):
    batch = next(iter(build_data(model.spec, "test")))
    return batch["x"][:8], batch["y"][:8]


@pytest.fixture(scope="module")
def records(model, images):
    return error_control(model, *images, tolerances=TOLERANCES)


def test_error_falls_and_evaluations_grow_as_the_tolerance_tightens(records):
    errors = [r["error"] for r in records]
    forward = [r["nfe_forward"] for r in records]
    # dopri5's error is controlled per step, so the global error follows the tolerance down;
    # on this (untrained) block it falls from 2e-2 to 3e-4, measured against a float64 solve
    # at 1e-7 whose own error (about 1e-5 relative) is far below the smallest one here.
    assert errors[0] > errors[1] > errors[2] and errors[2] < errors[0] / 10
    assert forward == sorted(forward) and forward[-1] > forward[0]
    assert all(r["nfe_backward"] > 0 and r["forward_seconds"] > 0 for r in records)
    assert [r["tolerance"] for r in records] == list(TOLERANCES)


def test_error_control_leaves_the_model_as_it_was(model, images):
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    error_control(model, *images, tolerances=(1e-2,))
    for name, parameter in model.named_parameters():
        assert parameter.dtype == torch.float32 and parameter.grad is None
        torch.testing.assert_close(parameter, before[name], rtol=0, atol=0)


def test_error_control_needs_a_tolerance(model, images):
    with pytest.raises(ValueError, match="tolerances"):
        error_control(model, *images, tolerances=())


def test_pictures_and_numbers_are_written(records, tmp_path):
    pytest.importorskip("matplotlib")
    training = [{"step": s, "nfe_forward": 20.0 + s, "nfe_backward": 14.0} for s in (10, 20)]
    written = plot_error_control(records, training, tmp_path)
    assert {p.name for p in written} == {"error_control.png", "error_control.json"}
    assert (tmp_path / "error_control.png").stat().st_size > 0
    assert json.loads((tmp_path / "error_control.json").read_text()) == records


def test_a_classifier_run_draws_its_error_control(model, images, tmp_path):
    pytest.importorskip("matplotlib")
    x, y = images
    written = _draw(tmp_path, model, {"x": x[:4], "y": y[:4]})
    assert tmp_path / "error_control.png" in written
    numbers = json.loads((tmp_path / "error_control.json").read_text())
    assert len(numbers) > 1 and numbers[-1]["error"] < numbers[0]["error"]
