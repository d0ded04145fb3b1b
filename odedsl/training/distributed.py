"""Data-parallel training: process groups, launching, and the few collectives the loop needs.

Two ways in. ``launch(nproc, fn, args)`` spawns ``nproc`` local processes (127.0.0.1, a free
port), each of which joins the group and calls ``fn(*args)``; under ``torchrun`` each process
calls ``init_from_env()`` itself. Either way ``train`` then finds the group through
``current()``: it shards the data per rank, seeds every rank differently, wraps the model in
``DistributedDataParallel`` and lets only rank 0 write the run folder. The backend is ``nccl``
when there is a GPU per process, ``gloo`` (CPU) otherwise.

DDP averages gradients in hooks on each parameter's gradient accumulation, so gradients that
custom autograd functions produce (the ODE adjoint) are averaged like any others.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from odedsl.training.errors import ConfigError
from odedsl.training.signals import forwarding_signals

ENVIRONMENT = ("RANK", "WORLD_SIZE")


@dataclass(frozen=True)
class Context:
    """This process's place in the group: ``rank`` of ``world_size``, ``local_rank`` on its host."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes the run folder and shows progress."""
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """The device this process's model belongs on (its GPU under ``nccl``)."""
        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")


def current() -> Context:
    """The initialized process group's context, or the single-process one."""
    if not (dist.is_available() and dist.is_initialized()):
        return Context()
    rank = dist.get_rank()
    return Context(
        rank=rank,
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", rank)),
        backend=dist.get_backend(),
    )


def default_backend(nproc: int | None = None) -> str:
    """``nccl`` when there is a GPU for each of ``nproc`` processes (any GPU when None), else
    ``gloo`` (CPU)."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return "nccl" if gpus >= max(nproc or 1, 1) else "gloo"


def init_from_env(backend: str | None = None) -> Context:
    """Joins the group described by ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``
    and ``MASTER_PORT`` (as ``torchrun`` sets them)."""
    missing = [name for name in ENVIRONMENT if name not in os.environ]
    if missing:
        raise ConfigError(
            f"distributed training needs the environment variables {', '.join(missing)}; "
            "start the processes with torchrun, or use odedsl.training.launch"
        )
    backend = backend or default_backend()
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", os.environ["RANK"])))
    dist.init_process_group(backend)
    return current()


def launched_externally() -> bool:
    """Whether this process is one of several started by ``torchrun`` (or the like) and has
    not joined its group yet."""
    world = os.environ.get("WORLD_SIZE", "1")
    return "RANK" in os.environ and world.isdigit() and int(world) > 1 and not dist.is_initialized()


@contextmanager
def joined_from_env() -> Iterator[None]:
    """Inside, this process is in the group ``torchrun`` described; on leaving, the processes
    wait for each other and the group is torn down."""
    init_from_env()
    try:
        yield
        dist.barrier()
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(
    nproc: int, fn: Callable[..., Any], args: Sequence[Any] = (), backend: str | None = None
) -> None:
    """Runs ``fn(*args)`` in ``nproc`` new local processes forming one group.

    ``fn`` and ``args`` must be picklable (``fn`` defined at a module's top level). An exception
    in any process is raised here once all have stopped. The workers run in their own process
    group, and SIGINT/SIGTERM sent to this process (Ctrl-C included) are passed on to each of
    them once, so they checkpoint and stop together.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"nproc must be an integer ≥ 1, got {nproc!r}")
    backend = backend or default_backend(nproc)
    if backend == "nccl" and nproc > torch.cuda.device_count():
        raise ConfigError(
            f"nproc = {nproc} processes need as many GPUs with nccl, found "
            f"{torch.cuda.device_count()}; use fewer processes or backend = 'gloo'"
        )
    workers = mp.start_processes(
        _entry,
        args=(nproc, free_port(), backend, fn, tuple(args)),
        nprocs=nproc,
        join=False,
        start_method="spawn",
    )
    with forwarding_signals([process.pid for process in workers.processes]):
        while not workers.join():
            pass


def _entry(
    rank: int, nproc: int, port: int, backend: str, fn: Callable[..., Any], args: tuple
) -> None:
    if hasattr(os, "setpgrp"):
        os.setpgrp()  # out of the terminal's group: Ctrl-C reaches the workers once, forwarded
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(nproc),
        LOCAL_RANK=str(rank),
    )
    init_from_env(backend)
    try:
        fn(*args)
        dist.barrier()  # no process tears the group down while another still talks to it
    finally:
        dist.destroy_process_group()


def wrap(module: nn.Module, context: Context) -> nn.Module:
    """``module`` under ``DistributedDataParallel`` when the group has several processes."""
    if context.world_size == 1:
        return module
    device_ids = [context.local_rank] if context.backend == "nccl" else None
    return DistributedDataParallel(module, device_ids=device_ids)


def any_rank(flag: bool, context: Context) -> bool:
    """Whether ``flag`` is set on any process (a collective: every process must call it)."""
    if context.world_size == 1:
        return flag
    value = torch.tensor([float(flag)], device=context.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def mean_over_ranks(values: dict[str, float], context: Context) -> dict[str, float]:
    """Each value averaged over the processes (all must pass the same keys)."""
    if context.world_size == 1 or not values:
        return values
    keys = sorted(values)
    stacked = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=context.device)
    dist.all_reduce(stacked)
    return dict(zip(keys, (stacked / context.world_size).tolist(), strict=True))


def gather(obj: Any, context: Context) -> list[Any]:
    """Every process's ``obj``, in rank order."""
    if context.world_size == 1:
        return [obj]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def from_main(obj: Any, context: Context) -> Any:
    """Rank 0's ``obj`` on every process."""
    if context.world_size == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
