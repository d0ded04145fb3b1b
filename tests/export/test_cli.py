"""``odedsl export``: a trained run to an artefact, and the refusals (unknown format, a run
without a checkpoint, a missing optional package, a method that does not step on a grid)."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest
import torch

import odedsl
from odedsl.cli import main
from odedsl.export.artefacts import export_model
from odedsl.export.programs import ExportError

from .conftest import ROOT


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """cnf_moons trained for 2 steps (seconds): a run folder with its checkpoint."""
    folder = tmp_path_factory.mktemp("runs") / "moons"
    odedsl.train(ROOT / "specs" / "cnf_moons.ode", out=folder, steps=2)
    return folder


def test_export_writes_an_artefact_of_the_trained_model(run, tmp_path, capsys) -> None:
    out = tmp_path / "moons.pt"
    assert (
        main(["export", str(run), "--format", "torchscript", "-o", str(out), "--steps", "4"]) == 0
    )
    printed = capsys.readouterr().out
    assert "log_prob, sample" in printed and "4 uniform steps" in printed
    files = {"odedsl.json": ""}
    artefact = torch.jit.load(str(out), _extra_files=files)
    same_as = json.loads(files["odedsl.json"])["same_as"]
    # cnf_moons flows from t0 = 0 to t1 = 1: 4 steps of 0.25
    assert same_as == {"eval_method": "rk4", "eval_step_size": 0.25}
    model = odedsl.load(run, settings=same_as)
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(artefact.log_prob(x), model.log_prob(x), rtol=1e-6, atol=1e-6)


def test_unknown_format_is_a_usage_error(run, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(run), "--format", "tflite", "-o", str(tmp_path / "m")])
    assert exit_.value.code == 2
    assert "pt2" in capsys.readouterr().err
    with pytest.raises(ExportError, match=r"unknown format 'tflite'.*pt2, torchscript, onnx"):
        export_model(odedsl.load(run), tmp_path / "m", "tflite")


def test_a_run_without_checkpoint_is_refused(run, tmp_path, capsys) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(run / "spec.ode", bare / "spec.ode")
    assert main(["export", str(bare), "-o", str(tmp_path / "m.pt2")]) == 1
    error = capsys.readouterr().err
    assert str(bare) in error and "checkpoint" in error
    assert not (tmp_path / "m.pt2").exists()


def test_onnx_without_its_packages_names_the_extra(run, tmp_path, monkeypatch, capsys) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    assert main(["export", str(run), "--format", "onnx", "-o", str(tmp_path / "m.onnx")]) == 1
    assert "pip install 'odedsl[export]'" in capsys.readouterr().err


def test_an_adaptive_method_is_refused(run, tmp_path) -> None:
    with pytest.raises(ValueError, match=r"'dopri5' cannot be exported.*rk4"):
        export_model(odedsl.load(run), tmp_path / "m.pt2", method="dopri5")


def test_a_flow_with_an_autograd_trace_is_refused(tmp_path) -> None:
    """The exact trace runs autograd inside the solve, which no graph format captures."""
    model = odedsl.compile(ROOT / "specs" / "cnf_moons.ode", trace="exact")
    with pytest.raises(ExportError, match=r"exact trace.*only flows with the symbolic trace"):
        export_model(model, tmp_path / "m.pt2")


def test_an_odernn_encoder_is_refused(tmp_path) -> None:
    """An ODE-RNN solves adaptively inside the encoder: no fixed graph to export."""
    text = (ROOT / "specs" / "latent_oscillations.ode").read_text()
    assert "GRU(3 => 32" in text
    model = odedsl.compile(text.replace("GRU(3 => 32", "ODERNN(3 => 32"))
    with pytest.raises(ExportError, match="ODERNN encoder"):
        export_model(model, tmp_path / "m.pt2")
