"""The `solver` and `train` sections: known options, allowed values, defaults, conflicts."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from itertools import pairwise

from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.arguments import INVALID, argument_value, bind_arguments
from odedsl.lang.builtins import (
    DEFAULT_STEPS,
    EVAL_OPTIONS,
    LATENT_TRAIN_OPTIONS,
    METHOD_SPECIFIC,
    METHODS,
    OPTIMIZERS,
    PER_ROW_METHODS,
    SCHEDULES,
    SELECTION_OPTIONS,
    SOLVER_OPTIONS,
    STEP_SCHEDULE,
    TRAIN_OPTIONS,
    Arg,
    applies_to,
)
from odedsl.lang.declarations import refuse
from odedsl.lang.diagnostics import Note, did_you_mean, one_of
from odedsl.lang.env import Env
from odedsl.lang.kinds import NOUNS, OBJECTIVES, counts_epochs
from odedsl.lang.sections import Sections
from odedsl.lang.source import Span
from odedsl.lang.trace import choose_trace


@dataclass
class _Given:
    """An option set in the spec: its validated value and the statement that set it."""

    value: object
    statement: nodes.Assign


def _read(
    env: Env, statements: list[nodes.Statement], table: dict[str, Arg], section: str
) -> dict[str, _Given]:
    given: dict[str, _Given] = {}
    for statement in statements:
        target = statement.target
        if not (
            isinstance(statement, nodes.Assign)
            and statement.annotation is None
            and isinstance(target, nodes.Name)
        ):
            refuse(env, statement, section, "options `name = value`")
            continue
        name = target.id
        if name not in table:
            _unknown_option(env, name, target.loc, table, section)
            continue
        if name in given:
            env.reporter.error(
                "E031",
                f"option `{name}` is set twice",
                statement.loc,
                notes=[Note("first set here", given[name].statement.loc)],
            )
            continue
        value = _value(env, statement.value, table[name])
        if value is not INVALID:
            given[name] = _Given(value, statement)
    return given


def _unknown_option(env: Env, name: str, loc: Span, table: dict[str, Arg], section: str) -> None:
    if section == "eval" and name == "gradient":
        hint = "evaluation computes no gradients; set `gradient` in `solver`"
    elif section == "solver" and name in TRAIN_OPTIONS:
        hint = f"`{name}` is an option of `train`"
    elif section == "train" and name in SOLVER_OPTIONS:
        hint = f"`{name}` is an option of `solver`"
    else:
        hint = did_you_mean(name, table) or f"`{section}` takes " + one_of(table)
    env.reporter.error("E080", f"unknown option `{name}` in `{section}`", loc, help=hint)


def _value(env: Env, expr: nodes.Expr, arg: Arg) -> object:
    if arg.kind == "optimizer":
        return _optimizer(env, expr)
    if arg.kind == "schedule":
        return _schedule(env, expr)
    return argument_value(expr, arg, env.constants, env.reporter, what=f"`{arg.name}`", code="E081")


def _constructor_args(
    env: Env, call: nodes.Call, name: str, params: tuple[Arg, ...]
) -> dict[str, object] | None:
    bound = bind_arguments(call, params, name, env.reporter)
    if bound is None:
        return None
    values: dict[str, object] = {}
    for param in params:
        if param.name in bound:
            value = argument_value(
                bound[param.name],
                param,
                env.constants,
                env.reporter,
                what=f"`{param.name}` of `{name}`",
            )
            if value is INVALID:
                return None
            values[param.name] = value
        else:
            values[param.name] = param.default
    return values


def _optimizer(env: Env, expr: nodes.Expr) -> object:
    written = expr.func if isinstance(expr, nodes.Call) else expr
    name = written.id if isinstance(written, nodes.Name) else None
    if name in OPTIMIZERS and isinstance(expr, nodes.Call):
        values = _constructor_args(env, expr, name, OPTIMIZERS[name])  # type: ignore[arg-type]
        if values is None:
            return INVALID
        lr = values.pop("lr")
        return ir.Optimizer(name, float(lr), values)  # type: ignore[arg-type]
    if name in OPTIMIZERS:
        message, hint = f"an optimizer is called: write `{name}(lr = ...)`", None
    elif name is not None:
        message = f"unknown optimizer `{name}`"
        hint = did_you_mean(name, OPTIMIZERS) or "optimizers are " + one_of(OPTIMIZERS)
    else:
        message, hint = "`optimizer` is " + one_of(OPTIMIZERS) + ", as in `Adam(lr = 1e-3)`", None
    env.reporter.error("E081", message, written.loc, help=hint)
    return INVALID


def _schedule(env: Env, expr: nodes.Expr) -> object:
    if (
        isinstance(expr, nodes.Call)
        and isinstance(expr.func, nodes.Name)
        and (expr.func.id == "Step")
    ):
        values = _constructor_args(env, expr, "Step", STEP_SCHEDULE)
        if values is None:
            return INVALID
        at: tuple[int, ...] = values["at"]  # type: ignore[assignment]
        if not at or any(a < 1 for a in at) or any(b <= a for a, b in pairwise(at)):
            env.reporter.error(
                "E062",
                "the milestones `at` of `Step` must be positive and increasing",
                expr.loc,
                help="for example `Step(at = [60, 100], factor = 0.1)`",
            )
            return INVALID
        return ir.Schedule("step", at, float(values["factor"]))  # type: ignore[arg-type]
    choices = (*SCHEDULES, "Step")
    if isinstance(expr, nodes.Symbol) and expr.name in SCHEDULES:
        return ir.Schedule(expr.name)  # type: ignore[arg-type]
    written = expr.name if isinstance(expr, nodes.Symbol) else getattr(expr, "id", None)
    hint = did_you_mean(written, choices) if written else None
    env.reporter.error(
        "E081",
        "`schedule` is `:constant`, `:cosine` or `Step(at = [...], factor = ...)`",
        expr.loc,
        help=hint,
    )
    return INVALID


# -- rules the overrides share (odedsl.compiler.overrides) ----------------------------------------


def per_row_problem(method: str, gradient: str, reads_time: Span | None) -> tuple[str, str] | None:
    """Why `batch = :independent` cannot run (message, fix), or None when it can."""
    if method not in PER_ROW_METHODS:
        return (
            f"`batch = :independent` needs a method that steps each example on its own "
            f"({one_of(PER_ROW_METHODS, ':')}), not `:{method}`",
            "use `method = :dopri5`, or `batch = :joint`",
        )
    if gradient == "checkpoint":
        return (
            "`batch = :independent` works with `gradient = :adjoint` or `:direct`, "
            "not `:checkpoint`",
            "use `gradient = :adjoint` (its backward pass is one joint solve)",
        )
    if reads_time is not None:
        return (
            f"`batch = :independent` needs dynamics that do not read the time, but line "
            f"{reads_time.line} does (every example would be at its own time)",
            "use `batch = :joint` for time-dependent dynamics",
        )
    return None


def needs_step_size(method: str, step_size: float | None) -> bool:
    """Whether ``method`` is a fixed-step method left without a ``step_size`` (E083)."""
    return not METHODS[method] and step_size is None


def sets_both_lengths(names: Collection[str]) -> bool:
    """Whether both `steps` and `epochs` are among ``names`` (E082): they are one length."""
    return "steps" in names and "epochs" in names


def latent_only(name: str, kind: str) -> str | None:
    """What `train` option ``name`` does, when only latent models read it and a model of
    ``kind`` is not one (W004); None when ``kind`` reads it."""
    return LATENT_TRAIN_OPTIONS[name] if name in LATENT_TRAIN_OPTIONS and kind != "latent" else None


def needs_validation(name: str, eval_every: int) -> str | None:
    """Why `train` option ``name`` has no effect without validation scores (W004), when it
    acts only on them and ``eval_every`` is 0; None otherwise."""
    return SELECTION_OPTIONS[name] if name in SELECTION_OPTIONS and not eval_every else None


# -- solver ----------------------------------------------------------------------------------------


def check_solver(
    env: Env,
    sections: Sections,
    is_flow: bool,
    flow: tuple[ir.Derivative, ir.State] | None,
    reads_time: Span | None = None,
) -> tuple[ir.SolverSettings, ir.SolverSettings] | None:
    """The training and the evaluation solver settings (None after an error). ``flow`` is the
    flow's equation and state, when the model is a flow whose equation checked;
    ``reads_time`` where the dynamics read the time (``ir.time_reading``)."""
    before = len(env.reporter.diagnostics)
    main = _read(env, sections.statements("solver"), SOLVER_OPTIONS, "solver")
    nested = [
        item
        for item in sections.body("solver")
        if isinstance(item, nodes.Block) and item.name == "eval"
    ]
    statements = [s for s in nested[0].body if isinstance(s, nodes.Statement)] if nested else []
    overrides = _read(env, statements, EVAL_OPTIONS, "eval")
    if env.reporter.errors_since(before) or (is_flow and flow is None):
        return None
    if not is_flow and "trace" in main:
        _no_effect(env, main["trace"], "`trace` only applies to flows")
    training = _solver(env, main, flow, set(main), reads_time)
    # Options inherited from the training settings that do not apply to the evaluation
    # method (say `step_size` under an adaptive `eval` method) are dropped silently.
    evaluation = _solver(env, {**main, **overrides}, flow, set(overrides), reads_time)
    if training is None or evaluation is None:
        return None
    return training, evaluation


def _solver(
    env: Env,
    given: dict[str, _Given],
    flow: tuple[ir.Derivative, ir.State] | None,
    written_here: set[str],
    reads_time: Span | None = None,
) -> ir.SolverSettings | None:
    """The settings from ``given``; warns of options in ``written_here`` that have no effect."""
    values = {name: arg.default for name, arg in SOLVER_OPTIONS.items()}
    values.update({name: g.value for name, g in given.items()})
    method: str = values["method"]  # type: ignore[assignment]
    adaptive = METHODS[method]
    if needs_step_size(method, values["step_size"]):  # type: ignore[arg-type]
        env.reporter.error(
            "E083",
            f"`:{method}` is a fixed-step method and needs a `step_size`",
            given["method"].statement.value.loc,
            help="add `step_size = 0.1` (say), or use an adaptive method such as `:dopri5`",
        )
        return None
    if values["batch"] == "independent":
        problem = per_row_problem(method, values["gradient"], reads_time)  # type: ignore[arg-type]
        if problem is not None:
            message, hint = problem
            env.reporter.error("E081", message, given["batch"].statement.value.loc, help=hint)
            return None
    for option in METHOD_SPECIFIC:
        if option in written_here and not applies_to(option, method):
            _no_effect(env, given[option], _NO_EFFECT[option].format(method=method))
    trace, reason = None, ""
    if flow is not None:
        requested_at = given["trace"].statement.loc if "trace" in given else None
        chosen = choose_trace(values["trace"], *flow, env.reporter, requested_at)  # type: ignore[arg-type]
        if chosen is None:
            return None
        trace, reason = chosen
    return ir.SolverSettings(
        method=method,
        adaptive=adaptive,
        step_size=None if adaptive else float(values["step_size"]),  # type: ignore[arg-type]
        trace=trace,
        trace_reason=reason,
        **{name: setting_value(name, values[name]) for name in PLAIN_SOLVER_OPTIONS},
    )


PLAIN_SOLVER_OPTIONS = tuple(
    name for name in SOLVER_OPTIONS if name not in ("method", "step_size", "trace")
)
"""The solver options that are fields of ``ir.SolverSettings`` holding the value as written
(a number as a float); ``method``, ``step_size`` and ``trace`` are settled by rules."""


def setting_value(name: str, value: object) -> object:
    """Solver option ``name``'s checked value as ``ir.SolverSettings`` holds it."""
    return float(value) if SOLVER_OPTIONS[name].kind == "number" else value  # type: ignore[arg-type]


