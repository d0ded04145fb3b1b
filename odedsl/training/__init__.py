"""The model-agnostic training runtime: loop, run folders, checkpoints, progress, DDP.

A model is any ``nn.Module`` with ``loss(batch) -> LossOutput`` (``protocol``); data is a
streaming or epoch source (``sources``); ``train`` writes a run folder (``run``) that
``load_run`` reads back. ``launch`` (or torchrun with ``init_from_env``) makes it data-parallel.
"""

from __future__ import annotations

from odedsl.training.checkpoint import load_model_state, read_checkpoint
from odedsl.training.commands import TrainingSetup, load_trained, run_training
from odedsl.training.config import OptimizerConfig, ScheduleConfig, TrainConfig
from odedsl.training.distributed import init_from_env, launch
from odedsl.training.errors import ConfigError, RunError, TrainingError
from odedsl.training.loop import TrainResult, train
from odedsl.training.progress import ProgressBar
from odedsl.training.protocol import (
    EpochData,
    EvaluableModel,
    LossOutput,
    ProgressReporter,
    StreamingData,
    TrainableModel,
)
from odedsl.training.rng import seed_everything
from odedsl.training.run import RunFolder, load_run
from odedsl.training.schedules import lr_factor
from odedsl.training.sources import StreamingBatches, TensorBatches, numpy_sampler

__all__ = [
    "ConfigError",
    "EpochData",
    "EvaluableModel",
    "LossOutput",
    "OptimizerConfig",
    "ProgressBar",
    "ProgressReporter",
    "RunError",
    "RunFolder",
    "ScheduleConfig",
    "StreamingBatches",
    "StreamingData",
    "TensorBatches",
    "TrainConfig",
    "TrainResult",
    "TrainableModel",
    "TrainingError",
    "TrainingSetup",
    "init_from_env",
    "launch",
    "load_model_state",
    "load_run",
    "load_trained",
    "lr_factor",
    "numpy_sampler",
    "read_checkpoint",
    "run_training",
    "seed_everything",
    "train",
]
