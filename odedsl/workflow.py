"""From a spec to a trained run and back: what ``odedsl train | eval | sample | plot`` do,
callable from Python as ``odedsl.train``, ``odedsl.load``, ``odedsl.evaluate``.

A run folder holds what ``odedsl.training`` (the runtime) writes, plus ``overrides.json`` (the
``--set`` values the model was compiled with, so that resuming and loading rebuild the same
model), ``data.json`` (the folder the spec's data paths start from, and each data file's
resolved path and SHA-256: ``eval``, ``sample``, ``plot`` and ``--resume`` read the same files,
or refuse when one has moved or changed), ``eval.json`` (the test metrics at the end) and the
model kind's pictures.

Model selection never sees the test split: with ``eval_every = N`` training scores the
VALIDATION split every N steps (epochs, in a run of epochs) by the model's headline metric
(:func:`headline`), ``best.pt`` keeps the best score and ``patience`` stops early; the test
split is built and scored once, after training, from ``best.pt`` when there is one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from odedsl.compiler import build_data, compile, train_config
from odedsl.compiler.overrides import EVALUATION_ONLY
from odedsl.compiler.program import OBSERVED_KINDS
from odedsl.compiler.runtime import check_data_files, data_files, data_root
from odedsl.data import DataError, dataset
from odedsl.data.files import file_for
from odedsl.lang import load_source
from odedsl.lang.source import Source
from odedsl.machine import available_memory, size
from odedsl.models.distributions import FAMILIES
from odedsl.models.observed import ObservedODE
from odedsl.symbolic.names import mangle
from odedsl.training import RunError, RunFolder, TrainingSetup, distributed, load_trained
from odedsl.training.atomic import atomic_write_text
from odedsl.training.commands import check_device, train_run
from odedsl.training.errors import RunInterrupted, TrainingError
from odedsl.training.lock import run_lock
from odedsl.training.memory import check_batch_memory
from odedsl.training.run import BEST, SPEC, FolderTaken, fresh_run
from odedsl.training.tensorboard import summary_writer_class

OVERRIDES = "overrides.json"
DATA_RECORD = "data.json"
EVALUATION = "eval.json"
RUNS_ROOT = Path("runs")
HEADLINE = {"flow_ml": "nll", "flow_density": "kl", "latent": "rmse"}
"""The headline metric of the kinds whose models report one figure; supervised and
trajectory models report ``test_error`` (every response a class) or ``rmse``
(:attr:`~odedsl.models.observed.ObservedODE.headline`)."""
SCORED_BY_LOSS = ("EventSeries",)
"""Data sets whose held-out series have no future to forecast: a latent model of one is scored
by its held-out negative bound, ``loss``, not by a forecast ``rmse``."""


def headline(model_or_spec: Any) -> str:
    """The metric that scores a run (lower is better): the model's own ``headline`` when it
    has one, else ``HEADLINE`` of its spec's kind, or ``loss`` for a latent model of data with
    no future to forecast (``SCORED_BY_LOSS``). It picks ``best.pt`` on the validation split
    and leads ``eval.json``. A spec (a checked model) gives the same answer as its model."""
    own = getattr(model_or_spec, "headline", None)
    if isinstance(own, str):
        return own
    spec = getattr(model_or_spec, "spec", model_or_spec)
    if spec.kind in OBSERVED_KINDS:
        labels = all(FAMILIES[o.distribution.family].labels for o in spec.likelihood)
        return "test_error" if labels else "rmse"
    if spec.kind == "latent" and spec.data is not None and spec.data.dataset in SCORED_BY_LOSS:
        return "loss"
    return HEADLINE[spec.kind]


def default_run_folder(spec_path: str | Path, root: Path = RUNS_ROOT) -> Path:
    """``runs/<spec name>``, or ``runs/<spec name>-2``, ``-3``... when taken (not empty)."""
    stem = Path(spec_path).stem
    candidate, number = root / stem, 1
    while RunFolder(candidate).contents() != "new":
        number += 1
        candidate = root / f"{stem}-{number}"
    return candidate


def _build(spec: Source, overrides: Mapping[str, Any], root: str | None = None) -> TrainingSetup:
    """The model and data of one training process (top level: picklable for ``nproc > 1``):
    the train split, and the validation split when the spec scores it (``eval_every``);
    never the test split. ``root`` is the folder the spec's data paths start from; errors
    are located in ``spec.path``."""
    model = compile(spec, **overrides)
    train = build_data(model.spec, "train", root=root)
    # a second instance measures a step's memory: the probe must not touch the trained model
    check_batch_memory(compile(spec, **overrides), train, distributed.current().world_size)
    validation = None
    if model.spec.train.eval_every:
        validation = build_data(model.spec, "validation", root=root)
    if isinstance(model, ObservedODE) and model.priors:
        model.set_data_size(training_size(train, model.spec))
    return TrainingSetup(model, train, validation)


def training_size(train: Any, spec: Any) -> int:
    """``N_train`` of a MAP objective: the examples (or series) of the training split; for
    data drawn fresh every step, the examples training will draw in all (steps × batch)."""
    rows = getattr(train, "rows", None)
    if isinstance(rows, int):
        return max(rows, 1)
    if isinstance(train, Mapping):
        return max(len(next(iter(train.values()))), 1)
    steps = spec.train.steps or 1
    return max(steps * spec.train.batch, 1)


def _require_validation(spec: Any) -> None:
    """Refuse, before training, ``eval_every`` on a file source with a file per split but no
    ``validation`` file (nothing to select on); reads no data."""
    source = spec.data
    if not spec.train.eval_every or source is None or dataset(source.dataset).kind != "file":
        return
    try:
        file_for("validation", dict(source.args), source.dataset)
    except DataError as error:
        raise DataError(
            f"{spec.path}:{source.loc.line}:{source.loc.column}: eval_every = "
            f"{spec.train.eval_every} scores the validation split, and {error}"
        ) from None


def _record_data(folder: Path, spec: Any, root: str) -> None:
    """Write ``data.json``: the data folder ``root`` and each data file's path and hash."""
    record = {"root": root, "files": data_files(spec, root=root)}
    atomic_write_text(folder / DATA_RECORD, json.dumps(record, indent=2))