_NO_EFFECT = {
    "step_size": "`step_size` has no effect with the adaptive `:{method}`",
    "rtol": "`rtol` has no effect with the fixed-step `:{method}`",
    "atol": "`atol` has no effect with the fixed-step `:{method}`",
    "adams_mode": "`adams_mode` only applies to `:adams`, not `:{method}`",
}
"""The warning for each of ``METHOD_SPECIFIC``'s options written for a method that ignores it."""


def _no_effect(env: Env, given: _Given, message: str, *, help: str | None = None) -> None:
    env.reporter.warning("W004", message, given.statement.loc, help=help)


# -- training --------------------------------------------------------------------------------------


def check_train(
    env: Env,
    sections: Sections,
    kind: str,
    data_batch: tuple[int, Span] | None,
    *,
    ode: bool = True,
    fitting: tuple[str, ...] | None = None,
) -> ir.TrainSettings | None:
    """The training settings; ``ode`` is False for a model without an ODE (a discrete flow),
    on which the regularizers of the dynamics have no effect; ``fitting`` are the objectives
    the model can train with, the inferred one first (by default every objective of its kind,
    ``kinds.OBJECTIVES``)."""
    before = len(env.reporter.diagnostics)
    given = _read(env, sections.statements("train"), TRAIN_OPTIONS, "train")
    if sets_both_lengths(given):
        env.reporter.error(
            "E082",
            "`steps` and `epochs` both set the length of training: keep one",
            given["epochs"].statement.loc,
            notes=[Note("`steps` is set here", given["steps"].statement.loc)],
        )
    if "epochs" in given and not counts_epochs(kind):
        env.reporter.error(
            "E081",
            "`epochs` count passes over the data, and this model has none: use `steps`",
            given["epochs"].statement.loc,
        )
    if "batch" in given and data_batch is not None:
        env.reporter.error(
            "E082",
            "`batch` is set in both `data` and `train`: keep one",
            given["batch"].statement.loc,
            notes=[Note("set in `data` here", data_batch[1])],
        )
    objective = _objective(env, given, kind, fitting or OBJECTIVES[kind])
    if objective is None or env.reporter.errors_since(before):
        return None
    values = {name: arg.default for name, arg in TRAIN_OPTIONS.items()}
    values.update({name: g.value for name, g in given.items()})
    if data_batch is not None:
        values["batch"] = data_batch[0]
    if "steps" not in given and "epochs" not in given:
        values["steps"] = DEFAULT_STEPS
    optimizer = values["optimizer"]
    if not isinstance(optimizer, ir.Optimizer):
        optimizer = ir.Optimizer("Adam", *_defaults("Adam"))
    schedule = values["schedule"]
    if not isinstance(schedule, ir.Schedule):
        schedule = ir.Schedule(schedule)  # type: ignore[arg-type]
    _check_milestones(env, given, schedule, values)
    for name in LATENT_TRAIN_OPTIONS:
        what = latent_only(name, kind)
        if name in given and what is not None:
            _no_effect(
                env,
                given[name],
                f"`{name}` only applies to latent models",
                help=f"{what}, and this is {NOUNS[kind]}: remove `{name}`",
            )
    for name in SELECTION_OPTIONS:
        why = needs_validation(name, values["eval_every"])  # type: ignore[arg-type]
        if name in given and why is not None:
            _no_effect(env, given[name], why, help=f"set `eval_every = N`, or remove `{name}`")
    for name in ("kinetic", "jacobian"):
        if name in given and not ode:
            _no_effect(env, given[name], f"`{name}` regularizes an ODE; a discrete flow has none")
    return ir.TrainSettings(
        objective,
        "objective" not in given,
        optimizer,
        values["steps"],  # type: ignore[arg-type]
        values["epochs"],  # type: ignore[arg-type]
        schedule,
        float(values["kinetic"]),  # type: ignore[arg-type]
        float(values["jacobian"]),  # type: ignore[arg-type]
        values["warmup"],  # type: ignore[arg-type]
        values["batch"],  # type: ignore[arg-type]
        values["seed"],  # type: ignore[arg-type]
        values["samples"],  # type: ignore[arg-type]
        values["kl_warmup"],  # type: ignore[arg-type]
        float(values["encoder_window"]),  # type: ignore[arg-type]
        values["refine"],  # type: ignore[arg-type]
        values["eval_every"],  # type: ignore[arg-type]
        values["patience"],  # type: ignore[arg-type]
    )


def _defaults(name: str) -> tuple[float, dict[str, object]]:
    values = {arg.name: arg.default for arg in OPTIMIZERS[name]}
    return float(values.pop("lr")), values  # type: ignore[arg-type]


def _objective(
    env: Env, given: dict[str, _Given], kind: str, fitting: tuple[str, ...]
) -> str | None:
    if "objective" not in given:
        return fitting[0]
    objective: str = given["objective"].value  # type: ignore[assignment]
    if objective in fitting:
        return objective
    env.reporter.error(
        "E085",
        f"`:{objective}` does not fit {NOUNS[kind]}",
        given["objective"].statement.value.loc,
        help=f"use {one_of(fitting, ':')}, or leave `objective` out to infer it",
    )
    return None


def _check_milestones(
    env: Env, given: dict[str, _Given], schedule: ir.Schedule, values: dict[str, object]
) -> None:
    total = values["epochs"] or values["steps"]
    late = [m for m in schedule.milestones if m >= total]  # type: ignore[operator]
    if late:
        unit = "epochs" if values["epochs"] else "steps"
        _no_effect(
            env,
            given["schedule"],
            f"milestone {late[0]} is never reached in {total} {unit}",
        )
