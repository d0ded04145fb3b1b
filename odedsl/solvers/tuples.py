"""Tuple states: flattened into one tensor for the solvers, and restored afterwards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .control import rms_norm


@dataclass(frozen=True)
class TupleLayout:
    """Shapes of the parts of a tuple state, and their offsets in the flat state."""

    shapes: tuple[torch.Size, ...]

    @property
    def sizes(self) -> list[int]:
        return [shape.numel() for shape in self.shapes]

    def flatten(self, parts: Sequence[Tensor]) -> Tensor:
        return torch.cat([part.reshape(-1) for part in parts])

    def unflatten(self, flat: Tensor, batch: tuple[int, ...] = ()) -> tuple[Tensor, ...]:
        """Split the last dimension of ``flat`` into the parts, keeping ``batch`` in front."""
        pieces = torch.split(flat, self.sizes, dim=-1)
        return tuple(p.reshape(*batch, *s) for p, s in zip(pieces, self.shapes, strict=True))

    def mixed_norm(self, flat: Tensor) -> Tensor:
        """The largest RMS norm over the parts (torchdiffeq's default for tuple states)."""
        return torch.stack([rms_norm(p) for p in torch.split(flat, self.sizes)]).max()

    def wrap_norm(self, norm: Callable[[tuple[Tensor, ...]], Tensor]) -> Callable:
        """A norm on tuples of parts as a norm on the flat state."""
        return lambda flat: norm(self.unflatten(flat))

    def tolerance(self, name: str, tol: object) -> object:
        """Per-part tolerances (a sequence with one number per part) as a flat tensor."""
        if not isinstance(tol, (list, tuple)):
            return tol
        if len(tol) != len(self.shapes):
            raise ValueError(
                f"{name}: a tuple of tolerances needs one entry per part of y0 "
                f"({len(self.shapes)}), got {len(tol)}"
            )
        return torch.cat(
            [
                torch.as_tensor(v, dtype=torch.float64).expand(n).reshape(-1)
                for v, n in zip(tol, self.sizes, strict=True)
            ]
        )


@dataclass(frozen=True)
class RowTupleLayout(TupleLayout):
    """A tuple state of a batch of independent problems (the batch on every part's first
    axis), flattened row by row: ``(B, Σ n_i)``, so each row stays one problem."""

    @property
    def sizes(self) -> list[int]:
        return [shape[1:].numel() for shape in self.shapes]

    def flatten(self, parts: Sequence[Tensor]) -> Tensor:
        return torch.cat([part.reshape(part.shape[0], -1) for part in parts], dim=-1)

    def mixed_norm(self, flat: Tensor) -> Tensor:
        """Per row, the largest RMS norm over the parts."""
        pieces = torch.split(flat, self.sizes, dim=-1)
        return torch.stack([p.square().mean(dim=-1).sqrt() for p in pieces]).amax(dim=0)


class TupleFunc(nn.Module):
    """``func`` on tuple states as a function of the flat state (an ``nn.Module`` holding
    ``func``, so that its parameters are found)."""

    def __init__(self, func: Callable, layout: TupleLayout) -> None:
        super().__init__()
        self.func = func
        self.layout = layout

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        derivative = self.func(t, self.layout.unflatten(y))
        shapes = self.layout.shapes
        if not isinstance(derivative, (tuple, list)) or len(derivative) != len(shapes):
            raise ValueError(
                f"func must return a tuple of {len(shapes)} tensors for a tuple state y0, "
                f"got {type(derivative).__name__}"
            )
        for i, (part, shape) in enumerate(zip(derivative, shapes, strict=True)):
            if not isinstance(part, Tensor) or part.shape != shape:
                got = tuple(part.shape) if isinstance(part, Tensor) else type(part).__name__
                raise ValueError(
                    f"func returned {got} for part {i} of the state, whose shape is "
                    f"{tuple(shape)}; each part of dy/dt must match its part of y"
                )
        return self.layout.flatten(derivative)
