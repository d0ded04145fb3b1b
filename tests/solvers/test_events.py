"""Events (``event_fn``, ``odeint_event``, ``events="per_row"``): times, states and gradients.

Truths: scipy's ``solve_ivp`` with a terminal event at rtol 1e-12 / atol 1e-14 (DOP853, whose
event is located by Brent's method on its dense output), closed forms (a ball falling without
drag), and central finite differences of those scipy event times (float64).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from torch import nn

import odedsl
from odedsl.errors import SolverError
from odedsl.solvers.methods import SOLVERS

G = 9.81
TIGHT = dict(rtol=1e-11, atol=1e-13)  # odedsl's tolerances in the 1e-6 comparisons
AGREE = 1e-6  # the bar for event times against scipy


def scipy_event(rhs, y0, t0, direction, event, *, args=()) -> tuple[float, np.ndarray]:
    """The first terminal event of ``event(t, y)`` from ``t0`` in ``direction``: (t, y)."""

    def terminal(t, y, *a):
        return event(t, y)

    terminal.terminal = True
    sol = solve_ivp(
        rhs,
        (t0, t0 + direction * 100.0),
        y0,
        method="DOP853",
        rtol=1e-12,
        atol=1e-14,
        events=terminal,
        args=args,
    )
    assert sol.status == 1, "the reference solve found no event"
    return float(sol.t_events[0][0]), sol.y_events[0][0]


# ---------------------------------------------------------------- the problems
def drag_rhs(t, y, k=0.3):
    """A ball under gravity and quadratic drag: height, velocity."""
    return [y[1], -G - k * y[1] * abs(y[1])]


class Drag(nn.Module):
    def __init__(self, k: float = 0.3) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.tensor(k, dtype=torch.float64))

    def forward(self, t, y):
        v = y[..., 1]
        return torch.stack([v, -G - self.k * v * v.abs()], dim=-1)


def duffing_rhs(t, y, w=0.3):
    """A forced Duffing oscillator x'' = -x - x³ + w cos t (non-autonomous)."""
    return [y[1], -y[0] - y[0] ** 3 + w * math.cos(t)]


class Duffing(nn.Module):
    def __init__(self, w: float = 0.3) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))

    def forward(self, t, y):
        x, v = y[..., 0], y[..., 1]
        return torch.stack([v, -x - x**3 + self.w * torch.cos(t)], dim=-1)


def height(t, y):
    return y[..., 0]


# (name, module, scipy rhs, y0, t0, direction): the ball from 10 m thrown up at 2 m/s hits
# the ground after about 1.6 s; the oscillator from x = 1 crosses x = 0 after about 1.3
# time units forward, and about 1.1 backward from (1, 0.5).
CASES = {
    "drag forward": (Drag, drag_rhs, [10.0, 2.0], 0.0, 1.0),
    "duffing forward": (Duffing, duffing_rhs, [1.0, 0.0], 0.5, 1.0),
    "duffing backward": (Duffing, duffing_rhs, [1.0, 0.5], 0.5, -1.0),
    "drag backward": (Drag, drag_rhs, [0.5, -3.0], 0.0, -1.0),
}
ADAPTIVE = ["dopri5", "tsit5", "dopri8", "adams"]  # bosh3 (order 3) is slow at 1e-11


def _run(case: str, method: str, options=None, interface=odedsl.odeint):
    module, _, y0, t0, direction = CASES[case]
    t = torch.tensor([t0, t0 + direction], dtype=torch.float64)
    y0 = torch.tensor(y0, dtype=torch.float64)
    return interface(module(), y0, t, event_fn=height, method=method, options=options, **TIGHT)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("method", ADAPTIVE)
def test_event_time_and_state_agree_with_scipy(case: str, method: str) -> None:
    _, rhs, y0, t0, direction = CASES[case]
    t_ref, y_ref = scipy_event(rhs, y0, t0, direction, lambda t, y: y[0])
    event_t, ys = _run(case, method)
    assert event_t.shape == () and ys.shape == (2, 2)
    assert abs(event_t.item() - t_ref) < AGREE
    np.testing.assert_allclose(ys[1].detach().numpy(), y_ref, atol=AGREE)
    np.testing.assert_array_equal(ys[0].detach().numpy(), y0)


@pytest.mark.parametrize("case", ["drag forward", "duffing backward"])
@pytest.mark.parametrize("interp", ["cubic", "linear"])
def test_fixed_grid_event_agrees_with_scipy(interp: str, case: str) -> None:
    # rk4 at h = 1e-3 is accurate to ~1e-12; the interpolant decides: cubic Hermite errs by
    # O(h^4), linear by h²/8·|y''| ≈ 1.3e-6 (|y''| ≈ 10 for the ball, ~2 for the oscillator)
    # in x, so ≲ 1e-7 in time at crossing speeds of ~1-14.
    _, rhs, y0, t0, direction = CASES[case]
    t_ref, _ = scipy_event(rhs, y0, t0, direction, lambda t, y: y[0])
    event_t, _ = _run(case, "rk4", {"step_size": 1e-3, "interp": interp})
    assert abs(event_t.item() - t_ref) < AGREE


# scipy_solver, where registered, shows no steps (as in torchdiffeq, it has no events).
WITHOUT_EVENTS = {"scipy_solver"}


@pytest.mark.parametrize("method", [m for m in SOLVERS if m not in WITHOUT_EVENTS])
def test_every_method_finds_the_event(method: str) -> None:
    """A new method gets events through the step hook: from 10 m a drag-free ball lands at
    sqrt(2·10/g); 2e-2 allows euler's O(h) error at h = 1e-2 (and in time ~1e-3)."""
    fixed = "step_size" in getattr(SOLVERS[method], "option_names", ())
    options = {"step_size": 1e-2} if fixed else None
    event_t, ys = odedsl.odeint(
        lambda t, y: torch.stack([y[1], torch.full_like(y[1], -G)]),
        torch.tensor([10.0, 0.0], dtype=torch.float64),
        torch.tensor([0.0, 1.0], dtype=torch.float64),
        event_fn=height,
        method=method,
        options=options,
    )
    assert abs(event_t.item() - math.sqrt(20.0 / G)) < 2e-2
    assert abs(float(ys[1, 0])) < 2e-2


