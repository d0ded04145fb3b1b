"""The training runtime's errors: bad configuration, bad run folders, failed training."""

from __future__ import annotations

from odedsl.errors import OdedslError


class ConfigError(OdedslError, ValueError):
    """A training configuration is invalid; the message names the field and how to fix it."""


class RunError(OdedslError):
    """A run folder or checkpoint cannot be used; the message names the file and the problem."""


class TrainingError(OdedslError, RuntimeError):
    """Training stopped: a non-finite loss or an exception from the model.

    The message names the step and the checkpoint kept on disk; ``step`` is the step that failed
    and ``checkpoint_step`` the step the run's ``checkpoint.pt`` holds.
    """

    def __init__(self, message: str, *, step: int, checkpoint_step: int) -> None:
        super().__init__(message)
        self.step = step
        self.checkpoint_step = checkpoint_step