def _data_root(folder: Path) -> str | None:
    """The data folder recorded in a run, after checking its files are unchanged (None for a
    run recorded before data.json)."""
    path = folder / DATA_RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        root, files = record["root"], record["files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RunError(f"{path}: unreadable ({error}); the run's data record is damaged") from None
    try:
        check_data_files(files)
    except ValueError as error:
        raise RunError(f"{folder}: {error}") from None
    return root


def _data(folder: Path, model: nn.Module, split: str = "test") -> Any:
    """``split`` of a trained run's data, read from the files it was trained on."""
    return build_data(model.spec, split, root=_data_root(folder))


def train(
    spec: str | Path,
    *,
    out: str | Path | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    nproc: int = 1,
    device: str | None = None,
    stream: TextIO | None = None,
    tensorboard: bool = False,
) -> Path:
    """Train the spec at path ``spec`` into a run folder (default ``runs/<name>``); returns
    the folder. ``tensorboard`` writes the scalars of ``metrics.jsonl`` to
    ``RUN/tensorboard/`` too (the extra ``odedsl[tensorboard]``; a resumed run keeps it).
    ``steps``/``epochs``/``seed`` and ``overrides`` (``{"rtol": 1e-3}``) replace
    the spec's values. With ``eval_every``, scores the validation split during training and
    keeps the best in ``best.pt``. Then evaluates the trained model (``best.pt`` when there is
    one) on the test split, once (``eval.json``), and draws its pictures.

    The folder must be new or empty (a folder holding a run or other files is refused before
    anything is written) and is locked while training (``RunLocked`` names the process that
    holds it). Raises ``RunError`` with the cause and the checkpoint kept when training fails,
    ``RunInterrupted`` (saying how to resume) at SIGINT or SIGTERM."""
    source = load_source(Path(spec))
    spec_text = source.text
    changes = dict(overrides or {})
    for name, value in (("steps", steps), ("epochs", epochs), ("seed", seed)):
        if value is not None:
            changes[name] = value
    if steps is not None:
        changes.pop("epochs", None)
    if epochs is not None:
        changes.pop("steps", None)
    check_device(device)
    model = compile(Path(spec), **changes)  # checks the spec and every override up front
    _require_validation(model.spec)
    config = train_config(model.spec, best_metric=headline(model))
    if tensorboard:
        summary_writer_class()  # refuses, naming the extra, before anything is written
        config = dataclasses.replace(config, tensorboard=True)
    folder = Path(out) if out is not None else default_run_folder(spec)
    root = str(data_root(model.spec))
    build = functools.partial(_build, source, changes, root)
    arguments = {"config": config, "spec_text": spec_text, "nproc": nproc, "device": device}
    if not _writes_runs():
        return _finish(folder, train_run(build, folder, stream=stream, **arguments), stream)
    with _fresh(folder):  # refused before anything is written unless new or empty
        atomic_write_text(folder / OVERRIDES, json.dumps(changes, indent=2))
        _record_data(folder, model.spec, root)
        return _finish(folder, _training(build, folder, stream=stream, **arguments), stream)


def _writes_runs() -> bool:
    """Whether this process writes run folders: all but torchrun's processes of rank > 0."""
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def _fresh(folder: Path) -> Iterator[None]:
    """``fresh_run``, its refusals worded for ``odedsl.train`` and for ``odedsl train``."""
    try:
        with fresh_run(folder):
            yield
    except FolderTaken as taken:
        if taken.contents == "run":
            head = f"{folder}: already holds a run; continue it with "
            raise RunError(
                f"{head}odedsl.resume({str(folder)!r}), or train into another folder (out=...)",
                command=f"{head}`odedsl train --resume {folder}`, or train into another "
                "folder (--out)",
            ) from None
        head = str(taken).removesuffix("train into a new or empty folder")
        raise RunError(
            f"{head}train into a new or empty folder (out=...)",
            command=f"{head}train into a new or empty folder (--out)",
        ) from None


def _training(build: Any, folder: Path, **arguments: Any) -> str:
    """``train_run``, a failed step said as such: the cause, and the checkpoint kept."""
    try:
        return train_run(build, folder, **arguments)
    except TrainingError as error:
        raise RunError(f"{folder}: training failed: {error}") from error


def resume(
    run: str | Path,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    nproc: int = 1,
    device: str | None = None,
    stream: TextIO | None = None,
) -> Path:
    """Continue the run in ``run`` until it has taken ``steps`` (or ``epochs``) in all; the
    run is locked meanwhile, and failures and interrupts are raised as by :func:`train`."""
    check_device(device)
    folder = _run_folder(run)
    spec_text = RunFolder(folder).read_spec()
    if spec_text is None:
        raise RunError(f"{folder / 'spec.ode'}: missing; the run kept no spec to resume from")
    source = Source(spec_text, str(folder / SPEC))
    build = functools.partial(_build, source, _overrides(folder), _data_root(folder))
    length = steps if steps is not None else epochs
    arguments = {"resume": True, "length": length, "nproc": nproc, "device": device}
    with run_lock(folder) if _writes_runs() else contextlib.nullcontext():
        return _finish(folder, _training(build, folder, stream=stream, **arguments), stream)


def require_same_spec(run: str | Path, spec: str | Path) -> None:
    """Refuse to resume ``run`` with a spec other than the one it was trained from."""
    saved = RunFolder(_run_folder(run)).read_spec()
    if saved is not None and saved != load_source(Path(spec)).text:
        raise RunError(
            f"{spec}: differs from the spec {run} was trained from; resume without SPEC, or "
            "train the new spec into a new run folder"
        )


def _finish(folder: Path, status: str, stream: TextIO | None) -> Path:
    if status == "interrupted":
        summary = RunFolder(folder).read_summary() or {}
        head = f"{folder}: training interrupted at step {summary.get('step')}, its checkpoint saved"
        raise RunInterrupted(
            f"{head}; continue with odedsl.resume({str(folder)!r})",
            command=f"{head}; continue with `odedsl train --resume {folder}`",
        )
    if not _writes_runs():
        return folder  # one of torchrun's processes: rank 0 evaluates and draws
    model, metadata = _load(folder, "best")
    test = _data(folder, model)  # the first time training's data includes the test split
    results = _evaluate(model, test, metadata)
    try:
        _draw(folder, model, test, results)
    except Exception as error:  # pictures are a bonus: never lose a finished run over one
        results["plots"] = f"not drawn: {error}"
    atomic_write_text(folder / EVALUATION, json.dumps(results, indent=2))
    if stream is not None:
        print(_describe(results), file=stream)
    return folder


UNITS = {
    "nll": " nats",
    "kl": " nats (up to log Z)",
    "test_error": " (a fraction of the test examples)",
    "rmse": " (in the data's units)",
}
"""The units :func:`_describe` gives the figures of ``eval.json`` in."""


def _describe(results: Mapping[str, Any]) -> str:
    """``evaluation on test (best.pt, step 400: best validation nll 1.25): nll 1.21, ...``."""
    where = ("split", "checkpoint", "step", "selected_by", "parameters")
    parts = [
        f"{k} {v:.4g}{UNITS.get(k, '')}" if isinstance(v, float) else f"{k} {v}"
        for k, v in results.items()
        if k not in where
    ]
    learned = results.get("parameters") or {}
    if learned:
        parts.append("learned " + ", ".join(f"{k} = {_short(v)}" for k, v in learned.items()))
    checkpoint = results.get("checkpoint")
    name = BEST if checkpoint == "best" else f"{checkpoint} checkpoint"
    source = f"{name}, step {results.get('step')}"
    selected = results.get("selected_by")
    if selected and isinstance(selected.get("value"), float):
        source += f": best {selected['split']} {selected['metric']} {selected['value']:.4g}"
    return f"evaluation on {results.get('split')} ({source}): " + ", ".join(parts)


def _short(value: float | list[float]) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.4g}" for v in value) + "]"
    return f"{value:.4g}"


