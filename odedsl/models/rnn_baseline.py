"""The Neural ODE paper's RNN baseline for irregular series (Table 2): time gaps as input.

An autoregressive recurrent network: step n reads an observation ``x_n`` together with the
gap ``δ`` to the time it should predict, ``h ← cell([x_n, δ], h)``, and its read-out is the
mean of x at ``t_n + δ``. Training maximises the one-step-ahead Gaussian likelihood of every
observation after a series' first; forecasting reads the observations, then rolls forward over
the requested times, feeding each prediction back as the next input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from odedsl.nn.layers import GRU, RNN
from odedsl.training.protocol import LossOutput

from .inputs import as_tensor
from .likelihoods import gaussian_log_likelihood
from .series import Observations, forecast_rmse

CELLS = {"rnn": RNN, "gru": GRU}


class RNNBaseline(nn.Module):
    """An RNN (``cell`` ``"rnn"`` or ``"gru"``, ``hidden`` units) over series of ``features``
    dimensions, with a linear read-out and Gaussian observation noise ``noise``.

    Batches are mappings with ``ts`` (B, N) or (N,), ``x`` (B, N, D) and optionally ``mask``
    (B, N). The loss is the mean over series of the negative one-step-ahead log-likelihood,
    summed over a series' predicted points and dimensions.
    """

    def __init__(
        self, features: int, hidden: int = 25, *, noise: float = 0.3, cell: str = "rnn"
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {tuple(CELLS)}, got {cell!r}")
        if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise > 0):
            raise ValueError(f"noise must be a positive number, got {noise!r}")
        self.rnn = CELLS[cell](features, hidden, features, time_gap=True)
        self.register_buffer("noise", torch.tensor(float(noise), dtype=torch.get_default_dtype()))

    def _advance(self, x: Tensor, h: Tensor, gap: Tensor) -> Tensor:
        return self.rnn.step(torch.cat([x, gap[:, None]], dim=1), h, gap)

    def _read(self, observations: Observations) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Reads the observed points (padding moved to the end).

        Returns the one-step predictions (B, N − 1, D) for points 2 … N, their mask, the hidden
        state before each series' last observation, and the series compacted.
        """
        compact = _compacted(observations)
        times, values, mask = compact.times, compact.values, compact.mask
        h = values.new_zeros(compact.batch, self.rnn.hidden)
        predictions = []
        for n in range(values.shape[1] - 1):
            has_next = mask[:, n + 1]
            gap = torch.where(has_next, times[:, n + 1] - times[:, n], times.new_zeros(()))
            h = torch.where(has_next[:, None], self._advance(values[:, n], h, gap), h)
            predictions.append(self.rnn.readout(h))
        if predictions:
            stacked = torch.stack(predictions, dim=1)
        else:
            stacked = values.new_zeros(compact.batch, 0, values.shape[2])
        return stacked, mask[:, 1:], h, compact

    def log_likelihood(self, batch: Mapping[str, Any]) -> Tensor:
        """Per-series one-step-ahead Gaussian log-likelihood (B,)."""
        observations = _observations(batch, self.noise)
        predictions, mask, _, compact = self._read(observations)
        return gaussian_log_likelihood(compact.values[:, 1:], predictions, self.noise, mask)

    def loss(self, batch: Mapping[str, Any]) -> LossOutput:
        log_likelihood = self.log_likelihood(batch)
        return LossOutput(
            -log_likelihood.mean(), {"log_likelihood": float(log_likelihood.mean().detach())}
        )

    def predict(
        self, t_obs: Any, x_obs: Any, t_new: Any, samples: int | None = None, mask: Any = None
    ) -> Tensor:
        """Forecasts (B, M, D) at ``t_new`` ((M,) or (B, M), increasing, after each series'
        last observation) from ``t_obs`` ((N,) or (B, N)), ``x_obs`` (B, N, D) and ``mask``."""
        if samples is not None:
            raise ValueError("samples: the RNN baseline is deterministic and has no posterior")
        observations = Observations.of(t_obs, x_obs, mask, self.noise)
        _, _, h, compact = self._read(observations)
        last = compact.mask.sum(1) - 1
        if bool((last < 0).any()):
            raise ValueError("mask: every series needs at least one observed point")
        rows = torch.arange(compact.batch, device=last.device)
        x, previous = compact.values[rows, last], compact.times[rows, last]
        times = as_tensor(t_new, self.noise, "t_new")
        if times.ndim not in (1, 2) or (times.ndim == 2 and times.shape[0] != compact.batch):
            raise ValueError(
                f"t_new must have shape (M,) or ({compact.batch}, M), got {tuple(times.shape)}"
            )
        times = times.expand(compact.batch, -1)
        late = bool((times[:, 0] > previous).all()) if times.shape[1] else True
        if not late or bool((times.diff(dim=1) <= 0).any()):
            raise ValueError(
                "t_new must increase and start after each series' last observation "
                "(the RNN baseline forecasts; it does not interpolate)"
            )
        forecasts = []
        for m in range(times.shape[1]):
            h = self._advance(x, h, times[:, m] - previous)
            x, previous = self.rnn.readout(h), times[:, m]
            forecasts.append(x)
        if not forecasts:
            return compact.values.new_zeros(compact.batch, 0, compact.values.shape[2])
        return torch.stack(forecasts, dim=1)

    def evaluate(self, data: Mapping[str, Any]) -> dict[str, float]:
        """Held-out ``loss`` (negative one-step log-likelihood) and, with ``ts_future`` and
        ``x_future`` in ``data``, the forecast ``rmse``."""
        with torch.no_grad():
            results = {"loss": float(-self.log_likelihood(data).mean())}
            if "x_future" in data:
                results["rmse"] = forecast_rmse(self.predict, data, self.noise)
        return results


def _observations(batch: Mapping[str, Any], like: Tensor) -> Observations:
    if not isinstance(batch, Mapping) or "ts" not in batch or "x" not in batch:
        raise ValueError(
            "a batch is a mapping with 'ts' (B, N) and 'x' (B, N, D), optionally 'mask'"
        )
    return Observations.of(
        batch["ts"],
        batch["x"],
        batch.get("mask"),
        like,
        names=("batch['ts']", "batch['x']", "batch['mask']"),
    )


def _compacted(observations: Observations) -> Observations:
    """The same series with each one's observed points first, in their order (padding last)."""
    order = torch.sort((~observations.mask).to(torch.int8), dim=1, stable=True).indices
    values = torch.gather(
        observations.values, 1, order[..., None].expand(-1, -1, observations.values.shape[2])
    )
    return Observations(
        torch.gather(observations.times, 1, order),
        values,
        torch.gather(observations.mask, 1, order),
    )
