"""The built-in catalogue of the language: data sets, layers, activations, functions,
distributions, solver and training options.

These names and keyword arguments are a contract: the data engine (``odedsl.data``), the
layer library and the compiler implement exactly these, with these defaults. The checker
reads this catalogue to validate specs; ``docs/language.md`` documents it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ArgKind = Literal[
    "number",  # an int or float, folded from constants
    "int",  # an integer, folded from constants
    "symbol",  # one of ``choices``, written `:name`
    "activation",  # an activation, written `:tanh` or `tanh`
    "string",  # "text"
    "bool",  # true / false
    "int_list",  # [60, 100]
    "string_list",  # ["a", "b"]
    "fractions",  # (0.7, 0.15, 0.15): non-negative numbers summing to 1
    "interval",  # (t0, t1) with t0 < t1
    "expr",  # an expression checked by the expression checker (distribution parameters)
    "signal",  # the bare name of a signal defined in `dynamics`, e.g. λ
    "optimizer",  # Adam(...), SGD(...), AdamW(...)
    "schedule",  # :constant, :cosine or Step(...)
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()
"""The default of an argument that must be given."""


@dataclass(frozen=True)
class Arg:
    """One argument of a built-in: its kind, default, allowed values and bound.

    ``bound`` is one of ``""`` (none), ``"> 0"``, ``">= 0"``, ``"in (0, 1]"``, ``"in [0, 1)"``.
    """

    name: str
    kind: ArgKind
    default: object = REQUIRED
    choices: tuple[str, ...] = ()
    bound: str = ""
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def violation(self, value: float) -> str | None:
        """What a number breaking this argument's bound must be (``"must be positive"``),
        or None when ``value`` is within it."""
        if self.bound == "> 0" and not value > 0:
            return "must be positive"
        if self.bound == ">= 0" and not value >= 0:
            return "must not be negative"
        if self.bound == "in (0, 1]" and not 0 < value <= 1:
            return "must be in (0, 1]"
        if self.bound == "in [0, 1)" and not 0 <= value < 1:
            return "must be in [0, 1)"
        return None


SEED = Arg("seed", "int", 0, bound=">= 0", doc="random seed of the generator")


def _noise(default: float) -> Arg:
    return Arg("noise", "number", default, bound=">= 0", doc="standard deviation of the noise")


# -- data sets --------------------------------------------------------------------------------

DataRole = Literal["sample", "times", "series", "events", "label"]


@dataclass(frozen=True)
class DataOutput:
    """One variable a data set binds, per example (the batch dimension is not written).

    ``shape`` entries are ints, the name of an argument whose value is the size (e.g.
    ``"observed"``), or None for a size that varies between examples (event counts).
    """

    role: DataRole
    shape: tuple[int | str | None, ...]
    dtype: Literal["real", "int"] = "real"
    classes: int | None = None


@dataclass(frozen=True)
class DataForm:
    """One form of a user-file data set: what it binds when argument ``trigger`` is given
    (None: when no other form's trigger is), with an ``example`` of its declaration."""

    trigger: str | None
    outputs: tuple[DataOutput, ...]
    example: str


@dataclass(frozen=True)
class DataSet:
    """A data set: ``x ~ Name(args...)`` or ``(a, b) ~ Name(args...)`` in `data`.

    ``declared`` data sets (user files) take the shapes of their variables from the
    declaration, ``x :: Real[D] ~ CSV(path = ...)`` or ``(x, y) :: (Real[D], Int) ~ ...``, and
    have ``forms``: what they bind depends on the arguments given (``label``, ``time``...).
    ``images`` data sets give (C, H, W) images that training batches may augment (``crop``,
    ``rotate``, ``zoom``, ``shift`` in `data`); so does a user file declared ``Real[C, H, W]``.
    An argument whose default is None is left out of the checked model unless given.
    """

    name: str
    args: tuple[Arg, ...]
    outputs: tuple[DataOutput, ...]
    doc: str
    declared: bool = False
    images: bool = False
    forms: tuple[DataForm, ...] = ()

    def form(self, given: set[str]) -> DataForm | None:
        """The form chosen by the arguments ``given`` (None for a data set without forms)."""
        if not self.forms:
            return None
        chosen = [f for f in self.forms if f.trigger is not None and f.trigger in given]
        return chosen[0] if chosen else next(f for f in self.forms if f.trigger is None)


def gives_images(source: object) -> bool:
    """Whether a checked data source (``odedsl.lang.model.DataSource``) gives images: an
    image data set, or a user file whose examples are declared ``Real[C, H, W]``."""
    if DATASETS[source.dataset].images:  # type: ignore[attr-defined]
        return True
    return any(
        v.role == "sample" and len(v.shape) == 3
        for v in source.variables  # type: ignore[attr-defined]
    )


def _toy(name: str, noise: float | None, doc: str) -> DataSet:
    args = (_noise(noise), SEED) if noise is not None else (SEED,)
    return DataSet(name, args, (DataOutput("sample", (2,)),), doc)


_FILE_ARGS = (
    Arg("split", "fractions", None, doc="train, validation, test fractions (0.7, 0.15, 0.15)"),
    Arg("holdout", "symbol", None, ("last", "random"), doc="a trajectory's held-out points"),
    Arg("train", "string", None, doc="the training file (with `test`, instead of `path`)"),
    Arg("validation", "string", None, doc="the validation file (optional)"),
    Arg("test", "string", None, doc="the test file"),
    Arg("seed", "int", 0, bound=">= 0", doc="seed of the split"),
)

_SERIES_ARGS = (
    Arg("n", "int", 1000, bound="> 0", doc="number of series"),
    Arg("observed", "int", 30, bound="> 0", doc="observations per series"),
)

DATASETS: dict[str, DataSet] = {
    d.name: d
    for d in (
        _toy("Moons", 0.05, "two interleaved half circles"),
        _toy("Circles", 0.08, "two concentric circles, radii 1 and 0.5, scaled by 3"),
        _toy("EightGaussians", 0.5, "eight Gaussians on a circle of radius 4, divided by 1.414"),
        _toy("Pinwheel", 0.3, "a pinwheel of five arms"),
        _toy("Checkerboard", None, "a 4 x 4 checkerboard of uniform squares"),
        _toy("Rings", 0.08, "four concentric rings, radii 1, .75, .5, .25, scaled by 3"),
        _toy("SwissRoll", 1.0, "a 2-D swiss roll (columns 0 and 2, divided by 5)"),
        _toy("TwoSpirals", 0.1, "two interleaved spirals"),
        DataSet(
            "Spirals2D",
            (
                Arg("n", "int", 1000, bound="> 0", doc="number of series"),
                Arg("observed", "int", 30, bound="> 0", doc="observations per series, <= 100"),
                _noise(0.3),
                SEED,
            ),
            (DataOutput("times", ("observed",)), DataOutput("series", ("observed", 2))),
            "irregularly observed 2-D spirals (clockwise or counter-clockwise): `observed` "
            "of 100 time points, times in [0, 3.74]",
        ),
        DataSet(
            "Periodic1D",
            (*_SERIES_ARGS, _noise(0.1), SEED),
            (DataOutput("times", ("observed",)), DataOutput("series", ("observed", 1))),
            "irregularly observed 1-D periodic series",
        ),
        DataSet(
            "EventSeries",
            (
                Arg("n", "int", 500, bound="> 0", doc="number of series"),
                Arg("observed", "int", 30, bound="> 0", doc="observations per series"),
                _noise(0.1),
                SEED,
            ),
            (
                DataOutput("times", ("observed",)),
                DataOutput("series", ("observed", 2)),
                DataOutput("events", (None,)),
            ),
            "irregularly observed 2-D series with event times drawn from a Poisson process "
            "whose intensity depends on the hidden trajectory; times in [0, 5]",
        ),
        DataSet(
            "Digits",
            (Arg("split", "symbol", "train", ("train", "test")), SEED),
            (
                DataOutput("sample", (1, 8, 8)),
                DataOutput("label", (), "int", classes=10),
            ),
            "scikit-learn's 8 x 8 handwritten digits, a 75/25 train/test split",
            images=True,
        ),
        DataSet(
            "MNIST",
            (
                Arg("root", "string", doc="folder holding the MNIST idx files"),
                Arg("split", "symbol", "train", ("train", "test")),
                SEED,
            ),
            (
                DataOutput("sample", (1, 28, 28)),
                DataOutput("label", (), "int", classes=10),
            ),
            "MNIST handwritten digits read from idx files under `root`",
            images=True,
        ),
        DataSet(
            "NPZ",
            (
                Arg("path", "string", None, doc="a NumPy .npz file, relative to the spec"),
                Arg("x", "string", None, doc='the array of x (default "x")'),
                Arg("y", "string", None, doc="the array of labels: binds (x, y)"),
                Arg("ts", "string", None, doc="the array of times: binds (ts, x), a series"),
                Arg("key", "string", None, doc="the array of x (the same as `x`)"),
                *_FILE_ARGS,
            ),
            (DataOutput("sample", ()),),
            "arrays of a NumPy .npz file: rows of x, (x, y) with labels, or series (ts, x); "
            "declare their types",
            declared=True,
            forms=(
                DataForm(None, (DataOutput("sample", ()),), 'x :: Real[D] ~ NPZ(path = "f.npz")'),
                DataForm(
                    "y",
                    (DataOutput("sample", ()), DataOutput("label", ())),
                    '(x, y) :: (Real[C, H, W], Int) ~ NPZ(path = "f.npz", y = "labels")',
                ),
                DataForm(
                    "ts",
                    (DataOutput("times", ()), DataOutput("series", ())),
                    '(ts, x) :: (Real[N], Real[N, D]) ~ NPZ(path = "f.npz", ts = "ts")',
                ),
            ),
        ),
        DataSet(
            "CSV",
            (
                Arg("path", "string", None, doc="a comma-separated file, relative to the spec"),
                Arg("columns", "string_list", None, doc="the columns of x (default: the others)"),
                Arg("header", "bool", None, doc="whether row 1 names the columns (detected)"),
                Arg("label", "string", None, doc="the column of the labels: binds (x, y)"),
                Arg("time", "string", None, doc="the column of times: binds (ts, x), a series"),
                Arg("series", "string", None, doc="with `time`: the column of series ids"),
                *_FILE_ARGS,
            ),
            (DataOutput("sample", ()),),
            "a CSV file of numbers: rows of x, (x, y) with a label column, one trajectory "
            "(ts, x) or many series in long format; declare their types",
            declared=True,
            forms=(
                DataForm(None, (DataOutput("sample", ()),), 'x :: Real[D] ~ CSV(path = "f.csv")'),
                DataForm(
                    "label",
                    (DataOutput("sample", ()), DataOutput("label", ())),
                    '(x, y) :: (Real[D], Int) ~ CSV(path = "f.csv", label = "y")',
                ),
                DataForm(
                    "time",
                    (DataOutput("times", ()), DataOutput("series", ())),
                    '(ts, x) :: (Real[N], Real[N, D]) ~ CSV(path = "f.csv", time = "t")',
                ),
            ),
        ),
    )
}
FILE_SPLITS = ("train", "validation", "test")
"""The arguments naming a file per split, instead of `path`."""

# -- layers -----------------------------------------------------------------------------------

ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "sigmoid", "softplus", "elu", "identity")


