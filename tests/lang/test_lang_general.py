"""The general language (issue 18): vector literals, zeros/ones/vcat/first, elementwise
operators, networks of several inputs, Real / Positive / initialised parameters, the
distribution catalogue (Laplace, Poisson, any expression as a parameter, supports), several
observations, priors on parameters, and the kinds supervised / trajectory with their
objectives. Each refusal is checked for its code, its place and its advice."""

from __future__ import annotations

from pathlib import Path

import pytest

from odedsl.errors import SpecError
from odedsl.lang import check_text
from odedsl.lang import model as ir
from odedsl.lang.builtins import DISTRIBUTIONS
from odedsl.lang.summary import summarize

TRAJECTORY = """\
model Traj
    constants
        D = 2
    end
    data
        (ts, x) ~ Spirals2D(n = 20, observed = 7)
    end
    params
        a :: Real = 0.5
        σ :: Positive
        s :: Positive[D] = [0.1, 0.2]
        z0 :: Real[D] = [1.0, 0.0]
{params}
    end
    networks
        g = MLP(2 => 8 => 2)
        f = MLP(1 + D => 8 => D)
{networks}
    end
    states
        z(t) :: Real[D]
        h(t) :: Real[5]
    end
{prior}
    dynamics
        z(0) = {z0}
        h(0) = {h0}
        dz/dt = {rhs}
        dh/dt = -h
    end
    likelihood
        for t in ts
            x[t] ~ {observation}
        end
{extra}
    end
{train}
end
"""

DEFAULTS = {
    "params": "",
    "networks": "",
    "prior": "",
    "z0": "z0",
    "h0": "vcat(first(x), zeros(3))",
    "rhs": "[a * z[1] - g(z)[1], g(z)[2] - 0.8 * z[2]] .+ f(t, z) .* s",
    "observation": "Normal(z(t), σ)",
    "extra": "",
    "train": "",
}


def trajectory(**changes: str) -> str:
    return TRAJECTORY.format(**{**DEFAULTS, **changes})


def refusal(text: str, code: str) -> tuple[str, str | None, int]:
    """The first diagnostic with ``code``: its message, help and line."""
    with pytest.raises(SpecError) as caught:
        check_text(text, "spec.ode")
    found = [d for d in caught.value.diagnostics if d.code == code]
    assert found, caught.value.rendered
    return found[0].message, found[0].help, found[0].line


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


# -- the general trajectory model --------------------------------------------------------------


def test_a_trajectory_model_with_every_new_form():
    model = check_text(trajectory(), "spec.ode")
    assert model.kind == "trajectory"
    assert model.train.objective == "likelihood" and model.train.objective_inferred
    assert model.dynamics.time.end is None and model.dynamics.time.start == 0.0
    params = {p.name: p for p in model.params}
    assert params["a"] == ir.Param("a", (), None, params["a"].loc, False, 0.5)
    assert params["σ"].positive and params["σ"].init is None and params["σ"].shape == ()
    assert params["s"].positive and params["s"].init == (0.1, 0.2)
    assert params["z0"].init == (1.0, 0.0)
    rhs = model.dynamics.derivatives[0].rhs
    assert isinstance(rhs, ir.BinOp) and rhs.op == "+" and rhs.shape == (2,)
    assert isinstance(rhs.left, ir.Vector) and len(rhs.left.elements) == 2
    product = rhs.right
    assert isinstance(product, ir.BinOp) and product.op == "*"  # `.*` is elementwise
    network = product.left
    assert isinstance(network, ir.NetworkCall) and len(network.args) == 2
    assert model.network("f").in_shape == (3,)
    start = next(i for i in model.dynamics.initial if i.state == "h").value
    assert isinstance(start, ir.Call) and start.function == "vcat" and start.shape == (5,)
    first, zeros = start.args
    assert (first.function, first.shape, zeros.function, zeros.shape) == (
        "first",
        (2,),
        "zeros",
        (3,),
    )
    (observation,) = model.likelihood
    std = observation.distribution.params["std"]
    assert isinstance(std, ir.Var) and std.role == "param" and std.name == "σ"


