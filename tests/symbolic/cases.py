"""Dynamics for the symbolic tests: each case builds the symbolic form and a plain torch
reference of the same f (written independently, for autograd to differentiate)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from odedsl.symbolic import (
    DynamicsBuilder,
    TExpr,
    apply,
    dot,
    elementwise,
    norm,
    power,
    stack,
    sum_over,
)

D, M = 3, 4  # small sizes keep sympy fast; the code emitted does not depend on them

Reference = Callable[[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]

TORCH_ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "elu": F.elu,
    "relu": torch.relu,
    "identity": lambda x: x,
}


@dataclass
class Case:
    builder: DynamicsBuilder
    f: TExpr
    reference: Reference


def gated(activation: str = "tanh", dim: int = D, units: int = M) -> Case:
    """dz/dt = Σ_n gate(t)_n u_n h(w_n'z + b_n), the paper's gated CNF."""
    b = DynamicsBuilder("z", dim)
    w, u, bias = b.param("w", (units, dim)), b.param("u", (units, dim)), b.param("b", (units,))
    gate = b.network("gate", (units,), b.time)
    n = b.index("n", units)
    f = sum_over(n, gate[n] * u[n] * apply(activation, w[n].T * b.state + bias[n]))
    h = TORCH_ACTIVATIONS[activation]

    def reference(t, z, p):
        return (p["gate"] * h(z @ p["w"].T + p["b"])) @ p["u"]

    return Case(b, f, reference)


def planar(activation: str) -> Case:
    """dz/dt = u h(w'z + b): a single unit, no sum."""
    b = DynamicsBuilder("z", D)
    w, u, bias = b.param("w", (D,)), b.param("u", (D,)), b.param("b", ())
    f = u * apply(activation, w.T * b.state + bias)
    h = TORCH_ACTIVATIONS[activation]

    def reference(t, z, p):
        return h(z @ p["w"] + p["b"])[:, None] * p["u"]

    return Case(b, f, reference)


def hypernetwork() -> Case:
    """Units whose weights w(t), u(t), b(t) come from a hypernetwork of t."""
    b = DynamicsBuilder("z", D)
    w, u = b.time_param("w", (M, D)), b.time_param("u", (M, D))
    bias = b.time_param("b", (M,))
    n = b.index("n", M)
    f = sum_over(n, u[n] * apply("tanh", w[n].T * b.state + bias[n]))

    def reference(t, z, p):
        return torch.tanh(z @ p["w"].T + p["b"]) @ p["u"]

    return Case(b, f, reference)


def mixed() -> Case:
    """Several kinds of units and terms added: gated sigmoid units, softplus units over a
    second generator, a linear term A z, a time-scaled elementwise term and a cross term."""
    b = DynamicsBuilder("z", D)
    z, t = b.state, b.time
    w, u, c = b.param("w", (M, D)), b.param("u", (M, D)), b.param("c", (M,))
    v, a = b.param("v", (2, D)), b.param("a", (2, D))
    A = b.param("A", (D, D))
    gate = b.network("gate", (M,), t)
    n, m = b.index("n", M), b.index("m", 2)
    f = (
        sum_over(n, gate[n] * u[n] * apply("sigmoid", w[n].T * z + c[n]))
        + sum_over(m, a[m] * apply("softplus", v[m].T * z))
        + A * z
        + apply("sin", t) * apply("elu", z)
        + apply("tanh", z[0]) * u[1]
    )

    def reference(t, z, p):
        return (
            (p["gate"] * torch.sigmoid(z @ p["w"].T + p["c"])) @ p["u"]
            + F.softplus(z @ p["v"].T) @ p["a"]
            + z @ p["A"].T
            + torch.sin(t) * F.elu(z)
            + torch.tanh(z[:, :1]) * p["u"][1]
        )

    return Case(b, f, reference)


def elementwise_functions() -> Case:
    """Elementwise functions of z with constants, powers, a norm and a dot product."""
    b = DynamicsBuilder("z", D)
    z, t = b.state, b.time
    s = b.param("s", ())
    f = (
        -0.5 * z
        + apply("exp", -elementwise("^", z, 2))
        + apply("log", 1 + elementwise("*", z, z)) / 3
        + apply("cos", z) * s
        + elementwise("*", apply("abs", z), apply("sqrt", 1 + elementwise("^", z, 2)))
        + norm(z) * z * t
        + dot(z, z) * apply("identity", z)
    )

    def reference(t, z, p):
        return (
            -0.5 * z
            + torch.exp(-(z**2))
            + torch.log(1 + z * z) / 3
            + torch.cos(z) * p["s"]
            + torch.abs(z) * torch.sqrt(1 + z**2)
            + z.norm(dim=1, keepdim=True) * z * t
            + (z * z).sum(1, keepdim=True) * z
        )

    return Case(b, f, reference)


def matrix_mlp() -> Case:
    """An explicit one-hidden-layer MLP written with matrices: W2 tanh.(W1 z + b1) + b2."""
    b = DynamicsBuilder("z", D)
    w1, b1 = b.param("W1", (M, D)), b.param("b1", (M,))
    w2, b2 = b.param("W2", (D, M)), b.param("b2", (D,))
    f = w2 * apply("tanh", w1 * b.state + b1) + b2

    def reference(t, z, p):
        return torch.tanh(z @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"]

    return Case(b, f, reference)


def vector_literal() -> Case:
    """A vector literal [e1, e2, e3] of scalar expressions in the components of z."""
    b = DynamicsBuilder("z", D)
    z, t, u = b.state, b.time, b.param("u", (2,))
    f = stack([z[1] * u[0], -apply("sin", z[0]) + apply("tanh", z[2]) * t, apply("elu", z[2])])

    def reference(t, z, p):
        return torch.stack(
            [z[:, 1] * p["u"][0], -torch.sin(z[:, 0]) + torch.tanh(z[:, 2]) * t, F.elu(z[:, 2])],
            dim=1,
        )

    return Case(b, f, reference)


def squared_dot() -> Case:
    """(a'z)² u: differentiating the square repeats the dot product's bound index."""
    b = DynamicsBuilder("z", D)
    a, u = b.param("a", (D,)), b.param("u", (D,))
    f = power(dot(a, b.state), 2) * u

    def reference(t, z, p):
        return ((z @ p["a"]) ** 2)[:, None] * p["u"]

    return Case(b, f, reference)


def nested_generators() -> Case:
    """Σ_n Σ_m c_nm tanh(W_n'z) σ(V_m'z) W_n: a sum inside a sum, and a generator name
    reused by two sums, one inside the other's product."""
    b = DynamicsBuilder("z", D)
    z = b.state
    n, m = b.index("n", M), b.index("m", 2)
    W, V, c = b.param("W", (M, D)), b.param("V", (2, D)), b.param("c", (M, 2))
    P = b.param("P", (M, D))
    inner = sum_over(n, apply("tanh", W[n].T * z))  # a scalar, reusing the name n
    f = sum_over(
        n,
        sum_over(m, c[n, m] * apply("tanh", W[n].T * z) * apply("sigmoid", V[m].T * z)) * W[n]
        + inner * apply("softplus", W[n].T * z) * W[n]
        + (P[n].T * z) * (V[0].T * z) * W[n],  # two dot products in one product
    )

    def reference(t, z, p):
        h = torch.tanh(z @ p["W"].T)
        pairs = torch.einsum("nm,bn,bm->bn", p["c"], h, torch.sigmoid(z @ p["V"].T))
        bilinear = (z @ p["P"].T) * (z @ p["V"][0])[:, None]
        return (pairs + h.sum(1, keepdim=True) * F.softplus(z @ p["W"].T) + bilinear) @ p["W"]

    return Case(b, f, reference)


def quadratic_forms() -> Case:
    """tanh(z'Az) z + A' sin.(A z) + divisions by scalars and componentwise powers."""
    b = DynamicsBuilder("z", D)
    z, A, s = b.state, b.param("A", (D, D)), b.param("s", ())
    f = (
        apply("tanh", z.T * A * z) * z
        + A.T * apply("sin", A * z)
        + z / (1 + dot(z, z))
        + elementwise("/", z, 1 + elementwise("^", z, 2)) * s
        + elementwise("^", apply("exp", 0.1 * z), z)
    )

    def reference(t, z, p):
        quadratic = torch.einsum("bi,ij,bj->b", z, p["A"], z)
        return (
            torch.tanh(quadratic)[:, None] * z
            + torch.sin(z @ p["A"].T) @ p["A"]
            + z / (1 + (z * z).sum(1, keepdim=True))
            + z / (1 + z**2) * p["s"]
            + torch.exp(0.1 * z) ** z
        )

    return Case(b, f, reference)
