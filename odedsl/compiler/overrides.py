"""Overrides of a spec's solver and training options, checked as the spec's own values are.

``compile(spec, rtol=1e-3, method="rk4", step_size=0.25, trace="exact", steps=500, lr=1e-2)``:
solver options (``method``, ``rtol``, ``atol``, ``step_size``, ``gradient``, ``trace``,
``max_num_steps``, ``adams_mode``, ``compile``, and ``batch`` given a symbol: ``:joint`` or
``:independent``) apply to training and evaluation; ``eval_<option>`` to evaluation only;
training options (``steps``, ``epochs``, ``batch``, ``seed``, ``kinetic``, ``jacobian``,
``warmup``, ``samples``, ``kl_warmup``, ``encoder_window``, ``objective``, ``eval_every``,
``patience``), ``lr`` (the optimizer's learning rate) and ``schedule`` (``constant`` or
``cosine``) to training;
``crop``, ``rotate``, ``zoom``, ``shift`` to the augmentation of training images; ``refine``
to a latent model's predictions;
``samples``, ``kl_warmup``, ``encoder_window`` and ``refine`` only to latent models.
Values are validated against the language catalogue (``odedsl.lang.builtins``): allowed
symbols (``"rk4"`` or ``":rk4"``), integers, bounds (``Arg.violation``); a bad one raises
``ValueError`` naming the override and what it accepts. A solver override that changes none of
the solvers it reaches (``step_size`` with adaptive methods only, ``rtol``/``atol`` with
fixed-step ones only, ``adams_mode`` without ``adams``) is refused the same way, and so is
``patience`` without ``eval_every`` (in the spec or among the overrides).

Each rule is the checker's: the overrides call its functions (``builtins.applies_to``,
``lang.options.needs_step_size``, ``per_row_problem``, ``latent_only``, ``needs_validation``,
``sets_both_lengths``, ``lang.kinds.model_objectives``, ``counts_epochs``, ``FLOW_KINDS``,
``lang.trace.choose_trace``) and only phrase the refusal for a keyword argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from odedsl.errors import SpecError
from odedsl.lang import model as ir
from odedsl.lang.builtins import (
    AUGMENTATIONS,
    DATA_OPTIONS,
    EVAL_OPTIONS,
    LATENT_TRAIN_OPTIONS,
    METHOD_SPECIFIC,
    METHODS,
    SCHEDULES,
    SOLVER_OPTIONS,
    TRAIN_OPTIONS,
    Arg,
    applies_to,
    gives_images,
)
from odedsl.lang.diagnostics import Reporter, closest, render
from odedsl.lang.kinds import FLOW_KINDS, counts_epochs, model_objectives
from odedsl.lang.options import (
    PLAIN_SOLVER_OPTIONS,
    latent_only,
    needs_step_size,
    needs_validation,
    per_row_problem,
    sets_both_lengths,
    setting_value,
)
from odedsl.lang.source import Source
from odedsl.lang.trace import choose_trace

_TRAIN = {name: arg for name, arg in TRAIN_OPTIONS.items() if name not in ("optimizer", "schedule")}
_LR = Arg("lr", "number", bound="> 0", doc="the optimizer's learning rate")
_SCHEDULE = Arg(
    "schedule",
    "symbol",
    choices=SCHEDULES,
    doc="the learning-rate schedule (a spec's `Step(...)` is written in the spec only)",
)
KNOWN: dict[str, Arg] = {
    **SOLVER_OPTIONS,
    **{f"eval_{name}": arg for name, arg in EVAL_OPTIONS.items()},
    **_TRAIN,
    "lr": _LR,
    "schedule": _SCHEDULE,
    **{name: DATA_OPTIONS[name] for name in AUGMENTATIONS},
}
"""Every override ``compile`` accepts, with the catalogue entry its value is checked against."""
EVALUATION_ONLY = (*(f"eval_{name}" for name in EVAL_OPTIONS), "refine")
"""The overrides that change only how a trained model is evaluated, not what was trained."""


def apply_overrides(
    spec: ir.CheckedModel, overrides: Mapping[str, Any], source: Source | None = None
) -> ir.CheckedModel:
    """``spec`` with ``overrides`` applied (see the module docstring)."""
    values = {name: validate(name, value) for name, value in overrides.items()}
    solver = {k: v for k, v in values.items() if k in SOLVER_OPTIONS and _is_solver(k, v)}
    evaluation = {
        **solver,
        **{k[5:]: v for k, v in values.items() if k in EVALUATION_ONLY and k.startswith("eval_")},
    }
    if evaluation and spec.discrete is not None:
        raise ValueError(
            f"{', '.join(evaluation)}: {spec.name} is a {spec.title}, which solves no ODE"
        )
    if "trace" in evaluation and spec.kind not in FLOW_KINDS:
        raise ValueError(f"trace: only flows compute a trace, and {spec.name} is a {spec.title}")
    train = {
        k: v
        for k, v in values.items()
        if (k in _TRAIN or k in ("lr", "schedule")) and k not in solver
    }
    augment = {k: v for k, v in values.items() if k in AUGMENTATIONS}
    training = _solver(spec, spec.solver, solver, "", source)
    evaluated = _solver(spec, spec.eval_solver, evaluation, "eval_", source)
    for name in solver:
        _check_effect(name, values[name], (training, evaluated))
    for name in values.keys() - solver.keys():
        if name.startswith("eval_"):
            _check_effect(name, values[name], (evaluated,))
    return replace(
        spec,
        data=_augmentation(spec, augment),
        solver=training,
        eval_solver=evaluated,
        train=_train(spec, train),
    )


def _augmentation(spec: ir.CheckedModel, changes: dict[str, Any]) -> ir.DataSource | None:
    """``spec``'s data source with the augmentation ``changes``; images only."""
    if not changes:
        return spec.data
    if spec.data is None or not gives_images(spec.data):
        read = "no data" if spec.data is None else f"{spec.data.dataset}, which gives no images"
        raise ValueError(
            f"{', '.join(changes)}: only image data sets are augmented, and {spec.name} reads "
            f"{read}"
        )
    return replace(spec.data, **changes)


