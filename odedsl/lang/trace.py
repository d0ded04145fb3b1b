"""Which trace of ∂f/∂z a flow uses for its log-density, and why.

``:auto`` takes the symbolic trace when the dynamics are closed-form in the state (no network
is applied to anything that depends on it), else the exact trace by automatic differentiation
for small states and Hutchinson's estimator for large ones.
"""

from __future__ import annotations

from odedsl.lang import model as ir
from odedsl.lang.builtins import EXACT_TRACE_MAX_DIM
from odedsl.lang.diagnostics import Note, Reporter
from odedsl.lang.shapes import numel
from odedsl.lang.source import Span

SYMBOLIC_MAX_DEPTH = 50
"""Dynamics nested deeper than this have no symbolic trace: sympy differentiates and shares
subexpressions recursively, in time that grows fast with the depth (`tanh(` nested 50 deep
takes seconds, 100 deep about 20 s). `:auto` takes the exact or Hutchinson trace instead, and
`:symbolic` is refused (E084)."""


def network_on_state(rhs: ir.Expr) -> ir.NetworkCall | None:
    """The first network call whose arguments depend on the state, if any."""
    for node in ir.subexpressions(rhs):
        if isinstance(node, ir.NetworkCall) and any(
            isinstance(inner, ir.StateRef) for arg in node.args for inner in ir.subexpressions(arg)
        ):
            return node
    return None


def choose_trace(
    requested: str,
    derivative: ir.Derivative,
    state: ir.State,
    reporter: Reporter,
    requested_at: Span | None,
) -> tuple[str, str] | None:
    """The strategy and the reason for it; None after refusing ``:symbolic`` (E084)."""
    blocker = network_on_state(derivative.rhs)
    size = numel(state.shape)
    name = state.name
    if requested == "symbolic" and blocker is not None:
        reporter.error(
            "E084",
            f"`trace = :symbolic` needs dynamics in closed form, but `{blocker.network}` is "
            f"applied to the state `{name}` here: a network has no symbolic Jacobian",
            blocker.loc,
            help=f"use `trace = :auto` (here: {_fallback(size)}), `:exact` or `:hutchinson`",
            notes=[Note("the symbolic trace is requested here", requested_at)]
            if requested_at
            else [],
        )
        return None
    nesting = ir.depth(derivative.rhs)
    if requested == "symbolic" and nesting > SYMBOLIC_MAX_DEPTH:
        reporter.error(
            "E084",
            f"`trace = :symbolic` differentiates the dynamics symbolically, which takes "
            f"expressions at most {SYMBOLIC_MAX_DEPTH} levels deep; this one is {nesting}",
            derivative.rhs.loc,
            help=f"use `trace = :auto` (here: {_fallback(size)}), `:exact` or `:hutchinson`",
        )
        return None
    if requested != "auto":
        return requested, f"requested by `trace = :{requested}`"
    if blocker is None and nesting > SYMBOLIC_MAX_DEPTH:
        trace = "exact" if size is not None and size <= EXACT_TRACE_MAX_DIM else "hutchinson"
        return (
            trace,
            f"the dynamics nest {nesting} levels deep, more than the symbolic trace's "
            f"{SYMBOLIC_MAX_DEPTH}: {_fallback(size)}",
        )
    if blocker is None:
        return (
            "symbolic",
            f"the dynamics are closed-form in `{name}` (no network is applied to the state), "
            "so tr(∂f/∂z) is derived symbolically",
        )
    applied = f"`{blocker.network}` is applied to the state `{name}` (line {blocker.loc.line})"
    if size is not None and size <= EXACT_TRACE_MAX_DIM:
        return (
            "exact",
            f"{applied} and D = {size} <= {EXACT_TRACE_MAX_DIM}: the exact trace by "
            "automatic differentiation, one vector-Jacobian product per dimension",
        )
    return (
        "hutchinson",
        f"{applied} and D = {size} > {EXACT_TRACE_MAX_DIM}: Hutchinson's estimator, one "
        "vector-Jacobian product per evaluation with its noise drawn once per solve",
    )


def _fallback(size: int | None) -> str:
    if size is not None and size <= EXACT_TRACE_MAX_DIM:
        return f"exact, as D = {size}"
    return f"Hutchinson's estimator, as D = {size}"
