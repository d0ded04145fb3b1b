"""Errors raised by the data layer."""

from __future__ import annotations

from odedsl.errors import OdedslError


class DataError(OdedslError, ValueError):
    """Bad data-set arguments or a malformed data file; the message says how to fix it."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file that a data set needs is absent; the message names the expected file(s)."""
