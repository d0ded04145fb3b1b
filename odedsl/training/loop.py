"""The training loop: ``train(model, data, config, out_dir, ...) -> TrainResult``.

One step: set the scheduled learning rate, compute ``model.loss(batch)``, stop on a non-finite
loss, backpropagate, clip, update. Between steps the loop logs, evaluates, checkpoints and checks
for SIGINT/SIGTERM. Everything a step depends on (parameters, optimizer state, every random
stream, the position in the data) is in the checkpoint, so a resumed run takes bit-for-bit the
steps the uninterrupted run would have taken.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import clip_grad_norm_

from odedsl.training import distributed
from odedsl.training.checkpoint import FORMAT, VERSION, load_model_state, load_optimizer_state
from odedsl.training.config import TrainConfig
from odedsl.training.errors import ConfigError, RunError, TrainingError
from odedsl.training.optimizers import build_optimizer, set_learning_rates
from odedsl.training.protocol import (
    DataSource,
    EpochData,
    EvaluableModel,
    LossOutput,
    ProgressReporter,
    StreamingData,
)
from odedsl.training.rng import RESEED_STREAM, capture_rng, derive_seed, restore_rng, seed_process
from odedsl.training.run import CHECKPOINT, SUMMARY, RunFolder, config_of
from odedsl.training.schedules import lr_factor
from odedsl.training.signals import StopRequest

RESUMABLE_CHANGES = ("steps", "epochs", "eval_every", "checkpoint_every", "log_every", "patience")
"""Configuration fields a resumed run may change; every other field must match the run's."""


@dataclass(frozen=True)
class TrainResult:
    """How ``train`` ended: ``status`` is ``"completed"`` or ``"interrupted"`` (by a signal).

    ``metrics`` is the last logged record; ``best`` holds ``metric``, ``value`` and ``step`` of
    the best evaluation (``value`` None without evaluations) and ``since_best``, the evaluations
    after it. ``stopped_early``: training ended before its length, out of ``patience``.
    """

    run: RunFolder
    status: str
    step: int
    total_steps: int
    message: str
    metrics: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] = field(default_factory=dict)
    stopped_early: bool = False


@dataclass
class _Progress:
    """Where training stands; saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    seconds: float = 0.0
    best: dict[str, Any] = field(default_factory=dict)
    window: dict[str, Any] = field(default_factory=lambda: {"count": 0, "sums": {}})


class _NonFiniteLoss(Exception):
    def __init__(self, what: str) -> None:
        self.what = what


class _LossCall(nn.Module):
    """``model.loss`` as a ``forward`` (DistributedDataParallel synchronises through forward)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Any) -> tuple[Tensor, LossOutput]:
        output = self.model.loss(batch)
        if isinstance(output, Tensor):
            output = LossOutput(output)
        if not isinstance(getattr(output, "loss", None), Tensor) or output.loss.dim() != 0:
            raise TypeError(
                f"{type(self.model).__name__}.loss(batch) must return a LossOutput holding a "
                f"scalar tensor, got {output!r:.200}"
            )
        return output.loss, output


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {key: _to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(value, device) for value in batch)
    return batch


def _check_data(data: Any, config: TrainConfig) -> bool:
    """Whether ``data`` streams (else it has epochs); refuses anything else."""
    if isinstance(data, StreamingData):
        if config.epochs is not None:
            raise ConfigError("streaming data has no epochs: give the run's length as steps")
        return True
    if isinstance(data, EpochData):
        return False
    raise ConfigError(
        f"data of type {type(data).__name__} is no data source: it needs batch(step, generator) "
        "and shard(rank, world_size) (streaming), or __iter__, __len__, set_epoch and shard "
        "(epochs); see odedsl.training.sources"
    )


