"""The checkpoint format: reading one back with checks, and loading it into a model.

A checkpoint is a ``torch.save``d dict of tensors, numbers, strings, lists and dicts (so
``torch.load(weights_only=True)`` reads it) with ``format = "odedsl-checkpoint"``, ``version``,
``step``, ``epoch``, ``batch_in_epoch``, ``model`` and ``optimizer`` state dicts, ``processes``
(per rank: its random streams ``rng`` and unlogged metric sums ``window``), ``best``, ``seconds``
and ``config``.
Every problem reading one raises ``RunError`` naming the file.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from odedsl.training.errors import RunError

FORMAT = "odedsl-checkpoint"
VERSION = 1
FIELDS: dict[str, type | tuple[type, ...]] = {
    "step": int,
    "epoch": int,
    "batch_in_epoch": int,
    "model": Mapping,
    "optimizer": Mapping,
    "processes": list,
    "best": Mapping,
    "seconds": float,
    "config": Mapping,
}


def _archive_problem(path: Path) -> str | None:
    """What is wrong with ``path`` as a ``torch.save`` archive, or None."""
    if not zipfile.is_zipfile(path):
        return "truncated, or not written by torch.save (no archive directory at its end)"
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"corrupt archive ({exc})"
    return f"corrupt: {broken} fails its checksum" if broken is not None else None


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint at ``path``, checked to be a complete odedsl checkpoint (tensors on CPU)."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: no checkpoint here (was the run started in this folder?)")
    problem = _archive_problem(path)
    if problem is not None:
        raise RunError(f"{path}: {problem}; resume from another copy or start a new run")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise RunError(
            f"{path}: not an odedsl checkpoint (it holds Python objects beyond tensors, "
            "numbers, strings, lists and dicts)"
        ) from None
    except (RuntimeError, OSError, EOFError) as exc:
        raise RunError(f"{path}: unreadable checkpoint ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RunError(f"{path}: not an odedsl checkpoint (no format = {FORMAT!r} entry)")
    if data.get("version") != VERSION:
        raise RunError(
            f"{path}: checkpoint format version {data.get('version')!r}; this odedsl reads "
            f"version {VERSION}"
        )
    for name, kind in FIELDS.items():
        value = data.get(name)
        if kind is float and isinstance(value, int):
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            raise RunError(f"{path}: incomplete checkpoint: entry {name!r} is missing or malformed")
    return data


def _shape(shape: torch.Size) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def load_model_state(model: nn.Module, state: Mapping[str, Any], path: Path) -> None:
    """Loads ``state`` into ``model``, or raises ``RunError`` listing how the two differ."""
    expected = model.state_dict()
    problems = [
        f"parameter {name!r} has shape {_shape(state[name].shape)} in the checkpoint but "
        f"{_shape(tensor.shape)} in the model"
        for name, tensor in expected.items()
        if name in state
        and isinstance(state[name], torch.Tensor)
        and state[name].shape != tensor.shape
    ]
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    if missing:
        problems.append(f"the checkpoint lacks {', '.join(map(repr, missing[:5]))}")
    if unexpected:
        problems.append(f"the model has no {', '.join(map(repr, unexpected[:5]))}")
    if problems:
        raise RunError(
            f"{path}: the checkpoint does not fit this model (was it trained from another "
            f"spec?): {'; '.join(problems)}"
        )
    model.load_state_dict(state)


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, state: Mapping[str, Any], path: Path
) -> None:
    """Loads ``state`` into ``optimizer``, or raises ``RunError`` naming the file."""
    try:
        optimizer.load_state_dict(state)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise RunError(f"{path}: the optimizer state does not fit this model ({exc})") from None
