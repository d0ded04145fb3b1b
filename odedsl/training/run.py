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
line and flushed, and cut back to the checkpoint's step when a run resumes. A fresh run starts
only in a new or empty folder (:meth:`RunFolder.contents`): a folder of other files is never
overwritten. ``.odedsl.lock`` (:mod:`~odedsl.training.lock`) keeps two processes from writing
one run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from odedsl.training.atomic import atomic_torch_save, atomic_write_text, partial_files
from odedsl.training.checkpoint import read_checkpoint
from odedsl.training.config import TrainConfig
from odedsl.training.errors import ConfigError, RunError
from odedsl.training.lock import LOCK, RunLocked, held_for_fresh_run, holder, holds, run_lock
from odedsl.training.tensorboard import TensorBoardLog

SPEC = "spec.ode"
CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
CHECKPOINT_CHOICES = ("best", "latest")
Contents = Literal["new", "run", "other", "file"]


class FolderTaken(RunError):
    """A fresh run may not start in ``path``: it holds a run, other files, or is a file
    (``contents``, as :meth:`RunFolder.contents` says)."""

    def __init__(self, path: Path, contents: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.contents = contents


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

    def contents(self) -> Contents:
        """What the folder holds: ``"new"`` (nothing, or only the lock file: a fresh run may
        start here), ``"run"`` (a checkpoint), ``"other"`` (files, but no run) or ``"file"``
        (the path is not a folder)."""
        if self.path.exists() and not self.path.is_dir():
            return "file"
        if self.has_checkpoint():
            return "run"
        if self.path.is_dir() and any(entry.name != LOCK for entry in self.path.iterdir()):
            return "other"
        return "new"

    def others(self, shown: int = 3) -> str:
        """The first few names in the folder, for a message: ``a.txt, b.csv and 4 more``."""
        names = sorted(entry.name for entry in self.path.iterdir() if entry.name != LOCK)
        listed = ", ".join(names[:shown])
        return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")

    def require_new(self) -> None:
        """Refuse (``FolderTaken``) a folder a fresh run may not start in: one that holds a
        run, or other files; a run that this process (or its launcher) has claimed is its own."""
        contents = self.contents()
        if contents != "new" and not held_for_fresh_run(self.path):
            raise self.refusal(contents)

    def refusal(self, contents: Contents) -> FolderTaken:
        """The error refusing a fresh run in a folder of these ``contents``."""
        if contents == "run":
            return FolderTaken(
                self.path,
                contents,
                f"{self.file(CHECKPOINT)}: {self.path} already holds a run; resume it "
                "(resume=True) or train into another folder",
            )
        if contents == "file":
            what = "is a file, not a folder"
        else:
            what = f"holds {self.others()} but no run (no {CHECKPOINT})"
        return FolderTaken(
            self.path,
            contents,
            f"{self.path}: {what}, and is not overwritten; train into a new or empty folder",
        )

    def create(self, config: TrainConfig, spec_text: str | None) -> None:
        """Starts a fresh run here: only in a new or empty folder (see :meth:`require_new`)."""
        self.require_new()
        self.path.mkdir(parents=True, exist_ok=True)
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
            for staging in partial_files(self.file(name)):
                staging.unlink(missing_ok=True)


@contextlib.contextmanager
def fresh_run(path: str | Path) -> Iterator[RunFolder]:
    """Claim ``path`` for a fresh run inside the block: refused (``FolderTaken``, or
    ``RunLocked`` naming the process writing it) before anything is written unless the folder
    is new or empty; locked for the block. A run that ends without a checkpoint leaves the
    folder empty again, so a failed start can be retried in place."""
    run = RunFolder(path)
    if holds(run.path):  # inside an outer ``fresh_run`` of this process
        yield run
        return
    pid = holder(run.path)
    if pid is not None:
        raise RunLocked(run.path, pid)
    run.require_new()
    with run_lock(run.path, fresh=True):
        contents = run.contents()  # again: another process may have written it in between
        if contents != "new":
            raise run.refusal(contents)
        try:
            yield run
        finally:
            if not run.has_checkpoint():
                for entry in run.path.iterdir():
                    if entry.name != LOCK and entry.is_file():
                        entry.unlink()


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
