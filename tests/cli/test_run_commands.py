"""The run commands end to end (train → eval → sample → plot → resume) and their error paths."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from odedsl.cli import main
from odedsl.cli_runs import UsageError, parse_setting

SPEC = Path(__file__).resolve().parents[2] / "specs" / "cnf_moons.ode"
# A tiny, fast variant of the reference flow: 2 RK4 steps in training, a loose evaluation.
QUICK = ["--set", "step_size=0.5", "--set", "rtol=1e-3", "--set", "atol=1e-3", "--set", "batch=64"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runs") / "moons"
    assert main(["train", str(SPEC), "--steps", "6", "--out", str(folder), *QUICK]) == 0
    return folder


def test_train_writes_a_complete_run_folder(run: Path) -> None:
    for name in ("spec.ode", "config.json", "checkpoint.pt", "metrics.jsonl", "eval.json"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    # without eval_every nothing is selected: no best.pt, the test figures are the final model's
    assert not (run / "best.pt").exists()
    evaluation = json.loads((run / "eval.json").read_text())
    where = (evaluation["split"], evaluation["checkpoint"], evaluation["step"])
    assert where == ("test", "final", 6)
    assert "selected_by" not in evaluation
    assert json.loads((run / "overrides.json").read_text())["step_size"] == 0.5
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 6


def test_eval_json_reports_nll(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(run), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    # 6 steps from a near-identity flow: the NLL of moons under ~N(0, I) is about 2.3 nats.
    assert 0.3 < results["nll"] < 4.0
    assert results["nfe_forward"] > 0 and results["seconds"] >= 0


def test_eval_with_another_evaluation_solver(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the run evaluates with dopri5 at 1e-3 (QUICK); at 1e-8 the solve takes more
    # evaluations and the NLL moves by less than the looser solve's error (≈ 1e-2 nats)
    assert main(["eval", str(run), "--json"]) == 0
    loose = json.loads(capsys.readouterr().out)
    settings = ["--set", "eval_rtol=1e-8", "--set", "eval_atol=1e-8"]
    assert main(["eval", str(run), "--json", *settings]) == 0
    tight = json.loads(capsys.readouterr().out)
    assert tight["nfe_forward"] > loose["nfe_forward"]
    assert tight["nll"] == pytest.approx(loose["nll"], abs=0.05)
    assert json.loads((run / "overrides.json").read_text())["rtol"] == 1e-3  # run unchanged


def test_eval_of_a_latent_run_with_another_refine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 2 training steps; the forecast RMSE from the encoder's mean (refine 0, as trained here)
    # and from means refined by 3 steps, which `predict(refine=3)` must reproduce
    import torch

    from odedsl.compiler import build_data
    from odedsl.models.series import forecast_rmse
    from odedsl.workflow import load

    folder = tmp_path / "spirals"
    latent = ["train", str(SPEC.with_name("latent_spirals.ode")), "--out", str(folder)]
    assert main([*latent, "--steps", "2", "--set", "refine=0"]) == 0
    capsys.readouterr()
    rmse = {}
    for steps in (0, 3):
        assert main(["eval", str(folder), "--json", "--set", f"refine={steps}"]) == 0
        rmse[steps] = json.loads(capsys.readouterr().out)["rmse"]
    model = load(folder)
    assert model.refine == 0
    refined = functools.partial(model.predict, refine=3)
    with torch.no_grad():
        expected = forecast_rmse(refined, build_data(model.spec, "test"), model.log_noise)
    assert rmse[3] == pytest.approx(expected, rel=1e-9) and rmse[3] != rmse[0]


@pytest.mark.parametrize("setting", ["steps=3", "lr=0.1", "rtol=1e-6"])
def test_eval_refuses_settings_that_describe_another_training_run(
    run: Path, setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(run), "--set", setting]) == 1
    err = capsys.readouterr().err
    name = setting.split("=")[0]
    assert f"odedsl: error: {name}: a trained run is evaluated with other evaluation" in err
    assert "eval_<solver option>" in err and "refine" in err


def test_sample_writes_npy(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.npy"
    assert main(["sample", str(run), "-n", "10", "-o", str(out)]) == 0
    samples = np.load(out)
    assert samples.shape == (10, 2) and np.isfinite(samples).all()


def test_plot_writes_pictures(run: Path) -> None:
    assert main(["plot", str(run)]) == 0
    for name in ("training.png", "samples.png", "density.png", "transformation.png"):
        assert (run / name).stat().st_size > 1000, name


def test_resume_continues_to_the_total(run: Path) -> None:
    assert main(["train", "--resume", str(run), "--steps", "8"]) == 0
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps[-1] == 8


def test_show_applies_a_kl_warmup_setting(capsys: pytest.CaptureFixture[str]) -> None:
    latent = SPEC.with_name("latent_spirals.ode")
    assert main(["show", str(latent), "--set", "kl_warmup=300"]) == 0
    assert "KL warm-up over 300 steps" in capsys.readouterr().out
    assert main(["show", str(latent), "--set", "kl_warmup=-3"]) != 0
    assert "kl_warmup must not be negative, got -3" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rtol=1e-3", ("rtol", 1e-3)),
        ("steps=500", ("steps", 500)),
        ("steps=10_000", ("steps", 10000)),
        ("method=:rk4", ("method", "rk4")),
        ('path="a b.npz"', ("path", "a b.npz")),
    ],
)
def test_parse_setting(text: str, expected: tuple) -> None:
    assert parse_setting(text) == expected


@pytest.mark.parametrize("text", ["rtol", "=1", "rtol=", "method=rk4", "x=1e"])
def test_parse_setting_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_setting(text)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["train", "no/such.ode"], 1, "no/such.ode"),
        (["train", str(SPEC), "--set", "rtol"], 2, "expected key=value"),
        (["train", str(SPEC), "--set", "rtol=-1"], 1, "rtol"),
        (["train", str(SPEC), "--set", "methd=:rk4"], 1, "method"),
        (["eval", "no/such/run"], 1, "no such run folder"),
        (["sample", "no/such/run", "-n", "3", "-o", "x.npy"], 1, "no such run folder"),
        (["plot", "no/such/run"], 1, "no such run folder"),
        (["train"], 2, "SPEC"),
    ],
)
def test_error_paths_print_one_clear_line(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert message in err
    assert "Traceback" not in err


def test_train_with_two_processes(tmp_path: Path) -> None:
    # Data-parallel on gloo through the command line; the workers must also shut down
    # cleanly (a missing barrier before tearing the group down aborted one of them).
    folder = tmp_path / "ddp"
    argv = ["train", str(SPEC), "--steps", "2", "--nproc", "2", "--out", str(folder), *QUICK]
    assert main(argv) == 0
    assert json.loads((folder / "summary.json").read_text())["status"] == "completed"
