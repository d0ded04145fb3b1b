"""Checks beyond the reference specs: network sizes against PyTorch's own layers, the trace
strategy, solver and training options, time-dependent parameters, and error collection."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from torch import nn

from odedsl.errors import SpecError
from odedsl.lang import check_text
from odedsl.lang import model as ir
from odedsl.lang.declarations import declare_networks
from odedsl.lang.diagnostics import Reporter
from odedsl.lang.env import Env
from odedsl.lang.networks import resolve
from odedsl.lang.parser import parse
from odedsl.lang.sections import collect_sections
from odedsl.lang.source import Source
from odedsl.lang.summary import summarize


def layer(expr: str, input_shape: tuple[int | None, ...]) -> ir.Layer:
    """The network ``f = <expr>`` resolved for one input of ``input_shape``."""
    source = Source(f"model M\n    networks\n        f = {expr}\n    end\nend\n")
    reporter = Reporter(source)
    env = Env.create(source, reporter)
    declare_networks(env, collect_sections(parse(source, reporter), reporter))
    assert not reporter.diagnostics, [str(d) for d in reporter.diagnostics]
    return resolve(env.networks.entries["f"].spec, input_shape)


def count(*modules: nn.Module) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


class _Linears(nn.Module):
    def __init__(self, *sizes: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(sizes))


@pytest.mark.parametrize(
    ("expr", "shape", "torch_modules"),
    [
        ("Dense(2 => 64, tanh)", (2,), lambda: [nn.Linear(2, 64)]),
        ("MLP(1 => 32 => 64, out = :sigmoid)", (), lambda: [_Linears(1, 32, 64)]),
        ("Conv(1 => 32, 3, pad = 1)", (1, 8, 8), lambda: [nn.Conv2d(1, 32, 3, padding=1)]),
        ("ConcatConv(32 => 32, 3)", (32, 8, 8), lambda: [nn.Conv2d(33, 32, 3)]),
        ("Chain(GroupNorm(8), relu)", (32, 8, 8), lambda: [nn.GroupNorm(8, 32)]),
        ("RNN(2 => 25 => 8)", (30, 2), lambda: [nn.Linear(27, 25), nn.Linear(25, 8)]),
        ("GRU(2 => 25 => 8)", (30, 2), lambda: [nn.GRUCell(2, 25), nn.Linear(25, 8)]),
        (
            "ODERNN(2 => 25 => 8)",
            (None, 2),
            lambda: [nn.GRUCell(2, 25), _Linears(25, 25, 25), nn.Linear(25, 8)],
        ),
    ],
)
def test_parameter_counts_match_pytorch_layers(expr, shape, torch_modules) -> None:
    assert layer(expr, shape).parameter_count == count(*torch_modules())


@pytest.mark.parametrize(
    ("expr", "module", "size"),
    [
        ("Conv(1 => 64, 3)", nn.Conv2d(1, 64, 3), 28),
        ("Conv(64 => 64, 4, stride = 2, pad = 1)", nn.Conv2d(64, 64, 4, 2, 1), 26),
        ("Conv(64 => 64, 4, stride = 2, pad = 1)", nn.Conv2d(64, 64, 4, 2, 1), 13),
        ("Conv(3 => 5, 5, stride = 3, pad = 2)", nn.Conv2d(3, 5, 5, 3, 2), 11),
    ],
)
def test_convolution_output_shapes_match_pytorch(expr, module, size) -> None:
    channels = module.in_channels
    expected = module(torch.zeros(1, channels, size, size)).shape[1:]
    assert layer(expr, (channels, size, size)).out_shape == tuple(expected)


FLOW = """model F
    constants
        D = {D}
    end
    networks
        f = MLP(D => 16 => D)
    end
    states
        z(t) :: Real[D]
        t ∈ (0.0, 1.0)
    end
    flow
        dz/dt = {rhs}
        z(0) ~ Normal(0, I(D))
    end
    target
        log p(x) = -norm(x)
    end
    solver
        {solver}
    end