@dataclass(frozen=True)
class LayerKind:
    """A layer constructor. ``sizes`` bounds the number of ``a => b => ...`` sizes of its
    first argument ((0, 0): no sizes); ``args`` follow, by position or by keyword."""

    name: str
    sizes: tuple[int, int]
    args: tuple[Arg, ...]
    doc: str
    example: str


_CONV_ARGS = (
    Arg("kernel", "int", bound="> 0", doc="kernel size k (k x k)"),
    Arg("stride", "int", 1, bound="> 0"),
    Arg("pad", "int", 0, bound=">= 0"),
)
_MANY = 1 << 30

LAYERS: dict[str, LayerKind] = {
    k.name: k
    for k in (
        LayerKind(
            "Dense",
            (2, 2),
            (Arg("act", "activation", "identity"),),
            "Linear(in, out) then the activation: in*out + out parameters",
            "Dense(2 => 64, tanh)",
        ),
        LayerKind(
            "MLP",
            (2, _MANY),
            (Arg("act", "activation", "tanh"), Arg("out", "activation", "identity")),
            "Linear layers a => b => ... => z with `act` between them and `out` after the last",
            "MLP(1 => 32 => 64, act = :tanh, out = :sigmoid)",
        ),
        LayerKind(
            "Conv",
            (2, 2),
            _CONV_ARGS,
            "Conv2d(in, out, k, stride, pad): in*out*k*k + out parameters",
            "Conv(1 => 32, 3, pad = 1)",
        ),
        LayerKind(
            "ConcatConv",
            (2, 2),
            _CONV_ARGS,
            "Conv2d(in + 1, out, k, stride, pad) on the input with t appended as a channel; "
            "a network holding one is called as f(t, h)",
            "ConcatConv(32 => 32, 3, pad = 1)",
        ),
        LayerKind(
            "GroupNorm",
            (0, 0),
            (Arg("groups", "int", bound="> 0"),),
            "GroupNorm(groups, C) over the channels C of its input: 2*C parameters",
            "GroupNorm(8)",
        ),
        LayerKind(
            "GlobalMeanPool",
            (0, 0),
            (),
            "mean over the spatial dimensions: Real[C, H, W] -> Real[C]",
            "GlobalMeanPool()",
        ),
        LayerKind(
            "Flatten",
            (0, 0),
            (),
            "all dimensions into one: Real[C, H, W] -> Real[C*H*W]",
            "Flatten()",
        ),
        LayerKind(
            "RNN",
            (3, 3),
            (),
            "reads a sequence Real[N, in] (and optionally its times Real[N]); cell "
            "h = tanh(Linear(in + hidden -> hidden)([x, h])), output Linear(hidden -> out) of "
            "the last h: (in+hidden)*hidden + hidden + hidden*out + out parameters",
            "RNN(2 => 25 => 8)",
        ),
        LayerKind(
            "GRU",
            (3, 3),
            (),
            "as RNN with torch.nn.GRUCell(in, hidden): 3*hidden*(in + hidden + 2) + "
            "hidden*out + out parameters",
            "GRU(2 => 25 => 8)",
        ),
        LayerKind(
            "ODERNN",
            (3, 3),
            (),
            "ODE-RNN: between observations h follows dh/dt = MLP(hidden => hidden => hidden, "
            "tanh)(h) over the time gaps, at each observation a GRUCell(in, hidden) update; "
            "output Linear(hidden -> out): 3*hidden*(in + hidden + 2) + 2*(hidden^2 + hidden) "
            "+ hidden*out + out parameters",
            "ODERNN(2 => 25 => 8)",
        ),
        LayerKind(
            "PlanarFlow",
            (0, 0),
            (
                Arg("dim", "int", bound="> 0", doc="dimension D of the flow's samples"),
                Arg("depth", "int", bound="> 0", doc="number K of planar layers"),
            ),
            "a discrete normalizing flow of K planar layers z + û tanh(wᵀz + b) on Real[D] "
            "(Rezende & Mohamed 2015; û keeps each layer invertible): (2*D + 1)*K parameters; "
            "stands alone and is applied only as a flow's transformation `x = f(z)`",
            "PlanarFlow(2, depth = 8)",
        ),
        LayerKind(
            "Chain",
            (0, 0),
            (),
            "layers applied in order; activations may appear by name",
            "Chain(Conv(1 => 32, 3, pad = 1), GroupNorm(8), relu)",
        ),
    )
}

