"""A fixed-grid step engine that knows each step's end points, ``(y0, f0)`` and ``(y1, f1)``.

``FixedGridSolver`` drives an engine through ``step``, ``next_first_stage`` and
``interpolate`` (see its ``_start_stages``); ``RungeKuttaStages`` is the explicit one. Methods
whose steps are not an explicit stage combination (implicit Runge–Kutta, fixed-step Adams)
subclass ``EndpointStages``: they implement ``step`` and get ``f0`` bookkeeping and dense
output (linear, or cubic Hermite through both end points) from here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from .interpolation import hermite_basis
from .runge_kutta import Func, check_derivative


class EndpointStages:
    """``f0 = f(t0, y0)`` of the current step, its end ``y1`` (and ``f1`` once known).

    States are flat; ``func`` sees them in ``y0``'s shape. ``f0`` joins the autograd graph
    (``track_graph``) when grad mode is on and ``y0`` or ``f(t0, y0)`` requires grad.
    """

    def __init__(self, func: Func, y0: Tensor, t0: float, interp: str) -> None:
        self.func = func
        self.shape = y0.shape
        self.dtype = y0.dtype
        self.device = y0.device
        self.interp = interp
        f0 = func(self.time(t0), y0)
        check_derivative(f0, y0)
        self.track_graph = torch.is_grad_enabled() and (y0.requires_grad or f0.requires_grad)
        self.nfe = 1
        self.f0 = f0.reshape(-1) if self.track_graph else f0.detach().reshape(-1)
        self.y1: Tensor | None = None
        self.f1: Tensor | None = None

    def time(self, t: float) -> Tensor:
        """``t`` as the 0-dim tensor func receives."""
        return torch.scalar_tensor(t, dtype=self.dtype, device=self.device)

    def evaluate(self, t: float, y: Tensor) -> Tensor:
        """``func(t, y)`` on a flat state, flat, counted."""
        self.nfe += 1
        f = self.func(self.time(t), y.view(self.shape)).reshape(-1)
        return f if self.track_graph else f.detach()

    def step(self, t0: float, h: float, t1: float, y0: Tensor, left_of_jump: bool) -> Tensor:
        """Advance ``y0`` from ``t0`` to ``t1 = t0 + h``; set ``y1`` (and ``f1`` if known)."""
        raise NotImplementedError

    def next_first_stage(self, t1: float, y1: Tensor) -> None:
        """Make ``f0`` hold ``f(t1, y1)`` for the next step (reusing ``f1`` when known)."""
        self.f0 = self.f1 if self.f1 is not None else self.evaluate(t1, y1)
        self.f1 = None

    def interpolate(
        self, t0: float, h: float, t1: float, y0: Tensor, theta: Sequence[float]
    ) -> Tensor:
        """The states at ``t0 + θh`` for each θ in (0, 1), as rows of an ``(m, n)`` tensor."""
        y1 = self.y1
        assert y1 is not None, "interpolate follows a step"
        w = torch.tensor(np.asarray(theta), dtype=self.dtype, device=self.device)[:, None]
        if self.interp == "linear":
            return y0 + w * (y1 - y0)
        if self.f1 is None:
            self.f1 = self.evaluate(t1, y1)
        basis = torch.tensor(hermite_basis(np.asarray(theta)), dtype=self.dtype, device=self.device)
        h00, h10, h01, h11 = basis.unbind(1)
        return (
            h00[:, None] * y0
            + h01[:, None] * y1
            + (h * h10)[:, None] * self.f0
            + (h * h11)[:, None] * self.f1
        )
