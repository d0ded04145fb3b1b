"""Gradients through ODE solves: direct backpropagation, the adjoint, and checkpoints.

Independent truth, all in float64: autograd through closed forms (matrix exponentials, the
harmonic oscillator), central finite differences of tight forward solves, and
``torch.autograd.gradcheck``. Solves run at rtol = atol = 1e-10 or tighter, so that every
gradient method is accurate to about 1e-8 relative; the tolerances below leave a factor of
10-100 above that.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from odedsl.errors import SolverError
from odedsl.solvers import odeint_adjoint, solve

TIGHT = dict(rtol=1e-10, atol=1e-10)

MODES = {
    "direct": dict(gradient="direct"),
    "adjoint": dict(gradient="adjoint"),
    "checkpoint-steps": dict(gradient="checkpoint"),
    "checkpoint-3": dict(gradient="checkpoint", checkpoints=3),
}


@pytest.fixture(params=list(MODES), ids=list(MODES))
def mode(request) -> dict:
    return MODES[request.param]


class LinearField(nn.Module):
    """``dz/dt = z Aᵀ``, with ``A`` the parameter: closed form ``z0 expm(A (t - t0))ᵀ``."""

    def __init__(self) -> None:
        super().__init__()
        self.A = nn.Parameter(torch.tensor([[-0.3, 1.2], [-0.9, -0.2]], dtype=torch.float64))

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        return z @ self.A.T


class MLPField(nn.Module):
    """``f(t, z) = W2 tanh(W1 z + b1 + c t) + b2``: nonlinear, time-dependent."""

    def __init__(self, dim: int = 2, hidden: int = 8, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.inner = nn.Linear(dim, hidden).double()
        self.outer = nn.Linear(hidden, dim).double()
        self.c = nn.Parameter(torch.randn(hidden, generator=generator, dtype=torch.float64))
        with torch.no_grad():
            for p in (*self.inner.parameters(), *self.outer.parameters()):
                p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.7)

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        return self.outer(torch.tanh(self.inner(z) + self.c * t))


def weighted_loss(ys: Tensor, outputs: str) -> Tensor:
    """A loss on the final output only, or on every output time, with fixed weights."""
    weights = torch.linspace(0.5, 1.5, ys[0].numel(), dtype=ys.dtype).view_as(ys[0])
    if outputs == "final":
        return (ys[-1] * weights).sum() + (ys[-1] ** 2).sum()
    scale = torch.arange(1, len(ys) + 1, dtype=ys.dtype).view(-1, *[1] * (ys.dim() - 1))
    return (ys * weights * scale).sum() + (ys**2).sum()


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("outputs", ["final", "several"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_linear_gradients_match_closed_form(mode, outputs, direction):
    field = LinearField()
    y0 = torch.tensor([[1.0, -0.5], [0.3, 0.8]], dtype=torch.float64, requires_grad=True)
    times = [0.2, 0.5, 0.9, 1.4] if direction == "forward" else [1.4, 0.9, 0.5, 0.2]
    t = torch.tensor(times, dtype=torch.float64, requires_grad=True)

    ys = solve(field, y0, t, **TIGHT, **mode).ys
    got = torch.autograd.grad(weighted_loss(ys, outputs), (y0, field.A, t))

    exact = torch.stack([y0 @ torch.linalg.matrix_exp(field.A * (ti - t[0])).T for ti in t])
    want = torch.autograd.grad(weighted_loss(exact, outputs), (y0, field.A, t))
    for name, g, w in zip(("y0", "A", "t"), got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-8, msg=f"d loss / d {name}")


def test_tuple_state_adjoint_matches_closed_form():
    """Harmonic oscillator x'' = -ω² x as the tuple state (x, v)."""
    omega = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    x0 = torch.tensor([1.0, 0.2, -0.4], dtype=torch.float64, requires_grad=True)
    v0 = torch.tensor([0.0, 0.5, 0.3], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 0.7, 1.5], dtype=torch.float64)

    def oscillator(t, state):
        x, v = state
        return v, -(omega**2) * x

    xs, vs = solve(oscillator, (x0, v0), t, gradient="adjoint", adjoint_params=(omega,), **TIGHT).ys
    loss = (xs**2).sum() + vs[-1].sum()
    got = torch.autograd.grad(loss, (x0, v0, omega))

    tt = t.view(-1, 1)
    exact_x = x0 * torch.cos(omega * tt) + v0 / omega * torch.sin(omega * tt)
    exact_v = -x0 * omega * torch.sin(omega * tt) + v0 * torch.cos(omega * tt)
    want = torch.autograd.grad((exact_x**2).sum() + exact_v[-1].sum(), (x0, v0, omega))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-8)

    # torchdiffeq's call gives the same tensors and gradients
    xs2, vs2 = odeint_adjoint(oscillator, (x0, v0), t, adjoint_params=(omega,), **TIGHT)
    again = torch.autograd.grad((xs2**2).sum() + vs2[-1].sum(), (x0, v0, omega))
    for g, w in zip(again, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- finite differences


def test_gradcheck(mode):
    """gradcheck: every Jacobian entry of ys against central differences (eps = 1e-6).

    At rtol = atol = 1e-12 the forward solve's error, divided by eps, stays near 1e-6, inside
    gradcheck's atol = 1e-5.
    """
    y0 = torch.tensor([0.4, -0.3], dtype=torch.float64, requires_grad=True)
    weight = torch.tensor([[0.5, -1.0], [0.8, 0.2]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 0.4, 1.0], dtype=torch.float64, requires_grad=True)

    def run(y0, weight, t):
        def func(t, z):
            return torch.tanh(z @ weight) + 0.5 * torch.sin(2.0 * t)

        return solve(func, y0, t, rtol=1e-12, atol=1e-12, adjoint_params=(weight,), **mode).ys

    assert torch.autograd.gradcheck(run, (y0, weight, t), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("outputs", ["final", "several"])
def test_mlp_modes_agree_with_finite_differences(outputs):
    """All modes agree; and with a central difference along one random direction."""
    field = MLPField()
    generator = torch.Generator().manual_seed(1)
    y0 = torch.randn(3, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 0.3, 0.8], dtype=torch.float64, requires_grad=True)
    params = list(field.parameters())

    grads = {}
    for name, kwargs in MODES.items():
        ys = solve(field, y0, t, **TIGHT, **kwargs).ys
        grads[name] = torch.autograd.grad(weighted_loss(ys, outputs), (y0, t, *params))
    for name, grad in grads.items():
        for g, ref in zip(grad, grads["direct"], strict=True):
            torch.testing.assert_close(g, ref, rtol=1e-6, atol=1e-8, msg=name)

    directions = [
        torch.randn(x.shape, generator=generator, dtype=x.dtype) for x in (y0, t, *params)
    ]

    def loss_at(step: float) -> float:
        with torch.no_grad():
            for p, d in zip(params, directions[2:], strict=True):
                p.add_(step * d)
            ys = solve(
                field, y0 + step * directions[0], t + step * directions[1], rtol=1e-12, atol=1e-12
            ).ys
            for p, d in zip(params, directions[2:], strict=True):
                p.sub_(step * d)
            return float(weighted_loss(ys, outputs))

    eps = 1e-5  # truncation error ~eps² ≈ 1e-10, solver error / eps ≈ 1e-7
    numeric = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    for name, grad in grads.items():
        analytic = sum(float((g * d).sum()) for g, d in zip(grad, directions, strict=True))
        assert analytic == pytest.approx(numeric, rel=1e-5), name


# --------------------------------------------------------------------------- reconstruction


class FastSlowField(nn.Module):
    """A fast variable relaxing onto sin(t) at rate k, integrated by a slow one:
    ``z1' = -k (z1 - sin t)``, ``z2' = θ tanh(z1)``. Forward it contracts; run backwards
    (the backsolve adjoint's reconstruction) any error in z1(T) grows like e^{k (T - t)}."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k
        self.theta = nn.Parameter(torch.tensor(1.0, dtype=torch.float64))

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        fast = z[..., 0]
        return torch.stack([-self.k * (fast - torch.sin(t)), self.theta * torch.tanh(fast)], -1)


def test_checkpoint_is_exact_where_backsolve_reconstruction_drifts():
    field = FastSlowField(k=10.0)
    y0 = torch.tensor([0.5, 0.0], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 2.0], dtype=torch.float64)

    def gradient(rtol: float, **kwargs) -> Tensor:
        ys = solve(field, y0, t, rtol=rtol, atol=rtol, **kwargs).ys
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(ys[-1, 1], (y0, field.theta))])

    def error(g: Tensor, ref: Tensor) -> float:
        return float(((g - ref).abs() / ref.abs()).max())

    truth = gradient(1e-11)  # direct backpropagation at a tight tolerance
    direct = gradient(1e-6)
    adjoint = gradient(1e-6, gradient="adjoint")
    # e^{k T} = e^{20} amplifies the error of z(T) in the reconstruction: the adjoint is O(1) off
    assert error(adjoint, truth) > 0.3
    for checkpoints in (None, 4):
        checkpointed = gradient(1e-6, gradient="checkpoint", checkpoints=checkpoints)
        assert error(checkpointed, truth) < 1e-5  # only the forward solve's own error (2e-6)
    # with a checkpoint per step the replay is the forward solve: direct backprop's gradient
    assert error(gradient(1e-6, gradient="checkpoint"), direct) < 1e-10


