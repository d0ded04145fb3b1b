"""Every reference spec exported once per format available here, run where odedsl cannot be
imported (one subprocess per format, ``load_artefacts.py``), beside odedsl's own outputs
with the same fixed-step solve. The models are untrained: their weights come from the
spec's seed, which is all an equality test needs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import odedsl
from odedsl.export.artefacts import export_model, solve_settings
from odedsl.export.programs import program

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(p.name for p in (ROOT / "specs").glob("*.ode"))
ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))
FORMATS = ["pt2", "torchscript", *(["onnx"] if ONNX else [])]
ONNX_SPECS = (
    "cnf_moons.ode",
    "planar_density.ode",
    "regression_friedman.ode",
    "pendulum_second_order.ode",
)
"""A spec of each kind but latent for ONNX (whose converter takes a minute on an unrolled
GRU): every latent spec uses ELU, which onnxruntime has no float64 kernel for."""
CASES = [(spec, fmt) for fmt in FORMATS for spec in SPECS if fmt != "onnx" or spec in ONNX_SPECS]
STEPS = 3  # a short grid keeps the unrolled graphs small; equality holds for any
POINTS = 5  # points of an input series (a spec that declares its length keeps it)
BATCH = 5  # not the batch of 3 the artefact was traced with: the batch axis is free
QUERY = (0.1, 0.35, 0.5, 0.9, 1.3, 1.7, 2.0)  # 7 query times after t0, not 5 as traced


def scrambled(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with every parameter moved by N(0, 0.3²) noise (seeded): an untrained
    model's dynamics are often near-linear (zero-initialised last layers), which any grid
    solves alike; moved weights make the grid matter, so equality tests the same solve."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.3 * torch.randn(parameter.shape, generator=g, dtype=parameter.dtype))
    return model


def inputs_for(model: torch.nn.Module, kind: str) -> dict[str, tuple[torch.Tensor, ...]]:
    """Inputs of each method, of another batch (and number of query times) than traced."""
    g = torch.Generator().manual_seed(1)
    if kind in ("flow", "planar"):
        shape = tuple(model.event_shape)
        eps = torch.randn((BATCH, *shape), generator=torch.Generator().manual_seed(2))
        inputs = {"sample": (eps,)}
        if kind == "flow":
            inputs["log_prob"] = (torch.randn((BATCH, *shape), generator=g),)
        return inputs
    variables = {v.role: v for v in model.spec.data.variables}
    if kind == "supervised":
        return {"forward": (torch.randn((BATCH, *variables["sample"].shape), generator=g),)}
    ts_new = model.t0 + torch.tensor(QUERY)
    if kind == "trajectory" and not model.initial_reads:
        return {"predict": (ts_new,)}
    length, channels = variables["series"].shape
    length = length or POINTS
    ts_obs = model.t0 + torch.sort(2 * torch.rand((BATCH, length), generator=g))[0]
    return {"predict": (ts_obs, torch.randn((BATCH, length, channels), generator=g), ts_new)}


def reference(
    spec: Path, model: torch.nn.Module, kind: str, inputs: dict, steps: int = STEPS
) -> dict[str, torch.Tensor | tuple]:
    """odedsl's outputs for ``inputs`` with ``steps`` ``rk4`` steps (the artefact's solve when
    ``steps`` is ``STEPS``)."""
    overrides: dict = {}
    if kind != "planar":
        if kind in ("flow", "supervised"):
            end = model.t1 if kind == "flow" else model.observations[0].time
        else:
            end = float(inputs["predict"][-1].max())
        overrides = {"eval_method": "rk4", "eval_step_size": abs(end - model.t0) / steps}
    if kind == "latent":
        overrides["refine"] = 0  # the artefact predicts from the encoder's mean
    same = odedsl.compile(spec, **overrides)
    same.load_state_dict(model.state_dict())
    same.eval()
    with torch.no_grad():
        if kind in ("flow", "planar"):
            draw = torch.Generator().manual_seed(2)  # the noise ``inputs["sample"]`` holds
            out = {"sample": same.sample(BATCH, generator=draw, with_log_prob=True)}
            if kind == "flow":
                out["log_prob"] = same.log_prob(*inputs["log_prob"])
            return out
        if kind == "supervised":
            return {"forward": same.predict(*inputs["forward"])}
        return {"predict": same.predict(*inputs["predict"])}


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> dict:
    """``artefacts``: ``{(spec, format): (outputs, description)}``; ``references``: ``{spec:
    odedsl's outputs}``; ``other_grid``: odedsl's outputs with one step more."""
    torch.set_num_threads(1)
    default = torch.get_default_dtype()
    # float64 models: equality to 1e-6 then tests the solve, not float32 rounding (with
    # moved weights some outputs reach 1e2, where float32 carries 1e-5).
    torch.set_default_dtype(torch.float64)
    try:
        return _export_all(tmp_path_factory.mktemp("artefacts"))
    finally:
        torch.set_default_dtype(default)


def _export_all(folder: Path) -> dict:
    manifests: dict[str, list] = {fmt: [] for fmt in FORMATS}
    references, coarser = {}, {}
    for name in SPECS:
        spec = ROOT / "specs" / name
        model = scrambled(odedsl.compile(spec).eval())
        kind = program(model, solve_settings(model, "rk4", STEPS)).kind
        inputs = inputs_for(model, kind)
        references[name] = reference(spec, model, kind, inputs)
        coarser[name] = reference(spec, model, kind, inputs, STEPS + 1)
        torch.save(inputs, folder / f"{name}.inputs.pt")
        for fmt in (fmt for spec, fmt in CASES if spec == name):
            path = folder / f"{name}.{fmt}"
            export_model(model, path, fmt, method="rk4", steps=STEPS, points=POINTS)
            manifests[fmt].append(
                {
                    "path": str(path),
                    "format": fmt,
                    "inputs": str(folder / f"{name}.inputs.pt"),
                    "outputs": str(folder / f"{name}.{fmt}.outputs.pt"),
                }
            )
    results = {}
    for fmt, manifest in manifests.items():
        listing = folder / f"{fmt}.json"
        listing.write_text(json.dumps(manifest))
        done = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("load_artefacts.py")), str(listing)],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
            cwd=folder,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        for entry in manifest:
            saved = torch.load(entry["outputs"])
            name = Path(entry["path"]).name.removesuffix(f".{fmt}")
            results[name, fmt] = (saved["outputs"], json.loads(saved["description"]))
    return {"artefacts": results, "references": references, "other_grid": coarser}
