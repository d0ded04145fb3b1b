"""The figures the plotting modules draw, kept for the tests to inspect."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("matplotlib")


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every figure saved by :mod:`odedsl.plots` during the test, in order (still written)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from odedsl.plots import curves, figure, flow, latent, observed, odenet

    drawn: list[Any] = []
    real = figure.save

    def keep(picture: Any, path: Any) -> Any:
        drawn.append(picture)
        written = real(picture, path)  # closes the figure: give it back a canvas to lay it out
        FigureCanvasAgg(picture)
        return written

    for module in (curves, flow, latent, observed, odenet):
        monkeypatch.setattr(module, "save", keep)
    return drawn
