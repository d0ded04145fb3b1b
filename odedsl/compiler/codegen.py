"""Checked expressions into torch source text that a user can read.

The emitter walks a checked expression (``odedsl.lang.model``) and returns Python code for it.
That code is built only from identifiers the compiler makes (``m.p_w`` for parameter ``w``,
``s_z`` for state ``z``, ``e3`` for a temporary; spec names pass through
:func:`odedsl.symbolic.names.mangle` first), numbers (``repr`` of a checked ``int`` or
finite ``float``) and fixed torch calls. No spec text (names, strings, comments) ever reaches
the source, so executing it evaluates nothing a spec wrote.

Every value has the layout ``(batch..., labelled axes..., example axes...)``: batch axes (any
number, e.g. posterior samples and series) when it depends on the examples, then one axis per
generator variable (``sum(... for n in 1:M)``) in scope, ordered by creation, then the
example's own shape; code addresses axes from the right (``...``, negative dims) so any batch
shape works. Indexing by a generator variable moves that axis among the labelled ones; a
``sum`` over it reduces it; so ``Σ_n g_n u_n tanh(w_n'z + b_n)`` becomes a few batched tensor
operations, not a Python loop. Indices are 1-based and ranges inclusive in the spec; the
emitter shifts them.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import count

from odedsl.lang import model as ir
from odedsl.symbolic.names import mangle

SUM, PRODUCT, UNARY, POWER, ATOM = 1, 2, 3, 4, 5
MAX_INLINE_DEPTH = 16
"""A subexpression nesting this many operations is stored in a temporary, so that the
generated code never nests deeper than Python's parser allows (200 brackets), however deep
the spec's expression (up to :data:`odedsl.lang.nesting.MAX_NESTING`)."""


class LoweringError(Exception):
    """A spec the compiler cannot lower: ``loc`` locates the culprit, ``code`` and ``help``
    are those of its diagnostic."""

    def __init__(self, message: str, loc: object, code: str = "E100", help: str | None = None):
        super().__init__(message)
        self.message, self.loc, self.code, self.help = message, loc, code, help


@dataclass(frozen=True, eq=False)
class Axis:
    """A labelled axis: the values ``start..stop`` of a generator variable."""

    order: int
    start: int
    stop: int


@dataclass(frozen=True)
class Value:
    """Generated code and its layout (see the module docstring). ``number`` is set when the
    value is a Python number known at compile time."""

    code: str
    batched: bool = False
    axes: tuple[Axis, ...] = ()
    rank: int = 0
    precedence: int = ATOM
    number: int | float | None = None


def number(value: object) -> Value:
    """A checked number as source: only a finite ``int`` or ``float`` is accepted."""
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        text = repr(value)
    else:
        raise ValueError(f"not a finite number: {value!r}")
    return Value(text, precedence=UNARY if text.startswith("-") else ATOM, number=value)


def shape_code(shape: tuple) -> str:
    """A checked shape (a tuple of ints) as source."""
    if not all(type(size) is int and size >= 0 for size in shape):
        raise ValueError(f"not a shape: {shape!r}")
    return repr(tuple(shape))


def paren(value: Value, precedence: int) -> str:
    return value.code if value.precedence >= precedence else f"({value.code})"


TimeKey = tuple[str, object] | None
"""When a state or signal is read: None (now), ``("at", var)`` or ``("const", value)``."""


def time_key(time: ir.Expr | None) -> TimeKey:
    if time is None:
        return None
    if isinstance(time, ir.Const):
        return ("const", float(time.value))
    if isinstance(time, ir.Var):
        return ("at", time.name)
    raise LoweringError("a time must be a constant or a time variable", time.loc)


@dataclass
class Scope:
    """What the names of one generated function stand for.

    ``bindings`` maps ``("state", name, time key)``, ``("signal", name, time key)`` and
    ``("var", role, name)`` to values; ``reference`` is code of a tensor whose dtype and device
    new tensors take. A signal read but not bound is computed from its equation in ``signals``.
    """

    reference: str
    bindings: dict[tuple, Value] = field(default_factory=dict)
    signals: dict[str, ir.Signal] = field(default_factory=dict)

    def bind(self, key: tuple, value: Value) -> None:
        self.bindings[key] = value


