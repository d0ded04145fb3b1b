"""Pictures of trained models, written as PNG files into a run folder (needs matplotlib)."""

from __future__ import annotations

from .figure import PlotError

__all__ = ["PlotError"]
