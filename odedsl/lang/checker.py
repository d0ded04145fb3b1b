"""From a spec's text to its checked model: parse, then check each section in an order that
lets every section use the names the others define, then warn about what is never used."""

from __future__ import annotations

from dataclasses import replace

from odedsl.errors import SpecError
from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.datasource import declare_data
from odedsl.lang.declarations import (
    declare_constants,
    declare_networks,
    declare_params,
    declare_states,
    expect_names,
)
from odedsl.lang.diagnostics import Reporter, render
from odedsl.lang.discrete import DiscreteFlowChecker, is_discrete_flow, placeholder_dynamics
from odedsl.lang.distributions import DistributionChecker
from odedsl.lang.env import Env
from odedsl.lang.equations import DynamicsChecker
from odedsl.lang.expressions import ExpressionChecker
from odedsl.lang.inference import InferenceChecker
from odedsl.lang.kinds import FLOW_KINDS, infer_kind, objectives
from odedsl.lang.memory import warn_large
from odedsl.lang.nesting import deep_recursion
from odedsl.lang.options import check_solver, check_train
from odedsl.lang.parser import parse
from odedsl.lang.sections import Sections, collect_sections
from odedsl.lang.source import Source, Span


def check_source(source: Source) -> ir.CheckedModel:
    """The checked model of ``source``; raises :class:`SpecError` with every error found."""
    reporter = Reporter(source)
    checked: ir.CheckedModel | None = None
    try:
        with deep_recursion():
            tree = parse(source, reporter)
            if tree is not None:
                checked = _check(tree, Env.create(source, reporter))
    except RecursionError:
        reporter.error(
            "E017",
            "the spec is nested too deeply to check",
            Span(1, 1, 1, 1),
            help="split it into smaller definitions",
        )
    if checked is not None and not reporter.has_errors:
        warn_large(checked, reporter)
    diagnostics = reporter.sorted()
    if checked is None or reporter.has_errors:
        raise SpecError(diagnostics, render(diagnostics, source))
    return replace(checked, warnings=tuple(diagnostics))


def _check(model: nodes.Model, env: Env) -> ir.CheckedModel | None:
    reporter = env.reporter
    sections = collect_sections(model, reporter)
    expect_names(env, sections)
    declare_constants(env, sections)
    declare_networks(env, sections)
    data = declare_data(env, sections)
    states = declare_states(env, sections)
    env.domain = states.domain
    params = declare_params(env, sections, states.time_var)
    declared = {name for name, kind in env.symbols.expected.items() if kind == "param"}
    kind = infer_kind(model, sections, reporter, declared)
    if kind is None:
        return None
    expressions = ExpressionChecker(env)
    distributions = DistributionChecker(env, expressions)
    inference = InferenceChecker(env, expressions, distributions)
    encoder, latents = inference.latents(sections, states.states) if kind == "latent" else ([], [])
    param_priors = inference.param_priors(sections) if "prior" in sections else []
    discrete = None
    has_ode = not is_discrete_flow(sections)
    if not has_ode:
        discrete = DiscreteFlowChecker(env, distributions).check(sections.blocks["flow"])
        dynamics = placeholder_dynamics()
        flow_state = ir.State(discrete.result, discrete.shape, discrete.loc) if discrete else None
        flow = False
    else:
        flow = kind in FLOW_KINDS
        _require_states(env, sections, states.states, kind, states.domain)
        section = sections.blocks.get("flow" if flow else "dynamics")
        equations = DynamicsChecker(
            env,
            expressions,
            distributions,
            states,
            flow,
            binding_expected=kind == "flow_ml",
            section_loc=section.name_loc if section else model.name_loc,
        )
        dynamics = equations.check(section)
        env.domain = dynamics.time
        flow_state = states.states[0] if flow and states.states else None
    target = inference.target(sections, flow_state) if kind == "flow_density" else None
    observed = kind in ("supervised", "trajectory", "latent")
    likelihood = inference.likelihood(sections) if observed else []
    flow_equation = (
        (dynamics.derivatives[0], flow_state) if flow_state and dynamics.derivatives else None
    )
    if not has_ode:  # its `solver` was refused (E025): only the defaults stand
        sections = Sections({k: v for k, v in sections.blocks.items() if k != "solver"})
    reads_time = ir.time_reading(dynamics) if has_ode and dynamics is not None else None
    solvers = check_solver(env, sections, flow, flow_equation, reads_time)
    batch = (data.batch, data.batch_loc) if data.batch is not None else None
    fitting = objectives(kind, (o.distribution.family for o in likelihood), bool(param_priors))
    train = check_train(env, sections, kind, batch, ode=has_ode, fitting=fitting)  # type: ignore[arg-type]
    if reporter.has_errors or solvers is None or train is None:
        return None
    networks = env.networks.checked()
    _warn_unused(env, params, networks, data.source, encoder)
    return ir.CheckedModel(
        name=model.name,
        kind=kind,
        path=env.source.path,
        constants=env.constants.resolve_all(),
        data=data.source,
        params=tuple(params),
        networks=tuple(networks),
        states=tuple(states.states),
        dynamics=dynamics,
        target=target,
        encoder=tuple(encoder),
        latents=tuple(latents),
        likelihood=tuple(likelihood),
        solver=solvers[0],
        eval_solver=solvers[1],
        train=train,
        discrete=discrete,
        param_priors=tuple(param_priors),
    )


def _require_states(
    env: Env,
    sections: Sections,
    states: list[ir.State],
    kind: str,
    domain: ir.TimeDomain | None,
) -> None:
    block = sections.blocks.get("states")
    if block is None:
        return
    if not states and not env.reporter.has_errors:
        env.reporter.error(
            "E024", "`states` declares no state", block.name_loc, help="add `z(t) :: Real[D]`"
        )
    if kind not in ("latent", "trajectory") and domain is None and not env.reporter.has_errors:
        env.reporter.error(
            "E057",
            f"the states have no time domain, which a model of kind `{kind}` integrates over",
            block.name_loc,
            help="add `t ∈ (0.0, 1.0)` to `states`",
        )


def _warn_unused(
    env: Env,
    params: list[ir.Param],
    networks: list[ir.Network],
    data: ir.DataSource | None,
    encoder: list[ir.Assignment],
) -> None:
    used = env.symbols.used | env.constants.used
    warn = env.reporter.warning
    for param in params:
        if param.name not in used:
            warn("W001", f"parameter `{param.name}` is never used", param.loc, help="remove it")
    for network in networks:
        if network.calls == 0 and network.name not in used:
            warn("W002", f"network `{network.name}` is never called", network.loc, help="remove it")
    for variable in data.variables if data else ():
        if variable.name not in used:
            definition = env.symbols.get(variable.name)
            warn(
                "W003",
                f"data variable `{variable.name}` is never used",
                definition.loc if definition else variable.loc,
            )
    for name in env.constants.definitions:
        if name not in used:
            warn("W005", f"constant `{name}` is never used", env.symbols.get(name).loc)  # type: ignore[union-attr]
    for assignment in encoder:
        for name in assignment.names:
            if name not in used:
                warn("W005", f"`{name}` is assigned but never used", env.symbols.get(name).loc)  # type: ignore[union-attr]
