"""A set of initial value problems with closed-form or tight-tolerance reference solutions.

Each right-hand side is written once against an array namespace (numpy or torch), so the
same definition drives scipy's ``solve_ivp`` (the reference) and odedsl. Shared by the tests
in this folder and by ``bench/solvers.py``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.integrate import solve_ivp
from scipy.linalg import expm

REFERENCE_TOL = 1e-12


@dataclass(frozen=True)
class Problem:
    """``dy/dt = rhs(t, y, xp)`` on ``[t0, t1]`` from ``y0``; ``exact(t)`` if known."""

    name: str
    rhs: Callable
    y0: tuple[float, ...]
    t0: float
    t1: float
    exact: Callable[[np.ndarray], np.ndarray] | None = None
    invariant: Callable | None = field(default=None, compare=False)

    def torch_func(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The right-hand side as an odedsl/torchdiffeq ``func(t, y)``."""
        return functools.partial(_call, self.rhs, torch)

    def times(self, n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return torch.linspace(self.t0, self.t1, n, dtype=dtype)

    def y0_tensor(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        return torch.tensor(self.y0, dtype=dtype)

    def reference(self, times: np.ndarray, tol: float = REFERENCE_TOL) -> np.ndarray:
        """``y`` at ``times``, shape ``(len(times), dim)``: closed form, else scipy DOP853."""
        times = np.asarray(times, dtype=np.float64)
        if self.exact is not None:
            return self.exact(times)
        return _reference(self, tuple(times.tolist()), tol)


def _call(rhs: Callable, xp, t, y):
    return rhs(t, y, xp)


def _stack(xp, parts):
    return xp.stack(parts, axis=-1) if xp is np else xp.stack(parts, dim=-1)


@functools.lru_cache(maxsize=64)
def _reference(problem: Problem, times: tuple[float, ...], tol: float) -> np.ndarray:
    solution = solve_ivp(
        lambda t, y: problem.rhs(t, y, np),
        (times[0], times[-1]),
        np.asarray(problem.y0),
        method="DOP853",
        t_eval=np.asarray(times),
        rtol=tol,
        atol=tol,
    )
    return solution.y.T


# Linear system y' = A y: a damped oscillator coupled to a decaying mode.
_A = np.array([[-0.1, 2.0, 0.0], [-2.0, -0.1, 0.5], [0.0, 0.0, -0.7]])


def _linear(t, y, xp):
    a = xp.asarray(_A) if xp is np else torch.as_tensor(_A, dtype=y.dtype)
    return y @ a.T


def _linear_exact(times: np.ndarray) -> np.ndarray:
    y0 = np.asarray(LINEAR.y0)
    return np.stack([expm(_A * t) @ y0 for t in times])


def _van_der_pol(t, y, xp, mu: float = 1.0):
    return _stack(xp, [y[..., 1], mu * (1 - y[..., 0] ** 2) * y[..., 1] - y[..., 0]])


def _lotka_volterra(t, y, xp, a=1.5, b=1.0, c=3.0, d=1.0):
    u, v = y[..., 0], y[..., 1]
    return _stack(xp, [a * u - b * u * v, -c * v + d * u * v])


def _kepler(t, y, xp):
    q1, q2, p1, p2 = y[..., 0], y[..., 1], y[..., 2], y[..., 3]
    r3 = (q1 * q1 + q2 * q2) ** 1.5
    return _stack(xp, [p1, p2, -q1 / r3, -q2 / r3])


def kepler_energy(y: np.ndarray) -> np.ndarray:
    """Hamiltonian of the Kepler problem, conserved along exact solutions."""
    y = np.asarray(y)
    return 0.5 * (y[..., 2] ** 2 + y[..., 3] ** 2) - 1.0 / np.hypot(y[..., 0], y[..., 1])


_KEPLER_E = 0.5
_ARENSTORF_MU = 0.012277471
_ARENSTORF_PERIOD = 17.0652165601579625588917206249


def _arenstorf(t, y, xp, mu: float = _ARENSTORF_MU):
    y1, y2, v1, v2 = y[..., 0], y[..., 1], y[..., 2], y[..., 3]
    mu_ = 1 - mu
    d1 = ((y1 + mu) ** 2 + y2**2) ** 1.5
    d2 = ((y1 - mu_) ** 2 + y2**2) ** 1.5
    a1 = y1 + 2 * v2 - mu_ * (y1 + mu) / d1 - mu * (y1 - mu_) / d2
    a2 = y2 - 2 * v1 - mu_ * y2 / d1 - mu * y2 / d2
    return _stack(xp, [v1, v2, a1, a2])


def _rotation(t, y, xp):
    """Rotation at angular speed |y|², which the flow conserves: nonlinear with a closed form."""
    speed = y[..., 0] ** 2 + y[..., 1] ** 2
    return _stack(xp, [-speed * y[..., 1], speed * y[..., 0]])


def _rotation_exact(times: np.ndarray) -> np.ndarray:
    y0 = np.asarray(ROTATION.y0)
    angle = float(y0 @ y0) * times
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * y0[0] - s * y0[1], s * y0[0] + c * y0[1]], axis=-1)


LINEAR = Problem("linear", _linear, (1.0, 0.0, 1.0), 0.0, 5.0, exact=_linear_exact)
VAN_DER_POL = Problem("van_der_pol", _van_der_pol, (2.0, 0.0), 0.0, 10.0)
LOTKA_VOLTERRA = Problem("lotka_volterra", _lotka_volterra, (1.0, 1.0), 0.0, 10.0)
KEPLER = Problem(
    "kepler",
    _kepler,
    (1 - _KEPLER_E, 0.0, 0.0, math.sqrt((1 + _KEPLER_E) / (1 - _KEPLER_E))),
    0.0,
    2 * math.pi,
    invariant=kepler_energy,
)
ARENSTORF = Problem(
    "arenstorf",
    _arenstorf,
    (0.994, 0.0, 0.0, -2.00158510637908252240537862224),
    0.0,
    _ARENSTORF_PERIOD,
)

ROTATION = Problem("rotation", _rotation, (1.0, 0.5), 0.0, 2.0, exact=_rotation_exact)

PROBLEMS: dict[str, Problem] = {
    p.name: p for p in (LINEAR, VAN_DER_POL, LOTKA_VOLTERRA, KEPLER, ARENSTORF)
}
"""The accuracy problem set; ``ROTATION`` (smooth, nonlinear, closed form) is for orders."""


class VanDerPolBatch(torch.nn.Module):
    """A batch of Van der Pol oscillators ``x'' = μ (1 - x²) x' - x``, one μ per row (a
    parameter, for gradients); the state is ``(x, x')`` per row, ``t`` unused."""

    def __init__(self, mu: torch.Tensor) -> None:
        super().__init__()
        self.mu = torch.nn.Parameter(mu)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x, v = y[:, 0], y[:, 1]
        return torch.stack([v, self.mu * (1 - x * x) * v - x], dim=1)
