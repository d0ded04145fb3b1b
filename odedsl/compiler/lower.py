"""Lowering a checked spec to its model: the generated functions wired into a model family.

- discrete flows → :class:`~odedsl.models.planar.PlanarFlow` around the spec's flow network;
- flows → :class:`~odedsl.models.flow.ContinuousFlow` over
  :class:`~odedsl.nn.trace.AugmentedDynamics` (the state, the log-density and the
  regularizers the spec weights, in one solve), with the spec's trace strategy;
- supervised and trajectory models (states observed through `~` statements, no latent
  variable) → :class:`~odedsl.models.observed.ObservedODE`: one model for classification,
  regression and trajectory fitting, assembled from the statements (each `~` an
  :class:`~odedsl.models.observed.Observation`, each prior on a parameter a
  :class:`~odedsl.models.observed.ParameterPrior`);
- latent ODEs → :class:`~odedsl.models.latent.LatentODE`, whose solve carries ``∫λ dt`` as one
  more state when the likelihood has a Poisson process.

Every model gets ``spec`` (the checked model), ``program`` (the generated module) and
``generated`` (its functions by name, as modules sharing the model's parameters).
"""

from __future__ import annotations

import math
from dataclasses import replace as dataclass_replace

from torch import nn

from odedsl.compiler.codegen import LoweringError
from odedsl.compiler.modules import GeneratedFunction, Parts, SequenceEncoder
from odedsl.compiler.program import (
    OBSERVED_KINDS,
    Program,
    constant_noise,
    initial_data,
    intensity_signal,
    observation_data,
    observation_time,
    series_observation,
    start_time,
    write_program,
)
from odedsl.compiler.symbolic_form import SymbolicError
from odedsl.lang import model as ir
from odedsl.lang.builtins import EXACT_TRACE_MAX_DIM
from odedsl.models.classifier import ODEClassifier
from odedsl.models.flow import ContinuousFlow
from odedsl.models.latent import LatentODE
from odedsl.models.observed import Observation, ObservedODE, ParameterPrior
from odedsl.models.planar import PlanarFlow
from odedsl.models.settings import SolverSettings
from odedsl.nn.trace import AugmentedDynamics
from odedsl.symbolic.names import mangle


def solver_settings(settings: ir.SolverSettings) -> SolverSettings:
    """The model-side solver record of checked settings."""
    options: dict[str, float | int | str] = {"max_num_steps": settings.max_num_steps}
    if settings.step_size is not None:
        options["step_size"] = settings.step_size
    if settings.method == "adams":
        options["mode"] = settings.adams_mode.upper()
    return SolverSettings(
        settings.method,
        settings.rtol,
        settings.atol,
        settings.gradient,
        options,
        per_sample=settings.batch == "independent",
    )


def program_for(spec: ir.CheckedModel) -> tuple[ir.CheckedModel, Program]:
    """The generated program of ``spec``. A symbolic trace that ``trace = :auto`` chose but
    that cannot be derived (a construct outside the closed-form class other than a network
    on the state, which the checker sees) falls back as ``:auto`` does for networks: the exact
    trace up to ``EXACT_TRACE_MAX_DIM`` dimensions, Hutchinson's estimator above."""
    try:
        return spec, write_program(spec)
    except SymbolicError as error:
        settings = (spec.solver, spec.eval_solver)
        if any(s.trace == "symbolic" and s.trace_reason.startswith("requested") for s in settings):
            raise
        size = math.prod(spec.states[0].shape)  # type: ignore[arg-type]
        trace = "exact" if size <= EXACT_TRACE_MAX_DIM else "hutchinson"
        reason = f"no symbolic trace ({error.reason}), so the {trace} trace for D = {size}"

        def fallback(solver: ir.SolverSettings) -> ir.SolverSettings:
            if solver.trace != "symbolic":
                return solver
            return dataclass_replace(solver, trace=trace, trace_reason=reason)

        spec = dataclass_replace(
            spec, solver=fallback(spec.solver), eval_solver=fallback(spec.eval_solver)
        )
        return spec, write_program(spec)


