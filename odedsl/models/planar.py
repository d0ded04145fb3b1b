"""Discrete planar normalizing flows (Rezende & Mohamed 2015), the baseline of density matching.

A layer maps ``f(z) = z + û tanh(wᵀz + b)`` with ``log|det ∂f/∂z| = log|1 + ûᵀψ(z)|``,
``ψ(z) = (1 − tanh²(wᵀz + b)) w``. The layer is invertible when ``wᵀû ≥ −1``; the raw ``u`` is
projected to ``û = u + (m(wᵀu) − wᵀu) w/‖w‖²`` with ``m(x) = −1 + softplus(x)``, so that
``wᵀû = m(wᵀu) > −1``. A stack of ``depth`` layers pushes ``N(0, I)`` samples to ``q`` and is
trained by KL(q‖p) against an unnormalised target log-density, with the same
``loss`` / ``evaluate`` / ``sample`` protocol as :class:`odedsl.models.flow.ContinuousFlow`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from odedsl.training.protocol import LossOutput

from .flow import standard_normal_log_prob

LogDensity = Callable[[Tensor], Tensor]


class PlanarFlow(nn.Module):
    """``depth`` planar layers in ``dim`` dimensions, fitted to ``target`` by KL(q‖p).

    Parameters start at ``N(0, init_std²)``; ``generator`` seeds them.
    """

    def __init__(
        self,
        depth: int,
        target: LogDensity,
        *,
        dim: int = 2,
        init_std: float = 0.1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, got {depth!r}")
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if not callable(target):
            raise ValueError("target must be a callable log-density, Tensor (n, dim) -> (n,)")
        self.depth, self.dim = depth, dim
        self.target = target
        self.w = nn.Parameter(init_std * torch.randn(depth, dim, generator=generator))
        self.u = nn.Parameter(init_std * torch.randn(depth, dim, generator=generator))
        self.b = nn.Parameter(init_std * torch.randn(depth, generator=generator))

    def u_hat(self) -> Tensor:
        """The constrained ``û`` of every layer, (depth, dim): ``wᵀû = −1 + softplus(wᵀu)``."""
        wu = (self.w * self.u).sum(1, keepdim=True)
        norm2 = self.w.pow(2).sum(1, keepdim=True).clamp_min(1e-12)
        return self.u + (F.softplus(wu) - 1.0 - wu) * self.w / norm2

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``z`` (n, dim) pushed through every layer, and ``Σ log|det|`` per sample (n,)."""
        u_hat = self.u_hat()
        log_det = z.new_zeros(z.shape[0])
        for k in range(self.depth):
            h = torch.tanh(z @ self.w[k] + self.b[k])
            psi_u = (1.0 - h.pow(2)) * (self.w[k] @ u_hat[k])
            log_det = log_det + torch.log((1.0 + psi_u).abs() + 1e-12)
            z = z + h.unsqueeze(1) * u_hat[k]
        return z, log_det

    def _push(self, noise: Tensor) -> tuple[Tensor, Tensor]:
        noise = noise.to(dtype=self.w.dtype, device=self.w.device)
        x, log_det = self(noise)
        return x, standard_normal_log_prob(noise) - log_det

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, with_log_prob: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``n`` samples of q, with ``log q`` per sample if asked."""
        noise = torch.randn(n, self.dim, generator=generator)
        x, log_q = self._push(noise)
        return (x, log_q) if with_log_prob else x

    def loss(self, batch: Tensor | int | None = None) -> LossOutput:
        """KL(q‖p) up to log Z, ``E_q[log q − log p̃]``, from ``batch`` standard normal noise
        (n, dim) or that many fresh samples (default 512)."""
        noise = batch if isinstance(batch, Tensor) else torch.randn(batch or 512, self.dim)
        x, log_q = self._push(noise)
        fit = (log_q - self.target(x)).mean()
        return LossOutput(fit, {"fit": float(fit.detach())})

    def evaluate(self, data: int | None = None) -> dict[str, float]:
        """The KL(q‖p) estimate (up to log Z) from ``data`` samples (default 4096), fixed seed."""
        n = data if isinstance(data, int) else 4096
        with torch.no_grad():
            noise = torch.randn(n, self.dim, generator=torch.Generator().manual_seed(0))
            x, log_q = self._push(noise)
            return {"loss": float((log_q - self.target(x)).mean())}
