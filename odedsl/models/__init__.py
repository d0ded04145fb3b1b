"""The model families a spec compiles to: continuous normalizing flows, observed ODEs
(classification, regression, trajectory fitting: :class:`ObservedODE`),
latent ODEs (with an optional Poisson process), and the RNN baseline for series.

Each is an ``nn.Module`` with ``loss(batch) -> LossOutput`` for ``odedsl.training`` and, by
kind, ``log_prob``/``sample`` (flows), ``forward``/``predict`` (supervised observed ODEs:
logits or means), ``predict``/``sample`` (trajectory models: the observations at times) and
``predict`` (latent ODEs: decoded forecasts); ``evaluate(data)`` gives held-out metrics.
Every one reads its array arguments through :mod:`odedsl.models.inputs`: numpy arrays, lists
and any float dtype are converted; NaN and wrong shapes are refused naming the argument.
"""

from __future__ import annotations

from odedsl.models.classifier import ODEClassifier
from odedsl.models.flow import ContinuousFlow
from odedsl.models.latent import LatentODE
from odedsl.models.observed import ObservedODE
from odedsl.models.rnn_baseline import RNNBaseline
from odedsl.models.settings import SolverSettings

__all__ = [
    "ContinuousFlow",
    "LatentODE",
    "ODEClassifier",
    "ObservedODE",
    "RNNBaseline",
    "SolverSettings",
]
