"""Continuous normalizing flows: maximum likelihood, density matching, sampling.

A flow moves base samples ``z(t0) ~ N(0, I)`` to data ``x = z(t1)`` along ``dz/dt = f(t, z)``,
and the log-density follows ``d log p/dt = −tr ∂f/∂z`` (the instantaneous change of variables).
Both travel in one solve of the augmented state built by
:class:`odedsl.compile.trace.AugmentedDynamics`, together with RNODE's regularizers
(kinetic energy ``∫‖f‖² dt`` and Jacobian norm ``∫‖∂f/∂z‖²_F dt``) when their weights are set.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from odedsl.compile.trace import AugmentedDynamics
from odedsl.solvers import SolverStats
from odedsl.train.protocol import LossOutput

from .settings import SolverSettings

LogDensity = Callable[[Tensor], Tensor]


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over every dimension but the first (the batch)."""
    flat = z.reshape(z.shape[0], -1)
    return -0.5 * flat.pow(2).sum(1) - 0.5 * flat.shape[1] * math.log(2 * math.pi)


class ContinuousFlow(nn.Module):
    """A CNF over samples of shape ``event_shape`` on the time span ``(t0, t1)``.

    ``objective`` is ``"likelihood"`` (maximum likelihood on data batches) or ``"kl"``
    (density matching: minimise KL(q‖p) against the unnormalised ``target`` log-density).
    Training solves use ``train_solver``; :meth:`log_prob` and :meth:`sample` default to
    ``eval_solver``. ``stats`` holds the counters of the last solve.
    """

    OBJECTIVES = ("likelihood", "kl")

    def __init__(
        self,
        augmented: AugmentedDynamics,
        *,
        event_shape: tuple[int, ...],
        t0: float,
        t1: float,
        train_solver: SolverSettings,
        eval_solver: SolverSettings,
        objective: str = "likelihood",
        target: LogDensity | None = None,
        kinetic: float = 0.0,
        jacobian: float = 0.0,
    ) -> None:
        super().__init__()
        if objective not in self.OBJECTIVES:
            raise ValueError(f"objective must be one of {self.OBJECTIVES}, got {objective!r}")
        if objective == "kl" and target is None:
            raise ValueError("objective 'kl' needs a target log-density (target=...)")
        if (kinetic and not augmented.kinetic) or (jacobian and not augmented.jacobian):
            raise ValueError("the augmented dynamics must carry every regularizer weighted here")
        self.augmented = augmented
        self.event_shape = tuple(event_shape)
        self.t0, self.t1 = float(t0), float(t1)
        self.train_solver = train_solver
        self.eval_solver = eval_solver
        self.objective = objective
        self.target = target
        self.kinetic = float(kinetic)
        self.jacobian = float(jacobian)
        self.stats = SolverStats()

    def _times(self, reference: Tensor, *, forward: bool) -> Tensor:
        span = [self.t0, self.t1] if forward else [self.t1, self.t0]
        return torch.tensor(span, dtype=reference.dtype, device=reference.device)

    def _solve(self, z: Tensor, logp: Tensor | None, settings: SolverSettings, *, forward: bool):
        state0 = self.augmented.initial_state(z, logp)
        solution = settings.solve(self.augmented, state0, self._times(z, forward=forward))
        self.stats = solution.stats
        return self.augmented.split(solution.ys[-1])

    def _regularizers(self, parts: tuple[Tensor, ...], sign: float) -> Tensor:
        """The weighted RNODE terms of the extra states (``sign`` −1 for reverse solves)."""
        total = parts[0].new_zeros(())
        extra = iter(parts[2:])
        if self.augmented.kinetic:
            kinetic = next(extra)
            total = total + self.kinetic * sign * kinetic.mean()
        if self.augmented.jacobian:
            jacobian = next(extra)
            total = total + self.jacobian * sign * jacobian.mean()
        return total

    def log_prob(self, x: Tensor, settings: SolverSettings | None = None) -> Tensor:
        """log p(x) per sample: integrate data back to the base, adding ``∫ tr ∂f/∂z dt``."""
        parts = self._solve(x, None, settings or self.eval_solver, forward=False)
        return standard_normal_log_prob(parts[0]) - parts[1]

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        settings: SolverSettings | None = None,
        with_log_prob: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``n`` samples pushed from the base to data time; with their log-density if asked."""
        x, logq, _ = self._push(n, generator, settings or self.eval_solver)
        return (x, logq) if with_log_prob else x

    def _push(self, n: int, generator: torch.Generator | None, settings: SolverSettings):
        param = next(self.parameters(), None)
        dtype = param.dtype if param is not None else torch.get_default_dtype()
        device = param.device if param is not None else None
        z0 = torch.randn((n, *self.event_shape), generator=generator, dtype=dtype, device=device)
        parts = self._solve(z0, standard_normal_log_prob(z0), settings, forward=True)
        return parts[0], parts[1], parts

    def trajectory(self, z0: Tensor, times: Tensor, settings: SolverSettings | None = None):
        """States of base samples ``z0`` at ``times`` in ``(t0, t1)``: (len(times), n, ...)."""
        settings = settings or self.eval_solver
        state0 = self.augmented.initial_state(z0)
        solution = settings.solve(self.augmented, state0, times.to(z0.dtype))
        self.stats = solution.stats
        return self.augmented.split(solution.ys)[0]

    def loss(self, batch: Tensor | int | None = None) -> LossOutput:
        """Negative log-likelihood of ``batch`` (or, for ``"kl"``, KL(q‖p) up to log Z) plus
        the weighted regularizers, with the training solver."""
        if self.objective == "likelihood":
            if batch is None:
                raise ValueError("a maximum-likelihood flow needs a data batch: loss(x)")
            parts = self._solve(batch, None, self.train_solver, forward=False)
            fit = -(standard_normal_log_prob(parts[0]) - parts[1]).mean()
            regular = self._regularizers(parts, sign=-1.0)
        else:
            n = batch if isinstance(batch, int) else (batch.shape[0] if batch is not None else 512)
            x, logq, parts = self._push(n, None, self.train_solver)
            fit = (logq - self.target(x)).mean()
            regular = self._regularizers(parts, sign=1.0)
        stats = self.stats
        metrics = {
            "fit": float(fit.detach()),
            "nfe_forward": float(stats.nfe_forward),
            "nfe_backward": lambda: float(stats.nfe_backward),
        }
        return LossOutput(fit + regular, metrics)
