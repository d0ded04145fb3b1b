"""The declaring sections: `constants`, `networks`, `states` (with the time domain) and
`params`. They define the names every other section uses."""

from __future__ import annotations

from dataclasses import dataclass

from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.diagnostics import Note, did_you_mean, number
from odedsl.lang.env import Env
from odedsl.lang.model import Shape
from odedsl.lang.networks import build_layer
from odedsl.lang.sections import Sections
from odedsl.lang.shapes import numel, show
from odedsl.lang.source import Span
from odedsl.lang.symbols import DefinitionKind


def refuse(env: Env, statement: nodes.Statement, section: str, expected: str) -> None:
    """Report a statement whose form does not belong in ``section`` (E023)."""
    env.reporter.error(
        "E023",
        f"this statement does not belong in `{section}`",
        statement.loc,
        help=f"`{section}` holds {expected}",
    )


def name_of(expr: nodes.Expr) -> str | None:
    return expr.id if isinstance(expr, nodes.Name) else None


def applied_to_name(expr: nodes.Expr) -> tuple[nodes.Name, nodes.Expr] | None:
    """``f(a)`` as (f, a) when ``f`` is a name and there is one positional argument."""
    if (
        isinstance(expr, nodes.Call)
        and isinstance(expr.func, nodes.Name)
        and len(expr.args) == 1
        and not expr.keywords
    ):
        return expr.func, expr.args[0]
    return None


def type_shape(env: Env, annotation: nodes.Expr) -> Shape | None:
    """The shape of a type ``Real`` or ``Real[d1, d2, ...]``, or None after reporting."""
    found = _type(env, annotation, ("Real",))
    return None if found is None else found[0]


def param_type(env: Env, annotation: nodes.Expr) -> tuple[Shape, bool] | None:
    """The shape of a parameter's type and whether it is ``Positive``: ``Real``,
    ``Real[d1, ...]``, ``Positive`` or ``Positive[d1, ...]``; None after reporting."""
    return _type(env, annotation, ("Real", "Positive"))


def _type(env: Env, annotation: nodes.Expr, types: tuple[str, ...]) -> tuple[Shape, bool] | None:
    written = annotation.base if isinstance(annotation, nodes.Index) else annotation
    if isinstance(written, nodes.Name) and written.id in types:
        positive = written.id == "Positive"
        if not isinstance(annotation, nodes.Index):
            return (), positive
        sizes = [env.constants.size(size, "a dimension") for size in annotation.indices]
        return None if None in sizes else (tuple(sizes), positive)  # type: ignore[return-value]
    if isinstance(written, nodes.Name) and written.id == "Positive":
        env.reporter.error(
            "E047",
            "only a parameter is `Positive`",
            annotation.loc,
            help="declare it `Real` or `Real[d1, d2, ...]`",
        )
        return None
    hint = did_you_mean(written.id, list(types)) if isinstance(written, nodes.Name) else None
    env.reporter.error(
        "E047",
        "a type is " + " or ".join(f"`{t}` or `{t}[d1, d2, ...]`" for t in types),
        annotation.loc,
        help=hint or "for example `Real[M, D]`",
    )
    return None


def expect_names(env: Env, sections: Sections) -> None:
    """Note the names the declaring sections define, before they are checked, so that an
    early use of one (``Real[w]`` with a parameter ``w``) is explained, not called unknown."""
    forms: dict[str, tuple[DefinitionKind, type]] = {
        "params": ("param", nodes.Statement),
        "states": ("state", nodes.Declare),
        "networks": ("network", nodes.Assign),
        "data": ("data", nodes.Sample),
        "prior": ("latent", nodes.Sample),
    }
    for section, (kind, form) in forms.items():
        for statement in sections.statements(section):
            if isinstance(statement, form):
                target = statement.target
                applied = applied_to_name(target)
                items = (
                    target.items
                    if isinstance(target, nodes.Tuple)
                    else (applied[0] if applied else target,)
                )
                for item in items:
                    if isinstance(item, nodes.Name):
                        env.symbols.expected.setdefault(item.id, kind)


# -- constants and networks ----------------------------------------------------------------------


def declare_constants(env: Env, sections: Sections) -> None:
    for statement in sections.statements("constants"):
        target = statement.target
        if (
            isinstance(statement, nodes.Assign)
            and statement.annotation is None
            and (isinstance(target, nodes.Name))
        ):
            if env.symbols.define(target.id, "constant", target.loc):
                env.constants.define(statement, target)
        else:
            refuse(env, statement, "constants", "definitions such as `M = 64`")
    env.constants.resolve_all()