def build_model(spec: ir.CheckedModel) -> nn.Module:
    """The model of ``spec`` with parameters drawn from ``spec.train.seed``; raises
    :class:`LoweringError` (or ``SymbolicError``) for what cannot be lowered."""
    spec, program = program_for(spec)
    parts = Parts(spec, spec.train.seed)
    generated = {name: GeneratedFunction(program, name, parts) for name in program.members}
    if spec.discrete is not None:
        model = _discrete_flow(spec, generated, parts)
    elif spec.kind in ("flow_ml", "flow_density"):
        model = _flow(spec, generated)
    elif spec.kind in OBSERVED_KINDS:
        model = _observed(spec, generated)
    else:
        model = _latent(spec, generated)
    model.spec = spec
    model.program = program
    model.generated = generated
    return model


def _constant(expr: ir.Expr, what: str) -> float:
    if not isinstance(expr, ir.Const):
        raise LoweringError(f"{what} must be a number", expr.loc)
    return float(expr.value)


def _flow(spec: ir.CheckedModel, generated: dict[str, GeneratedFunction]) -> ContinuousFlow:
    def dynamics(trace: str) -> GeneratedFunction:
        if trace == "symbolic":
            return generated["dynamics_and_trace"]
        return generated.get("dynamics_closed_form", generated["dynamics"])

    train = spec.train
    augmented = AugmentedDynamics(
        dynamics(spec.solver.trace),
        spec.solver.trace,
        kinetic=train.kinetic > 0,
        jacobian=train.jacobian > 0,
    )
    evaluation = spec.eval_solver.trace
    eval_augmented = None
    if evaluation != spec.solver.trace:
        eval_augmented = AugmentedDynamics(dynamics(evaluation), evaluation)
    base = spec.dynamics.base
    state = spec.state(base.state)
    end = spec.dynamics.binding.time if spec.dynamics.binding else spec.dynamics.time.end
    return ContinuousFlow(
        augmented,
        event_shape=tuple(state.shape),
        t0=base.time,
        t1=end,
        train_solver=solver_settings(spec.solver),
        eval_solver=solver_settings(spec.eval_solver),
        objective=train.objective,
        target=generated.get("target_log_density"),
        kinetic=train.kinetic,
        jacobian=train.jacobian,
        base_mean=_constant(base.distribution.params["mean"], "the base distribution's mean"),
        base_std=_constant(base.distribution.params["std"], "the base distribution's std"),
        data_key="x",
        eval_augmented=eval_augmented,
    )


def _discrete_flow(
    spec: ir.CheckedModel, generated: dict[str, GeneratedFunction], parts: Parts
) -> PlanarFlow:
    flow = spec.discrete
    params = flow.distribution.params
    return PlanarFlow(
        parts.members[mangle("net_", flow.network)],
        generated["target_log_density"],
        base_mean=_constant(params["mean"], "the base distribution's mean"),
        base_std=_constant(params["std"], "the base distribution's std"),
    )


BATCH_KEYS = {"sample": "x", "label": "y", "times": "ts", "series": "x", "events": "events"}
"""The batch key of each data role (``odedsl.data.load``'s canonical keys)."""


def _key(variable: ir.DataVariable) -> str:
    return BATCH_KEYS[variable.role]


def _observed_name(spec: ir.CheckedModel, observation: ir.Observation) -> ir.DataVariable:
    """The data variable a `~` statement observes: ``y`` in ``y ~ ...``, ``x`` in ``x[t] ~``."""
    value = observation.value
    if isinstance(value, ir.Index):
        value = value.base
    if not (isinstance(value, ir.Var) and value.role == "data"):
        raise LoweringError("a `~` statement of the likelihood observes data", observation.loc)
    return next(v for v in spec.data.variables if v.name == value.name)  # type: ignore[union-attr]


