"""Small flow specs for the compiler's tests, built from a template."""

from __future__ import annotations

FLOW = """\
model Units
    constants
        D = {dim}
        M = 4
    end
    params
{params}
    end
    networks
        gate = MLP(1 => 8 => M, act = :tanh, out = :sigmoid)
{networks}
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
        log p(x) = {target}
    end
    solver
        trace = :{trace}
{solver}
    end
    train
        seed = {seed}
{train}
    end
end
"""


def flow_spec(
    rhs: str,
    *,
    params: str = "",
    networks: str = "",
    trace: str = "auto",
    dim: int = 3,
    target: str = "-0.5 * dot(x, x)",
    solver: str = "",
    train: str = "",
    seed: int = 0,
) -> str:
    """A density-matching flow ``dz/dt = rhs`` on a D-dimensional state (gate: an MLP of t)."""

    def block(text: str) -> str:
        return "\n".join(" " * 8 + line.strip() for line in text.strip().splitlines())

    return FLOW.format(
        dim=dim,
        params=block(params),
        networks=block(networks),
        rhs=rhs,
        trace=trace,
        target=target,
        solver=block(solver),
        train=block(train),
        seed=seed,
    )