end
"""


def flow(D: int = 2, rhs: str = "f(z)", solver: str = "method = :dopri5") -> ir.CheckedModel:
    return check_text(FLOW.format(D=D, rhs=rhs, solver=solver))


@pytest.mark.parametrize(
    ("D", "rhs", "solver", "strategy"),
    [
        (2, "tanh(z) * f(z)[1]", "trace = :auto", "exact"),  # a network on the state, D <= 16
        (16, "f(z)", "trace = :auto", "exact"),
        (17, "f(z)", "trace = :auto", "hutchinson"),  # D > 16
        (17, "-z * sum(f(z))", "trace = :exact", "exact"),  # requested
        (2, "-z", "trace = :hutchinson", "hutchinson"),
        (2, "-z * exp(-norm(z))", "trace = :auto", "symbolic"),  # closed form in z
    ],
)
def test_trace_strategy(D, rhs, solver, strategy) -> None:
    model = flow(D, rhs, solver)
    assert model.solver.trace == strategy
    if "f(z)" in rhs and strategy != "symbolic":
        assert model.network("f").calls == 1


def test_fixed_step_training_with_adaptive_evaluation() -> None:
    model = flow(
        rhs="-z",
        solver="method = :rk4\n        step_size = 0.25\n        eval\n"
        "            method = :dopri5\n            rtol = 1e-7\n            trace = :exact\n"
        "        end",
    )
    assert (model.solver.method, model.solver.step_size, model.solver.adaptive) == (
        "rk4",
        0.25,
        False,
    )
    evaluation = model.eval_solver
    assert (evaluation.method, evaluation.rtol, evaluation.step_size) == ("dopri5", 1e-7, None)
    assert (model.solver.trace, evaluation.trace) == ("symbolic", "exact")


def test_defaults_of_solver_and_training() -> None:
    model = flow(rhs="-z", solver="gradient = :checkpoint")
    assert model.solver == ir.SolverSettings(
        "dopri5", True, 1e-5, 1e-5, None, "checkpoint", 10000, "symbolic", model.solver.trace_reason
    )
    train = model.train
    assert (train.optimizer, train.steps, train.epochs, train.batch) == (
        ir.Optimizer("Adam", 1e-3, {"weight_decay": 0.0}),
        1000,
        None,
        128,
    )
    assert train.schedule == ir.Schedule("constant")


def test_time_dependent_parameter_from_a_hypernetwork() -> None:
    text = """model H
    constants
        M = 4
    end
    params
        w(t) :: Real[M, 2] = hyper(t)
        b :: Real[M]
    end
    networks
        hyper = MLP(1 => 8 => M * 2)
    end
    states
        z(t) :: Real[2]
        t ∈ (0.0, 1.0)
    end
    flow
        dz/dt = sum(w[n] * tanh(w(t)[n]' * z + b[n]) for n in 1:M)
        z(0) ~ Normal(0, I(2))
    end
    target
        log p(x) = -norm(x)
    end
end
"""
    model = check_text(text)
    w = model.param("w")
    assert (w.shape, w.hyper) == ((4, 2), "hyper")
    # the hypernetwork's weights are counted, the parameter it computes is not
    assert model.parameter_count == 4 + (1 * 8 + 8) + (8 * 8 + 8)
    refs = [
        e for e in ir.subexpressions(model.dynamics.derivatives[0].rhs) if isinstance(e, ir.Var)
    ]
    assert all(r.time.name == "t" for r in refs if r.name == "w")
    assert model.solver.trace == "symbolic"  # w depends on t only


DATA_FLOW = """model U
    data
        x :: Real[{D}] ~ {source}
        {options}
    end
    states
        z(t) :: Real[{D}]
        t ∈ (0.0, 1.0)
    end
    flow
        dz/dt = -z
        z(0) ~ Normal(0, I({D}))
        z(1.0) = x
    end
end
"""


def test_user_data_file_with_declared_shape() -> None:
    source = 'NPZ(path = "points.npz", key = "train")'
    model = check_text(DATA_FLOW.format(D=3, source=source, options=""))
    assert dict(model.data.args) == {"path": "points.npz", "key": "train", "seed": 0}
    assert model.data.variables[0].shape == (3,)


def test_all_independent_semantic_errors_are_reported_in_one_run() -> None:
    text = FLOW.format(D=2, rhs="g(z) + q", solver="method = :dopri9\n        rtoll = 1")
    with pytest.raises(SpecError) as caught:
        check_text(text)
    codes = [d.code for d in caught.value.diagnostics]
    # unknown network g, unknown name q, bad method value, unknown option rtoll
    assert codes == ["E030", "E030", "E081", "E080"]
    assert all(d.severity == "error" and d.path == "<string>" for d in caught.value.diagnostics)


def test_an_expression_nested_too_deeply_is_a_located_error_not_a_crash() -> None:
    deep = "-" * 12000 + "z"  # 12 000 nested negations: beyond the checker's recursion limit
    with pytest.raises(SpecError) as caught:
        flow(rhs=deep)
    assert [d.code for d in caught.value.diagnostics] == ["E017"]


def test_a_long_sum_checks() -> None:
    assert flow(rhs=" + ".join(["z"] * 2000)).dynamics.derivatives[0].rhs.shape == (2,)


CLASSIFIER = """model C
    data
        {source}
        {options}
    end
    networks
        f = Chain(ConcatConv(1 => 1, 3, pad = 1))
        head = Chain(Flatten(), Dense({pixels} => 10))
    end
    states
        h(t) :: Real[1, {side}, {side}]
        t ∈ (0.0, 1.0)
    end
    dynamics
        h(0) = x
        dh/dt = f(t, h)
    end
    likelihood
        y ~ Categorical(logits = head(h(1.0)))
    end
end
"""


def classifier(options: str, source: str = "(x, y) ~ Digits()", side: int = 8) -> ir.CheckedModel:
    text = CLASSIFIER.format(source=source, options=options, side=side, pixels=side * side)
    return check_text(text, "c.ode")


LATENT_SPIRALS = Path(__file__).parents[2] / "specs" / "latent_spirals.ode"


def latent(option: str) -> ir.CheckedModel:
    """The reference latent spec with ``option`` added to `train` (before `steps`; a line of
    the spec's own that sets the same option, after `steps`, is dropped)."""
    text = LATENT_SPIRALS.read_text(encoding="utf-8")
    name = option.split("=")[0].strip()
    text = re.sub(rf"(?m)^ *{name} *=.*\n", "", text)
    text = text.replace("        steps = 8000\n", f"        {option}\n        steps = 8000\n")
    return check_text(text, "l.ode")


STEPS_LINE = 1 + LATENT_SPIRALS.read_text(encoding="utf-8").splitlines().index(
    "        steps = 8000"
)


def test_crop_of_training_images_reaches_the_model_and_its_summary() -> None:
    model = classifier("crop = 2\n        batch = 64")
    assert (model.data.dataset, model.data.crop, model.train.batch) == ("Digits", 2, 64)
    assert "random crop with 2 px of zero padding (training only)" in summarize(model)
    plain = classifier("batch = 64")
    assert plain.data.crop == 0 and "crop" not in summarize(plain)
    mnist = classifier("crop = 4", '(x, y) ~ MNIST(root = "mnist")', side=28)
    assert mnist.data.crop == 4


def test_affine_augmentation_reaches_the_model_and_its_summary() -> None:
    model = classifier("rotate = 15\n        zoom = 0.1\n        shift = 1")
    data = model.data
    assert (data.rotate, data.zoom, data.shift, data.crop, data.augmented) == (15, 0.1, 1, 0, True)
    assert (
        "rotation by up to ±15°, zoom by 1 ± 0.1, shift by up to ±1 px (training only)"
        in summarize(model)
    )
    both = classifier("crop = 1\n        rotate = 10").data
    assert (both.crop, both.rotate, both.zoom, both.augmented) == (1, 10, 0, True)
    assert not classifier("batch = 64").data.augmented


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("crop", "-1", "`crop` must not be negative, but it is -1"),
        ("crop", "1.5", "`crop` must be an integer, but it is 1.5"),
        ("crop", ":yes", "`crop` must be an integer"),
        ("rotate", "-5", "`rotate` must not be negative, but it is -5"),
        ("zoom", "1", "`zoom` must be in [0, 1), but it is 1"),
        ("zoom", "-0.1", "`zoom` must be in [0, 1), but it is -0.1"),
        ("shift", ":some", "`shift` must be a number"),
        ("kl_warmup", "-1", "`kl_warmup` must not be negative, but it is -1"),
        ("kl_warmup", "2.5", "`kl_warmup` must be an integer, but it is 2.5"),
        ("kl_warmup", ":linear", "`kl_warmup` must be an integer"),
        ("encoder_window", "0", "`encoder_window` must be in (0, 1], but it is 0"),
        ("encoder_window", "1.5", "`encoder_window` must be in (0, 1], but it is 1.5"),
        ("refine", "-5", "`refine` must not be negative, but it is -5"),
        ("refine", "0.5", "`refine` must be an integer, but it is 0.5"),
    ],
)
def test_a_bad_crop_or_latent_option_is_refused_at_its_value(
    option: str, value: str, message: str
) -> None:
    # `crop` is on line 4 of the classifier's `data`; the latent options go before `steps`
    make, (path, line, column) = {
        "crop": (classifier, ("c.ode", 4, 16)),
        "rotate": (classifier, ("c.ode", 4, 18)),
        "zoom": (classifier, ("c.ode", 4, 16)),
        "shift": (classifier, ("c.ode", 4, 17)),
        "kl_warmup": (latent, ("l.ode", STEPS_LINE, 21)),
        "encoder_window": (latent, ("l.ode", STEPS_LINE, 26)),
        "refine": (latent, ("l.ode", STEPS_LINE, 18)),
    }[option]
    with pytest.raises(SpecError) as caught:
        make(f"{option} = {value}")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("E081", line, column)
    assert diagnostic.message.startswith(message)
    assert f"{path}:{line}:{column}: error[E081]" in caught.value.rendered


@pytest.mark.parametrize("option", ["crop = 1", "rotate = 10", "zoom = 0.1", "shift = 0.5"])
def test_augmentation_is_for_image_data_sets_only(option: str) -> None:
    with pytest.raises(SpecError) as caught:
        check_text(DATA_FLOW.format(D=2, source="Moons()", options=option), "m.ode")
    (diagnostic,) = caught.value.diagnostics
    name = option.split()[0]
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("E080", 4, 9)
    assert diagnostic.message == f"`{name}` applies to images only, and `Moons` gives no images"
    assert diagnostic.help.startswith(f"remove `{name}`") and "`Digits`, `MNIST`" in diagnostic.help
    assert diagnostic.notes[0].span.line == 3  # the data set
    assert not check_text(DATA_FLOW.format(D=2, source="Moons()", options="")).data.augmented


def test_kl_warmup_reaches_the_training_settings_and_the_summary() -> None:
    model = latent("kl_warmup = 500")
    assert model.train.kl_warmup == 500 and not model.warnings
    assert "seed 0, KL warm-up over 500 steps" in summarize(model)
    plain = check_text(LATENT_SPIRALS.read_text(encoding="utf-8"), "l.ode")
    assert plain.train.kl_warmup == 0 and "warm-up" not in summarize(plain)


def test_encoder_window_reaches_the_training_settings_and_the_summary() -> None:
    model = latent("encoder_window = 0.5")
    assert model.train.encoder_window == 0.5 and not model.warnings
    assert "seed 0, encoder reads ≥ 0.5 of each training series" in summarize(model)
    whole = latent("encoder_window = 1")
    assert whole.train.encoder_window == 1.0 and "encoder reads" not in summarize(whole)


def test_refine_reaches_the_training_settings_and_the_summary() -> None:
    model = latent("refine = 20")
    assert model.train.refine == 20 and not model.warnings
    assert summarize(model).endswith(
        "of each training series, predictions refine the posterior mean by 20 steps"
    )
    plain = latent("refine = 0")
    assert plain.train.refine == 0 and "refine" not in summarize(plain)


@pytest.mark.parametrize(
    ("option", "value"), [("kl_warmup", "10"), ("encoder_window", "0.5"), ("refine", "50")]
)
def test_latent_training_options_have_no_effect_outside_latent_models(
    option: str, value: str
) -> None:
    text = FLOW.format(D=2, rhs="f(z)", solver="method = :dopri5")
    statement = f"        {option} = {value}"
    text = text[: text.rstrip().rfind("end")] + f"    train\n{statement}\n    end\nend\n"
    model = check_text(text, "f.ode")
    (warning,) = model.warnings
    line = text.splitlines().index(statement) + 1
    assert (warning.code, warning.line, warning.column) == ("W004", line, 9)
    assert warning.message == f"`{option}` only applies to latent models"
    assert f"a flow matching a target density: remove `{option}`" in warning.help
    summary = summarize(model)
    assert not any(what in summary for what in ("warm-up", "encoder reads", "refine"))


def test_adams_mode_is_read_by_adams_and_has_no_effect_elsewhere() -> None:
    assert flow(solver="method = :adams\n        adams_mode = :pec").solver.adams_mode == "pec"
    assert flow(solver="method = :adams").solver.adams_mode == "pece"
    model = flow(solver="method = :tsit5\n        adams_mode = :pec")
    (warning,) = model.warnings
    assert warning.code == "W004"
    assert warning.message == "`adams_mode` only applies to `:adams`, not `:tsit5`"


@pytest.mark.parametrize(("method", "warns"), [("implicit_adams", False), ("rk4", True)])
def test_tolerances_have_an_effect_on_implicit_adams_only_among_fixed_steps(
    method: str, warns: bool
) -> None:
    # implicit_adams iterates its corrector to rtol/atol; other fixed-step methods ignore them
    model = flow(solver=f"method = :{method}\n        step_size = 0.1\n        rtol = 1e-3")
    assert [w.code for w in model.warnings] == (["W004"] if warns else [])
