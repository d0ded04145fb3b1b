"""Checking expressions: every name resolved, shapes inferred, indices against dimensions.

``ExpressionChecker.check`` turns a syntax-tree expression into a checked one
(``odedsl.lang.model.Expr``) or returns None after reporting why it cannot; a None inside an
expression silences the checks around it, so one mistake gives one message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.builtins import CONSTANTS, DATASETS, DISTRIBUTIONS, ELEMENTWISE, FUNCTIONS, LAYERS
from odedsl.lang.constants import ConstantFold
from odedsl.lang.diagnostics import Note, did_you_mean, number
from odedsl.lang.env import Env
from odedsl.lang.model import Shape
from odedsl.lang.shapes import agree, broadcast, numel, show
from odedsl.lang.source import Span
from odedsl.lang.symbols import PHRASES


@dataclass(frozen=True)
class Local:
    """A name bound inside one statement: a generator's index (with its inclusive ``bounds``
    and the range's ``loc``), a likelihood loop's time, the target's argument, or an `encoder`
    value."""

    kind: Literal["index", "time", "argument", "local"]
    shape: Shape
    loc: Span
    bounds: tuple[int, int] | None = None


@dataclass(frozen=True)
class Context:
    """Where an expression stands: ``where`` for messages (``"in `dz/dt`"``), the kinds of
    definitions it may use, the current time variable (inside dynamics) and local names."""

    where: str
    visible: frozenset[str]
    current_time: str | None = None
    locals: Mapping[str, Local] = field(default_factory=dict)

    def bind(self, name: str, local: Local) -> Context:
        return replace(self, locals={**self.locals, name: local})


_VALUE_ROLES: dict[str, ir.VarRole] = {"data": "data", "latent": "latent", "local": "local"}


class ExpressionChecker:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.reporter = env.reporter
        self.reported_ranges: set[Span] = set()
        """Generator ranges already reported out of range (one message per range)."""

    # -- entry -----------------------------------------------------------------------------------

    def check(self, expr: nodes.Expr, ctx: Context, *, parts: bool = False) -> ir.Expr | None:
        """The checked ``expr``; ``parts`` allows a value that is not one tensor (``chunk``).
        The parser refused expressions nested deeper than ``odedsl.lang.nesting.MAX_NESTING``,
        so this recursion stays within the checker's recursion limit."""
        checked = self._check(expr, ctx)
        if checked is not None and checked.shape is None and not parts:
            self.reporter.error(
                "E090",
                "`chunk` gives several parts: assign them, as in `(a, b) = chunk(x, 2)`",
                expr.loc,
            )
            return None
        return checked

    def _check(self, expr: nodes.Expr, ctx: Context) -> ir.Expr | None:
        if isinstance(expr, nodes.Number):
            return ir.Const(expr.loc, (), expr.value)
        if isinstance(expr, nodes.Name):
            return self._name(expr, ctx)
        if isinstance(expr, nodes.Call):
            return self._call(expr, ctx)
        if isinstance(expr, nodes.Index):
            return self._index(expr, ctx)
        if isinstance(expr, nodes.BinOp):
            return self._binary(expr, ctx)
        if isinstance(expr, nodes.Unary):
            operand = self.check(expr.operand, ctx)
            if operand is None or expr.op == "+":
                return operand
            return ir.Neg(expr.loc, operand.shape, operand)
        if isinstance(expr, nodes.Transpose):
            return self._transpose(expr, ctx)
        if isinstance(expr, nodes.Attribute):
            if self._check(expr.base, ctx) is None:
                return None
            self.reporter.error(
                "E032",
                f"unknown attribute `.{expr.name}`: odedsl values have no attributes",
                expr.loc,
                help="write names plainly: `x`, `w[n]`, `f(z)`",
            )
            return None
        if isinstance(expr, nodes.Array):
            return self._vector(expr, ctx)
        if isinstance(expr, nodes.Generator):
            self.reporter.error(
                "E091",
                "a generator `... for n in a:b` can only be the argument of `sum`",
                expr.loc,
                help="write `sum(expr for n in 1:N)`",
            )
            return None
        self.reporter.error("E090", _not_a_value(expr), expr.loc)
        return None

    # -- names -------------------------------------------------------------------------------------

    def _name(self, expr: nodes.Name, ctx: Context) -> ir.Expr | None:
        name = expr.id
        local = ctx.locals.get(name)
        if local is not None:
            return ir.Var(expr.loc, local.shape, name, local.kind)
        if name in self.env.symbols.failed:
            return None
        definition = self.env.symbols.get(name)
        if definition is not None:
            if not self._visible(definition.kind, name, expr.loc, ctx):
                return None
            self.env.symbols.used.add(name)
            kind = definition.kind
            if kind == "constant":
                value = self.env.constants.values.get(name)
                return None if value is None else ir.Const(expr.loc, (), value)
            if kind == "param":
                param: ir.Param = definition.info  # type: ignore[assignment]
                if param.hyper is None:
                    return ir.Var(expr.loc, param.shape, name, "param")
                if ctx.current_time is None:
                    return self._misuse(expr, f"`{name}` depends on time: write `{name}(t)`")
                return ir.Var(expr.loc, param.shape, name, "param", self._now(expr, ctx))
            if kind == "state":
                if ctx.current_time is None:
                    return self._misuse(
                        expr, f"`{name}` is a state: evaluate it at a time, as in `{name}(t)`"
                    )
                return ir.StateRef(expr.loc, definition.shape, name)
            if kind == "time":
                return ir.Var(expr.loc, (), name, "time")
            if kind in _VALUE_ROLES:
                return ir.Var(expr.loc, definition.shape, name, _VALUE_ROLES[kind])
            if kind == "signal":
                return self._misuse(expr, f"`{name}` is a signal of time: write `{name}(t)`")
            return self._misuse(expr, f"`{name}` is a network: call it, as in `{name}(x)`")
        if name in CONSTANTS:
            return ir.Const(expr.loc, (), CONSTANTS[name])
        if name in FUNCTIONS:
            return self._misuse(expr, f"`{name}` is a function: call it, as in `{name}(x)`")
        builtin = _builtin_kind(name)
        if builtin is not None:
            return self._misuse(expr, f"`{name}` is {builtin} and cannot be used as a value")
        self._unknown(expr, ctx)
        return None

    def _visible(self, kind: str, name: str, loc: Span, ctx: Context) -> bool:
        if kind in ctx.visible:
            return True
        self.reporter.error(
            "E033",
            f"`{name}` is {PHRASES[kind]} and cannot be used {ctx.where}",
            loc,
            notes=[Note(f"`{name}` is defined here", self.env.symbols.get(name).loc)],  # type: ignore[union-attr]
        )
        return False

    def _unknown(self, expr: nodes.Name, ctx: Context) -> None:
        candidates = [
            *ctx.locals,
            *(d.name for d in self.env.symbols.of_kind(*ctx.visible)),
            *FUNCTIONS,
            *CONSTANTS,
        ]
        self.reporter.error(
            "E030",
            f"unknown name `{expr.id}`",
            expr.loc,
            help=did_you_mean(expr.id, candidates),
        )

    def _misuse(self, expr: nodes.Expr, message: str) -> None:
        self.reporter.error("E033", message, expr.loc)
        return None

    def _now(self, expr: nodes.Expr, ctx: Context) -> ir.Var:
        return ir.Var(expr.loc, (), ctx.current_time, "time")  # type: ignore[arg-type]

    # -- calls -------------------------------------------------------------------------------------

    def _call(self, expr: nodes.Call, ctx: Context) -> ir.Expr | None:
        if not isinstance(expr.func, nodes.Name):
            if self._check(expr.func, ctx) is not None:
                self.reporter.error("E033", "only names can be called", expr.func.loc)
            return None
        name = expr.func.id
        if name in self.env.symbols.failed and name not in ctx.locals:
            return None
        definition = self.env.symbols.get(name)
        if definition is not None and name not in ctx.locals:
            if not self._visible(definition.kind, name, expr.func.loc, ctx):
                return None
            self.env.symbols.used.add(name)
            if expr.keywords and definition.kind != "network":
                return self._no_keywords(expr, name)
            if definition.kind == "network":
                return self._network_call(expr, name, ctx)
            if definition.kind in ("state", "signal") or (
                definition.kind == "param" and definition.info.hyper is not None  # type: ignore[union-attr]
            ):
                return self._at_time(expr, definition.kind, name, definition.shape, ctx)
            hint = f"index it with `{name}[...]`" if definition.kind != "constant" else None
            self.reporter.error(
                "E033",
                f"`{name}` is {PHRASES[definition.kind]}, not a function",
                expr.func.loc,
                help=hint,
            )
            return None
        if name in ctx.locals:
            return self._misuse(expr.func, f"`{name}` is a value, not a function")
        if name in FUNCTIONS:
            if expr.keywords:
                return self._no_keywords(expr, name)
            return self._function(expr, name, ctx)
        builtin = _builtin_kind(name)
        if builtin is not None:
            return self._misuse(expr.func, _builtin_misuse(name, builtin))
        self._unknown(expr.func, ctx)
        return None

    def _no_keywords(self, expr: nodes.Call, name: str) -> None:
        keyword = expr.keywords[0]
        self.reporter.error("E061", f"`{name}` takes no keyword arguments", keyword.name_loc)
        return None

    def _network_call(self, expr: nodes.Call, name: str, ctx: Context) -> ir.Expr | None:
        if expr.keywords:
            return self._no_keywords(expr, name)
        args = [self.check(arg, ctx) for arg in expr.args]
        if name not in self.env.networks:  # its definition failed, and was reported
            return None
        if None in args:
            return None
        shape = self.env.networks.call(
            name,
            [(a.shape, a.loc) for a in args],
            expr.loc,  # type: ignore[union-attr]
        )
        if shape is None:
            return None
        return ir.NetworkCall(expr.loc, shape, name, tuple(args))  # type: ignore[arg-type]

    def _at_time(
        self, expr: nodes.Call, kind: str, name: str, shape: Shape | None, ctx: Context
    ) -> ir.Expr | None:
        if len(expr.args) != 1:
            self.reporter.error(
                "E044",
                f"`{name}` takes one argument, a time, but {len(expr.args)} are given",
                expr.loc,
            )
            return None
        time = self.time_argument(expr.args[0], ctx, f"`{name}`")
        if time is None:
            return None
        if kind == "state":
            return ir.StateRef(expr.loc, shape, name, time)
        role: ir.VarRole = "signal" if kind == "signal" else "param"
        return ir.Var(expr.loc, shape, name, role, time)

    def time_argument(self, arg: nodes.Expr, ctx: Context, what: str) -> ir.Expr | None:
        """A time at which ``what`` is evaluated: the current time, a likelihood loop's time,
        or (outside dynamics) a constant inside the time domain."""
        if isinstance(arg, nodes.Name):
            local = ctx.locals.get(arg.id)
            if arg.id == ctx.current_time or (local is not None and local.kind == "time"):
                return ir.Var(arg.loc, (), arg.id, "time")
        if ctx.current_time is not None:
            self.reporter.error(
                "E056",
                f"{what} is evaluated at the current time `{ctx.current_time}` here",
                arg.loc,
                help=f"write `({ctx.current_time})`: dynamics see the present only",
            )
            return None
        try:
            value = self.env.constants.evaluate(arg, "a time")
        except ConstantFold as error:
            if error.message:
                self.reporter.error(
                    "E056",
                    f"{what} is evaluated at a time: a loop's time variable or a constant",
                    arg.loc,
                )
            return None
        domain = self.env.domain
        if (
            domain is not None
            and domain.end is not None
            and not (domain.start <= value <= domain.end)
        ):
            self.reporter.error(
                "E056",
                f"time {number(value)} is outside the time domain "
                f"({number(domain.start)}, {number(domain.end)})",
                arg.loc,
                notes=[Note("the time domain is set here", domain.loc)] if domain.loc else [],
            )
            return None
        return ir.Const(arg.loc, (), value)

    # -- built-in functions ------------------------------------------------------------------------

    def _function(self, expr: nodes.Call, name: str, ctx: Context) -> ir.Expr | None:
        low, high = FUNCTIONS[name].arity
        count = len(expr.args)
        if not low <= count <= high:
            wanted = f"{low}" if low == high else f"at least {low}"
            plural = "" if wanted == "1" else "s"
            self.reporter.error(
                "E044",
                f"`{name}` takes {wanted} argument{plural}, but {count} are given",
                expr.loc,
            )
            return None
        if name == "sum" and isinstance(expr.args[0], nodes.Generator):
            return self._generator(expr.args[0], ctx)
        if name == "I":
            return self._misuse(
                expr.func, "`I(D)` is the identity covariance: write `Normal(μ, I(D))`"
            )
        if name == "chunk":
            return self._chunk(expr, ctx)
        if name == "reshape":
            return self._reshape(expr, ctx)
        if name in ("zeros", "ones"):
            size = self.env.constants.size(expr.args[0], f"the length of `{name}`")
            if size is None:
                return None
            return ir.Call(expr.loc, (size,), name, (ir.Const(expr.args[0].loc, (), size),))
        if name == "first":
            return self._first(expr, ctx)
        args = [self.check(a, ctx) for a in expr.args]
        if None in args:
            return None
        shapes = [a.shape for a in args]  # type: ignore[union-attr]
        if name == "vcat":
            return self._vcat(expr, args)  # type: ignore[arg-type]
        if name in ELEMENTWISE or name == "reverse":
            if name == "reverse" and not shapes[0]:
                return self._shape_error(expr, "`reverse` needs a sequence, not a scalar")
            shape = shapes[0]
        elif name == "sum":
            shape = ()
        elif name == "norm":
            if len(shapes[0]) != 1:  # type: ignore[arg-type]
                return self._shape_error(
                    expr, f"`norm` needs a vector Real[D], but gets {show(shapes[0])}"
                )
            shape = ()
        else:  # dot
            if len(shapes[0]) != 1 or not agree(shapes[0], shapes[1]):  # type: ignore[arg-type]
                return self._shape_error(
                    expr,
                    f"`dot` needs two vectors of one length, but gets {show(shapes[0])} "
                    f"and {show(shapes[1])}",
                )
            shape = ()
        return ir.Call(expr.loc, shape, name, tuple(args))  # type: ignore[arg-type]

    def _shape_error(self, expr: nodes.Expr, message: str) -> None:
        self.reporter.error("E040", message, expr.loc)
        return None

    def _vcat(self, expr: nodes.Call, args: list[ir.Expr]) -> ir.Expr | None:
        """``vcat(a, b, ...)``: vectors and scalars (counting 1) joined into one vector."""
        sizes: list[int | None] = []
        for position, (node, arg) in enumerate(zip(expr.args, args, strict=True), start=1):
            if len(arg.shape) > 1:  # type: ignore[arg-type]
                count = numel(arg.shape)  # type: ignore[arg-type]
                self.reporter.error(
                    "E040",
                    f"`vcat` joins vectors and scalars, but argument {position} is "
                    f"{show(arg.shape)}",
                    node.loc,
                    help=f"flatten it first: `reshape(..., {count if count else 'n'})`",
                    notes=self._origin(arg),
                )
                return None
            sizes.append(arg.shape[0] if arg.shape else 1)  # type: ignore[index]
        total = None if None in sizes else sum(sizes)  # type: ignore[arg-type]
        return ir.Call(expr.loc, (total,), "vcat", tuple(args))

    def _first(self, expr: nodes.Call, ctx: Context) -> ir.Expr | None:
        """``first(x)``: the first observation of an observed series ``x :: Real[N, D]``."""
        node = expr.args[0]
        value = self.check(node, ctx)
        if value is None:
            return None
        definition = (
            self.env.symbols.get(value.name)
            if isinstance(value, ir.Var) and value.role == "data"
            else None
        )
        variable = definition.info if definition is not None else None
        if isinstance(variable, ir.DataVariable) and variable.role == "series":
            return ir.Call(expr.loc, value.shape[1:], "first", (value,))  # type: ignore[index]
        if isinstance(value, ir.Var) and definition is not None:
            what = f"`{value.name}` is {_data_phrase(variable)}"  # type: ignore[arg-type]
        elif isinstance(value, ir.Var | ir.StateRef):
            described = self.env.symbols.describe(value.name)
            what = f"`{value.name}` is {described or 'not a series'}"
        else:
            what = f"this is {show(value.shape)}"
        self.reporter.error(
            "E033",
            f"`first` takes an observed series and gives its first observation, but {what}",
            node.loc,
            help="`first(x)` of a series `x :: Real[N, D]` of the data, as in "
            "`(ts, x) ~ Spirals2D()`, is Real[D]",
            notes=self._origin(value),
        )
        return None

    def _vector(self, expr: nodes.Array, ctx: Context) -> ir.Expr | None:
        """A vector literal ``[e1, e2, ...]`` of scalars."""
        if not expr.items:
            self.reporter.error(
                "E090",
                "an empty vector `[]` has no length",
                expr.loc,
                help="write `zeros(n)` for a vector of n zeros",
            )
            return None
        elements = [self.check(item, ctx) for item in expr.items]
        if None in elements:
            return None
        for position, (node, element) in enumerate(zip(expr.items, elements, strict=True), start=1):
            if element.shape != ():  # type: ignore[union-attr]
                self.reporter.error(
                    "E040",
                    f"a vector `[a, b, ...]` holds scalars, but entry {position} is "
                    f"{show(element.shape)}",  # type: ignore[union-attr]
                    node.loc,
                    help="join vectors and scalars with `vcat(a, b, ...)`",
                    notes=self._origin(element),  # type: ignore[arg-type]
                )
                return None
        return ir.Vector(expr.loc, (len(elements),), tuple(elements))  # type: ignore[arg-type]

    def _chunk(self, expr: nodes.Call, ctx: Context) -> ir.Expr | None:
        value = self.check(expr.args[0], ctx)
        parts = self.env.constants.size(expr.args[1], "the number of parts of `chunk`")
        if value is None or parts is None:
            return None
        shape = value.shape
        if len(shape) != 1 or (shape[0] is not None and shape[0] % parts):  # type: ignore[arg-type]
            return self._shape_error(
                expr, f"`chunk` cannot split {show(shape)} into {parts} equal parts"
            )
        return ir.Call(expr.loc, None, "chunk", (value, ir.Const(expr.args[1].loc, (), parts)))

    def _reshape(self, expr: nodes.Call, ctx: Context) -> ir.Expr | None:
        value = self.check(expr.args[0], ctx)
        sizes = [self.env.constants.size(a, "a size of `reshape`") for a in expr.args[1:]]
        if value is None or None in sizes:
            return None
        shape = tuple(sizes)
        count = numel(value.shape)  # type: ignore[arg-type]
        if count is not None and count != numel(shape):  # type: ignore[arg-type]
            return self._shape_error(
                expr,
                f"`reshape` cannot turn {show(value.shape)} ({count} entries) into "
                f"{show(shape)} ({numel(shape)} entries)",  # type: ignore[arg-type]
            )
        constants = tuple(ir.Const(a.loc, (), s) for a, s in zip(expr.args[1:], sizes, strict=True))
        return ir.Call(expr.loc, shape, "reshape", (value, *constants))  # type: ignore[arg-type]

    def _generator(self, gen: nodes.Generator, ctx: Context) -> ir.Expr | None:
        if not isinstance(gen.iterable, nodes.Range):
            self.reporter.error(
                "E091",
                "a generator runs over a range of integers `a:b`",
                gen.iterable.loc,
                help="write `for n in 1:M`",
            )
            return None
        start = self.env.constants.fold(gen.iterable.start, "the start of a range")
        stop = self.env.constants.fold(gen.iterable.stop, "the end of a range")
        if start is None or stop is None:
            return None
        if not (isinstance(start, int) and isinstance(stop, int)) or start > stop:
            self.reporter.error(
                "E091",
                "a generator's range must run over integers a <= b, not "
                f"{number(start)}:{number(stop)}",
                gen.iterable.loc,
            )
            return None
        if gen.var in ctx.locals or self.env.symbols.clashes(gen.var, gen.var_loc):
            if gen.var in ctx.locals:
                self.reporter.error("E031", f"`{gen.var}` is already bound here", gen.var_loc)
            return None
        inner = ctx.bind(gen.var, Local("index", (), gen.iterable.loc, (start, stop)))
        body = self.check(gen.element, inner)
        if body is None:
            return None
        return ir.Sum(gen.loc, body.shape, gen.var, start, stop, body)

    # -- indexing ----------------------------------------------------------------------------------

    def _index(self, expr: nodes.Index, ctx: Context) -> ir.Expr | None:
        base = self.check(expr.base, ctx)
        if base is None:
            return None
        shape = base.shape
        if len(expr.indices) > len(shape):  # type: ignore[arg-type]
            self.reporter.error(
                "E042",
                f"{len(expr.indices)} indices for {show(shape)}, which has "
                f"{len(shape)} dimension{'s' if len(shape) != 1 else ''}",  # type: ignore[arg-type]
                expr.loc,
                notes=self._origin(base),
            )
            return None
        indices: list[ir.Expr] = []
        kept: list[int | None] = []
        for axis, index in enumerate(expr.indices):
            checked = self._one_index(index, axis, base, ctx)
            if checked is None:
                return None
            indices.append(checked)
            if isinstance(checked, ir.Slice):
                kept.append(checked.stop - checked.start + 1)
        result = (*kept, *shape[len(expr.indices) :])  # type: ignore[index]
        return ir.Index(expr.loc, result, base, tuple(indices))

    def _one_index(
        self, index: nodes.Expr, axis: int, base: ir.Expr, ctx: Context
    ) -> ir.Expr | None:
        size = base.shape[axis]  # type: ignore[index]
        if isinstance(index, nodes.Name) and index.id in ctx.locals:
            local = ctx.locals[index.id]
            if local.kind == "time":
                return self._time_index(index, axis, base)
            if local.kind == "index":
                low, high = local.bounds  # type: ignore[misc]
                if low < 1 or (size is not None and high > size):
                    if local.loc not in self.reported_ranges:
                        self.reported_ranges.add(local.loc)
                        self._out_of_range(
                            index,
                            f"index `{index.id}` ({low}:{high})",
                            axis,
                            base,
                            [Note(f"`{index.id}` runs over {low}:{high} here", local.loc)],
                        )
                    return None
                return ir.Var(index.loc, (), index.id, "index")
        if isinstance(index, nodes.Range):
            start = self.env.constants.fold(index.start, "the start of a range")
            stop = self.env.constants.fold(index.stop, "the end of a range")
            if start is None or stop is None:
                return None
            if not (isinstance(start, int) and isinstance(stop, int)) or start > stop:
                self.reporter.error("E090", "a range index must be integers a <= b", index.loc)
                return None
            if start < 1 or (size is not None and stop > size):
                self._out_of_range(index, f"range {start}:{stop}", axis, base, [])
                return None
            return ir.Slice(index.loc, None, start, stop)
        try:
            value = self.env.constants.evaluate(index, "an index")
        except ConstantFold as error:
            if error.message:
                self.reporter.error(
                    "E090",
                    "an index must be an integer: a number, a constant or a generator variable",
                    index.loc,
                )
            return None
        if not isinstance(value, int):
            self.reporter.error(
                "E090", f"an index must be an integer, not {number(value)}", index.loc
            )
            return None
        if value < 1 or (size is not None and value > size):
            hint = "indices start at 1" if value == 0 else None
            self._out_of_range(index, f"index {value}", axis, base, [], hint)
            return None
        return ir.Const(index.loc, (), value)

    def _time_index(self, index: nodes.Name, axis: int, base: ir.Expr) -> ir.Expr | None:
        definition = self.env.symbols.get(base.name) if isinstance(base, ir.Var) else None
        info = definition.info if definition else None
        if axis != 0 or not isinstance(info, ir.DataVariable) or info.role != "series":
            self.reporter.error(
                "E090",
                f"only an observed series can be indexed by the time `{index.id}`",
                index.loc,
                help="`x[t]` is the observation of the series x at time t",
            )
            return None
        return ir.Var(index.loc, (), index.id, "time")

    def _out_of_range(
        self,
        index: nodes.Expr,
        what: str,
        axis: int,
        base: ir.Expr,
        notes: list[Note],
        hint: str | None = None,
    ) -> None:
        size = base.shape[axis]  # type: ignore[index]
        self.reporter.error(
            "E041",
            f"{what} is out of range: dimension {axis + 1} of {show(base.shape)} has indices "
            f"1:{size}",
            index.loc,
            help=hint or "indices are 1-based and ranges inclusive: 1:N has N items",
            notes=[*notes, *self._origin(base)],
        )

    def _origin(self, expr: ir.Expr) -> list[Note]:
        """Where the shape of ``expr`` comes from, as a note."""
        if isinstance(expr, ir.NetworkCall):
            loc = self.env.networks.entries[expr.network].loc
            return [Note(f"`{expr.network}` gives {show(expr.shape)}; it is defined here", loc)]
        if isinstance(expr, ir.Var | ir.StateRef):
            definition = self.env.symbols.get(expr.name)
            if definition is not None:
                return [
                    Note(
                        f"`{expr.name}` is {show(definition.shape)}, declared here", definition.loc
                    )
                ]
        if isinstance(expr, ir.Index):
            return self._origin(expr.base)
        return []

    # -- operators ---------------------------------------------------------------------------------

    def _transpose(self, expr: nodes.Transpose, ctx: Context) -> ir.Expr | None:
        operand = self.check(expr.operand, ctx)
        if operand is None:
            return None
        shape = operand.shape
        if len(shape) > 2:  # type: ignore[arg-type]
            return self._shape_error(
                expr, f"cannot transpose {show(shape)}: it has over 2 dimensions"
            )
        transposed = (1, shape[0]) if len(shape) == 1 else tuple(reversed(shape))  # type: ignore[arg-type,index]
        return ir.Transpose(expr.loc, transposed, operand)  # type: ignore[arg-type]

    def _binary(self, expr: nodes.BinOp, ctx: Context) -> ir.Expr | None:
        left = self.check(expr.left, ctx)
        right = self.check(expr.right, ctx)
        if left is None or right is None:
            return None
        a, b = left.shape, right.shape
        op = expr.op
        shape: Shape | None
        if op.startswith("."):  # Julia's broadcasting operators: elementwise, never `@`
            op, shape = op[1:], broadcast(a, b)  # type: ignore[arg-type]
        elif op == "*":
            op, shape = _product(left, right)
        elif op == "^":
            shape = a if not b else None
        elif op == "/":
            shape = broadcast(a, b) if b == () or a == () or agree(a, b) else None  # type: ignore[arg-type]
        else:
            shape = broadcast(a, b)  # type: ignore[arg-type]
        if shape is None:
            verb = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "^": "raise"}
            elementwise = expr.op.startswith(".")
            detail = " to a non-scalar power" if expr.op == "^" else ""
            if elementwise:
                detail = f" elementwise (`{expr.op}`)"
                hint = "elementwise operators take a scalar and any value, or two of one shape"
            else:
                hint = _product_help(a, b) if expr.op == "*" else None  # type: ignore[arg-type]
            if expr.op == "^" and broadcast(a, b) is not None:  # type: ignore[arg-type]
                hint = "for elementwise powers write `.^`"
            self.reporter.error(
                "E040",
                f"cannot {verb[expr.op.lstrip('.')]} {show(a)} and {show(b)}{detail}",
                expr.loc,
                help=hint,
                notes=[
                    Note(f"the left side is {show(a)}", expr.left.loc),
                    Note(f"the right side is {show(b)}", expr.right.loc),
                ],
            )
            return None
        return ir.BinOp(expr.loc, shape, op, left, right)


