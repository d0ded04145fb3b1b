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

    def __init__(
        self, func: Func, y0: Tensor, t0: float, interp: str, at: Tensor | None = None
    ) -> None:
        self.func = func
        self.shape = y0.shape
        self.dtype = y0.dtype
        self.device = y0.device
        self.interp = interp
        f0 = func(self.time(t0) if at is None else at, y0)
        check_derivative(f0, y0)
        self.track_graph = torch.is_grad_enabled() and (y0.requires_grad or f0.requires_grad)
        self.nfe = 1
        self.f0 = f0.reshape(-1) if self.track_graph else f0.detach().reshape(-1)
        self.y1: Tensor | None = None
        self.f1: Tensor | None = None

    def time(self, t: float) -> Tensor:
        """``t`` as the 0-dim tensor func receives."""
        return torch.scalar_tensor(t, dtype=self.dtype, device=self.device)

    def stage_time(self, t0: float, h: float, t1: float, c: float, left_of_end: bool) -> Tensor:
        """The time of a stage at ``t0 + c h``: ``t1`` itself at ``c = 1``, or just before it
        (the next representable time towards ``t0``) when ``left_of_end``."""
        if c != 1.0:
            return self.time(t0 + c * h)
        if left_of_end:
            return torch.nextafter(self.time(t1), self.time(t0))
        return self.time(t1)

    def evaluate(self, t: float | Tensor, y: Tensor) -> Tensor:
        """``func(t, y)`` on a flat state, flat, counted."""
        self.nfe += 1
        time = t if isinstance(t, Tensor) else self.time(t)
        f = self.func(time, y.view(self.shape)).reshape(-1)
        return f if self.track_graph else f.detach()

    def step(self, t0: float, h: float, t1: float, y0: Tensor, left_of_jump: bool) -> Tensor:
        """Advance ``y0`` from ``t0`` to ``t1 = t0 + h``; set ``y1`` (and ``f1`` if known).

        ``left_of_jump``: evaluate stages at ``t1`` just before it (see ``stage_time``)."""
        raise NotImplementedError

    def next_first_stage(self, t1: float, y1: Tensor, at: Tensor | None = None) -> None:
        """Make ``f0`` hold ``f(t1, y1)`` for the next step, reusing ``f1`` when known;
        ``at`` forces a fresh evaluation at that time instead (just past ``t1``)."""
        if at is not None or self.f1 is None:
            self.f0 = self.evaluate(t1 if at is None else at, y1)
        else:
            self.f0 = self.f1
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
