"""Deployment: a trained model as a self-contained artefact that loads without odedsl.

- ``export_model(model, path, fmt)``: write ``pt2``, ``torchscript`` or ``onnx``
  (:mod:`odedsl.export.artefacts`); what each artefact computes is
  :mod:`odedsl.export.programs`, its fixed-step solve :mod:`odedsl.export.solve`.
- ``export_run(run, path, fmt)``: the same for a run folder's trained model.
"""

from __future__ import annotations

from .artefacts import FORMATS, export_model, export_run, solve_settings
from .programs import METHODS, ExportError, program
from .solve import FixedSteps

__all__ = [
    "FORMATS",
    "METHODS",
    "ExportError",
    "FixedSteps",
    "export_model",
    "export_run",
    "program",
    "solve_settings",
]
