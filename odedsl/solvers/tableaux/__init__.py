"""One Butcher tableau per file; ``methods.SOLVERS`` turns each into a solver."""

from __future__ import annotations

from .adaptive_heun import ADAPTIVE_HEUN
from .bosh3 import BOSH3
from .dopri5 import DOPRI5
from .dopri8 import DOPRI8
from .euler import EULER
from .fehlberg2 import FEHLBERG2
from .heun import HEUN
from .heun3 import HEUN3
from .midpoint import MIDPOINT
from .rk4 import RK4
from .tsit5 import TSIT5

__all__ = [
    "ADAPTIVE_HEUN",
    "BOSH3",
    "DOPRI5",
    "DOPRI8",
    "EULER",
    "FEHLBERG2",
    "HEUN",
    "HEUN3",
    "MIDPOINT",
    "RK4",
    "TSIT5",
]
