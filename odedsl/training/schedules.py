"""Learning-rate schedules as pure functions of the step (so a resumed run needs no state).

``lr_factor(schedule, step, total_steps, steps_per_epoch)`` is the multiplier of the optimizer's
configured learning rate for the update that follows ``step`` completed steps. The cosine and
one-cycle shapes are those of ``torch.optim.lr_scheduler.CosineAnnealingLR`` and ``OneCycleLR``
(``anneal_strategy="cos"``, learning rate only), the step shape that of ``MultiStepLR``.
"""

from __future__ import annotations

import bisect
import math

from odedsl.training.config import ScheduleConfig


def _cosine_between(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * fraction))


def lr_factor(
    schedule: ScheduleConfig, step: int, total_steps: int, steps_per_epoch: int = 1
) -> float:
    """The learning-rate multiplier for the update after ``step`` (0-based) of ``total_steps``."""
    if schedule.kind == "none":
        return 1.0
    if schedule.kind == "cosine":
        return _cosine_between(1.0, schedule.min_factor, min(step / total_steps, 1.0))
    if schedule.kind == "step":
        scale = steps_per_epoch if schedule.unit == "epochs" else 1
        passed = bisect.bisect_right([m * scale for m in schedule.milestones], step)
        return schedule.factor**passed
    initial = 1.0 / schedule.div_factor
    final = initial / schedule.final_div_factor
    peak_step = schedule.warmup_fraction * total_steps - 1.0
    last_step = total_steps - 1.0
    if step <= peak_step:
        return _cosine_between(initial, 1.0, step / peak_step if peak_step > 0 else 1.0)
    return _cosine_between(1.0, final, min((step - peak_step) / (last_step - peak_step), 1.0))
