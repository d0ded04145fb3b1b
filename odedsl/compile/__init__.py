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
import sys
import types
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


class _CallableModule(types.ModuleType):
    """This package, callable as ``odedsl.compile(...)``: importing ``odedsl.compile.*`` binds
    the package itself to the name ``odedsl.compile``, so the package must act as the function."""

    def __call__(self, path_or_text: Any, **overrides: Any) -> Any:
        return importlib.import_module("odedsl.compile.compiler").compile(path_or_text, **overrides)


sys.modules[__name__].__class__ = _CallableModule
