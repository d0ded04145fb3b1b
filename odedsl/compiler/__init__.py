"""Lowering checked specs to torch: generated code, networks and the model families.

Public entry points:

- ``compile(path_or_text, **overrides) -> nn.Module``: the model of a spec (``odedsl.compile``);
- ``generated_code(model_or_spec) -> str``: the generated torch code (``odedsl show --code``);
- ``build_data(spec, split=, seed=)`` and ``train_config(spec)``: what ``odedsl.training`` needs
  to train a spec (``odedsl.compiler.runtime``).

Modules, in pipeline order: ``codegen`` (expressions → source), ``symbolic_form`` (a flow's
dynamics for ``odedsl.symbolic``), ``program`` (a spec's generated module), ``parameters`` and
``networks`` (initialised tensors and layers), ``modules`` (generated functions as
``nn.Module``), ``lower`` (the model families), ``overrides``, ``api``, ``runtime``. What runs
after compiling (the layer library, the trace strategies, the helpers generated code calls) is
:mod:`odedsl.nn`, shared with :mod:`odedsl.models`; this package is named ``compiler`` so that
the name ``odedsl.compile`` is only the public function.
"""

from __future__ import annotations

from odedsl.compiler.api import compile, generated_code
from odedsl.compiler.runtime import build_data, train_config

__all__ = ["build_data", "compile", "generated_code", "train_config"]
