"""A short human summary of a checked model, as `odedsl check` prints it."""

from __future__ import annotations

from odedsl.lang import model as ir
from odedsl.lang.diagnostics import number
from odedsl.lang.networks import describe
from odedsl.lang.shapes import show


def summarize(model: ir.CheckedModel) -> str:
    rows = [(label, text) for label, text in _rows(model) if text]
    rows = [row for label, text in rows for row in _lines(label, text)]
    width = max(len(label) for label, _ in rows)
    head = f"{model.path}: {model.name} ({model.kind}): {model.title}"
    return "\n".join([head, *(f"  {label.ljust(width)}  {text}" for label, text in rows)])


def _lines(label: str, text: str) -> list[tuple[str, str]]:
    """A row of several lines: the label on the first only."""
    first, *rest = text.split("\n")
    return [(label, first), *(("", line) for line in rest)]


def _rows(model: ir.CheckedModel) -> list[tuple[str, str]]:
    if model.discrete is not None:
        return [
            ("model", "flow (discrete, planar layers)"),
            ("flow", _discrete(model.discrete)),
            ("parameters", _parameters(model)),
            *(("network", _network(n)) for n in model.networks),
            ("objective", _objective(model)),
            ("training", _training(model.train, model.kind)),
        ]
    return [
        ("model", describe_kind(model)),
        ("data", _data(model.data)),
        ("states", _states(model)),
        ("latents", ", ".join(f"{l.name} :: {show(l.shape)}" for l in model.latents)),
        ("parameters", _parameters(model)),
        *(("network", _network(n)) for n in model.networks),
        ("objective", _objective(model)),
        ("solver", _solver(model.solver)),
        ("evaluation", _evaluation(model)),
        ("trace", _trace(model.solver)),
        ("training", _training(model.train, model.kind)),
    ]