def _run_folder(run: str | Path) -> Path:
    folder = Path(run)
    if not folder.is_dir():
        raise RunError(f"{folder}: no such run folder (give the folder `odedsl train` wrote)")
    return folder


def _overrides(folder: Path) -> dict[str, Any]:
    path = folder / OVERRIDES
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RunError(f"{path}: unreadable ({error}); delete it or fix its JSON") from None
    if not isinstance(values, dict):
        raise RunError(f"{path}: expected a JSON object of overrides")
    return values


def load(
    run: str | Path, which: str = "best", settings: Mapping[str, Any] | None = None
) -> nn.Module:
    """The trained model of a run folder (``which``: ``"best"`` or ``"latest"``), in eval
    mode, ready for ``log_prob``, ``sample``, ``predict`` or ``forward``. ``settings`` change
    how it is evaluated, on top of the run's own overrides: ``eval_<solver option>``
    (``eval_rtol=1e-7``, ``eval_method="dopri5"``) and, for latent models, ``refine``; any
    other setting would describe another training run and raises ``ValueError``."""
    return _load(_run_folder(run), which, _checked_settings(settings))[0]


def _checked_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    changes = dict(settings or {})
    others = [name for name in changes if name not in EVALUATION_ONLY]
    if others:
        raise ValueError(
            f"{', '.join(others)}: a trained run is evaluated with other evaluation settings "
            "only, eval_<solver option> (eval_method, eval_rtol, eval_step_size, ...) or "
            "refine; train a new run to change anything else"
        )
    return changes


