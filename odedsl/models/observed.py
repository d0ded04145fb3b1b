"""The general model of a spec with `dynamics` and `likelihood`: ODE states observed through
distributions (supervised and trajectory models alike).

A spec is a probabilistic program over ODE states: the states start at ``t0`` from
``initial`` (each example's inputs, each series' first observation, or parameters and constants
only: one learned start shared by every series), follow ``dynamics``, and every `~` statement
of the likelihood is one :class:`Observation`: a distribution of the catalogue
(:mod:`odedsl.models.distributions`) whose parameters its ``reader`` computes from the states
at the statement's time (a constant readout time, as ``head(h(1.0))``, or each observation
time of a series, ``for t in ts``). "Classifier", "regression" and "trajectory model" are
descriptions of such specs, not different models.

One solve per batch, over the sorted union of ``t0``, the readout times and every series'
observed times (:func:`odedsl.models.series.union_grid`); each observation then reads its own
points. A start that does not depend on the data is solved once, unbatched, and read by every
series.

The objective (maximum likelihood, or MAP with priors on parameters)::

    loss = −(1/B) Σ_b Σ_terms log p(value_b | states_b)  −  log p(θ) / N_train

summed over each example's observed entries (a masked entry, ``mask`` False, contributes
exactly 0 whatever its value, NaN included). The first part is the mean over the batch's B
examples (or series); ``N_train`` (:attr:`ObservedODE.data_size`, set from the training set's
size by the workflow, 1 by default, which is right for one trajectory) makes the batch loss an
unbiased estimate of the negative log-posterior of the whole training set divided by
``N_train``: the prior counts once per pass over the data, as in ``−log p(θ | D)``.

Batches are mappings keyed as ``odedsl.data.load`` returns them: inputs ``x`` and responses
``y`` (supervised), or times ``ts`` (B, N) or (N,), values ``x`` (B, N, ...) and ``mask``
(B, N) or per channel (B, N, D) (trajectories). Arrays may be numpy arrays, lists or tensors
of any float dtype: they are converted to the model's dtype (:mod:`odedsl.models.inputs`); NaN
and ±inf are refused, naming the argument, except in series where the mask is False.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from odedsl.solvers import SolverStats
from odedsl.training.protocol import LossOutput

from .distributions import Family, family
from .inputs import as_mask, as_tensor, check_scored
from .series import series_times, union_grid
from .settings import SolverSettings


class Observation(nn.Module):
    """One `~` statement: ``value ~ family(reader(states..., data...))``.

    - ``reader(*states, *data)``: the distribution's parameters (a tuple, or one tensor for a
      one-parameter family) from each state at the statement's time and the batch entries
      named by ``reads``;
    - ``value``: the batch key of the observed value, of ``event_shape`` per example (per time
      point for a series);
    - ``time``: the constant time the states are read at (``y ~ ...(h(1.0))``), or ``times``:
      the batch key of a series' observation times (``for t in ts``); exactly one is set;
    - ``name``: the observed variable's name, for messages.
    """

    def __init__(
        self,
        reader: nn.Module,
        family_name: str,
        value: str,
        event_shape: Sequence[int],
        *,
        time: float | None = None,
        times: str | None = None,
        reads: Sequence[str] = (),
        name: str | None = None,
    ) -> None:
        super().__init__()
        if (time is None) == (times is None):
            raise ValueError("an observation has either a readout time or a series' times")
        self.reader = reader
        self.family: Family = family(family_name)
        self.value = value
        self.event_shape = tuple(int(size) for size in event_shape)
        self.time = None if time is None else float(time)
        self.times = times
        self.reads = tuple(reads)
        self.label = name or value

    @property
    def series(self) -> bool:
        return self.times is not None

    def parameters_at(self, states: Sequence[Tensor], data: Sequence[Tensor], like: Tensor):
        """The distribution's parameters, as tensors of ``like``'s dtype and device."""
        out = self.reader(*states, *data)
        out = out if isinstance(out, tuple) else (out,)
        if len(out) != len(self.family.params):
            raise ValueError(
                f"the reader of {self.label} gave {len(out)} values; {self.family.name} takes "
                f"{len(self.family.params)} ({', '.join(self.family.params)})"
            )
        return tuple(torch.as_tensor(p, dtype=like.dtype, device=like.device) for p in out)

    def extra_repr(self) -> str:
        at = f"t = {self.time:g}" if self.time is not None else f"for t in {self.times}"
        return f"{self.label} ~ {self.family.name}, {at}"


class ParameterPrior(nn.Module):
    """``θ ~ family(...)`` on a learned parameter: ``reader()`` returns ``(θ, *params)``, the
    parameter's value (after any constraint, e.g. softplus) and the distribution's parameters."""

    def __init__(self, reader: nn.Module, family_name: str, name: str) -> None:
        super().__init__()
        self.reader = reader
        self.family: Family = family(family_name)
        self.label = name

    def log_prob(self, like: Tensor) -> Tensor:
        value, *params = self.reader()
        cast = [torch.as_tensor(p, dtype=like.dtype, device=like.device) for p in params]
        return self.family.log_prob(value, *cast).sum()

    def extra_repr(self) -> str:
        return f"{self.label} ~ {self.family.name}"


class ObservedODE(nn.Module):
    """ODE states from ``initial``, driven by ``dynamics``, observed by ``observations``.

    ``initial(*data)`` gives the states at ``t0`` (a tensor, or a tuple for several states)
    from the batch entries named by ``initial_reads``; with none it is called as
    ``initial(t0)`` (a 0-d tensor of the model's dtype, for dtype and device) and gives
    unbatched states. ``dynamics(t, *states)`` gives their derivatives. ``priors`` are
    :class:`ParameterPrior` terms (MAP). Training-mode calls use ``train_solver``,
    evaluation-mode calls (``predict``, ``evaluate``) ``eval_solver``.
    """

    def __init__(
        self,
        initial: nn.Module,
        dynamics: nn.Module,
        observations: Sequence[Observation],
        *,
        t0: float,
        train_solver: SolverSettings,
        eval_solver: SolverSettings | None = None,
        initial_reads: Sequence[str] = (),
        priors: Sequence[ParameterPrior] = (),
        data_size: int = 1,
    ) -> None:
        super().__init__()
        if not observations:
            raise ValueError("the model observes nothing: give at least one observation")
        self.initial = initial
        self.dynamics = dynamics
        self.observations = nn.ModuleList(observations)
        self.priors = nn.ModuleList(priors)
        self.initial_reads = tuple(initial_reads)
        self.t0 = float(t0)
        self.train_solver = train_solver
        self.eval_solver = eval_solver or train_solver
        self.data_size = 1
        self.set_data_size(data_size)
        self.stats = SolverStats()
        for observation in observations:
            if observation.time is not None and observation.time < self.t0:
                raise ValueError(
                    f"{observation.label} is read at t = {observation.time:g}, before the "
                    f"start t0 = {self.t0:g}"
                )
        self.register_buffer("reference", torch.zeros(()), persistent=False)

    # -- settings ------------------------------------------------------------------------------

    def set_data_size(self, size: int) -> None:
        """``N_train``: the examples (or series) of the training set, which the parameter
        priors' log-density is divided by in each batch's loss (see the module docstring)."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"data_size must be a positive integer, got {size!r}")
        self.data_size = size

    @property
    def kind(self) -> str:
        """``"trajectory"`` when some observation is of a series, else ``"supervised"``."""
        return "trajectory" if any(o.series for o in self.observations) else "supervised"

    @property
    def labels(self) -> bool:
        """Whether every observation is of classes (Categorical, Bernoulli)."""
        return all(o.family.labels for o in self.observations)

    @property
    def headline(self) -> str:
        """The figure ``evaluate`` leads with: ``test_error`` for labels, else ``rmse``."""
        return "test_error" if self.labels else "rmse"

    def _solver(self, settings: SolverSettings | None) -> SolverSettings:
        if settings is not None:
            return settings
        return self.train_solver if self.training else self.eval_solver

    # -- batches -------------------------------------------------------------------------------

    def _keys(self) -> list[str]:
        keys = list(self.initial_reads)
        for observation in self.observations:
            keys += [observation.value, *observation.reads]
            if observation.times is not None:
                keys.append(observation.times)
        return list(dict.fromkeys(keys))

    def _read_batch(self, batch: Any, *, values: bool = True) -> dict[str, Tensor]:
        """The entries of ``batch`` the model reads, converted and checked."""
        if not isinstance(batch, Mapping):
            if isinstance(batch, tuple) and len(batch) == 2 and self.kind == "supervised":
                batch = {"x": batch[0], "y": batch[1]}
            else:
                raise ValueError(
                    f"a batch is a mapping with the keys {', '.join(self._keys())}; "
                    f"got {type(batch).__name__}"
                )
        inputs = set(self.initial_reads)
        for observation in self.observations:
            inputs |= {*observation.reads, *([observation.times] if observation.series else [])}
        keys = [k for k in self._keys() if values or k in inputs]
        missing = [key for key in keys if key not in batch]
        if missing:
            raise ValueError(
                f"the batch lacks {', '.join(repr(k) for k in missing)}; this model reads "
                f"{', '.join(repr(k) for k in self._keys())}"
            )
        like = self.reference
        masked = set()
        if "mask" in batch:  # NaN may pad series where the mask is False (checked later)
            masked = self._series_values() | {o.times for o in self.observations if o.series}
        out: dict[str, Tensor] = {}
        for key in keys:
            integer = any(o.value == key and o.family.integer_values for o in self.observations)
            out[key] = as_tensor(
                batch[key], like, f"batch[{key!r}]", integer=integer, masked=key in masked
            )
        if "mask" in batch and self.kind == "trajectory":
            out["mask"] = as_mask(batch["mask"], None, like.device, "batch['mask']")
        return out

    def _series_values(self) -> set[str]:
        return {o.value for o in self.observations if o.series}

    def _batch_size(self, inputs: Mapping[str, Tensor]) -> int:
        keys = [*self.initial_reads]
        for observation in self.observations:
            keys += [observation.value, *observation.reads]
        for key in keys:
            if key in inputs and inputs[key].ndim:
                return int(inputs[key].shape[0])
        raise ValueError("cannot tell the batch size: the batch holds none of the model's keys")

    # -- solving -------------------------------------------------------------------------------

    def start(self, inputs: Mapping[str, Tensor]) -> tuple[tuple[Tensor, ...], bool]:
        """The states at t0 as a tuple, and whether they are batched (read data)."""
        like = self.reference
        if not self.initial_reads:
            h0 = self.initial(torch.as_tensor(self.t0, dtype=like.dtype, device=like.device))
            return _tuple(h0), False
        data = [inputs[key] for key in self.initial_reads]
        for key, value in zip(self.initial_reads, data, strict=True):
            if key in self._series_values() and not bool(torch.isfinite(value[:, 0]).all()):
                raise ValueError(
                    f"the initial state reads each series' first observation, but "
                    f"batch[{key!r}] has a missing (NaN) value at the first time of some series"
                )
        return _tuple(self.initial(*data)), True

    def solve(
        self, h0: tuple[Tensor, ...], times: Tensor, settings: SolverSettings
    ) -> tuple[Tensor, ...]:
        """The states from ``h0`` (batched) at ``times`` (starting at t0): each (G, R, ...)."""
        state = h0 if len(h0) > 1 else h0[0]
        solution = settings.solve(self.dynamics, state, times)
        self.stats = solution.stats
        return _tuple(solution.ys)

    def _paths(
        self,
        inputs: Mapping[str, Tensor],
        batch: int,
        settings: SolverSettings,
        extra: Sequence[tuple[Tensor, str]] = (),
    ) -> tuple[list[tuple[Tensor, ...]], list[tuple[Tensor, ...]]]:
        """One solve; the states at each observation's times, each state (B, n, ...), and at
        each of ``extra``'s query times (B, n) (for predictions)."""
        like = self.reference
        h0, batched = self.start(inputs)
        if not batched:
            h0 = tuple(h[None] for h in h0)
        queries = []
        for observation in self.observations:
            if observation.times is None:
                times = torch.full((batch, 1), observation.time, dtype=like.dtype)
                queries.append((times.to(like.device), None, observation.label))
                continue
            times = series_times(inputs[observation.times], batch, like, observation.times)
            mask = inputs.get("mask")
            if mask is not None:
                mask = mask.reshape(*mask.shape[:2], -1).any(-1)
            scored = mask if mask is not None else torch.ones_like(times, dtype=torch.bool)
            check_scored(times, scored, f"batch[{observation.times!r}]")
            queries.append((times, mask, f"batch[{observation.times!r}]"))
        queries += [(times, None, name) for times, name in extra]
        grid = union_grid(self.t0, queries, like)
        paths = self.solve(h0, grid.times, settings)
        rows = torch.arange(batch, device=like.device) if batched else None
        gathered = [tuple(_gather(p, index, rows) for p in paths) for index in grid.index]
        count = len(self.observations)
        return gathered[:count], gathered[count:]

    # -- the likelihood --------------------------------------------------------------------------

    def log_likelihood(
        self, batch: Any, settings: SolverSettings | None = None
    ) -> tuple[Tensor, list[dict[str, Tensor]]]:
        """Per-example log-likelihood (B,) summed over the observations, and per observation
        its ``params``, ``value`` and ``mask`` (broadcast to the value's shape, or None)."""
        inputs = self._read_batch(batch)
        size = self._batch_size(inputs)
        at, _ = self._paths(inputs, size, self._solver(settings))
        total = torch.zeros(size, dtype=self.reference.dtype, device=self.reference.device)
        parts = []
        for observation, states in zip(self.observations, at, strict=True):
            part = self._observe(observation, states, inputs, size)
            total = total + part["log_prob"]
            parts.append(part)
        return total, parts

    def _observe(
        self,
        observation: Observation,
        states: tuple[Tensor, ...],
        inputs: Mapping[str, Tensor],
        size: int,
    ) -> dict[str, Any]:
        like = self.reference
        if not observation.series:
            states = tuple(s[:, 0] for s in states)
        data = [inputs[key] for key in observation.reads]
        params = observation.parameters_at(states, data, like)
        value = inputs[observation.value]
        lead = (size, value.shape[1]) if observation.series else (size,)
        shape = (*lead, *observation.event_shape)
        if value.numel() != _numel(shape):
            raise ValueError(
                f"batch[{observation.value!r}] has shape {tuple(value.shape)}; the model "
                f"observes {observation.label} of shape {shape}"
            )
        value = value.reshape(shape)
        mask = None
        if observation.series and "mask" in inputs:
            mask = _broadcast_mask(inputs["mask"], shape, observation.value)
            value = check_scored(value, mask, f"batch[{observation.value!r}]")
            value = torch.where(mask, value, torch.zeros_like(value))
        log_prob = observation.family.log_prob(value, *params)
        if mask is not None:
            mask = mask.expand(log_prob.shape) if mask.shape != log_prob.shape else mask
            log_prob = torch.where(mask, log_prob, torch.zeros_like(log_prob))
        summed = log_prob.reshape(size, -1).sum(-1)
        return {"log_prob": summed, "params": params, "value": value, "mask": mask}

    def log_prior(self) -> Tensor:
        """``log p(θ)`` of the parameters with priors (0 without)."""
        like = self.reference
        total = torch.zeros((), dtype=like.dtype, device=like.device)
        for prior in self.priors:
            total = total + prior.log_prob(like)
        return total

    def loss(self, batch: Any) -> LossOutput:
        """``−mean log-likelihood − log p(θ)/N_train`` (see the module docstring), with the
        step's figures: ``nll``, ``log_prior`` (with priors), ``accuracy`` (labels) and the
        solve's ``nfe_forward``."""
        log_likelihood, parts = self.log_likelihood(batch)
        nll = -log_likelihood.mean()
        loss = nll
        metrics: dict[str, float] = {"nll": float(nll.detach())}
        if len(self.priors):
            log_prior = self.log_prior()
            loss = loss - log_prior / self.data_size
            metrics["log_prior"] = float(log_prior.detach())
        if self.labels:
            wrong, count = _mistakes(self.observations, parts)
            metrics["accuracy"] = 1.0 - wrong / count
        stats = self.stats
        metrics["nfe_forward"] = float(stats.nfe_forward)
        deferred = {"nfe_backward": lambda: float(stats.nfe_backward)}  # read after backward
        return LossOutput(loss, metrics, deferred=deferred)

    # -- predictions ---------------------------------------------------------------------------

    def forward(self, x: Any, settings: SolverSettings | None = None) -> Tensor:
        """A supervised model's response to inputs ``x``: the logits of a Categorical or
        Bernoulli response (as the likelihood reads them), the mean of any other (of the
        first observation)."""
        if self.kind != "supervised":
            raise ValueError(
                "a trajectory model predicts at times: predict(ts), or "
                "predict(ts_obs, x_obs, ts_new)"
            )
        key = self.initial_reads[0] if self.initial_reads else "x"
        inputs = self._read_batch({key: x}, values=False)
        size = self._batch_size(inputs)
        at, _ = self._paths(inputs, size, self._solver(settings))
        observation = self.observations[0]
        states = tuple(s[:, 0] for s in at[0])
        data = [inputs[k] for k in observation.reads]
        params = observation.parameters_at(states, data, self.reference)
        return params[0] if observation.family.labels else observation.family.mean(*params)

    def predict(self, *args: Any, mask: Any = None) -> Tensor:
        """Without gradients, with the evaluation solver:

        - ``predict(x)``: a supervised model's response (see :meth:`forward`);
        - ``predict(ts)``: a trajectory model whose start reads no data: the mean observation
          at times ``ts`` (M,) -> (M, ...), or (B, M) -> (B, M, ...);
        - ``predict(ts_obs, x_obs, ts_new, mask=None)``: a trajectory model whose start reads
          each series (``first(x)``): the mean observation at ``ts_new`` (M,) or (B, M) of
          each series of ``x_obs`` (B, N, ...), observed at ``ts_obs`` -> (B, M, ...); one
          series ``x_obs`` (N, ...) with ``ts_obs`` (N,), ``ts_new`` (M,) -> (M, ...).

        Each is of the first observation of a series (for trajectory models)."""
        with torch.no_grad():
            if self.kind == "supervised":
                if len(args) != 1:
                    raise ValueError("a supervised model predicts from its inputs: predict(x)")
                return self.forward(args[0], self.eval_solver)
            return self._predict_series(args, mask, self.eval_solver)

    def predict_std(self, *args: Any, mask: Any = None) -> Tensor | None:
        """The standard deviation of a trajectory model's observation where :meth:`predict`
        gives its mean (the same arguments and shapes); None when the observation's family
        has no spread of its own (classes)."""
        if self.kind != "trajectory":
            raise ValueError("predict_std is for trajectory models")
        observation = next(o for o in self.observations if o.series)
        if observation.family.std is None:
            return None
        with torch.no_grad():
            return self._predict_series(args, mask, self.eval_solver, observation.family.std)

    def _predict_series(
        self,
        args: tuple,
        mask: Any,
        settings: SolverSettings,
        statistic: Callable[..., Tensor] | None = None,
    ) -> Tensor:
        observation = next(o for o in self.observations if o.series)
        like = self.reference
        if not self.initial_reads:
            if len(args) != 1:
                raise ValueError(
                    "this model's start reads no data: predict(ts) gives the mean at times ts"
                )
            times = as_tensor(args[0], like, "ts")
            shared = times.ndim == 1
            mean = self._means_at(
                observation, {}, times[None] if shared else times, settings, statistic
            )
            return mean[0] if shared else mean
        if len(args) != 3:
            raise ValueError(
                "this model starts from each series' data: predict(ts_obs, x_obs, ts_new)"
            )
        ts_obs, x_obs, ts_new = args
        x_obs = as_tensor(x_obs, like, "x_obs", masked=True)
        single = x_obs.ndim == 1 + len(observation.event_shape)  # one series: no batch axis
        if single:
            ts_obs, x_obs = as_tensor(ts_obs, like, "ts_obs", masked=True)[None], x_obs[None]
            mask = None if mask is None else torch.as_tensor(mask)[None]
        batch = {observation.times: ts_obs, observation.value: x_obs}
        if mask is not None:
            batch["mask"] = mask
        inputs = self._read_batch(batch)
        size = self._batch_size(inputs)
        series_times(inputs[observation.times], size, like, "ts_obs")  # checks the shape
        times = series_times(as_tensor(ts_new, like, "ts_new"), size, like, "ts_new")
        means = self._means_at(observation, inputs, times, settings, statistic)
        return means[0] if single else means

    def _means_at(
        self,
        observation: Observation,
        inputs: Mapping[str, Tensor],
        times: Tensor,
        settings: SolverSettings,
        statistic: Callable[..., Tensor] | None = None,
    ) -> Tensor:
        """The observation's mean (or ``statistic`` of its parameters) at ``times``."""
        size = times.shape[0]
        like = self.reference
        h0, batched = self.start(inputs)
        if not batched:
            h0 = tuple(h[None] for h in h0)
        grid = union_grid(self.t0, [(times, None, "times")], like)
        paths = self.solve(h0, grid.times, settings)
        rows = torch.arange(size, device=like.device) if batched else None
        states = tuple(_gather(p, grid.index[0], rows) for p in paths)
        params = observation.parameters_at(states, [], like)
        value = (statistic or observation.family.mean)(*params)
        return value.expand(*times.shape, *observation.event_shape)

    def sample(
        self,
        n: int,
        ts: Any,
        *,
        x_obs: Any = None,
        ts_obs: Any = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``n`` draws of a trajectory model's first series observation at times ``ts`` (M,):
        (n, M, ...) for a start without data; with ``x_obs`` (B, N, ...) observed at
        ``ts_obs``, (n, B, M, ...)."""
        if self.kind != "trajectory":
            raise ValueError("sample draws series: it is for trajectory models")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive number of samples, got {n!r}")
        observation = next(o for o in self.observations if o.series)
        like = self.reference
        with torch.no_grad():
            if self.initial_reads:
                if x_obs is None:
                    raise ValueError("this model starts from each series: give x_obs (and ts_obs)")
                inputs = self._read_batch(
                    {observation.value: x_obs, observation.times: ts_obs}, values=True
                )
                size = self._batch_size(inputs)
            else:
                inputs, size = {}, 1
            times = series_times(as_tensor(ts, like, "ts"), size, like, "ts")
            h0, batched = self.start(inputs)
            if not batched:
                h0 = tuple(h[None] for h in h0)
            grid = union_grid(self.t0, [(times, None, "ts")], like)
            paths = self.solve(h0, grid.times, self.eval_solver)
            rows = torch.arange(size, device=like.device) if batched else None
            states = tuple(_gather(p, grid.index[0], rows) for p in paths)
            params = observation.parameters_at(states, [], like)
            shape = (*times.shape, *observation.event_shape)
            params = tuple(p.expand(*shape) if p.dim() <= len(shape) else p for p in params)
            draws = torch.stack([observation.family.sample(generator, *params) for _ in range(n)])
        return draws if batched else draws[:, 0]

    # -- evaluation ----------------------------------------------------------------------------

    def evaluate(self, data: Any) -> dict[str, float]:
        """Held-out figures over ``data`` (one batch, or an iterable of batches): ``loss``,
        the mean negative log-likelihood per example (or series); ``test_error``, the fraction
        of mistaken labels, when every observation is of classes; else ``rmse``, the root mean
        squared error of the mean against the observed values over scored entries (mask
        True) of every real-valued observation. Evaluation solver, no gradients."""
        total, examples, wrong, labelled, squares, points = 0.0, 0, 0.0, 0, 0.0, 0
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                for batch in _batches(data):
                    log_likelihood, parts = self.log_likelihood(batch, self.eval_solver)
                    total += float(-log_likelihood.sum())
                    examples += len(log_likelihood)
                    a, b = _mistakes(self.observations, parts)
                    wrong, labelled = wrong + a, labelled + b
                    c, d = _squared_errors(self.observations, parts)
                    squares, points = squares + c, points + d
        finally:
            self.train(was_training)
        if examples == 0:
            raise ValueError("evaluate got no examples")
        results = {"loss": total / examples}
        if self.labels:
            results["test_error"] = wrong / labelled
        else:
            if points == 0:
                raise ValueError("evaluate got no scored points (every mask entry is False)")
            results["rmse"] = (squares / points) ** 0.5
        return results

    # -- the ODE-Net view (supervised, one readout) -----------------------------------------------

    def solve_block(self, h0: Any, settings: SolverSettings) -> tuple[Any, SolverStats]:
        """The states from ``h0`` at t0 to the first observation's readout time, with the
        solve's statistics (what :mod:`odedsl.plots.odenet` measures)."""
        h0 = _tuple(h0)
        end = self.observations[0].time
        if end is None:
            raise ValueError("solve_block is for supervised models (a readout time)")
        like = h0[0]
        times = torch.tensor([self.t0, end], dtype=like.dtype, device=like.device)
        paths = self.solve(h0, times, settings)
        final = tuple(p[-1] for p in paths)
        return (final if len(final) > 1 else final[0]), self.stats

    def split_batch(self, batch: Any) -> tuple[Tensor, Tensor]:
        """Inputs and responses of a supervised batch (a mapping or ``(x, y)``)."""
        inputs = self._read_batch(batch)
        return inputs[self.initial_reads[0]], inputs[self.observations[0].value]


# -- helpers ---------------------------------------------------------------------------------------


def _tuple(value: Any) -> tuple[Tensor, ...]:
    return value if isinstance(value, tuple) else (value,)


def _numel(shape: Sequence[int]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total


def _broadcast_mask(mask: Tensor, shape: tuple[int, ...], key: str) -> Tensor:
    """A mask (B, N) or per channel (B, N, ...) as a bool tensor broadcasting to ``shape``."""
    if tuple(mask.shape) == shape:
        return mask
    if tuple(mask.shape) == shape[:2]:
        return mask.reshape(*shape[:2], *([1] * (len(shape) - 2)))
    if mask.numel() == _numel(shape):
        return mask.reshape(shape)
    raise ValueError(
        f"batch['mask'] has shape {tuple(mask.shape)}; for batch[{key!r}] of shape {shape} "
        f"it is {shape[:2]} (per point) or {shape} (per channel)"
    )


def _gather(path: Tensor, index: Tensor, rows: Tensor | None) -> Tensor:
    """Each example's points of a solution on a union grid: ``path`` (G, R, ...), ``index``
    (B, n) grid points, ``rows`` (B,) the row of each example (None: all read row 0, the one
    unbatched trajectory). Returns (B, n, ...)."""
    if rows is None:
        return path[:, 0][index]
    return path[index, rows[:, None]]


def _mistakes(observations: Iterable[Observation], parts: Sequence[dict]) -> tuple[float, int]:
    """Mistaken labels and labels counted, over the class observations."""
    wrong, count = 0.0, 0
    for observation, part in zip(observations, parts, strict=True):
        if not observation.family.labels:
            continue
        predicted = observation.family.point(*part["params"])
        miss = predicted.to(part["value"].dtype) != part["value"]
        miss = miss.expand(part["value"].shape) if miss.shape != part["value"].shape else miss
        if part["mask"] is not None:
            wrong += float((miss & part["mask"]).sum())
            count += int(part["mask"].expand(miss.shape).sum())
        else:
            wrong += float(miss.sum())
            count += miss.numel()
    return wrong, count


def _squared_errors(
    observations: Iterable[Observation], parts: Sequence[dict]
) -> tuple[float, int]:
    """Summed squared errors of the mean, and entries counted, over the real observations."""
    total, count = 0.0, 0
    for observation, part in zip(observations, parts, strict=True):
        if observation.family.labels:
            continue
        mean = observation.family.mean(*part["params"])
        error = (mean - part["value"]) ** 2
        error = error.expand(part["value"].shape) if error.shape != part["value"].shape else error
        if part["mask"] is not None:
            mask = part["mask"].expand(error.shape)
            total += float(torch.where(mask, error, torch.zeros_like(error)).sum())
            count += int(mask.sum())
        else:
            total += float(error.sum())
            count += error.numel()
    return total, count


def _batches(data: Any) -> Iterable[Any]:
    if isinstance(data, Mapping):
        return [data]
    if isinstance(data, tuple) and len(data) == 2 and not isinstance(data[0], Mapping | tuple):
        return [data]  # one supervised batch (x, y) of arrays
    return data