def declare_networks(env: Env, sections: Sections) -> None:
    for statement in sections.statements("networks"):
        target = statement.target
        if not (
            isinstance(statement, nodes.Assign)
            and statement.annotation is None
            and isinstance(target, nodes.Name)
        ):
            refuse(env, statement, "networks", "definitions such as `f = MLP(2 => 64 => 2)`")
            continue
        if env.symbols.define(target.id, "network", target.loc):
            spec = build_layer(statement.value, env.constants, env.reporter)
            if spec is not None:
                env.networks.add(target.id, spec, target.loc)


# -- states and time -------------------------------------------------------------------------------


@dataclass
class StatesSection:
    states: list[ir.State]
    time_var: str | None
    domain: ir.TimeDomain | None
    loc: Span | None


def declare_states(env: Env, sections: Sections) -> StatesSection:
    block = sections.blocks.get("states")
    found = StatesSection([], None, None, block.name_loc if block else None)
    time_loc: Span | None = None
    domain: nodes.Domain | None = None
    for statement in sections.statements("states"):
        if isinstance(statement, nodes.Domain):
            if domain is not None:
                env.reporter.error(
                    "E057",
                    "the time domain is given twice",
                    statement.loc,
                    notes=[Note("first here", domain.loc)],
                )
            else:
                domain = statement
            continue
        applied = applied_to_name(statement.target)
        if not isinstance(statement, nodes.Declare) or applied is None:
            if isinstance(statement, nodes.Declare) and isinstance(statement.target, nodes.Name):
                env.reporter.error(
                    "E047",
                    "a state is declared with its time variable: "
                    f"`{statement.target.id}(t) :: ...`",
                    statement.target.loc,
                )
            else:
                refuse(env, statement, "states", "`z(t) :: Real[D]` and `t ∈ (t0, t1)`")
            continue
        name, time = applied
        if not isinstance(time, nodes.Name):
            env.reporter.error(
                "E047",
                f"a state is declared with its time variable, as in `{name.id}(t)`",
                time.loc,
            )
            continue
        if found.time_var is None:
            found.time_var, time_loc = time.id, time.loc
            env.symbols.define(time.id, "time", time.loc)
        elif time.id != found.time_var:
            env.reporter.error(
                "E057",
                f"all states evolve in one time variable: `{time.id}` here, "
                f"`{found.time_var}` before",
                time.loc,
                notes=[Note(f"`{found.time_var}` here", time_loc)],
            )
            continue
        shape = type_shape(env, statement.annotation)
        if shape is None:
            env.symbols.fail(name.id)
            continue
        state = ir.State(name.id, shape, name.loc)
        if env.symbols.define(name.id, "state", name.loc, shape, state):
            found.states.append(state)
    if domain is not None:
        found.domain = _domain(env, domain, found.time_var, time_loc)
    return found


def _domain(
    env: Env, statement: nodes.Domain, time_var: str | None, time_loc: Span | None
) -> ir.TimeDomain | None:
    variable = statement.target
    if not isinstance(variable, nodes.Name):
        env.reporter.error("E057", "a time domain is written `t ∈ (t0, t1)`", statement.loc)
        return None
    if time_var is not None and variable.id != time_var:
        env.reporter.error(
            "E057",
            f"the time domain is over `{variable.id}`, but the states evolve in `{time_var}`",
            variable.loc,
            notes=[Note(f"`{time_var}` here", time_loc)],
        )
        return None
    interval = statement.interval
    if not (isinstance(interval, nodes.Tuple) and len(interval.items) == 2):
        env.reporter.error(
            "E057",
            "a time domain is an interval `(t0, t1)`",
            interval.loc,
            help="e.g. `(0.0, 1.0)`",
        )
        return None
    start, end = (env.constants.fold(item, "a time") for item in interval.items)
    if start is None or end is None:
        return None
    if not start < end:
        env.reporter.error(
            "E057",
            f"the time domain must run forward: ({number(start)}, {number(end)}) has t0 >= t1",
            interval.loc,
        )
        return None
    return ir.TimeDomain(variable.id, float(start), float(end), statement.loc)


# -- params ----------------------------------------------------------------------------------------


def declare_params(env: Env, sections: Sections, time_var: str | None) -> list[ir.Param]:
    params = []
    for statement in sections.statements("params"):
        param = _param(env, statement, time_var)
        if param is None:
            written = applied_to_name(statement.target)
            env.symbols.fail(name_of(written[0] if written else statement.target) or "")
        elif env.symbols.define(param.name, "param", param.loc, param.shape, param):
            params.append(param)
    return params


