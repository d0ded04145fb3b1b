"""The elementwise functions the symbolic trace knows, as sympy functions with exact derivatives.

sympy lacks sigmoid, softplus, ELU and ReLU as functions with the derivatives we want to share
with the function value, so they are defined here: ``σ' = σ(1 − σ)``, ``softplus' = σ``,
``elu' = min(elu + 1, 1)`` (equal to 1 for x > 0 and eˣ otherwise, continuous at 0) and
``relu' = step`` (0 at x = 0, as torch's ReLU gradient). tanh keeps sympy's ``1 − tanh²``.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from odedsl.symbolic.errors import SymbolicUnsupported


class _RealFunction(sp.Function):
    """A function of one real argument with a real value."""

    nargs = 1

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class Sigmoid(_RealFunction):
    """The logistic function 1 / (1 + e⁻ˣ)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        value = Sigmoid(self.args[0])
        return value * (1 - value)


class Softplus(_RealFunction):
    """log(1 + eˣ)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return Sigmoid(self.args[0])


class Elu(_RealFunction):
    """x for x > 0, eˣ − 1 otherwise (α = 1)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.Min(Elu(self.args[0]) + 1, 1)


class Step(_RealFunction):
    """1 for x > 0, 0 otherwise: the derivative of ReLU."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero


class Relu(_RealFunction):
    """max(x, 0)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return Step(self.args[0])


def _identity(x: sp.Expr) -> sp.Expr:
    return x


ELEMENTWISE: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "tanh": sp.tanh,
    "sigmoid": Sigmoid,
    "softplus": Softplus,
    "elu": Elu,
    "relu": Relu,
    "identity": _identity,
    "exp": sp.exp,
    "log": sp.log,
    "sin": sp.sin,
    "cos": sp.cos,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
}
"""Function names the builder accepts (the compiler maps spec spellings onto these)."""


def elementwise(name: str) -> Callable[[sp.Expr], sp.Expr]:
    """The sympy function for ``name``, or :class:`SymbolicUnsupported` naming the known ones."""
    try:
        return ELEMENTWISE[name]
    except KeyError:
        known = ", ".join(sorted(ELEMENTWISE))
        raise SymbolicUnsupported(
            f"function {name!r} has no symbolic derivative here (known: {known})", culprit=name
        ) from None
