"""``odedsl.compile``: overrides checked like spec values, state-dict round trips, seeded
initialisation, the training runtime's data and configuration, and a short training run."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
import torch

import odedsl
from odedsl.compiler import build_data, compile, generated_code, train_config
from odedsl.compiler.parameters import OUTPUT_SCALE, roles
from odedsl.data.augment import random_affine, random_crop
from odedsl.errors import SpecError
from odedsl.lang.summary import summarize
from odedsl.training import StreamingBatches, TensorBatches, TrainConfig
from odedsl.training.rng import batch_rng

from .specs import flow_spec

SPECS = Path(__file__).parents[2] / "specs"
MOONS = SPECS / "cnf_moons.ode"
DIGITS = SPECS / "odenet_digits.ode"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rtool": 1e-3}, "did you mean 'rtol'"),
        ({"rtol": -1.0}, "rtol must be positive"),
        ({"rtol": "tight"}, "rtol must be a finite number"),
        ({"steps": 2.5}, "steps must be an integer"),
        ({"method": "rk5"}, "did you mean 'rk4'"),
        ({"eval_method": "euler"}, "also pass eval_step_size"),
        ({"trace": "magic"}, "use one of auto, symbolic, exact, hutchinson"),
        ({"objective": "elbo"}, "does not fit"),
        ({"lr": 0}, "lr must be positive"),
        ({"kinetic": float("nan")}, "kinetic must be a finite number"),
        ({"steps": 10, "epochs": 2}, "pass one"),
        ({"kl_warmup": -1}, "kl_warmup must not be negative"),
        ({"kl_warmup": 2.5}, "kl_warmup must be an integer"),
        ({"kl_warmup": "500"}, "kl_warmup must be an integer"),
        ({"kl_warmup": 10}, "kl_warmup: only latent models read it"),
        ({"samples": 4}, "samples: only latent models read it"),
        ({"encoder_window": 0.5}, "encoder_window: only latent models read it"),
        ({"encoder_window": 0}, re.escape("encoder_window must be in (0, 1]")),
        ({"encoder_window": 1.5}, re.escape("encoder_window must be in (0, 1]")),
        ({"refine": 10}, "refine: only latent models read it"),
        ({"refine": -1}, "refine must not be negative"),
        ({"refine": 2.5}, "refine must be an integer"),
        # overrides that change no solver the model uses (moons: rk4 to train, dopri5 to evaluate)
        ({"adams_mode": "pec"}, "adams_mode='pec' has no effect: it applies to method 'adams'"),
        ({"eval_step_size": 0.1}, "eval_step_size=0.1 has no effect: .* 'dopri5'"),
        ({"method": "dopri5", "step_size": 0.1}, "step_size=0.1 has no effect"),
        ({"eval_method": "rk4", "eval_step_size": 0.1, "eval_rtol": 1e-3}, "also pass eval_method"),
        ({"rotate": 10}, "rotate: only image data sets are augmented, and CNFMoons reads Moons"),
        ({"crop": 1, "shift": 1}, "crop, shift: only image data sets are augmented"),
    ],
)
def test_bad_overrides_are_refused_by_name(overrides, message):
    with pytest.raises(ValueError, match=message):
        compile(MOONS, **overrides)


def test_fixed_step_override_needs_a_step_size():
    # the MNIST spec solves with the adaptive dopri5 and so sets no step_size
    with pytest.raises(ValueError, match="also pass step_size"):
        compile(SPECS / "odenet_mnist.ode", method="rk4")


def test_trace_override_on_a_classifier_is_refused():
    with pytest.raises(ValueError, match="only flows compute a trace"):
        compile(DIGITS, trace="exact")


def test_kl_warmup_override_reaches_the_latent_model():
    assert compile(SPECS / "latent_spirals.ode").kl_warmup == 0
    model = compile(SPECS / "latent_spirals.ode", kl_warmup=250)
    assert model.kl_warmup == 250 and model.spec.train.kl_warmup == 250


def test_encoder_window_override_reaches_the_latent_model():
    model = compile(SPECS / "latent_spirals.ode", encoder_window=0.25)
    assert model.encoder_window == 0.25 and model.spec.train.encoder_window == 0.25


def test_refine_override_reaches_the_latent_model():
    assert compile(SPECS / "latent_spirals.ode").refine == 50  # the spec's own
    model = compile(SPECS / "latent_spirals.ode", refine=7)
    assert model.refine == 7 and model.spec.train.refine == 7


def test_overrides_reach_the_model():
    model = compile(MOONS, method=":rk4", step_size=0.25, trace="exact", lr=0.01, steps=7)
    assert model.augmented.trace == "exact"
    assert model.train_solver.method == "rk4"
    assert model.train_solver.options["step_size"] == 0.25
    assert model.eval_solver.method == "rk4"
    assert model.spec.train.steps == 7 and model.spec.train.optimizer.lr == 0.01
    tolerant = compile(MOONS, rtol=1e-3, eval_rtol=1e-7, kinetic=0.1, jacobian=0.2)
    assert tolerant.train_solver.rtol == 1e-3 and tolerant.eval_solver.rtol == 1e-7
    assert tolerant.augmented.extras == 3  # log p, ∫‖f‖², ∫‖∂f/∂z‖²: one solve
    assert (tolerant.kinetic, tolerant.jacobian) == (0.1, 0.2)
    output = tolerant.loss(torch.randn(8, 2))
    assert output.loss.item() > output.metrics["fit"]  # the regularizers are positive


def test_state_dict_round_trip_and_seeded_initialisation():
    x = torch.randn(16, 2)
    first, again, other = compile(MOONS), compile(MOONS), compile(MOONS, seed=1)
    with torch.no_grad():
        assert torch.equal(first.log_prob(x), again.log_prob(x))  # same seed, same weights
        assert not torch.equal(first.log_prob(x), other.log_prob(x))
        other.load_state_dict(first.state_dict())
        assert torch.equal(first.log_prob(x), other.log_prob(x))


def test_state_dict_round_trip_through_a_file(tmp_path):
    model = compile(DIGITS, step_size=0.25)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    loaded = compile(DIGITS, step_size=0.25)
    loaded.load_state_dict(torch.load(tmp_path / "model.pt"))
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(loaded.predict(x), model.predict(x))


def test_initialisation_follows_the_documented_roles():
    spec = odedsl.check(MOONS)
    assert roles(spec) == {"w": "weight", "u": "output", "b": "bias"}
    dynamics = compile(spec).generated["dynamics"]
    assert torch.equal(dynamics.p_b, torch.zeros(64))
    # 128 draws each: the sample standard deviations are within 25 % of 1/√fan_in and 0.01.
    assert dynamics.p_w.std().item() == pytest.approx(1 / math.sqrt(2), rel=0.25)
    assert dynamics.p_u.std().item() == pytest.approx(OUTPUT_SCALE, rel=0.25)


def test_generated_code_of_a_spec_a_checked_model_and_a_model_agree():
    text = generated_code(MOONS)
    assert text == generated_code(odedsl.check(MOONS)) == generated_code(compile(MOONS))
    assert "def dynamics(m, t, s_z):" in text and "def dynamics_and_trace(" in text


def test_spec_errors_pass_through():
    with pytest.raises(SpecError):
        compile(flow_spec("unknown_name * z"))


def test_what_the_compiler_cannot_build_is_reported_at_its_place(tmp_path):
    # The checks accept one `~` statement reading the states at two times; the compiler reads
    # each statement at one time and says so with E100 at that statement.
    text = (SPECS / "odenet_digits.ode").read_text(encoding="utf-8")
    text = text.replace("head(h(1.0))", "head(h(1.0)) .+ head(h(0.5))")
    path = tmp_path / "two_times.ode"
    path.write_text(text, encoding="utf-8")
    odedsl.check(path)
    with pytest.raises(SpecError) as raised:
        compile(path)
    message = str(raised.value)
    line, row = next((n, row) for n, row in enumerate(text.splitlines(), 1) if "y ~" in row)
    column = row.index("y ~") + 1
    expected = (
        f"{path}:{line}:{column}: error[E100]: one `~` statement reads the states at one time, "
        "this one at 0.5, 1: write one statement per time"
    )
    assert expected in message


def test_training_data_and_configuration():
    moons = odedsl.check(MOONS)
    data = build_data(moons)
    assert isinstance(data, StreamingBatches) and data.batch_size == 512
    batch = data.batch(0, torch.Generator().manual_seed(0))
    assert batch["x"].shape == (512, 2) and batch["x"].dtype == torch.float32
    assert build_data(moons, "test", n=100)["x"].shape == (100, 2)
    config = train_config(moons)
    assert isinstance(config, TrainConfig)
    assert (config.steps, config.epochs, config.optimizer.kwargs["lr"]) == (5000, None, 5e-3)

    digits = odedsl.check(DIGITS)
    train, test = build_data(digits), build_data(digits, "test")
    # 1167 training images (1347 less the 180 of the validation split) in batches of the
    # spec's size (the last one short)
    batches = math.ceil(1167 / digits.train.batch)
    assert isinstance(train, TensorBatches) and len(train) == batches
    assert not test.shuffle and test.rows == 450
    config = train_config(digits)
    assert (config.epochs, config.optimizer.name, config.optimizer.kwargs["momentum"]) == (
        50,
        "SGD",
        0.9,
    )
    assert config.schedule.kind == "cosine"
    mnist = train_config(odedsl.check(SPECS / "odenet_mnist.ode"))
    assert (mnist.schedule.kind, mnist.schedule.milestones, mnist.schedule.unit) == (
        "step",
        (60, 100, 140),
        "epochs",
    )


def shifted(image: torch.Tensor, down: int, right: int) -> torch.Tensor:
    """``image`` (H, W) moved ``down`` rows and ``right`` columns, zeros filling the border."""
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1))
    height, width = image.shape
    return padded[1 - down : 1 - down + height, 1 - right : 1 - right + width]


def test_training_images_are_randomly_cropped_and_test_images_are_not(tmp_path):
    text = DIGITS.read_text(encoding="utf-8").replace(
        "batch = 32\n", "batch = 32\n        crop = 1\n"
    )
    (tmp_path / "cropped.ode").write_text(text, encoding="utf-8")
    digits = odedsl.check(tmp_path / "cropped.ode")
    assert digits.data.crop == 1
    # the crop alone: without the spec's rotations, zooms and shifts
    digits = dataclasses.replace(
        digits, data=dataclasses.replace(digits.data, rotate=0, zoom=0, shift=0)
    )
    uncropped = dataclasses.replace(digits, data=dataclasses.replace(digits.data, crop=0))
    train, plain, test = build_data(digits), build_data(uncropped), build_data(digits, "test")
    assert plain.transform is None and test.transform is None
    for source in (train, plain):
        source.set_epoch(1)
    moved = 0
    for index, (batch, original) in enumerate(zip(train, plain, strict=True)):
        assert torch.equal(batch["y"], original["y"])
        rng = batch_rng(digits.train.seed, 1, index)
        expected = random_crop(original["x"].numpy(), rng, padding=1)
        assert batch["x"].dtype == original["x"].dtype
        assert torch.equal(batch["x"], torch.from_numpy(expected))
        # Each image is its original moved by at most a pixel each way, with a zero border.
        for image, source in zip(batch["x"][:, 0], original["x"][:, 0], strict=True):
            shifts = [shifted(source, d, r) for d in (-1, 0, 1) for r in (-1, 0, 1)]
            assert any(torch.equal(image, candidate) for candidate in shifts)
            moved += not torch.equal(image, source)
    assert moved > 0.5 * 1167  # 8 of the 9 offsets move an image (1167 training images)
    assert torch.equal(torch.cat([batch["x"] for batch in test]), test.tensors["x"])


def test_training_images_are_cropped_then_turned_zoomed_and_shifted(tmp_path):
    options = "crop = 1\n        rotate = 15\n        zoom = 0.15\n        shift = 1\n"
    text = DIGITS.read_text(encoding="utf-8").replace("batch = 32\n", f"batch = 32\n{options}")
    (tmp_path / "augmented.ode").write_text(text, encoding="utf-8")
    digits = odedsl.check(tmp_path / "augmented.ode")
    unchanged_data = dataclasses.replace(digits.data, crop=0, rotate=0, zoom=0, shift=0)
    plain = dataclasses.replace(digits, data=unchanged_data)
    train, original = build_data(digits), build_data(plain)
    assert original.transform is None and build_data(digits, "test").transform is None
    for source in (train, original):
        source.set_epoch(2)
    for index, (batch, unchanged) in enumerate(zip(train, original, strict=True)):
        rng = batch_rng(digits.train.seed, 2, index)
        cropped = random_crop(unchanged["x"].numpy(), rng, padding=1)
        expected = random_affine(cropped, rng, rotate=15, zoom=0.15, shift=1)
        assert batch["x"].dtype == unchanged["x"].dtype
        assert torch.equal(batch["x"], torch.from_numpy(expected))
        assert torch.equal(batch["y"], unchanged["y"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rotate": -5}, "rotate must not be negative"),
        ({"zoom": 1}, re.escape("zoom must be in [0, 1)")),
        ({"crop": 0.5}, "crop must be an integer"),
        ({"shift": "one"}, "shift must be a finite number"),
    ],
)
def test_bad_augmentation_overrides_are_refused_by_name(overrides, message):
    with pytest.raises(ValueError, match=message):
        compile(DIGITS, **overrides)


def test_schedule_override_replaces_the_spec_schedule():
    # the digits spec anneals by cosine, the MNIST spec steps down at epochs 60, 100, 140
    constant = train_config(compile(DIGITS, schedule=":constant").spec).schedule
    cosine = train_config(compile(SPECS / "odenet_mnist.ode", schedule="cosine").spec).schedule
    assert (constant.kind, cosine.kind, cosine.milestones) == ("none", "cosine", ())
    with pytest.raises(ValueError, match="use one of constant, cosine"):
        compile(DIGITS, schedule="step")


def test_augmentation_overrides_reach_the_training_batches():
    model = compile(DIGITS, rotate=0, zoom=0, shift=0)  # the spec's augmentation switched off
    assert not model.spec.data.augmented and build_data(model.spec).transform is None
    cropped = compile(DIGITS, crop=2, rotate=5).spec.data
    assert (cropped.crop, cropped.rotate, cropped.zoom, cropped.shift) == (2, 5, 0.15, 1)


def test_density_matching_streams_base_noise():
    spec = odedsl.check(SPECS / "cnf_density.ode")
    data = build_data(spec)
    noise = data.batch(0, torch.Generator().manual_seed(0))
    assert noise.shape == (512, 2)
    model = compile(spec, method="rk4", step_size=0.5, gradient="direct")
    assert torch.isfinite(model.loss(noise[:64]).loss)


def test_classifier_loss_and_evaluation():
    model = compile(DIGITS)
    batch = next(iter(build_data(model.spec)))
    small = {"x": batch["x"][:16], "y": batch["y"][:16]}
    output = model.loss(small)
    output.loss.backward()
    # An untrained 10-class classifier: cross-entropy near log 10.
    assert output.loss.item() == pytest.approx(math.log(10), abs=0.5)
    assert 0 <= output.metrics["accuracy"] <= 1 and output.after_backward()["nfe_backward"] > 0
    result = model.evaluate(small)
    assert set(result) == {"loss", "test_error"} and 0 <= result["test_error"] <= 1
    assert model(small["x"]).shape == (16, 10)


def test_short_training_of_cnf_moons_lowers_its_loss():
    """Fixed-step RK4 and direct gradients keep the run short; 40 Adam steps at lr 0.01 take
    the gated flow's NLL on fresh moons down by over 0.3 nats from its start near N(0, I)."""
    torch.manual_seed(0)
    model = compile(MOONS, method="rk4", step_size=0.25, gradient="direct", lr=0.01)
    data = build_data(model.spec)
    generator = torch.Generator().manual_seed(0)
    held_out = build_data(model.spec, "test", n=1000)
    before = model.evaluate(held_out)["loss"]
    optimizer = torch.optim.Adam(model.parameters(), lr=model.spec.train.optimizer.lr)
    for step in range(40):
        batch = data.batch(step, generator)
        loss = model.loss({"x": batch["x"][:256]}).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = model.evaluate(held_out)["loss"]
    assert after < before - 0.3, (before, after)


