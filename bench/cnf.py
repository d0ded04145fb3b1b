"""One CNF training iteration on two moons (case C1 of the peers' table): odedsl against
torchdiffeq and torchdyn, same weights, same batch.

The gated CNF of ``specs/cnf_moons.ode`` (64 units, gate MLP 1→32→64), batch 512, dopri5 at
rtol = atol = 1e-5 forward and adjoint, adjoint gradients, Adam; no regularizer. An iteration
is zero_grad, loss (negative log-likelihood), backward and an Adam step. Variants:

- odedsl exact / symbolic: the compiled spec with ``method=dopri5, rtol=atol=1e-5,
  gradient=adjoint, kinetic=0`` and ``trace=exact`` (autograd, one vjp per dimension) or
  ``trace=symbolic`` (the trace in closed form); odedsl's adjoint uses the seminorm by default;
- torchdiffeq: ``odeint_adjoint`` (default full norm) and with ``adjoint_options=dict(norm=
  "seminorm")``;
- torchdyn: ``NeuralODE(..., solver="dopri5", sensitivity="adjoint")`` (no seminorm).

The peers run a plain-torch copy of the same CNF on the state ``[z, a]`` with ``da/dt = tr ∂f/∂z``
by the per-dimension vjp loop (graph kept only when gradients are being taken). A second table
times one evaluation of the compiled augmented dynamics under ``trace=exact`` against that
hand-written copy (the cost of the generated code itself). Two weight
states: the initialisation and after ``--trained-steps`` steps of the spec's own RK4 training
(kinetic 0, so the dynamics stiffen as they do under the paper's protocol). Each variant starts
every timed iteration from the same weights and a fresh Adam; variants run interleaved, times
are medians over ``--repeats`` rounds. Run from the repository root:

    OMP_NUM_THREADS=1 python bench/cnf.py --repeats 5 --trained-steps 300
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchdiffeq
from torch import Tensor, nn
from torchdyn.core import NeuralODE

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import markdown_table
from odedsl.compiler import compile as compile_spec
from odedsl.data import sample
from odedsl.models.flow import standard_normal_log_prob

SPEC = Path(__file__).resolve().parent.parent / "specs" / "cnf_moons.ode"
BATCH, TOL = 512, 1e-5
Result = tuple[float, float, float]  # seconds, forward evaluations, backward evaluations


class GatedCNF(nn.Module):
    """``f = Σ_n gate(t)_n u_n tanh(w_nᵀz + b_n)`` and ``tr ∂f/∂z`` by D vector–Jacobian
    products, on the state ``[z, a]`` (a: the accumulated trace). Counts its evaluations."""

    def __init__(self, weights: dict[str, Tensor]) -> None:
        super().__init__()
        self.w = nn.Parameter(weights["augmented.dynamics.p_w"].clone())
        self.u = nn.Parameter(weights["augmented.dynamics.p_u"].clone())
        self.b = nn.Parameter(weights["augmented.dynamics.p_b"].clone())
        self.gate = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 64), nn.Sigmoid())
        with torch.no_grad():
            for index in (0, 2):
                for kind in ("weight", "bias"):
                    key = f"augmented.dynamics.net_gate.{index}.{kind}"
                    getattr(self.gate[index], kind).copy_(weights[key])
        self.calls = 0

    def forward(self, t: Tensor, state: Tensor, args: object = None) -> Tensor:
        self.calls += 1
        keep_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            z = state[:, :-1]
            if not z.requires_grad:
                z = z.detach().requires_grad_()
            gate = self.gate(t.reshape(1, 1).to(z.dtype))
            dz = (gate * torch.tanh(z @ self.w.T + self.b)) @ self.u
            trace = z.new_zeros(z.shape[0])
            last = z.shape[1] - 1
            for i in range(z.shape[1]):
                grad = torch.autograd.grad(
                    dz[:, i].sum(), z, retain_graph=keep_graph or i < last, create_graph=keep_graph
                )[0]
                trace = trace + grad[:, i]
        return torch.cat([dz, trace.unsqueeze(1)], 1)


def reference_loss(solve: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """NLL of ``x`` from the final state of ``solve`` (data at t = 1 back to the base at 0)."""
    final = solve(torch.cat([x, x.new_zeros(x.shape[0], 1)], 1))
    return -(standard_normal_log_prob(final[:, :-1]) + final[:, -1]).mean()


def peer_iteration(name: str, weights: dict[str, Tensor], x: Tensor) -> Callable[[], Result]:
    """A call that runs one timed training iteration of peer ``name`` from ``weights``."""
    span = torch.tensor([1.0, 0.0])

    def run() -> Result:
        func = GatedCNF(weights)
        optimizer = torch.optim.Adam(func.parameters(), lr=1e-3)
        if name == "torchdyn":
            ode = NeuralODE(
                func, solver="dopri5", sensitivity="adjoint", atol=TOL, rtol=TOL,
                atol_adjoint=TOL, rtol_adjoint=TOL, return_t_eval=False,
            )  # fmt: skip

            def solve(y0: Tensor) -> Tensor:
                return ode(y0, span)[-1]
        else:
            options = {"norm": "seminorm"} if name.endswith("seminorm") else None

            def solve(y0: Tensor) -> Tensor:
                return torchdiffeq.odeint_adjoint(
                    func, y0, span, rtol=TOL, atol=TOL, method="dopri5",
                    adjoint_options=options,
                )[-1]  # fmt: skip

        start = time.perf_counter()
        optimizer.zero_grad()
        loss = reference_loss(solve, x)
        forward = func.calls
        loss.backward()
        optimizer.step()
        seconds = time.perf_counter() - start
        return seconds, forward, func.calls - forward

    return run


def odedsl_iteration(trace: str, weights: dict[str, Tensor], x: Tensor) -> Callable[[], Result]:
    """A call that runs one timed training iteration of the compiled spec from ``weights``."""
    model = compile_spec(
        SPEC, method="dopri5", rtol=TOL, atol=TOL, gradient="adjoint", trace=trace, kinetic=0.0
    )

    def run() -> Result:
        model.load_state_dict(weights)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        optimizer.zero_grad()
        out = model.loss(x)
        out.loss.backward()
        optimizer.step()
        seconds = time.perf_counter() - start
        return seconds, out.metrics["nfe_forward"], out.after_backward()["nfe_backward"]

    return run


def trained_weights(steps: int, seed: int) -> dict[str, Tensor]:
    """The spec's weights after ``steps`` of its own RK4 training (kinetic 0, Adam 5e-3)."""
    model = compile_spec(SPEC, kinetic=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        batch = torch.as_tensor(sample("Moons", BATCH, rng, noise=0.05), dtype=torch.float32)
        optimizer.zero_grad()
        model.loss(batch).loss.backward()
        optimizer.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def check_same_loss(weights: dict[str, Tensor], x: Tensor) -> float:
    """|odedsl loss − torchdiffeq loss| at the same weights (the variants compute one thing)."""
    model = compile_spec(SPEC, method="dopri5", rtol=TOL, atol=TOL, kinetic=0.0)
    model.load_state_dict(weights)
    func = GatedCNF(weights)
    with torch.no_grad():
        ours = float(model.loss(x).loss)
        theirs = float(
            reference_loss(
                lambda y0: torchdiffeq.odeint(
                    func, y0, torch.tensor([1.0, 0.0]), rtol=TOL, atol=TOL
                )[-1],
                x,
            )
        )
    return abs(ours - theirs)


def measure(weights: dict[str, Tensor], x: Tensor, repeats: int) -> dict[str, list[Result]]:
    """Interleaved rounds of every variant (one untimed warm-up round first)."""
    variants = {
        "odedsl exact": odedsl_iteration("exact", weights, x),
        "odedsl symbolic": odedsl_iteration("symbolic", weights, x),
        "torchdiffeq": peer_iteration("torchdiffeq", weights, x),
        "torchdiffeq seminorm": peer_iteration("torchdiffeq seminorm", weights, x),
        "torchdyn": peer_iteration("torchdyn", weights, x),
    }
    for run in variants.values():
        run()
    results: dict[str, list[Result]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            results[name].append(run())
    return results


def evaluation_rows(
    state: str, weights: dict[str, Tensor], x: Tensor, repeats: int, calls: int = 20
) -> list[list[object]]:
    """One evaluation of the augmented dynamics ``[dz, ±tr]`` at t = 0.5 on the batch: the
    compiled spec's (``trace=exact``) against the hand-written ``GatedCNF``, without gradients
    and with a backward pass to the parameters; per-call medians over ``repeats`` interleaved
    rounds of ``calls`` calls, in milliseconds."""
    model = compile_spec(SPEC, trace="exact", kinetic=0.0)
    model.load_state_dict(weights)
    state0 = model.augmented.initial_state(x)
    t = torch.tensor(0.5)
    functions = {"odedsl exact": model.augmented, "hand-written": GatedCNF(weights)}
    rounds: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats + 1):  # the first round warms up and is dropped
        for mode in ("no gradient", "with backward"):
            for name, function in functions.items():
                start = time.perf_counter()
                for _ in range(calls):
                    with torch.set_grad_enabled(mode == "with backward"):
                        out = function(t, state0)
                        if out.requires_grad:
                            out.sum().backward()
                elapsed = 1e3 * (time.perf_counter() - start) / calls
                rounds.setdefault((mode, name), []).append(elapsed)
    medians = {key: statistics.median(times[1:]) for key, times in rounds.items()}
    hand = {mode: medians[mode, "hand-written"] for mode, _ in medians}
    return [[state, mode, name, ms, ms / hand[mode]] for (mode, name), ms in medians.items()]


def rows(state: str, results: dict[str, list[Result]]) -> list[list[object]]:
    """Table rows: median seconds, ratio to the fastest default-setting peer, evaluations."""
    medians = {name: statistics.median(r[0] for r in runs) for name, runs in results.items()}
    fastest = min(medians["torchdiffeq"], medians["torchdyn"])
    table = []
    for name, runs in results.items():
        forward = statistics.median(r[1] for r in runs)
        backward = statistics.median(r[2] for r in runs)
        ratio = medians[name] / fastest
        table.append([state, name, medians[name], ratio, int(forward), int(backward)])
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trained-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    x = torch.as_tensor(
        sample("Moons", BATCH, np.random.default_rng(args.seed + 1), noise=0.05),
        dtype=torch.float32,
    )
    initial = {k: v.detach().clone() for k, v in compile_spec(SPEC).state_dict().items()}
    states = {"init": initial, f"trained {args.trained_steps}": None}
    table: list[list[object]] = []
    evaluations: list[list[object]] = []
    for state, weights in states.items():
        weights = weights or trained_weights(args.trained_steps, args.seed)
        print(f"{state}: |odedsl − torchdiffeq| loss = {check_same_loss(weights, x):.2e}")
        table += rows(state, measure(weights, x, args.repeats))
        evaluations += evaluation_rows(state, weights, x, args.repeats)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, command: "
          f"OMP_NUM_THREADS=1 python bench/cnf.py --repeats {args.repeats} "
          f"--trained-steps {args.trained_steps}")  # fmt: skip
    headers = ["weights", "variant", "s / iteration", "× fastest peer", "forward nfe", "back nfe"]
    print(markdown_table(headers, table))
    print("\nOne evaluation of the augmented dynamics (batch 512, exact trace), milliseconds:")
    headers = ["weights", "mode", "dynamics", "ms / evaluation", "× hand-written"]
    print(markdown_table(headers, evaluations))


if __name__ == "__main__":
    main()