def test_a_trajectory_starts_where_its_initial_conditions_say():
    text = trajectory().replace("z(0) = z0", "z(0.5) = z0").replace("h(0) =", "h(0.5) =")
    assert check_text(text, "spec.ode").dynamics.time.start == 0.5


@pytest.mark.parametrize(
    ("z0", "shape"),
    [
        ("[1.0, 0.0]", (2,)),
        ("zeros(D)", (2,)),
        ("first(x)", (2,)),
        ("ones(2) .* a", (2,)),
        ("z0 + [a, σ]", (2,)),
    ],
)
def test_initial_states_from_parameters_constants_and_data(z0, shape):
    model = check_text(trajectory(z0=z0), "spec.ode")
    start = next(i for i in model.dynamics.initial if i.state == "z").value
    assert start.shape == shape


def test_several_observations_inside_and_outside_loops():
    extra = "        x ~ Laplace(0, 1)"  # the whole series at once, outside the loop
    text = trajectory(
        observation="Normal(z(t), σ)\n            x[t] ~ Laplace(h(t)[1:2], s)", extra=extra
    )
    model = check_text(text, "spec.ode")
    assert [o.distribution.family for o in model.likelihood] == ["Normal", "Laplace", "Laplace"]
    assert [o.time_var for o in model.likelihood] == ["t", "t", None]
    assert model.likelihood[1].distribution.params["scale"].name == "s"


def test_distribution_parameters_may_be_expressions_of_params_states_and_data():
    text = trajectory(observation="Normal(g(z(t)) .* s, σ * (1 + abs(z(t))) + 0.01 * a)")
    (observation,) = check_text(text, "spec.ode").likelihood
    assert observation.distribution.params["std"].shape == (2,)


# -- priors on parameters -----------------------------------------------------------------------


def test_priors_on_parameters_make_a_map_objective_not_a_latent_model():
    prior = "    prior\n        a ~ Normal(0, 1)\n        s ~ Laplace(0.1, [1.0, 2.0])\n    end"
    model = check_text(trajectory(prior=prior), "spec.ode")
    assert model.kind == "trajectory" and not model.latents
    assert model.train.objective == "map" and model.train.objective_inferred
    assert [(p.name, p.distribution.family) for p in model.param_priors] == [
        ("a", "Normal"),
        ("s", "Laplace"),
    ]
    assert model.param_priors[1].distribution.event_shape == (2,)
    chosen = check_text(
        trajectory(prior=prior, train="    train\n        objective = :likelihood\n    end"),
        "s.ode",
    )
    assert chosen.train.objective == "likelihood"


@pytest.mark.parametrize(
    ("prior", "code", "message"),
    [
        ("s ~ Normal([0.0, 1.0, 2.0], 1)", "E040", "the mean is Real[3], but `s` is Real[2]"),
        ("a ~ Normal(0, 1)\n        a ~ Normal(0, 2)", "E053", "`a` has a second prior"),
        ("a ~ Normal(z0[1], 1)", "E033", "`z0` is a parameter and cannot be used in the prior"),
        ("a :: Real ~ Normal(0, 1)", "E047", "`a` is a parameter: its prior takes"),
        ("a ~ Poisson(1.0)", "E063", "`Poisson` cannot be used here"),
    ],
)
def test_refused_priors_on_parameters(prior, code, message):
    text = trajectory(prior=f"    prior\n        {prior}\n    end")
    found, _, _ = refusal(text, code)
    assert message in found


# -- vectors and elementwise operators -------------------------------------------------------


@pytest.mark.parametrize(
    ("rhs", "code", "message", "advice"),
    [
        (
            "[z, 1.0]",
            "E040",
            "a vector `[a, b, ...]` holds scalars, but entry 1 is Real[2]",
            "vcat",
        ),
        ("[]", "E090", "an empty vector `[]` has no length", "zeros(n)"),
        (
            "z .* [1.0, 2.0, 3.0]",
            "E040",
            "cannot multiply Real[2] and Real[3] elementwise (`.*`)",
            "a scalar and any value",
        ),
        ("z ^ [1.0, 2.0]", "E040", "cannot raise Real[2] and Real[2] to a non-scalar", "`.^`"),
        ("vcat(z[1], reshape(h, 5, 1))[1:2]", "E040", "argument 2 is Real[5, 1]", "reshape"),
        ("zeros(1.5)", "E036", "", None),
        ("first(z)", "E033", "", None),
    ],
)
def test_refused_vector_forms(rhs, code, message, advice):
    found, help, line = refusal(trajectory(rhs=rhs), code)
    assert message in found
    assert line == line_of(trajectory(rhs=rhs), "dz/dt")
    if advice:
        assert advice in help