SEQUENCE_LAYERS = frozenset({"RNN", "GRU", "ODERNN"})
FLOW_LAYERS = frozenset({"PlanarFlow"})
"""Layers that are whole discrete flows: a sample and its log-determinant, not a function."""

# -- functions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """A built-in function of expressions: ``arity`` is (min, max) positional arguments."""

    name: str
    arity: tuple[int, int]
    doc: str


ELEMENTWISE: tuple[str, ...] = (
    "exp",
    "log",
    "tanh",
    "sigmoid",
    "softplus",
    "elu",
    "relu",
    "sin",
    "cos",
    "sqrt",
    "abs",
    "identity",
)

FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        *(Function(name, (1, 1), "elementwise") for name in ELEMENTWISE),
        Function("norm", (1, 1), "Euclidean norm of a vector: Real[D] -> Real"),
        Function("dot", (2, 2), "inner product of two vectors of one shape -> Real"),
        Function("sum", (1, 1), "sum of all entries, or sum(expr for n in a:b)"),
        Function("chunk", (2, 2), "chunk(x, k): Real[k*m] into k parts Real[m]"),
        Function("reverse", (1, 1), "reverse the first axis (a sequence in time)"),
        Function("reshape", (2, _MANY), "reshape(x, d1, d2, ...): same number of entries"),
        Function("I", (1, 1), "I(D): the identity covariance, only in Normal(μ, I(D))"),
        Function("zeros", (1, 1), "zeros(n): the vector Real[n] of zeros (n a constant)"),
        Function("ones", (1, 1), "ones(n): the vector Real[n] of ones (n a constant)"),
        Function(
            "vcat",
            (1, _MANY),
            "vcat(a, b, ...): vectors and scalars (each counting 1) joined into one vector",
        ),
        Function(
            "first",
            (1, 1),
            "first(x): the first observation Real[D] of an observed series x :: Real[N, D]",
        ),
    )
}

