"""Data sets for odedsl models: numpy arrays, seeded, with clear errors (no torch here).

Entry points: ``load(name, split=, n=, seed=, **kwargs)`` for any data set in ``DATASETS``,
``sample(name, n, rng)`` for fresh batches of a 2-D toy density, ``rng_for(seed, purpose)`` for
the seed streams. Reference truths: ``moons_log_density``/``moons_entropy``,
``potential``/``log_normalizer`` (U1–U4), ``event_intensity``/``event_log_likelihood``.
"""

from __future__ import annotations

from odedsl.data.augment import random_affine, random_crop
from odedsl.data.csv_file import load_series_csv
from odedsl.data.errors import DataError, DataFileNotFoundError
from odedsl.data.events import (
    event_compensator,
    event_intensity,
    event_latent,
    event_log_likelihood,
)
from odedsl.data.idx import read_idx
from odedsl.data.moons_density import moons_entropy, moons_log_density
from odedsl.data.registry import DATASETS, DatasetSpec, dataset, load, sample
from odedsl.data.rng import rng_for
from odedsl.data.targets import POTENTIALS, log_normalizer, potential

__all__ = [
    "DATASETS",
    "POTENTIALS",
    "DataError",
    "DataFileNotFoundError",
    "DatasetSpec",
    "dataset",
    "event_compensator",
    "event_intensity",
    "event_latent",
    "event_log_likelihood",
    "load",
    "load_series_csv",
    "log_normalizer",
    "moons_entropy",
    "moons_log_density",
    "potential",
    "random_affine",
    "random_crop",
    "read_idx",
    "rng_for",
    "sample",
]
