"""One Butcher tableau per file; ``methods.SOLVERS`` turns each into a solver."""

from __future__ import annotations

from .bosh3 import BOSH3
from .dopri5 import DOPRI5
from .dopri8 import DOPRI8
from .euler import EULER
from .heun import HEUN
from .midpoint import MIDPOINT
from .rk4 import RK4
from .tsit5 import TSIT5

__all__ = ["BOSH3", "DOPRI5", "DOPRI8", "EULER", "HEUN", "MIDPOINT", "RK4", "TSIT5"]
