"""The error raised when dynamics fall outside the class the symbolic trace supports."""

from __future__ import annotations

from odedsl.errors import OdedslError


class SymbolicUnsupported(OdedslError):
    """These dynamics cannot be handled symbolically; ``reason`` says why.

    The compiler catches it and falls back to the exact or Hutchinson trace (``trace = :auto``)
    or reports a located error (``trace = :symbolic``). ``culprit`` names the offending
    construct (a network, a function name) when there is one.
    """

    def __init__(self, reason: str, culprit: str | None = None) -> None:
        self.reason = reason
        self.culprit = culprit
        super().__init__(reason)
