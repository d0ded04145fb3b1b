"""A short human summary of a checked model, as `odedsl check` prints it."""

from __future__ import annotations

from odedsl.lang import model as ir
from odedsl.lang.diagnostics import number
from odedsl.lang.networks import describe
from odedsl.lang.shapes import show


def summarize(model: ir.CheckedModel) -> str:
    rows = [(label, text) for label, text in _rows(model) if text]
    width = max(len(label) for label, _ in rows)
    head = f"{model.path}: {model.name} ({model.kind}): {model.title}"
    return "\n".join([head, *(f"  {label.ljust(width)}  {text}" for label, text in rows)])


def _rows(model: ir.CheckedModel) -> list[tuple[str, str]]:
    if model.discrete is not None:
        return [
            ("flow", _discrete(model.discrete)),
            ("parameters", _parameters(model)),
            *(("network", _network(n)) for n in model.networks),
            ("objective", _objective(model.train)),
            ("training", _training(model.train, model.kind)),
        ]
    return [
        ("data", _data(model.data)),
        ("states", _states(model)),
        ("latents", ", ".join(f"{l.name} :: {show(l.shape)}" for l in model.latents)),
        ("parameters", _parameters(model)),
        *(("network", _network(n)) for n in model.networks),
        ("objective", _objective(model.train)),
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


def _objective(train: ir.TrainSettings) -> str:
    return train.objective + (" (inferred)" if train.objective_inferred else "")


def _solver(solver: ir.SolverSettings, *, gradient: bool = True) -> str:
    if solver.adaptive:
        steps = f"rtol {number(solver.rtol)}, atol {number(solver.atol)}"
    else:
        steps = f"step {number(solver.step_size)}"
    if solver.method == "adams":
        steps += f", {solver.adams_mode.upper()}"
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
