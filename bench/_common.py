"""Shared pieces of the benchmarks: the MLP dynamics, interleaved timing, markdown tables."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn


class MLP(nn.Module):
    """``f(t, z) = W2 tanh(W1 z + b1) + b2``; the seed fixes the weights for every library."""

    def __init__(self, dim: int, hidden: int, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.inner = nn.Linear(dim, hidden)
        self.outer = nn.Linear(hidden, dim)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator) / p.shape[-1] ** 0.5)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.outer(torch.tanh(self.inner(z)))


class Counted(nn.Module):
    """Wraps ``f(t, z)`` and counts its calls (used in untimed runs only)."""

    def __init__(self, func: Callable) -> None:
        super().__init__()
        self.func = func
        self.calls = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.func(t, z)


def interleaved_medians(
    variants: dict[str, Callable[[], object]], repeats: int, inner: int = 1
) -> dict[str, float]:
    """Median seconds per call of each variant, timing them in turn within every repeat (so
    that drifts of a shared, noisy machine hit all alike). Each variant runs once untimed
    first; ``inner`` calls are timed together and averaged."""
    for run in variants.values():
        run()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            for _ in range(inner):
                run()
            samples[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(values) for name, values in samples.items()}


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; floats are printed with 3 significant digits."""

    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
