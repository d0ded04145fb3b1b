"""Lowering checked specs to torch: generated code, the layer library, trace strategies.

Public entry points (imported lazily, as ``odedsl.models`` imports ``odedsl.compile.trace``):

- ``compile(path_or_text, **overrides) -> nn.Module``: the model of a spec;
- ``generated_code(model_or_spec) -> str``: the generated torch code (``odedsl show --code``);
- ``build_data(spec, split=, seed=)`` and ``train_config(spec)``: what ``odedsl.training`` needs
  to train a spec (``odedsl.compile.runtime``).

Modules, in pipeline order: ``codegen`` (expressions → source), ``symbolic_form`` (a flow's
dynamics for ``odedsl.symbolic``), ``program`` (a spec's generated module), ``parameters`` and
``networks`` (initialised tensors and layers), ``modules`` (generated functions as
``nn.Module``), ``lower`` (the model families), ``overrides``, ``compiler``, ``runtime``;
``layers``, ``trace`` and ``ops`` are used at run time.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "compile": "odedsl.compile.compiler",
    "generated_code": "odedsl.compile.compiler",
    "build_data": "odedsl.compile.runtime",
    "train_config": "odedsl.compile.runtime",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'odedsl.compile' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
