"""Continuous normalizing flows: maximum likelihood, density matching, sampling.

A flow moves base samples ``z(t0) ~ N(0, I)`` to data ``x = z(t1)`` along ``dz/dt = f(t, z)``,
and the log-density follows ``d log p/dt = −tr ∂f/∂z`` (the instantaneous change of variables).
Both travel in one solve of the augmented state built by
:class:`odedsl.nn.trace.AugmentedDynamics`, together with RNODE's regularizers
(kinetic energy ``∫‖f‖² dt`` and Jacobian norm ``∫‖∂f/∂z‖²_F dt``) when their weights are set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from odedsl.nn.trace import AugmentedDynamics
from odedsl.solvers import SolverStats
from odedsl.training.protocol import LossOutput

from .inputs import as_count, as_tensor, check_shape, is_count, reference
from .settings import SolverSettings

LogDensity = Callable[[Tensor], Tensor]


def checked_base(mean: float, std: float) -> tuple[float, float]:
    """``(mean, std)`` of a flow's base ``N(mean, std² I)`` as floats; refused unless both
    are finite and ``std`` is positive."""
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise ValueError(f"base_std must be positive, got base N({mean}, {std}²)")
    return float(mean), float(std)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over every dimension but the first (the batch)."""
    flat = z.reshape(z.shape[0], -1)
    return -0.5 * flat.pow(2).sum(1) - 0.5 * flat.shape[1] * math.log(2 * math.pi)