CONSTANTS: dict[str, float] = {"pi": 3.141592653589793, "π": 3.141592653589793}
"""Built-in numbers."""

# -- distributions ----------------------------------------------------------------------------


Constraint = Literal["real", "positive", "logits"]
"""What an ``expr`` argument of a distribution takes: ``real`` any real values, ``positive``
values > 0 (a constant is checked; ``I(D)`` reads as 1, the identity covariance), ``logits``
unnormalised log-probabilities (``Real[K]`` for a label of K classes, else broadcast against
the drawn variable). Every ``real`` and ``positive`` argument is any expression of
parameters, constants, states and data that broadcasts against the drawn variable."""
Support = Literal["real", "positive", "count", "binary", "label", "events"]
"""The values a distribution draws: real numbers, positive numbers, counts 0, 1, 2, ...,
0 or 1, a class label 0..K-1 (one per example, its logits Real[K]), or event times."""


@dataclass(frozen=True)
class DistributionKind:
    """A distribution for ``~``: ``args`` in order (by position or keyword), the
    ``constraints`` of its ``expr`` arguments (by name; ``real`` when not listed), and the
    ``support`` of its draws, which the checker holds observed data against. The checker
    (``odedsl.lang.distributions``) reads only this entry; the torch side registers the
    same names."""

    name: str
    args: tuple[Arg, ...]
    doc: str
    example: str
    support: Support = "real"
    constraints: Mapping[str, Constraint] = field(default_factory=dict)


