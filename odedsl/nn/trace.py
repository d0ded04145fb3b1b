"""Trace strategies for continuous normalizing flows, and their augmented dynamics.

- symbolic: code emitted by :mod:`odedsl.symbolic` returns ``(dz, tr ∂f/∂z)`` directly;
  :func:`load_symbolic` turns its source into callables.
- exact: :func:`exact_trace`, one vector–Jacobian product per state dimension.
- Hutchinson: :func:`hutchinson_trace`, one vector–Jacobian product with noise ε that a
  :class:`HutchinsonNoise` draws once per solve; ``E[εᵀJε] = tr J`` and ``E‖εᵀJ‖² = ‖J‖²_F``.

:class:`AugmentedDynamics` assembles the solver's right-hand side for the state
``[z, log p, ∫‖f‖², ∫‖J‖²_F]`` from any of them.

Every strategy treats the samples of a batch as independent (row b of f depends only on row
b of z), as any per-sample dynamics do: it is what lets one backward pass serve the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from odedsl.generated_modules import execute_as_module
from odedsl.symbolic.emit import EmittedDynamics

Dynamics = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
DynamicsWithTrace = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class TraceResult(NamedTuple):
    """``dz`` = f(t, z); ``trace`` (batch,); ``frobenius`` = ‖∂f/∂z‖²_F (batch,) if asked."""

    dz: torch.Tensor
    trace: torch.Tensor
    frobenius: torch.Tensor | None = None


class SymbolicFunctions(NamedTuple):
    """The two functions of emitted code, taking ``(t, z, *inputs)`` in ``emitted.inputs`` order."""

    dynamics: Callable[..., torch.Tensor]
    dynamics_and_trace: Callable[..., tuple[torch.Tensor, torch.Tensor]]


def load_symbolic(emitted: EmittedDynamics) -> SymbolicFunctions:
    """Compile the source emitted by :func:`odedsl.symbolic.emit_torch` into functions.

    The source holds only identifiers the symbolic builder made (``p_w``, ``net_gate``, ...),
    never spec text, so executing it is safe.
    """
    namespace = execute_as_module(emitted.source, "<odedsl symbolic dynamics>", "odedsl_symbolic")
    return SymbolicFunctions(namespace["dynamics"], namespace["dynamics_and_trace"])


def _differentiable(z: torch.Tensor) -> torch.Tensor:
    return z if z.requires_grad else z.detach().requires_grad_(True)


def exact_trace(
    f: Dynamics, t: torch.Tensor, z: torch.Tensor, *, frobenius: bool = False
) -> TraceResult:
    """The exact ``tr ∂f/∂z`` of ``dz = f(t, z)`` for ``z`` of shape (batch, ...).

    Row i of the Jacobian comes from one backward pass of ``dz[:, i].sum()`` (D passes in
    all), which also gives ``‖J‖²_F`` exactly when ``frobenius`` is set. The result keeps a
    graph for higher derivatives when gradients are enabled, and is detached otherwise.
    Returns a :class:`TraceResult`.
    """
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        z = _differentiable(z)
        dz = f(t, z)
        flat = dz.reshape(dz.shape[0], -1)
        trace = torch.zeros_like(flat[:, 0])
        frobenius_sq = torch.zeros_like(trace) if frobenius else None
        for i in range(flat.shape[1] if flat.requires_grad else 0):
            (row,) = torch.autograd.grad(
                flat[:, i].sum(), z, create_graph=create_graph, retain_graph=True, allow_unused=True
            )
            if row is None:  # this component does not depend on z
                continue
            row = row.reshape(flat.shape)
            trace = trace + row[:, i]
            if frobenius_sq is not None:
                frobenius_sq = frobenius_sq + row.pow(2).sum(1)
    if not create_graph:
        dz, trace = dz.detach(), trace.detach()
        frobenius_sq = None if frobenius_sq is None else frobenius_sq.detach()
    return TraceResult(dz, trace, frobenius_sq)


def hutchinson_trace(
    f_out: torch.Tensor, z: torch.Tensor, eps: torch.Tensor, *, create_graph: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hutchinson's estimate ``εᵀ(∂f/∂z)ε`` per sample, and the vector–Jacobian product.

    ``f_out`` = f(t, z) computed with a graph to ``z``; ``eps`` has ``z``'s shape. Returns
    ``(trace, vjp)``, with ``vjp = εᵀ ∂f/∂z`` so that ``‖vjp‖²`` estimates ``‖J‖²_F`` (RNODE).
    """
    vjp = None
    if f_out.requires_grad:
        (vjp,) = torch.autograd.grad(f_out, z, eps, create_graph=create_graph, allow_unused=True)
    if vjp is None:  # f does not depend on z
        vjp = torch.zeros_like(z)
    trace = (vjp * eps).reshape(z.shape[0], -1).sum(1)
    return trace, vjp


