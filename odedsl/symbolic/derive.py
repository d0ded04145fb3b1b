"""Derivation of ``tr(∂f/∂z)`` in index form.

``f_i`` is differentiated by sympy with respect to ``z[k]`` (each ``z[j]`` gives a
``KroneckerDelta(j, k)``), the deltas are summed away, ``k`` is set to ``i`` and the result
is summed over ``i``. Nothing is unrolled over the state's dimension: the trace keeps the sums
of ``f`` and costs what ``f`` costs, e.g. ``Σ_n g_n (1 − tanh²(a_n)) Σ_i u_ni w_ni`` for the
gated units.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from odedsl.symbolic.errors import SymbolicUnsupported
from odedsl.symbolic.tensor import DynamicsBuilder, InputSpec, Lowering, TExpr


@dataclass(frozen=True)
class DerivedDynamics:
    """``f`` (component ``component``) and ``trace`` of its Jacobian, in sympy index form."""

    state_dim: int
    state: sp.IndexedBase
    time: sp.Symbol
    component: sp.Idx
    f: sp.Expr
    trace: sp.Expr
    inputs: tuple[InputSpec, ...]


def derive(builder: DynamicsBuilder, f: TExpr) -> DerivedDynamics:
    """Lower ``f`` (the right-hand side, a vector of the state's length) and derive its trace."""
    if not isinstance(f, TExpr):
        raise ValueError(f"f must be a TExpr built with the DynamicsBuilder, got {f!r}")
    if f.shape != (builder.dim,) or f.is_row:
        raise ValueError(
            f"the dynamics must be a vector of length {builder.dim} like the state "
            f"{builder.state_name!r}, got shape {f.shape}{' (a row)' if f.is_row else ''}"
        )
    if f.generators:
        names = ", ".join(sorted(index.name for index in f.generators))
        raise ValueError(f"generator index {names} is used outside its sum(... for ...)")
    dim, z = builder.dim, builder.state_base
    component, wrt = sp.Idx("i", dim), sp.Idx("k", dim)
    f_i, _ = canonical_bound_indices(f.lower(Lowering(), {}, (component,)))
    jacobian_ik = eliminate_deltas(sp.diff(f_i, z[wrt]))
    trace = eliminate_deltas(sp.Sum(jacobian_ik.subs(wrt, component), (component, 0, dim - 1)))
    if trace.has(sp.Derivative):
        raise SymbolicUnsupported(f"sympy left an unevaluated derivative in the trace: {trace}")
    return DerivedDynamics(dim, z, builder.time_symbol, component, f_i, trace, builder.inputs)


def canonical_bound_indices(expr: sp.Expr) -> tuple[sp.Expr, int]:
    """Rename the indices each ``Sum`` binds after its letter and its nesting height (``j_1``
    for a sum holding no other sum), so that equal subexpressions written twice become equal
    sympy expressions and common subexpression elimination finds them. Returns the expression
    and its height."""
    if isinstance(expr, sp.Sum):
        function, height = canonical_bound_indices(expr.function)
        height += 1
        limits = []
        for position, (index, low, high) in enumerate(expr.limits):
            name = f"{str(index.label)[0]}_{height}" + (f"_{position}" if position else "")
            renamed = sp.Idx(name, (low, high))
            function = function.subs(index, renamed)
            limits.append((renamed, low, high))
        return sp.Sum(function, *limits), height
    if not expr.args or isinstance(expr, sp.Indexed | sp.Idx):
        return expr, 0
    pairs = [canonical_bound_indices(arg) for arg in expr.args]
    return expr.func(*(arg for arg, _ in pairs)), max(height for _, height in pairs)


def eliminate_deltas(expr: sp.Expr) -> sp.Expr:
    """Sum away every ``KroneckerDelta`` whose index a surrounding ``Sum`` binds, bottom-up;
    replace sums of terms free of their index by a product and drop zero sums. Nothing else
    is rewritten, so no sum is ever unrolled."""
    if not expr.args or isinstance(expr, sp.Indexed | sp.Idx):
        return expr
    args = tuple(eliminate_deltas(arg) for arg in expr.args)
    if args != expr.args:
        expr = expr.func(*args)
    return _simplify_sum(expr) if isinstance(expr, sp.Sum) else expr


def _simplify_sum(total: sp.Sum) -> sp.Expr:
    function, limits = total.function, list(total.limits)
    if function == 0:
        return sp.S.Zero
    if isinstance(function, sp.Add) and function.has(sp.KroneckerDelta):
        return sp.Add(*(_simplify_sum(sp.Sum(term, *limits)) for term in function.args))
    changed = True
    while changed:
        changed = False
        for limit in limits:
            delta, other = _delta_on(function, limit)
            if delta is not None:
                factors = list(sp.Mul.make_args(function))
                factors.remove(delta)
                function = sp.Mul(*factors).subs(limit[0], other)
                limits.remove(limit)
                changed = True
                break
    for limit in [limit for limit in limits if not function.has(limit[0])]:
        function = function * (limit[2] - limit[1] + 1)
        limits.remove(limit)
    if function == 0:
        return sp.S.Zero
    return sp.Sum(function, *limits) if limits else function


def _delta_on(function: sp.Expr, limit: tuple) -> tuple[sp.Expr | None, sp.Expr | None]:
    """A ``KroneckerDelta(var, other)`` factor of ``function`` with ``other`` in the limit's
    range, so that summing over ``var`` sets ``var = other``."""
    var, low, high = limit
    for factor in sp.Mul.make_args(function):
        if isinstance(factor, sp.KroneckerDelta) and var in factor.args:
            first, second = factor.args[:2]
            other = second if first == var else first
            if _within(other, low, high):
                return factor, other
    return None, None


def _within(index: sp.Expr, low: sp.Expr, high: sp.Expr) -> bool:
    if index.is_Integer:
        return bool(low <= index <= high)
    if isinstance(index, sp.Idx) and index.lower is not None:
        return bool(low <= index.lower and index.upper <= high)
    return False
