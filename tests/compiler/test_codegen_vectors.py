"""Generated code of the general language's forms against torch written by hand (float64,
1e-10): vector literals, zeros/ones, vcat, first(x), the elementwise operators, networks of
several inputs and Positive / initialised parameters.

Most cases check a spec, take one of its checked expressions and emit it alone with the
compiler's emitter into a function of the tensors named in the scope (states ``s_*``, data
``d_*``, the time ``t``), with the spec's parameters and networks created as the compiler
creates them; a few compile whole specs (a flow) and call ``model.generated``.
"""

from __future__ import annotations

import builtins
import math
from itertools import count
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from odedsl.compiler import compile
from odedsl.compiler.codegen import Emitter, Function, Scope, Value
from odedsl.compiler.modules import Parts
from odedsl.compiler.parameters import create_parameters
from odedsl.lang import check_text
from odedsl.lang import model as ir
from odedsl.symbolic.names import mangle

from .specs import flow_spec

TRAJECTORY = """\
model General
    constants
        D = 2
        M = 3
    end
    data
        (ts, x) ~ Spirals2D(n = 20, observed = 7)
    end
    params
        a :: Real = 0.5
        c :: Real
        σ :: Positive = 0.3
        s :: Positive[D] = [0.1, 2.0]
        u :: Real[M]
        w :: Real[2, 2]
        z0 :: Real[2] = [1.0, -1.0]
    end
    networks
        g = MLP(2 => 8 => 2, act = :tanh)
        f = MLP(1 + D => 8 => D)
        k = Dense(1 + D + 4 => 2)
    end
    states
        z(t) :: Real[D]
        h(t) :: Real[5]
    end
    dynamics
        z(0) = z0
        h(0) = vcat(first(x), zeros(3))
        dz/dt = {rhs}
        dh/dt = -h
    end
    likelihood
        for t in ts
            x[t] ~ Normal(z(t) + h(t)[1:2], σ)
        end
    end
end
"""
B = 6
"""Examples in a batch."""


@pytest.fixture(scope="module")
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def spec_with(rhs: str) -> ir.CheckedModel:
    return check_text(TRAJECTORY.format(rhs=rhs), "general.ode")


def members(spec: ir.CheckedModel) -> SimpleNamespace:
    """The parameters and networks as the compiler creates them, in float64, with the
    parameters drawn at random (so no initial value hides a wrong index)."""
    parts = Parts(spec, seed=0)
    generator = torch.Generator().manual_seed(1)
    found = {}
    for name, member in parts.members.items():
        member = member.double()
        if isinstance(member, torch.nn.Parameter):
            member = torch.randn(member.shape, generator=generator, dtype=torch.float64)
        found[name] = member
    return SimpleNamespace(**found)


def emit(spec: ir.CheckedModel, expr: ir.Expr, arguments: dict[str, tuple[tuple, int]]):
    """``expr`` emitted alone as ``f(m, *arguments)``: each argument (named as the compiler
    names it) bound to a scope key with its example rank; ``t`` is unbatched."""
    scope = Scope(next(iter(arguments)))
    for name, (key, rank) in arguments.items():
        scope.bind(key, Value(name, batched=name != "t", rank=rank))
    function = Function(count(1))
    value = Emitter(spec, scope, function).emit(expr)
    lines = [f"def f(m, {', '.join(arguments)}):", *(f"    {line}" for line in function.lines)]
    lines.append(f"    return {value.code}")
    namespace: dict = {}
    header = "import torch\nimport torch.nn.functional as F\nfrom odedsl.nn import ops\n"
    exec(builtins.compile(header + "\n".join(lines), "<test>", "exec"), namespace)
    return namespace["f"], value


def derivative(spec: ir.CheckedModel, state: str = "z") -> ir.Expr:
    return next(d.rhs for d in spec.dynamics.derivatives if d.state == state)


def initial(spec: ir.CheckedModel, state: str) -> ir.Expr:
    return next(i.value for i in spec.dynamics.initial if i.state == state)


STATE_ARGS = {
    "t": (("var", "time", "t"), 0),
    "s_z": (("state", "z", None), 1),
}
DATA_ARGS = {"d_x": (("var", "data", "x"), 2)}


def close(got: torch.Tensor, expected: torch.Tensor) -> None:
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def p(m: SimpleNamespace, name: str) -> torch.Tensor:
    return getattr(m, mangle("p_", name))


def net(m: SimpleNamespace, name: str) -> torch.nn.Module:
    return getattr(m, mangle("net_", name))


def run_rhs(rhs: str, rng: torch.Generator):
    spec = spec_with(rhs)
    m = members(spec)
    f, value = emit(spec, derivative(spec), STATE_ARGS)
    t = torch.tensor(0.7, dtype=torch.float64)
    z = torch.randn(B, 2, generator=rng, dtype=torch.float64)
    return f(m, t, z), m, t, z, value


# -- vector literals and the elementwise operators -------------------------------------------


