"""What an artefact's solve defaults to, and series padded with NaN."""

from __future__ import annotations

import pytest
import torch

import odedsl
from odedsl.export import DEFAULT_STEPS
from odedsl.export.artefacts import export_model, solve_settings

from .conftest import ROOT, scrambled


@pytest.mark.parametrize(
    ("spec", "method", "steps"),
    [
        ("cnf_moons.ode", "rk4", 8),  # trains with rk4, step_size 0.125 on (0, 1): 8 steps
        ("odenet_digits.ode", "rk4", 2),  # rk4 step_size 0.5 to the readout at 1.0
        ("regression_friedman.ode", "rk4", 4),  # rk4 step_size 0.25 to the readout at 1.0
        ("node_annulus.ode", "rk4", DEFAULT_STEPS),  # dopri5 throughout: rk4, the default
    ],
)
def test_default_solve_follows_the_spec(spec: str, method: str, steps: int) -> None:
    solve = solve_settings(odedsl.compile(ROOT / "specs" / spec), None, None)
    assert (solve.method, solve.steps) == (method, steps)


def test_padded_series_equal_the_masked_prediction(tmp_path) -> None:
    """A latent artefact skips NaN points as odedsl skips points whose mask is False."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # equality to 1e-6 of the solve, not of rounding
    try:
        model = scrambled(odedsl.compile(ROOT / "specs" / "latent_oscillations.ode").eval())
        export_model(model, tmp_path / "m.pt", "torchscript", method="rk4", steps=3, points=6)
        g = torch.Generator().manual_seed(0)
        ts_obs = torch.sort(2 * torch.rand(2, 6, generator=g))[0]
        x_obs = torch.randn(2, 6, 3, generator=g)
        mask = torch.ones(2, 6, dtype=torch.bool)
        mask[0, 4:] = False  # the first series has 4 points, the second 6
        padded_t = ts_obs.masked_fill(~mask, float("nan"))
        padded_x = x_obs.masked_fill(~mask[..., None], float("nan"))
        ts_new = torch.tensor([0.2, 0.7, 1.5])
        same = odedsl.compile(
            ROOT / "specs" / "latent_oscillations.ode",
            eval_method="rk4",
            eval_step_size=1.5 / 3,  # the artefact's 3 steps to the last query time
            refine=0,
        )
        same.load_state_dict(model.state_dict())
        with torch.no_grad():
            want = same.eval().predict(ts_obs, x_obs, ts_new, mask=mask)
            got = torch.jit.load(str(tmp_path / "m.pt")).predict(padded_t, padded_x, ts_new)
    finally:
        torch.set_default_dtype(default)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