def test_the_root_is_found_in_a_few_evaluations() -> None:
    """Beyond one evaluation at t0 and one per accepted step, locating the root to 4 ulps
    takes a handful (5 here); Illinois without a minimum step crawled through ~20 once one
    end sat on the root to rounding."""
    calls = []

    def event_fn(t, y):
        calls.append(t)
        return y[0]

    with torch.no_grad():  # no gradient: no evaluation at the event for its derivative
        solution = odedsl.solve(
            Drag(),
            torch.tensor([10.0, 2.0], dtype=torch.float64),
            torch.tensor([0.0, 1.0]),
            event_fn=event_fn,
            rtol=1e-8,
            atol=1e-10,
        )
    assert len(calls) - 1 - solution.stats.steps_accepted <= 6


def test_multi_valued_event_fn_stops_at_the_first_crossing() -> None:
    """As torchdiffeq: each value times its sign at t0, the minimum decides. The ball reaches
    -5 m/s (about 0.6 s) long before the ground; scipy with both terminal events agrees."""
    sol = solve_ivp(
        drag_rhs,
        (0.0, 10.0),
        [10.0, 2.0],
        method="DOP853",
        rtol=1e-12,
        atol=1e-14,
        events=[_terminal(lambda t, y: y[0]), _terminal(lambda t, y: y[1] + 5.0)],
    )
    event_t, _ = odedsl.odeint(
        Drag(),
        torch.tensor([10.0, 2.0], dtype=torch.float64),
        torch.tensor([0.0, 1.0], dtype=torch.float64),
        event_fn=lambda t, y: torch.stack([y[0], y[1] + 5.0]),
        **TIGHT,
    )
    assert abs(event_t.item() - sol.t_events[1][0]) < AGREE
    assert len(sol.t_events[0]) == 0


def _terminal(fn):
    fn.terminal = True
    return fn


