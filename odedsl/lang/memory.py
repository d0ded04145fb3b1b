"""What a spec's learned numbers take in memory, known from the checked model alone.

`odedsl check` warns (W006) when training would take more than :data:`LARGE_MODEL_BYTES`;
`odedsl.compile` (and so `odedsl train`) refuses, before allocating, a model whose training
does not fit in the memory the machine has available (E101).
"""

from __future__ import annotations

from dataclasses import dataclass

from odedsl.lang import model as ir
from odedsl.lang.diagnostics import Reporter
from odedsl.lang.source import Span
from odedsl.machine import size

BYTES_PER_NUMBER = 4
"""Parameters are float32."""
LARGE_MODEL_BYTES = 4 * 2**30
"""`check` warns above this training footprint (4 GiB): more than a laptop spares."""


@dataclass(frozen=True)
class Footprint:
    """The parameters of a model, the copies of them training keeps (the weights, their
    gradients and the optimizer's state: ``copies``) and the largest single holder."""

    parameters: int
    copies: int
    kept: str
    largest: str
    largest_count: int
    largest_loc: Span

    @property
    def weights(self) -> int:
        return self.parameters * BYTES_PER_NUMBER

    @property
    def training(self) -> int:
        return self.weights * self.copies

    def describe(self) -> str:
        return (
            f"{self.parameters:,} parameters: {size(self.weights)} of float32 weights, "
            f"{size(self.training)} to train ({self.kept})"
        )

    def fix(self) -> str:
        if self.largest_count == self.parameters:
            return f"make `{self.largest}` smaller (it holds all the parameters)"
        return (
            f"make `{self.largest}` smaller (it holds {self.largest_count:,} of the "
            f"{self.parameters:,} parameters)"
        )


def footprint(model: ir.CheckedModel) -> Footprint | None:
    """The footprint of ``model``; None when it learns nothing or a count is unknown."""
    holders = [(p.name, p.numel, p.loc) for p in model.params if p.hyper is None]
    holders += [(n.name, n.parameter_count, n.loc) for n in model.networks]
    if not holders or any(count is None for _, count, _ in holders):
        return None
    name, count, loc = max(holders, key=lambda holder: holder[1])  # type: ignore[arg-type]
    optimizer = model.train.optimizer
    if optimizer.name in ("Adam", "AdamW"):
        copies, kept = 4, f"weights, gradients and {optimizer.name}'s two moment estimates"
    elif optimizer.options.get("momentum"):
        copies, kept = 3, "weights, gradients and SGD's momentum"
    else:
        copies, kept = 2, "weights and gradients"
    total = sum(c for _, c, _ in holders)  # type: ignore[misc]
    return Footprint(total, copies, kept, name, count, loc)  # type: ignore[arg-type]


def warn_large(model: ir.CheckedModel, reporter: Reporter) -> None:
    """W006 at the largest holder when training ``model`` takes more than
    :data:`LARGE_MODEL_BYTES`."""
    found = footprint(model)
    if found is not None and found.training > LARGE_MODEL_BYTES:
        reporter.warning(
            "W006",
            f"a large model: {found.describe()}",
            found.largest_loc,
            help=f"{found.fix()}; `odedsl train` refuses a model that does not fit in memory",
        )