DISTRIBUTIONS: dict[str, DistributionKind] = {
    d.name: d
    for d in (
        DistributionKind(
            "Normal",
            (Arg("mean", "expr", doc="mean"), Arg("std", "expr", doc="standard deviation")),
            "independent normal with mean μ and standard deviation σ (any expressions that "
            "broadcast against the variable drawn, or I(D) for identity covariance)",
            "x[t] ~ Normal(z(t), σ)",
            constraints={"mean": "real", "std": "positive"},
        ),
        DistributionKind(
            "Laplace",
            (Arg("mean", "expr", doc="mean"), Arg("scale", "expr", doc="scale")),
            "independent Laplace with location μ and scale b: density exp(-|x - μ| / b) / 2b",
            "y ~ Laplace(out(h(1.0)), b)",
            constraints={"mean": "real", "scale": "positive"},
        ),
        DistributionKind(
            "StudentT",
            (
                Arg("df", "expr", doc="degrees of freedom ν"),
                Arg("mean", "expr", doc="location"),
                Arg("scale", "expr", doc="scale"),
            ),
            "independent Student's t with ν degrees of freedom, location μ and scale σ: heavy "
            "tails for data with outliers (ν → ∞ is the Normal)",
            "y ~ StudentT(4, out(h(1.0)), s)",
            constraints={"df": "positive", "mean": "real", "scale": "positive"},
        ),
        DistributionKind(
            "Poisson",
            (Arg("rate", "expr", doc="rate"),),
            "counts 0, 1, 2, ... with mean `rate` (> 0), independent per entry",
            "y ~ Poisson(exp(out(h(1.0))))",
            support="count",
            constraints={"rate": "positive"},
        ),
        DistributionKind(
            "Categorical",
            (Arg("logits", "expr", doc="logits"),),
            "a class label with unnormalised log-probabilities `logits` (Real[K])",
            "y ~ Categorical(logits = head(h(1.0)))",
            support="label",
            constraints={"logits": "logits"},
        ),
        DistributionKind(
            "Bernoulli",
            (Arg("logits", "expr", doc="logits"),),
            "binary values with log-odds `logits`",
            "y ~ Bernoulli(logits = out(h(1.0)))",
            support="binary",
            constraints={"logits": "logits"},
        ),
        DistributionKind(
            "PoissonProcess",
            (Arg("intensity", "signal"), Arg("on", "interval")),
            "event times of an inhomogeneous Poisson process with intensity λ(t) on (t0, t1): "
            "log-likelihood Σ log λ(t_i) − ∫ λ dt",
            "events ~ PoissonProcess(λ, on = (0.0, T))",
            support="events",
        ),
    )
}

