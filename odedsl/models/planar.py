"""Discrete planar normalizing flows (Rezende & Mohamed 2015), the baseline of density matching.

A layer maps ``f(z) = z + û tanh(wᵀz + b)`` with ``log|det ∂f/∂z| = log|1 + ûᵀψ(z)|``,
``ψ(z) = (1 − tanh²(wᵀz + b)) w``. The layer is invertible when ``wᵀû ≥ −1``; the raw ``u`` is
projected to ``û = u + (m(wᵀu) − wᵀu) w/‖w‖²`` with ``m(x) = −1 + softplus(x)``, so that
``wᵀû = m(wᵀu) > −1``. :class:`PlanarLayers` is the stack of ``depth`` layers (what a spec's
``PlanarFlow(D, depth = K)`` network builds); :class:`PlanarFlow` pushes ``N(μ, σ² I)`` samples
through it to ``q`` and is trained by KL(q‖p) against an unnormalised target log-density, with
the same ``loss`` / ``evaluate`` / ``sample`` protocol as
:class:`odedsl.models.flow.ContinuousFlow`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from odedsl.training.protocol import LossOutput

from .flow import checked_base, standard_normal_log_prob
from .inputs import as_count, as_tensor, check_shape, is_count

LogDensity = Callable[[Tensor], Tensor]


def _positive_int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


class PlanarLayers(nn.Module):
    """``depth`` planar layers on samples of ``dim`` dimensions; parameters start at
    ``N(0, init_std²)`` (``generator`` seeds them, the global generator by default)."""

    def __init__(
        self,
        dim: int,
        depth: int,
        *,
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.dim = _positive_int(dim, "dim")
        self.depth = _positive_int(depth, "depth")
        self.w = nn.Parameter(init_std * torch.randn(depth, dim, generator=generator))
        self.u = nn.Parameter(init_std * torch.randn(depth, dim, generator=generator))
        self.b = nn.Parameter(init_std * torch.randn(depth, generator=generator))

    def u_hat(self) -> Tensor:
        """The constrained ``û`` of every layer, (depth, dim): ``wᵀû = −1 + softplus(wᵀu)``."""
        wu = (self.w * self.u).sum(1, keepdim=True)
        norm2 = self.w.pow(2).sum(1, keepdim=True).clamp_min(1e-12)
        return self.u + (F.softplus(wu) - 1.0 - wu) * self.w / norm2

    def forward(self, z: Tensor, layers: int | None = None) -> tuple[Tensor, Tensor]:
        """``z`` (n, dim) pushed through the first ``layers`` layers (all by default), and
        ``Σ log|det|`` per sample (n,)."""
        u_hat = self.u_hat()
        log_det = z.new_zeros(z.shape[0])
        for k in range(self.depth if layers is None else layers):
            h = torch.tanh(z @ self.w[k] + self.b[k])
            psi_u = (1.0 - h.pow(2)) * (self.w[k] @ u_hat[k])
            log_det = log_det + torch.log((1.0 + psi_u).abs() + 1e-12)
            z = z + h.unsqueeze(1) * u_hat[k]
        return z, log_det


class PlanarFlow(nn.Module):
    """A planar flow fitted to ``target`` by KL(q‖p): ``layers`` (a :class:`PlanarLayers`, or a
    depth, for which ``dim``, ``init_std`` and ``generator`` build one) applied to base samples
    ``N(base_mean, base_std² I)``."""

    objective = "kl"

    def __init__(
        self,
        layers: PlanarLayers | int,
        target: LogDensity,
        *,
        dim: int = 2,
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
        base_mean: float = 0.0,
        base_std: float = 1.0,
    ) -> None:
        super().__init__()
        if not callable(target):
            raise ValueError("target must be a callable log-density, Tensor (n, dim) -> (n,)")
        base = checked_base(base_mean, base_std)
        if not isinstance(layers, PlanarLayers):
            layers = PlanarLayers(dim, layers, init_std=init_std, generator=generator)
        self.layers = layers
        self.target = target
        self.base_mean, self.base_std = base

    @property
    def depth(self) -> int:
        return self.layers.depth

    @property
    def event_shape(self) -> tuple[int, ...]:
        return (self.layers.dim,)

    def forward(self, z: Any) -> tuple[Tensor, Tensor]:
        """``z`` (n, dim) pushed through every layer, and ``Σ log|det|`` per sample (n,)."""
        return self.layers(self._input(z, "z"))

    def _input(self, value: Any, name: str) -> Tensor:
        """``value`` as samples (n, dim) of the layers' dtype and device, or refused by name."""
        tensor = as_tensor(value, self.layers.w, name)
        return check_shape(tensor, ("n", self.layers.dim), name)

    def _given_noise(self, data: Any, name: str) -> Tensor:
        if isinstance(data, Mapping):
            raise ValueError(
                f"{name}: a planar flow is fitted to its target from standard normal noise "
                f"(n, {self.layers.dim}) or a number of samples, not from a mapping of data"
            )
        return self._input(data, name)

    def _push(self, noise: Tensor, layers: int | None = None) -> tuple[Tensor, Tensor]:
        """Standard normal ``noise`` as base samples, pushed; with ``log q`` per sample."""
        noise = noise.to(dtype=self.layers.w.dtype, device=self.layers.w.device)
        z = self.base_mean + self.base_std * noise
        x, log_det = self.layers(z, layers)
        log_base = standard_normal_log_prob(noise) - self.layers.dim * math.log(self.base_std)
        return x, log_base - log_det

    def _noise(self, n: int, generator: torch.Generator | None) -> Tensor:
        return torch.randn(n, self.layers.dim, generator=generator)

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, with_log_prob: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``n`` samples of q, with ``log q`` per sample if asked."""
        x, log_q = self._push(self._noise(as_count(n, "n"), generator))
        return (x, log_q) if with_log_prob else x

    def stages(self, z0: Tensor, count: int) -> list[tuple[int, Tensor]]:
        """Base samples ``z0`` (standard normal noise) after ``count`` evenly spaced numbers
        of layers from 0 to ``depth``: ``[(layers applied, samples), ...]``."""
        z0 = self._input(z0, "z0")
        count = as_count(count, "count", 2)
        steps = sorted({round(i * self.depth / (count - 1)) for i in range(count)})
        return [(k, self._push(z0, k)[0]) for k in steps]

    def loss(self, batch: Any = None) -> LossOutput:
        """KL(q‖p) up to log Z, ``E_q[log q − log p̃]``, from ``batch`` standard normal noise
        (n, dim) (any float array) or that many fresh samples (default 512)."""
        if batch is None or is_count(batch):
            noise = self._noise(512 if batch is None else as_count(batch, "batch"), None)
        else:
            noise = self._given_noise(batch, "batch")
        x, log_q = self._push(noise)
        fit = (log_q - self.target(x)).mean()
        return LossOutput(fit, {"fit": float(fit.detach())})

    def evaluate(self, data: Any = None) -> dict[str, float]:
        """``kl``: the KL(q‖p) estimate up to log Z (``E_q[log q − log p̃]``, the best being
        −log Z) from standard normal noise ``data`` (n, dim), or from ``data`` samples (an int,
        default 4096) drawn from a fixed seed."""
        if data is None or is_count(data):
            n = 4096 if data is None else as_count(data, "data")
            noise = self._noise(n, torch.Generator().manual_seed(0))
        else:
            noise = self._given_noise(data, "data")
        with torch.no_grad():
            x, log_q = self._push(noise)
            kl = float((log_q - self.target(x)).mean())
        return {"kl": kl, "loss": kl}