def _check_resumable(config: TrainConfig, stored: TrainConfig, path: Path) -> None:
    given, saved = config.to_dict(), stored.to_dict()
    if (config.steps is None) != (stored.steps is None):
        raise RunError(f"{path}: the run counts {stored.unit}; resume it with {stored.unit}")
    changed = [k for k in given if k not in RESUMABLE_CHANGES and given[k] != saved[k]]
    if changed:
        details = "; ".join(f"{k}: run has {saved[k]!r}, given {given[k]!r}" for k in changed)
        raise RunError(
            f"{path}: the run was trained with other settings ({details}); resume with the "
            "run's configuration (RunFolder(run).read_config().with_length(n))"
        )


class _Batches:
    """The next batch: drawn fresh (streaming) or read on from the current epoch."""

    def __init__(self, source: Any, streaming: bool, generator: torch.Generator) -> None:
        self.source = source
        self.streaming = streaming
        self.generator = generator
        self.steps_per_epoch = 0 if streaming else len(source)
        if not streaming and self.steps_per_epoch == 0:
            raise ConfigError("the data gives no batches (len(data) = 0)")
        self._epoch: int | None = None
        self._batches: Iterator[Any] = iter(())

    def next(self, progress: _Progress) -> Any:
        if self.streaming:
            return self.source.batch(progress.step, self.generator)
        if self._epoch != progress.epoch:
            self.source.set_epoch(progress.epoch)
            self._batches = itertools.islice(iter(self.source), progress.batch_in_epoch, None)
            self._epoch = progress.epoch
        try:
            return next(self._batches)
        except StopIteration:
            raise ConfigError(
                f"the data gave {progress.batch_in_epoch} batches in epoch {progress.epoch}, "
                f"fewer than its len() = {self.steps_per_epoch}"
            ) from None


