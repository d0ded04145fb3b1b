"""The selection options of `train`: `eval_every` and `patience`, checked like every option."""

from __future__ import annotations

from pathlib import Path

import pytest

from odedsl.errors import SpecError
from odedsl.lang import check_text
from odedsl.lang.summary import summarize

MOONS = Path(__file__).resolve().parents[2] / "specs" / "cnf_moons.ode"
STEPS = "        steps = 5000\n"


def moons(*options: str) -> tuple[str, int]:
    """The reference flow with ``options`` before `steps`, and the line of the first."""
    text = MOONS.read_text(encoding="utf-8")
    added = "".join(f"        {option}\n" for option in options)
    line = text[: text.index(STEPS)].count("\n") + 1
    return text.replace(STEPS, added + STEPS), line


def test_eval_every_and_patience_reach_the_training_settings_and_the_summary() -> None:
    text, _ = moons("eval_every = 250", "patience = 4")
    model = check_text(text, "m.ode")
    assert (model.train.eval_every, model.train.patience) == (250, 4) and not model.warnings
    assert summarize(model).endswith("validation every 250 steps, patience 4")
    plain = check_text(MOONS.read_text(encoding="utf-8"), "m.ode")
    assert (plain.train.eval_every, plain.train.patience) == (0, 0)
    assert "validation" not in summarize(plain)


def test_eval_every_counts_epochs_in_a_run_of_epochs() -> None:
    text, _ = moons("eval_every = 2")
    model = check_text(text.replace("steps = 5000", "epochs = 10"), "m.ode")
    assert model.train.epochs == 10 and "validation every 2 epochs" in summarize(model)


@pytest.mark.parametrize(
    ("option", "message", "column"),
    [
        ("eval_every = -1", "`eval_every` must not be negative, but it is -1", 22),
        ("eval_every = 2.5", "`eval_every` must be an integer, but it is 2.5", 22),
        ("patience = -3", "`patience` must not be negative, but it is -3", 20),
        ("patience = :forever", "`patience` must be an integer", 20),
    ],
)
def test_a_bad_selection_option_is_refused_at_its_value(
    option: str, message: str, column: int
) -> None:
    text, line = moons(option)
    with pytest.raises(SpecError) as caught:
        check_text(text, "m.ode")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("E081", line, column)
    assert diagnostic.message.startswith(message)


def test_patience_without_eval_every_has_no_effect() -> None:
    text, line = moons("patience = 3")
    (warning,) = check_text(text, "m.ode").warnings
    assert (warning.code, warning.line, warning.column) == ("W004", line, 9)
    assert warning.message == (
        "`patience` counts validation scores, and there are none without `eval_every`"
    )
    assert warning.help == "set `eval_every = N`, or remove `patience`"
