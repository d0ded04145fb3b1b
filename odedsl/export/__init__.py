"""Deployment: a trained model as a self-contained artefact that loads without odedsl.

- ``export_model(model, path, fmt)``: write ``pt2``, ``torchscript`` or ``onnx``
  (:mod:`odedsl.export.artefacts`); what each artefact computes is
  :mod:`odedsl.export.programs`, its fixed-step solve :mod:`odedsl.export.solve`.
- a run folder's trained model: ``export_model(odedsl.load(run), path, fmt)``, which is what
  ``odedsl export RUN`` does (:mod:`odedsl.cli_export`).
"""

from __future__ import annotations

from .artefacts import FORMATS, export_model, solve_settings
from .programs import METHODS, ExportError, program
from .solve import FixedSteps

__all__ = [
    "FORMATS",
    "METHODS",
    "ExportError",
    "FixedSteps",
    "export_model",
    "program",
    "solve_settings",
]