# -- solver -----------------------------------------------------------------------------------

METHODS: dict[str, bool] = {
    "euler": False,
    "midpoint": False,
    "heun2": False,
    "heun": False,
    "heun3": False,
    "rk4": False,
    "explicit_adams": False,
    "implicit_adams": False,
    "fixed_adams": False,
    "implicit_euler": False,
    "implicit_midpoint": False,
    "trapezoid": False,
    "radauIIA3": False,
    "radauIIA5": False,
    "gl4": False,
    "gl6": False,
    "sdirk2": False,
    "trbdf2": False,
    "adaptive_heun": True,
    "fehlberg2": True,
    "bosh3": True,
    "dopri5": True,
    "tsit5": True,
    "dopri8": True,
    "adams": True,
    "scipy_solver": True,
}
"""Solver methods, mapped to whether they are adaptive (error-controlled)."""
TOLERANCE_READERS: frozenset[str] = frozenset({"implicit_adams", "fixed_adams"})
"""Fixed-step methods that read ``rtol``/``atol`` (their corrector iterates to them)."""
METHOD_SPECIFIC: dict[str, str] = {
    "step_size": "fixed-step methods",
    "rtol": "adaptive methods and :implicit_adams",
    "atol": "adaptive methods and :implicit_adams",
    "adams_mode": "method 'adams'",
}
"""Solver options that only some methods read, with which ones (see :func:`applies_to`)."""


