"""The latent ODE's pictures are written, from Python and by a training run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import odedsl
from odedsl.data import load

pytest.importorskip("matplotlib")

from odedsl.plots.latent import plot_latent

SPECS = Path(__file__).resolve().parents[2] / "specs"
FAST = {"method": ":rk4", "step_size": 0.25, "gradient": ":direct"}
PICTURES = ("extrapolation.png", "interpolation.png")


pytestmark = pytest.mark.usefixtures("one_thread")


def test_spiral_pictures_are_written(tmp_path: Path) -> None:
    model = odedsl.compile(SPECS / "latent_spirals.ode", **FAST)
    data = load("Spirals2D", split="test", n=8, observed=30, seed=0)
    assert set(data["direction"]) == {0, 1}  # the interpolation's two ends exist
    written = plot_latent(model, data, tmp_path)
    assert [path.name for path in written] == list(PICTURES)
    assert all(path.stat().st_size > 10_000 for path in written)  # a drawn PNG, not a stub


def test_one_dimensional_series_are_drawn_against_time_with_padding(tmp_path: Path) -> None:
    text = (SPECS / "latent_spirals.ode").read_text(encoding="utf-8")
    text = text.replace("Spirals2D(n = 1000", "Periodic1D(n = 1000").replace(
        "noise = 0.3)", "noise = 0.1)"
    )
    text = re.sub(r"(rec\s*=\s*\w+\()2 =>", r"\g<1>1 =>", text)  # the encoder reads 1-D series
    text = re.sub(r"(dec\s*=\s*MLP\(.*)=> 2,", r"\g<1>=> 1,", text)  # the decoder writes them
    model = odedsl.compile(text, **FAST)
    data = load("Periodic1D", split="test", n=3, observed=10, seed=0)
    data["mask"] = torch.ones(3, 10, dtype=torch.bool)
    data["mask"][0, 5:] = False
    written = plot_latent(model, data, tmp_path)
    assert all(path.stat().st_size > 10_000 for path in written)


def test_a_training_run_draws_the_latent_pictures(tmp_path: Path) -> None:
    overrides = {**FAST, "batch": 16}
    run = odedsl.train(
        SPECS / "latent_spirals.ode", out=tmp_path / "run", steps=2, overrides=overrides
    )
    for name in PICTURES:
        assert (run / name).stat().st_size > 10_000