def test_tuple_state_and_odeint_event() -> None:
    """The bouncing-ball example's call: a tuple state of shape-(1,) parts and odeint_event
    from a tensor t0."""
    drag = Drag()

    def func(t, state):
        dy = drag(t, torch.stack(state, dim=-1))
        return dy[..., 0], dy[..., 1]

    t0 = torch.tensor([0.0], dtype=torch.float64)
    state = (torch.tensor([10.0], dtype=torch.float64), torch.tensor([2.0], dtype=torch.float64))
    event_t, solution = odedsl.odeint_event(func, state, t0, event_fn=lambda t, s: s[0], **TIGHT)
    t_ref, y_ref = scipy_event(drag_rhs, [10.0, 2.0], 0.0, 1.0, lambda t, y: y[0])
    assert abs(event_t.item() - t_ref) < AGREE
    assert isinstance(solution, tuple) and solution[1].shape == (2, 1)
    assert abs(solution[1][-1].item() - y_ref[1]) < AGREE


def test_reverse_time_odeint_event() -> None:
    event_t, _ = odedsl.odeint_event(
        Duffing(),
        torch.tensor([1.0, 0.5], dtype=torch.float64),
        torch.tensor(0.5, dtype=torch.float64),
        event_fn=height,
        reverse_time=True,
        **TIGHT,
    )
    t_ref, _ = scipy_event(duffing_rhs, [1.0, 0.5], 0.5, -1.0, lambda t, y: y[0])
    assert event_t.item() < 0.5 and abs(event_t.item() - t_ref) < AGREE


def test_event_at_the_start_returns_t0() -> None:
    """An event function that is zero at t0 gives the event at t0 (torchdiffeq's adaptive
    solvers do the same; the bouncing-ball example lifts the ball by 1e-7 to avoid it)."""
    y0 = torch.tensor([0.0, 2.0], dtype=torch.float64)
    event_t, ys = odedsl.odeint(Drag(), y0, torch.tensor([1.5, 2.0]), event_fn=height)
    assert event_t.item() == 1.5
    assert torch.equal(ys[1], y0)


