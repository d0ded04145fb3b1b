"""The training runtime's errors: bad configuration, bad run folders, failed training."""

from __future__ import annotations

from odedsl.errors import OdedslError


class ConfigError(OdedslError, ValueError):
    """A training configuration is invalid; the message names the field and how to fix it."""


class RunError(OdedslError):
    """A run folder or checkpoint cannot be used; the message names the file and the problem.

    ``command`` is the same message as the command line words it (its flags instead of
    Python's arguments), when they differ; ``exit_status`` what the command line exits with.
    """

    exit_status = 1

    def __init__(self, message: str, *, command: str | None = None) -> None:
        super().__init__(message)
        self.command = command if command is not None else message


class RunInterrupted(RunError):
    """Training stopped at a signal (SIGINT, SIGTERM) with its checkpoint saved."""

    exit_status = 130


class TrainingError(OdedslError, RuntimeError):
    """Training stopped: a non-finite loss or an exception from the model.

    The message names the step and the checkpoint kept on disk; ``step`` is the step that failed
    and ``checkpoint_step`` the step the run's ``checkpoint.pt`` holds.
    """

    def __init__(self, message: str, *, step: int, checkpoint_step: int) -> None:
        super().__init__(message)
        self.step = step
        self.checkpoint_step = checkpoint_step