def _load(
    folder: Path, which: str, settings: Mapping[str, Any] | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """The model in eval mode and ``load_trained``'s metadata of the checkpoint read."""
    overrides = {**_overrides(folder), **(settings or {})}
    model, metadata = load_trained(folder, lambda text: compile(text, **overrides), which)
    return model.eval(), metadata


def evaluate(
    run: str | Path, which: str = "best", settings: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The model's metrics on the test split: its headline (:func:`headline`: ``nll`` for
    flows, in nats, ``kl`` for density matching, up to log Z, ``test_error`` for classifiers,
    a fraction, ``rmse`` for regressions, trajectory and latent models), ``loss``, the
    solver's evaluations of the last solve and the seconds taken, and where they come from:
    ``split`` (``"test"``), ``checkpoint`` (``"best"``: ``best.pt``, the best validation
    score, ``"final"``: the end of a finished run, ``"latest"``: the last checkpoint of an
    unfinished one), its ``step`` and, for ``best``, ``selected_by`` (the validation metric,
    value and step). ``which`` and ``settings`` as for :func:`load`."""
    folder = _run_folder(run)
    model, metadata = _load(folder, which, _checked_settings(settings))
    return _evaluate(model, _data(folder, model), metadata)


def _evaluate(model: nn.Module, test: Any, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``model``'s metrics on ``test``, with where they come from (see :func:`evaluate`)."""
    start = time.perf_counter()
    results = dict(model.evaluate(test))
    seconds = time.perf_counter() - start
    metric = headline(model)
    if metric not in results:
        raise RuntimeError(
            f"{type(model).__name__}.evaluate gave {', '.join(results) or 'nothing'}, not "
            f"{metric!r}, the headline metric of a {model.spec.kind} model: an error in odedsl"
        )
    results = {metric: results.pop(metric), **results}
    stats = getattr(model, "stats", None)
    if stats is not None:
        results["nfe_forward"] = int(stats.nfe_forward)
    results["seconds"] = round(seconds, 3)
    learned = learned_parameters(model)
    if learned:
        results["parameters"] = learned
    results.update(_provenance(metadata))
    return results


LEARNED_SIZE = 16
"""Parameters of at most this many entries are reported by name in ``eval.json``."""


def learned_parameters(model: nn.Module) -> dict[str, float | list[float]]:
    """The trained values of the spec's small free parameters (at most ``LEARNED_SIZE``
    entries; not time-dependent ones), by their spec names: a ``Positive`` one as its positive
    value (the softplus of what is stored). Rates of a universal differential equation, a
    learned initial state, an observation noise."""
    stored = dict(model.named_parameters())
    found: dict[str, float | list[float]] = {}
    for param in model.spec.params:
        if param.hyper is not None or param.numel > LEARNED_SIZE:
            continue
        member = mangle("p_", param.name)
        tensor = next((v for k, v in stored.items() if k.rsplit(".", 1)[-1] == member), None)
        if tensor is None:
            continue
        value = F.softplus(tensor) if param.positive else tensor
        values = [round(float(v), 6) for v in value.detach().reshape(-1)]
        found[param.name] = values[0] if param.shape == () else values
    return found


def _provenance(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Which split and checkpoint a trained run's figures come from."""
    best = metadata.get("best") or {}
    summary = metadata.get("summary") or {}
    if Path(metadata["checkpoint"]).name == BEST:
        checkpoint = "best"
    else:
        checkpoint = "final" if summary.get("status") == "completed" else "latest"
    where: dict[str, Any] = {"split": "test", "checkpoint": checkpoint, "step": metadata["step"]}
    if checkpoint == "best":
        where["selected_by"] = {
            "split": "validation",
            "metric": best.get("metric"),
            "value": best.get("value"),
            "step": best.get("step"),
        }
    return where


def sample(run: str | Path, n: int, *, seed: int = 0) -> np.ndarray:
    """``n`` samples of a trained model, as a numpy array: a flow's (n, *event shape); a
    trajectory model's observations at ``SAMPLE_POINTS`` times from t0 to the test split's
    last time, (n, times, *event shape), from its own start or, when it starts from each
    series, from the first test series (:func:`sample_times` gives the times). Drawn
    ``SAMPLE_CHUNK`` at a time from one generator; refused (``RunError``) when the samples
    would not fit in free memory."""
    if n < 1:
        raise ValueError(f"n must be a positive number of samples, got {n}")
    model = load(run)
    generator = torch.Generator().manual_seed(seed)
    if isinstance(model, ObservedODE):
        if model.kind != "trajectory":
            raise RunError(
                f"{run}: a supervised model predicts responses (odedsl.load(run).predict(x)); "
                "`sample` is for flows and trajectory models"
            )
        test = _data(Path(run), model)
        times = sample_times(model, test)
        if not model.initial_reads:
            return _in_chunks(lambda k: model.sample(k, times, generator=generator), n)
        observation = next(o for o in model.observations if o.series)
        first = {key: test[key][:1] for key in (observation.times, observation.value)}

        def from_series(count: int) -> torch.Tensor:
            x_obs, ts_obs = first[observation.value], first[observation.times]
            drawn = model.sample(count, times, x_obs=x_obs, ts_obs=ts_obs, generator=generator)
            return drawn[:, 0]

        return _in_chunks(from_series, n)
    if not hasattr(model, "sample"):
        raise RunError(f"{run}: a {model.spec.kind} model has no samples; `sample` is for flows")
    return _in_chunks(lambda k: model.sample(k, generator=generator), n)


SAMPLE_CHUNK = 8192
"""How many samples :func:`sample` draws at once."""


def _in_chunks(draw: Callable[[int], torch.Tensor], n: int) -> np.ndarray:
    """``n`` draws of ``draw(count)``, ``SAMPLE_CHUNK`` at a time, into one array; refused
    when the array would exceed free memory (measured from the first chunk)."""
    with torch.no_grad():
        first = draw(min(n, SAMPLE_CHUNK)).cpu().numpy()
        if n <= len(first):
            return first
        need = first.nbytes / len(first) * n
        free = available_memory()
        if free is not None and need > free:
            fits = int(free // (first.nbytes / len(first)))
            message = (
                f"{n}: the samples would take {size(need)}, more than the "
                f"{size(free)} of free memory; draw at most {fits} at a time"
            )
            raise RunError(f"n = {message}", command=f"-n {message}")
        samples = np.empty((n, *first.shape[1:]), dtype=first.dtype)
        samples[: len(first)] = first
        done = len(first)
        while done < n:
            chunk = draw(min(SAMPLE_CHUNK, n - done)).cpu().numpy()
            samples[done : done + len(chunk)] = chunk
            done += len(chunk)
    return samples


SAMPLE_POINTS = 100


def sample_times(model: ObservedODE, test: Any) -> torch.Tensor:
    """The times :func:`sample` draws a trajectory model at: ``SAMPLE_POINTS`` from t0 to
    the last time of the test split."""
    observation = next(o for o in model.observations if o.series)
    end = float(torch.as_tensor(test[observation.times]).max())
    return torch.linspace(model.t0, max(end, model.t0 + 1e-6), SAMPLE_POINTS, dtype=torch.float64)


def plot(run: str | Path) -> list[Path]:
    """Draw the run's pictures into its folder: the training curves, and for 2-D flows
    samples beside data, the learned density and the flow from noise to data."""
    folder = _run_folder(run)
    model = load(folder)
    with run_lock(folder):
        return _draw(folder, model, _data(folder, model))
    return _draw(folder, model, _data(folder, model), _read_evaluation(folder))


def _read_evaluation(folder: Path) -> dict[str, Any] | None:
    """``eval.json`` of a run, or None when it has none or it is unreadable (pictures only)."""
    try:
        results = json.loads((folder / EVALUATION).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return results if isinstance(results, dict) else None


def _draw(
    folder: Path, model: nn.Module, test: Any, evaluation: Mapping[str, Any] | None = None
) -> list[Path]:
    from odedsl.plots.curves import plot_curves

    metrics = RunFolder(folder).read_metrics()
    written = plot_curves(metrics, folder, headline(model), evaluation)
    if model.spec.kind.startswith("flow") and getattr(model, "event_shape", None) == (2,):
        from odedsl.plots.flow import plot_flow

        data = test["x"] if isinstance(test, Mapping) else None
        written += plot_flow(model, None if data is None else np.asarray(data)[:2000], folder)
    if model.spec.kind == "latent":
        from odedsl.plots.latent import plot_latent

        written += plot_latent(model, test, folder)
    if isinstance(model, ObservedODE):
        from odedsl.plots.observed import draw_observed

        train = _data(folder, model, "train")
        validation = _data(folder, model, "validation") if model.kind == "trajectory" else None
        written += draw_observed(model, train, test, folder, validation)
        if _odenet(model):
            from odedsl.plots.odenet import draw_odenet

            written += draw_odenet(model, test, metrics, folder)
    return written


def _odenet(model: ObservedODE) -> bool:
    """An ODE-Net on images: one class label read from image inputs (what the error-control
    pictures of :mod:`odedsl.plots.odenet` measure)."""
    variables = model.spec.data.variables if model.spec.data is not None else ()
    images = [v for v in variables if v.role == "sample" and len(v.shape) == 3]
    return (
        bool(images)
        and len(model.observations) == 1
        and model.observations[0].family.name == "Categorical"
    )
