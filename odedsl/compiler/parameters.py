"""The free parameters of a spec, created with a seeded initialisation chosen by their use.

A parameter's role is read off the expressions that use it (the nearest operator around it,
looking through indexing, transposes, negation and generator sums):

| role | where it stands | initial values |
|---|---|---|
| input weight | a factor of a matrix or dot product (``w[n]' * z``, ``W * z``) | N(0, 1/fan_in) |
| bias | only ever added or subtracted (``w[n]' * z + b[n]``) | 0 |
| output scale | anywhere else (``u[n] * tanh(...)``, inside a function) | N(0, 0.01²) |

with fan_in the length of the parameter's last axis (the one a product contracts).

Small output scales make the initial dynamics nearly zero, so a flow starts near the identity
map and a classifier's ODE block near a skip connection, while the input weights keep unit
pre-activations so that the units are neither saturated nor linear. A parameter with several
roles takes the first of input weight, output scale, bias. Time-dependent parameters are the
outputs of their hypernetworks and hold no values of their own.

A parameter declared with an initial value (``a :: Real = 0.5``, ``z0 :: Real[2] = [1.0,
0.0]``) starts there, whatever its role. A ``Positive`` one (``σ :: Positive``) is stored
unconstrained, as the raw value r whose softplus log(1 + eʳ) the expressions read: r starts
at the inverse softplus log(eᵛ − 1) of its initial value v, 1.0 when none is given.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import nn

from odedsl.lang import model as ir

OUTPUT_SCALE = 0.01
"""Standard deviation of the initial output scales."""
POSITIVE_INIT = 1.0
"""The initial value of a ``Positive`` parameter declared without one."""
_PRIORITY = ("weight", "output", "bias")
_TRANSPARENT = (ir.Index, ir.Transpose, ir.Neg, ir.Sum)


def roles(spec: ir.CheckedModel) -> dict[str, str]:
    """The role (``weight``, ``bias`` or ``output``) of each free parameter the spec uses."""
    found: dict[str, set[str]] = {}
    for expr in expressions(spec):
        for name, role in _uses(expr, "output"):
            found.setdefault(name, set()).add(role)
    return {name: next(r for r in _PRIORITY if r in kinds) for name, kinds in found.items()}


def create_parameters(spec: ir.CheckedModel, seed: int) -> dict[str, nn.Parameter]:
    """One ``nn.Parameter`` per free parameter, in declaration order, drawn from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    used = roles(spec)
    parameters = {}
    for param in spec.params:
        if param.hyper is not None:
            continue
        shape = tuple(param.shape)
        role = used.get(param.name, "output")
        if param.positive or param.init is not None:
            init = POSITIVE_INIT if param.init is None else param.init
            values = torch.tensor(init, dtype=torch.get_default_dtype())
            values = values.expand(shape).clone() if values.dim() == 0 else values.reshape(shape)
            if param.positive:
                values = inverse_softplus(values)
        elif role == "bias":
            values = torch.zeros(shape)
        else:
            fan_in = shape[-1] if shape else 1
            std = 1.0 / math.sqrt(fan_in) if role == "weight" else OUTPUT_SCALE
            values = std * torch.randn(shape, generator=generator)
        parameters[param.name] = nn.Parameter(values)
    return parameters


def inverse_softplus(value: torch.Tensor) -> torch.Tensor:
    """The r whose softplus log(1 + eʳ) is ``value`` (> 0): log(eᵛ − 1) = v + log(1 − e⁻ᵛ)."""
    return value + torch.log(-torch.expm1(-value))


def _uses(expr: ir.Expr, position: str) -> Iterator[tuple[str, str]]:
    """``(parameter, role)`` for each free parameter in ``expr``, standing in ``position``."""
    if isinstance(expr, ir.Var):
        if expr.role == "param" and expr.time is None:
            yield expr.name, position
        return
    if isinstance(expr, ir.BinOp):
        inner = {"@": "weight", "+": "bias", "-": "bias"}.get(expr.op, "output")
    elif isinstance(expr, ir.Call) and expr.function == "dot":
        inner = "weight"
    elif isinstance(expr, _TRANSPARENT):
        inner = position
    else:
        inner = "output"
    for child in children(expr):
        yield from _uses(child, inner)


def children(expr: ir.Expr) -> list[ir.Expr]:
    """The direct subexpressions of ``expr`` (times at which values are read included)."""
    found: list[ir.Expr] = []
    for value in vars(expr).values():
        if isinstance(value, ir.Expr):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(v for v in value if isinstance(v, ir.Expr))
    return found


def expressions(spec: ir.CheckedModel) -> Iterator[ir.Expr]:
    """Every top-level expression of the spec's equations, conditions and likelihood terms."""
    dynamics = spec.dynamics
    yield from (d.rhs for d in dynamics.derivatives)
    yield from (s.rhs for s in dynamics.signals)
    yield from (i.value for i in dynamics.initial)
    if dynamics.base is not None:
        yield from dynamics.base.distribution.params.values()
    if spec.target is not None:
        yield spec.target.log_density
    yield from (a.value for a in spec.encoder)
    for latent in spec.latents:
        yield from latent.prior.params.values()
        yield from latent.posterior.params.values()
    for observation in spec.likelihood:
        yield observation.value
        yield from observation.distribution.params.values()
