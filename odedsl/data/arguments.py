"""Validation of data-set keyword arguments, with errors that name the argument."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable

from odedsl.data.errors import DataError

SPLITS = ("train", "validation", "test")


def suggestion(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean `x`?)`` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.5)
    return f" (did you mean `{close[0]}`?)" if close else ""


def check_split(split: object) -> str:
    """Return ``split`` if it is ``"train"``, ``"validation"`` or ``"test"`` (a leading ``:`` is
    accepted)."""
    if isinstance(split, str) and split.lstrip(":") in SPLITS:
        return split.lstrip(":")
    hint = suggestion(str(split).lstrip(":"), SPLITS)
    raise DataError(f"`split` must be 'train', 'validation' or 'test', got {split!r}{hint}")


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DataError(f"`{name}` must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise DataError(f"`{name}` must be {bound}, got {value}")
    return value


def check_real(name: str, value: object, *, positive: bool = False) -> float:
    """Return ``value`` as a finite float, non-negative (or positive) or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataError(f"`{name}` must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise DataError(f"`{name}` must be a finite {kind} number, got {value}")
    return value
