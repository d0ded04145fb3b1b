"""``torch.save(model)`` of a compiled model, loaded by ``torch.load`` in a fresh interpreter,
gives the same outputs: the generated module is rebuilt from the source the model carries."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

import odedsl

from .conftest import ROOT, inputs_for, scrambled

# One spec of each model class: a flow with a symbolic trace, a planar flow, a classifier,
# a trajectory model and a latent ODE with a GRU encoder.
SPECS = (
    "cnf_moons.ode",
    "planar_density.ode",
    "odenet_digits.ode",
    "sysid_oscillator.ode",
    "latent_spirals.ode",
)
KINDS = {
    "ContinuousFlow": "flow",
    "PlanarFlow": "planar",
    "ObservedODE": None,
    "LatentODE": "latent",
}

_LOAD = textwrap.dedent(
    """
    import sys, torch
    for path in sys.argv[1:]:
        model = torch.load(path + ".model.pt", weights_only=False)
        inputs = torch.load(path + ".inputs.pt")
        with torch.no_grad():
            outputs = {name: getattr(model, name)(*args) for name, args in inputs.items()}
        torch.save(outputs, path + ".outputs.pt")
    """
)


def _kind(model: torch.nn.Module) -> str:
    return KINDS[type(model).__name__] or model.kind


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    cases = {}
    for name in SPECS:
        model = scrambled(odedsl.compile(ROOT / "specs" / name).eval())
        kind = _kind(model)
        inputs = inputs_for(model, kind)
        inputs.pop("sample", None)  # draws noise inside: compared through log_prob
        if kind == "planar":
            inputs = {"forward": inputs_for(model, "planar")["sample"]}
        elif kind == "supervised":
            inputs = {"predict": inputs["forward"]}
        with torch.no_grad():
            expected = {k: getattr(model, k)(*args) for k, args in inputs.items()}
        base = str(folder / name)
        torch.save(model, base + ".model.pt")
        torch.save(inputs, base + ".inputs.pt")
        cases[name] = (base, expected)
    done = subprocess.run(
        [sys.executable, "-c", _LOAD, *(base for base, _ in cases.values())],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {
        name: (torch.load(base + ".outputs.pt"), expected)
        for name, (base, expected) in cases.items()
    }


@pytest.mark.parametrize("spec", SPECS)
def test_saved_model_loads_in_a_fresh_interpreter(saved, spec: str) -> None:
    loaded, expected = saved[spec]
    assert sorted(loaded) == sorted(expected)
    for name, value in expected.items():
        got = loaded[name] if isinstance(loaded[name], tuple) else (loaded[name],)
        want = value if isinstance(value, tuple) else (value,)
        for a, b in zip(got, want, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)  # same code, same weights