def test_a_vector_literal_of_physics_and_a_network(rng):
    got, m, _, z, _ = run_rhs("[a * z[1] - g(z)[1], g(z)[2] - 0.8 * z[2]]", rng)
    g = net(m, "g")(z)
    expected = torch.stack([p(m, "a") * z[:, 0] - g[:, 0], g[:, 1] - 0.8 * z[:, 1]], dim=-1)
    close(got, expected)


def test_a_vector_literal_mixes_batched_values_parameters_and_numbers(rng):
    got, m, _, z, _ = run_rhs("[z[1] * z[2], 2.5] .+ [c, -a]", rng)
    expected = torch.stack([z[:, 0] * z[:, 1], torch.full((B,), 2.5, dtype=torch.float64)], -1)
    expected = expected + torch.stack([p(m, "c"), -p(m, "a")])
    close(got, expected)


def test_a_vector_literal_of_numbers_is_one_tensor_of_the_reference_dtype():
    spec = spec_with("-z")
    literal = ir.Vector(
        spec.dynamics.time.loc,
        (2,),
        tuple(ir.Const(spec.dynamics.time.loc, (), v) for v in (1.0, -2)),
    )
    f, value = emit(spec, literal, STATE_ARGS)
    assert not value.batched and value.rank == 1
    got = f(None, torch.tensor(0.0, dtype=torch.float64), torch.zeros(B, 2, dtype=torch.float64))
    close(got, torch.tensor([1.0, -2.0], dtype=torch.float64))


def test_a_vector_literal_inside_a_generator_sum(rng):
    # Σ_n [u_n, 2 u_n] ⊙ z = [U, 2U] ⊙ z with U = Σ_n u_n: the entries carry the axis of n
    got, m, _, z, _ = run_rhs("sum([u[n], 2 * u[n]] .* z for n in 1:M)", rng)
    total = p(m, "u").sum()
    close(got, torch.stack([total * z[:, 0], 2 * total * z[:, 1]], -1))


def test_elementwise_operators_broadcast_and_never_multiply_matrices(rng):
    got, m, _, z, _ = run_rhs("(z .* s ./ (1 .+ z .^ 2) .- ones(D)) .* exp(z) .^ [1.0, 0.5]", rng)
    s = F.softplus(p(m, "s"))
    expected = (z * s / (1 + z**2) - 1) * torch.exp(z) ** torch.tensor([1.0, 0.5]).double()
    close(got, expected)


def test_zeros_and_ones_are_unbatched_vectors_of_the_reference_dtype():
    spec = spec_with("zeros(D) + 2 * ones(D)")
    f, value = emit(spec, derivative(spec), STATE_ARGS)
    assert not value.batched and value.rank == 1
    got = f(None, torch.tensor(0.0, dtype=torch.float64), torch.zeros(B, 2, dtype=torch.float64))
    close(got, torch.full((2,), 2.0, dtype=torch.float64))


# -- vcat and first --------------------------------------------------------------------------


def test_vcat_joins_scalars_vectors_and_parameters(rng):
    spec = check_text(
        TRAJECTORY.format(rhs="-z").replace("dh/dt = -h", "dh/dt = vcat(z[1], c, z[2], s)"),
        "general.ode",
    )
    m = members(spec)
    f, _value = emit(spec, derivative(spec, "h"), STATE_ARGS)
    z = torch.randn(B, 2, generator=rng, dtype=torch.float64)
    got = f(m, torch.tensor(0.0, dtype=torch.float64), z)
    c = p(m, "c").expand(B, 1)
    s = F.softplus(p(m, "s")).expand(B, 2)
    close(got, torch.cat([z[:, :1], c, z[:, 1:], s], dim=-1))


def test_augmented_start_from_the_first_observation(rng):
    spec = spec_with("-z")
    f, value = emit(spec, initial(spec, "h"), DATA_ARGS)
    assert value.batched and value.rank == 1
    x = torch.randn(B, 7, 2, generator=rng, dtype=torch.float64)
    expected = torch.cat([x[:, 0, :], torch.zeros(B, 3, dtype=torch.float64)], dim=-1)
    close(f(None, x), expected)


def test_first_keeps_extra_batch_axes(rng):
    spec = spec_with("-z")
    call = initial(spec, "h").args[0]  # first(x)
    assert isinstance(call, ir.Call) and call.function == "first"
    f, _ = emit(spec, call, DATA_ARGS)
    x = torch.randn(3, B, 7, 2, generator=rng, dtype=torch.float64)
    close(f(None, x), x[:, :, 0, :])


def test_a_learned_initial_state_with_a_value(rng):
    spec = spec_with("-z")
    m = members(spec)
    f, value = emit(spec, initial(spec, "z"), DATA_ARGS)
    assert not value.batched
    close(f(m, torch.zeros(B, 7, 2, dtype=torch.float64)), p(m, "z0"))


# -- networks of several inputs ----------------------------------------------------------------


def test_a_network_of_the_time_and_the_state(rng):
    got, m, t, z, _value = run_rhs("f(t, z)", rng)
    expected = net(m, "f")(torch.cat([t.expand(B, 1), z], dim=-1))
    close(got, expected)


