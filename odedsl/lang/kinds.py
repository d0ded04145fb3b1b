"""What kind of model a spec describes, from its sections, and the sections each kind needs."""

from __future__ import annotations

from odedsl.lang import nodes
from odedsl.lang.diagnostics import Reporter
from odedsl.lang.discrete import is_discrete_flow
from odedsl.lang.model import ModelKind
from odedsl.lang.sections import Sections

REQUIRED: dict[str, tuple[str, ...]] = {
    "flow_ml": ("data", "states", "flow"),
    "flow_density": ("states", "flow", "target"),
    "classifier": ("data", "states", "dynamics", "likelihood"),
    "latent": ("data", "states", "prior", "encoder", "dynamics", "likelihood"),
}
DISCRETE_REQUIRED = ("flow", "target")
"""The sections of a discrete flow (kind ``flow_density``, see :mod:`odedsl.lang.discrete`)."""
_COMMON = ("constants", "params", "networks", "solver", "train")
_UNUSED_HELP = {
    ("flow_density", "data"): "a flow matching a target density draws its own samples",
    ("flow_ml", "dynamics"): "a flow's equations go in `flow`",
    ("flow_density", "dynamics"): "a flow's equations go in `flow`",
}
NOUNS: dict[str, str] = {
    "flow_ml": "a flow trained on data",
    "flow_density": "a flow matching a target density",
    "classifier": "a classifier",
    "latent": "a latent ODE",
}
OBJECTIVES: dict[str, tuple[str, ...]] = {
    "flow_ml": ("likelihood",),
    "flow_density": ("kl",),
    "classifier": ("cross_entropy",),
    "latent": ("elbo", "iwae"),
}
"""The objectives each kind can train with; the first is inferred when none is given."""


def infer_kind(model: nodes.Model, sections: Sections, reporter: Reporter) -> ModelKind | None:
    """The kind of model, or None after reporting; also reports missing and unused sections."""
    kind: ModelKind
    if "flow" in sections:
        kind = "flow_density" if "target" in sections else "flow_ml"
    elif "prior" in sections or "encoder" in sections:
        kind = "latent"
    elif "dynamics" in sections or "likelihood" in sections:
        kind = "classifier"
    else:
        reporter.error(
            "E024",
            f"cannot tell what kind of model `{model.name}` is",
            model.name_loc,
            help="a flow has `flow`; a classifier `dynamics` and `likelihood`; a latent ODE "
            "`prior`, `encoder`, `dynamics` and `likelihood`",
        )
        return None
    discrete = is_discrete_flow(sections)
    if discrete and kind == "flow_ml":
        reporter.error(
            "E059",
            "a discrete flow only matches a `target` density: its layers have no inverse in "
            "closed form, so it cannot give the likelihood of data",
            sections.blocks["flow"].name_loc,
            help="add `target` with `log p(x) = ...`; to learn from data, write a continuous "
            "flow (`states`, and `dz/dt = ...` in `flow`)",
        )
        return None
    noun = "a discrete flow matching a target density" if discrete else NOUNS[kind]
    required = DISCRETE_REQUIRED if discrete else REQUIRED[kind]
    for section in required:
        if section not in sections:
            reporter.error(
                "E024",
                f"`{model.name}` is {noun}: it needs the section `{section}`",
                model.name_loc,
                help=_missing_help(kind, section),
            )
    for name, block in sections.blocks.items():
        if name in required or (name in _COMMON and not (discrete and name == "solver")):
            continue
        reporter.error(
            "E025",
            f"a {'discrete flow' if discrete else f'model of kind `{kind}`'} has no use "
            f"for `{name}`",
            block.name_loc,
            help="a discrete flow solves no ODE; remove it"
            if discrete and name == "solver"
            else _UNUSED_HELP.get((kind, name), "remove it"),
        )
    return kind


def _missing_help(kind: str, section: str) -> str | None:
    if kind == "flow_ml" and section == "data":
        return (
            "a flow learns from data (`x :: Real[D] ~ Moons()` and `z(T) = x`) or matches "
            "a `target` density"
        )
    return None
