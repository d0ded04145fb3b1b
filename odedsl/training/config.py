"""The training configuration: optimizer, learning-rate schedule, length, seed and cadences.

``TrainConfig.to_dict()`` / ``TrainConfig.from_dict()`` round-trip through JSON (``config.json``
and the checkpoints); every field is validated on construction with a ``ConfigError`` naming it.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import torch

from odedsl.training.errors import ConfigError

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
    "SGD": torch.optim.SGD,
}
SCHEDULES = ("none", "cosine", "one-cycle", "step")
UNITS = ("steps", "epochs")
MODES = ("min", "max")


def _hint(name: str, known: Any) -> str:
    same_letters = [k for k in known if k.lower() == name.lower()]
    close = same_letters or difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _choice(field_name: str, value: Any, known: Any) -> None:
    if value not in known:
        listed = ", ".join(map(str, known))
        hint = _hint(str(value), known)
        raise ConfigError(f"{field_name} = {value!r}{hint}; choose one of {listed}")


def _count(field_name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{field_name} must be an integer ≥ {minimum}, got {value!r}")


def _positive(field_name: str, value: Any, *, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ConfigError(f"{field_name} must be a finite number {bound}, got {value!r}")


def _plain(value: Any) -> Any:
    """JSON's view of a value: tuples become lists (so configs compare equal after a trip)."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class OptimizerConfig:
    """``name`` in ``OPTIMIZERS`` and the keyword arguments of its torch class."""

    name: str = "Adam"
    kwargs: Mapping[str, Any] = field(default_factory=lambda: {"lr": 1e-3})

    def __post_init__(self) -> None:
        _choice("optimizer", self.name, OPTIMIZERS)
        accepted = set(inspect.signature(OPTIMIZERS[self.name]).parameters) - {"params"}
        for key in self.kwargs:
            if key not in accepted:
                raise ConfigError(
                    f"optimizer {self.name} has no argument {key!r}{_hint(key, accepted)}; "
                    f"valid arguments: {', '.join(sorted(accepted))}"
                )
        if "lr" in self.kwargs:
            _positive(f"{self.name}(lr)", self.kwargs["lr"])
        object.__setattr__(self, "kwargs", {k: _plain(v) for k, v in self.kwargs.items()})


@dataclass(frozen=True)
class ScheduleConfig:
    """How the learning rate moves from the optimizer's ``lr`` (see ``schedules.lr_factor``).

    ``none``; ``cosine`` (down to ``min_factor``·lr at the end); ``one-cycle`` (up from
    lr/``div_factor`` to lr over ``warmup_fraction`` of training, then down to
    lr/(``div_factor``·``final_div_factor``), cosine-shaped, learning rate only); ``step``
    (multiplied by ``factor`` at each of ``milestones``, counted in ``unit``).
    """

    kind: str = "none"
    milestones: tuple[int, ...] = ()
    factor: float = 0.1
    unit: str = "steps"
    min_factor: float = 0.0
    warmup_fraction: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def __post_init__(self) -> None:
        _choice("schedule", self.kind, SCHEDULES)
        _choice("schedule unit", self.unit, UNITS)
        milestones = tuple(self.milestones)
        for milestone in milestones:
            _count("schedule milestone", milestone, 1)
        if list(milestones) != sorted(set(milestones)):
            raise ConfigError(f"schedule milestones must increase strictly, got {list(milestones)}")
        if self.kind == "step" and not milestones:
            raise ConfigError("schedule = step needs milestones (the steps or epochs to decay at)")
        _positive("schedule factor", self.factor)
        _positive("schedule min_factor", self.min_factor, allow_zero=True)
        _positive("schedule div_factor", self.div_factor)
        _positive("schedule final_div_factor", self.final_div_factor)
        if not 0.0 < self.warmup_fraction < 1.0:
            raise ConfigError(
                f"schedule warmup_fraction must lie in (0, 1), got {self.warmup_fraction!r}"
            )
        object.__setattr__(self, "milestones", milestones)


@dataclass(frozen=True)
class TrainConfig:
    """One run's settings. Exactly one of ``steps`` and ``epochs`` is set.

    ``eval_every`` and ``checkpoint_every`` count the run's unit (steps, or epochs when
    ``epochs`` is set; 0: only at the end); ``log_every`` counts steps. ``best.pt`` keeps the
    checkpoint whose evaluation metric ``best_metric`` is lowest (``best_mode = "min"``) or
    highest. ``patience`` (with ``eval_every``) stops training after that many evaluations in
    a row without a new best (0: never). ``clip_grad_norm`` clips the global gradient norm
    when set. ``tensorboard`` writes the logged scalars to ``RUN/tensorboard/`` as well
    (:mod:`odedsl.training.tensorboard`).
    """

    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    steps: int | None = None
    epochs: int | None = None
    seed: int = 0
    clip_grad_norm: float | None = None
    eval_every: int = 0
    checkpoint_every: int = 1000
    log_every: int = 10
    best_metric: str = "loss"
    best_mode: str = "min"
    patience: int = 0
    tensorboard: bool = False

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.epochs is None):
            raise ConfigError("set exactly one of steps and epochs (how long to train)")
        _count("steps" if self.steps is not None else "epochs", self.length, 1)
        _count("seed", self.seed, 0)
        for name in ("eval_every", "checkpoint_every"):
            _count(name, getattr(self, name), 0)
        _count("log_every", self.log_every, 1)
        _count("patience", self.patience, 0)
        if self.patience and not self.eval_every:
            raise ConfigError(
                f"patience = {self.patience} counts evaluations, and eval_every = 0 makes none "
                "before the end: set eval_every too"
            )
        if self.clip_grad_norm is not None:
            _positive("clip_grad_norm", self.clip_grad_norm)
        _choice("best_mode", self.best_mode, MODES)
        if not isinstance(self.tensorboard, bool):
            raise ConfigError(f"tensorboard must be true or false, got {self.tensorboard!r}")
        if self.schedule.unit == "epochs" and self.epochs is None:
            raise ConfigError("schedule milestones in epochs need epochs (not steps) to be set")

    @property
    def unit(self) -> str:
        """``"steps"`` or ``"epochs"``: what ``length`` and the cadences count."""
        return "steps" if self.steps is not None else "epochs"

    @property
    def length(self) -> int:
        """The run's length in its unit."""
        return self.steps if self.steps is not None else self.epochs  # type: ignore[return-value]

    def with_length(self, length: int) -> TrainConfig:
        """The same configuration, trained for ``length`` of its unit in all."""
        return replace(self, **{self.unit: length})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (``tensorboard`` only when on: a run without it keeps the
        configuration files of earlier versions)."""
        data = asdict(self)
        data["schedule"]["milestones"] = list(self.schedule.milestones)
        if not self.tensorboard:
            del data["tensorboard"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """The inverse of ``to_dict``; unknown or mistyped fields raise ``ConfigError``."""
        parts = {"optimizer": OptimizerConfig, "schedule": ScheduleConfig}
        values = dict(_known(cls, data, "training configuration"))
        for name, part in parts.items():
            if name in values:
                if not isinstance(values[name], Mapping):
                    raise ConfigError(f"{name} must be a table of settings, got {values[name]!r}")
                values[name] = part(**_known(part, values[name], name))
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"training configuration: {exc}") from None


def _known(cls: type, data: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    names = {f.name for f in fields(cls)}
    for key in data:
        if key not in names:
            listed = ", ".join(sorted(names))
            raise ConfigError(f"{what} has no field {key!r}{_hint(key, names)}; fields: {listed}")
    return data
