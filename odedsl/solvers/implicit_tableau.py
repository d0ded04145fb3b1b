"""Butcher tableaux of implicit Runge–Kutta methods: the whole description of one.

A new implicit method is a new ``ImplicitTableau`` in a file under ``tableaux/`` plus one
line in ``methods.py``; ``implicit.py`` solves its stages.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

_ROW_SUM_TOLERANCE = 1e-12


@dataclass(frozen=True)
class ImplicitTableau:
    """A Runge–Kutta method ``k_i = f(t0 + c_i h, y0 + h Σ_j a_ij k_j)``, ``a`` full (s × s).

    ``y1 = y0 + h Σ b_j k_j`` has order ``order``. Stages whose row of ``a`` has no entry on
    or after the diagonal are explicit (e.g. the first stage of the trapezoidal rule is
    ``f(t0, y0)``); the rest are solved by Newton's method in ``blocks``: one block per
    stage when ``a`` is lower triangular (diagonally implicit), one block of all of them
    otherwise (fully implicit).
    """

    name: str
    order: int
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]

    def __post_init__(self) -> None:
        s = len(self.c)
        if len(self.a) != s or len(self.b) != s or any(len(row) != s for row in self.a):
            raise ValueError(f"tableau {self.name!r}: a must be s × s, c and b of length s")
        for i, row in enumerate(self.a):
            if abs(sum(row) - self.c[i]) > _ROW_SUM_TOLERANCE * max(1.0, abs(self.c[i])):
                raise ValueError(f"tableau {self.name!r}: row {i} of a does not sum to c[{i}]")

    @property
    def n_stages(self) -> int:
        return len(self.c)

    def explicit(self, i: int) -> bool:
        """Whether stage ``i`` depends only on earlier stages."""
        return all(a == 0.0 for a in self.a[i][i:])

    @functools.cached_property
    def blocks(self) -> tuple[tuple[int, ...], ...]:
        """The stages in order of computation: explicit ones alone, implicit ones in blocks
        solved together (each depends only on itself and earlier blocks)."""
        s = self.n_stages
        lower = all(self.a[i][j] == 0.0 for i in range(s) for j in range(i + 1, s))
        blocks: list[tuple[int, ...]] = []
        pending: list[int] = []
        for i in range(s):
            if lower or (self.explicit(i) and not pending):
                blocks.append((i,))
            else:
                pending.append(i)
        if pending:
            blocks.append(tuple(pending))
        return tuple(blocks)
