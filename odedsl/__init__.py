"""odedsl: a declarative language for neural ODE models, compiled to PyTorch.

The public surface is small and imported lazily, so that ``odedsl check`` and the language
front end never pay for importing torch:

- ``odedsl.odeint`` / ``odedsl.odeint_adjoint`` / ``odedsl.odeint_event``: drop-in
  replacements for torchdiffeq's calls.
- ``odedsl.solve``: the same solve, returning a ``Solution`` with ``.ys`` and ``.stats``.
- ``odedsl.check``: parse and check a spec, raising ``odedsl.SpecError`` on bad input.
- ``odedsl.compile``: a spec's model (an ``nn.Module``); ``odedsl.generated_code`` its code.
- ``odedsl.train`` / ``odedsl.resume`` / ``odedsl.load`` / ``odedsl.evaluate``: a spec to a run
  folder, on, and back.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "odeint": "odedsl.solvers",
    "odeint_adjoint": "odedsl.solvers",
    "odeint_event": "odedsl.solvers",
    "solve": "odedsl.solvers",
    "Solution": "odedsl.solvers",
    "SolverStats": "odedsl.solvers",
    "SolverError": "odedsl.errors",
    "SpecError": "odedsl.errors",
    "check": "odedsl.lang",
    "compile": "odedsl.compiler",
    "generated_code": "odedsl.compiler",
    "train": "odedsl.workflow",
    "resume": "odedsl.workflow",
    "load": "odedsl.workflow",
    "evaluate": "odedsl.workflow",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'odedsl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