def applies_to(option: str, method: str) -> bool:
    """Whether solver ``option`` changes what ``method`` does (``METHOD_SPECIFIC``)."""
    if option == "step_size":
        return not METHODS[method]
    if option in ("rtol", "atol"):
        return METHODS[method] or method in TOLERANCE_READERS
    if option == "adams_mode":
        return method == "adams"
    return True


PER_ROW_METHODS: tuple[str, ...] = ("bosh3", "dopri5", "tsit5")
"""Methods that can give every example of a batch its own step size (`batch = :independent`):
adaptive Runge–Kutta pairs whose dense output needs no extra stages."""
BATCH_MODES: tuple[str, ...] = ("joint", "independent")
GRADIENTS: tuple[str, ...] = ("adjoint", "direct", "checkpoint")
TRACES: tuple[str, ...] = ("auto", "symbolic", "exact", "hutchinson")
EXACT_TRACE_MAX_DIM = 16
"""`trace = :auto` uses the exact trace up to this state size, Hutchinson's estimator above."""

_EVAL_SOLVER_OPTIONS = (
    Arg("method", "symbol", "dopri5", tuple(METHODS)),
    Arg("rtol", "number", 1e-5, bound="> 0", doc="relative tolerance (adaptive methods)"),
    Arg("atol", "number", 1e-5, bound="> 0", doc="absolute tolerance (adaptive methods)"),
    Arg("step_size", "number", None, bound="> 0", doc="step of fixed-step methods"),
    Arg("trace", "symbol", "auto", TRACES, doc="how a flow's divergence is computed"),
    Arg("max_num_steps", "int", 10000, bound="> 0", doc="steps before a solve fails"),
    Arg(
        "batch",
        "symbol",
        "joint",
        BATCH_MODES,
        doc="one step size for the batch (:joint) or one per example (:independent)",
    ),
    Arg(
        "adams_mode",
        "symbol",
        "pece",
        ("pece", "pec"),
        doc=":adams evaluates twice a step (:pece) or once (:pec)",
    ),
)
SOLVER_OPTIONS: dict[str, Arg] = {
    a.name: a
    for a in (
        *_EVAL_SOLVER_OPTIONS,
        Arg("gradient", "symbol", "adjoint", GRADIENTS, doc="how gradients are computed"),
    )
}
EVAL_OPTIONS: dict[str, Arg] = {a.name: a for a in _EVAL_SOLVER_OPTIONS}
"""Options of the nested `eval` block of `solver`: evaluation overrides, no `gradient`."""

# -- training ---------------------------------------------------------------------------------

OPTIMIZERS: dict[str, tuple[Arg, ...]] = {
    "Adam": (
        Arg("lr", "number", 1e-3, bound="> 0"),
        Arg("weight_decay", "number", 0.0, bound=">= 0"),
    ),
    "AdamW": (
        Arg("lr", "number", 1e-3, bound="> 0"),
        Arg("weight_decay", "number", 0.01, bound=">= 0"),
    ),
    "SGD": (
        Arg("lr", "number", 0.01, bound="> 0"),
        Arg("momentum", "number", 0.0, bound=">= 0"),
        Arg("weight_decay", "number", 0.0, bound=">= 0"),
        Arg("nesterov", "bool", False),
    ),
}

SCHEDULES: tuple[str, ...] = ("constant", "cosine")
STEP_SCHEDULE: tuple[Arg, ...] = (
    Arg("at", "int_list", doc="steps (or epochs) at which the learning rate is multiplied"),
    Arg("factor", "number", 0.1, bound="> 0"),
)

OBJECTIVES: tuple[str, ...] = ("likelihood", "kl", "elbo", "iwae", "cross_entropy", "map")