def test_odedsl_compile_is_the_function_whatever_was_imported_before() -> None:
    # The compiler package is odedsl.compiler, so importing its modules (or the run-time ones)
    # never binds a package to the name odedsl.compile.
    import odedsl.compiler.api
    import odedsl.nn.trace

    assert odedsl.compile is odedsl.compiler.api.compile
    assert hasattr(odedsl.compile(MOONS), "log_prob")


@pytest.mark.parametrize("mode", ["pece", "pec"])
def test_adams_mode_reaches_the_solver_and_solves_to_the_closed_form(mode: str) -> None:
    # dz/dt = -z/2 from t = 0 to 1: x = z0·e^(-1/2), so log p(x) = log N(x·e^(1/2); 0, I) + D/2
    text = flow_spec(
        "-0.5 * z", dim=2, solver=f"method = :adams\nrtol = 1e-9\natol = 1e-9\nadams_mode = :{mode}"
    )
    model = compile(text).double()
    assert model.eval_solver.options["mode"] == mode.upper()
    assert f"1e-09, {mode.upper()}, gradient" in summarize(odedsl.check(text))
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z0 = x * math.exp(0.5)
    exact = -0.5 * (z0**2).sum(1) - math.log(2 * math.pi) + 1.0
    torch.testing.assert_close(model.log_prob(x), exact, rtol=0, atol=1e-7)
    # PEC: one evaluation a step after the start-up, PECE two
    evaluations = model.stats.nfe_forward
    other = compile(text.replace(f":{mode}", ":pece" if mode == "pec" else ":pec")).double()
    other.log_prob(x)
    assert (evaluations < other.stats.nfe_forward) == (mode == "pec")


def test_adams_mode_override_and_its_bad_values():
    assert compile(MOONS, method="adams", adams_mode=":pec").train_solver.options["mode"] == "PEC"
    model = compile(MOONS, eval_method="adams", adams_mode="pec")  # trains with rk4
    assert model.eval_solver.options["mode"] == "PEC"
    assert "mode" not in model.train_solver.options
    with pytest.raises(ValueError, match="use one of pece, pec"):
        compile(MOONS, method="adams", adams_mode="pecec")


def test_eval_every_is_a_training_override_even_for_a_flow_without_an_ode():
    """`eval_every` starts with `eval_` but is the training option, not an evaluation solver
    option `every`: a planar (discrete) flow, which has no solver, takes it."""
    model = odedsl.compile(SPECS / "planar_density.ode", eval_every=2)
    assert model.spec.train.eval_every == 2
    with pytest.raises(ValueError, match="solves no ODE"):
        odedsl.compile(SPECS / "planar_density.ode", eval_rtol=1e-3)
