"""The few helpers that generated code calls besides ``torch``.

Generated code (see :mod:`odedsl.compiler.codegen`) keeps every tensor as
``(batch..., labelled axes..., example axes...)``: batch axes when it depends on the examples,
one axis per generator variable in scope, then the example's own shape. Networks take a batch
of examples, so :func:`network` folds every leading axis into one batch and unfolds it after.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def network(net: nn.Module, x: Tensor, rank: int) -> Tensor:
    """``net`` applied to the examples of ``x``: its last ``rank`` axes are one example, the
    leading ones (batch and generator axes, or none) are folded into a batch. A scalar
    example (``rank`` 0) enters as a vector of length 1, as ``MLP(1 => ...)`` expects."""
    if rank == 0:
        x, rank = x[..., None], 1
    lead = x.shape[: x.dim() - rank]
    out = net(x.reshape(-1, *x.shape[x.dim() - rank :]))
    return out.reshape(*lead, *out.shape[1:])


def join(parts: list[Tensor]) -> Tensor:
    """Vectors ``(lead..., n_i)`` joined along the last axis into ``(lead..., Σ n_i)``, their
    leading axes broadcast (an unbatched part, such as the time or a parameter, is repeated
    over the batch): ``vcat(a, b, ...)`` and the input of a network called ``f(t, z)``."""
    lead = torch.broadcast_shapes(*(part.shape[:-1] for part in parts))
    return torch.cat([part.expand(*lead, part.shape[-1]) for part in parts], dim=-1)


def time_network(net: nn.Module, t: Tensor, h: Tensor, rank: int) -> Tensor:
    """A network called as ``f(t, h)`` (it holds a ConcatConv) on the examples of ``h``."""
    lead = h.shape[: h.dim() - rank]
    out = net(t, h.reshape(-1, *h.shape[h.dim() - rank :]))
    return out.reshape(*lead, *out.shape[1:])


def sequence_network(net: nn.Module, values: Tensor, times: Tensor | None = None) -> Tensor:
    """A recurrent network (RNN, GRU, ODERNN) reading series ``values`` (batch, N, in) at
    ``times`` (batch, N); without times every gap is 0.

    A step whose values (or time) are not finite is padding or missing (see
    :class:`~odedsl.compiler.modules.SequenceEncoder`): the network skips it, leaving its
    hidden state untouched."""
    if times is None:
        times = torch.zeros_like(values[..., 0])
    times = times.expand(values.shape[:-1])
    mask = torch.isfinite(values).all(-1) & torch.isfinite(times)
    if not capturing() and bool(mask.all()):  # the shortcut reads the data: not in a graph
        return net(values, times)
    values = torch.where(mask[..., None], values, torch.zeros_like(values))
    return net(values, torch.where(mask, times, torch.zeros_like(times)), mask)


def capturing() -> bool:
    """Whether torch is recording a graph to export (``torch.export``, ``torch.jit.trace``),
    where control flow may not depend on tensor values."""
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


def arange(start: int, stop: int, like: Tensor) -> Tensor:
    """The values ``start, ..., stop`` of a generator variable, in ``like``'s dtype/device."""
    return torch.arange(start, stop + 1, dtype=like.dtype, device=like.device)


def batched(value: Tensor | float, reference: Tensor, rank: int) -> Tensor:
    """``value`` repeated over the batch axes of ``reference``, whose examples have ``rank``
    axes: for results that do not depend on the examples (a constant, a parameter)."""
    value = torch.as_tensor(value, dtype=reference.dtype, device=reference.device)
    return value.expand(*reference.shape[: reference.dim() - rank], *value.shape)


def mean_and_log_variance(
    mean: Tensor | float, std: Tensor | float, reference: Tensor, rank: int, size: int
) -> Tensor:
    """``[μ, log σ²]`` along the last axis, each (batch..., size), for a Gaussian posterior
    given by its mean and standard deviation (either may not depend on the examples)."""
    batch = reference.shape[: reference.dim() - rank]
    parts = [
        torch.as_tensor(part, dtype=reference.dtype, device=reference.device).expand(*batch, size)
        for part in (mean, std)
    ]
    return torch.cat([parts[0], 2 * torch.log(parts[1])], dim=-1)