class HutchinsonNoise:
    """Noise ε for Hutchinson's estimator, drawn once per solve and then held fixed.

    Call :meth:`reset` at the start of every solve (it draws, and counts in ``draws``); every
    evaluation in that solve, the adjoint's backward pass included, gets the same tensor from
    the call ``noise(z)``. A fresh ε per evaluation would make the ODE random, which breaks
    adaptive step control and the adjoint.
    """

    KINDS = ("rademacher", "gaussian")

    def __init__(self, kind: str = "rademacher", generator: torch.Generator | None = None):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        self.generator = generator
        self.draws = 0
        self._eps: torch.Tensor | None = None

    def reset(self, like: torch.Tensor) -> torch.Tensor:
        """Draw new noise with the shape, dtype and device of ``like``."""
        if self.kind == "gaussian":
            eps = torch.randn(
                like.shape, generator=self.generator, dtype=like.dtype, device=like.device
            )
        else:
            bits = torch.randint(0, 2, like.shape, generator=self.generator, device=like.device)
            eps = (2 * bits - 1).to(like.dtype)
        self.draws += 1
        self._eps = eps
        return eps

    def __call__(self, like: torch.Tensor) -> torch.Tensor:
        if self._eps is None:
            raise RuntimeError("HutchinsonNoise: call reset(z0) at the start of each solve")
        if self._eps.shape != like.shape:
            raise ValueError(
                f"HutchinsonNoise holds noise of shape {tuple(self._eps.shape)} but the state "
                f"has shape {tuple(like.shape)}: call reset(z0) when a solve starts"
            )
        return self._eps


class AugmentedDynamics(nn.Module):
    """The right-hand side for the flattened state ``[z, log p, (∫‖f‖²), (∫‖J‖²_F)]``.

    ``trace`` picks the strategy: ``"symbolic"`` (``dynamics(t, z)`` returns ``(dz, tr)``),
    ``"exact"`` or ``"hutchinson"`` (``dynamics(t, z)`` returns ``dz``). ``d log p/dt`` is
    ``−tr ∂f/∂z``; ``kinetic`` adds ``‖f‖²`` and ``jacobian`` adds ``‖∂f/∂z‖²_F`` (exact under
    ``"exact"``, ``‖εᵀJ‖²`` otherwise, reusing Hutchinson's product) as extra states, RNODE's
    regularizers. The state is one tensor of shape (batch, D + 1 + extras), with z of any
    per-sample shape flattened into its first D columns; :meth:`initial_state` builds it (and
    draws the noise for the solve), :meth:`split` takes it apart.
    """

    STRATEGIES = ("symbolic", "exact", "hutchinson")

    def __init__(
        self,
        dynamics: Dynamics | DynamicsWithTrace,
        trace: str,
        *,
        kinetic: bool = False,
        jacobian: bool = False,
        noise: HutchinsonNoise | None = None,
    ) -> None:
        super().__init__()
        if trace not in self.STRATEGIES:
            raise ValueError(f"trace must be one of {self.STRATEGIES}, got {trace!r}")
        self.dynamics = dynamics
        self.trace = trace
        self.kinetic = kinetic
        self.jacobian = jacobian
        needs_noise = trace == "hutchinson" or (jacobian and trace == "symbolic")
        self.noise = (noise or HutchinsonNoise()) if needs_noise else None
        self._z_shape: tuple[int, ...] | None = None

    @property
    def extras(self) -> int:
        """Columns after z: log p, then the regularizers asked for."""
        return 1 + int(self.kinetic) + int(self.jacobian)

    def initial_state(self, z0: torch.Tensor, logp0: torch.Tensor | None = None) -> torch.Tensor:
        """``[z0, logp0 (zeros by default), 0, 0]``; draws this solve's noise if any."""
        self._z_shape = tuple(z0.shape[1:])
        if self.noise is not None:
            self.noise.reset(z0)
        batch = z0.shape[0]
        logp0 = z0.new_zeros(batch) if logp0 is None else logp0.reshape(batch)
        zeros = z0.new_zeros(batch, self.extras - 1)
        return torch.cat([z0.reshape(batch, -1), logp0[:, None], zeros], dim=1)

    def split(self, state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(z, logp, *regularizers)`` of a state (or of a stack of states over time)."""
        z_shape = self._shape()
        size = state.shape[-1] - self.extras
        z = state[..., :size].reshape(*state.shape[:-1], *z_shape)
        return (z, *state[..., size:].unbind(-1))

    def _shape(self) -> tuple[int, ...]:
        if self._z_shape is None:
            raise RuntimeError("AugmentedDynamics: call initial_state(z0) before solving")
        return self._z_shape

    def forward(self, t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        batch = state.shape[0]
        z = state[:, : state.shape[1] - self.extras].reshape(batch, *self._shape())
        dz, trace, frobenius = self._divergence(t, z)
        parts = [dz.reshape(batch, -1), -trace[:, None]]
        if self.kinetic:
            parts.append(dz.reshape(batch, -1).pow(2).sum(1, keepdim=True))
        if self.jacobian:
            parts.append(frobenius[:, None])
        return torch.cat(parts, dim=1)

    def _divergence(self, t: torch.Tensor, z: torch.Tensor) -> TraceResult:
        if self.trace == "exact":
            return exact_trace(self.dynamics, t, z, frobenius=self.jacobian)
        if self.trace == "symbolic" and not self.jacobian:
            return TraceResult(*self.dynamics(t, z))
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            z = _differentiable(z)
            if self.trace == "symbolic":
                dz, trace = self.dynamics(t, z)
                _, vjp = hutchinson_trace(dz, z, self.noise(z), create_graph=create_graph)
            else:
                dz = self.dynamics(t, z)
                trace, vjp = hutchinson_trace(dz, z, self.noise(z), create_graph=create_graph)
        frobenius = vjp.reshape(z.shape[0], -1).pow(2).sum(1) if self.jacobian else None
        if not create_graph:
            dz, trace = dz.detach(), trace.detach()
            frobenius = None if frobenius is None else frobenius.detach()
        return TraceResult(dz, trace, frobenius)
