"""`odedsl predict`: forecasts of a trained trajectory model on new series equal the model's
own `predict` in Python, in CSV and NPZ; runs of other kinds and inputs that do not fit get
one clear message naming what fits."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from odedsl import forecast, workflow
from odedsl.cli import main
from odedsl.compiler import compile

from .test_observed_runs import SPEC

SPECS = Path(__file__).resolve().parents[2] / "specs"
TIMES = np.linspace(0.0, 3.0, 7)  # --times 0:3:7
# Two new series of the one channel the model observes (Periodic1D: a sine): "a" at 4 times,
# "b" at 3 with its second value missing (an empty cell).
ROWS = [
    ("a", 0.0, "0.1"),
    ("a", 0.5, "0.6"),
    ("a", 1.0, "0.9"),
    ("a", 1.5, "1.0"),
    ("b", 0.0, "-0.2"),
    ("b", 0.4, ""),
    ("b", 0.9, "0.5"),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trajectory model whose start reads each series' first observation."""
    folder = tmp_path_factory.mktemp("predict")
    spec = folder / "first.ode"
    spec.write_text(SPEC.format(start="vcat(first(x), zeros(1))"), encoding="utf-8")
    return workflow.train(spec, out=folder / "run", steps=3)


@pytest.fixture
def series_csv(tmp_path: Path) -> Path:
    path = tmp_path / "new.csv"
    lines = ["series,t,x"] + [f"{s},{t},{x}" for s, t, x in ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def expected(run: Path) -> tuple[dict[str, np.ndarray], float]:
    """The model's own forecast of each series in Python, and its noise σ (the spread)."""
    model = workflow.load(run)
    means = {}
    for name in ("a", "b"):
        rows = [r for r in ROWS if r[0] == name]
        ts = torch.tensor([r[1] for r in rows], dtype=torch.float64)
        x = torch.tensor([float(r[2] or "nan") for r in rows], dtype=torch.float64)[:, None]
        mask = ~torch.isnan(x)
        mean = model.predict(ts, torch.nan_to_num(x), torch.as_tensor(TIMES), mask=mask)
        means[name] = mean.numpy().reshape(len(TIMES))
    return means, workflow.learned_parameters(model)["σ"]


def test_csv_forecasts_equal_the_models_predict(run: Path, series_csv: Path, tmp_path) -> None:
    out = tmp_path / "forecast.csv"
    command = ["predict", str(run), "--input", str(series_csv), "--times", "0:3:7", "-o"]
    assert main([*command, str(out)]) == 0
    with open(out, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    means, sigma = expected(run)
    for name in ("a", "b"):
        mine = [r for r in rows if r["series"] == name]
        np.testing.assert_allclose([float(r["t"]) for r in mine], TIMES, rtol=0, atol=1e-12)
        np.testing.assert_allclose([float(r["x"]) for r in mine], means[name], atol=1e-6)
        # Normal(dec(z), σ): the spread is the learned σ (eval.json's, to its 6 digits)
        np.testing.assert_allclose([float(r["x_std"]) for r in mine], sigma, rtol=1e-5)


def test_npz_in_and_out(run: Path, tmp_path: Path) -> None:
    # the same two series as NPZ arrays ts (B, N) and x (B, N, 1), NaN-padded
    ts = np.full((2, 4), np.nan)
    x = np.full((2, 4, 1), np.nan)
    for b, name in enumerate(("a", "b")):
        rows = [r for r in ROWS if r[0] == name]
        ts[b, : len(rows)] = [r[1] for r in rows]
        x[b, : len(rows), 0] = [float(r[2] or "nan") for r in rows]
    given, out = tmp_path / "new.npz", tmp_path / "forecast.npz"
    np.savez(given, ts=ts, x=x)
    times = tmp_path / "times.txt"
    times.write_text("\n".join(map(repr, TIMES.tolist())), encoding="utf-8")
    assert (
        main(["predict", str(run), "--input", str(given), "--times", str(times), "-o", str(out)])
        == 0
    )
    arrays = np.load(out)
    means, sigma = expected(run)
    assert arrays["mean"].shape == arrays["std"].shape == (2, len(TIMES), 1)
    np.testing.assert_allclose(arrays["ts"], TIMES, rtol=0, atol=0)
    np.testing.assert_allclose(arrays["mean"][:, :, 0], [means["a"], means["b"]], atol=1e-6)
    np.testing.assert_allclose(arrays["std"], sigma, rtol=1e-5)


def test_a_learned_start_forecasts_one_curve_without_input(tmp_path: Path) -> None:
    spec = tmp_path / "z0.ode"
    spec.write_text(SPEC.format(start="z0"), encoding="utf-8")
    run = workflow.train(spec, out=tmp_path / "run", steps=2)
    result = forecast.forecast(run, [0.5, 1.0, 2.0])
    truth = workflow.load(run).predict(torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64))
    np.testing.assert_allclose(result.mean[0, :, 0], truth.numpy().reshape(-1), atol=1e-6)
    with pytest.raises(forecast.DataError, match="reads no input; drop --input"):
        forecast.forecast(run, [1.0], tmp_path / "any.csv")


@pytest.mark.parametrize(
    ("spec", "fits"),
    [
        ("cnf_moons.ode", r"odedsl sample RUN"),
        ("anode_annulus.ode", r"odedsl.load\(RUN\).predict\(x\)"),
    ],
)
def test_a_run_of_another_kind_is_told_which_command_fits(spec: str, fits: str) -> None:
    with pytest.raises(forecast.RunError, match=fits):
        forecast._check_kind(compile(SPECS / spec), "RUN")


def test_inputs_that_do_not_fit_are_named(run: Path, tmp_path: Path, capsys) -> None:
    def predict(given: Path, times: str = "1") -> tuple[int, str]:
        out = tmp_path / "out.csv"
        code = main(["predict", str(run), "--input", str(given), "--times", times, "-o", str(out)])
        return code, capsys.readouterr().err

    code, err = predict(tmp_path / "missing.csv")
    assert code == 1 and "missing.csv: no such file" in err
    no_time = tmp_path / "no_time.csv"
    no_time.write_text("when,x\n0.0,1.0\n", encoding="utf-8")
    code, err = predict(no_time)
    assert code == 1 and "no_time.csv: no column named 't'" in err
    assert "time column 't'" in err  # what the run expects
    wide = tmp_path / "wide.csv"
    wide.write_text("t,x,y\n0.0,1.0,2.0\n0.5,1.1,2.1\n", encoding="utf-8")
    code, err = predict(wide)
    assert code == 1 and "wide.csv: 2 channel(s) per time" in err
    code, err = predict(tmp_path / "missing.csv", times="0:1")
    assert code == 2 and "--times '0:1'" in err


def test_a_latent_model_forecasts_with_its_noise_as_the_spread() -> None:
    model = compile(SPECS / "latent_oscillations.ode", refine=0).eval()
    ts = np.array([0.0, 0.4, 1.1])
    x = np.array([[0.1, 0.2, 0.3], [0.2, 0.1, 0.0], [0.0, -0.1, 0.2]])
    mask = np.ones_like(x, dtype=bool)
    mask[1, 2] = False  # a missing cell
    one = forecast.Series("s", ts, np.where(mask, x, 0.0), mask)
    mean, std = forecast._predict(model, one, TIMES)
    with torch.no_grad():
        truth = model.predict(
            torch.as_tensor(ts), torch.as_tensor(one.x), torch.as_tensor(TIMES), mask=mask
        )
    np.testing.assert_allclose(mean, truth.numpy(), atol=1e-6)
    np.testing.assert_allclose(std, float(model.noise_std), rtol=1e-6)  # Gaussian noise σ
