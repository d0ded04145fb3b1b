"""matplotlib, imported on demand with the non-interactive backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from odedsl.errors import OdedslError


class PlotError(OdedslError):
    """Plotting is impossible here (matplotlib missing) or failed."""


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or a PlotError naming the extra to install."""
    try:
        import matplotlib
    except ImportError as error:
        raise PlotError(
            "plots need matplotlib: pip install 'odedsl[plots]' (or pip install matplotlib)"
        ) from error
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save(figure: Any, path: Path) -> Path:
    """Write ``figure`` to ``path`` (PNG) and close it."""
    figure.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(figure)
    return path
