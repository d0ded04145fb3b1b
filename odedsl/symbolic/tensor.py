"""Shape-aware tensor expressions, built by the compiler from a checked spec, lowered to sympy.

The compiler walks the checked expression of ``dz/dt`` and rebuilds it with
:class:`DynamicsBuilder` (leaves) and the operations below (one per node kind of the spec's
expression tree). Operators follow the spec language (Julia): ``*`` scales by a scalar or is a
matrix/vector product (``w[n]' * z`` is a dot product), ``/`` divides by a scalar, ``^`` is
scalar power, :func:`elementwise` is the dotted form (``.*``, ``./``, ``.^``, ``.+``, ``.-``),
functions apply elementwise, ``x[n]`` selects leading axes, ``x.T`` is ``x'``. Subscripts are
0-based here: the compiler subtracts 1 from spec literals.

Lowering gives the scalar sympy expression of one component in index form: ``lower(f)`` of the
gated CNF is ``Sum(g[n]*u[n, i]*tanh(b[n] + Sum(w[n, j]*z[j], (j, 0, D-1))), (n, 0, M-1))``.
Every sum and contraction binds a fresh index, so reusing a generator name cannot clash.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Union

import sympy as sp

from odedsl.symbolic.errors import SymbolicUnsupported
from odedsl.symbolic.functions import elementwise as _elementwise_function
from odedsl.symbolic.names import mangle, validate_name

Shape = tuple[int, ...]
Operand = Union["TExpr", int, float]


@dataclass(frozen=True, eq=False)
class Index:
    """The variable of a generator ``for n in 1:M``: ``size`` values, 0 to size − 1."""

    name: str
    size: int


Subscript = Index | int


@dataclass(frozen=True)
class InputSpec:
    """One tensor argument of the generated functions, after ``t`` and ``z``.

    ``kind`` is ``"param"`` (a free parameter), ``"time_param"`` (a parameter given by a
    hypernetwork of t, ``w(t) = hyper(t)``) or ``"network"`` (the output of a network called
    on time-only arguments ``args``). The runtime evaluates time-only inputs once per call.
    """

    argument: str
    kind: str
    name: str
    shape: Shape
    args: tuple[TExpr, ...] = ()


@dataclass
class Lowering:
    """Fresh sympy indices for one lowering, and the generator variables in scope."""

    counts: Counter = field(default_factory=Counter)

    def fresh(self, letter: str, size: int) -> sp.Idx:
        number = self.counts[letter]
        self.counts[letter] += 1
        return sp.Idx(f"{letter}{number or ''}", size)


Env = dict[Index, sp.Idx]


class TExpr:
    """A tensor-valued expression: ``shape``, whether it is a row (``v'``), whether it depends
    on the state, and the generator variables it uses free."""

    shape: Shape
    is_row: bool = False
    on_state: bool = False
    generators: frozenset[Index] = frozenset()

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        """The sympy expression of the component at ``idx`` (one index per axis)."""
        raise NotImplementedError

    def __add__(self, other: Operand) -> TExpr:
        return _combine("+", self, other)

    def __radd__(self, other: Operand) -> TExpr:
        return _combine("+", other, self)

    def __sub__(self, other: Operand) -> TExpr:
        return _combine("-", self, other)

    def __rsub__(self, other: Operand) -> TExpr:
        return _combine("-", other, self)

    def __mul__(self, other: Operand) -> TExpr:
        return multiply(self, other)

    def __rmul__(self, other: Operand) -> TExpr:
        return multiply(other, self)

    def __truediv__(self, other: Operand) -> TExpr:
        return divide(self, other)

    def __rtruediv__(self, other: Operand) -> TExpr:
        return divide(other, self)

    def __pow__(self, other: Operand) -> TExpr:
        return power(self, other)

    def __rpow__(self, other: Operand) -> TExpr:
        return power(other, self)

    def __neg__(self) -> TExpr:
        return _combine("*", constant(-1), self)

    def __getitem__(self, subscripts: Subscript | tuple[Subscript, ...]) -> TExpr:
        if not isinstance(subscripts, tuple):
            subscripts = (subscripts,)
        return _Subscripted(self, subscripts)

    @property
    def T(self) -> TExpr:
        """The transpose ``x'``: a vector becomes a row, a matrix swaps its axes."""
        return _Transposed(self)


def _describe(x: TExpr) -> str:
    if x.is_row:
        return f"row vector of length {x.shape[0]}"
    if not x.shape:
        return "scalar"
    return ("vector" if len(x.shape) == 1 else "array") + f" of shape {x.shape}"


class _Leaf(TExpr):
    """A named tensor: the state, a parameter, a time parameter or a network output."""

    def __init__(self, symbol: sp.Symbol | sp.IndexedBase, shape: Shape, on_state: bool) -> None:
        self.symbol = symbol
        self.shape = shape
        self.on_state = on_state

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        return self.symbol[idx] if idx else self.symbol


class _Constant(TExpr):
    def __init__(self, value: sp.Expr) -> None:
        self.value = value
        self.shape = ()

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        return self.value


def constant(value: int | float) -> TExpr:
    """A compile-time number (spec constants are substituted by their values)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"constant value must be an int or float, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"constant value must be finite, got {value!r}")
    return _Constant(sp.Integer(value) if isinstance(value, int) else sp.Float(value))


def _as_texpr(x: Operand) -> TExpr:
    return x if isinstance(x, TExpr) else constant(x)


class _Subscripted(TExpr):
    def __init__(self, base: TExpr, subscripts: tuple[Subscript, ...]) -> None:
        if len(subscripts) > len(base.shape):
            raise ValueError(
                f"{len(subscripts)} subscripts on a {_describe(base)}: at most {len(base.shape)}"
            )
        for axis, sub in enumerate(subscripts):
            length = base.shape[axis]
            if isinstance(sub, Index):
                if sub.size != length:
                    raise SymbolicUnsupported(
                        f"index {sub.name!r} takes {sub.size} values but subscripts an axis of "
                        f"length {length}: only generators over a whole axis are supported",
                        culprit=sub.name,
                    )
            elif isinstance(sub, int) and not isinstance(sub, bool):
                if not 0 <= sub < length:
                    raise ValueError(f"subscript {sub} (0-based) is outside an axis of {length}")
            else:
                raise SymbolicUnsupported(
                    f"subscript {sub!r} is neither a generator variable nor an integer"
                )
        self.base = base
        self.subscripts = subscripts
        self.shape = base.shape[len(subscripts) :]
        self.is_row = base.is_row and bool(self.shape)
        self.on_state = base.on_state
        self.generators = base.generators | {s for s in subscripts if isinstance(s, Index)}

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        prefix = []
        for sub in self.subscripts:
            if isinstance(sub, Index):
                if sub not in env:
                    raise ValueError(f"index {sub.name!r} is used outside its sum(... for ...)")
                prefix.append(env[sub])
            else:
                prefix.append(sp.Integer(sub))
        return self.base.lower(ctx, env, (*prefix, *idx))


class _Transposed(TExpr):
    def __init__(self, x: TExpr) -> None:
        if len(x.shape) > 2:
            raise ValueError(f"cannot transpose a {_describe(x)}")
        self.x = x
        self.shape = x.shape[::-1]
        self.is_row = len(x.shape) == 1 and not x.is_row
        self.on_state = x.on_state
        self.generators = x.generators

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        return self.x.lower(ctx, env, idx[::-1])


_OPERATIONS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "^": lambda a, b: a**b,
}


class _Elementwise(TExpr):
    """``a op b`` component by component; a scalar operand is broadcast."""

    def __init__(self, op: str, a: TExpr, b: TExpr) -> None:
        if a.shape and b.shape and (a.shape != b.shape or a.is_row != b.is_row):
            raise ValueError(f"operator {op!r} between a {_describe(a)} and a {_describe(b)}")
        wide = a if a.shape else b
        self.op, self.a, self.b = op, a, b
        self.shape, self.is_row = wide.shape, wide.is_row
        self.on_state = a.on_state or b.on_state
        self.generators = a.generators | b.generators

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        a = self.a.lower(ctx, env, idx if self.a.shape else ())
        b = self.b.lower(ctx, env, idx if self.b.shape else ())
        return _OPERATIONS[self.op](a, b)


def _combine(op: str, a: Operand, b: Operand) -> TExpr:
    return _Elementwise(op, _as_texpr(a), _as_texpr(b))


def elementwise(op: str, a: Operand, b: Operand) -> TExpr:
    """The dotted operators ``.+ .- .* ./ .^``: ``op`` is one of ``+ - * / ^``."""
    if op not in _OPERATIONS:
        raise ValueError(f"op must be one of {sorted(_OPERATIONS)}, got {op!r}")
    return _combine(op, a, b)


def _matrix_view(x: TExpr) -> tuple[int | None, int | None]:
    """(rows, columns) in Julia's sense; None marks the absent axis of a vector or row."""
    if x.is_row:
        return None, x.shape[0]
    if len(x.shape) == 1:
        return x.shape[0], None
    if len(x.shape) == 2:
        return x.shape
    raise ValueError(f"'*' is not defined on a {_describe(x)}")


class _Product(TExpr):
    """Julia's ``a * b`` on non-scalars: matrix–vector, matrix–matrix, dot and outer products."""

    def __init__(self, a: TExpr, b: TExpr) -> None:
        (rows, inner_a), (inner_b, columns) = _matrix_view(a), _matrix_view(b)
        if inner_a != inner_b:
            raise ValueError(
                f"'*' between a {_describe(a)} and a {_describe(b)}: inner sizes differ "
                "(use a transpose ' for a dot product, or .* for componentwise)"
            )
        self.a, self.b = a, b
        self.rows, self.inner, self.columns = rows, inner_a, columns
        self.shape = tuple(size for size in (rows, columns) if size is not None)
        self.is_row = rows is None and columns is not None
        self.on_state = a.on_state or b.on_state
        self.generators = a.generators | b.generators

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        rest = list(idx)
        row = rest.pop(0) if self.rows is not None else None
        column = rest.pop(0) if self.columns is not None else None
        inner = ctx.fresh("j", self.inner) if self.inner is not None else None
        a = self.a.lower(ctx, env, tuple(x for x in (row, inner) if x is not None))
        b = self.b.lower(ctx, env, tuple(x for x in (inner, column) if x is not None))
        return sp.Sum(a * b, (inner, 0, self.inner - 1)) if inner is not None else a * b


def multiply(a: Operand, b: Operand) -> TExpr:
    """Julia's ``*``: scaling when either side is a scalar, else a matrix/vector product."""
    a, b = _as_texpr(a), _as_texpr(b)
    if not a.shape or not b.shape:
        return _Elementwise("*", a, b)
    return _Product(a, b)


def divide(a: Operand, b: Operand) -> TExpr:
    """``a / b`` with a scalar ``b`` (use ``elementwise('/', a, b)`` for ``./``)."""
    a, b = _as_texpr(a), _as_texpr(b)
    if b.shape:
        raise ValueError(f"'/' divides by a scalar, not a {_describe(b)}; use ./ instead")
    return _Elementwise("/", a, b)


def power(a: Operand, b: Operand) -> TExpr:
    """``a ^ b`` of scalars (use ``elementwise('^', a, b)`` for ``.^``)."""
    a, b = _as_texpr(a), _as_texpr(b)
    if a.shape or b.shape:
        raise ValueError(
            f"'^' takes scalars, got a {_describe(a)} and a {_describe(b)}; use .^ instead"
        )
    return _Elementwise("^", a, b)


class _Applied(TExpr):
    def __init__(self, function_name: str, x: TExpr) -> None:
        self.function = _elementwise_function(function_name)
        self.x = x
        self.shape, self.is_row = x.shape, x.is_row
        self.on_state, self.generators = x.on_state, x.generators

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        return self.function(self.x.lower(ctx, env, idx))


def apply(function_name: str, x: Operand) -> TExpr:
    """An elementwise function by name: tanh, sigmoid, softplus, elu, relu, identity, exp,
    log, sin, cos, sqrt, abs (others raise :class:`SymbolicUnsupported`)."""
    return _Applied(function_name, _as_texpr(x))


class _SumOver(TExpr):
    def __init__(self, index: Index, body: TExpr) -> None:
        self.index, self.body = index, body
        self.shape, self.is_row = body.shape, body.is_row
        self.on_state = body.on_state
        self.generators = body.generators - {index}

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        bound = ctx.fresh("n", self.index.size)
        body = self.body.lower(ctx, {**env, self.index: bound}, idx)
        return sp.Sum(body, (bound, 0, self.index.size - 1))


def sum_over(index: Index, body: Operand) -> TExpr:
    """``sum(body for n in 1:M)`` with ``index`` the generator variable ``n``."""
    if not isinstance(index, Index):
        raise ValueError(f"index must be an Index from DynamicsBuilder.index, got {index!r}")
    return _SumOver(index, _as_texpr(body))


class _Stack(TExpr):
    """A vector literal ``[e1, e2, …]`` of scalars: component i is ``Σ_c δ(i, c) e_c``."""

    def __init__(self, items: tuple[TExpr, ...]) -> None:
        for position, item in enumerate(items):
            if item.shape:
                raise ValueError(
                    f"vector literal entry {position} is a {_describe(item)}, not a scalar"
                )
        self.items = items
        self.shape = (len(items),)
        self.on_state = any(item.on_state for item in items)
        self.generators = frozenset().union(*(item.generators for item in items))

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        (index,) = idx
        if index.is_Integer:
            return self.items[int(index)].lower(ctx, env, ())
        return sp.Add(
            *(
                sp.KroneckerDelta(index, position) * item.lower(ctx, env, ())
                for position, item in enumerate(self.items)
            )
        )


def stack(items: list[Operand] | tuple[Operand, ...]) -> TExpr:
    """The vector literal ``[e1, e2, …]`` of scalar entries."""
    if not items:
        raise ValueError("a vector literal needs at least one entry")
    return _Stack(tuple(_as_texpr(item) for item in items))


class _Total(TExpr):
    """The sum of all components: ``sum(x)`` of a vector, row or matrix."""

    def __init__(self, x: TExpr) -> None:
        self.x = x
        self.shape = ()
        self.on_state, self.generators = x.on_state, x.generators

    def lower(self, ctx: Lowering, env: Env, idx: tuple[sp.Expr, ...]) -> sp.Expr:
        bound = tuple(ctx.fresh("j", size) for size in self.x.shape)
        limits = [(index, 0, size - 1) for index, size in zip(bound, self.x.shape, strict=True)]
        body = self.x.lower(ctx, env, bound)
        return sp.Sum(body, *limits) if limits else body


def total(x: Operand) -> TExpr:
    """``sum(x)``: the sum of all components of ``x``."""
    return _Total(_as_texpr(x))


def dot(a: Operand, b: Operand) -> TExpr:
    """``dot(a, b)`` of two vectors."""
    return total(elementwise("*", a, b))


def norm(x: Operand) -> TExpr:
    """The Euclidean norm ``norm(x)``."""
    return apply("sqrt", total(elementwise("*", x, x)))


class DynamicsBuilder:
    """Leaves of the dynamics of one vector state: the state, t, parameters, time-only inputs.

    ``dim`` is the state's length, or its shape (a shape of another rank raises
    :class:`SymbolicUnsupported`).

    Every name is validated (a plain identifier) and mangled behind a role prefix, so the
    generated code holds only identifiers made here: ``p_w`` for parameter ``w``, ``tp_w`` for
    a hypernetwork parameter ``w(t)``, ``net_gate`` for the output of network ``gate``.
    """

    def __init__(self, state: str, dim: int | Shape) -> None:
        self.state_name = validate_name(state, "state")
        if isinstance(dim, tuple):
            if len(dim) != 1:
                raise SymbolicUnsupported(
                    f"state {state!r} has shape {dim}: symbolic traces handle vector states",
                    culprit=state,
                )
            (dim,) = dim
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int (the state's length), got {dim!r}")
        self.dim = dim
        self.state_base = sp.IndexedBase("z", real=True)
        self.state: TExpr = _Leaf(self.state_base, (dim,), on_state=True)
        self.time_symbol = sp.Symbol("t", real=True)
        self.time: TExpr = _Leaf(self.time_symbol, (), on_state=False)
        self._inputs: dict[str, tuple[InputSpec, TExpr]] = {}
        self._network_calls: dict[tuple[str, str], str] = {}

    @property
    def inputs(self) -> tuple[InputSpec, ...]:
        """The generated functions' arguments after ``t, z``, in the order registered."""
        return tuple(spec for spec, _ in self._inputs.values())

    def index(self, name: str, size: int) -> Index:
        """The variable of ``for name in 1:size``."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size of index {name!r} must be a positive int, got {size!r}")
        return Index(validate_name(name, "index name"), size)

    def param(self, name: str, shape: Shape) -> TExpr:
        """A free parameter tensor."""
        return self._register("param", "p_", name, shape)

    def time_param(self, name: str, shape: Shape) -> TExpr:
        """A parameter given by a hypernetwork of t (``w(t) :: Real[M, D] = hyper(t)``)."""
        return self._register("time_param", "tp_", name, shape)

    def network(self, name: str, shape: Shape, *args: Operand) -> TExpr:
        """The output (of ``shape``) of network ``name`` called on time-only ``args``.

        A network applied to the state makes the Jacobian opaque: :class:`SymbolicUnsupported`.
        """
        validate_name(name, "network name")
        arguments = tuple(_as_texpr(arg) for arg in args)
        for arg in arguments:
            if arg.on_state:
                raise SymbolicUnsupported(
                    f"network {name!r} is applied to the state {self.state_name!r}, so its "
                    "Jacobian has no closed form",
                    culprit=name,
                )
            if arg.generators:
                raise SymbolicUnsupported(
                    f"network {name!r} is called with a generator variable", culprit=name
                )
        key = (name, repr([_signature(arg) for arg in arguments]))
        argument = self._network_calls.get(key)
        if argument is None:
            count = sum(1 for called, _ in self._network_calls if called == name)
            argument = mangle("net_", name) + (f"_{count}" if count else "")
            self._network_calls[key] = argument
            self._add(InputSpec(argument, "network", name, _check_shape(shape), arguments))
        return self._inputs[argument][1]

    def _register(self, kind: str, prefix: str, name: str, shape: Shape) -> TExpr:
        argument = mangle(prefix, name)
        if argument in self._inputs:
            spec, leaf = self._inputs[argument]
            if spec.shape != tuple(shape):
                raise ValueError(f"{kind} {name!r} registered with shapes {spec.shape} and {shape}")
            return leaf
        return self._add(InputSpec(argument, kind, name, _check_shape(shape)))

    def _add(self, spec: InputSpec) -> TExpr:
        symbol = (
            sp.IndexedBase(spec.argument, real=True)
            if spec.shape
            else sp.Symbol(spec.argument, real=True)
        )
        leaf = _Leaf(symbol, spec.shape, on_state=False)
        self._inputs[spec.argument] = (spec, leaf)
        return leaf


def _check_shape(shape: Shape) -> Shape:
    shape = tuple(shape)
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape):
        raise ValueError(f"shape must be a tuple of positive ints, got {shape!r}")
    return shape


def _signature(x: TExpr) -> str:
    """A structural key of a time-only expression (equal calls share one network input)."""
    ctx = Lowering()
    idx = tuple(ctx.fresh("s", size) for size in x.shape)
    return sp.srepr(x.lower(ctx, {}, idx))
