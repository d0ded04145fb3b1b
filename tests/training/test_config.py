"""Training configurations: JSON round trips and errors that name the field."""

from __future__ import annotations

import json

import pytest

from odedsl.training import ConfigError, OptimizerConfig, ScheduleConfig, TrainConfig


def test_round_trip_through_json():
    config = TrainConfig(
        optimizer=OptimizerConfig("AdamW", {"lr": 3e-4, "betas": (0.9, 0.95)}),
        schedule=ScheduleConfig("step", milestones=(5, 9), unit="epochs"),
        epochs=12,
        clip_grad_norm=1.0,
        eval_every=2,
    )
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.with_length(20).epochs == 20 and config.unit == "epochs"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: OptimizerConfig("Adamw"), "optimizer = 'Adamw' (did you mean 'AdamW'?)"),
        (lambda: OptimizerConfig("SGD", {"lr": 0.1, "momentm": 0.9}), "'momentm' (did you mean"),
        (lambda: OptimizerConfig("Adam", {"lr": -1}), "Adam(lr) must be a finite number > 0"),
        (lambda: ScheduleConfig("cosin"), "(did you mean 'cosine'?)"),
        (lambda: ScheduleConfig("step"), "schedule = step needs milestones"),
        (lambda: ScheduleConfig("step", milestones=(5, 3)), "must increase strictly"),
        (lambda: TrainConfig(), "set exactly one of steps and epochs"),
        (lambda: TrainConfig(steps=10, epochs=2), "set exactly one of steps and epochs"),
        (lambda: TrainConfig(steps=0), "steps must be an integer ≥ 1"),
        (lambda: TrainConfig(steps=5, log_every=0), "log_every must be an integer ≥ 1"),
        (lambda: TrainConfig(steps=5, best_mode="low"), "best_mode = 'low'"),
        (lambda: TrainConfig.from_dict({"step": 5}), "no field 'step' (did you mean 'steps'?)"),
        (
            lambda: TrainConfig(steps=5, schedule=ScheduleConfig("step", (2,), unit="epochs")),
            "milestones in epochs need epochs",
        ),
    ],
)
def test_invalid_settings_name_the_field(make, message):
    with pytest.raises(ConfigError) as caught:
        make()
    assert message in str(caught.value)
