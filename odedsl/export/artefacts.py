"""Writing a compiled model as a self-contained artefact: ``pt2``, ``torchscript``, ``onnx``.

Each artefact holds the graph of every method of the model's program
(:mod:`odedsl.export.programs`) with its weights, and a description ``odedsl.json`` of what it
computes (the methods, their inputs, the fixed-step solve, the odedsl settings that give the
same numbers). Loading needs torch only (and onnxruntime for ``onnx``):

- ``pt2``: one ``torch.export`` archive, a program per method; load with
  ``torch.export.pt2_archive._package.load_pt2(f).exported_programs["log_prob"].module()``;
- ``torchscript``: one TorchScript module with a method each; ``torch.jit.load(f).log_prob``;
- ``onnx``: one ONNX model per method, ``f`` and ``<stem>.<method>.onnx`` beside it (the
  ``files`` of ``odedsl.json``); ``onnxruntime.InferenceSession(file).run(None, {...})``.

The batch axis (and the number of query times) stay free in ``pt2`` and ``onnx``; a series'
number of points is fixed at export (``points``); shorter series are padded with NaN.
"""

from __future__ import annotations

import importlib.util
import json
import math
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from . import DEFAULT_POINTS, DEFAULT_STEPS, FORMATS
from .programs import METHODS, ExportError, FlowProgram, ObservedProgram, program
from .solve import FixedSteps, fixed_step_methods

DESCRIPTION = "odedsl.json"
EXAMPLE_BATCH = 3


def solve_settings(model: nn.Module, method: str | None, steps: int | None) -> FixedSteps:
    """The fixed-step solve of an artefact: ``method`` (default: the evaluation solver's when
    it steps on a fixed grid, else the training solver's, else ``rk4``) and ``steps`` (default:
    the solve's span over the chosen solver's ``step_size``, else ``DEFAULT_STEPS``)."""
    fixed = fixed_step_methods()
    chosen = None
    for settings in (getattr(model, "eval_solver", None), getattr(model, "train_solver", None)):
        if settings is not None and settings.method in fixed:
            chosen = settings
            break
    if method is None:
        method = chosen.method if chosen is not None else "rk4"
    if steps is None:
        steps = DEFAULT_STEPS
        span = _span(model)
        size = None if chosen is None else chosen.options.get("step_size")
        if span is not None and size:
            steps = max(1, math.ceil(abs(span) / float(size) - 1e-9))
    return FixedSteps(method, steps)


def _span(model: nn.Module) -> float | None:
    """The length of the time span of a model's solve, when it does not depend on inputs."""
    if hasattr(model, "t1") and hasattr(model, "t0"):
        return model.t1 - model.t0
    observations = getattr(model, "observations", None)
    if observations is not None and getattr(model, "kind", None) == "supervised":
        return observations[0].time - model.t0
    return None


def example_inputs(
    model: nn.Module, prog: nn.Module, *, batch: int = EXAMPLE_BATCH, points: int = DEFAULT_POINTS
) -> dict[str, tuple[Tensor, ...]]:
    """Inputs of each method of ``prog`` (random, of the model's dtype), to trace it with."""
    generator = torch.Generator().manual_seed(0)
    dtype = next((p.dtype for p in prog.parameters()), torch.get_default_dtype())

    def normal(*shape: int) -> Tensor:
        return torch.randn(shape, generator=generator, dtype=dtype)

    spec = model.spec
    if prog.kind in ("flow", "planar"):
        shape = tuple(model.event_shape)
        inputs = {"sample": (normal(batch, *shape),)}
        if prog.kind == "flow":
            inputs["log_prob"] = (normal(batch, *shape),)
        return inputs
    if prog.kind == "supervised":
        return {"forward": (normal(batch, *_data_shape(spec, "sample", points)),)}
    t0 = model.t0
    times = t0 + torch.linspace(0.0, 1.0, points + 1, dtype=dtype)[1:]
    if prog.kind == "trajectory" and not model.initial_reads:
        return {"predict": (times,)}
    series = _data_shape(spec, "series", points)
    observed = t0 + torch.sort(torch.rand(batch, series[0], generator=generator, dtype=dtype))[0]
    return {"predict": (observed, normal(batch, *series), times)}


def _data_shape(spec: Any, role: str, points: int) -> tuple[int, ...]:
    variable = next(v for v in spec.data.variables if v.role == role)  # type: ignore[union-attr]
    return tuple(points if size is None else int(size) for size in variable.shape)


