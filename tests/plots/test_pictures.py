"""The model pictures a user reads: every panel's axes and every colorbar labelled, no text
over another, for flows (continuous and discrete), latent ODEs and the general model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import odedsl
from odedsl.data import load
from odedsl.plots.flow import plot_flow
from odedsl.plots.latent import plot_latent
from odedsl.plots.observed import draw_observed
from tests.models.test_observed import FirstObservation, Head, linear_model, supervised

from .readable import assert_readable, colorbar

SPECS = Path(__file__).resolve().parents[2] / "specs"
FAST = {"method": ":rk4", "step_size": 0.25, "gradient": ":direct"}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    ("spec", "label"),
    [("cnf_moons.ode", "density q(x)"), ("planar_density.ode", "density q(x), estimated")],
)
def test_flow_pictures_are_labelled(spec: str, label: str, figures, tmp_path: Path) -> None:
    model = odedsl.compile(SPECS / spec, **(FAST if spec.startswith("cnf") else {})).eval()
    data = np.random.default_rng(0).normal(size=(200, 2))
    plot_flow(model, data, tmp_path, n=200)
    samples, density, transformation = figures
    for figure in figures:
        assert_readable(figure)
    (bar,) = [axis for axis in density.axes if colorbar(axis)]
    assert bar.get_ylabel() == label
    assert [axis.get_title() for axis in samples.axes] == ["data", "samples"]
    assert len(transformation.axes) == 5


def test_latent_pictures_are_labelled(figures, tmp_path: Path) -> None:
    model = odedsl.compile(SPECS / "latent_spirals.ode", **FAST, refine=0)
    plot_latent(model, load("Spirals2D", split="test", n=8, observed=30, seed=0), tmp_path)
    _, interpolation = figures
    for figure in figures:
        assert_readable(figure)
    assert interpolation.axes[0].get_xlabel() == "x₁"  # spirals are drawn in their plane


def test_fit_regression_and_decision_pictures_are_labelled(figures, tmp_path: Path) -> None:
    ts = torch.linspace(0.1, 2.0, 6, dtype=torch.float64).expand(3, 6)
    series = {"ts": ts, "x": torch.exp(-0.7 * ts)[..., None]}
    draw_observed(linear_model(FirstObservation()).eval(), series, series, tmp_path)

    class Mean(torch.nn.Module):
        def forward(self, h):
            return h, 0.5

    x = torch.randn(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    draw_observed(supervised("Normal", Mean()).eval(), None, {"x": x, "y": x}, tmp_path)
    classifier = supervised("Categorical", Head(), event=()).eval()
    draw_observed(classifier, None, {"x": x, "y": (x[:, 0] > 0).long()}, tmp_path)
    fit, _, decision = figures
    for figure in figures:
        assert_readable(figure)
    assert fit.axes[0].get_xlabel() == "time (ts)"
    (bar,) = [axis for axis in decision.axes if colorbar(axis)]
    assert bar.get_ylabel() == "predicted class of y"
    assert [float(t) for t in bar.get_yticks()] == [0.0, 1.0]  # one band per class
