"""The low-order implicit methods: backward Euler (order 1), the implicit midpoint rule and
the trapezoidal rule (order 2), as torchdiffeq's ``implicit_euler``, ``implicit_midpoint``
and ``trapezoid``. Hairer–Wanner II, Sec. IV.3."""

from __future__ import annotations

from ..implicit_tableau import ImplicitTableau

IMPLICIT_EULER = ImplicitTableau(name="implicit_euler", order=1, c=(1.0,), a=((1.0,),), b=(1.0,))

IMPLICIT_MIDPOINT = ImplicitTableau(
    name="implicit_midpoint", order=2, c=(1 / 2,), a=((1 / 2,),), b=(1.0,)
)

# The first stage is f(t0, y0) (an explicit row), the second f(t1, y1): stiffly accurate.
TRAPEZOID = ImplicitTableau(
    name="trapezoid",
    order=2,
    c=(0.0, 1.0),
    a=((0.0, 0.0), (1 / 2, 1 / 2)),
    b=(1 / 2, 1 / 2),
)