class Function:
    """The body of one generated function: lines of statements and fresh temporaries."""

    def __init__(self, temporaries: count) -> None:
        self.lines: list[str] = []
        self._temporaries = temporaries
        self._cache: dict[str, Value] = {}

    def assign(self, value: Value) -> Value:
        """``eN = code``, once per distinct code; the temporary in ``value``'s layout."""
        if value.number is not None or (value.precedence == ATOM and "(" not in value.code):
            return value
        cached = self._cache.get(value.code)
        if cached is None:
            name = f"e{next(self._temporaries)}"
            self.lines.append(f"{name} = {value.code}")
            cached = replace(value, code=name, precedence=ATOM)
            self._cache[value.code] = cached
        return cached


@dataclass(frozen=True)
class Elementwise:
    """The torch code of an elementwise function (``{}`` its argument) and its value on a
    constant, which the emitter folds."""

    code: str
    fold: Callable[[float], float]


ELEMENTWISE: dict[str, Elementwise] = {
    "exp": Elementwise("torch.exp({})", math.exp),
    "log": Elementwise("torch.log({})", math.log),
    "tanh": Elementwise("torch.tanh({})", math.tanh),
    "sigmoid": Elementwise("torch.sigmoid({})", lambda x: 1.0 / (1.0 + math.exp(-x))),
    "softplus": Elementwise(
        "F.softplus({})", lambda x: math.log1p(math.exp(-abs(x))) + max(x, 0.0)
    ),
    "elu": Elementwise("F.elu({})", lambda x: x if x > 0 else math.expm1(x)),
    "relu": Elementwise("torch.relu({})", lambda x: max(x, 0.0)),
    "sin": Elementwise("torch.sin({})", math.sin),
    "cos": Elementwise("torch.cos({})", math.cos),
    "sqrt": Elementwise("torch.sqrt({})", math.sqrt),
    "abs": Elementwise("torch.abs({})", abs),
}
"""The elementwise functions of the language catalogue (``builtins.ELEMENTWISE``) but
``identity``, which :data:`CALLS` returns unchanged."""
CallRule = Callable[["Emitter", list[Value]], Value]
CALLS: dict[str, CallRule] = {}
"""The other functions of the language catalogue (``builtins.FUNCTIONS``), each emitted by
one method of :class:`Emitter`, but those in :data:`NOT_CALLED`."""
NOT_CALLED = {
    "I": "the checker reads `Normal(μ, I(D))` as σ = 1; `I` is refused anywhere else",
    "chunk": "its parts are assigned, `a, b = chunk(x, 2)` (Emitter.assign_parts)",
}
"""Functions of the catalogue that never reach :meth:`Emitter._call`, with where they go."""


def _emits(*names: str) -> Callable[[CallRule], CallRule]:
    """Register the decorated :class:`Emitter` method as the code of the functions ``names``."""

    def register(rule: CallRule) -> CallRule:
        for name in names:
            CALLS[name] = rule
        return rule

    return register


_FOLD_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "^": math.pow,
}
_OPERATORS = {"+": (" + ", SUM), "-": (" - ", SUM), "*": (" * ", PRODUCT), "/": (" / ", PRODUCT)}
_LETTERS = "nmpqrsuvwxyz"


