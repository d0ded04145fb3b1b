"""The checked model: the only thing the compiler reads from the language front end.

Everything here is resolved and validated: constants are folded to numbers, names are bound
to what they denote, shapes are per example (the batch dimension is never written; ``()`` is
a scalar, ``None`` inside a shape is a size that varies between examples), options carry
their defaults. Expressions are a small typed tree (:class:`Expr` and subclasses), each node
with its source location and inferred ``shape``. Indices and ranges stay 1-based and
inclusive, as written; the compiler shifts them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from odedsl.lang.diagnostics import Diagnostic
from odedsl.lang.source import Span

Shape = tuple[int | None, ...]
ModelKind = Literal["flow_ml", "flow_density", "supervised", "trajectory", "latent"]
"""What the runtime needs to know of a model, read off its statements (never a template):

- ``flow_ml`` / ``flow_density``: a `flow` (change of variables), on data or against a target;
- ``supervised``: each example's states start from its inputs and its response is observed at
  fixed times (classification, regression: ``y ~ Categorical(logits = head(h(1.0)))``);
- ``trajectory``: observations inside ``for t in ts`` with no latent variable (system
  identification, universal differential equations);
- ``latent``: latent variables with a `prior` and an `encoder` (an ELBO)."""
KIND_TITLES: dict[str, str] = {
    "flow_ml": "continuous normalizing flow, trained by maximum likelihood on data",
    "flow_density": "continuous normalizing flow, trained to match a target density",
    "supervised": "supervised ODE model (inputs → states → response at fixed times)",
    "trajectory": "trajectory model (states observed along series of times)",
    "latent": "latent ODE (variational encoder, ODE in latent space, decoder)",
}

# -- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Expr:
    """A checked expression: ``loc`` where it was written, ``shape`` per example (None for a
    value that is not one tensor, such as the parts of ``chunk``)."""

    loc: Span
    shape: Shape | None


@dataclass(frozen=True)
class Const(Expr):
    """A number: a literal, a folded constant, or π."""

    value: int | float


VarRole = Literal["param", "data", "latent", "local", "time", "index", "argument", "signal"]


@dataclass(frozen=True)
class Var(Expr):
    """A named value. ``role`` says what it is:

    - ``param``: a learned parameter; a time-dependent one has ``time`` (when it is evaluated);
    - ``data``: a data variable of the batch; ``latent``: a latent variable (e.g. z0);
    - ``local``: a value assigned in `encoder`; ``time``: the time variable (the current time
      in dynamics, or the loop variable over observation times in `likelihood`);
    - ``index``: the integer variable of a ``sum(... for n in a:b)`` generator;
    - ``argument``: the argument of the target density ``log p(x)``;
    - ``signal``: a signal of time (λ): called (``time`` set), or bare as PoissonProcess's
      intensity (``time`` None).
    """

    name: str
    role: VarRole
    time: Expr | None = None


@dataclass(frozen=True)
class StateRef(Expr):
    """An ODE state: the current state in dynamics (``time`` None) or its value at ``time``
    (a :class:`Const`, or the time variable of a likelihood loop)."""

    name: str
    time: Expr | None = None


@dataclass(frozen=True)
class Call(Expr):
    """A built-in function (``odedsl.lang.builtins.FUNCTIONS``): ``exp``, ``norm``, ``chunk``,
    ``reshape``... Integer arguments (``chunk``'s k, ``reshape``'s sizes, ``zeros``' and
    ``ones``' n) are :class:`Const`. ``vcat(a, b, ...)`` joins vectors (and scalars, counting
    1) into one vector; ``zeros(n)`` / ``ones(n)`` are Real[n]; ``first(x)`` is the first
    observation ``Real[D]`` of a series data variable ``x :: Real[N, D]``."""

    function: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Vector(Expr):
    """A vector literal ``[e1, e2, ...]`` of scalars: shape ``(len(elements),)``."""

    elements: tuple[Expr, ...]


@dataclass(frozen=True)
class NetworkCall(Expr):
    """A network applied to ``args``: ``f(x)``, ``f(t, h)`` (with ConcatConv), ``rec(xs, ts)``.

    A plain network (neither ConcatConv nor a sequence network) called with several arguments,
    ``f(t, z)`` or ``g(x, y)``, reads them joined in order along one axis, each flattened to a
    vector (a scalar counts 1); the batch axes broadcast."""

    network: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Slice(Expr):
    """``start:stop`` inside an index: 1-based, inclusive."""

    start: int
    stop: int


@dataclass(frozen=True)
class Index(Expr):
    """``base[i, ...]``: integer indices are 1-based; a :class:`Slice` keeps its dimension; the
    time variable of a likelihood loop selects the observation at that time."""

    base: Expr
    indices: tuple[Expr, ...]


@dataclass(frozen=True)
class Transpose(Expr):
    operand: Expr


@dataclass(frozen=True)
class BinOp(Expr):
    """``op`` is ``+ - * / ^`` (elementwise, a scalar broadcast to the other side; Julia's
    ``.* ./ .+ .- .^`` are these too) or ``@`` (the matrix product ``*`` of a matrix and a
    vector or matrix, and ``w' * z``, which gives a scalar)."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Neg(Expr):
    operand: Expr


@dataclass(frozen=True)
class Sum(Expr):
    """``sum(body for var in start:stop)``, inclusive; ``var`` is a :class:`Var` of role
    ``index`` inside ``body``."""

    var: str
    start: int
    stop: int
    body: Expr


@dataclass(frozen=True)
class Distribution:
    """A distribution as used by ``~``; ``params`` are keyed by the catalogue's argument names
    (``odedsl.lang.builtins.DISTRIBUTIONS``), each an expression broadcasting against the
    event shape:

    - ``Normal``: ``mean`` and ``std`` (``Normal(μ, I(D))`` has ``std`` = Const(1.0));
    - ``Laplace``: ``mean`` and ``scale``; ``StudentT``: ``df``, ``mean`` and ``scale``;
    - ``Poisson``: ``rate`` (counts); ``Categorical`` / ``Bernoulli``: ``logits``;
    - ``PoissonProcess``: ``intensity`` (a bare signal :class:`Var`) and ``interval``.

    ``event_shape`` is the shape of one draw (the variable on the left of ``~``).
    """

    family: str
    params: Mapping[str, Expr]
    event_shape: Shape
    loc: Span
    interval: tuple[float, float] | None = None


# -- declarations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataVariable:
    """A variable bound by the data source. ``role``: ``sample`` (one example), ``times`` (the
    observation times of a series), ``series`` (observations, first axis = times),
    ``events`` (event times, varying count), ``label`` (an integer class in 0..classes-1)."""

    name: str
    role: str
    shape: Shape
    dtype: Literal["real", "int"]
    classes: int | None
    loc: Span


@dataclass(frozen=True)
class DataSource:
    """``dataset`` with every argument (defaults filled in) and the variables it binds.

    Image data sets only, training images only, each 0 for none: ``crop`` pads each image with
    that many pixels of zeros and crops it back at a random offset; then each image is rotated
    by an angle uniform in ±``rotate`` degrees, scaled by a factor uniform in 1 ± ``zoom`` and
    moved by up to ±``shift`` pixels on each axis (``odedsl.data.augment``).
    """

    dataset: str
    args: Mapping[str, object]
    variables: tuple[DataVariable, ...]
    loc: Span
    crop: int = 0
    rotate: float = 0.0
    zoom: float = 0.0
    shift: float = 0.0

    @property
    def affine(self) -> bool:
        """Whether training images are turned, zoomed or shifted."""
        return bool(self.rotate or self.zoom or self.shift)

    @property
    def augmented(self) -> bool:
        """Whether training batches are augmented."""
        return bool(self.crop) or self.affine


@dataclass(frozen=True)
class Param:
    """A learned tensor; a time-dependent one is the output of network ``hyper`` applied to
    the time, reshaped to ``shape``. ``a :: Real`` is a scalar (shape ``()``). A ``positive``
    one (``σ :: Positive``, ``Positive[D]``) is the softplus of an unconstrained tensor.
    ``init`` is its initial value when the spec gives one (``a :: Real = 0.5``,
    ``z0 :: Real[2] = [1.0, 0.0]``): a number (broadcast) or one number per entry, flat."""

    name: str
    shape: Shape
    hyper: str | None
    loc: Span
    positive: bool = False
    init: float | tuple[float, ...] | None = None

    @property
    def numel(self) -> int:
        return math.prod(self.shape)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Layer:
    """One layer (or a Chain of them), sizes resolved. ``kind`` is a name of
    ``builtins.LAYERS`` or ``"Activation"``; ``args`` holds:

    - Dense: ``in``, ``out``, ``act``; MLP: ``sizes`` (tuple), ``act``, ``out``;
    - Conv / ConcatConv: ``in``, ``out``, ``kernel``, ``stride``, ``pad``;
    - GroupNorm: ``groups``, ``channels`` (from the input, None if never known);
    - RNN / GRU / ODERNN: ``in``, ``hidden``, ``out``; Activation: ``fn``.

    Shapes are those of the network's first call (spatial sizes may be None when unknown);
    ``parameter_count`` counts weights as the PyTorch layers do (None if a size is unknown).
    """

    kind: str
    args: Mapping[str, object]
    children: tuple[Layer, ...]
    in_shape: Shape | None
    out_shape: Shape | None
    parameter_count: int | None
    loc: Span


@dataclass(frozen=True)
class Network:
    """A named network. ``takes_time``: it holds a ConcatConv and is called as ``f(t, h)``;
    ``sequence``: it reads a sequence ``f(xs)`` or ``f(xs, ts)`` (RNN, GRU, ODERNN)."""

    name: str
    layer: Layer
    takes_time: bool
    sequence: bool
    calls: int
    loc: Span

    @property
    def parameter_count(self) -> int | None:
        return self.layer.parameter_count

    @property
    def in_shape(self) -> Shape | None:
        return self.layer.in_shape

    @property
    def out_shape(self) -> Shape | None:
        return self.layer.out_shape


@dataclass(frozen=True)
class State:
    name: str
    shape: Shape
    loc: Span


@dataclass(frozen=True)
class TimeDomain:
    """The time variable and the integration interval; ``end`` is None when the times come
    from the data (latent models). ``loc`` is None when the spec wrote no domain."""

    var: str
    start: float
    end: float | None
    loc: Span | None


# -- equations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Derivative:
    """``d<state>/d<t> = rhs``"""

    state: str
    rhs: Expr
    loc: Span


@dataclass(frozen=True)
class InitialCondition:
    """``state(time) = value``"""

    state: str
    time: float
    value: Expr
    loc: Span


@dataclass(frozen=True)
class BaseDistribution:
    """A flow's ``state(time) ~ distribution``."""

    state: str
    time: float
    distribution: Distribution
    loc: Span


@dataclass(frozen=True)
class DataBinding:
    """A flow's ``state(time) = data``: data are the state at ``time`` (the end of the flow)."""

    state: str
    time: float
    data: str
    loc: Span


@dataclass(frozen=True)
class Signal:
    """A derived signal of time, ``λ(t) = rhs``; ``rhs`` may use the current state."""

    name: str
    rhs: Expr
    loc: Span


@dataclass(frozen=True)
class Dynamics:
    time: TimeDomain
    derivatives: tuple[Derivative, ...]
    initial: tuple[InitialCondition, ...]
    base: BaseDistribution | None
    binding: DataBinding | None
    signals: tuple[Signal, ...]


@dataclass(frozen=True)
class DiscreteFlow:
    """A discrete normalizing flow: ``base ~ distribution`` (a sample of ``shape``), then
    ``result = network(base)``, a flow network (``PlanarFlow``) giving the sample and its
    log-determinant. Such a flow has no ODE, states or solver."""

    base: str
    distribution: Distribution
    result: str
    network: str
    shape: Shape
    loc: Span


@dataclass(frozen=True)
class TargetDensity:
    """``log p(argument) = log_density``: an unnormalised log-density of a flow's state."""

    argument: str
    shape: Shape
    log_density: Expr
    loc: Span


@dataclass(frozen=True)
class Assignment:
    """An `encoder` statement ``(a, b) = value`` (or ``a = value``), in order."""

    names: tuple[str, ...]
    shapes: tuple[Shape, ...]
    value: Expr
    loc: Span


@dataclass(frozen=True)
class Latent:
    """A latent variable with its prior p(z) and amortised posterior q(z | x)."""

    name: str
    shape: Shape
    prior: Distribution
    posterior: Distribution
    loc: Span


@dataclass(frozen=True)
class ParamPrior:
    """A prior on a learned parameter, ``a ~ Normal(0, 1)`` in `prior`: its log-density is
    added to the objective (maximum a posteriori)."""

    name: str
    distribution: Distribution
    loc: Span


@dataclass(frozen=True)
class Observation:
    """A likelihood term ``value ~ distribution``; inside ``for time_var in times`` when
    ``time_var`` is set (``value`` is then ``x[t]``, an :class:`Index` by the time var)."""

    value: Expr
    distribution: Distribution
    time_var: str | None
    times: str | None
    loc: Span


# -- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SolverSettings:
    """Validated solver options with defaults. ``step_size`` is set for fixed-step methods.
    For flows, ``trace`` is the strategy that will be used (``symbolic``, ``exact`` or
    ``hutchinson``) and ``trace_reason`` why; for other models ``trace`` is None.
    ``adams_mode`` (``pece`` or ``pec``) is read by ``:adams`` only. ``batch`` is ``joint``
    (one step size for the batch) or ``independent`` (one per example)."""

    method: str
    adaptive: bool
    rtol: float
    atol: float
    step_size: float | None
    gradient: str
    max_num_steps: int
    trace: str | None
    trace_reason: str
    adams_mode: str = "pece"
    batch: str = "joint"


@dataclass(frozen=True)
class Optimizer:
    """``name`` in Adam, AdamW, SGD; ``options`` holds its other arguments with defaults."""

    name: str
    lr: float
    options: Mapping[str, float | bool]


@dataclass(frozen=True)
class Schedule:
    """``constant``, ``cosine`` (to zero over the run) or ``step`` (multiply by ``factor`` at
    each of ``milestones``, counted in the unit of the run: steps or epochs)."""

    kind: Literal["constant", "cosine", "step"]
    milestones: tuple[int, ...] = ()
    factor: float = 1.0


@dataclass(frozen=True)
class TrainSettings:
    """Validated training options. Exactly one of ``steps`` and ``epochs`` is set. ``batch``
    is the examples per step (from `data` or `train`), or base samples per step for density
    matching. ``samples``, ``kl_warmup`` (steps over which the KL weight rises linearly
    from 0 to 1; 0: none), ``encoder_window`` (the least leading fraction of each series
    the encoder reads in training; 1: all of it) and ``refine`` (the Adam steps that refine a
    posterior mean for predictions; 0: none) apply to latent models. ``eval_every`` scores the
    validation split every so many steps (epochs, when ``epochs`` is set; 0: never) and
    ``patience`` stops training after that many scores without improvement (0: never)."""

    objective: str
    objective_inferred: bool
    optimizer: Optimizer
    steps: int | None
    epochs: int | None
    schedule: Schedule
    kinetic: float
    jacobian: float
    warmup: int
    batch: int
    seed: int
    samples: int
    kl_warmup: int
    encoder_window: float
    refine: int
    eval_every: int = 0
    patience: int = 0


# -- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedModel:
    """A spec after every check: what the compiler builds a model from."""

    name: str
    kind: ModelKind
    path: str
    constants: Mapping[str, int | float]
    data: DataSource | None
    params: tuple[Param, ...]
    networks: tuple[Network, ...]
    states: tuple[State, ...]
    dynamics: Dynamics
    target: TargetDensity | None
    encoder: tuple[Assignment, ...]
    latents: tuple[Latent, ...]
    likelihood: tuple[Observation, ...]
    solver: SolverSettings
    eval_solver: SolverSettings
    train: TrainSettings
    warnings: tuple[Diagnostic, ...] = field(default=())
    discrete: DiscreteFlow | None = None
    param_priors: tuple[ParamPrior, ...] = ()

    @property
    def title(self) -> str:
        """What the model is, in words: its kind's title, or that of a discrete flow."""
        if self.discrete is not None:
            return "discrete normalizing flow (planar layers), trained to match a target density"
        return KIND_TITLES[self.kind]

    @property
    def flow_shape(self) -> Shape:
        """The shape of a flow's samples (its state, or a discrete flow's base sample)."""
        return self.discrete.shape if self.discrete is not None else self.states[0].shape

    @property
    def parameter_count(self) -> int | None:
        """Learned numbers: free parameters plus network weights (None if a count is unknown)."""
        counts = [p.numel for p in self.params if p.hyper is None]
        counts += [n.parameter_count for n in self.networks]  # type: ignore[misc]
        return None if None in counts else sum(counts)  # type: ignore[arg-type]

    def network(self, name: str) -> Network:
        return next(n for n in self.networks if n.name == name)

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def state(self, name: str) -> State:
        return next(s for s in self.states if s.name == name)


def time_reading(dynamics: Dynamics) -> Span | None:
    """Where the dynamics first read the time (an equation or signal using ``t``, a
    time-dependent parameter, a network given ``t``); None for autonomous dynamics."""
    for item in (*dynamics.derivatives, *dynamics.signals):
        for node in subexpressions(item.rhs):
            if isinstance(node, Var) and node.role == "time":
                return item.loc
    return None


def subexpressions(expr: Expr) -> list[Expr]:
    """``expr`` and every expression inside it, parents before children."""
    found: list[Expr] = []
    pending = [expr]
    while pending:
        node = pending.pop()
        found.append(node)
        for value in vars(node).values():
            if isinstance(value, Expr):
                pending.append(value)
            elif isinstance(value, tuple):
                pending.extend(v for v in value if isinstance(v, Expr))
    return found


def depth(expr: Expr) -> int:
    """How deeply ``expr`` nests: 1 for a leaf, one more per enclosing operation (iterative:
    no recursion limit)."""
    deepest = 0
    pending = [(expr, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        for value in vars(node).values():
            if isinstance(value, Expr):
                pending.append((value, level + 1))
            elif isinstance(value, tuple):
                pending.extend((v, level + 1) for v in value if isinstance(v, Expr))
    return deepest
