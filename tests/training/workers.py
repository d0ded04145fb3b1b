"""Small real models and data for the training-runtime tests, and the subprocess entry points.

Imported by the tests (as a module) and run as a script by them::

    python workers.py interruptible RUN STEPS READY_AT   # trains; prints "ready" at READY_AT
    python workers.py save-loop RUN MEGABYTES           # saves checkpoints forever

Only odedsl and torch are imported, so both uses see the same definitions.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from odedsl.errors import SolverError
from odedsl.training import (
    LossOutput,
    OptimizerConfig,
    RunFolder,
    ScheduleConfig,
    StreamingBatches,
    TensorBatches,
    TrainConfig,
    train,
)
from odedsl.training.checkpoint import FORMAT, VERSION
from odedsl.training.commands import TrainingSetup


class Regression(nn.Module):
    """A small MLP fitted to sin(x₀·x₁) by mean squared error (a per-sample mean).

    On its ``fail_at``-th loss call it fails: ``failure = "raise"`` raises a ``SolverError``,
    ``"nan"`` or ``"inf"`` returns that loss, ``"sigint"`` sends its own process a SIGINT.
    """

    def __init__(self, hidden: int = 16, fail_at: int | None = None, failure: str = "raise"):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.calls = 0
        self.fail_at = fail_at
        self.failure = failure

    def loss(self, batch: Mapping[str, Tensor]) -> LossOutput:
        self.calls += 1
        error = ((self.net(batch["x"]) - batch["y"]) ** 2).mean()
        if self.calls == self.fail_at:
            if self.failure == "raise":
                raise SolverError("step size underflow at t = 0.5 (injected by the test)")
            if self.failure == "sigint":
                os.kill(os.getpid(), signal.SIGINT)
            else:
                error = error * float(self.failure)
        return LossOutput(error, {"nfe_forward": 2.0}, {"nfe_backward": lambda: 3.0})

    def evaluate(self, data: Mapping[str, Tensor]) -> dict[str, float]:
        with torch.no_grad():
            return {"loss": float(((self.net(data["x"]) - data["y"]) ** 2).mean())}


def regression_sampler(n: int, generator: torch.Generator) -> dict[str, Tensor]:
    x = torch.randn(n, 2, generator=generator)
    return {"x": x, "y": torch.sin(x[:, :1] * x[:, 1:])}


def regression_model(seed: int = 0, **kwargs) -> Regression:
    torch.manual_seed(seed)
    return Regression(**kwargs)


def regression_data(batch_size: int = 32) -> StreamingBatches:
    return StreamingBatches(regression_sampler, batch_size)


def regression_config(steps: int, **kwargs) -> TrainConfig:
    """Adam with a one-cycle schedule: the schedule makes every step's rate depend on the step."""
    defaults = dict(
        optimizer=OptimizerConfig("Adam", {"lr": 0.02, "betas": [0.9, 0.99]}),
        schedule=ScheduleConfig("one-cycle"),
        steps=steps,
        log_every=5,
        checkpoint_every=0,
        seed=7,
    )
    return TrainConfig(**{**defaults, **kwargs})


class NeuralODERegression(nn.Module):
    """Maps x to y(1) of dy/dt = f(y) (f an MLP), gradients by the adjoint; MSE to targets.

    Fixed-step RK4, so each sample's result does not depend on its batch-mates and two
    half-batches give exactly the per-sample values of the whole batch.
    """

    def __init__(self) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).double()

    def dynamics(self, t: Tensor, y: Tensor) -> Tensor:
        return self.f(y)

    def loss(self, batch: Mapping[str, Tensor]) -> LossOutput:
        from odedsl.solvers import solve

        solution = solve(
            self.dynamics,
            batch["x"],
            torch.tensor([0.0, 1.0], dtype=torch.float64),
            method="rk4",
            options={"step_size": 0.25},
            gradient="adjoint",
            adjoint_params=tuple(self.parameters()),
        )
        error = ((solution.ys[-1] - batch["y"]) ** 2).mean()
        stats = solution.stats
        return LossOutput(
            error, {"nfe_forward": stats.nfe_forward}, {"nfe_backward": lambda: stats.nfe_backward}
        )


def ode_data(rows: int = 48, batch_size: int = 16) -> TensorBatches:
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(rows, 2, generator=generator, dtype=torch.float64)
    y = torch.stack([x[:, 1], -x[:, 0]], dim=1)  # a quarter turn: y = R(−π/2) x
    return TensorBatches({"x": x, "y": y}, batch_size, seed=11)


def ode_config() -> TrainConfig:
    return TrainConfig(
        optimizer=OptimizerConfig("SGD", {"lr": 0.1, "momentum": 0.9}),
        epochs=2,
        log_every=1,
        checkpoint_every=0,
    )


def ode_model() -> NeuralODERegression:
    torch.manual_seed(5)
    return NeuralODERegression()


def ode_setup() -> TrainingSetup:
    """What each process of the data-parallel test builds (``run_training``'s ``build``)."""
    torch.set_num_threads(1)
    return TrainingSetup(ode_model(), ode_data())


class ReadyThenSlow:
    """A progress reporter that prints "ready" after step ``ready_at`` and then slows every
    step down, so a signal sent on "ready" arrives long before training could end."""

    def __init__(self, ready_at: int) -> None:
        self.ready_at = ready_at

    def start(self, total: int, initial: int) -> None: ...

    def update(self, step: int, values: Mapping[str, float]) -> None:
        if step == self.ready_at:
            print("ready", flush=True)
        if step >= self.ready_at:
            time.sleep(0.05)

    def note(self, text: str) -> None:
        print(text, flush=True)

    def close(self) -> None: ...


def _interruptible(run: str, steps: str, ready_at: str) -> None:
    torch.set_num_threads(1)
    result = train(
        regression_model(),
        regression_data(),
        regression_config(int(steps)),
        run,
        progress=ReadyThenSlow(int(ready_at)),
    )
    print(f"status {result.status} step {result.step}", flush=True)


def versioned_checkpoint(version: int, numbers: int) -> dict:
    """A complete checkpoint whose step is ``version`` and whose weights all equal it."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "step": version,
        "epoch": 0,
        "batch_in_epoch": 0,
        "model": {"weight": torch.full((numbers,), float(version))},
        "optimizer": {"state": {}, "param_groups": []},
        "processes": [],
        "best": {},
        "seconds": 0.0,
        "config": {},
    }


def _save_loop(run: str, megabytes: str) -> None:
    """Saves checkpoints whose every number equals the version, printing each version saved."""
    folder = RunFolder(Path(run))
    folder.path.mkdir(parents=True, exist_ok=True)
    numbers = int(megabytes) * 2**20 // 4
    for version in range(1, 10**6):
        folder.save_checkpoint(versioned_checkpoint(version, numbers))
        print(f"saved {version}", flush=True)


if __name__ == "__main__":
    {"interruptible": _interruptible, "save-loop": _save_loop}[sys.argv[1]](*sys.argv[2:])