class _Trainer:
    """One call of ``train``: the state and the actions between steps."""

    def __init__(
        self,
        model: nn.Module,
        data: Any,
        config: TrainConfig,
        run: RunFolder,
        eval_data: Any,
        progress: ProgressReporter | None,
    ) -> None:
        self.context = distributed.current()
        self.model = model
        self.config = config
        self.run = run
        self.eval_data = eval_data
        self.main = self.context.is_main
        self.progress = progress if self.main else None
        streaming = _check_data(data, config)
        source = data.shard(self.context.rank, self.context.world_size)
        self.generator = torch.Generator()
        self.batches = _Batches(source, streaming, self.generator)
        spe = max(self.batches.steps_per_epoch, 1)
        self.steps_per_epoch = spe
        self.total_steps = config.steps if config.steps is not None else config.epochs * spe
        self.optimizer = build_optimizer(model.parameters(), config.optimizer)
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.device = next(model.parameters()).device
        self.state = _Progress(
            best={"metric": config.best_metric, "value": None, "step": None, "since_best": 0}
        )
        self.saved_step = 0
        self.last_record: dict[str, Any] = {}
        self.lr = self.base_lrs[0]
        self.started = time.monotonic()

    # -- starting ---------------------------------------------------------------------------

    def start_fresh(self, spec_text: str | None) -> None:
        seed_process(self.config.seed, self.context.rank, self.generator)
        if self.main:
            self.run.create(self.config, spec_text)
        self.save()

    def resume(self) -> None:
        checkpoint = self.run.read_checkpoint()
        path = self.run.file(CHECKPOINT)
        _check_resumable(self.config, config_of(checkpoint, path), path)
        load_model_state(self.model, checkpoint["model"], path)
        load_optimizer_state(self.optimizer, checkpoint["optimizer"], path)
        processes = checkpoint["processes"]
        self.state = _Progress(
            step=checkpoint["step"],
            epoch=checkpoint["epoch"],
            batch_in_epoch=checkpoint["batch_in_epoch"],
            seconds=float(checkpoint["seconds"]),
            best={"since_best": 0, **checkpoint["best"]},
        )
        self.saved_step = self.state.step
        if len(processes) == self.context.world_size:
            restore_rng(processes[self.context.rank]["rng"], self.generator)
            self.state.window = processes[self.context.rank]["window"]
        else:
            reseed = derive_seed(self.config.seed, self.state.step, RESEED_STREAM)
            seed_process(reseed, self.context.rank, self.generator)
            self._note(
                f"the run was saved by {len(processes)} processes and resumes on "
                f"{self.context.world_size}: random streams are reseeded"
            )
        if self.main:
            self.run.remove_partial_files()
            self.run.write_config(self.config)
            self.run.file(SUMMARY).unlink(missing_ok=True)

    # -- between steps ------------------------------------------------------------------------

    def elapsed(self) -> float:
        return self.state.seconds + time.monotonic() - self.started

    def _note(self, text: str) -> None:
        if self.progress is not None:
            self.progress.note(text)

    def payload(self) -> dict[str, Any]:
        process = {"rng": capture_rng(self.generator), "window": self.state.window}
        return {
            "format": FORMAT,
            "version": VERSION,
            "step": self.state.step,
            "epoch": self.state.epoch,
            "batch_in_epoch": self.state.batch_in_epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "processes": distributed.gather(process, self.context),
            "best": dict(self.state.best),
            "seconds": self.elapsed(),
            "config": self.config.to_dict(),
        }

    def save(self, *, best: bool = False) -> None:
        payload = self.payload()
        if self.main:
            self.run.save_checkpoint(payload)
            if best:
                self.run.save_checkpoint(payload, best=True)
        self.saved_step = self.state.step

    def evaluate(self) -> dict[str, float]:
        results = None
        if self.main:
            devices = [torch.cuda.current_device()] if torch.cuda.is_initialized() else []
            with torch.random.fork_rng(devices=devices):
                was_training = self.model.training
                self.model.eval()
                try:
                    results = {k: float(v) for k, v in self.model.evaluate(self.eval_data).items()}
                except Exception as exc:
                    what = f"at step {self.state.step} evaluate raised {type(exc).__name__}: {exc}"
                    raise self.failure(what, self.state.step) from exc
                finally:
                    self.model.train(was_training)
        results = distributed.from_main(results, self.context)
        metric = self.config.best_metric
        if metric not in results:
            raise ConfigError(
                f"best_metric = {metric!r} is not among the evaluation's metrics "
                f"({', '.join(results) or 'none'}); set best_metric to one of them"
            )
        self._note(
            f"validation at step {self.state.step}: "
            + "  ".join(f"{k} {v:.4g}" for k, v in results.items())
        )
        return results

    def improved(self, value: float) -> bool:
        best = self.state.best["value"]
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        return value < best if self.config.best_mode == "min" else value > best

    def log(self, evaluation: Mapping[str, float]) -> None:
        window = self.state.window
        count = max(window["count"], 1)
        means = {k: v / count for k, v in window["sums"].items()}
        means = distributed.mean_over_ranks(means, self.context)
        record: dict[str, Any] = {"step": self.state.step}
        if not self.batches.streaming:
            record["epoch"] = self.state.epoch
        record.update(loss=means.pop("loss", math.nan), lr=self.lr)
        for key, value in means.items():
            record.setdefault(key, value)
        record["seconds"] = round(self.elapsed(), 3)
        if evaluation:
            record["validation"] = dict(evaluation)
        self.state.window = {"count": 0, "sums": {}}
        self.last_record = record
        if self.main:
            self.run.log(record)

    def after_step(self, values: Mapping[str, float]) -> None:
        state, config = self.state, self.config
        state.step += 1
        epoch_done = False
        if not self.batches.streaming:
            state.batch_in_epoch += 1
            if state.batch_in_epoch == self.steps_per_epoch:
                state.epoch, state.batch_in_epoch, epoch_done = state.epoch + 1, 0, True
        sums = state.window["sums"]
        for key, value in values.items():
            sums[key] = sums.get(key, 0.0) + value
        state.window["count"] += 1
        if self.progress is not None:
            self.progress.update(state.step, values)
        final = state.step == self.total_steps
        count = state.step if config.steps is not None else state.epoch
        unit_done = config.steps is not None or epoch_done

        def due(every: int) -> bool:
            return final or (every > 0 and unit_done and count % every == 0)

        evaluation: dict[str, float] = {}
        new_best = False
        if self.eval_data is not None and due(config.eval_every):
            evaluation = self.evaluate()
            value = evaluation[config.best_metric]
            new_best = self.improved(value)
            if new_best:
                state.best.update(value=value, step=state.step, since_best=0)
            else:
                state.best["since_best"] += 1
        if evaluation or state.step % config.log_every == 0 or final:
            self.log(evaluation)
        if new_best or due(config.checkpoint_every):
            self.save(best=new_best)

    # -- one step -----------------------------------------------------------------------------

    def step(self, forward: nn.Module, batch: Any) -> dict[str, float]:
        """One update; returns the step's values (``loss`` and the model's metrics)."""
        factor = lr_factor(
            self.config.schedule, self.state.step, self.total_steps, self.steps_per_epoch
        )
        self.lr = set_learning_rates(self.optimizer, self.base_lrs, factor)
        self.optimizer.zero_grad(set_to_none=True)
        loss, output = forward(_to_device(batch, self.device))
        loss_value = float(loss.detach())
        if distributed.any_rank(not math.isfinite(loss_value), self.context):
            raise _NonFiniteLoss(f"non-finite loss ({loss_value})")
        loss.backward()
        values = output.after_backward()
        values["loss"] = loss_value
        if self.config.clip_grad_norm is not None:
            norm = float(clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm))
            if not math.isfinite(norm):
                raise _NonFiniteLoss(f"non-finite gradient norm ({norm})")
        self.optimizer.step()
        return values

    def loop(self, stop: StopRequest) -> TrainResult:
        forward = distributed.wrap(_LossCall(self.model), self.context)
        self.model.train()
        if self.progress is not None:
            self.progress.start(self.total_steps, self.state.step)
        while self.state.step < self.total_steps:
            if self.out_of_patience():
                return self.stop_early()
            if distributed.any_rank(stop.requested, self.context):
                return self.interrupted(stop.signal_name or "a signal on another process")
            batch = self.batches.next(self.state)
            failing = self.state.step + 1
            try:
                values = self.step(forward, batch)
            except _NonFiniteLoss as exc:
                what = f"{exc.what} at step {failing} of {self.total_steps}"
                raise self.failure(what, failing) from None
            except (ConfigError, TrainingError):
                raise
            except Exception as exc:
                what = f"at step {failing} the model raised {type(exc).__name__}: {exc}"
                raise self.failure(what, failing) from exc
            self.after_step(values)
        return self.finish("completed", f"trained {self.state.step} steps")

    # -- endings ------------------------------------------------------------------------------

    def out_of_patience(self) -> bool:
        """Whether the last ``patience`` evaluations all failed to improve on the best."""
        patience = self.config.patience
        return patience > 0 and self.state.best["since_best"] >= patience

    def stop_early(self) -> TrainResult:
        best = self.state.best
        if best["value"] is None:
            since = f"without a finite {best['metric']}"
        else:
            since = f"since the best {best['metric']}, {best['value']:.6g} at step {best['step']}"
        message = (
            f"stopped early at step {self.state.step} of {self.total_steps}: "
            f"{best['since_best']} evaluations {since} (patience {self.config.patience})"
        )
        return self.finish("completed", message, stopped_early=True)

    def summarize(self, status: str, message: str, stopped_early: bool = False) -> None:
        if self.main:
            self.run.write_summary(
                {
                    "status": status,
                    "message": message,
                    "step": self.state.step,
                    "total_steps": self.total_steps,
                    "epoch": self.state.epoch,
                    "seconds": round(self.elapsed(), 3),
                    "world_size": self.context.world_size,
                    "checkpoint_step": self.saved_step,
                    "best": self.state.best,
                    "stopped_early": stopped_early,
                    "last": self.last_record,
                }
            )

    def finish(self, status: str, message: str, *, stopped_early: bool = False) -> TrainResult:
        if self.saved_step != self.state.step:
            self.save()
        self.summarize(status, message, stopped_early)
        self._note(message)
        return TrainResult(
            run=self.run,
            status=status,
            step=self.state.step,
            total_steps=self.total_steps,
            message=message,
            metrics=self.last_record,
            best=dict(self.state.best),
            stopped_early=stopped_early,
        )

    def interrupted(self, signal_name: str) -> TrainResult:
        message = (
            f"interrupted by {signal_name} at step {self.state.step} of {self.total_steps}; "
            f"{self.run.file(CHECKPOINT)} saved"
        )
        return self.finish("interrupted", message)

    def failure(self, what: str, step: int) -> TrainingError:
        kept = "the initial parameters" if self.saved_step == 0 else "the last checkpoint written"
        message = f"{what}; {self.run.file(CHECKPOINT)} keeps step {self.saved_step}, {kept}"
        if what.startswith("non-finite"):
            message += (
                "; lower the learning rate, clip gradients (clip_grad_norm) or tighten the "
                "solver's tolerances"
            )
        self.summarize("failed", message)
        return TrainingError(message, step=step, checkpoint_step=self.saved_step)


