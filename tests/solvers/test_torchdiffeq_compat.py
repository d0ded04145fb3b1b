"""odedsl.odeint / odeint_adjoint as a drop-in for torchdiffeq: the same call gives the same
numbers, options, defaults, callbacks and states, checked against torchdiffeq itself.

Modelled on the behaviours torchdiffeq's own suite checks (options, callbacks, perturb,
grid constructors, norms, tuple states), written for odedsl; ``scripts/torchdiffeq_suite.py``
runs that suite itself.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from odedsl import SolverError, odeint, odeint_adjoint, solve
from odedsl.solvers.methods import SOLVERS

torchdiffeq = pytest.importorskip("torchdiffeq")

T = torch.tensor([0.0, 0.4, 1.1, 2.0], dtype=torch.float64)
FIXED_CANDIDATES = ("euler", "midpoint", "heun2", "heun3", "rk4", "explicit_adams")
ADAPTIVE_CANDIDATES = ("adaptive_heun", "fehlberg2", "bosh3", "tsit5", "dopri5", "dopri8")


def _shared(methods: tuple[str, ...]) -> list[str]:
    """The methods both libraries have (torchdiffeq's installed version may lack some)."""
    shared = []
    for method in methods:
        if method not in SOLVERS:
            continue
        try:
            torchdiffeq.odeint(_decay, torch.ones(1), torch.tensor([0.0, 0.1]), method=method)
        except ValueError:
            continue
        shared.append(method)
    return shared


def _decay(t, y):
    return -y


def _forced(t, y):
    """dy/dt = -y + sin(3t) (a smooth, time-dependent test problem)."""
    return -y + torch.sin(3.0 * t)


def _y0() -> torch.Tensor:
    return torch.tensor([1.0, -0.5], dtype=torch.float64)


FIXED = _shared(FIXED_CANDIDATES)
ADAPTIVE = _shared(ADAPTIVE_CANDIDATES)


# ---------------------------------------------------------------- same call, same numbers
@pytest.mark.parametrize("method", FIXED)
@pytest.mark.parametrize("reverse", [False, True])
def test_fixed_grid_methods_give_torchdiffeqs_numbers(method: str, reverse: bool) -> None:
    # Same tableaux, same grid, same (linear) interpolation between grid points: the results
    # agree to round-off (measured ≤ 4e-16); output times 0.4 and 1.1 lie between grid points.
    t = T.flip(0) if reverse else T
    options = {"step_size": 0.3}
    ours = odeint(_forced, _y0(), t, method=method, options=options)
    theirs = torchdiffeq.odeint(_forced, _y0(), t, method=method, options=options)
    assert (ours - theirs).abs().max() < 1e-13


@pytest.mark.parametrize("method", ADAPTIVE)
def test_adaptive_methods_agree_with_torchdiffeq_within_tolerance(method: str) -> None:
    # Step-size controllers and dense output differ (odedsl's PI controller; torchdiffeq
    # interpolates bosh3 and dopri8 with a 4th-order polynomial), so the results differ by
    # the methods' errors. At rtol=1e-7, atol=1e-9 odedsl stays within 1e-5 of the exact
    # solution (measured ≤ 2.7e-6, for the 2nd-order fehlberg2; ≤ 6e-8 for the others) and
    # at least as close as torchdiffeq (measured ours / theirs: dopri5 1.6e-8 / 2.0e-8,
    # bosh3 5.8e-8 / 1.6e-5, dopri8 2.3e-8 / 5.2e-6, fehlberg2 2.6e-6 / 3.7e-6,
    # adaptive_heun 1.0e-8 / 1.9e-8).
    ours = odeint(_decay, _y0(), T, method=method)
    theirs = torchdiffeq.odeint(_decay, _y0(), T, method=method)
    exact = torch.exp(-T)[:, None] * _y0()
    our_error = (ours - exact).abs().max().item()
    assert our_error < 1e-5
    assert our_error <= 1.2 * (theirs - exact).abs().max().item()


def test_euler_interpolates_linearly_by_default_in_odeint_and_cubically_in_solve() -> None:
    # dy/dt = 2t, y(0) = 0, Euler with step 0.3: y(0.3) = 0, y(0.6) = 0.18, y(0.9) = 0.54.
    # At t = 0.75, halfway between 0.6 and 0.9, linear interpolation gives 0.36 (odeint,
    # torchdiffeq); cubic Hermite with slopes 1.2 and 1.8 gives 0.36 + 0.3 (0.125 · 1.2
    # - 0.125 · 1.8) = 0.3375 (solve, odedsl's default; the exact value is 0.5625).
    def ramp(t, y):
        return 2.0 * t * torch.ones_like(y)

    y0, t = torch.zeros(1, dtype=torch.float64), torch.tensor([0.0, 0.75, 0.9], dtype=torch.float64)
    options = {"step_size": 0.3}
    ours = odeint(ramp, y0, t, method="euler", options=options)[1].item()
    theirs = torchdiffeq.odeint(ramp, y0, t, method="euler", options=options)[1].item()
    cubic = solve(ramp, y0, t, method="euler", options=options).ys[1].item()
    assert ours == pytest.approx(0.36, abs=1e-14)
    assert theirs == pytest.approx(0.36, abs=1e-14)
    assert cubic == pytest.approx(0.3375, abs=1e-14)


def test_cubic_interp_option_matches_torchdiffeqs() -> None:
    # torchdiffeq's cubic Hermite uses f(t1, y1), as odedsl's does: round-off agreement.
    options = {"step_size": 0.3, "interp": "cubic"}
    ours = odeint(_forced, _y0(), T, method="rk4", options=options)
    theirs = torchdiffeq.odeint(_forced, _y0(), T, method="rk4", options=options)
    assert (ours - theirs).abs().max() < 1e-13


def test_adjoint_gradients_match_torchdiffeqs() -> None:
    # Both adjoint gradients approximate the exact gradient within the tolerances: for
    # y' = -k y, y(2) = y0 exp(-2k), d/dk sum y(2) = -2 sum y0 exp(-2k) (measured errors
    # ≤ 1e-8 at rtol=1e-7, atol=1e-9).
    def run(library):
        k = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
        y0 = _y0().requires_grad_(True)
        func = lambda t, y: -k * y  # noqa: E731
        ys = library.odeint_adjoint(func, y0, T, adjoint_params=(k,))
        ys[-1].sum().backward()
        return k.grad.item(), y0.grad

    import odedsl

    ours, theirs = run(odedsl), run(torchdiffeq)
    exact = -2.0 * _y0().sum().item() * math.exp(-1.4)
    assert ours[0] == pytest.approx(exact, abs=1e-7)
    assert ours[0] == pytest.approx(theirs[0], abs=2e-7)
    torch.testing.assert_close(ours[1], theirs[1], rtol=0, atol=1e-7)


# ---------------------------------------------------------------- options
def test_step_size_beside_an_adaptive_method_warns_and_goes_on() -> None:
    # A shared options dict: torchdiffeq warns about step_size under dopri5 and ignores it.
    with pytest.warns(UserWarning, match="'dopri5' does not use 'step_size'"):
        shared = odeint(_decay, _y0(), T, options={"step_size": 0.1})
    assert torch.equal(shared, odeint(_decay, _y0(), T))


def test_unknown_option_is_refused_by_solve_and_warned_about_by_odeint() -> None:
    with pytest.raises(ValueError, match=r"unknown option 'safty'.*did you mean 'safety'"):
        solve(_decay, _y0(), T, options={"safty": 0.5})
    with pytest.warns(UserWarning, match="does not use 'safty'"):
        odeint(_decay, _y0(), T, options={"safty": 0.5})


def test_fixed_step_forward_with_a_dopri5_adjoint() -> None:
    # The forward options (step_size) are not the adjoint method's: dropped with a warning.
    # The gradient is then dopri5's of the continuous adjoint: d y(2)/d y0 = exp(-2) for rk4's
    # forward and dopri5's backward (rk4 at h=0.1 errs by ~1e-7 here).
    y0 = _y0().requires_grad_(True)
    with pytest.warns(UserWarning, match="'dopri5' does not use 'step_size'"):
        ys = odeint_adjoint(
            _decay,
            y0,
            T,
            method="rk4",
            options={"step_size": 0.1},
            adjoint_method="dopri5",
            adjoint_params=(),
        )
        ys[-1].sum().backward()
    torch.testing.assert_close(y0.grad, torch.full((2,), math.exp(-2.0), dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_dtype_option_is_accepted(dtype: torch.dtype) -> None:
    # torchdiffeq's time dtype: odedsl keeps times in float64 and says so for others.
    context = pytest.warns(UserWarning, match="keeps times in float64")
    if dtype == torch.float64:
        context = warnings.catch_warnings()
        warnings.simplefilter("error")
    with context:
        ys = odeint(_decay, _y0(), T, options={"dtype": dtype})
    assert torch.equal(ys, odeint(_decay, _y0(), T))


class _TimeRecorder:
    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, t, y):
        self.times.append(t.item())
        # a step in the dynamics at t = 0.5: which side a grid point is on matters
        return -y if t < 0.5 else y


@pytest.mark.parametrize("method", FIXED)
@pytest.mark.parametrize("perturb", [False, True])
def test_perturb_moves_grid_evaluations_off_the_grid_like_torchdiffeq(
    method: str, perturb: bool
) -> None:
    # Grid 0, 0.5, 1: with perturb, f is never evaluated on a grid point (a step's start is
    # nudged forward, a stage at its end backward); the numbers equal torchdiffeq's.
    y0, t = _y0(), torch.tensor([0.0, 1.0], dtype=torch.float64)
    options = {"step_size": 0.5, "perturb": perturb}
    ours, theirs = _TimeRecorder(), _TimeRecorder()
    ys = odeint(ours, y0, t, method=method, options=options)
    ref = torchdiffeq.odeint(theirs, y0, t, method=method, options=options)
    assert (ys - ref).abs().max() < 1e-14
    on_grid = {0.0, 0.5} & set(ours.times)
    assert on_grid == (set() if perturb else {0.0, 0.5})
    assert sorted(set(ours.times)) == sorted(set(theirs.times))


def test_perturb_reaches_the_adjoint_solve() -> None:
    y0 = _y0().requires_grad_(True)
    func = _TimeRecorder()
    ys = odeint_adjoint(
        func, y0, torch.tensor([0.0, 1.0]).double(), method="rk4",
        options={"step_size": 0.5, "perturb": True}, adjoint_params=(),
    )  # fmt: skip
    func.times.clear()
    ys.sum().backward()
    assert func.times and not {1.0, 0.5} & set(func.times)


@pytest.mark.parametrize("adjoint", [False, True])
def test_grid_constructor_gives_torchdiffeqs_grid_forward_and_backward(adjoint: bool) -> None:
    # Euler on dy/dt = y with 10 steps of 0.1: y(1) = 1.1^10, dy(1)/dy0 = 1.1^10.
    seen = []

    def grid(func, y0, t):
        seen.append((t[0].item(), t[-1].item()))
        return torch.linspace(t[0].item(), t[-1].item(), 11, dtype=torch.float64)

    y0 = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    kwargs = {"adjoint_params": ()} if adjoint else {}
    solver = odeint_adjoint if adjoint else odeint
    y1 = solver(
        lambda t, y: y, y0, t, method="euler", options={"grid_constructor": grid}, **kwargs
    )[-1]
    assert y1.item() == pytest.approx(1.1**10, abs=1e-12)
    y1.backward()
    assert y0.grad.item() == pytest.approx(1.1**10, abs=1e-12)
    # the adjoint's backward solve asks for its grid from 1 to 0, as torchdiffeq's does
    assert seen == ([(0.0, 1.0), (1.0, 0.0)] if adjoint else [(0.0, 1.0)])


def test_jump_t_saves_evaluations_as_in_torchdiffeq() -> None:
    # A kink at t = 0.5: declaring it lets both libraries step onto it instead of rejecting
    # steps around it; both then agree with the exact solution to 1e-6.
    def kinked(counter):
        def f(t, y):
            counter[0] += 1
            return -0.5 * y if t < 0.5 else y**2

        return f

    y0, t = torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([0.0, 1.0]).double()
    for library in (torchdiffeq, __import__("odedsl")):
        plain, jumped = [0], [0]
        library.odeint(kinked(plain), y0, t, rtol=1e-6, atol=1e-6)
        b = library.odeint(
            kinked(jumped), y0, t, rtol=1e-6, atol=1e-6, options={"jump_t": torch.tensor([0.5])}
        )
        assert jumped[0] < plain[0]
        y_half = y0 * math.exp(-0.25)  # then y' = y², y(1) = y_half / (1 - 0.5 y_half)
        torch.testing.assert_close(b[-1], y_half / (1 - 0.5 * y_half), rtol=1e-5, atol=0)


def test_controller_options_are_accepted_and_change_the_steps() -> None:
    base = _count_steps({})
    assert _count_steps({"first_step": 1e-4}) != base
    assert _count_steps({"safety": 0.5}) > base
    assert _count_steps({"ifactor": 1.5, "first_step": 1e-4}) > _count_steps({"first_step": 1e-4})
    assert _count_steps({"dfactor": 0.05}) >= 1


def _count_steps(options: dict) -> int:
    counter = []
    func = _forced_with_callbacks(counter)
    odeint(func, _y0(), T, options=options)
    return len(counter)


def _forced_with_callbacks(counter: list):
    def func(t, y):
        return _forced(t, y)

    func.callback_accept_step = lambda t0, y0, dt: counter.append(dt.item())
    return func


def test_step_limit_defaults() -> None:
    # solve stops at 10 000 steps by default; odeint, like torchdiffeq, has no limit. Euler on
    # y' = -y with 12 000 steps of 1/6000 on [0, 2] errs by about h/2 · 2 e^-2 ≈ 2e-5.
    y0, t = _y0(), torch.tensor([0.0, 2.0], dtype=torch.float64)
    options = {"step_size": 1 / 6000}
    with pytest.raises(SolverError, match="12000 steps, more than max_num_steps=10000"):
        solve(_decay, y0, t, method="euler", options=options)
    ys = odeint(_decay, y0, t, method="euler", options=options)
    assert (ys[-1] - y0 * math.exp(-2.0)).abs().max() < 3e-5
    with pytest.raises(SolverError, match="max_num_steps=5"):
        odeint(_decay, y0, t, options={"max_num_steps": 5})


def test_a_fixed_grid_of_absurd_length_is_refused_by_solve_and_warned_about_by_odeint() -> None:
    y0, t = _y0(), torch.tensor([0.0, 1.0], dtype=torch.float64)
    options = {"step_size": 1e-9}
    # 1e9 steps: solve refuses before the first step, naming the count and the fix
    with pytest.raises(SolverError, match=r"the grid has 1000000000 steps.*max_num_steps=10000"):
        solve(_decay, y0, t, method="rk4", options=options)

    class Stop(Exception):
        pass

    def stop(t, y):
        raise Stop  # the warning comes before the first evaluation

    with pytest.warns(UserWarning, match="fixed grid has 1000000000 steps"), pytest.raises(Stop):
        odeint(stop, y0, t, method="rk4", options=options)


def test_float32_tolerances_below_resolution_get_the_true_message() -> None:
    # 1e-20 tolerances: y / (atol + rtol |y|) = 1e20 for y = 1, whose square overflows
    # float32; the message names the tolerances, not a non-finite y0.
    for options in ({}, {"first_step": 0.1}):
        with pytest.raises(SolverError, match=r"below what torch.float32 states resolve"):
            odeint(_decay, torch.ones(3), T.float(), rtol=1e-20, atol=1e-20, options=options)


# ---------------------------------------------------------------- norms
def test_a_callable_norm_is_honoured_forward_and_in_the_adjoint() -> None:
    calls = {"forward": 0, "adjoint": 0}

    def counting(name):
        def norm(x):
            calls[name] += 1
            if isinstance(x, tuple):  # the adjoint's (a_t, y, a_y, *a_params)
                return max(part.abs().max() for part in x)
            return x.abs().max()

        return norm

    y0 = _y0().requires_grad_(True)
    ys = odeint_adjoint(
        _decay,
        y0,
        T,
        options={"norm": counting("forward")},
        adjoint_options={"norm": counting("adjoint")},
        adjoint_params=(),
    )
    ys.sum().backward()
    assert calls["forward"] > 0 and calls["adjoint"] > 0


class _MLP(torch.nn.Module):
    """A small neural vector field ``tanh`` MLP (seeded), counting backward step attempts."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)
        ).double()
        self.backward_steps = 0

    def forward(self, t, y):
        return self.net(y)

    def callback_step_adjoint(self, t0, y0, dt):
        self.backward_steps += 1


def _rms(x):
    return x.pow(2).mean().sqrt()


def _backward_steps(adjoint_options) -> int:
    func = _MLP()
    y0 = torch.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=torch.float64)
    ys = odeint_adjoint(func, y0, T, rtol=1e-6, atol=1e-6, adjoint_options=adjoint_options)
    (ys**2).sum().backward()
    return func.backward_steps


def test_default_adjoint_norm_is_torchdiffeqs_full_norm() -> None:
    # torchdiffeq's default: the largest of |a_t|, RMS(y), RMS(a_y) and each parameter
    # adjoint's RMS; its seminorm leaves the parameter adjoints out. The same formulas given
    # as callables take the same backward steps; leaving the parameters out saves steps.
    def full(v):
        return torch.stack([v[0].abs(), *(_rms(x) for x in v[1:])]).max()

    def semi(v):
        return torch.stack([v[0].abs(), _rms(v[1]), _rms(v[2])]).max()

    default = _backward_steps(None)
    assert default == _backward_steps({"norm": full})
    assert _backward_steps({"norm": "seminorm"}) == _backward_steps({"norm": semi})
    assert _backward_steps({"norm": "seminorm"}) < default


# ---------------------------------------------------------------- callbacks
def _counting_func(counts: dict):
    """A module ``-y`` whose forward and adjoint step callbacks count their calls."""

    class Func(torch.nn.Module):
        def forward(self, t, y):
            return -y

    func = Func()
    for name in ("step", "accept_step", "reject_step"):
        for suffix in ("", "_adjoint"):
            key = name + suffix
            counts[key] = 0

            def callback(t0, y0, dt, key=key):
                assert t0.ndim == 0 and dt.ndim == 0 and dt > 0
                counts[key] += 1

            setattr(func, f"callback_{key}", callback)
    return func


@pytest.mark.parametrize("method", FIXED)
def test_fixed_grid_callbacks_count_steps_like_torchdiffeq(method: str) -> None:
    # 10 steps of 0.1 forward, 10 backward; fixed grids have no accept/reject callbacks
    # (torchdiffeq warns about them, and so does odedsl).
    counts: dict = {}
    y0 = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="does not call callback_accept_step"):
        ys = odeint_adjoint(
            _counting_func(counts),
            y0,
            torch.tensor([0.0, 1.0]),
            method=method,
            options={"step_size": 0.1},
        )
        ys.sum().backward()
    assert counts["step"] == 10 and counts["step_adjoint"] == 10
    assert counts["accept_step"] == counts["reject_step"] == 0


@pytest.mark.parametrize("method", ADAPTIVE)
def test_adaptive_callbacks_see_every_attempt(method: str) -> None:
    counts: dict = {}
    y0 = torch.tensor([1.0, 2.0], requires_grad=True)
    ys = odeint_adjoint(_counting_func(counts), y0, torch.tensor([0.0, 1.0]), method=method)
    assert counts["step"] > 0
    assert counts["step"] == counts["accept_step"] + counts["reject_step"]
    ys.sum().backward()
    assert counts["step_adjoint"] > 0
    assert counts["step_adjoint"] == counts["accept_step_adjoint"] + counts["reject_step_adjoint"]


def test_callbacks_receive_the_users_state_and_time() -> None:
    # A tuple state arrives as a tuple; backwards in time t0 runs from 2 down, dt > 0.
    seen = []

    def func(t, y):
        return (-y[0], -y[1])

    func.callback_step = lambda t0, y0, dt: seen.append((t0.item(), y0, dt.item()))
    y0 = (torch.tensor(1.0, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    odeint(func, y0, T.flip(0), method="euler", options={"step_size": 0.5})
    assert [t0 for t0, _, _ in seen] == [2.0, 1.5, 1.0, 0.5]
    assert all(isinstance(y, tuple) and y[0].shape == () for _, y, _ in seen)
    assert all(dt == 0.5 for _, _, dt in seen)


# ---------------------------------------------------------------- states
def test_tuple_state_with_a_0_dim_part_matches_torchdiffeq() -> None:
    def func(t, state):
        x, v = state
        return v.sum(), -x * torch.ones_like(v)

    y0 = (torch.tensor(1.0, dtype=torch.float64), torch.tensor([0.0, 0.5], dtype=torch.float64))
    ours, theirs = odeint(func, y0, T), torchdiffeq.odeint(func, y0, T)
    assert ours[0].shape == (len(T),) and ours[1].shape == (len(T), 2)
    for a, b in zip(ours, theirs, strict=True):
        assert (a - b).abs().max() < 1e-6


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_complex_state_matches_the_closed_form_and_torchdiffeq(dtype: torch.dtype) -> None:
    # y' = (i - 0.1) y: y(t) = y0 exp((i - 0.1) t)
    rate = complex(-0.1, 1.0)
    y0 = torch.tensor([1.0 + 0.0j, 0.5 - 2.0j], dtype=dtype)
    t = T.to(y0.real.dtype)
    ours = odeint(lambda t, y: rate * y, y0, t)
    theirs = torchdiffeq.odeint(lambda t, y: rate * y, y0, t)
    exact = torch.exp(rate * t.to(dtype))[:, None] * y0
    tol = 1e-5 if dtype == torch.complex64 else 1e-7
    assert ours.dtype == dtype and ours.shape == (len(t), 2)
    assert (ours - exact).abs().max() < tol
    assert (ours - theirs).abs().max() < 2 * tol


def test_complex_state_gradients_agree_between_direct_and_adjoint() -> None:
    # L = |y(2)|², y(2) = y0 e^{2(i - 0.1)}: dL/dk for y' = k (i - 0.1) y at k = 1 is
    # 2 · 2 (-0.1) |y(2)|² (the phase drops out of the modulus).
    def run(solver):
        k = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
        y0 = torch.tensor([1.0 + 1.0j], dtype=torch.complex128)
        ys = solver(lambda t, y: k * complex(-0.1, 1.0) * y, y0, T, adjoint_params=(k,))
        loss = ys[-1].abs().pow(2).sum()
        loss.backward()
        return k.grad.item(), loss.item()

    direct = run(lambda *a, adjoint_params: odeint(*a))
    adjoint = run(odeint_adjoint)
    assert direct[0] == pytest.approx(-0.4 * direct[1], rel=1e-6)
    assert adjoint[0] == pytest.approx(direct[0], rel=1e-6)


def test_checkpoint_replays_call_no_callbacks() -> None:
    # The checkpointed gradient repeats forward steps backward: callbacks see each step once,
    # 10 steps of 0.1 on [0, 1].
    counts: dict = {}
    y0 = torch.tensor([1.0, 2.0], requires_grad=True)
    t = torch.tensor([0.0, 1.0])
    options = {"step_size": 0.1}
    with pytest.warns(UserWarning, match="does not call callback_accept_step"):
        solution = solve(
            _counting_func(counts), y0, t, method="rk4", options=options, gradient="checkpoint"
        )
    solution.ys.sum().backward()
    assert counts["step"] == 10 and counts["step_adjoint"] == 0


def test_per_sample_solves_say_they_call_no_callbacks() -> None:
    counts: dict = {}
    with pytest.warns(UserWarning, match=r"per-row \(per_sample\) solves do not call"):
        solution = solve(_counting_func(counts), _y0()[:, None], T, per_sample=True)
    assert counts["step"] == 0
    assert solution.ys.shape == (len(T), 2, 1)


def test_odeint_event_search_without_an_event_stops() -> None:
    # odeint has no step limit, but a search for an event that never comes keeps the events'
    # cap (20 000 accepted steps on a fixed grid, as torchdiffeq's) instead of running on.
    def never(t, y):
        return y.sum() + 10.0  # y = e^{-t} stays positive: no zero

    with pytest.raises(SolverError, match="no event found in 20000 accepted steps"):
        odeint(_decay, _y0(), T[:2], event_fn=never, method="euler", options={"step_size": 0.1})
