"""Progress output: plain periodic lines off a terminal, one redrawn line on a terminal."""

from __future__ import annotations

import io
import re

from odedsl.training import ProgressBar, train
from odedsl.training.progress import NFE_LEGEND, format_duration

from .workers import regression_config, regression_data, regression_model


class Clock:
    """A fake clock that advances ``tick`` seconds per reading."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


LINE = re.compile(r"step (\d+)/(\d+)  loss (\S+)  nfe 2/3  (\S+) steps/s  eta (\d+:\d\d)")


def test_plain_lines_every_k_steps_with_rate_and_eta():
    """One clock reading per update at 0.25 s each: 4 steps/s, so eta = (200 − step)/4 s."""
    stream = io.StringIO()
    bar = ProgressBar(stream, every_steps=50, every_seconds=1e9, is_tty=False, clock=Clock(0.25))
    bar.start(200, 0)
    for step in range(1, 201):
        bar.update(step, {"loss": 1.0 / step, "nfe_forward": 2.0, "nfe_backward": 3.0})
    bar.close()
    legend, *lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert legend == NFE_LEGEND  # once, before the first line showing nfe
    assert len(lines) == 4
    for line, step in zip(lines, (50, 100, 150, 200), strict=True):
        match = LINE.fullmatch(line)
        assert match, line
        assert int(match[1]) == step and int(match[2]) == 200
        assert float(match[3]) == float(f"{1.0 / step:.4g}")
        assert float(match[4]) == 4.0
        assert match[5] == format_duration((200 - step) / 4.0)


def test_plain_lines_also_every_few_seconds():
    stream = io.StringIO()
    bar = ProgressBar(stream, every_steps=10**6, every_seconds=2.0, is_tty=False, clock=Clock(0.5))
    bar.start(20, 0)
    for step in range(1, 21):
        bar.update(step, {"loss": 0.5})
    # Readings at 1.0 s (start), then 1.5, 2.0, ...: a line whenever 2 s passed since the last.
    assert [line.split()[1] for line in stream.getvalue().splitlines()] == [
        "4/20",
        "8/20",
        "12/20",
        "16/20",
        "20/20",
    ]


def test_terminal_redraws_one_line_and_notes_get_their_own():
    stream = io.StringIO()
    bar = ProgressBar(stream, is_tty=True, clock=Clock(1.0))
    bar.start(10, 0)
    bar.update(5, {"loss": 0.25})
    bar.note("eval at step 5: loss 0.3")
    bar.update(10, {"loss": 0.125})
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\r[##########----------] step 5/10  loss 0.25")
    assert "\reval at step 5: loss 0.3\n" in text  # the bar's line is blanked first
    assert "\r[####################] step 10/10  loss 0.125" in text
    assert text.endswith("\n")


def test_training_reports_through_the_bar(tmp_path):
    stream = io.StringIO()
    bar = ProgressBar(stream, every_steps=10, is_tty=False)
    train(regression_model(), regression_data(), regression_config(30), tmp_path, progress=bar)
    legend, *lines = stream.getvalue().splitlines()
    assert legend == NFE_LEGEND
    assert [LINE.fullmatch(line)[1] for line in lines[:3]] == ["10", "20", "30"]
    assert lines[3] == "trained 30 steps"


def test_durations():
    assert [format_duration(s) for s in (0, 59.6, 61, 3600 + 62)] == [
        "0:00",
        "1:00",
        "1:01",
        "1:01:02",
    ]
