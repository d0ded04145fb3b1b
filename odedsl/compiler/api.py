"""The public entry points: ``compile`` a spec into its model, ``generated_code`` to read it."""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from odedsl.compiler.codegen import LoweringError
from odedsl.compiler.lower import build_model, program_for
from odedsl.compiler.memory import fits_in_memory
from odedsl.compiler.overrides import apply_overrides
from odedsl.compiler.program import Program
from odedsl.compiler.symbolic_form import SymbolicError
from odedsl.errors import SpecError
from odedsl.lang import check_text, load_source
from odedsl.lang.diagnostics import Diagnostic, render
from odedsl.lang.model import CheckedModel
from odedsl.lang.nesting import MAX_NESTING, deep_recursion
from odedsl.lang.source import Source, SourceReadError, Span, read_spec_file

SpecLike = str | os.PathLike[str] | Source | CheckedModel


def compile(path_or_text: SpecLike, **overrides: Any) -> nn.Module:
    """The model of a spec (a path, spec text, a ``Source``: text reported under its path,
    or a checked model), an ``nn.Module``.

    By kind: a flow (``log_prob``, ``sample``, ``loss``), a classifier (``forward``/
    ``predict`` → logits, ``loss``, ``evaluate``) or a latent ODE (``predict``, ``loss``,
    ``evaluate``); every model has ``spec`` (the checked model), ``stats`` (the counters of
    its last solve), ``program`` and ``generated`` (the generated code and its functions).
    ``overrides`` replace solver and training options (``rtol=1e-3``, ``method="rk4"``,
    ``step_size=0.25``, ``trace="exact"``, ``steps=500``, ``lr=1e-2``, ``seed=1``; see
    :mod:`odedsl.compiler.overrides`). Parameters are drawn from the spec's ``seed``. Raises
    :class:`~odedsl.errors.SpecError` for a bad spec, ``ValueError`` for a bad override.
    """
    spec, source = _checked(path_or_text)
    spec = apply_overrides(spec, overrides, source)
    return lowered(spec, source, lambda: build_model(fits_in_memory(spec)))


def generated_code(model_or_spec: nn.Module | SpecLike) -> str:
    """The generated torch code of a compiled model or of a spec (for ``odedsl show
    --code``): the module of generated functions, then the symbolic dynamics it calls."""
    program = getattr(model_or_spec, "program", None)
    if isinstance(program, Program):
        return program.listing
    if isinstance(model_or_spec, nn.Module):
        raise ValueError(f"{type(model_or_spec).__name__} was not compiled from a spec")
    spec, source = _checked(model_or_spec)
    return lowered(spec, source, lambda: program_for(spec)[1]).listing


def _checked(path_or_text: SpecLike) -> tuple[CheckedModel, Source | None]:
    if isinstance(path_or_text, CheckedModel):
        return path_or_text, _source_of(path_or_text.path)
    source = path_or_text if isinstance(path_or_text, Source) else load_source(path_or_text)
    return check_text(source.text, source.path), source


def _source_of(path: str) -> Source | None:
    try:
        return read_spec_file(path) if os.path.isfile(path) else None
    except SourceReadError:
        return None


def lowered(spec: CheckedModel, source: Source | None, build):
    """``build()`` (which walks the spec's expressions recursively, as the checker does),
    with lowering errors turned into a located :class:`SpecError`."""
    try:
        with deep_recursion():
            return build()
    except RecursionError:  # the checker's MAX_NESTING keeps lowering within the limit
        error: LoweringError | SymbolicError = LoweringError(
            f"the spec is nested too deeply to compile (at most {MAX_NESTING} levels)",
            Span(1, 1, 1, 2),
        )
    except (LoweringError, SymbolicError) as caught:
        error = caught
    symbolic = isinstance(error, SymbolicError)
    message = (
        f"`trace = :symbolic` needs dynamics in closed form: {error.reason}"
        if symbolic
        else error.message
    )
    loc = error.loc
    diagnostic = Diagnostic(
        "E084" if symbolic else error.code,
        message,
        loc.line,
        loc.column,
        loc.end_line,
        loc.end_column,
        help="use `trace = :auto`, `:exact` or `:hutchinson`" if symbolic else error.help,
        path=spec.path,
    )
    raise SpecError([diagnostic], render([diagnostic], source)) from None