# ---------------------------------------------------------------- gradients
def _fd(fn, x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central differences of a scalar fn at x (error ~eps² + 1e-14/eps ≈ 1e-9)."""
    grads = []
    for i in range(len(x)):
        step = np.zeros_like(x)
        step[i] = eps
        grads.append((fn(x + step) - fn(x - step)) / (2 * eps))
    return np.array(grads)


GRADIENT_KINDS = {
    "direct": lambda **kw: odedsl.odeint(**kw),
    "adjoint": lambda **kw: odedsl.odeint_adjoint(**kw, adjoint_rtol=1e-11, adjoint_atol=1e-13),
    "checkpoint": lambda **kw: _solution(odedsl.solve(**kw, gradient="checkpoint")),
}


def _solution(solution):
    return solution.event_t, solution.ys


@pytest.mark.parametrize("kind", GRADIENT_KINDS)
@pytest.mark.parametrize("case", ["duffing forward", "duffing backward"])
def test_event_time_and_state_gradients_match_finite_differences(kind: str, case: str) -> None:
    """d(event time) and d(velocity at the event) w.r.t. y0, t0 and the forcing parameter w,
    against central differences of scipy event solves."""
    module_cls, rhs, y0, t0, direction = CASES[case]
    module = module_cls()
    y0_t = torch.tensor(y0, dtype=torch.float64, requires_grad=True)
    t0_t = torch.tensor([t0], dtype=torch.float64, requires_grad=True)
    t = torch.cat([t0_t, t0_t.detach() + direction])
    event_t, ys = GRADIENT_KINDS[kind](func=module, y0=y0_t, t=t, event_fn=height, **TIGHT)
    grads_t = torch.autograd.grad(event_t, (y0_t, t0_t, module.w), retain_graph=True)
    grads_v = torch.autograd.grad(ys[1, 1], (y0_t, t0_t, module.w))

    def reference(x: np.ndarray, what: int) -> float:
        t_ev, y_ev = scipy_event(rhs, x[:2], x[2], direction, lambda t, y: y[0], args=(x[3],))
        return t_ev if what < 0 else y_ev[what]

    x = np.array([*y0, t0, 0.3])
    for grads, what in ((grads_t, -1), (grads_v, 1)):
        got = np.concatenate([g.detach().reshape(-1).numpy() for g in grads])
        np.testing.assert_allclose(got, _fd(lambda p, w=what: reference(p, w), x), atol=1e-6)


def test_the_adjoint_does_not_solve_forward_again() -> None:
    """The adjoint's forward pass is the event search itself: as many forward evaluations
    as the direct mode (search plus one evaluation at the event); the checkpointed
    gradient re-solves up to the event, so it needs more."""
    counts = {}
    for gradient in ("direct", "adjoint", "checkpoint"):
        solution = odedsl.solve(
            Duffing(),
            torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True),
            torch.tensor([0.5, 1.5], dtype=torch.float64),
            event_fn=height,
            gradient=gradient,
            **TIGHT,
        )
        counts[gradient] = solution.stats.nfe_forward
    assert counts["adjoint"] == counts["direct"] < counts["checkpoint"]


def test_event_function_parameters_get_gradients() -> None:
    """Landing on a floor at height h (a parameter of event_fn only): from 10 m without drag
    T = sqrt(2(10 - h)/g), so dT/dh = -1/(g T) at h = 1."""
    floor = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    event_t, _ = odedsl.odeint(
        lambda t, y: torch.stack([y[1], torch.full_like(y[1], -G)]),
        torch.tensor([10.0, 0.0], dtype=torch.float64),
        torch.tensor([0.0, 1.0], dtype=torch.float64),
        event_fn=lambda t, y: y[0] - floor,
        **TIGHT,
    )
    (grad,) = torch.autograd.grad(event_t, floor)
    expected = -1.0 / (G * math.sqrt(2 * 9.0 / G))
    assert abs(float(grad) - expected) < 1e-8


# ---------------------------------------------------------------- per-row events
@pytest.fixture
def balls():
    """Four balls: heights 2-10 m, launch speeds -1..2 m/s, each with its own drag."""
    heights = [2.0, 5.0, 7.5, 10.0]
    speeds = [1.0, -1.0, 0.0, 2.0]
    drags = [0.1, 0.3, 0.0, 0.5]
    return heights, speeds, drags


class RowDrag(nn.Module):
    def __init__(self, k: list[float]) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.tensor(k, dtype=torch.float64))

    def forward(self, t, y):
        v = y[:, 1]
        return torch.stack([v, -G - self.k * v * v.abs()], dim=-1)


@pytest.mark.parametrize("gradient", ["direct", "adjoint", "checkpoint"])
def test_per_row_events_equal_each_row_solved_alone(balls, gradient: str) -> None:
    heights, speeds, drags = balls
    func = RowDrag(drags)
    y0 = torch.tensor([heights, speeds], dtype=torch.float64).T.requires_grad_(True)
    solution = odedsl.solve(
        func,
        y0,
        torch.tensor([0.0, 1.0]),
        event_fn=height,
        events="per_row",
        gradient=gradient,
        **TIGHT,
    )
    assert solution.event_t.shape == (4,) and solution.ys.shape == (2, 4, 2)
    for i in range(4):
        t_ref, y_ref = scipy_event(
            drag_rhs, [heights[i], speeds[i]], 0.0, 1.0, lambda t, y: y[0], args=(drags[i],)
        )
        assert abs(solution.event_t[i].item() - t_ref) < AGREE
        np.testing.assert_allclose(solution.ys[1, i].detach().numpy(), y_ref, atol=AGREE)
    # Row i's event time depends on row i alone: the gradient of the sum is, per row,
    # dT_i/dh_i = 1/|v_i(T_i)| (the ball meets the ground at its impact speed).
    grad_y0, grad_k = torch.autograd.grad(solution.event_t.sum(), (y0, func.k))
    impact = solution.ys[1, :, 1].detach().abs()
    torch.testing.assert_close(grad_y0[:, 0], 1.0 / impact, atol=1e-7, rtol=0)
    for i in range(4):
        dk = _fd(
            lambda p, i=i: scipy_event(
                drag_rhs, [heights[i], speeds[i]], 0.0, 1.0, lambda t, y: y[0], args=(p[0],)
            )[0],
            np.array([drags[i]]),
        )
        assert abs(float(grad_k[i]) - dk[0]) < 1e-6


def test_per_row_matches_the_first_event_mode_row_by_row(balls) -> None:
    heights, speeds, drags = balls
    y0 = torch.tensor([heights, speeds], dtype=torch.float64).T
    t = torch.tensor([0.0, 1.0])
    together = odedsl.solve(RowDrag(drags), y0, t, event_fn=height, events="per_row", **TIGHT)
    for i in range(4):
        alone = odedsl.solve(RowDrag(drags[i : i + 1]), y0[i : i + 1], t, event_fn=height, **TIGHT)
        assert abs(together.event_t[i].item() - alone.event_t.item()) < 1e-8
        torch.testing.assert_close(together.ys[1, i], alone.ys[1, 0], atol=1e-8, rtol=0)


# ---------------------------------------------------------------- errors
FALL = dict(
    func=lambda t, y: -torch.ones_like(y),
    y0=torch.tensor([[1.0], [2.0]], dtype=torch.float64),
    t=torch.tensor([0.0, 1.0], dtype=torch.float64),
)


@pytest.mark.parametrize(
    ("event_fn", "events", "message"),
    [
        (lambda t, y: 1.0, "first", "event_fn must return a non-empty floating-point tensor"),
        (lambda t, y: y[:0], "first", "event_fn must return a non-empty"),
        (lambda t, y: y.sum(), "per_row", r"event_fn returned shape \(\), but events='per_row'"),
        (lambda t, y: y[:1, 0], "per_row", r"needs one value per row of y0: shape \(2,\)"),
        (height, "each", "events must be one of 'first', 'per_row'"),
    ],
)
def test_bad_event_fn_or_mode_is_named(event_fn, events: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        odedsl.solve(**FALL, event_fn=event_fn, events=events)


def test_per_row_without_event_fn_is_refused() -> None:
    with pytest.raises(ValueError, match="events='per_row' needs an event_fn"):
        odedsl.solve(**FALL, events="per_row")


def test_event_needs_two_times_and_a_fixed_step_size() -> None:
    with pytest.raises(ValueError, match="t: with event_fn, t must hold two times"):
        odedsl.odeint(**{**FALL, "t": torch.tensor([0.0, 1.0, 2.0])}, event_fn=height)
    with pytest.raises(ValueError, match=r"options\['step_size'\] is required"):
        odedsl.odeint(**FALL, event_fn=height, method="rk4")


def test_non_finite_event_value_is_an_error() -> None:
    with pytest.raises(SolverError, match=r"event_fn returned a non-finite value \(NaN/inf\)"):
        odedsl.odeint(**FALL, event_fn=lambda t, y: (y - 5.0).sum() / (t - t))


def test_per_row_needs_a_tensor_state() -> None:
    with pytest.raises(ValueError, match="events='per_row' needs y0 to be a tensor"):
        odedsl.solve(
            lambda t, y: y,
            (torch.ones(2), torch.ones(2)),
            torch.tensor([0.0, 1.0]),
            event_fn=lambda t, y: y[0],
            events="per_row",
        )


@pytest.mark.parametrize(
    ("method", "options"),
    [("dopri5", {"max_num_steps": 50}), ("rk4", {"step_size": 0.5, "max_num_steps": 100})],
)
def test_no_event_is_a_solver_error_naming_event_fn(method: str, options: dict) -> None:
    """torchdiffeq searches on without end (adaptive) or raises after 20 000 fixed steps;
    odedsl raises SolverError at the method's step limit, or after 20 000 accepted steps
    where none applies."""
    with pytest.raises(SolverError, match="event_fn: no event found"):
        odedsl.odeint(
            lambda t, y: -y,
            torch.tensor([1.0], dtype=torch.float64),
            torch.tensor([0.0, 1.0], dtype=torch.float64),
            event_fn=lambda t, y: y - 2.0,
            method=method,
            options=options,
        )


def test_touching_zero_without_crossing_is_not_differentiable() -> None:
    """-(t - 1)² touches zero at t = 1 (a grid point at step 0.5) with zero slope: the event
    time's gradient would be infinite, so asking for it is an error; the solve itself, and
    gradients that do not pass through the event, stay available (torchdiffeq's
    learn_physics.py ends its solves with an event function that is 0 past the last time)."""
    y0 = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    event_t, ys = odedsl.odeint(
        lambda t, y: -y,
        y0,
        torch.tensor([0.0, 1.0], dtype=torch.float64),
        event_fn=lambda t, y: -((t - 1.0) ** 2),
        method="rk4",
        options={"step_size": 0.5},
    )
    assert float(event_t.detach()) == 1.0
    (y0 * 2).sum().backward()  # a loss that does not use the event
    for value in (event_t, ys[-1].sum()):
        with pytest.raises(SolverError, match="touches zero without crossing"):
            torch.autograd.grad(value, y0, retain_graph=True)


@pytest.mark.parametrize("interface", ["odeint", "odeint_adjoint"])
def test_same_event_time_and_gradients_as_torchdiffeq(interface: str) -> None:
    """The same odeint_event call on both libraries (a tuple state, t0 a parameter, the
    event depending on a state part): times within the tolerances, 1e-8; gradients w.r.t.
    t0, the initial height and the drag agree to 1e-6 relative."""
    torchdiffeq = pytest.importorskip("torchdiffeq")

    def collision(library):
        drag = Drag()
        t0 = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
        pos = torch.tensor([10.0], dtype=torch.float64, requires_grad=True)
        state = (pos, torch.tensor([2.0], dtype=torch.float64), torch.tensor([0.2]).double())

        def func(t, s):
            dy = drag(t, torch.stack(s[:2], dim=-1))
            return dy[..., 0], dy[..., 1], torch.zeros_like(s[2])

        extra = {"adjoint_params": (drag.k,)} if interface == "odeint_adjoint" else {}
        event_t, _ = library.odeint_event(
            func,
            state,
            t0,
            event_fn=lambda t, s: (s[0] - s[2]).sum(),
            rtol=1e-10,
            atol=1e-12,
            odeint_interface=getattr(library, interface),
            **extra,
        )
        return event_t, torch.autograd.grad(event_t, (t0, pos, drag.k))

    ours, theirs = collision(odedsl), collision(torchdiffeq)
    assert abs(ours[0].item() - theirs[0].item()) < 1e-8
    for mine, reference in zip(ours[1], theirs[1], strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-6, atol=1e-10)


def test_a_method_without_step_hook_is_refused(monkeypatch) -> None:
    """A solver that never shows its steps would search without end: refused by name."""

    class Opaque:
        def __init__(self, func, y0, rtol, atol, norm, options, stats) -> None:
            self.y0 = y0

        def integrate(self, t):
            return self.y0.expand(len(t), *self.y0.shape)

    monkeypatch.setitem(SOLVERS, "opaque", Opaque)
    with pytest.raises(ValueError, match="method: 'opaque' does not support event_fn"):
        odedsl.odeint(**FALL, event_fn=height, method="opaque")


def test_events_with_per_sample_step_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="per_sample: event_fn is not supported"):
        odedsl.solve(**FALL, event_fn=height, per_sample=True)


@pytest.mark.parametrize("method", ["dopri5", "rk4"])
def test_a_value_that_drops_to_zero_and_stays_has_its_event_where_it_gets_there(method) -> None:
    """max(1 - t, 0) reaches 0 at t = 1 and stays 0: torchdiffeq's sign test puts the event
    there, not at the end of the step that first sees 0 (learn_physics.py ends each solve
    this way). With steps of 0.7 the step ends are 0.7 and 1.4; the event is at 1 to a few
    ulps."""
    options = {"step_size": 0.7} if method == "rk4" else {"first_step": 0.7, "max_step": 0.7}
    event_t, _ = odedsl.odeint(
        lambda t, y: -y,
        torch.tensor([1.0], dtype=torch.float64),
        torch.tensor([0.0, 5.0], dtype=torch.float64),
        event_fn=lambda t, y: torch.clamp(1.0 - t, min=0.0),
        method=method,
        options=options,
    )
    assert float(event_t) == pytest.approx(1.0, abs=1e-14)
