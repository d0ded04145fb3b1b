"""error_control.png: tolerance labels that do not overlap, y-labels that stay in their panel,
forward and backward evaluations drawn apart, and ODE-Nets of two states measured and drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from odedsl.compiler import build_data, compile
from odedsl.plots.odenet import error_control, plot_error_control

from .readable import assert_readable, varies

# The numbers of a trained digits ODE-Net (dopri5, specs/odenet_digits.ode): the three loosest
# tolerances take the same 14 evaluations and errors equal to 7 digits, so their points and
# labels coincide; the others are apart.
MEASURED = [
    (1e-1, 14, 14, 5.5256752e-3),
    (3e-2, 14, 14, 5.5256756e-3),
    (1e-2, 14, 14, 5.5256747e-3),
    (3e-3, 20, 20, 4.378e-3),
    (1e-3, 20, 14, 2.175e-3),
    (3e-4, 26, 20, 1.300e-3),
    (1e-4, 32, 26, 8.21e-4),
    (3e-5, 38, 38, 4.35e-4),
    (1e-5, 50, 50, 2.34e-4),
]
RECORDS = [
    {
        "tolerance": tolerance,
        "nfe_forward": float(forward),
        "nfe_backward": float(backward),
        "forward_seconds": 0.004 * forward,
        "backward_seconds": 0.005 * backward,
        "error": error,
    }
    for tolerance, forward, backward, error in MEASURED
]


def annotations(axis: Any) -> list[str]:
    return [text.get_text() for text in axis.texts if text.get_visible()]


def test_fixed_step_training_leaves_no_flat_panel_and_nothing_overlaps(
    figures, tmp_path: Path
) -> None:
    # fixed RK4 steps with the adjoint: 8 evaluations forward and 8 backward every step
    training = [{"step": s, "nfe_forward": 8.0, "nfe_backward": 8.0} for s in (10, 20, 30)]
    plot_error_control(RECORDS, training, tmp_path)
    (figure,) = figures
    assert len(figure.axes) == 3 and all(varies(axis) for axis in figure.axes)
    assert "8 forward and 8 backward" in figure._suptitle.get_text()
    assert_readable(figure)  # tick labels, axis labels and tolerance labels apart
    labels = annotations(figure.axes[0])
    assert labels[0] == "1e-01, 3e-02, 1e-02"  # the coinciding points share one label
    assert set(labels) <= {"1e-01, 3e-02, 1e-02"} | {f"{r[0]:.0e}" for r in MEASURED[3:]}


def test_changing_evaluations_over_training_are_drawn_in_two_styles(
    figures, tmp_path: Path
) -> None:
    # an adaptive solver whose adjoint takes as many evaluations as the forward pass
    training = [{"step": s, "nfe_forward": 14.0 + s, "nfe_backward": 14.0 + s} for s in (1, 2, 3)]
    plot_error_control(RECORDS, training, tmp_path)
    (figure,) = figures
    over_training = figure.axes[3]
    assert_readable(figure)
    forward, backward = over_training.get_lines()
    assert forward.get_linestyle() != backward.get_linestyle()
    assert forward.get_marker() != backward.get_marker()


TWO_STATES = """
model TwoStateODENet
    data
        (x, y) ~ Digits(split = :train)
    end
    networks
        down = Chain(Conv(1 => 4, 3, pad = 1), relu)
        f    = Chain(ConcatConv(4 => 4, 3, pad = 1), tanh)
        head = Chain(GlobalMeanPool(), Dense(4 => 10))
    end
    states
        h(t) :: Real[4, 8, 8]
        v(t) :: Real[4, 8, 8]
        t ∈ (0.0, 1.0)
    end
    dynamics
        h(0) = down(x)
        v(0) = down(x)
        dh/dt = v
        dv/dt = f(t, h) - v
    end
    likelihood
        y ~ Categorical(logits = head(h(1.0) + v(1.0)))
    end
    train
        steps = 1
    end
end
"""
"""A second-order ODE-Net: position h and velocity v, two states (a tuple) in the solve."""


def test_an_odenet_of_two_states_is_measured_and_drawn(figures, tmp_path: Path, one_thread) -> None:
    torch.manual_seed(0)
    model = compile(TWO_STATES)
    batch = next(iter(build_data(model.spec, "test")))
    records = error_control(model, batch["x"][:4], batch["y"][:4], tolerances=(1e-2, 1e-5))
    # both states count in the error: it falls as the tolerance tightens (dopri5)
    assert records[1]["error"] < records[0]["error"]
    plot_error_control(records, [], tmp_path)
    (figure,) = figures
    assert_readable(figure)
    assert (tmp_path / "error_control.png").stat().st_size > 0