def test_checkpoint_replays_fixed_grid_exactly():
    """On rk4's grid, replaying every step reproduces direct backpropagation to rounding."""
    field = MLPField(seed=3)
    y0 = torch.tensor([[0.2, -0.7]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 0.35, 1.0], dtype=torch.float64)
    rk4 = dict(method="rk4", options={"step_size": 0.1})
    grads = []
    for kwargs in (dict(gradient="direct"), dict(gradient="checkpoint")):
        ys = solve(field, y0, t, **rk4, **kwargs).ys
        grads.append(torch.autograd.grad(weighted_loss(ys, "several"), (y0, *field.parameters())))
    for g, ref in zip(*grads, strict=True):
        torch.testing.assert_close(g, ref, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- memory


def saved_numel(run) -> int:
    """Elements of every tensor the autograd graph saves while ``run()`` executes."""
    total = 0

    def pack(x: Tensor) -> Tensor:
        nonlocal total
        total += x.numel()
        return x

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
        run()
    return total


def test_saved_memory_does_not_grow_with_steps():
    field = MLPField(hidden=16)
    y0 = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    rk4 = dict(method="rk4", options={"step_size": 0.01})  # 100 steps
    outputs = len(t) * y0.numel()

    def saved(**kwargs) -> int:
        return saved_numel(lambda: solve(field, y0, t, **rk4, **kwargs).ys)

    assert saved(gradient="direct") > 100 * y0.numel()  # the probe sees the direct graph
    assert saved(gradient="adjoint") == outputs + len(t)  # ys and t only
    assert saved(gradient="checkpoint", checkpoints=4) == outputs + len(t) + 4 * y0.numel()


# --------------------------------------------------------------------------- statistics


def test_seminorm_needs_no_more_backward_evaluations_than_full_norm():
    field = MLPField(dim=2, hidden=32, seed=5)
    y0 = torch.randn(16, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    counts, grads = {}, {}
    for norm in ("seminorm", "full"):
        solution = solve(field, y0, t, rtol=1e-5, atol=1e-5, gradient="adjoint", adjoint_norm=norm)
        grads[norm] = torch.autograd.grad((solution.ys[-1] ** 2).sum(), list(field.parameters()))
        counts[norm] = solution.stats.nfe_backward
    assert counts["seminorm"] <= counts["full"], counts
    for g, ref in zip(grads["seminorm"], grads["full"], strict=True):
        # both controlled at 1e-5: they agree to a few times that, relative to the largest entry
        torch.testing.assert_close(g, ref, rtol=0, atol=1e-4 * float(ref.abs().max()))


@pytest.mark.parametrize("gradient", ["adjoint", "checkpoint"])
def test_backward_evaluations_are_counted(gradient):
    field = MLPField()
    y0 = torch.tensor([[0.1, 0.2]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    solution = solve(field, y0, t, rtol=1e-6, atol=1e-6, gradient=gradient)
    assert solution.stats.nfe_forward > 0
    assert solution.stats.nfe_backward == 0
    solution.ys.sum().backward(retain_graph=True)
    first = solution.stats.nfe_backward
    assert first > 0
    solution.ys.sum().backward()  # a second backward pass adds its own count
    assert solution.stats.nfe_backward == 2 * first


def test_direct_mode_counts_no_backward_evaluations():
    field = MLPField()
    y0 = torch.tensor([[0.1, 0.2]], dtype=torch.float64, requires_grad=True)
    solution = solve(field, y0, torch.tensor([0.0, 1.0], dtype=torch.float64))
    solution.ys.sum().backward()
    assert solution.stats.nfe_backward == 0


# --------------------------------------------------------------------------- errors


def test_plain_function_without_adjoint_params_is_refused():
    y0 = torch.ones(2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="adjoint_params"):
        solve(lambda t, z: -z, y0, torch.tensor([0.0, 1.0]), gradient="adjoint")


@pytest.mark.parametrize("gradient", ["adjoint", "checkpoint"])
def test_parameters_without_grad_are_skipped(gradient):
    field = MLPField()
    field.c.requires_grad_(False)
    y0 = torch.tensor([[0.1, 0.2]], dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    solve(field, y0, t, gradient=gradient, **TIGHT).ys.sum().backward()
    assert field.c.grad is None
    got = [p.grad.clone() for p in field.parameters() if p.requires_grad]
    field.zero_grad(set_to_none=True)
    solve(field, y0, t, **TIGHT).ys.sum().backward()
    want = [p.grad for p in field.parameters() if p.requires_grad]
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-9)


class _NaNBackward(torch.autograd.Function):
    """Identity whose vector–Jacobian product is NaN: a Jacobian that overflows."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("nan"))


def test_non_finite_adjoint_state_names_the_time():
    weight = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    y0 = torch.ones(2, dtype=torch.float64, requires_grad=True)

    def func(t, z):
        return -weight * _NaNBackward.apply(z)

    ys = solve(func, y0, torch.tensor([0.0, 1.0]), gradient="adjoint", adjoint_params=(weight,)).ys
    with pytest.raises(SolverError, match=r"t=\d"):
        ys.sum().backward()


@pytest.mark.parametrize("checkpoints", [0, -2, 2.5, True, "3"])
def test_bad_checkpoint_count_is_refused(checkpoints):
    field = MLPField()
    y0 = torch.ones(1, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="checkpoints"):
        solve(field, y0, torch.tensor([0.0, 1.0]), gradient="checkpoint", checkpoints=checkpoints)


def test_checkpoint_per_step_refuses_multistep_method():
    field = MLPField()
    y0 = torch.ones(1, 2, dtype=torch.float64)
    t = torch.tensor([0.0, 1.0])
    with pytest.raises(ValueError, match="checkpoints"):
        solve(field, y0, t, method="adams", gradient="checkpoint")
    # with segments the multistep method is fine: each segment restarts it
    solve(field, y0, t, method="adams", gradient="checkpoint", checkpoints=2)


def test_adjoint_settings_are_separate_from_the_forward_ones():
    field = MLPField()
    y0 = torch.tensor([[0.3, -0.2]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)

    def backward_evaluations(**adjoint) -> tuple[int, Tensor]:
        solution = solve(field, y0, t, rtol=1e-8, atol=1e-8, gradient="adjoint", **adjoint)
        (grad,) = torch.autograd.grad(solution.ys[-1].sum(), y0)
        return solution.stats.nfe_backward, grad

    tight, tight_grad = backward_evaluations()
    loose, loose_grad = backward_evaluations(adjoint_rtol=1e-3, adjoint_atol=1e-3)
    assert loose < tight
    fixed, fixed_grad = backward_evaluations(
        adjoint_method="rk4", adjoint_options={"step_size": 0.01}
    )
    assert fixed >= 4 * 100  # rk4's four stages on 100 steps of the reverse solve
    # rk4 at h = 0.01 (error ~h⁴) and dopri5 at 1e-3 both approximate the tight gradient
    torch.testing.assert_close(fixed_grad, tight_grad, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(loose_grad, tight_grad, rtol=1e-2, atol=1e-4)