def test_first_takes_an_observed_series_only():
    found, help, _ = refusal(trajectory(h0="vcat(first(ts), zeros(4))"), "E033")
    assert "`first` takes an observed series" in found and "`ts` is the observation times" in found
    assert "(ts, x) ~ Spirals2D()" in help


def test_elementwise_operators_parse_with_their_precedence():
    model = check_text(trajectory(rhs="z .+ z .* z .^ 2 ./ s .- a"), "spec.ode")
    rhs = model.dynamics.derivatives[0].rhs
    # ((z + ((z * (z ^ 2)) / s)) - a)
    assert rhs.op == "-" and rhs.left.op == "+" and rhs.left.right.op == "/"
    assert rhs.left.right.left.op == "*" and rhs.left.right.left.right.op == "^"


# -- networks of several inputs -------------------------------------------------------------------


def test_a_joined_input_that_does_not_fit_says_how_to_fix_it():
    text = trajectory(rhs="g(t, z)")
    found, help, line = refusal(text, "E043")
    assert found == "network `g` reads 2 inputs, but `t, z` join to 3 (1 + 2)"
    assert help == "declare it with 3 inputs, `MLP(3 => ...)`, or call `g(z)`"
    assert line == line_of(text, "dz/dt")


def test_only_dense_networks_join_inputs():
    networks = "        c = Chain(Conv(1 => 2, 3), GlobalMeanPool())"
    found, help, _ = refusal(trajectory(networks=networks, rhs="c(t, z)"), "E044")
    assert "only a network whose first layer is dense" in found and "c(x)" in help


def test_a_network_reads_a_matrix_parameter_flattened():
    networks = "        k = Dense(1 + D + 4 => 2)"
    params = "        w :: Real[2, 2]"
    model = check_text(trajectory(networks=networks, params=params, rhs="k(a, z, w)"), "s.ode")
    assert model.network("k").in_shape == (7,)


# -- parameters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declaration", "code", "message"),
    [
        (
            "q :: Real[3] = [1.0, 2.0]",
            "E040",
            "`q` is Real[3] (3 entries), but its initial value has 2",
        ),
        (
            "q :: Positive = -1.0",
            "E062",
            "`q` is Positive, so its initial value must be > 0, not -1",
        ),
        ("q :: Positive[2] = [1.0, 0.0]", "E062", "must be > 0, not 0"),
        ("q :: Real = a", "E035", ""),
        ("q :: Positve", "E047", "a type is"),
    ],
)
def test_refused_parameter_declarations(declaration, code, message):
    text = trajectory(params=f"        {declaration}")
    found, _, line = refusal(text, code)
    assert message in found
    assert line == line_of(text, declaration)


def test_only_parameters_are_positive():
    text = trajectory().replace("h(t) :: Real[5]", "h(t) :: Positive[5]")
    found, help, _ = refusal(text, "E047")
    assert found == "only a parameter is `Positive`" and "Real" in help


def test_a_scalar_initial_value_fills_the_shape():
    model = check_text(trajectory(params="        q :: Real[2, 3] = 0.25"), "spec.ode")
    assert model.param("q").init == 0.25 and model.param("q").shape == (2, 3)


# -- distributions --------------------------------------------------------------------------------


def test_the_catalogue_describes_each_distribution():
    assert DISTRIBUTIONS["Laplace"].support == "real"
    assert DISTRIBUTIONS["Poisson"].support == "count"
    assert DISTRIBUTIONS["Poisson"].constraints == {"rate": "positive"}
    assert DISTRIBUTIONS["Categorical"].support == "label"
    assert DISTRIBUTIONS["PoissonProcess"].support == "events"


