"""Deployment: a trained model as a self-contained artefact that loads without odedsl.

- ``artefacts.export_model(model, path, fmt)``: write ``pt2``, ``torchscript`` or ``onnx``
  (:mod:`odedsl.export.artefacts`); what each artefact computes is
  :mod:`odedsl.export.programs`, its fixed-step solve :mod:`odedsl.export.solve`.
- a run folder's trained model: ``artefacts.export_model(odedsl.load(run), path, fmt)``,
  which is what ``odedsl export RUN`` does (:mod:`odedsl.cli_export`).
"""

from __future__ import annotations

FORMATS = ("pt2", "torchscript", "onnx")
DEFAULT_STEPS = 32
"""Steps of an artefact's solve when neither ``steps`` nor a step size of the spec gives them."""
DEFAULT_POINTS = 16
"""Points of an input series when the spec does not declare its length."""

# The writers, programs and solve import torch: they are imported from their modules
# (``odedsl.export.artefacts`` ...), so that the command line's parser, which reads the
# constants above, stays light (``odedsl check`` imports neither torch nor numpy).
