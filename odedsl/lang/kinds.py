"""What kind of model a spec describes, from its sections, and the sections each kind needs.

The kind is read off the statements, never chosen from templates: a `flow` makes a flow;
latent variables (a `prior` on a name that is not a parameter, with an `encoder`) make a
latent ODE; otherwise a model with `dynamics` and `likelihood` is a trajectory model when its
observations sit in `for t in ts` loops, and a supervised model (classification or
regression) when its response is observed at fixed times. A `prior` on parameters only
(maximum a posteriori) does not make a model latent.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from odedsl.lang import nodes
from odedsl.lang.diagnostics import Reporter
from odedsl.lang.discrete import is_discrete_flow
from odedsl.lang.model import CheckedModel, ModelKind
from odedsl.lang.sections import Sections

REQUIRED: dict[str, tuple[str, ...]] = {
    "flow_ml": ("data", "states", "flow"),
    "flow_density": ("states", "flow", "target"),
    "supervised": ("data", "states", "dynamics", "likelihood"),
    "trajectory": ("data", "states", "dynamics", "likelihood"),
    "latent": ("data", "states", "prior", "encoder", "dynamics", "likelihood"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "supervised": ("prior",),
    "trajectory": ("prior",),
}
"""Sections a kind may have besides its required ones and the common ones: `prior` holding
priors on parameters (maximum a posteriori)."""
DISCRETE_REQUIRED = ("flow", "target")
"""The sections of a discrete flow (kind ``flow_density``, see :mod:`odedsl.lang.discrete`)."""
_COMMON = ("constants", "params", "networks", "solver", "train")
_UNUSED_HELP = {
    ("flow_density", "data"): "a flow matching a target density draws its own samples",
    ("flow_ml", "dynamics"): "a flow's equations go in `flow`",
    ("flow_density", "dynamics"): "a flow's equations go in `flow`",
    ("flow_ml", "prior"): "priors on parameters fit supervised, trajectory and latent models",
    ("flow_density", "prior"): "priors on parameters fit supervised, trajectory and latent models",
}
NOUNS: dict[str, str] = {
    "flow_ml": "a flow trained on data",
    "flow_density": "a flow matching a target density",
    "supervised": "a supervised model",
    "trajectory": "a trajectory model",
    "latent": "a latent ODE",
}
OBJECTIVES: dict[str, tuple[str, ...]] = {
    "flow_ml": ("likelihood",),
    "flow_density": ("kl",),
    "supervised": ("likelihood", "cross_entropy", "map"),
    "trajectory": ("likelihood", "map"),
    "latent": ("elbo", "iwae"),
}
"""Every objective a kind can train with; :func:`objectives` narrows them to one model."""
FLOW_KINDS = ("flow_ml", "flow_density")
"""The kinds that are flows: the only ones whose solver computes a trace (`trace`)."""
LABEL_FAMILIES = ("Categorical", "Bernoulli")
"""Responses for which `:cross_entropy` (the negative log-likelihood of labels) is accepted."""


def objectives(kind: str, families: Iterable[str], param_priors: bool) -> tuple[str, ...]:
    """The objectives a model of ``kind`` can train with, the inferred one first, given the
    families of its likelihood's observations and whether it has priors on parameters:
    maximum likelihood (``likelihood``), or maximum a posteriori (``map``) with priors on
    parameters; ``cross_entropy`` for a supervised model whose response is a label; the ELBO
    (or IWAE) for a latent model, flows' own."""
    families = tuple(families)
    if kind == "supervised":
        fitting: tuple[str, ...] = ("likelihood",)
        if families and all(f in LABEL_FAMILIES for f in families):
            fitting += ("cross_entropy",)
    elif kind == "trajectory":
        fitting = ("likelihood",)
    else:
        return OBJECTIVES[kind]
    return ("map", *fitting) if param_priors else fitting


def model_objectives(model: CheckedModel) -> tuple[str, ...]:
    """:func:`objectives` of a checked model: what its `objective` may be (the inferred one
    first), for the checker's and the overrides' refusals alike."""
    families = (observation.distribution.family for observation in model.likelihood)
    return objectives(model.kind, families, bool(model.param_priors))


def counts_epochs(kind: str) -> bool:
    """Whether training a model of ``kind`` can be counted in `epochs` (passes over its data):
    not for a flow matching a target density, which has none."""
    return kind != "flow_density"


def is_latent_prior(sections: Sections, params: Collection[str]) -> bool:
    """Whether `prior` declares latent variables: a statement whose left side is not one of
    the declared parameters ``params`` (priors on parameters alone are not latent)."""
    for statement in sections.statements("prior"):
        target = statement.target
        if not (isinstance(target, nodes.Name) and target.id in params):
            return True
    return False


def observes_series(sections: Sections) -> bool:
    """Whether the likelihood observes along series of times (holds a `for` loop)."""
    return any(isinstance(item, nodes.Loop) for item in sections.body("likelihood"))


def infer_kind(
    model: nodes.Model,
    sections: Sections,
    reporter: Reporter,
    params: Collection[str] = (),
) -> ModelKind | None:
    """The kind of model, or None after reporting; also reports missing and unused sections.
    ``params`` are the declared parameters' names (a `prior` on them only is not latent)."""
    kind: ModelKind
    latent = "encoder" in sections or ("prior" in sections and is_latent_prior(sections, params))
    if "flow" in sections:
        kind = "flow_density" if "target" in sections else "flow_ml"
    elif latent:
        kind = "latent"
    elif "dynamics" in sections or "likelihood" in sections:
        kind = "trajectory" if observes_series(sections) else "supervised"
    else:
        reporter.error(
            "E024",
            f"cannot tell what kind of model `{model.name}` is",
            model.name_loc,
            help="a flow has `flow`; a supervised or trajectory model `dynamics` and "
            "`likelihood`; a latent ODE `prior`, `encoder`, `dynamics` and `likelihood`",
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
    optional = () if discrete else OPTIONAL.get(kind, ())
    for section in required:
        if section not in sections:
            reporter.error(
                "E024",
                f"`{model.name}` is {noun}: it needs the section `{section}`",
                model.name_loc,
                help=_missing_help(kind, section),
            )
    for name, block in sections.blocks.items():
        if name in required or name in optional:
            continue
        if name in _COMMON and not (discrete and name == "solver"):
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
