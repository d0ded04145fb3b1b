"""What an exported artefact computes: one ``nn.Module`` per model kind whose methods take
and return tensors only, with every solve a :class:`~odedsl.export.solve.FixedSteps` solve.

They reuse the compiled model's own pieces (the generated functions, its networks and
parameters), so their outputs are the model's, with the model's evaluation solver replaced by
the fixed grid (``odedsl.compile(..., eval_method=<m>, eval_step_size=<h>)``):

| model | methods |
|---|---|
| continuous flow | ``log_prob(x)`` (n,); ``sample(eps)`` → ``(x, log q(x))``, ε ~ N(0, I) |
| planar flow | ``sample(eps)`` → ``(x, log q(x))`` |
| supervised | ``forward(x)``: logits of labels (Categorical, Bernoulli), else the mean |
| trajectory | ``predict(ts)``, or ``predict(ts_obs, x_obs, ts_new)`` when it starts from data |
| latent ODE | ``predict(ts_obs, x_obs, ts_new)``: from the encoder's posterior mean |

``METHODS[kind]`` names the methods of each, in the order they are exported.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from odedsl.models.flow import ContinuousFlow
from odedsl.models.latent import LatentODE
from odedsl.models.observed import ObservedODE
from odedsl.models.planar import PlanarFlow
from odedsl.nn.layers import ODERNN
from odedsl.nn.trace import AugmentedDynamics

from .solve import FixedSteps, States

METHODS = {
    "flow": ("log_prob", "sample"),
    "planar": ("sample",),
    "supervised": ("forward",),
    "trajectory": ("predict",),
    "latent": ("predict",),
}


class ExportError(ValueError):
    """A model (or a part of it) that has no exported form; the message says why."""


def _tuple(value: Any) -> States:
    return value if isinstance(value, tuple) else (value,)


class FlowProgram(nn.Module):
    """A continuous flow's ``log_prob`` and ``sample`` on a fixed grid from t0 to t1 (reversed
    for ``log_prob``), with the symbolic trace of closed-form dynamics. The exact and
    Hutchinson traces take autograd inside the solve, which neither ``torch.export`` nor
    TorchScript captures: a flow evaluated with them is refused."""

    kind = "flow"

    def __init__(self, model: ContinuousFlow, solve: FixedSteps) -> None:
        super().__init__()
        trace = (model.eval_augmented or model.augmented).trace
        if trace != "symbolic":
            raise ExportError(
                f"this flow is evaluated with the {trace} trace, which runs autograd inside "
                "the solve: no graph format captures that, so only flows with the symbolic "
                "trace (closed-form dynamics, `trace = :symbolic` or `:auto`) export"
            )
        dynamics = model.generated["dynamics_and_trace"]
        self.augmented = AugmentedDynamics(dynamics, trace)
        self.trace = trace
        self.solve = solve
        self.t0, self.t1 = model.t0, model.t1
        self.base_mean, self.base_std = model.base_mean, model.base_std
        self.base_log_prob = model.base_log_prob

    def _field(self, t: Tensor, state: States) -> States:
        return (self.augmented(t, state[0]),)

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) per sample (n,) of samples ``x`` (n, *event shape)."""
        (state,) = self.solve.final(
            self._field, (self.augmented.initial_state(x),), self.t1, self.t0
        )
        z, change = self.augmented.split(state)[:2]
        return self.base_log_prob(z) - change

    def sample(self, eps: Tensor) -> tuple[Tensor, Tensor]:
        """Standard normal noise ``eps`` (n, *event shape) pushed to data: ``(x, log q(x))``."""
        z0 = self.base_mean + self.base_std * eps
        state0 = self.augmented.initial_state(z0, self.base_log_prob(z0))
        (state,) = self.solve.final(self._field, (state0,), self.t0, self.t1)
        x, log_q = self.augmented.split(state)[:2]
        return x, log_q


class PlanarProgram(nn.Module):
    """A planar flow's ``sample``: no solve."""

    kind = "planar"

    def __init__(self, model: PlanarFlow) -> None:
        super().__init__()
        self.model = model

    def sample(self, eps: Tensor) -> tuple[Tensor, Tensor]:
        """Standard normal noise ``eps`` (n, dim) pushed to data: ``(x, log q(x))``."""
        return self.model._push(eps)