@pytest.mark.parametrize(
    ("observation", "code", "message"),
    [
        ("Poisson(-1.0)", "E062", "the rate of `Poisson` must be positive, not -1"),
        ("Laplace(z(t), 0)", "E062", "the scale of `Laplace` must be positive, not 0"),
        ("Laplace([1.0, 2.0, 3.0], 1)", "E040", "the mean is Real[3], but `x` is Real[2]"),
        ("Poisson(rate = h(t))", "E040", "the rate is Real[5], but `x` is Real[2]"),
        ("Categorical(logits = z(t))", "E063", "`Categorical` draws class labels"),
        ("PoissonProcess(λ, on = (0.0, 1.0))", "E063", "`PoissonProcess` draws event times"),
        ("Normal(z(t))", "E044", "`Normal` needs its argument `std`"),
        ("Laplace(z(t), σ, 1)", "E044", "too many arguments for `Laplace`"),
    ],
)
def test_refused_observations(observation, code, message):
    found, _, _ = refusal(trajectory(observation=observation), code)
    assert message in found


def test_poisson_is_a_distribution_of_counts_now():
    model = check_text(trajectory(observation="Poisson(exp(z(t)))"), "spec.ode")
    assert model.likelihood[0].distribution.params["rate"].shape == (2,)


# -- supervised models: classification and regression -------------------------------------------

SUPERVISED = """\
model Sup
    data
        {data}
    end
    params
        σ :: Positive
    end
    networks
        f = MLP(4 => 8 => 4)
        head = Dense(4 => {out})
    end
    states
        h(t) :: Real[4]
        t ∈ (0.0, 1.0)
    end
    dynamics
        h(0) = vcat({start})
        dh/dt = f(h)
    end
    likelihood
        {observation}
    end
{train}
end
"""


def supervised(
    observation: str,
    *,
    data: str = "x :: Real[2] ~ Moons()",
    start: str = "x, zeros(2)",
    out: int = 2,
    train: str = "",
) -> str:
    return SUPERVISED.format(data=data, start=start, observation=observation, out=out, train=train)


def test_a_regression_is_a_supervised_model_fitted_by_likelihood():
    model = check_text(supervised("x ~ Normal(head(h(1.0)), σ)"), "spec.ode")
    assert model.kind == "supervised"
    assert model.train.objective == "likelihood"


def test_a_classifier_is_a_supervised_model_and_keeps_cross_entropy():
    digits = "(x, y) ~ Digits()"
    text = supervised(
        "y ~ Categorical(logits = head(h(1.0)))",
        data=digits,
        start="reshape(x, 64)[1:2], zeros(2)",
        out=10,
        train="    train\n        objective = :cross_entropy\n    end",
    )
    model = check_text(text, "spec.ode")
    assert model.kind == "supervised" and model.train.objective == "cross_entropy"
    # a regression has no cross-entropy
    regression = supervised(
        "x ~ Laplace(head(h(1.0)), σ)",
        train="    train\n        objective = :cross_entropy\n    end",
    )
    found, help, _ = refusal(regression, "E085")
    assert found == "`:cross_entropy` does not fit a supervised model"
    assert help == "use `:likelihood`, or leave `objective` out to infer it"


@pytest.mark.parametrize(
    ("observation", "message"),
    [
        ("y ~ Normal(head(h(1.0)), σ)", "`Normal` draws real values, but `y` is a class label"),
        (
            "y ~ Bernoulli(logits = head(h(1.0)))",
            "`Bernoulli` draws 0 or 1, but `y` has 10 classes",
        ),
    ],
)
def test_digit_labels_need_a_distribution_of_ten_classes(observation, message):
    text = supervised(
        observation, data="(x, y) ~ Digits()", start="reshape(x, 64)[1:2], zeros(2)", out=1
    )
    found, help, _ = refusal(text, "E063")
    assert found == message
    assert "Categorical" in help


def test_a_supervised_model_needs_a_time_domain_a_trajectory_does_not():
    text = supervised("x ~ Normal(head(h(1.0)), σ)").replace("        t ∈ (0.0, 1.0)\n", "")
    found, _, _ = refusal(text, "E057")
    assert "kind `supervised`" in found


