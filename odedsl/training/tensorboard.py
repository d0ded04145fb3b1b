"""TensorBoard scalars beside ``metrics.jsonl`` (the optional extra ``odedsl[tensorboard]``).

Each record of ``metrics.jsonl`` becomes scalars at its ``step``: ``train/<name>`` for every
number of the record (``loss``, ``lr``, ``nfe_forward``, the model's metrics...) and
``validation/<name>`` for each validation score. Written under ``RUN/tensorboard/``; read with
``tensorboard --logdir RUN/tensorboard``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from odedsl.training.errors import ConfigError

FOLDER = "tensorboard"
INSTALL = "pip install 'odedsl[tensorboard]' (or pip install tensorboard)"


def summary_writer_class() -> Any:
    """torch's ``SummaryWriter``, or a ConfigError naming the extra to install."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(f"tensorboard logging needs the tensorboard package: {INSTALL}") from None
    return SummaryWriter


class TensorBoardLog:
    """Scalars of the run in ``folder`` (its ``tensorboard/`` subfolder). ``resumed_after``:
    the step a resumed run continues from; later events a crash left are dropped, as
    ``metrics.jsonl`` drops its later lines."""

    def __init__(self, folder: Path, resumed_after: int | None = None) -> None:
        writer = summary_writer_class()
        purge = None if resumed_after is None else resumed_after + 1
        self.writer = writer(log_dir=str(Path(folder) / FOLDER), purge_step=purge)

    def log(self, record: dict[str, Any]) -> None:
        """Write the numbers of one ``metrics.jsonl`` record at its step."""
        step = record["step"]
        for name, value in record.items():
            if name != "step" and _number(value):
                self.writer.add_scalar(f"train/{name}", value, step)
        for name, value in (record.get("validation") or {}).items():
            if _number(value):
                self.writer.add_scalar(f"validation/{name}", value, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
