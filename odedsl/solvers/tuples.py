"""Tuple and complex states: flattened into one real tensor for the solvers, restored after.

The solvers work on one real floating-point tensor. A tuple state is concatenated into one
flat vector; a complex tensor (alone or as a part of a tuple) is seen as its real and
imaginary parts (``torch.view_as_real``), so every solver, gradient method and option works
on complex states unchanged. ``TupleLayout`` records how to undo both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class TupleLayout:
    """Shapes of the parts of a state, which parts are complex, and whether it is a tuple.

    ``single`` marks a lone (complex) tensor rather than a tuple: it is restored as a tensor.
    """

    shapes: tuple[torch.Size, ...]
    complex_parts: tuple[bool, ...] = ()
    single: bool = False

    @classmethod
    def of(cls, parts: Sequence[Tensor], single: bool = False) -> TupleLayout:
        return cls(
            tuple(part.shape for part in parts),
            tuple(part.is_complex() for part in parts),
            single,
        )

    def _is_complex(self, i: int) -> bool:
        return bool(self.complex_parts) and self.complex_parts[i]

    @property
    def sizes(self) -> list[int]:
        """Each part's length in the flat (real) state."""
        return [
            shape.numel() * (2 if self._is_complex(i) else 1) for i, shape in enumerate(self.shapes)
        ]

    def flatten(self, parts: Sequence[Tensor]) -> Tensor:
        return torch.cat([self._real(i, part).reshape(-1) for i, part in enumerate(parts)])

    def _real(self, i: int, part: Tensor) -> Tensor:
        return torch.view_as_real(part) if self._is_complex(i) else part

    def unflatten(self, flat: Tensor, batch: tuple[int, ...] = ()) -> Tensor | tuple[Tensor, ...]:
        """Split the last dimension of ``flat`` into the parts, keeping ``batch`` in front."""
        pieces = torch.split(flat, self.sizes, dim=-1)
        parts = []
        for i, (piece, shape) in enumerate(zip(pieces, self.shapes, strict=True)):
            if self._is_complex(i):
                pairs = piece.reshape((*batch, *shape, 2))
                if pairs.storage_offset() % 2 or pairs.stride(-1) != 1:  # view_as_complex needs
                    pairs = pairs.clone(memory_format=torch.contiguous_format)
                parts.append(torch.view_as_complex(pairs))
            else:
                parts.append(piece.reshape((*batch, *shape)))
        return parts[0] if self.single else tuple(parts)

    def mixed_norm(self, flat: Tensor) -> Tensor:
        """The largest RMS norm over the parts (torchdiffeq's default for tuple states); a
        complex part's RMS is over its complex entries, ``sqrt(mean |z|²)``."""
        norms = [
            torch.linalg.vector_norm(piece) / math.sqrt(max(shape.numel(), 1))
            for piece, shape in zip(torch.split(flat, self.sizes), self.shapes, strict=True)
        ]
        return torch.stack(norms).max()

    def wrap_norm(self, norm: Callable[..., Tensor]) -> Callable[[Tensor], Tensor]:
        """A norm on the user's state (tuple or complex tensor) as a norm on the flat state."""
        return lambda flat: norm(self.unflatten(flat))

    def wrap_adjoint_norm(self, norm: Callable[..., Tensor]) -> Callable[..., Tensor]:
        """An adjoint norm on torchdiffeq's ``(a_t, *y, *a_y, *a_θ)`` (``y`` and ``a_y`` the
        parts of the user's state) as one on ``(a_t, y_flat, a_flat, *a_θ)``."""

        def parts(flat: Tensor) -> tuple[Tensor, ...]:
            state = self.unflatten(flat)
            return (state,) if self.single else state

        return lambda v: norm((v[0], *parts(v[1]), *parts(v[2]), *v[3:]))

    def tolerance(self, name: str, tol: object) -> object:
        """Per-part tolerances (a sequence with one number per part) as a flat tensor; a
        per-element tensor tolerance of a lone complex state applies to both real parts."""
        if self.single:
            if isinstance(tol, Tensor) and tol.numel() > 1 and self._is_complex(0):
                return tol.unsqueeze(-1).expand(*tol.shape, 2)
            return tol
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
    """``func`` on the user's state (tuple or complex) as a function of the flat state (an
    ``nn.Module`` holding ``func``, so that its parameters are found)."""

    def __init__(self, func: Callable, layout: TupleLayout) -> None:
        super().__init__()
        self.func = func
        self.layout = layout

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        derivative = self.func(t, self.layout.unflatten(y))
        layout = self.layout
        if layout.single:
            derivative = (derivative,)
        elif not isinstance(derivative, (tuple, list)) or len(derivative) != len(layout.shapes):
            raise ValueError(
                f"func must return a tuple of {len(layout.shapes)} tensors for a tuple state "
                f"y0, got {type(derivative).__name__}"
            )
        for i, (part, shape) in enumerate(zip(derivative, layout.shapes, strict=True)):
            where = "dy/dt" if layout.single else f"part {i} of dy/dt"
            if not isinstance(part, Tensor) or part.shape != shape:
                got = tuple(part.shape) if isinstance(part, Tensor) else type(part).__name__
                raise ValueError(
                    f"func returned {got} for {where}, but that part of the state has shape "
                    f"{tuple(shape)}; each part of dy/dt must match its part of y"
                )
            if part.is_complex() != layout._is_complex(i):
                kind = "complex" if layout._is_complex(i) else "real"
                raise ValueError(
                    f"func returned a {part.dtype} tensor for {where}, but that part of the "
                    f"state is {kind}; dy/dt must have the dtype of y"
                )
        return layout.flatten(derivative)
