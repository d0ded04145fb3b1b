"""Building the configured torch optimizer and applying the schedule to it."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from odedsl.training.config import OPTIMIZERS, OptimizerConfig
from odedsl.training.errors import ConfigError


def build_optimizer(
    parameters: Iterable[torch.nn.Parameter], config: OptimizerConfig
) -> torch.optim.Optimizer:
    """``config.name(parameters, **config.kwargs)``; list-valued arguments become tuples."""
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.kwargs.items()}
    params = [p for p in parameters if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters (none with requires_grad)")
    try:
        return OPTIMIZERS[config.name](params, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"optimizer {config.name}({_arguments(config)}): {exc}") from None


def _arguments(config: OptimizerConfig) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in config.kwargs.items())


def set_learning_rates(optimizer: torch.optim.Optimizer, base: list[float], factor: float) -> float:
    """Sets every group's ``lr`` to its base rate times ``factor``; returns the first group's."""
    for group, lr in zip(optimizer.param_groups, base, strict=True):
        group["lr"] = lr * factor
    return optimizer.param_groups[0]["lr"]
