"""A run folder: everything one training run leaves on disk.

- ``spec.ode``: the spec text the model was compiled from (when given);
- ``config.json``: the resolved ``TrainConfig``;
- ``checkpoint.pt``: the latest checkpoint; ``best.pt``: the one with the best validation score
  (only when the run is evaluated on validation data);
- ``metrics.jsonl``: one JSON object per logged step (``step``, ``loss``, ``lr``,
  ``nfe_forward``, ``nfe_backward``, ``seconds``, the model's metrics and, at evaluations,
  ``validation``: the held-out metrics by name);
- ``summary.json``: written when training ends (``status``, ``message``, ``step``...).

Every file but ``metrics.jsonl`` is replaced atomically; ``metrics.jsonl`` is appended line by
line and flushed, and cut back to the checkpoint's step when a run resumes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from odedsl.training.atomic import atomic_torch_save, atomic_write_text, partial_path
from odedsl.training.checkpoint import read_checkpoint
from odedsl.training.config import TrainConfig
from odedsl.training.errors import ConfigError, RunError
from odedsl.training.tensorboard import TensorBoardLog

SPEC = "spec.ode"
CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
CHECKPOINT_CHOICES = ("best", "latest")


class RunFolder:
    """The files of the run in ``path`` (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._metrics: IO[str] | None = None
        self._board: TensorBoardLog | None = None

    def file(self, name: str) -> Path:
        """The path of one of the run's files."""
        return self.path / name

    def has_checkpoint(self) -> bool:
        return self.file(CHECKPOINT).is_file()

    def create(self, config: TrainConfig, spec_text: str | None) -> None:
        """Starts a fresh run here; refuses a folder that already holds one."""
        if self.has_checkpoint():
            raise RunError(
                f"{self.file(CHECKPOINT)}: {self.path} already holds a run; resume it or train "
                "into another folder"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in (METRICS, SUMMARY, BEST, SPEC):
            self.file(stale).unlink(missing_ok=True)
        if spec_text is not None:
            atomic_write_text(self.file(SPEC), spec_text)
        self.write_config(config)

    def write_config(self, config: TrainConfig) -> None:
        atomic_write_text(self.file(CONFIG), json.dumps(config.to_dict(), indent=2) + "\n")

    def read_config(self) -> TrainConfig:
        """The run's ``config.json``."""
        path = self.file(CONFIG)
        try:
            return TrainConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise RunError(f"{path}: missing; {self.path} is not a run folder") from None
        except (json.JSONDecodeError, ConfigError) as exc:
            raise RunError(f"{path}: invalid training configuration: {exc}") from None

    def read_spec(self) -> str | None:
        """The spec text the run was started with, if it was given."""
        path = self.file(SPEC)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def save_checkpoint(self, payload: dict[str, Any], *, best: bool = False) -> None:
        """Writes ``checkpoint.pt`` (or ``best.pt``) atomically."""
        atomic_torch_save(self.file(BEST if best else CHECKPOINT), payload)

    def checkpoint_path(self, which: str = "latest") -> Path:
        """``checkpoint.pt`` for ``"latest"``; ``best.pt`` for ``"best"`` when it exists."""
        if which not in CHECKPOINT_CHOICES:
            raise ValueError(f"which must be one of {CHECKPOINT_CHOICES}, got {which!r}")
        best = self.file(BEST)
        return best if which == "best" and best.is_file() else self.file(CHECKPOINT)

    def read_checkpoint(self, which: str = "latest") -> dict[str, Any]:
        """The checked checkpoint (``RunError`` naming the file when it is unusable)."""
        if not self.path.is_dir():
            raise RunError(f"{self.path}: no such run folder")
        return read_checkpoint(self.checkpoint_path(which))

    def open_metrics(self, keep_through: int, tensorboard: bool = False) -> None:
        """Opens ``metrics.jsonl`` for appending, first dropping lines past step ``keep_through``
        (and any line a crash left unfinished); with ``tensorboard``, ``tensorboard/`` too."""
        if tensorboard:
            self._board = TensorBoardLog(self.path, keep_through if keep_through else None)
        path = self.file(METRICS)
        if path.is_file():
            kept = [record for record in self._records() if record["step"] <= keep_through]
            text = "".join(json.dumps(record) + "\n" for record in kept)
            if text != path.read_text(encoding="utf-8"):
                atomic_write_text(path, text)
        self._metrics = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close_metrics)

    def log(self, record: dict[str, Any]) -> None:
        """Appends one record to ``metrics.jsonl`` and flushes it."""
        if self._metrics is None:
            raise RuntimeError("open_metrics must be called before log")
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()
        if self._board is not None:
            self._board.log(record)

    def close_metrics(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        if self._board is not None:
            self._board.close()
            self._board = None

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every complete record of ``metrics.jsonl``, in order."""
        return self._records() if self.file(METRICS).is_file() else []

    def _records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.file(METRICS).read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                records.append(record)
        return records

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_text(self.file(SUMMARY), json.dumps(summary, indent=2) + "\n")

    def read_summary(self) -> dict[str, Any] | None:
        """``summary.json``, or None while the run has not ended."""
        path = self.file(SUMMARY)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def remove_partial_files(self) -> None:
        """Deletes staging files a killed writer left behind."""
        for name in (CHECKPOINT, BEST, CONFIG, METRICS, SUMMARY, SPEC):
            partial_path(self.file(name)).unlink(missing_ok=True)


def load_run(
    path: str | Path, which: str = "best"
) -> tuple[TrainConfig, dict[str, Any], dict[str, Any]]:
    """A finished (or interrupted) run's ``(config, model state_dict, metadata)``.

    ``which = "best"`` reads ``best.pt`` when the run evaluated, else ``checkpoint.pt``;
    ``"latest"`` always reads ``checkpoint.pt``. ``metadata`` holds ``spec`` (the spec text or
    None), ``checkpoint`` (the file read), ``step``, ``epoch``, ``best`` and ``summary``.
    """
    run = RunFolder(path)
    checkpoint = run.read_checkpoint(which)
    metadata = {
        "spec": run.read_spec(),
        "checkpoint": str(run.checkpoint_path(which)),
        "step": checkpoint["step"],
        "epoch": checkpoint["epoch"],
        "best": dict(checkpoint["best"]),
        "summary": run.read_summary(),
    }
    return config_of(checkpoint, run.checkpoint_path(which)), dict(checkpoint["model"]), metadata


def config_of(checkpoint: dict[str, Any], path: Path) -> TrainConfig:
    """The configuration a checkpoint was written under."""
    try:
        return TrainConfig.from_dict(checkpoint["config"])
    except ConfigError as exc:
        raise RunError(f"{path}: invalid training configuration inside: {exc}") from None