def _product(left: ir.Expr, right: ir.Expr) -> tuple[str, Shape | None]:
    """``*``: scaling by a scalar, the matrix product, or elementwise for equal shapes."""
    a, b = left.shape, right.shape
    if not a or not b:
        return "*", a or b
    if isinstance(left, ir.Transpose) and len(left.operand.shape) == 1 and len(b) == 1:  # type: ignore[arg-type]
        return ("@", ()) if agree(a[1:], b) else ("@", None)  # type: ignore[index]
    if len(a) == 2 and len(b) in (1, 2) and agree(a[1:], b[:1]):  # type: ignore[arg-type,index]
        return "@", (a[0], *b[1:])  # type: ignore[index]
    if agree(a, b):  # type: ignore[arg-type]
        return "*", broadcast(a, b)  # type: ignore[arg-type]
    return "*", None


def _product_help(a: Shape, b: Shape) -> str:
    if len(a) == 1 and len(b) == 1:
        return "for the inner product of two vectors write `u' * v` or `dot(u, v)`"
    return (
        "`*` scales by a scalar, multiplies matrices of matching sizes, or equal shapes elementwise"
    )


def _data_phrase(variable: ir.DataVariable) -> str:
    roles = {
        "sample": "one example of the data",
        "times": "the observation times of a series",
        "label": "a label of the data",
        "events": "the event times of the data",
    }
    return roles.get(variable.role, "a data variable")


def _builtin_kind(name: str) -> str | None:
    if name in DISTRIBUTIONS:
        return "a distribution"
    if name in LAYERS:
        return "a layer"
    if name in DATASETS:
        return "a data set"
    return None


def _builtin_misuse(name: str, kind: str) -> str:
    if kind == "a distribution":
        return f"`{name}` is a distribution: it only goes on the right of `~`"
    if kind == "a layer":
        return f"`{name}` is a layer: build it in `networks` (`f = {name}(...)`), then call `f`"
    return f"`{name}` is a data set: it only goes in `data`"


def _not_a_value(expr: nodes.Expr) -> str:
    if isinstance(expr, nodes.Symbol):
        return f"the symbol `:{expr.name}` is an option value, not a number"
    if isinstance(expr, nodes.String):
        return "a string is not a number"
    if isinstance(expr, nodes.Range):
        return "a range `a:b` only indexes (`w[1:3]`) or drives a generator (`for n in 1:M`)"
    if isinstance(expr, nodes.Pair):
        return "`=>` only separates layer sizes, as in `Dense(2 => 64)`"
    if isinstance(expr, nodes.Juxtaposed):
        return "`log p(x)` only stands on the left of `=` in `target`"
    return "a tuple or list is not a value here"
