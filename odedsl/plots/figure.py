"""matplotlib, imported on demand with the non-interactive backend."""

from __future__ import annotations

from collections.abc import Sequence
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


def hide_overlapping(figure: Any, texts: Sequence[Any]) -> None:
    """Hide each of ``texts`` (annotations, in order of priority) whose box on the drawn
    ``figure`` overlaps a tick label or a text kept before it."""
    figure.draw_without_rendering()  # lays the figure out, as saving it will
    renderer = figure.canvas.get_renderer()
    taken = [
        label.get_window_extent(renderer)
        for axis in figure.axes
        for label in axis.get_xticklabels() + axis.get_yticklabels()
        if label.get_visible() and label.get_text()
    ]
    for text in texts:
        box = text.get_window_extent(renderer)
        if any(box.overlaps(other) for other in taken):
            text.set_visible(False)
        else:
            taken.append(box)