class ContinuousFlow(nn.Module):
    """A CNF over samples of shape ``event_shape`` on the time span ``(t0, t1)``.

    ``objective`` is ``"likelihood"`` (maximum likelihood on data batches) or ``"kl"``
    (density matching: minimise KL(q‖p) against the unnormalised ``target`` log-density).
    Training solves use ``train_solver``; :meth:`log_prob` and :meth:`sample` default to
    ``eval_solver``, and solves with ``eval_solver`` use ``eval_augmented`` when given (e.g.
    the exact trace for evaluation, Hutchinson's for training; without the regularizers).
    ``stats`` holds the counters of the last solve. The base density is
    ``N(base_mean, base_std² I)`` (standard by default). Batches may be arrays (tensors of any
    float dtype, numpy arrays, lists) or mappings (the sources of ``odedsl.training``) holding
    the data under ``data_key``; they are converted to the model's dtype, and NaN or a wrong
    shape is refused naming the argument (:mod:`odedsl.models.inputs`).
    """

    OBJECTIVES = ("likelihood", "kl")

    def __init__(
        self,
        augmented: AugmentedDynamics,
        *,
        event_shape: tuple[int, ...],
        t0: float,
        t1: float,
        train_solver: SolverSettings,
        eval_solver: SolverSettings,
        objective: str = "likelihood",
        target: LogDensity | None = None,
        kinetic: float = 0.0,
        jacobian: float = 0.0,
        base_mean: float = 0.0,
        base_std: float = 1.0,
        data_key: str = "x",
        eval_augmented: AugmentedDynamics | None = None,
    ) -> None:
        super().__init__()
        if objective not in self.OBJECTIVES:
            raise ValueError(f"objective must be one of {self.OBJECTIVES}, got {objective!r}")
        if objective == "kl" and target is None:
            raise ValueError("objective 'kl' needs a target log-density (target=...)")
        if (kinetic and not augmented.kinetic) or (jacobian and not augmented.jacobian):
            raise ValueError("the augmented dynamics must carry every regularizer weighted here")
        self.base_mean, self.base_std = checked_base(base_mean, base_std)
        self.augmented = augmented
        self.eval_augmented = eval_augmented
        self.event_shape = tuple(event_shape)
        self.t0, self.t1 = float(t0), float(t1)
        self.train_solver = train_solver
        self.eval_solver = eval_solver
        self.objective = objective
        self.target = target
        self.kinetic = float(kinetic)
        self.jacobian = float(jacobian)
        self.data_key = data_key
        self.stats = SolverStats()

    def base_log_prob(self, z: Tensor) -> Tensor:
        """log N(z; base_mean, base_std² I) per sample."""
        size = z[0].numel()
        scaled = (z - self.base_mean) / self.base_std
        return standard_normal_log_prob(scaled) - size * math.log(self.base_std)

    def _times(self, reference: Tensor, *, forward: bool) -> Tensor:
        span = [self.t0, self.t1] if forward else [self.t1, self.t0]
        return torch.tensor(span, dtype=reference.dtype, device=reference.device)

    def _solve(self, z: Tensor, logp: Tensor | None, settings: SolverSettings, *, forward: bool):
        augmented = self._augmented(settings)
        state0 = augmented.initial_state(z, logp)
        solution = settings.solve(augmented, state0, self._times(z, forward=forward))
        self.stats = solution.stats
        return augmented.split(solution.ys[-1])

    def _augmented(self, settings: SolverSettings) -> AugmentedDynamics:
        if settings is self.eval_solver and self.eval_augmented is not None:
            return self.eval_augmented
        return self.augmented

    def _regularizers(self, parts: tuple[Tensor, ...], sign: float) -> Tensor:
        """The weighted RNODE terms of the extra states (``sign`` −1 for reverse solves)."""
        total = parts[0].new_zeros(())
        extra = iter(parts[2:])
        if self.augmented.kinetic:
            kinetic = next(extra)
            total = total + self.kinetic * sign * kinetic.mean()
        if self.augmented.jacobian:
            jacobian = next(extra)
            total = total + self.jacobian * sign * jacobian.mean()
        return total

    def log_prob(self, x: Any, settings: SolverSettings | None = None) -> Tensor:
        """log p(x) per sample: integrate data back to the base, adding ``∫ tr ∂f/∂z dt``.
        ``x`` (n, *event_shape): a tensor of any float dtype, a numpy array or a list."""
        x = self._input(x, "x")
        parts = self._solve(x, None, settings or self.eval_solver, forward=False)
        return self.base_log_prob(parts[0]) - parts[1]

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        settings: SolverSettings | None = None,
        with_log_prob: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``n`` samples pushed from the base to data time; with their log-density if asked."""
        n = as_count(n, "n")
        x, logq, _ = self._push(n, generator, settings or self.eval_solver)
        return (x, logq) if with_log_prob else x

    def _push(
        self,
        n: int,
        generator: torch.Generator | None,
        settings: SolverSettings,
        noise: Tensor | None = None,
    ):
        """Base samples ``base_mean + base_std·ε`` pushed to data time, with ε drawn (or the
        standard normal ``noise`` given)."""
        like = reference(self)
        dtype = like.dtype if like is not None else torch.get_default_dtype()
        device = like.device if like is not None else None
        if noise is None:
            noise = torch.randn(
                (n, *self.event_shape), generator=generator, dtype=dtype, device=device
            )
        z0 = self.base_mean + self.base_std * noise.to(dtype=dtype, device=device)
        parts = self._solve(z0, self.base_log_prob(z0), settings, forward=True)
        return parts[0], parts[1], parts

    def trajectory(self, z0: Any, times: Any, settings: SolverSettings | None = None):
        """States of base samples ``z0`` at ``times`` in ``(t0, t1)``: (len(times), n, ...)."""
        settings = settings or self.eval_solver
        augmented = self._augmented(settings)
        z0 = self._input(z0, "z0")
        times = check_shape(as_tensor(times, z0, "times"), ("m",), "times")
        state0 = augmented.initial_state(z0)
        solution = settings.solve(augmented, state0, times)
        self.stats = solution.stats
        return augmented.split(solution.ys)[0]

    def loss(self, batch: Any = None) -> LossOutput:
        """Negative log-likelihood of ``batch`` (or, for ``"kl"``, KL(q‖p) up to log Z) plus
        the weighted regularizers, with the training solver. A data batch is an array
        (n, *event_shape) or a mapping holding one under ``data_key``. For ``"kl"`` a batch is
        the number of samples to draw, or standard normal noise ε (n, *event_shape) to push."""
        if self.objective == "likelihood":
            if batch is None or is_count(batch):
                raise ValueError("a maximum-likelihood flow needs a data batch: loss(x)")
            x = self._input(*self._data(batch, "batch"))
            parts = self._solve(x, None, self.train_solver, forward=False)
            fit = -(self.base_log_prob(parts[0]) - parts[1]).mean()
            regular = self._regularizers(parts, sign=-1.0)
        else:
            if batch is None or is_count(batch):
                noise, n = None, 512 if batch is None else as_count(batch, "batch")
            else:
                noise = self._input(*self._data(batch, "batch"))
                n = noise.shape[0]
            x, logq, parts = self._push(n, None, self.train_solver, noise)
            fit = (logq - self.target(x)).mean()
            regular = self._regularizers(parts, sign=1.0)
        stats = self.stats
        metrics = {
            "fit": float(fit.detach()),
            "nfe_forward": float(stats.nfe_forward),
        }
        deferred = {"nfe_backward": lambda: float(stats.nfe_backward)}
        return LossOutput(fit + regular, metrics, deferred)

    def evaluate(self, data: Any) -> dict[str, float]:
        """Held-out metrics with the evaluation solver: ``nll``, the mean negative
        log-likelihood of ``data`` (an array, a mapping holding ``data_key``, or an iterable of
        either), or for ``"kl"`` the KL(q‖p) estimate ``kl`` (up to log Z) from standard normal
        noise ``data`` (n, *event_shape), or from ``data`` samples (an int, default 4096) drawn
        from a fixed seed; ``loss`` equals either."""
        with torch.no_grad():
            if self.objective == "kl":
                if data is None or is_count(data):
                    n = 4096 if data is None else as_count(data, "data")
                    generator = torch.Generator().manual_seed(0)
                    noise = torch.randn((n, *self.event_shape), generator=generator)
                else:
                    noise = self._input(*self._data(data, "data"))
                x, logq, _ = self._push(noise.shape[0], None, self.eval_solver, noise)
                kl = float((logq - self.target(x)).mean())
                return {"kl": kl, "loss": kl}
            total, count = 0.0, 0
            for x, name in _batches(data, self.data_key, "data", reference(self)):
                x = self._input(x, name)
                total += float(-self.log_prob(x).sum())
                count += x.shape[0]
        if count == 0:
            raise ValueError("evaluate got no examples")
        return {"nll": total / count, "loss": total / count}

    def _data(self, batch: Any, name: str) -> tuple[Any, str]:
        """The array of a batch (itself, or its ``data_key`` entry), and its name."""
        if not isinstance(batch, Mapping):
            return batch, name
        if self.data_key not in batch:
            raise ValueError(
                f"{name} is a mapping without {self.data_key!r} (keys {sorted(map(str, batch))}); "
                f"the flow reads its samples from {name}[{self.data_key!r}]"
            )
        return batch[self.data_key], f"{name}[{self.data_key!r}]"

    def _input(self, value: Any, name: str) -> Tensor:
        """``value`` as samples (n, *event_shape) of the model's dtype and device."""
        tensor = as_tensor(value, reference(self), name)
        return check_shape(tensor, ("n", *self.event_shape), name)