def _count(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def _data(data: ir.DataSource | None) -> str:
    if data is None:
        return ""
    args = ", ".join(f"{k} = {_value(v)}" for k, v in data.args.items())
    variables = ", ".join(f"{v.name} :: {_variable_type(v)}" for v in data.variables)
    return f"{data.dataset}({args}) binds {variables}" + _augmentation(data)


def _augmentation(data: ir.DataSource) -> str:
    """What happens to the training images, or "" if nothing does."""
    steps = []
    if data.crop:
        steps.append(f"random crop with {data.crop} px of zero padding")
    if data.rotate:
        steps.append(f"rotation by up to ±{number(data.rotate)}°")
    if data.zoom:
        steps.append(f"zoom by 1 ± {number(data.zoom)}")
    if data.shift:
        steps.append(f"shift by up to ±{number(data.shift)} px")
    return f", {', '.join(steps)} (training only)" if steps else ""


def _variable_type(variable: ir.DataVariable) -> str:
    if variable.dtype == "int":
        return f"label in 0..{variable.classes - 1}" if variable.classes else "label"
    return show(variable.shape)


def _value(value: object) -> str:
    if isinstance(value, str):
        return f":{value}" if value.isidentifier() and value in ("train", "test") else f'"{value}"'
    return f"{number(value)}" if isinstance(value, float) else str(value)


def _discrete(flow: ir.DiscreteFlow) -> str:
    return (
        f"{flow.base} :: {show(flow.shape)} from the base {flow.distribution.family}, "
        f"{flow.result} = {flow.network}({flow.base}), no ODE"
    )


def _states(model: ir.CheckedModel) -> str:
    time = model.dynamics.time
    states = ", ".join(f"{s.name} :: {show(s.shape)}" for s in model.states)
    if time.end is None:
        return f"{states}, from {time.var} = {number(time.start)} to the observation times"
    return f"{states}, {time.var} ∈ ({number(time.start)}, {number(time.end)})"


def _parameters(model: ir.CheckedModel) -> str:
    parts = [f"{p.name} {p.numel:,}" for p in model.params if p.hyper is None]
    parts += [f"{n.name} {_count(n.parameter_count)}" for n in model.networks]
    return f"{_count(model.parameter_count)} ({', '.join(parts)})" if parts else "0"


def _network(network: ir.Network) -> str:
    layer = network.layer
    calls = f"called {network.calls} time{'s' if network.calls != 1 else ''}"
    return (
        f"{network.name} = {describe(layer)}: {show(layer.in_shape)} -> "
        f"{show(layer.out_shape)}, {_count(layer.parameter_count)} parameters, {calls}"
    )


LABELS = ("Categorical", "Bernoulli")
OBJECTIVE_NAMES = {
    "likelihood": "maximum likelihood",
    "map": "maximum a posteriori",
    "cross_entropy": "cross-entropy",
    "kl": "KL divergence to the target",
    "elbo": "evidence lower bound",
    "iwae": "importance-weighted bound",
}


def describe_kind(model: ir.CheckedModel) -> str:
    """What the model is, in words: classification, regression, trajectory model, latent ODE
    or flow, with what makes it one."""
    kind = model.kind
    if kind in ("flow_ml", "flow_density"):
        how = "by maximum likelihood on data" if kind == "flow_ml" else "to match a target"
        return f"flow (continuous normalizing flow, trained {how})"
    if kind == "latent":
        latents = ", ".join(f"`{latent.name}`" for latent in model.latents)
        return f"latent ODE (latent {latents} from an encoder, observed through the states)"
    if kind == "trajectory":
        start = {i.state: i.value for i in model.dynamics.initial}
        learned = [
            s.name
            for s in model.states
            if s.name in start
            and not any(
                isinstance(node, ir.Var) and node.role == "data"
                for node in ir.subexpressions(start[s.name])
            )
        ]
        fixed = f"; {_names(learned)} start{'s' if len(learned) == 1 else ''} the same for " + (
            "every series" if learned else ""
        )
        return "trajectory model (states fitted to observations along series of times" + (
            fixed + ")" if learned else "; each series starts from its own data)"
        )
    responses = [o for o in model.likelihood if o.time_var is None]
    if responses and all(o.distribution.family in LABELS for o in responses):
        return "classification (supervised: states start from each example's inputs, " + (
            "labels are read at fixed times)"
        )
    return (
        "regression (supervised: states start from each example's inputs, the response is "
        "read at fixed times)"
    )


def _names(names: list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def _objective(model: ir.CheckedModel) -> str:
    """The objective and its terms, one line per term."""
    train = model.train
    name = OBJECTIVE_NAMES.get(train.objective, train.objective)
    head = f"{name} (:{train.objective}{', inferred' if train.objective_inferred else ''})"
    terms = _terms(model)
    if not terms:
        return head
    lines = [f"{head} = {terms[0]}"]
    indent = " " * (len(head) + 1)
    lines += [f"{indent}{term if term[0] in '+−' else '+ ' + term}" for term in terms[1:]]
    return "\n".join(lines)


def _terms(model: ir.CheckedModel) -> list[str]:
    """The log-density terms the objective sums (maximised), each with its statement."""
    if model.discrete is not None:
        return [
            f"E_q[log p(x) − log q(x)] [log p(x), line {model.target.loc.line}]"  # type: ignore[union-attr]
        ]
    dynamics = model.dynamics
    if model.kind == "flow_ml" and dynamics.base is not None and dynamics.binding is not None:
        binding = dynamics.binding
        return [
            f"Σ log p({binding.data}) [{binding.data} = {binding.state}"
            f"({number(binding.time)}), line {binding.loc.line}; "
            f"{binding.state}({number(dynamics.base.time)}) ~ "
            f"{dynamics.base.distribution.family}, line {dynamics.base.loc.line}; "
            "change of variables −∫ tr(∂f/∂z) dt]"
        ]
    if model.kind == "flow_density" and model.target is not None:
        return [f"E_q[log p(x) − log q(x)] [log p(x), line {model.target.loc.line}]"]
    bound = model.kind == "latent"
    given = ", ".join(latent.name for latent in model.latents) if bound else "…"
    terms = [_observation(o, given, bound) for o in model.likelihood]
    if bound:
        terms += [
            f"− KL(q({latent.name} | x) ‖ p({latent.name})) [{latent.name} ~ "
            f"{latent.prior.family}, line {latent.loc.line}]"
            for latent in model.latents
        ]
    terms += [
        f"log p({prior.name}) [{prior.name} ~ {prior.distribution.family}, line {prior.loc.line}]"
        for prior in model.param_priors
    ]
    return terms


def _observation(observation: ir.Observation, given: str, bound: bool) -> str:
    value = _written(observation.value)
    over = f"Σ_{{{observation.time_var} ∈ {observation.times}}} " if observation.time_var else "Σ "
    expectation = "E_q " if bound else ""
    family = observation.distribution.family
    return (
        f"{expectation}{over}log p({value} | {given}) [{value} ~ {family}, "
        f"line {observation.loc.line}]"
    )


def _written(expr: ir.Expr) -> str:
    """An observed value as the spec writes it: ``y``, ``x[t]``."""
    if isinstance(expr, ir.Var):
        return expr.name
    if isinstance(expr, ir.Index):
        indices = ", ".join(_written(i) for i in expr.indices)
        return f"{_written(expr.base)}[{indices}]"
    if isinstance(expr, ir.Const):
        return number(expr.value)
    return "…"


def _solver(solver: ir.SolverSettings, *, gradient: bool = True) -> str:
    if solver.adaptive:
        steps = f"rtol {number(solver.rtol)}, atol {number(solver.atol)}"
    else:
        steps = f"step {number(solver.step_size)}"
    if solver.method == "adams":
        steps += f", {solver.adams_mode.upper()}"
    if solver.batch == "independent":
        steps += ", one step size per example"
    how = f", gradient :{solver.gradient}" if gradient else ""
    return f":{solver.method}, {steps}{how}, at most {solver.max_num_steps} steps"


def _evaluation(model: ir.CheckedModel) -> str:
    if model.eval_solver == model.solver:
        return "as training"
    text = _solver(model.eval_solver, gradient=False)
    if model.eval_solver.trace != model.solver.trace:
        text += f", trace :{model.eval_solver.trace}"
    return text


def _trace(solver: ir.SolverSettings) -> str:
    return f":{solver.trace}, because {solver.trace_reason}" if solver.trace else ""


def _training(train: ir.TrainSettings, kind: str) -> str:
    optimizer = train.optimizer
    options = "".join(
        f", {k} = {_value(v)}" for k, v in optimizer.options.items() if v not in (0, 0.0, False)
    )
    length = f"{train.steps} steps" if train.steps else f"{train.epochs} epochs"
    schedule = train.schedule.kind
    if train.schedule.kind == "step":
        at = ", ".join(map(str, train.schedule.milestones))
        schedule = f"x{number(train.schedule.factor)} at {at}"
    extras = "".join(
        f", {name} {number(value)}"
        for name, value in (("kinetic", train.kinetic), ("jacobian", train.jacobian))
        if value
    )
    if train.kl_warmup and kind == "latent":  # other kinds have no KL term (W004)
        extras += f", KL warm-up over {train.kl_warmup} steps"
    if train.encoder_window < 1 and kind == "latent":
        extras += f", encoder reads ≥ {number(train.encoder_window)} of each training series"
    if train.refine and kind == "latent":
        extras += f", predictions refine the posterior mean by {train.refine} steps"
    if train.eval_every:
        unit = "steps" if train.steps else "epochs"
        extras += f", validation every {train.eval_every} {unit}"
        if train.patience:
            extras += f", patience {train.patience}"
    return (
        f"{optimizer.name}(lr = {number(optimizer.lr)}{options}), {length}, batch {train.batch}, "
        f"schedule {schedule}, seed {train.seed}{extras}"
    )
