"""What the command line calls: ``train_run`` (``odedsl train``; ``run_training`` prints its
errors and returns an exit status) and ``load_trained`` (``odedsl eval``, ``sample``, ``plot``
and ``odedsl.load``).

Both take the compilation step as a function, so this package stays ignorant of the language:
``build()`` returns a ``TrainingSetup`` for ``run_training``; ``compile(spec_text)`` returns the
model for ``load_trained``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import torch
from torch import nn

from odedsl.errors import OdedslError
from odedsl.training import distributed
from odedsl.training.checkpoint import load_model_state
from odedsl.training.config import TrainConfig
from odedsl.training.errors import ConfigError, RunError
from odedsl.training.lock import run_lock
from odedsl.training.loop import train
from odedsl.training.progress import ProgressBar
from odedsl.training.rng import seed_everything
from odedsl.training.run import RunFolder, fresh_run, load_run

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


class TrainingSetup(NamedTuple):
    """What ``build()`` returns: the model, its training data and (optionally) held-out data."""

    model: nn.Module
    data: Any
    eval_data: Any = None


def run_training(build: Callable[[], TrainingSetup], out_dir: str | Path, **options: Any) -> int:
    """:func:`train_run` (the same arguments) with errors printed to stderr: the exit status,
    0 completed, 130 interrupted (checkpoint saved), 1 failed."""
    try:
        status = train_run(build, out_dir, **options)
    except OdedslError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return {"completed": 0, "interrupted": EXIT_INTERRUPTED}[status]


def train_run(
    build: Callable[[], TrainingSetup],
    out_dir: str | Path,
    *,
    config: TrainConfig | None = None,
    spec_text: str | None = None,
    resume: bool = False,
    length: int | None = None,
    nproc: int = 1,
    device: str | None = None,
    stream: TextIO | None = None,
) -> str:
    """Trains, showing progress on ``stream`` (stdout); returns ``"completed"`` or
    ``"interrupted"`` (by SIGINT or SIGTERM, the checkpoint saved), and raises an
    ``OdedslError`` otherwise (``TrainingError`` when a step failed).

    A fresh run needs ``config``; ``resume=True`` reads the run's own configuration, trained
    to ``length`` (steps or epochs, as the run counts) in all when given. Every random stream is
    seeded from ``config.seed`` before ``build()``, so the initial parameters are reproducible.
    ``nproc > 1`` trains data-parallel in that many local processes (``build`` must then be
    picklable: a top-level function or a ``functools.partial`` of one), on their GPUs when there
    are enough, else on CPU. ``device`` (one process) defaults to CUDA when available. The run
    folder is locked while training (``odedsl.training.lock``); a fresh run starts only in a
    new or empty folder (``odedsl.training.run.fresh_run``).
    """
    stream = stream if stream is not None else sys.stdout
    check_device(device)
    if resume:
        config = RunFolder(out_dir).read_config()
        config = config if length is None else config.with_length(length)
    elif config is None:
        raise ConfigError("a fresh run needs its training configuration (config)")
    writes = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 writes the run
    if not writes:
        claim: Any = contextlib.nullcontext()
    else:
        claim = run_lock(out_dir) if resume else fresh_run(out_dir)
    with claim:
        if nproc == 1 and distributed.launched_externally():  # one of torchrun's processes
            with distributed.joined_from_env():
                arguments = (build, str(out_dir), config, spec_text, resume, None, stream)
                return _train_process(*arguments)
        if nproc == 1:
            return _train_process(build, str(out_dir), config, spec_text, resume, device, stream)
        arguments = (build, str(out_dir), config, spec_text, resume, device, None)
        try:
            distributed.launch(nproc, _train_process, arguments)
        except Exception as exc:  # a worker process failed; it printed its own message
            summary = RunFolder(out_dir).read_summary() or {}
            cause = summary.get("message") if summary.get("status") == "failed" else exc
            raise RunError(f"data-parallel training failed: {cause}") from exc
        summary = RunFolder(out_dir).read_summary() or {}
        if summary.get("status") not in ("completed", "interrupted"):
            raise RunError(f"data-parallel training failed: {summary.get('message', 'no summary')}")
        return summary["status"]


def check_device(device: str | None) -> None:
    """Refuse a device torch cannot train on here, before anything is written."""
    if device is None or device == "cpu":
        return
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        why = "torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
        raise ConfigError(
            f"device {device!r}: CUDA is not available ({why}); train on the CPU (device cpu, "
            "or leave the device out)"
        )


def _train_process(
    build: Callable[[], TrainingSetup],
    out_dir: str,
    config: TrainConfig,
    spec_text: str | None,
    resume: bool,
    device: str | None,
    stream: TextIO | None,
) -> str:
    context = distributed.current()
    seed_everything(config.seed)
    setup = build()
    if context.world_size > 1:
        target = context.device
    else:
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    progress = ProgressBar(stream) if context.is_main else None
    try:
        result = train(
            setup.model.to(target),
            setup.data,
            config,
            out_dir,
            spec_text=spec_text,
            resume=resume,
            eval_data=setup.eval_data,
            progress=progress,
        )
    except OdedslError as exc:
        if context.world_size == 1:
            raise
        if context.is_main:
            print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None
    return result.status


def load_trained(
    path: str | Path, compile: Callable[[str], nn.Module], which: str = "best"
) -> tuple[nn.Module, dict[str, Any]]:
    """The trained model of the run in ``path`` and the run's metadata (see ``load_run``).

    ``compile(spec_text)`` rebuilds the model from the spec the run saved; the checkpoint's
    weights are then loaded into it, with a ``RunError`` if they do not fit.
    """
    _, state, metadata = load_run(path, which)
    if metadata["spec"] is None:
        raise RunError(f"{Path(path) / 'spec.ode'}: missing; the run kept no spec to rebuild from")
    model = compile(metadata["spec"])
    load_model_state(model, state, Path(metadata["checkpoint"]))
    return model, metadata
