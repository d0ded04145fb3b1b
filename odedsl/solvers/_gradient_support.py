"""Pieces shared by the adjoint and checkpointed gradients: parameters, time gradients, stats."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor

from .solution import SolverStats

Dynamics = Callable[[Tensor, Tensor], Tensor]


def differentiable_params(adjoint_params: Iterable[Tensor]) -> tuple[Tensor, ...]:
    """The distinct tensors of ``adjoint_params`` that require a gradient (others are skipped).

    The API resolves the default (``func.parameters()``) and checks the entries are tensors.
    """
    unique = {id(p): p for p in adjoint_params if p.requires_grad}
    return tuple(unique.values())


def flat_size(tensors: Sequence[Tensor]) -> int:
    return sum(t.numel() for t in tensors)


def split_like(flat: Tensor, tensors: Sequence[Tensor]) -> tuple[Tensor, ...]:
    """Cut a flat vector into pieces shaped like ``tensors`` (views, no copy)."""
    pieces = flat.split([t.numel() for t in tensors])
    return tuple(piece.view_as(t) for piece, t in zip(pieces, tensors, strict=True))


def time_derivative(func: Dynamics, t: Tensor, state: Tensor, weight: Tensor) -> Tensor:
    """``weightᵀ f(t, state)``: how the loss moves with an output time (a 0-dim tensor)."""
    with torch.no_grad():
        return torch.sum(weight * func(t.to(state.dtype), state)).to(t.dtype)


def add_backward_counts(stats: SolverStats, segment_stats: SolverStats) -> None:
    """Credit a backward integration's work to ``stats`` as backward work."""
    stats.nfe_backward += segment_stats.nfe_forward
    info = stats.info
    info["backward_steps_accepted"] = (
        info.get("backward_steps_accepted", 0) + segment_stats.steps_accepted
    )
    info["backward_steps_rejected"] = (
        info.get("backward_steps_rejected", 0) + segment_stats.steps_rejected
    )
