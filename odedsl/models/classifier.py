"""ODE-Net classifiers (Chen et al. 2018, Section 3): an ODE block between a stem and a head.

``h(t0) = encoder(x)``, ``dh/dt = dynamics(t, h)``, ``logits = readout(h(t1))``; the loss is
the cross-entropy of the labels (or the binary cross-entropy of 0/1 labels for a
``"bernoulli"`` likelihood). The ODE block is solved by :class:`SolverSettings` (the adjoint
keeps memory constant in the number of steps); ``stats`` holds the counters of the last solve,
the number of function evaluations that the paper reports growing during training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from odedsl.solvers import SolverStats
from odedsl.training.protocol import LossOutput

from .settings import SolverSettings

LIKELIHOODS = ("categorical", "bernoulli")


class LabelClassifier(nn.Module):
    """What every classifier of labels shares: batches, the loss, evaluation.

    Subclasses define ``forward(x)`` (logits) and may override :meth:`evaluation_logits`
    (how ``predict`` and ``evaluate`` compute logits), :meth:`step_metrics` (extra values
    logged per training step) and :meth:`deferred_metrics` (those read after backward).
    Batches are mappings holding the inputs under ``input_key`` and integer labels under
    ``label_key`` (the keys of ``odedsl.data.load``), or ``(x, y)`` pairs.
    """

    def __init__(
        self, *, likelihood: str = "categorical", input_key: str = "x", label_key: str = "y"
    ) -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood = likelihood
        self.input_key, self.label_key = input_key, label_key

    def evaluation_logits(self, x: Tensor) -> Tensor:
        """The logits ``predict`` and ``evaluate`` use (here: ``self(x)``)."""
        return self(x)

    def step_metrics(self) -> dict[str, float]:
        """Values logged with each training step besides loss and accuracy (here: none)."""
        return {}

    def deferred_metrics(self) -> dict[str, Callable[[], float]]:
        """Figures of each training step read after its backward pass (here: none)."""
        return {}

    def predict(self, x: Tensor) -> Tensor:
        """Logits for evaluation, without gradients."""
        with torch.no_grad():
            return self.evaluation_logits(self._cast(x))

    def _cast(self, x: Tensor) -> Tensor:
        param = next(self.parameters(), None)
        x = torch.as_tensor(x)
        if param is None:
            return x
        return x.to(dtype=param.dtype, device=param.device)

    def split_batch(self, batch: Any) -> tuple[Tensor, Tensor]:
        """Inputs (cast to the parameters' dtype and device) and labels of a batch."""
        if isinstance(batch, Mapping):
            missing = [k for k in (self.input_key, self.label_key) if k not in batch]
            if missing:
                raise ValueError(
                    f"a classifier batch holds {self.input_key!r} and {self.label_key!r}; "
                    f"missing {missing}"
                )
            x, y = batch[self.input_key], batch[self.label_key]
        else:
            x, y = batch
        return self._cast(x), torch.as_tensor(y)

    def _fit(self, logits: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Summed loss and the number of correct predictions."""
        y = y.to(logits.device)
        if self.likelihood == "bernoulli":
            target = y.to(logits.dtype).reshape(logits.shape)
            loss = F.binary_cross_entropy_with_logits(logits, target, reduction="sum")
            correct = ((logits > 0) == (target > 0.5)).sum()
        else:
            loss = F.cross_entropy(logits, y.long(), reduction="sum")
            correct = (logits.argmax(-1) == y).sum()
        return loss, correct

    def loss(self, batch: Any) -> LossOutput:
        """Mean cross-entropy of the batch, with its accuracy, :meth:`step_metrics` and
        :meth:`deferred_metrics`."""
        x, y = self.split_batch(batch)
        total, correct = self._fit(self(x), y)
        metrics = {"accuracy": float(correct) / len(y), **self.step_metrics()}
        return LossOutput(total / len(y), metrics, self.deferred_metrics())

    def evaluate(self, data: Any) -> dict[str, float]:
        """``loss`` (mean cross-entropy) and ``test_error`` (fraction misclassified) over
        ``data``: an iterable of batches (an epoch source), one batch, or ``(x, y)``."""
        total, correct, count = 0.0, 0, 0
        with torch.no_grad():
            for batch in _batches(data, self.input_key):
                x, y = self.split_batch(batch)
                loss, right = self._fit(self.evaluation_logits(x), y)
                total, correct, count = total + float(loss), correct + int(right), count + len(y)
        if count == 0:
            raise ValueError("evaluate got no examples")
        return {"loss": total / count, "test_error": 1.0 - correct / count}


class ODEClassifier(LabelClassifier):
    """Classify ``x`` by the state of an ODE started at ``encoder(x)``.

    ``encoder``, ``dynamics`` (``f(t, h)``) and ``readout`` are modules; a state may be a
    tensor or a tuple of tensors (several states). Batches are as for
    :class:`LabelClassifier`. Training-mode calls use ``train_solver``, evaluation-mode calls
    (and :meth:`predict`, :meth:`evaluate`) ``eval_solver``. Each training step logs the
    forward and backward evaluations of its solve (``nfe_forward``, ``nfe_backward``).
    """

    def __init__(
        self,
        encoder: nn.Module,
        dynamics: nn.Module,
        readout: nn.Module,
        *,
        t0: float = 0.0,
        t1: float = 1.0,
        train_solver: SolverSettings,
        eval_solver: SolverSettings | None = None,
        likelihood: str = "categorical",
        input_key: str = "x",
        label_key: str = "y",
    ) -> None:
        super().__init__(likelihood=likelihood, input_key=input_key, label_key=label_key)
        if not t0 < t1:
            raise ValueError(f"the ODE block runs forward in time: t0 < t1, got ({t0}, {t1})")
        self.encoder = encoder
        self.dynamics = dynamics
        self.readout = readout
        self.t0, self.t1 = float(t0), float(t1)
        self.train_solver = train_solver
        self.eval_solver = eval_solver or train_solver
        self.stats = SolverStats()

    def forward(self, x: Tensor, settings: SolverSettings | None = None) -> Tensor:
        """Logits (batch, classes), or (batch,) log-odds for a Bernoulli likelihood."""
        x = self._cast(x)
        settings = settings or (self.train_solver if self.training else self.eval_solver)
        final, self.stats = self.solve_block(self.encoder(x), settings)
        return self.readout(final)

    def solve_block(self, h0: Any, settings: SolverSettings) -> tuple[Any, SolverStats]:
        """The ODE block from ``h0`` (a tensor or a tuple) at ``t0`` to its state at ``t1``,
        with the solve's statistics."""
        like = h0[0] if isinstance(h0, tuple) else h0
        times = torch.tensor([self.t0, self.t1], dtype=like.dtype, device=like.device)
        solution = settings.solve(self.dynamics, h0, times)
        ys = solution.ys
        final = tuple(y[-1] for y in ys) if isinstance(ys, tuple) else ys[-1]
        return final, solution.stats

    def evaluation_logits(self, x: Tensor) -> Tensor:
        """Logits with the evaluation solver."""
        return self(x, self.eval_solver)

    def step_metrics(self) -> dict[str, float]:
        """The solve's forward evaluations."""
        return {"nfe_forward": float(self.stats.nfe_forward)}

    def deferred_metrics(self) -> dict[str, Callable[[], float]]:
        """The solve's backward evaluations, read once backward has run."""
        stats = self.stats
        return {"nfe_backward": lambda: float(stats.nfe_backward)}


def _batches(data: Any, input_key: str) -> Iterable[Any]:
    if isinstance(data, Mapping) and input_key in data:
        return [data]
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], Tensor):
        return [data]
    return data
