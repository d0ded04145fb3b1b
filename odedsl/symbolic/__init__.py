"""Symbolic traces of closed-form dynamics (sympy only; torch appears in emitted text only).

For dynamics closed-form in the state, ``tr(∂f/∂z)`` is derived exactly and emitted as torch
code costing what ``f`` costs (O(B·M·D) for M units on a D-dimensional state), where autograd's
exact trace needs D backward passes. Pipeline::

    b = DynamicsBuilder("z", dim=D)              # leaves: b.state, b.time, b.param(...), ...
    f = ...                                      # the spec's expression, rebuilt with tensor ops
    emitted = symbolic_dynamics(b, f)            # = emit_torch(derive(b, f))
    emitted.source                               # def dynamics(...), def dynamics_and_trace(...)

Supported ("closed-form in z"): any expression in the state ``z`` (a vector), ``t``, constants,
parameters, hypernetwork parameters ``w(t)`` and outputs of networks called on time-only
arguments, built from ``+ - * / ^`` (Julia meaning: ``*`` scales or is a matrix/vector product,
``w[n]' * z`` is a dot product), componentwise ``elementwise(op, a, b)``, subscripts by
generator variables or integers, ``'``, ``sum(... for n in 1:M)``, vector literals ``[e1, e2]``,
``sum``, ``dot``, ``norm`` and the elementwise functions tanh, sigmoid, softplus, elu, relu
(derivative: a step), identity, exp, log, sin, cos, sqrt, abs. That covers planar units
``u h(w'z + b)``, sums of gated units ``Σ_n g(t)_n u_n h(w_n'z + b_n)``, hypernetwork units with
``w(t)``, several kinds of units added together, linear terms ``A z``, explicit MLPs
``W2 tanh(W1 z + b1)``, elementwise functions of ``z``, and vectors of scalar expressions in its
components.

Not supported, raising :class:`SymbolicUnsupported` with a reason: a network applied to the
state (opaque Jacobian), functions outside the list, generators over part of an axis,
subscripts that are expressions, states that are not vectors.
"""

from __future__ import annotations

from odedsl.symbolic.derive import DerivedDynamics, derive
from odedsl.symbolic.emit import EmittedDynamics, emit_torch
from odedsl.symbolic.errors import SymbolicUnsupported
from odedsl.symbolic.functions import ELEMENTWISE
from odedsl.symbolic.tensor import (
    DynamicsBuilder,
    Index,
    InputSpec,
    TExpr,
    apply,
    constant,
    divide,
    dot,
    elementwise,
    multiply,
    norm,
    power,
    stack,
    sum_over,
    total,
)

__all__ = [
    "ELEMENTWISE",
    "DerivedDynamics",
    "DynamicsBuilder",
    "EmittedDynamics",
    "Index",
    "InputSpec",
    "SymbolicUnsupported",
    "TExpr",
    "apply",
    "constant",
    "derive",
    "divide",
    "dot",
    "elementwise",
    "emit_torch",
    "multiply",
    "norm",
    "power",
    "stack",
    "sum_over",
    "symbolic_dynamics",
    "total",
]


def symbolic_dynamics(builder: DynamicsBuilder, f: TExpr) -> EmittedDynamics:
    """Derive the trace of ``f`` and emit torch code for ``f`` and ``(f, trace)``."""
    return emit_torch(derive(builder, f))
