"""The learning-rate schedules against torch's own schedulers, step by step."""

from __future__ import annotations

import pytest
import torch

from odedsl.training import ScheduleConfig, lr_factor

TOTAL = 50


def torch_rates(make_scheduler) -> list[float]:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(TOTAL):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize(
    ("schedule", "make_scheduler"),
    [
        (
            ScheduleConfig("cosine", min_factor=0.1),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=TOTAL, eta_min=0.1),
        ),
        (
            ScheduleConfig("one-cycle", warmup_fraction=0.25),
            lambda o: torch.optim.lr_scheduler.OneCycleLR(
                o, max_lr=1.0, total_steps=TOTAL, pct_start=0.25, cycle_momentum=False
            ),
        ),
        (
            ScheduleConfig("step", milestones=(10, 30), factor=0.5),
            lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[10, 30], gamma=0.5),
        ),
        (ScheduleConfig(), lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda step: 1.0)),
    ],
    ids=["cosine", "one-cycle", "step", "none"],
)
def test_schedule_matches_torch(schedule, make_scheduler):
    # torch's cosine scheduler updates recursively, so it carries rounding: 1e-12 relative.
    ours = [lr_factor(schedule, step, TOTAL) for step in range(TOTAL)]
    assert ours == pytest.approx(torch_rates(make_scheduler), rel=1e-12, abs=1e-15)


def test_step_milestones_in_epochs():
    schedule = ScheduleConfig("step", milestones=(2,), factor=0.1, unit="epochs")
    factors = [lr_factor(schedule, step, 40, steps_per_epoch=7) for step in (13, 14)]
    assert factors == [1.0, pytest.approx(0.1)]
