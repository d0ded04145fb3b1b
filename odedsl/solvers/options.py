"""Reading solver options: names checked with did-you-mean, values checked by kind."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch

_SUGGESTION_CUTOFF = 0.6


def suggestion(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` naming the closest known names (ties all named), or ``""``."""
    known = list(known)
    scores = [difflib.SequenceMatcher(None, name, k).ratio() for k in known]
    best = max(scores, default=0.0)
    if best < _SUGGESTION_CUTOFF:
        return ""
    closest = [repr(k) for k, score in zip(known, scores, strict=True) if score == best]
    return f" (did you mean {' or '.join(closest)}?)"


def check_option_names(options: Mapping[str, Any], known: Iterable[str], method: str) -> None:
    """Raise ``ValueError`` naming the first option ``method`` does not understand."""
    known = sorted(known)
    for name in options:
        if name not in known:
            accepted = ", ".join(known) or "none"
            raise ValueError(
                f"options: unknown option {name!r} for method {method!r}"
                f"{suggestion(name, known)}; accepted options: {accepted}"
            )


def float_option(
    options: Mapping[str, Any],
    name: str,
    default: float,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_inclusive: bool = True,
) -> float:
    """``options[name]`` as a float in ``[low, high]`` (or ``(low, high]``), else ``default``."""
    value = options.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"options[{name!r}] must be a number, got {value!r}") from None
    too_low = number < low if low_inclusive else number <= low
    if math.isnan(number) or too_low or number > high:
        bracket = "[" if low_inclusive else "("
        raise ValueError(f"options[{name!r}] must lie in {bracket}{low}, {high}], got {number}")
    return number


def int_option(options: Mapping[str, Any], name: str, default: int) -> int:
    """``options[name]`` as a positive integer, else ``default``."""
    value = options.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"options[{name!r}] must be a positive integer, got {value!r}")
    return value


def choice_option(options: Mapping[str, Any], name: str, default: str, choices: tuple) -> str:
    """``options[name]`` as one of ``choices``, else ``default``."""
    value = options.get(name, default)
    if value not in choices:
        hint = suggestion(str(value), choices)
        raise ValueError(f"options[{name!r}] must be one of {choices}, got {value!r}{hint}")
    return value


def callable_option(options: Mapping[str, Any], name: str) -> Any:
    """``options[name]`` if it is callable, else ``None`` when absent."""
    value = options.get(name)
    if value is not None and not callable(value):
        raise ValueError(f"options[{name!r}] must be callable, got {value!r}")
    return value


def times_option(options: Mapping[str, Any], name: str) -> list[float]:
    """``options[name]`` (a tensor or a sequence of numbers) as a list of float64 times."""
    value = options.get(name)
    if value is None:
        return []
    try:
        times = torch.as_tensor(value).detach().to("cpu", torch.float64).reshape(-1).tolist()
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"options[{name!r}] must be a 1-D tensor or sequence of times") from None
    if not all(math.isfinite(x) for x in times):
        raise ValueError(f"options[{name!r}] must hold finite times, got {times}")
    return times


def times_as_floats(t: torch.Tensor) -> list[float]:
    """The output times as Python floats (float64 values of ``t``'s entries)."""
    return t.detach().to("cpu", torch.float64).tolist()


DEFAULT_MAX_NUM_STEPS = 10_000
"""Adaptive solves give up after this many step attempts, and fixed grids longer than this are
refused, unless ``max_num_steps`` says otherwise (``odeint`` sets no limit, as torchdiffeq)."""


def step_bounds(options: Mapping[str, Any]) -> tuple[float | None, float, float, int]:
    """An adaptive method's ``(first_step, min_step, max_step, max_num_steps)`` options."""
    first_step = (
        None
        if options.get("first_step") is None
        else float_option(options, "first_step", 0.0, low=0.0, low_inclusive=False)
    )
    min_step = float_option(options, "min_step", 0.0, low=0.0)
    max_step = float_option(options, "max_step", math.inf, low=0.0, low_inclusive=False)
    if min_step > max_step:
        raise ValueError(f"options: min_step ({min_step}) must not exceed max_step ({max_step})")
    max_num_steps = int_option(options, "max_num_steps", DEFAULT_MAX_NUM_STEPS)
    return first_step, min_step, max_step, max_num_steps