def _batches(
    data: Any, key: str, name: str, like: Tensor, size: int = 4096
) -> Iterable[tuple[Tensor, str]]:
    """Tensors of ``like``'s dtype of at most ``size`` rows, with their names, from an array
    (a tensor, a numpy array, nested lists of numbers), a mapping holding one under ``key``,
    or an iterable of either."""
    if isinstance(data, Mapping):
        if key not in data:
            raise ValueError(f"{name} is a mapping without {key!r} (keys {sorted(map(str, data))})")
        data, name = data[key], f"{name}[{key!r}]"
    if _is_array(data):
        tensor = as_tensor(data, like, name)
        if tensor.ndim == 0:
            yield tensor, name
            return
        for part in tensor.split(size):
            yield part, name
        return
    try:
        batches = iter(data)
    except TypeError:
        raise ValueError(
            f"{name} must be an array of samples, a mapping or an iterable of batches, "
            f"got {type(data).__name__}"
        ) from None
    for number, batch in enumerate(batches):
        yield from _batches(batch, key, f"{name} batch {number}", like, size)


def _is_array(data: Any) -> bool:
    """Whether ``data`` is one array (not an iterable of batches): a tensor, anything with a
    shape, or a list of numbers or of lists of numbers."""
    if isinstance(data, Tensor) or hasattr(data, "shape") or isinstance(data, (int, float, str)):
        return True
    if isinstance(data, (list, tuple)):
        return not data or not any(
            isinstance(item, Mapping) or hasattr(item, "shape") for item in data
        )
    return False