def test_a_network_of_a_scalar_a_state_and_a_matrix_parameter(rng):
    got, m, _t, z, _ = run_rhs("k(a, z, w)", rng)
    a = p(m, "a").reshape(1, 1).expand(B, 1)
    w = p(m, "w").reshape(1, 4).expand(B, 4)
    close(got, net(m, "k")(torch.cat([a, z, w], dim=-1)))


def test_a_network_of_several_inputs_inside_a_generator_sum(rng):
    # Σ_n f(u_n, z): each n joins its own u_n with z
    got, m, _, z, _ = run_rhs("sum(f(u[n], z) for n in 1:M)", rng)
    expected = sum(net(m, "f")(torch.cat([p(m, "u")[n].expand(B, 1), z], dim=-1)) for n in range(3))
    close(got, expected)


# -- Positive and initialised parameters -----------------------------------------------------


def test_a_positive_parameter_reads_as_the_softplus_of_its_raw_value(rng):
    got, m, _, z, _value = run_rhs("-σ * z", rng)
    close(got, -F.softplus(p(m, "σ")) * z)


def test_initial_values_of_real_and_positive_parameters():
    spec = spec_with("-σ * z .* s + a * c * w * z + z0 .* [u[1], u[2]]")
    created = create_parameters(spec, seed=0)
    assert created["a"].item() == 0.5
    assert created["z0"].tolist() == [1.0, -1.0]
    softplus = F.softplus(created["σ"].double()).item()
    assert math.isclose(softplus, 0.3, rel_tol=1e-6)  # float32 storage
    torch.testing.assert_close(F.softplus(created["s"]), torch.tensor([0.1, 2.0]))
    # without a value a Positive parameter starts at 1, a Real one by its role
    plain = check_text(
        TRAJECTORY.format(rhs="-σ * z").replace("σ :: Positive = 0.3", "σ :: Positive"), "p.ode"
    )
    assert math.isclose(F.softplus(create_parameters(plain, 0)["σ"]).item(), 1.0, rel_tol=1e-6)
    assert created["c"].abs().item() < 0.1  # an output scale N(0, 0.01²)


def test_a_flow_with_new_forms_compiles_and_its_dynamics_match_torch(rng):
    spec = flow_spec(
        "[a * z[1] - g(z)[1], g(z)[2]] .+ f(t, z) .* s .+ vcat(z[1], c) ./ (1 .+ z .^ 2)",
        params="a :: Real = 0.5\ns :: Positive[D] = [0.1, 0.2]\nc :: Real",
        networks="g = MLP(2 => 16 => 2)\nf = MLP(1 + D => 16 => D)",
        dim=2,
        trace="exact",
    )
    model = compile(spec).double()
    dynamics = model.generated["dynamics"]
    t = torch.tensor(0.3, dtype=torch.float64)
    z = torch.randn(B, 2, generator=rng, dtype=torch.float64)
    g = dynamics.net_g(z)
    expected = (
        torch.stack([dynamics.p_a * z[:, 0] - g[:, 0], g[:, 1]], -1)
        + dynamics.net_f(torch.cat([t.expand(B, 1), z], -1)) * F.softplus(dynamics.p_s)
        + torch.stack([z[:, 0], dynamics.p_c.expand(B)], -1) / (1 + z**2)
    )
    close(dynamics(t, z), expected)


def test_a_positive_parameter_in_symbolic_dynamics_enters_as_its_softplus(rng):
    spec = flow_spec(
        "-σ * z .* s + sum(gate(t)[n] * u[n] * tanh(w[n]' * z + b[n]) for n in 1:M)",
        params="σ :: Positive = 2.0\ns :: Positive[D]\nu :: Real[M, D]\nw :: Real[M, D]\n"
        "b :: Real[M]",
        dim=2,
        trace="symbolic",
    )
    model = compile(spec).double()
    generated = model.generated
    t = torch.tensor(0.4, dtype=torch.float64)
    z = torch.randn(B, 2, generator=rng, dtype=torch.float64)
    plain = generated["dynamics"](t, z)
    symbolic, _ = generated["dynamics_and_trace"](t, z)
    close(symbolic, plain)
    close(generated["dynamics_closed_form"](t, z), plain)


def test_a_network_of_the_time_and_a_parameter_keeps_the_symbolic_trace(rng):
    # k(t, c) does not read the state, so the dynamics stay closed-form in z: the symbolic
    # trace must equal the autograd trace of the generated dynamics
    spec = flow_spec(
        "-z * k(t, c)[1] + z .^ 2 .* s",
        params="c :: Real = 0.3\ns :: Positive[D]",
        networks="k = MLP(2 => 4 => 1)",
        dim=2,
        trace="auto",
    )
    model = compile(spec).double()
    assert model.spec.solver.trace == "symbolic"
    generated = model.generated
    t = torch.tensor(0.2, dtype=torch.float64)
    z = torch.randn(B, 2, generator=rng, dtype=torch.float64, requires_grad=True)
    dz, trace = generated["dynamics_and_trace"](t, z)
    plain = generated["dynamics"](t, z)
    close(dz, plain)
    exact = sum(
        torch.autograd.grad(plain[:, i].sum(), z, retain_graph=True)[0][:, i] for i in (0, 1)
    )
    close(trace, exact)