def _param(env: Env, statement: nodes.Statement, time_var: str | None) -> ir.Param | None:
    target = statement.target
    if isinstance(statement, nodes.Declare | nodes.Assign) and isinstance(target, nodes.Name):
        if statement.annotation is None:
            refuse(env, statement, "params", _PARAM_FORMS)
            return None
        found = param_type(env, statement.annotation)
        if found is None:
            return None
        shape, positive = found
        init = None
        if isinstance(statement, nodes.Assign):
            init = _initial_value(env, statement.value, target.id, shape, positive, statement)
            if init is None:
                return None
        return ir.Param(target.id, shape, None, target.loc, positive, init)
    applied = applied_to_name(target)
    if applied is None or isinstance(statement, nodes.Sample | nodes.Domain):
        refuse(env, statement, "params", _PARAM_FORMS)
        return None
    name, time = applied
    if not isinstance(statement, nodes.Assign) or statement.annotation is None:
        env.reporter.error(
            "E047",
            f"a time-dependent parameter is declared `{name.id}(t) :: Real[...] = hyper(t)`",
            statement.loc,
            help="declare its shape and the network that computes it from the time",
        )
        return None
    if not (isinstance(time, nodes.Name) and time.id == time_var):
        env.reporter.error(
            "E057",
            f"`{name.id}` depends on the time variable of the states"
            + (f", `{time_var}`" if time_var else ""),
            time.loc,
        )
        return None
    shape = type_shape(env, statement.annotation)
    hyper = _hyper(env, statement.value, time.id)
    if shape is None or hyper is None:
        return None
    network, out, loc = hyper
    if out is not None and numel(out) != numel(shape):
        env.reporter.error(
            "E040",
            f"`{network}` gives {show(out)} ({numel(out)} numbers), but `{name.id}` is "
            f"{show(shape)} ({numel(shape)} numbers)",
            loc,
            notes=[Note(f"`{name.id}` is declared {show(shape)} here", statement.annotation.loc)],
        )
        return None
    return ir.Param(name.id, shape, network, name.loc)


_PARAM_FORMS = (
    "declarations `w :: Real[M, D]`, `σ :: Positive`, `a :: Real = 0.5` and "
    "`w(t) :: Real[M, D] = hyper(t)`"
)


def _initial_value(
    env: Env,
    value: nodes.Expr,
    name: str,
    shape: Shape,
    positive: bool,
    statement: nodes.Assign,
) -> float | tuple[float, ...] | None:
    """A parameter's initial value, folded: one number for every entry, or a list
    ``[a, b, ...]`` of one number per entry (row-major); None after reporting."""
    written = "Positive" + show(shape)[len("Real") :] if positive else show(shape)
    declared = [Note(f"`{name}` is declared {written} here", statement.annotation.loc)]  # type: ignore[union-attr]
    what = f"the initial value of `{name}`"
    if isinstance(value, nodes.Array):
        items = [env.constants.fold(item, what) for item in value.items]
        if None in items:
            return None
        count = numel(shape)
        if len(items) != count:
            env.reporter.error(
                "E040",
                f"`{name}` is {show(shape)} ({count} entr{'y' if count == 1 else 'ies'}), "
                f"but its initial value has {len(items)}",
                value.loc,
                help="give one number per entry, in row-major order, or one number for all",
                notes=declared,
            )
            return None
        numbers = [float(v) for v in items]  # type: ignore[arg-type]
        locs = [item.loc for item in value.items]
        init: float | tuple[float, ...] = tuple(numbers)
    else:
        folded = env.constants.fold(value, what)
        if folded is None:
            return None
        numbers, locs = [float(folded)], [value.loc]
        init = numbers[0]
    for entry, loc in zip(numbers, locs, strict=True):
        if positive and not entry > 0:
            env.reporter.error(
                "E062",
                f"`{name}` is Positive, so its initial value must be > 0, not {number(entry)}",
                loc,
                notes=declared,
            )
            return None
    return init


def _hyper(env: Env, value: nodes.Expr, time_var: str) -> tuple[str, Shape | None, Span] | None:
    applied = applied_to_name(value)
    if applied is None or not (isinstance(applied[1], nodes.Name) and applied[1].id == time_var):
        env.reporter.error(
            "E047",
            f"a time-dependent parameter is a network of the time, as in `hyper({time_var})`",
            value.loc,
        )
        return None
    network, time = applied
    definition = env.symbols.get(network.id)
    if definition is None or definition.kind != "network":
        what = env.symbols.describe(network.id)
        env.reporter.error(
            "E033" if what else "E030",
            f"`{network.id}` is {what}, not a network"
            if what
            else f"unknown network `{network.id}`",
            network.loc,
            help=None
            if what
            else did_you_mean(network.id, [d.name for d in env.symbols.of_kind("network")]),
        )
        return None
    env.symbols.used.add(network.id)
    if network.id not in env.networks:
        return None
    out = env.networks.call(network.id, [((), time.loc)], value.loc)
    return (network.id, out, value.loc) if out is not None else None