class Emitter:
    """Emits checked expressions into ``function`` under ``scope``."""

    def __init__(self, spec: ir.CheckedModel, scope: Scope, function: Function) -> None:
        self.spec = spec
        self.scope = scope
        self.function = function
        self._generators: dict[str, Axis] = {}
        self._orders = count()
        self._depths: list[int] = []
        """Per :meth:`emit` under way, the deepest nesting among the code of its operands."""

    def new_axis(self, start: int, stop: int) -> Axis:
        return Axis(next(self._orders), start, stop)

    # -- entry ----------------------------------------------------------------------------------

    def emit(self, expr: ir.Expr) -> Value:
        """The code of ``expr``; a value nesting :data:`MAX_INLINE_DEPTH` operations goes
        to a temporary (an ``eN = ...`` line)."""
        self._depths.append(0)
        try:
            value = self._emit(expr)
        finally:
            nesting = self._depths.pop() + 1
        if nesting >= MAX_INLINE_DEPTH and value.number is None:
            value, nesting = self.function.assign(value), 0
        if self._depths:
            self._depths[-1] = max(self._depths[-1], nesting)
        return value

    def _emit(self, expr: ir.Expr) -> Value:
        if isinstance(expr, ir.Const):
            return number(expr.value)
        if isinstance(expr, ir.Var):
            return self._var(expr)
        if isinstance(expr, ir.StateRef):
            return self._lookup(("state", expr.name, time_key(expr.time)), expr)
        if isinstance(expr, ir.BinOp):
            return self._binary(expr)
        if isinstance(expr, ir.Neg):
            value = self.emit(expr.operand)
            if value.number is not None:
                return number(-value.number)
            return replace(value, code=f"-{paren(value, POWER)}", precedence=UNARY)
        if isinstance(expr, ir.Transpose):
            return self._transpose(expr)
        if isinstance(expr, ir.Index):
            return self._index(expr)
        if isinstance(expr, ir.Sum):
            return self._sum(expr)
        if isinstance(expr, ir.Call):
            return self._call(expr)
        if isinstance(expr, ir.NetworkCall):
            return self._network(expr)
        if isinstance(expr, ir.Vector):
            return self._vector(expr)
        raise LoweringError(f"cannot lower {type(expr).__name__}", expr.loc)

    def assign_parts(self, expr: ir.Expr, names: list[str], ranks: list[int]) -> list[Value]:
        """``a, b = ...``: the values of ``chunk(x, k)`` (k parts along the example's first
        axis) or of one expression, assigned to ``names``."""
        if isinstance(expr, ir.Call) and expr.function == "chunk":
            value = self.emit(expr.args[0])
            code = f"{paren(value, ATOM)}.chunk({len(names)}, dim={-value.rank})"
        else:
            value = self.emit(expr)
            code = value.code
        self.function.lines.append(f"{', '.join(names)} = {code}")
        return [
            Value(name, value.batched, value.axes, rank)
            for name, rank in zip(names, ranks, strict=True)
        ]

    # -- names ------------------------------------------------------------------------------------

    def _lookup(self, key: tuple, expr: ir.Expr) -> Value:
        value = self.scope.bindings.get(key)
        if value is None:
            raise LoweringError("this value is not available here", expr.loc)
        return value

    def _var(self, expr: ir.Var) -> Value:
        rank = len(expr.shape or ())
        if expr.role == "param":
            if expr.time is not None:
                return self._time_param(expr, rank)
            value = Value(f"m.{mangle('p_', expr.name)}", rank=rank)
            if self.spec.param(expr.name).positive:  # the softplus of an unconstrained tensor
                value = self.function.assign(replace(value, code=f"F.softplus({value.code})"))
            return value
        if expr.role == "index":
            axis = self._generators[expr.name]
            code = f"ops.arange({axis.start}, {axis.stop}, {self.scope.reference})"
            return Value(code, axes=(axis,))
        if expr.role == "signal":
            key = ("signal", expr.name, time_key(expr.time))
            if key not in self.scope.bindings and expr.name in self.scope.signals:
                value = self.function.assign(self.emit(self.scope.signals[expr.name].rhs))
                self.scope.bind(key, value)
            return self._lookup(key, expr)
        return self._lookup(("var", expr.role, expr.name), expr)

    def _time_param(self, expr: ir.Var, rank: int) -> Value:
        """``w(t)``: the output of its hypernetwork at ``t``, reshaped to the declared shape."""
        param = self.spec.param(expr.name)
        time = self.emit(expr.time)  # type: ignore[arg-type]
        out = self.function.assign(self._apply_network(param.hyper, [time]))  # type: ignore[arg-type]
        code = f"{out.code}.reshape({out.code}.shape[:-1] + {shape_code(param.shape)})"
        return self.function.assign(replace(out, code=code, rank=rank, precedence=ATOM))

    # -- operators -----------------------------------------------------------------------------

    def _binary(self, expr: ir.BinOp) -> Value:
        if expr.op == "@":
            return self._matmul(expr)
        left, right = self.emit(expr.left), self.emit(expr.right)
        if left.number is not None and right.number is not None:
            return self._fold_binary(expr, left.number, right.number)
        rank = len(expr.shape)  # type: ignore[arg-type]
        batched, axes = _layout(left, right)
        a, b = (_align(v, batched, axes, rank) for v in (left, right))
        if expr.op == "^":
            code = f"{paren(a, ATOM)} ** {paren(b, UNARY)}"
            return Value(code, batched, axes, rank, POWER)
        symbol, precedence = _OPERATORS[expr.op]
        right_needs = precedence + 1 if expr.op in "-/" else precedence
        code = f"{paren(a, precedence)}{symbol}{paren(b, right_needs)}"
        return Value(code, batched, axes, rank, precedence)

    def _fold_binary(self, expr: ir.BinOp, a: float, b: float) -> Value:
        try:
            return number(_FOLD_BINARY[expr.op](a, b))
        except (ZeroDivisionError, OverflowError, ValueError):
            raise LoweringError("this constant expression has no finite value", expr.loc) from None

    def _transpose(self, expr: ir.Transpose) -> Value:
        value = self.emit(expr.operand)
        if value.rank == 1:  # a row: (1, D)
            code = f"{paren(value, ATOM)}.unsqueeze(-2)"
        else:
            code = f"{paren(value, ATOM)}.transpose(-1, -2)"
        return replace(value, code=code, rank=2, precedence=ATOM)

    def _matmul(self, expr: ir.BinOp) -> Value:
        """Julia's ``*`` of a matrix and a vector or matrix, and ``w' * z``, as an einsum."""
        operand = expr.left.operand if isinstance(expr.left, ir.Transpose) else None
        right = self.emit(expr.right)
        if operand is not None and len(operand.shape or ()) == 1 and right.rank == 1:
            left, a_letters = self.emit(operand), "k"  # w' * z: a dot product
        else:
            left, a_letters = self.emit(expr.left), "ik"
        b_letters = "k" if right.rank == 1 else "kj"
        out_example = "".join(c for c in a_letters + b_letters if c != "k")
        batched, axes = _layout(left, right)
        letters = {axis: _LETTERS[n] for n, axis in enumerate(axes)}

        def subscripts(value: Value, example: str) -> str:
            lead = ("..." if value.batched else "") + "".join(letters[a] for a in value.axes)
            return lead + example

        out = subscripts(Value("", batched, axes), out_example)
        equation = f"{subscripts(left, a_letters)},{subscripts(right, b_letters)}->{out}"
        code = f"torch.einsum('{equation}', {left.code}, {right.code})"
        return Value(code, batched, axes, len(out_example))

    # -- indexing and sums ------------------------------------------------------------------------

    def _index(self, expr: ir.Index) -> Value:
        base = self.emit(expr.base)
        slots = ["..."] * base.batched + [":"] * len(base.axes)
        labelled: list[tuple[int, Axis]] = []  # (position among kept example axes, axis)
        kept = 0
        for index, size in zip(expr.indices, expr.base.shape or (), strict=False):
            if isinstance(index, ir.Const):
                slots.append(repr(int(index.value) - 1))
                continue
            if isinstance(index, ir.Slice):
                slots.append(f"{index.start - 1}:{index.stop}")
            elif isinstance(index, ir.Var) and index.role == "index":
                axis = self._generators[index.name]
                whole = axis.start == 1 and axis.stop == size
                slots.append(":" if whole else f"{axis.start - 1}:{axis.stop}")
                labelled.append((kept, axis))
            else:
                raise LoweringError("cannot index with this value", index.loc)
            kept += 1
        slots += [":"] * (base.rank - len(expr.indices))
        rank = base.rank - len(expr.indices) + kept
        value = Value(_subscript(base, slots), base.batched, base.axes, rank)
        for position, axis in labelled:
            value = _label(value, position - sum(1 for p, _ in labelled if p < position), axis)
        return value

    def _sum(self, expr: ir.Sum) -> Value:
        axis = self.new_axis(expr.start, expr.stop)
        outer = self._generators.get(expr.var)
        self._generators[expr.var] = axis
        try:
            body = self.emit(expr.body)
        finally:
            if outer is None:
                del self._generators[expr.var]
            else:
                self._generators[expr.var] = outer
        if axis not in body.axes:
            count_ = expr.stop - expr.start + 1
            return Value(
                f"{count_} * {paren(body, POWER)}", body.batched, body.axes, body.rank, PRODUCT
            )
        dim = body.axes.index(axis) - len(body.axes) - body.rank
        axes = tuple(a for a in body.axes if a is not axis)
        return self.function.assign(
            Value(f"{paren(body, ATOM)}.sum({dim})", body.batched, axes, body.rank)
        )

    # -- functions and networks -----------------------------------------------------------------

    def _call(self, expr: ir.Call) -> Value:
        name = expr.function
        if name == "chunk":
            raise LoweringError("`chunk` gives several parts: assign them", expr.loc)
        args = [self.emit(arg) for arg in expr.args]
        x = args[0]
        elementwise = ELEMENTWISE.get(name)
        if elementwise is not None:
            if x.number is not None:
                try:
                    return number(float(elementwise.fold(x.number)))
                except (ValueError, OverflowError):
                    raise LoweringError(f"`{name}` is undefined here", expr.loc) from None
            return replace(x, code=elementwise.code.format(x.code), precedence=ATOM)
        rule = CALLS.get(name)
        if rule is None:
            raise LoweringError(f"`{name}` cannot be used here", expr.loc)
        return rule(self, args)

    @_emits("identity")
    def _identity(self, args: list[Value]) -> Value:
        return args[0]

    @_emits("norm")
    def _norm(self, args: list[Value]) -> Value:
        x = args[0]
        code = f"torch.linalg.vector_norm({x.code}, dim=-1)"
        return replace(x, code=code, rank=0, precedence=ATOM)

    @_emits("dot")
    def _dot(self, args: list[Value]) -> Value:
        batched, axes = _layout(*args)
        a, b = (_align(v, batched, axes, 1) for v in args)
        code = f"({paren(a, PRODUCT)} * {paren(b, POWER)}).sum(-1)"
        return Value(code, batched, axes, 0)

    @_emits("sum")
    def _sum_all(self, args: list[Value]) -> Value:
        x = args[0]
        if x.rank == 0:
            return x
        dims = ", ".join(str(-k) for k in range(x.rank, 0, -1))
        return replace(x, code=f"{paren(x, ATOM)}.sum(dim=({dims},))", rank=0, precedence=ATOM)

    @_emits("reverse")
    def _reverse(self, args: list[Value]) -> Value:
        x = args[0]
        code = f"torch.flip({x.code}, dims=({-x.rank},))"
        return replace(x, code=code, precedence=ATOM)

    @_emits("zeros")
    def _zeros(self, args: list[Value]) -> Value:
        return self._filled("zeros", args[0])

    @_emits("ones")
    def _ones(self, args: list[Value]) -> Value:
        return self._filled("ones", args[0])

    def _filled(self, name: str, size: Value) -> Value:
        return Value(f"torch.{name}({size.code}, {self._like()})", rank=1)

    @_emits("first")
    def _first(self, args: list[Value]) -> Value:
        """The first observation of a series (its first example axis)."""
        x = args[0]
        slots = ["...", "0"] + [":"] * (x.rank - 1)
        return Value(_subscript(x, slots), x.batched, x.axes, x.rank - 1)

    @_emits("vcat")
    def _vcat(self, args: list[Value]) -> Value:
        batched, axes = _layout(*args)
        parts = [self._vector_part(arg, batched, axes) for arg in args]
        code = f"ops.join([{', '.join(parts)}])"
        return self.function.assign(Value(code, batched, axes, 1))

    @_emits("reshape")
    def _reshape(self, args: list[Value]) -> Value:
        x = self.function.assign(args[0])
        sizes = shape_code(tuple(a.number for a in args[1:]))
        lead = f"{x.code}.shape[:{-x.rank}]" if x.rank else f"{x.code}.shape"
        code = f"{x.code}.reshape({lead} + {sizes})"
        return replace(x, code=code, rank=len(args) - 1, precedence=ATOM)

    def _like(self) -> str:
        """Keyword arguments giving a new tensor the scope reference's dtype and device."""
        reference = self.scope.reference
        return f"dtype={reference}.dtype, device={reference}.device"

    def _vector_part(self, value: Value, batched: bool, axes: tuple[Axis, ...]) -> str:
        """Code of ``value`` as a vector (a scalar of length 1, a tensor flattened) in the
        layout ``(batched, axes)``, for joining along the example's last axis."""
        if value.number is not None:
            return f"torch.tensor([{value.code}], {self._like()})"
        aligned = _align(value, batched, axes, value.rank)
        if value.rank == 0:
            return _subscript(aligned, ["...", "None"])
        if value.rank == 1:
            return aligned.code
        return f"{paren(aligned, ATOM)}.flatten({-value.rank})"

    def _vector(self, expr: ir.Vector) -> Value:
        """``[a, b, ...]``: its scalars stacked along a new last axis (constants as tensors
        of the reference's dtype and device, all broadcast to one layout)."""
        values = [self.emit(element) for element in expr.elements]
        if all(v.number is not None for v in values):
            numbers = ", ".join(v.code for v in values)
            return Value(f"torch.tensor([{numbers}], {self._like()})", rank=1)
        batched, axes = _layout(*values)
        parts = []
        for value in values:
            if value.number is not None:
                parts.append(f"torch.tensor({value.code}, {self._like()})")
            else:
                parts.append(_align(value, batched, axes, 0).code)
        code = f"torch.stack(torch.broadcast_tensors({', '.join(parts)}), dim=-1)"
        return self.function.assign(Value(code, batched, axes, 1))

    def _network(self, expr: ir.NetworkCall) -> Value:
        args = [self.emit(arg) for arg in expr.args]
        value = self._apply_network(expr.network, args)
        return self.function.assign(replace(value, rank=len(expr.shape or ())))

    def _apply_network(self, name: str, args: list[Value]) -> Value:
        network = self.spec.network(name)
        module = f"m.{mangle('net_', name)}"
        if network.takes_time:
            time, h = args
            code = f"ops.time_network({module}, {time.code}, {h.code}, {h.rank})"
            return Value(code, h.batched, h.axes, h.rank)
        if network.sequence:
            values = args[0]
            times = f", {args[1].code}" if len(args) > 1 else ""
            return Value(f"ops.sequence_network({module}, {values.code}{times})", values.batched)
        if len(args) > 1:  # f(t, z): the inputs flattened and joined in order
            batched, axes = _layout(*args)
            parts = [self._vector_part(arg, batched, axes) for arg in args]
            joined = f"ops.join([{', '.join(parts)}])"
            return Value(f"ops.network({module}, {joined}, 1)", batched, axes)
        (x,) = args
        if x.number is not None:
            x = Value(
                f"torch.tensor({x.code}, dtype={self.scope.reference}.dtype, "
                f"device={self.scope.reference}.device)"
            )
        return Value(f"ops.network({module}, {x.code}, {x.rank})", x.batched, x.axes)