def train(
    model: nn.Module,
    data: DataSource,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    spec_text: str | None = None,
    resume: bool = False,
    eval_data: Any = None,
    progress: ProgressReporter | None = None,
) -> TrainResult:
    """Trains ``model`` (``loss(batch) -> LossOutput``) on ``data`` into the run folder ``out_dir``.

    A fresh run (``resume=False``) seeds every random stream from ``config.seed`` (per process),
    writes ``spec_text`` and ``config.json`` and refuses a folder that already holds a run.
    ``resume=True`` continues the run in ``out_dir`` until it has taken ``config``'s length in
    all: same parameters, optimizer state, random streams and data position, so the result is
    bit-identical to an uninterrupted run; ``config`` must match the run's except for its length
    and cadences (read it with ``RunFolder(out_dir).read_config().with_length(n)``).

    ``eval_data`` is the VALIDATION data (never the test split: what it scores picks
    ``best.pt`` and stops training). With it (and a model with ``evaluate``), the model is
    evaluated every ``config.eval_every`` and at the end, each evaluation is logged under
    ``"validation"`` in ``metrics.jsonl``, ``best.pt`` keeps the best evaluation of
    ``config.best_metric``, and training stops early after ``config.patience`` evaluations in a
    row without a new best (status ``"completed"``, ``stopped_early``; resuming such a run
    stops again at once unless ``patience`` is raised). SIGINT or
    SIGTERM saves a checkpoint and returns status ``"interrupted"``. A non-finite loss or an
    exception from the model raises ``TrainingError`` naming the step; ``checkpoint.pt`` then
    keeps the last checkpoint written. Inside a process group (``odedsl.training.launch`` or
    torchrun) training is data-parallel and only rank 0 writes ``out_dir``.
    """
    if eval_data is not None and not isinstance(model, EvaluableModel):
        raise ConfigError(f"eval_data was given but {type(model).__name__} has no evaluate(data)")
    run = RunFolder(out_dir)
    trainer = _Trainer(model, data, config, run, eval_data, progress)
    if resume:
        trainer.resume()
    else:
        trainer.start_fresh(spec_text)
    try:
        if trainer.main:
            run.open_metrics(trainer.state.step, tensorboard=config.tensorboard)
        with StopRequest() as stop:
            return trainer.loop(stop)
    finally:
        run.close_metrics()
        if trainer.progress is not None:
            trainer.progress.close()