def _observed(spec: ir.CheckedModel, generated: dict[str, GeneratedFunction]) -> ObservedODE:
    observations = []
    for number, observation in enumerate(spec.likelihood, 1):
        distribution = observation.distribution
        if distribution.family == "PoissonProcess":
            raise LoweringError(
                "a Poisson process is observed by latent ODEs only (a `prior` and an `encoder` "
                "on z0); here use `Poisson(rate)` for counts at observation times",
                observation.loc,
            )
        variable = _observed_name(spec, observation)
        times = None
        if observation.times is not None:
            times = _key(next(v for v in spec.data.variables if v.name == observation.times))  # type: ignore[union-attr]
        observations.append(
            Observation(
                generated[f"observe_{number}"],
                distribution.family,
                _key(variable),
                tuple(distribution.event_shape),  # type: ignore[arg-type]
                time=observation_time(spec, observation) if times is None else None,
                times=times,
                reads=[_key(v) for v in observation_data(spec, observation)],
                name=variable.name,
            )
        )
    priors = [
        ParameterPrior(generated[f"prior_{number}"], prior.distribution.family, prior.name)
        for number, prior in enumerate(spec.param_priors, 1)
    ]
    return ObservedODE(
        generated["initial"],
        generated["dynamics"],
        observations,
        t0=start_time(spec),
        train_solver=solver_settings(spec.solver),
        eval_solver=solver_settings(spec.eval_solver),
        initial_reads=[_key(v) for v in initial_data(spec)],
        priors=priors,
    )


def classifier_template(model: ObservedODE) -> ODEClassifier:
    """The ODE-Net template that compiled classifiers before :class:`ObservedODE`, around the
    same generated functions (so the same parameters) as ``model``, a compiled supervised
    model with one label. Kept only to show that the two agree (tests/compiler)."""
    spec = model.spec
    (observation,) = spec.likelihood
    return ODEClassifier(
        model.generated["initial"],
        model.generated["dynamics"],
        model.generated["observe_1"],
        t0=start_time(spec),
        t1=observation_time(spec, observation),
        train_solver=solver_settings(spec.solver),
        eval_solver=solver_settings(spec.eval_solver),
        likelihood=observation.distribution.family.lower(),
    )


def _observation_noise(observation: ir.Observation) -> dict[str, object]:
    """How a latent ODE reads its observation: a constant σ it holds, or a catalogue family
    whose parameters the generated decoder gives."""
    noise = constant_noise(observation)
    if noise is not None:
        return {"noise": noise}
    return {"likelihood": observation.distribution.family}


def _latent(spec: ir.CheckedModel, generated: dict[str, GeneratedFunction]) -> LatentODE:
    (latent,) = spec.latents
    (condition,) = spec.dynamics.initial
    if not (isinstance(condition.value, ir.Var) and condition.value.name == latent.name):
        raise LoweringError(
            f"a latent ODE starts at its latent variable: write `{condition.state}"
            f"({condition.time:g}) = {latent.name}`",
            condition.value.loc,
        )
    observation = series_observation(spec)
    roles = [v.role for v in spec.data.variables if v.role in ("times", "series")]
    intensity, link, window = None, "exp", None
    poisson = next((o for o in spec.likelihood if o.distribution.family == "PoissonProcess"), None)
    if poisson is not None:
        _, rate = intensity_signal(spec)
        intensity = generated["intensity"]
        link = "softplus" if rate == "softplus" else "exp"
        window = poisson.distribution.interval
    prior = latent.prior.params
    return LatentODE(
        SequenceEncoder(generated["encoder"], roles),
        generated["dynamics"],
        generated["decoder"],
        latent_dim=math.prod(latent.shape),
        train_solver=solver_settings(spec.solver),
        eval_solver=solver_settings(spec.eval_solver),
        **_observation_noise(observation),
        prior_mean=_constant(prior["mean"], "the prior's mean"),
        prior_std=_constant(prior["std"], "the prior's std"),
        objective=spec.train.objective,
        samples=spec.train.samples,
        kl_warmup=spec.train.kl_warmup,
        encoder_window=spec.train.encoder_window,
        refine=spec.train.refine,
        t0=condition.time,
        intensity=intensity,
        intensity_link=link,
        event_window=window,
        dynamics_takes_time=True,
    )
