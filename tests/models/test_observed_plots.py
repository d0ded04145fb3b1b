"""The general model's pictures: the fit of a trajectory model, a regression's predicted
against true values, a 2-D classifier's decision regions (files written, non-empty)."""

from __future__ import annotations

import pytest
import torch

from odedsl.plots.observed import draw_observed

from .test_observed import FirstObservation, Head, linear_model, supervised

pytest.importorskip("matplotlib")


@pytest.fixture
def series():
    ts = torch.linspace(0.1, 2.0, 6, dtype=torch.float64).expand(3, 6)
    x = torch.exp(-0.7 * ts)[..., None] + 0.01 * torch.arange(3.0)[:, None, None]
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[1, 2] = False
    return {"ts": ts, "x": x, "mask": mask}


@pytest.mark.parametrize("start", [None, FirstObservation()])
def test_fit_of_a_trajectory_model(tmp_path, series, start):
    model = linear_model(start).eval()
    (path,) = draw_observed(model, series, series, tmp_path)
    assert path.name == "fit.png" and path.stat().st_size > 0


def test_regression_and_decision_regions(tmp_path):
    class Mean(torch.nn.Module):
        def forward(self, h):
            return h, 0.5

    x = torch.randn(20, 2, dtype=torch.float64)
    (path,) = draw_observed(supervised("Normal", Mean()).eval(), None, {"x": x, "y": x}, tmp_path)
    assert path.name == "regression.png" and path.stat().st_size > 0
    labels = (x[:, 0] > 0).long()
    classifier = supervised("Categorical", Head(), event=()).eval()
    (path,) = draw_observed(classifier, None, {"x": x, "y": labels}, tmp_path)
    assert path.name == "decision.png" and path.stat().st_size > 0
