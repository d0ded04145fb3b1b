"""What every compiled model accepts from Python (odedsl.models.inputs): numpy arrays, lists
and any float dtype give the float32 tensor's results; NaN, non-numbers and wrong shapes are
refused with messages naming the argument; one latent series is the batch of that series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import odedsl
from odedsl.models.inputs import as_count, as_mask, as_tensor, check_scored, check_shape

SPECS = Path(__file__).resolve().parents[2] / "specs"
FLOAT32 = torch.zeros((), dtype=torch.float32)
pytestmark = pytest.mark.usefixtures("one_thread")


def forms(data: np.ndarray) -> dict[str, object]:
    """The same float64 numbers as every accepted form (the float32 tensor is the reference)."""
    return {
        "numpy float64": data,
        "numpy float32": data.astype(np.float32),
        "tensor float64": torch.as_tensor(data),
        "list": data.tolist(),
    }


def same(a, b) -> None:
    """Equal within float32 rounding of the inputs."""
    torch.testing.assert_close(torch.as_tensor(a), torch.as_tensor(b), rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def cnf():
    return odedsl.compile(SPECS / "cnf_moons.ode")


@pytest.fixture(scope="module")
def planar():
    return odedsl.compile(SPECS / "planar_density.ode")


@pytest.fixture(scope="module")
def latent():
    model = odedsl.compile(SPECS / "latent_spirals.ode").eval()
    model.refine = 0  # the spec refines by 50 Adam steps; the inputs are the point here
    return model


# -- the helper --------------------------------------------------------------------------------


def test_as_tensor_converts_to_the_reference_dtype_and_keeps_labels_integer():
    data = np.array([[0.1, 2.0]], dtype=np.float64)
    assert as_tensor(data, FLOAT32, "x").dtype == torch.float32
    assert as_tensor([[1, 2]], FLOAT32, "x").dtype == torch.float32
    assert as_tensor(np.array([1.0, 0.0]), FLOAT32, "y", integer=True).dtype == torch.long
    assert as_tensor(torch.zeros(2, dtype=torch.float64), None, "x").dtype == torch.float64
    with pytest.raises(ValueError, match="y holds class labels"):
        as_tensor([0.5], FLOAT32, "y", integer=True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "x must be an array of numbers, got str"),
        ([[1.0, 2.0], [3.0]], "x must be an array of numbers"),
        (np.array(["a", "b"]), "x must be an array of numbers"),
        ({"a": 1}, "x must be an array of numbers, got dict"),
        (np.array([True, False]), "x must hold real numbers"),
        (torch.tensor([1 + 2j]), "x must hold real numbers"),
        (None, "x is missing"),
        ([1.0, float("nan")], "x holds NaN"),
        ([1.0, float("inf")], "x holds an infinite value"),
    ],
)
def test_as_tensor_refuses_naming_the_argument(value, message):
    with pytest.raises(ValueError, match=message):
        as_tensor(value, FLOAT32, "x")


def test_masked_values_are_refused_only_where_scored_and_reach_the_model_as_zero():
    values = as_tensor([[1.0, float("nan")], [2.0, 3.0]], FLOAT32, "x", masked=True)
    mask = torch.tensor([[True, False], [True, True]])
    torch.testing.assert_close(check_scored(values, mask, "x"), torch.tensor([[1.0, 0], [2, 3]]))
    with pytest.raises(ValueError, match="x holds NaN at an observed point"):
        check_scored(values, torch.ones(2, 2, dtype=torch.bool), "x")


def test_shapes_masks_and_counts_are_checked_naming_the_argument():
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\), got \(3, 3\)"):
        check_shape(torch.zeros(3, 3), ("n", 2), "x")
    assert as_mask([1, 0], (2,), None, "mask").dtype == torch.bool
    with pytest.raises(ValueError, match="mask must hold booleans or 0/1"):
        as_mask([2, 0], (2,), None, "mask")
    with pytest.raises(ValueError, match=r"mask must have shape \(3,\), got \(2,\)"):
        as_mask([True, False], (3,), None, "mask")
    assert as_count(np.int64(3), "n") == 3
    for bad in (0, 2.5, True, "3"):
        with pytest.raises(ValueError, match="n must be an integer"):
            as_count(bad, "n")


# -- continuous flows --------------------------------------------------------------------------


def test_cnf_accepts_every_array_form(cnf):
    data = np.random.default_rng(0).normal(size=(6, 2))
    reference = torch.as_tensor(data, dtype=torch.float32)
    log_prob = cnf.log_prob(reference)
    loss = cnf.loss({"x": reference}).loss
    nll = cnf.evaluate({"x": reference})["nll"]
    for value in forms(data).values():
        same(cnf.log_prob(value), log_prob)
        assert cnf.log_prob(value).dtype == torch.float32
        same(cnf.loss({"x": value}).loss, loss)
        same(cnf.loss(value).loss, loss)
        assert cnf.evaluate({"x": value})["nll"] == pytest.approx(nll, rel=1e-5)
    assert cnf.evaluate(data.tolist())["nll"] == pytest.approx(nll, rel=1e-5)
    assert cnf.evaluate([data[:3], {"x": data[3:]}])["nll"] == pytest.approx(nll, rel=1e-5)
    assert cnf.sample(np.int64(3)).shape == (3, 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, x: m.log_prob(x), r"^x holds NaN"),
        (lambda m, x: m.loss({"x": x}), r"^batch\['x'\] holds NaN"),
        (lambda m, x: m.loss(x), r"^batch holds NaN"),
        (lambda m, x: m.evaluate({"x": x}), r"^data\['x'\] holds NaN"),
    ],
)
def test_cnf_refuses_nan_naming_the_argument(cnf, call, message):
    data = np.zeros((3, 2))
    data[1, 0] = np.nan
    with pytest.raises(ValueError, match=message):
        call(cnf, data)


def test_cnf_refuses_wrong_shapes_and_non_numbers_naming_the_argument(cnf):
    with pytest.raises(ValueError, match=r"^x must have shape \(n, 2\), got \(3, 3\)"):
        cnf.log_prob(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"^x must have shape \(n, 2\), got \(2,\)"):
        cnf.log_prob([0.0, 1.0])
    with pytest.raises(ValueError, match=r"^batch\['x'\] must have shape \(n, 2\)"):
        cnf.loss({"x": np.zeros((4, 1))})
    with pytest.raises(ValueError, match=r"^x must be an array of numbers"):
        cnf.log_prob([["a", "b"]])
    with pytest.raises(ValueError, match=r"^batch is a mapping without 'x'"):
        cnf.loss({"y": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"^n must be an integer"):
        cnf.sample(2.5)


def test_cnf_matching_a_target_takes_noise_in_every_form():
    model = odedsl.compile(SPECS / "cnf_density.ode")
    noise = np.random.default_rng(1).normal(size=(8, 2))
    kl = model.evaluate(torch.as_tensor(noise, dtype=torch.float32))["kl"]
    loss = model.loss(torch.as_tensor(noise, dtype=torch.float32)).loss
    for value in forms(noise).values():
        assert model.evaluate(value)["kl"] == pytest.approx(kl, rel=1e-5, abs=1e-5)
        same(model.loss(value).loss, loss)
    with pytest.raises(ValueError, match=r"^data holds NaN"):
        model.evaluate(np.full((2, 2), np.nan))


# -- discrete planar flows ---------------------------------------------------------------------


def test_planar_flow_takes_noise_in_every_form(planar):
    noise = np.random.default_rng(2).normal(size=(16, 2))
    reference = torch.as_tensor(noise, dtype=torch.float32)
    loss, kl = planar.loss(reference).loss, planar.evaluate(reference)["kl"]
    pushed = planar(reference)[0]
    for value in forms(noise).values():
        same(planar.loss(value).loss, loss)
        assert planar.evaluate(value)["kl"] == pytest.approx(kl, rel=1e-5, abs=1e-5)
        same(planar(value)[0], pushed)
    assert planar.sample(np.int64(4)).shape == (4, 2)
    assert planar.loss(np.int64(8)).loss.isfinite()


def test_planar_flow_refuses_naming_the_argument(planar):
    with pytest.raises(ValueError, match=r"^batch holds NaN"):
        planar.loss(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match=r"^data must have shape \(n, 2\), got \(4, 3\)"):
        planar.evaluate(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"^data: a planar flow is fitted .* not from a mapping"):
        planar.evaluate({"x": np.zeros((4, 2))})
    with pytest.raises(ValueError, match=r"^n must be an integer"):
        planar.sample(-1)


# -- latent ODEs -------------------------------------------------------------------------------


def series(seed: int = 3, points: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.uniform(0.0, 3.0, points))
    return ts, rng.normal(size=(points, 2)), np.linspace(0.0, 5.0, 7)


def test_one_latent_series_is_the_batch_of_that_series(latent):
    ts, x, ts_new = series()
    batch = latent.predict(ts, x[None], ts_new)
    assert batch.shape == (1, 7, 2)
    one = latent.predict(ts, x, ts_new)
    assert one.shape == (7, 2)
    same(one, batch[0])
    mask = np.ones(10, dtype=bool)
    mask[4] = False
    same(
        latent.predict(ts, x, ts_new, mask=mask),
        latent.predict(ts, x[None], ts_new, mask=mask[None])[0],
    )
    draws = latent.predict(ts, x, ts_new, samples=3, generator=torch.Generator().manual_seed(0))
    batch_draws = latent.predict(
        ts, x[None], ts_new, samples=3, generator=torch.Generator().manual_seed(0)
    )
    assert draws.shape == (3, 7, 2)
    same(draws, batch_draws[:, 0])


def test_latent_predict_accepts_every_array_form(latent):
    ts, x, ts_new = series()
    reference = latent.predict(
        torch.as_tensor(ts, dtype=torch.float32),
        torch.as_tensor(x[None], dtype=torch.float32),
        torch.as_tensor(ts_new, dtype=torch.float32),
    )
    for (name, t), value, new in zip(
        forms(ts).items(), forms(x[None]).values(), forms(ts_new).values(), strict=True
    ):
        prediction = latent.predict(t, value, new)
        assert prediction.dtype == torch.float32, name
        same(prediction, reference)


def test_latent_loss_and_evaluate_accept_every_array_form(latent):
    ts, x, _ = series()
    xs = np.stack([x, x[::-1]])
    reference = {"ts": torch.as_tensor(ts, dtype=torch.float32), "x": torch.as_tensor(xs).float()}
    torch.manual_seed(0)
    loss = latent.loss(reference).loss
    expected = latent.evaluate(reference)["loss"]
    for t, value in zip(forms(ts).values(), forms(xs).values(), strict=True):
        torch.manual_seed(0)
        same(latent.loss({"ts": t, "x": value}).loss, loss)
        assert latent.evaluate({"ts": t, "x": value})["loss"] == pytest.approx(expected, rel=1e-5)


def test_latent_nan_is_refused_unless_masked(latent):
    ts, x, ts_new = series()
    broken = x.copy()
    broken[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"^x_obs holds NaN at an observed point"):
        latent.predict(ts, broken, ts_new)
    with pytest.raises(ValueError, match=r"^batch\['x'\] holds NaN at an observed point"):
        latent.loss({"ts": ts, "x": broken[None]})
    late = ts.copy()
    late[2] = np.nan
    with pytest.raises(ValueError, match=r"^t_obs holds NaN"):
        latent.predict(late, x, ts_new)
    with pytest.raises(ValueError, match=r"^t_new holds NaN"):
        latent.predict(ts, x, [0.0, np.nan])
    mask = np.ones(10, dtype=bool)
    mask[4] = False
    filled = x.copy()
    filled[4] = 123.0  # a masked point's value never matters
    same(
        latent.predict(ts, broken, ts_new, mask=mask), latent.predict(ts, filled, ts_new, mask=mask)
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((np.zeros(10), np.zeros((10, 3)), [1.0]), r"^x_obs must have shape \(N, 2\) for one"),
        ((np.zeros(10), np.zeros(10), [1.0]), r"^x_obs must have shape \(N, 2\) .* got \(10,\)"),
        ((np.zeros(10), np.zeros((2, 10, 1)), [1.0]), r"^x_obs must have shape \(B, N, 2\)"),
        ((np.zeros(9), np.zeros((10, 2)), [1.0]), r"^t_obs must have shape \(10,\) for one"),
        ((np.zeros((1, 10)), np.zeros((10, 2)), [1.0]), r"^t_obs must have shape \(10,\)"),
        ((np.zeros(10), np.zeros((10, 2)), [[1.0]]), r"^t_new must have shape \(M,\) for one"),
        ((np.zeros(10), np.zeros((1, 2, 10, 2)), [1.0]), r"^x_obs must have shape \(B, N, D\)"),
        ((np.zeros(10), "abc", [1.0]), r"^x_obs must be an array of numbers"),
    ],
)
def test_latent_wrong_shapes_name_the_argument(latent, arguments, message):
    with pytest.raises(ValueError, match=message):
        latent.predict(*arguments)


def test_latent_batch_shapes_name_the_entry(latent):
    ts, x, _ = series()
    with pytest.raises(ValueError, match=r"^batch\['x'\] must have shape \(B, N, 2\)"):
        latent.loss({"ts": ts, "x": np.zeros((2, 10, 3))})
    with pytest.raises(ValueError, match=r"^batch\['ts'\] has 9 times per series"):
        latent.loss({"ts": ts[:9], "x": x[None]})
    with pytest.raises(ValueError, match=r"^batch\['mask'\] must hold booleans"):
        latent.loss({"ts": ts, "x": x[None], "mask": np.full((1, 10), 0.5)})


# -- observed ODEs (supervised and trajectory specs) ---------------------------------------------


def test_observed_models_accept_every_array_form():
    model = odedsl.compile(SPECS / "regression_friedman.ode").eval()
    rng = np.random.default_rng(4)
    x, y = rng.uniform(size=(5, 5)), rng.normal(14.0, 5.0, size=5)
    reference = {"x": torch.as_tensor(x).float(), "y": torch.as_tensor(y).float()}
    loss, predicted = model.loss(reference).loss, model.predict(reference["x"])
    for value, response in zip(forms(x).values(), forms(y).values(), strict=True):
        same(model.loss({"x": value, "y": response}).loss, loss)
        same(model.predict(value), predicted)
        pair = model.evaluate((value, response))
        assert pair == pytest.approx(model.evaluate(reference), rel=1e-5)
    broken = x.copy()
    broken[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"^batch\['x'\] holds NaN"):
        model.loss({"x": broken, "y": y})
    with pytest.raises(ValueError, match=r"^batch\['y'\] must be an array of numbers"):
        model.loss({"x": x, "y": "abc"})