def describe(model: nn.Module, prog: nn.Module, solve: FixedSteps, fmt: str, points: int) -> dict:
    """What the artefact computes (stored in it as ``odedsl.json``)."""
    spec = model.spec
    settings: dict[str, Any] = {}
    if prog.kind != "planar":
        settings["eval_method"] = solve.method
        span = _span(model)
        settings["eval_step_size"] = (
            abs(span) / solve.steps
            if isinstance(prog, FlowProgram | ObservedProgram) and span is not None
            else f"(last query time - t0) / {solve.steps}"
        )
    if prog.kind == "latent":
        settings["refine"] = 0
    grid = {
        "flow": f"{solve.steps} uniform steps from t0 = {model.__dict__.get('t0')} to t1",
        "planar": "no solve",
        "supervised": f"{solve.steps} uniform steps from t0 to the readout time",
    }.get(
        prog.kind,
        f"{solve.steps} uniform steps from t0 = {getattr(model, 't0', None)} to the last "
        "query time, cubic Hermite interpolation between grid points",
    )
    description = {
        "spec": Path(spec.path).name,
        "kind": prog.kind,
        "format": fmt,
        "methods": list(METHODS[prog.kind]),
        "solve": {"method": solve.method, "steps": solve.steps, "grid": grid},
        "same_as": settings,
    }
    if isinstance(prog, FlowProgram):
        description["trace"] = prog.trace
    if prog.kind in ("latent", "trajectory") and "predict" in description["methods"]:
        description["series_points"] = points
    return description


class _Method(nn.Module):
    """One method of a program as ``forward`` (what torch.export and ONNX capture)."""

    def __init__(self, prog: nn.Module, name: str) -> None:
        super().__init__()
        self.prog = prog
        self.name = name

    def forward(self, *args: Tensor) -> Any:
        return getattr(self.prog, self.name)(*args)


def _dynamic(args: tuple[Tensor, ...]) -> tuple:
    """Free axes of each input of ``_Method.forward(*args)``: the first, the batch (or the
    number of query times); ``Dim.AUTO`` keeps it static where the graph needs that."""
    return (tuple({0: torch.export.Dim.AUTO} for _ in args),)


def _write_pt2(prog: nn.Module, inputs: dict, path: Path, text: str) -> None:
    from torch.export.pt2_archive._package import package_pt2

    programs = {}
    for name, args in inputs.items():
        programs[name] = torch.export.export(
            _Method(prog, name), args, dynamic_shapes=_dynamic(args), strict=False
        )
    package_pt2(str(path), exported_programs=programs, extra_files={DESCRIPTION: text})


def _write_torchscript(prog: nn.Module, inputs: dict, path: Path, text: str) -> None:
    traced = torch.jit.trace_module(prog, inputs, check_trace=False)
    torch.jit.save(traced, str(path), _extra_files={DESCRIPTION: text})


def onnx_paths(path: Path, names: list[str]) -> dict[str, Path]:
    """The file of each method in an ``onnx`` export: ``path`` for the first."""
    return {
        name: path if i == 0 else path.with_name(f"{path.stem}.{name}.onnx")
        for i, name in enumerate(names)
    }


def _write_onnx(prog: nn.Module, inputs: dict, path: Path, text: str) -> None:
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ExportError(
            f"--format onnx needs the {' and '.join(missing)} package"
            f"{'s' if len(missing) > 1 else ''}: pip install 'odedsl[export]'"
        )
    for name, file in onnx_paths(path, list(inputs)).items():
        args = inputs[name]
        program = torch.onnx.export(
            _Method(prog, name).eval(),
            args,
            dynamo=True,
            verbose=False,
            dynamic_shapes=_dynamic(args),
            input_names=[f"input{i}" for i in range(len(args))],
        )
        program.model.metadata_props[DESCRIPTION] = text
        program.save(str(file))


_WRITERS = {"pt2": _write_pt2, "torchscript": _write_torchscript, "onnx": _write_onnx}


def export_model(
    model: nn.Module,
    path: str | Path,
    fmt: str = "pt2",
    *,
    method: str | None = None,
    steps: int | None = None,
    points: int = DEFAULT_POINTS,
) -> dict[str, Any]:
    """Write compiled ``model`` to ``path`` as a ``fmt`` artefact (see the module docstring),
    solving with ``method`` for ``steps`` steps (:func:`solve_settings`); returns its
    description. ``points`` fixes the number of points of an input series."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    solve = solve_settings(model, method, steps)
    prog = program(model, solve).eval()
    inputs = example_inputs(model, prog, points=points)
    inputs = {name: inputs[name] for name in METHODS[prog.kind]}
    description = describe(model, prog, solve, fmt, points)
    path = Path(path)
    if fmt == "onnx":
        description["files"] = {k: v.name for k, v in onnx_paths(path, list(inputs)).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing warns about every Python value it freezes (shapes, times, constants): the
        # solve's grid is frozen on purpose, and the tests check outputs on other inputs.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*torch.jit.save.*deprecated")
        _WRITERS[fmt](prog, inputs, path, json.dumps(description, indent=2))
    return description