def _check_effect(name: str, value: Any, used_by: tuple[ir.SolverSettings, ...]) -> None:
    """``ValueError`` if override ``name`` changes none of the solvers in ``used_by``."""
    option = name.removeprefix("eval_")
    if any(applies_to(option, settings.method) for settings in used_by):
        return
    methods = " and ".join(sorted({repr(settings.method) for settings in used_by}))
    reason = METHOD_SPECIFIC[option]
    prefix = name[: len(name) - len(option)]
    raise ValueError(
        f"{name}={value!r} has no effect: it applies to {reason}, and the model solves with "
        f"{methods}; drop {name}, or also pass {prefix}method=..."
    )


def _is_solver(name: str, value: Any) -> bool:
    """Whether override ``name`` is the solver's: ``batch`` is the solver's stepping of a
    batch when given a symbol (``batch=":independent"``), the training batch size otherwise."""
    return name != "batch" or isinstance(value, str)


def validate(name: str, value: Any) -> Any:
    """The checked value of override ``name``, or ``ValueError`` saying what it accepts."""
    arg = SOLVER_OPTIONS[name] if name == "batch" and isinstance(value, str) else KNOWN.get(name)
    if arg is None:
        match = closest(name, KNOWN)
        hint = f"; did you mean {match!r}?" if match else ""
        raise ValueError(f"unknown override {name!r}{hint} (overrides: {', '.join(sorted(KNOWN))})")
    if arg.kind == "symbol":
        written = value[1:] if isinstance(value, str) and value.startswith(":") else value
        if written not in arg.choices:
            match = closest(str(written), arg.choices) if isinstance(written, str) else None
            hint = f"; did you mean {match!r}?" if match else ""
            raise ValueError(
                f"{name}={value!r} is not allowed{hint}: use one of {', '.join(arg.choices)}"
            )
        return written
    if arg.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if arg.kind == "int" and not (is_number and isinstance(value, int)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not is_number or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    violation = arg.violation(value)
    if violation:
        raise ValueError(f"{name} {violation}, got {value!r}")
    return value if arg.kind == "int" else float(value)


def _solver(
    spec: ir.CheckedModel,
    settings: ir.SolverSettings,
    changes: dict[str, Any],
    prefix: str,
    source: Source | None,
) -> ir.SolverSettings:
    if not changes:
        return settings
    method = changes.get("method", settings.method)
    adaptive = METHODS[method]
    step_size = changes.get("step_size", settings.step_size)
    if needs_step_size(method, step_size):
        raise ValueError(
            f"{prefix}method={method!r} is a fixed-step method: also pass {prefix}step_size=..."
        )
    trace, reason = settings.trace, settings.trace_reason
    if "trace" in changes:
        trace, reason = _trace(spec, changes["trace"], source)
    fields = {k: setting_value(k, v) for k, v in changes.items() if k in PLAIN_SOLVER_OPTIONS}
    batch = fields.get("batch", settings.batch)
    if batch == "independent":
        gradient = fields.get("gradient", settings.gradient)
        problem = per_row_problem(method, gradient, ir.time_reading(spec.dynamics))
        if problem is not None:
            message, fix = problem
            raise ValueError(f"{prefix}batch=:independent: {_plain(message)}; {_plain(fix)}")
    return replace(
        settings,
        method=method,
        adaptive=adaptive,
        step_size=None if adaptive else float(step_size),
        trace=trace,
        trace_reason=reason,
        **fields,
    )


def _plain(text: str) -> str:
    """A checker message without the spec's backticks, for a keyword argument."""
    return text.replace("`", "")


def _trace(spec: ir.CheckedModel, requested: str, source: Source | None) -> tuple[str, str]:
    """The checker's choice for ``trace = requested``; SpecError (located) if impossible."""
    derivative = spec.dynamics.derivatives[0]
    source = source or Source("", spec.path)
    reporter = Reporter(source)
    chosen = choose_trace(requested, derivative, spec.state(derivative.state), reporter, None)
    if chosen is None:
        raise SpecError(reporter.diagnostics, render(reporter.diagnostics, source))
    strategy, reason = chosen
    return strategy, reason.replace("`trace = :", "the override `trace=:")


def _train(spec: ir.CheckedModel, changes: dict[str, Any]) -> ir.TrainSettings:
    train = spec.train
    if not changes:
        return train
    if sets_both_lengths(changes):
        raise ValueError("steps and epochs both set the length of training: pass one")
    if "epochs" in changes and not counts_epochs(spec.kind):
        raise ValueError("epochs: a flow matching a target density has no data; use steps")
    for name in LATENT_TRAIN_OPTIONS:
        what = latent_only(name, spec.kind)
        if name in changes and what is not None:
            raise ValueError(
                f"{name}: only latent models read it ({what}), and {spec.name} is a {spec.title}"
            )
    fields: dict[str, Any] = {k: v for k, v in changes.items() if k != "lr"}
    if "steps" in changes:
        fields["epochs"] = None
    if "epochs" in changes:
        fields["steps"] = None
    if "objective" in changes:
        fitting = model_objectives(spec)
        if changes["objective"] not in fitting:
            raise ValueError(
                f"objective={changes['objective']!r} does not fit a "
                f"{spec.title}: use one of {', '.join(fitting)}"
            )
        fields["objective_inferred"] = False
    if "lr" in changes:
        fields["optimizer"] = replace(train.optimizer, lr=changes["lr"])
    if "schedule" in changes:
        fields["schedule"] = ir.Schedule(changes["schedule"])
    eval_every = changes.get("eval_every", train.eval_every)
    for name in changes:
        what = needs_validation(name, eval_every)
        if what is not None:
            raise ValueError(
                f"{name}={changes[name]!r} has no effect: {what.replace('`', '')}; also pass "
                "eval_every=N"
            )
    return replace(train, **fields)