def test_a_flow_refuses_priors_on_parameters():
    flow = """\
model F
    params
        a :: Real
    end
    states
        z(t) :: Real[2]
        t ∈ (0.0, 1.0)
    end
    prior
        a ~ Normal(0, 1)
    end
    flow
        dz/dt = -a * z
        z(0) ~ Normal(0, I(2))
    end
    target
        log p(x) = -norm(x)
    end
end
"""
    found, help, _ = refusal(flow, "E025")
    assert "has no use for `prior`" in found and "supervised, trajectory and latent" in help


# -- what `odedsl check` says ---------------------------------------------------------------------


def summary_lines(text: str) -> list[str]:
    return summarize(check_text(text, "spec.ode")).splitlines()


def test_check_says_a_trajectory_model_and_its_map_objective_term_by_term():
    prior = "    prior\n        a ~ Normal(0, 1)\n    end"
    text = trajectory(prior=prior)
    lines = summary_lines(text)
    model = next(line for line in lines if line.startswith("  model"))
    assert "trajectory model" in model and "`z` starts the same for every series" in model
    start = next(n for n, line in enumerate(lines) if line.startswith("  objective"))
    observed, prior_line = line_of(text, "x[t] ~"), line_of(text, "a ~ Normal")
    assert lines[start].endswith(
        "maximum a posteriori (:map, inferred) = Σ_{t ∈ ts} log p(x[t] | …) "
        f"[x[t] ~ Normal, line {observed}]"
    )
    # one line per term, its sign under the `=`
    assert lines[start + 1].strip() == f"+ log p(a) [a ~ Normal, line {prior_line}]"
    assert lines[start + 1].index("+") == lines[start].index("=")


@pytest.mark.parametrize(
    ("observation", "words"),
    [
        ("x ~ Normal(head(h(1.0)), σ)", "regression"),
        ("x ~ Poisson(exp(head(h(1.0))))", "regression"),
    ],
)
def test_check_says_regression(observation, words):
    (model,) = [line for line in summary_lines(supervised(observation)) if "  model" in line]
    assert words in model
    objective = next(line for line in summary_lines(supervised(observation)) if "objective" in line)
    assert "maximum likelihood (:likelihood, inferred) = Σ log p(x | …)" in objective


def test_check_says_classification_for_the_reference_classifier():
    text = (Path(__file__).parents[2] / "specs" / "odenet_digits.ode").read_text()
    lines = summary_lines(text)
    assert any(line.startswith("  model       classification") for line in lines)
    assert any("Σ log p(y | …) [y ~ Categorical, line" in line for line in lines)


def test_check_says_what_a_latent_bound_is_made_of():
    text = (Path(__file__).parents[2] / "specs" / "latent_spirals.ode").read_text()
    lines = summary_lines(text)
    start = next(n for n, line in enumerate(lines) if line.startswith("  objective"))
    assert (
        "evidence lower bound (:elbo, inferred) = E_q Σ_{t ∈ ts} log p(x[t] | z0)" in lines[start]
    )
    assert lines[start + 1].strip().startswith("− KL(q(z0 | x) ‖ p(z0)) [z0 ~ Normal, line")


def test_the_whole_models_in_the_language_reference_check():
    text = (Path(__file__).parents[2] / "docs" / "language.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```julia\n")[1:]]
    # the error codes' examples (`model G`) are broken on purpose
    whole = [b for b in blocks if b.startswith("model ") and b.rstrip().endswith("\nend")]
    models = [b for b in whole if not b.startswith(("model G\n", "model Name\n"))]
    assert len(models) >= 2
    kinds = {check_text(b, "docs.ode").name: check_text(b, "docs.ode").kind for b in models}
    assert kinds["HybridOscillator"] == "trajectory"
    assert kinds["AugmentedRegression"] == "supervised"


def test_a_time_dependent_parameter_is_real():
    text = trajectory(
        params="        v(t) :: Positive[2] = hyper(t)", networks="        hyper = MLP(1 => 2)"
    )
    found, help, _ = refusal(text, "E047")
    assert "a time-dependent parameter is `Real`" in found and "softplus" in help
