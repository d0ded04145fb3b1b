"""A flow's dynamics rebuilt with :mod:`odedsl.symbolic`, for the symbolic trace.

The checked right-hand side of ``dz/dt`` is translated node by node into the
:class:`~odedsl.symbolic.DynamicsBuilder`'s operations (leaves for the state, t, parameters,
hypernetwork parameters and time-only network outputs; Julia's operators as in the spec);
:func:`odedsl.symbolic.symbolic_dynamics` then derives ``tr ∂f/∂z`` and emits code computing
``f`` and the trace with shared subexpressions. Anything outside the closed-form class raises
:class:`SymbolicError` located at the node that could not be translated.
"""

from __future__ import annotations

from dataclasses import dataclass

from odedsl.lang import model as ir
from odedsl.lang.trace import SYMBOLIC_MAX_DEPTH
from odedsl.symbolic import (
    DynamicsBuilder,
    EmittedDynamics,
    Index,
    SymbolicUnsupported,
    TExpr,
    apply,
    constant,
    divide,
    dot,
    elementwise,
    multiply,
    norm,
    power,
    sum_over,
    symbolic_dynamics,
    total,
)

_FUNCTIONS = ("exp", "log", "tanh", "sigmoid", "softplus", "elu", "relu", "sin", "cos", "sqrt")
_FUNCTIONS += ("abs", "identity")


class SymbolicError(Exception):
    """The dynamics are not closed-form in the state: ``reason`` and the culprit's ``loc``."""

    def __init__(self, reason: str, loc: object) -> None:
        super().__init__(reason)
        self.reason, self.loc = reason, loc


@dataclass(frozen=True)
class SymbolicForm:
    """The emitted dynamics and, for each of its time-only network inputs, the checked call
    whose value it is (the compiler evaluates those once per call of the dynamics)."""

    emitted: EmittedDynamics
    network_inputs: dict[str, ir.NetworkCall]


def symbolic_form(spec: ir.CheckedModel, derivative: ir.Derivative) -> SymbolicForm:
    """Translate and differentiate ``derivative``; :class:`SymbolicError` if impossible."""
    nesting = ir.depth(derivative.rhs)
    if nesting > SYMBOLIC_MAX_DEPTH:
        reason = f"the dynamics nest {nesting} levels deep, more than {SYMBOLIC_MAX_DEPTH}"
        raise SymbolicError(reason, derivative.rhs.loc)
    state = spec.state(derivative.state)
    try:
        builder = DynamicsBuilder("z", tuple(state.shape))  # type: ignore[arg-type]
    except SymbolicUnsupported as error:
        raise SymbolicError(error.reason, state.loc) from None
    translator = _Translator(spec, builder)
    f = translator.translate(derivative.rhs)
    try:
        emitted = symbolic_dynamics(builder, f)
    except (SymbolicUnsupported, ValueError) as error:
        raise SymbolicError(str(error), derivative.rhs.loc) from None
    return SymbolicForm(emitted, translator.network_inputs)


class _Translator:
    def __init__(self, spec: ir.CheckedModel, builder: DynamicsBuilder) -> None:
        self.spec = spec
        self.b = builder
        self.indices: dict[str, Index] = {}
        self.network_inputs: dict[str, ir.NetworkCall] = {}

    def translate(self, expr: ir.Expr) -> TExpr:
        try:
            return self._node(expr)
        except SymbolicError:
            raise
        except SymbolicUnsupported as error:
            raise SymbolicError(error.reason, expr.loc) from None
        except ValueError as error:
            raise SymbolicError(str(error), expr.loc) from None

    def _node(self, expr: ir.Expr) -> TExpr:
        if isinstance(expr, ir.Const):
            return constant(expr.value)
        if isinstance(expr, ir.StateRef):
            return self.b.state
        if isinstance(expr, ir.Var):
            return self._var(expr)
        if isinstance(expr, ir.NetworkCall):
            return self._network(expr)
        if isinstance(expr, ir.Neg):
            return -self.translate(expr.operand)
        if isinstance(expr, ir.Transpose):
            return self.translate(expr.operand).T
        if isinstance(expr, ir.BinOp):
            return self._binary(expr)
        if isinstance(expr, ir.Index):
            return self._index(expr)
        if isinstance(expr, ir.Sum):
            return self._sum(expr)
        if isinstance(expr, ir.Call):
            return self._call(expr)
        raise SymbolicUnsupported(f"{type(expr).__name__} has no symbolic form")

    def _var(self, expr: ir.Var) -> TExpr:
        shape = tuple(expr.shape or ())
        if expr.role == "param":
            if expr.time is None:
                return self.b.param(expr.name, shape)  # type: ignore[arg-type]
            return self.b.time_param(expr.name, shape)  # type: ignore[arg-type]
        if expr.role == "time":
            return self.b.time
        if expr.role == "index":
            raise SymbolicUnsupported("a generator variable used as a number")
        raise SymbolicUnsupported(f"a {expr.role} value in the dynamics")

    def _network(self, expr: ir.NetworkCall) -> TExpr:
        before = len(self.b.inputs)
        args = [self.translate(arg) for arg in expr.args]
        leaf = self.b.network(expr.network, tuple(expr.shape or ()), *args)  # type: ignore[arg-type]
        if len(self.b.inputs) > before:
            self.network_inputs[self.b.inputs[-1].argument] = expr
        return leaf

    def _binary(self, expr: ir.BinOp) -> TExpr:
        a, b = self.translate(expr.left), self.translate(expr.right)
        if expr.op == "@":
            return multiply(a, b)
        if expr.op in "+-":
            return a + b if expr.op == "+" else a - b
        scalar = not a.shape or not b.shape
        if expr.op == "*":
            return multiply(a, b) if scalar else elementwise("*", a, b)
        if expr.op == "/":
            return divide(a, b) if not b.shape else elementwise("/", a, b)
        return power(a, b) if not a.shape else elementwise("^", a, b)

    def _index(self, expr: ir.Index) -> TExpr:
        base = self.translate(expr.base)
        subscripts: list[Index | int] = []
        for index in expr.indices:
            if isinstance(index, ir.Const):
                subscripts.append(int(index.value) - 1)
            elif isinstance(index, ir.Var) and index.role == "index":
                subscripts.append(self.indices[index.name])
            else:
                raise SymbolicUnsupported("only integers and generator variables index here")
        return base[tuple(subscripts)]

    def _sum(self, expr: ir.Sum) -> TExpr:
        if expr.start != 1:
            raise SymbolicUnsupported(
                f"sum over {expr.start}:{expr.stop}: symbolic sums run over whole axes 1:M"
            )
        index = self.b.index("n", expr.stop)
        outer = self.indices.get(expr.var)
        self.indices[expr.var] = index
        try:
            return sum_over(index, self.translate(expr.body))
        finally:
            if outer is None:
                del self.indices[expr.var]
            else:
                self.indices[expr.var] = outer

    def _call(self, expr: ir.Call) -> TExpr:
        args = [self.translate(arg) for arg in expr.args]
        if expr.function in _FUNCTIONS:
            return apply(expr.function, args[0])
        if expr.function == "norm":
            return norm(args[0])
        if expr.function == "dot":
            return dot(args[0], args[1])
        if expr.function == "sum":
            return total(args[0])
        raise SymbolicUnsupported(f"`{expr.function}` has no symbolic derivative here")
