"""A model is built only when training it fits in the memory the machine has available."""

from __future__ import annotations

from odedsl import machine
from odedsl.compiler.codegen import LoweringError
from odedsl.lang import model as ir
from odedsl.lang.memory import footprint


def fits_in_memory(spec: ir.CheckedModel) -> ir.CheckedModel:
    """``spec`` itself, after refusing (E101, at its largest parameter or network, before any
    tensor is allocated) a model whose training footprint exceeds the available memory."""
    found = footprint(spec)
    available = machine.available_memory()
    if found is None or available is None or found.training <= available:
        return spec
    raise LoweringError(
        f"the model does not fit in memory: {found.describe()}, and this machine has "
        f"{machine.size(available)} available",
        found.largest_loc,
        code="E101",
        help=f"{found.fix()}, or train on a machine with more memory",
    )
