"""Exceptions shared by every stage of odedsl (no torch import here)."""

from __future__ import annotations


class OdedslError(Exception):
    """Base class of every error odedsl raises on purpose."""


class SolverError(OdedslError, RuntimeError):
    """An ODE solve failed: non-finite state, step-size underflow, or too many steps.

    The message names the time, the step size, the steps taken and a hint.
    """


class SpecError(OdedslError, ValueError):
    """A spec is malformed. ``diagnostics`` holds every located problem found.

    Each diagnostic carries ``code``, ``message``, ``line``, ``column``, ``end_line``,
    ``end_column`` and ``help`` (see ``odedsl.lang.diagnostics``).
    """

    def __init__(self, diagnostics: list, rendered: str | None = None) -> None:
        self.diagnostics = list(diagnostics)
        self.rendered = rendered
        super().__init__(rendered or "\n".join(str(d) for d in self.diagnostics))
