"""What makes a picture readable, checked on matplotlib figure objects: every panel's axes
are labelled, every colorbar is labelled, and no two texts (tick labels, axis labels, titles,
annotations) overlap once the figure is laid out as it is saved."""

from __future__ import annotations

from itertools import combinations
from typing import Any


def colorbar(axis: Any) -> bool:
    return getattr(axis, "_colorbar", None) is not None


def unlabelled(figure: Any) -> list[str]:
    """What lacks a label: ``"axes 0: x"``, ``"colorbar 1"``."""
    missing = []
    for index, axis in enumerate(figure.axes):
        if colorbar(axis):
            bar = axis._colorbar
            label = axis.get_ylabel() if bar.orientation == "vertical" else axis.get_xlabel()
            if not label.strip():
                missing.append(f"colorbar {index}")
            continue
        for name, label in (("x", axis.get_xlabel()), ("y", axis.get_ylabel())):
            if not label.strip():
                missing.append(f"axes {index} ({axis.get_title()!r}): {name}")
    return missing


def _in_view(label: Any, axis: Any, which: str) -> bool:
    position = label.get_position()[0 if which == "x" else 1]
    low, high = sorted(axis.get_xlim() if which == "x" else axis.get_ylim())
    return low - 1e-9 * abs(high - low) <= position <= high + 1e-9 * abs(high - low)


def texts(figure: Any) -> list[Any]:
    """Every visible, non-empty text drawn in the figure but legends' (which sit on data)."""
    found = [figure._suptitle] if figure._suptitle is not None else []
    for axis in figure.axes:
        for which in ("x", "y"):
            ticks = getattr(axis, f"get_{which}ticklabels")
            labels = ticks() + ticks(minor=True)
            found += [label for label in labels if _in_view(label, axis, which)]
        found += [axis.xaxis.label, axis.yaxis.label, axis.title, *axis.texts]
    return [t for t in found if t.get_visible() and t.get_text().strip()]


def overlapping(figure: Any) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes overlap on the laid-out figure."""
    figure.draw_without_rendering()
    renderer = figure.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts(figure)]
    return [(a, b) for (a, box_a), (b, box_b) in combinations(boxes, 2) if box_a.overlaps(box_b)]


def assert_readable(figure: Any) -> None:
    assert unlabelled(figure) == []
    assert overlapping(figure) == []


def varies(axis: Any) -> bool:
    """Whether some line of the panel changes along y (a panel is not flat)."""
    for line in axis.get_lines():
        values = [float(v) for v in line.get_ydata()]
        if len(values) > 1 and max(values) > min(values):
            return True
    return False