class ObservedProgram(nn.Module):
    """A supervised model's response, or a trajectory model's mean observation at times."""

    def __init__(self, model: ObservedODE, solve: FixedSteps) -> None:
        super().__init__()
        self.kind = model.kind
        self.model = model
        self.solve = solve
        self.observation = (
            model.observations[0]
            if self.kind == "supervised"
            else next(o for o in model.observations if o.series)
        )
        extra = [k for k in self.observation.reads if k not in model.initial_reads]
        if extra:
            raise ExportError(
                f"{self.observation.label} reads {', '.join(extra)} besides the inputs the "
                "states start from; such a model has no exported form yet"
            )

    def _field(self, t: Tensor, states: States) -> States:
        return _tuple(self.model.dynamics(t, *states))

    def _start(self, *data: Tensor) -> States:
        model = self.model
        if data:
            return _tuple(model.initial(*data))
        like = model.reference
        t0 = torch.as_tensor(model.t0, dtype=like.dtype, device=like.device)
        return tuple(h[None] for h in _tuple(model.initial(t0)))

    def forward(self, x: Tensor) -> Tensor:
        """A supervised model's logits (labels) or mean response to inputs ``x``."""
        observation = self.observation
        states = self.solve.final(self._field, self._start(x), self.model.t0, observation.time)
        data = [x for _ in observation.reads]
        params = observation.parameters_at(states, data, self.model.reference)
        return params[0] if observation.family.labels else observation.family.mean(*params)

    def predict(self, *args: Tensor) -> Tensor:
        """``predict(ts)`` (M,) → (M, ...) for a start without data;
        ``predict(ts_obs, x_obs, ts_new)`` with ``x_obs`` (B, N, ...) → (B, M, ...)."""
        *observed, times = args
        data = [observed[1]] if observed else []
        states = self.solve.at(self._field, self._start(*data), self.model.t0, times)
        observation = self.observation
        params = observation.parameters_at(states, [], self.model.reference)
        shape = (states[0].shape[0], times.shape[0], *observation.event_shape)
        mean = observation.family.mean(*params).expand(shape)
        return mean if observed else mean[0]


class LatentProgram(nn.Module):
    """A latent ODE's prediction from the encoder's posterior mean (no refinement steps)."""

    kind = "latent"

    def __init__(self, model: LatentODE, solve: FixedSteps) -> None:
        super().__init__()
        self.model = model
        self.solve = solve

    def _field(self, t: Tensor, states: States) -> States:
        field = self.model.field
        z = states[0]
        return (field.dynamics(t, z) if field.takes_time else field.dynamics(z),)

    def predict(self, ts_obs: Tensor, x_obs: Tensor, ts_new: Tensor) -> Tensor:
        """Mean observations (B, M, D) at ``ts_new`` (M,) of series ``x_obs`` (B, N, D)
        observed at ``ts_obs`` (B, N); NaN marks a missing point."""
        model = self.model
        out = model.encoder(x_obs.flip(1), ts_obs.flip(1), None)
        mean = out[..., : model.latent_dim]
        (z,) = self.solve.at(self._field, (mean,), model.t0, ts_new)
        return model.observation_mean(z)


def program(model: nn.Module, solve: FixedSteps) -> nn.Module:
    """The exported form of a compiled ``model``, solving with ``solve``."""
    if any(isinstance(part, ODERNN) for part in model.modules()):
        raise ExportError(
            "an ODERNN encoder solves adaptively between observations, which does not export; "
            "a GRU or RNN encoder does"
        )
    if isinstance(model, ContinuousFlow):
        return FlowProgram(model, solve)
    if isinstance(model, PlanarFlow):
        return PlanarProgram(model)
    if isinstance(model, ObservedODE):
        return ObservedProgram(model, solve)
    if isinstance(model, LatentODE):
        return LatentProgram(model, solve)
    raise ExportError(f"a {type(model).__name__} has no exported form")
