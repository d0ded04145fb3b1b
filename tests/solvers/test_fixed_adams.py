"""The fixed-grid Adams methods ``explicit_adams``, ``implicit_adams`` (``fixed_adams``):
coefficients against the classical tables, order, torchdiffeq's numbers, the corrector's
warning and the options' checks."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch

from odedsl.solvers._adams_coefficients import constant_step_coefficients
from odedsl.solvers.api import odeint

from .problems import ROTATION, VAN_DER_POL


def test_coefficients_are_the_classical_ones() -> None:
    # Adams–Bashforth 4 and Adams–Moulton 5 (Hairer–Nørsett–Wanner I, Tables III.1.1-2)
    bashforth, moulton = constant_step_coefficients(4)
    assert [Fraction(x).limit_denominator(1000) for x in bashforth] == [
        Fraction(55, 24),
        Fraction(-59, 24),
        Fraction(37, 24),
        Fraction(-9, 24),
    ]
    expected = [251, 646, -264, 106, -19]
    np.testing.assert_allclose(moulton, np.array(expected) / 720, rtol=0, atol=1e-15)
    for k in range(1, 13):  # consistency: each formula integrates f = 1 exactly
        b, m = constant_step_coefficients(k)
        assert abs(sum(b) - 1) < 1e-12 and abs(sum(m) - 1) < 1e-12


# (method, max_order, steps on ROTATION's [0, 2], order). The start-up (two rk4 steps, then
# the formulas of growing order) limits the global order: an Adams–Bashforth step of order
# 3 leaves a local error of h⁴, so explicit_adams reaches at most 4; the corrector of order
# k + 1 lifts implicit_adams to 5.
ORDERS = [
    ("explicit_adams", 4, (64, 128, 256), 3),
    ("explicit_adams", 5, (64, 128, 256), 4),
    ("implicit_adams", 4, (64, 128, 256), 4),
    ("implicit_adams", 5, (128, 256, 512), 5),
]


@pytest.mark.parametrize(("method", "max_order", "steps", "order"), ORDERS)
def test_empirical_order(method: str, max_order: int, steps: tuple, order: int) -> None:
    t = torch.tensor([0.0, 2.0], dtype=torch.float64)
    exact = ROTATION.reference(np.array([0.0, 2.0]))[-1]
    errors = []
    for n in steps:
        # 20 corrector iterations let it converge at rtol = atol = 1e-12 (4 do not)
        options = {"step_size": 2.0 / n, "max_order": max_order}
        if method == "implicit_adams":
            options["max_iters"] = 20
        ys = odeint(
            ROTATION.torch_func(),
            ROTATION.y0_tensor(),
            t,
            method=method,
            rtol=1e-12,
            atol=1e-12,
            options=options,
        )
        errors.append(np.abs(ys[-1].numpy() - exact).max())
    slope = np.polyfit(np.log([2.0 / n for n in steps]), np.log(errors), 1)[0]
    assert abs(slope - order) <= 0.2, (method, slope, errors)


@pytest.mark.parametrize("interp", ["linear", "cubic"])
@pytest.mark.parametrize("method", ["explicit_adams", "implicit_adams", "fixed_adams"])
def test_same_numbers_as_torchdiffeq(method: str, interp: str) -> None:
    torchdiffeq = pytest.importorskip("torchdiffeq")
    t = torch.linspace(0.0, 2.0, 17, dtype=torch.float64)  # off the grid of 0.01
    # Adams–Bashforth of order 11 (the default max_order 12) is unstable on Van der Pol
    # at h = 0.01 in both libraries, so explicit_adams stops at order 4
    options = {"step_size": 0.01, "interp": interp}
    if method == "explicit_adams":
        options["max_order"] = 5
    args = (VAN_DER_POL.torch_func(), VAN_DER_POL.y0_tensor(), t)
    ours = odeint(*args, method=method, options=options)
    theirs = torchdiffeq.odeint(*args, method=method, options=options)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)


def test_gradients_flow_through_the_steps() -> None:
    # d y(1) / d y0 of y' = -y is e^-1; implicit_adams at h = 0.05 is accurate to ~1e-8
    y0 = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    y1 = odeint(lambda t, y: -y, y0, t, method="implicit_adams", options={"step_size": 0.05})
    (grad,) = torch.autograd.grad(y1[-1].sum(), y0)
    assert abs(float(grad) - np.exp(-1.0)) < 1e-7


def test_a_corrector_that_does_not_converge_warns_once() -> None:
    # one corrector iteration at rtol = atol = 1e-14 cannot settle
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        odeint(
            VAN_DER_POL.torch_func(),
            VAN_DER_POL.y0_tensor(),
            torch.tensor([0.0, 1.0], dtype=torch.float64),
            method="implicit_adams",
            rtol=1e-14,
            atol=1e-14,
            options={"step_size": 0.1, "max_iters": 1},
        )
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1, messages
    assert "max_iters=1" in messages[0] and "smaller step_size" in messages[0]


def test_max_order_is_checked() -> None:
    args = (lambda t, y: -y, torch.ones(1), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"max_order.*\[1, 12\]"):
        odeint(*args, method="explicit_adams", options={"step_size": 0.1, "max_order": 13})
    with pytest.warns(UserWarning, match="reduces to rk4"):
        odeint(*args, method="implicit_adams", options={"step_size": 0.1, "max_order": 3})