# -- layouts -------------------------------------------------------------------------------------


def _layout(*values: Value) -> tuple[bool, tuple[Axis, ...]]:
    """The layout of a result of ``values``: batched if any is, the union of their axes."""
    axes = {axis for value in values for axis in value.axes}
    return any(v.batched for v in values), tuple(sorted(axes, key=lambda a: a.order))


def _align(value: Value, batched: bool, axes: tuple[Axis, ...], rank: int) -> Value:
    """``value`` indexed so that it broadcasts against the layout ``(batched, axes, rank)``:
    ``None`` where it lacks an axis, for all example axes when it is a scalar."""
    if value.number is not None:
        return value
    slots = ["..."] if value.batched else []
    slots += [":" if axis in value.axes else "None" for axis in axes]
    if value.rank == rank:
        slots += [":"] * rank
    elif value.rank == 0:
        slots += ["None"] * rank
    else:
        raise ValueError(f"cannot broadcast rank {value.rank} against rank {rank}")
    while slots and slots[0] == "None":  # broadcasting supplies leading axes
        slots.pop(0)
    code = _subscript(value, slots)
    return value if code == value.code else replace(value, code=code, precedence=ATOM)


def _subscript(value: Value, slots: list[str]) -> str:
    """``value[slots]``: after a leading ``...`` (the batch axes) the slots cover every axis,
    else trailing ``:`` are left out; no subscript at all when it would select everything."""
    if slots and slots[0] == "...":
        if all(slot == ":" for slot in slots[1:]):
            return value.code
    else:
        while slots and slots[-1] == ":":
            slots = slots[:-1]
        if not slots:
            return value.code
    return f"{paren(value, ATOM)}[{', '.join(slots)}]"


def _label(value: Value, example_axis: int, axis: Axis) -> Value:
    """Move the example axis ``example_axis`` of ``value`` among its labelled axes as ``axis``."""
    axes = tuple(sorted((*value.axes, axis), key=lambda a: a.order))
    source = example_axis - value.rank
    target = axes.index(axis) - len(axes) - (value.rank - 1)
    code = value.code
    if source != target:
        code = f"{paren(value, ATOM)}.movedim({source}, {target})"
    return Value(code, value.batched, axes, value.rank - 1)
