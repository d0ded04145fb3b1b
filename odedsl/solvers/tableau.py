"""Butcher tableaux: the whole description of an explicit Runge–Kutta method.

A new method is a new ``ButcherTableau`` in one small file under ``tableaux/``; the generic
engine in ``runge_kutta.py`` and the drivers in ``fixed.py`` / ``adaptive.py`` do the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from .interpolation import DenseOutput, hermite_dense_output

_ROW_SUM_TOLERANCE = 1e-12


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge–Kutta method ``k_i = f(t0 + c_i h, y0 + h Σ_{j<i} a_ij k_j)``.

    - ``a[i]`` holds the ``i`` coefficients of stage ``i`` (``a[0]`` is empty).
    - ``b`` gives the solution ``y1 = y0 + h Σ b_j k_j`` (order ``order``).
    - ``error`` is ``b - b̂`` for an embedded solution of order ``error_order``; ``None`` for
      fixed-step methods. ``error_aux`` is a second estimator combined as in Hairer's DOP853
      (``err = e² / sqrt(e² + 0.01 e_aux²)``).
    - ``dense`` is the method's own continuous extension; ``None`` means cubic Hermite.
    - ``controller`` is the default step-size controller, ``"pi"`` or ``"i"``.
    - FSAL (first same as last) is detected: the last stage is ``f(t1, y1)``.
    """

    name: str
    order: int
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    error: tuple[float, ...] | None = None
    error_order: int | None = None
    error_aux: tuple[float, ...] | None = None
    dense: DenseOutput | None = None
    controller: str = "pi"

    def __post_init__(self) -> None:
        s = len(self.c)
        if len(self.a) != s or len(self.b) != s:
            raise ValueError(f"tableau {self.name!r}: c, a and b must have one entry per stage")
        for i, row in enumerate(self.a):
            if len(row) != i:
                raise ValueError(f"tableau {self.name!r}: row {i} of a must have {i} entries")
            if abs(sum(row) - self.c[i]) > _ROW_SUM_TOLERANCE * max(1.0, abs(self.c[i])):
                raise ValueError(f"tableau {self.name!r}: row {i} of a does not sum to c[{i}]")
        for name in ("error", "error_aux"):
            row = getattr(self, name)
            if row is not None and len(row) != s:
                raise ValueError(f"tableau {self.name!r}: {name} must have one entry per stage")
        if (self.error is None) != (self.error_order is None):
            raise ValueError(f"tableau {self.name!r}: error and error_order go together")

    @property
    def n_stages(self) -> int:
        return len(self.c)

    @property
    def adaptive(self) -> bool:
        return self.error is not None

    @property
    def fsal(self) -> bool:
        """Whether the last stage is ``f(t1, y1)``, reusable as the next step's first stage."""
        return (
            self.n_stages > 1
            and self.c[-1] == 1.0
            and self.b[-1] == 0.0
            and tuple(self.a[-1]) == tuple(self.b[:-1])
        )

    @property
    def continuous_extension(self) -> DenseOutput:
        """The method's own dense output, or cubic Hermite when it has none."""
        return self.dense or hermite_dense_output(self.b, self.fsal)