TRAIN_OPTIONS: dict[str, Arg] = {
    a.name: a
    for a in (
        Arg("optimizer", "optimizer", "Adam", doc="Adam(...), AdamW(...) or SGD(...)"),
        Arg("steps", "int", None, bound="> 0", doc="optimisation steps"),
        Arg("epochs", "int", None, bound="> 0", doc="passes over the data set"),
        Arg("objective", "symbol", None, OBJECTIVES, doc="inferred from the model when absent"),
        Arg("schedule", "schedule", "constant", doc=":constant, :cosine or Step(at, factor)"),
        Arg("kinetic", "number", 0.0, bound=">= 0", doc="weight of ∫‖f‖² dt"),
        Arg("jacobian", "number", 0.0, bound=">= 0", doc="weight of ∫‖∂f/∂z‖²_F dt"),
        Arg("warmup", "int", 0, bound=">= 0", doc="steps of linear learning-rate warm-up"),
        Arg("batch", "int", 128, bound="> 0", doc="examples (or base samples) per step"),
        Arg("seed", "int", 0, bound=">= 0"),
        Arg("samples", "int", 1, bound="> 0", doc="posterior samples per example (elbo, iwae)"),
        Arg(
            "kl_warmup",
            "int",
            0,
            bound=">= 0",
            doc="steps over which a latent model's KL weight rises linearly from 0 to 1",
        ),
        Arg(
            "encoder_window",
            "number",
            1.0,
            bound="in (0, 1]",
            doc="least leading fraction of each series a latent model's encoder reads in training",
        ),
        Arg(
            "refine",
            "int",
            0,
            bound=">= 0",
            doc="Adam steps refining a latent model's posterior mean for its predictions",
        ),
        Arg(
            "eval_every",
            "int",
            0,
            bound=">= 0",
            doc="score the validation split every N steps (epochs in a run of epochs) and at "
            "the end; best.pt keeps the best score (0: no validation)",
        ),
        Arg(
            "patience",
            "int",
            0,
            bound=">= 0",
            doc="stop after this many validation scores in a row without improvement (0: never)",
        ),
    )
}
DEFAULT_STEPS = 1000
LATENT_TRAIN_OPTIONS = {
    "samples": "`samples` counts the posterior draws of a latent model's bound",
    "kl_warmup": "`kl_warmup` ramps the weight of the KL term of a latent model's bound",
    "encoder_window": "`encoder_window` shortens what a latent model's encoder reads in training",
    "refine": "`refine` moves a latent model's posterior mean towards its mode for predictions",
}
"""The `train` options that only latent models read, with what they do."""
SELECTION_OPTIONS = {
    "patience": "`patience` counts validation scores, and there are none without `eval_every`",
}
"""The `train` options that only act when the validation split is scored (`eval_every` > 0)."""

# The options of `data` besides its source: `batch` is shared with `train`.
DATA_OPTIONS: dict[str, Arg] = {
    "batch": TRAIN_OPTIONS["batch"],
    "crop": Arg(
        "crop",
        "int",
        0,
        bound=">= 0",
        doc="pixels of zero padding of a random crop of each training image (0: none)",
    ),
    "rotate": Arg(
        "rotate",
        "number",
        0.0,
        bound=">= 0",
        doc="degrees: each training image is rotated by an angle uniform in ±rotate",
    ),
    "zoom": Arg(
        "zoom",
        "number",
        0.0,
        bound="in [0, 1)",
        doc="each training image is scaled by a factor uniform in 1 ± zoom",
    ),
    "shift": Arg(
        "shift",
        "number",
        0.0,
        bound=">= 0",
        doc="pixels: each training image is moved by amounts uniform in ±shift on each axis",
    ),
}
AUGMENTATIONS = ("crop", "rotate", "zoom", "shift")
"""The `data` options that augment training images."""

# -- sections ---------------------------------------------------------------------------------

SECTIONS: tuple[str, ...] = (
    "constants",
    "data",
    "params",
    "networks",
    "states",
    "dynamics",
    "flow",
    "target",
    "prior",
    "encoder",
    "likelihood",
    "solver",
    "train",
)
