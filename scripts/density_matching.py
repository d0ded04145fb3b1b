"""Density matching (the Neural ODE paper's Fig. 4): planar NF of depth K against planar CNF of
width M on Rezende & Mohamed's U1–U4, both trained by KL(q‖p) with the same noise batches.

The CNF is a spec (gated planar units dz/dt = Σ_m σ_m(t) u_m tanh(w_mᵀz + b_m)) compiled by
``odedsl.compile``; the targets are written in the spec language, and the planar NF is fitted
to the very same compiled target. Reported: the KL gap E_q[log q − log p̃] + log Z (Z on the box
[−4, 4]², ``odedsl.data.log_normalizer``) from ``--eval`` samples, with the CNF's evaluation
solver, and the fraction of samples outside the box.

    OMP_NUM_THREADS=1 python scripts/density_matching.py --sizes 32 8 2 --steps 2000 \
        --batch 256 --json density.json
    OMP_NUM_THREADS=1 python scripts/density_matching.py --models NF --steps 10000
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from odedsl.compiler import compile as compile_spec
from odedsl.data import log_normalizer
from odedsl.data.targets import BOX
from odedsl.models.planar import PlanarFlow


def log_sum_exp(a: str, b: str) -> str:
    """log(exp(−a) + exp(−b)) for non-negative a, b, written without underflow."""
    return f"(-0.5 * (({a}) + ({b}) - abs(({a}) - ({b}))) + softplus(-abs(({a}) - ({b}))))"


W1 = "sin(2 * pi * x[1] / 4)"
GAP = f"(x[2] - {W1})"
TARGETS = {
    "U1": "-0.5 * ((norm(x) - 2) / 0.4)^2 + "
    + log_sum_exp("0.5 * ((x[1] - 2) / 0.6)^2", "0.5 * ((x[1] + 2) / 0.6)^2"),
    "U2": f"-0.5 * ({GAP} / 0.4)^2",
    "U3": log_sum_exp(
        f"0.5 * ({GAP} / 0.35)^2",
        f"0.5 * (({GAP} + 3 * exp(-0.5 * ((x[1] - 1) / 0.6)^2)) / 0.35)^2",
    ),
    "U4": log_sum_exp(
        f"0.5 * ({GAP} / 0.4)^2",
        f"0.5 * (({GAP} + 3 * sigmoid((x[1] - 1) / 0.3)) / 0.35)^2",
    ),
}

SPEC = """
model PlanarCNF
    constants
        D = 2
        M = {width}
        T = 1.0
    end
    params
        w :: Real[M, D]
        u :: Real[M, D]
        b :: Real[M]
    end
    networks
        gate = MLP(1 => 32 => M, act = :tanh, out = :sigmoid)
    end
    states
        z(t) :: Real[D]
        t ∈ (0.0, T)
    end
    flow
        dz/dt = sum(gate(t)[n] * u[n] * tanh(w[n]' * z + b[n]) for n in 1:M)
        z(0) ~ Normal(0, I(D))
    end
    target
        log p(x) = {target}
    end
    solver
        method = :rk4
        step_size = {step}
        gradient = :direct
        eval
            method = :dopri5
            rtol = 1e-5
            atol = 1e-5
        end
    end
    train
        optimizer = Adam(lr = {lr})
        steps = {steps}
        batch = {batch}
        seed = {seed}
    end
end
"""


def cnf(target: str, width: int, args: argparse.Namespace) -> torch.nn.Module:
    """The planar CNF of ``width`` units against ``target`` (a key of ``TARGETS``)."""
    text = SPEC.format(
        width=width,
        target=TARGETS[target],
        step=args.step,
        lr=args.lr,
        steps=args.steps,
        batch=args.batch,
        seed=args.seed,
    )
    return compile_spec(text)


def fit(model: torch.nn.Module, args: argparse.Namespace) -> float:
    """Adam with cosine decay on KL(q‖p) (up to log Z); the same noise stream for every model."""
    torch.manual_seed(args.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.steps)
    noise = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    for _ in range(args.steps):
        optimizer.zero_grad()
        model.loss(torch.randn(args.batch, 2, generator=noise)).loss.backward()
        optimizer.step()
        schedule.step()
    return time.perf_counter() - start


def score(model: torch.nn.Module, target: str, n: int) -> dict[str, float]:
    """Scores of q from ``n`` samples (fixed noise, seed 1), with Z of the box B = [−4, 4]².

    ``gap``: E_q[log q − log p̃] + log Z_B over every sample (not a KL when q leaks out of B).
    ``box_kl``: KL(q|B ‖ p̃|B) = E_{q|B}[log q − log P_q(B) − log p̃] + log Z_B, both densities
    restricted to B and renormalised, so it is ≥ 0 and leaking mass cannot lower it; reported
    with ``outside`` = P_q(Bᶜ), the mass it leaves out.
    """
    with torch.no_grad():
        generator = torch.Generator().manual_seed(1)
        x, log_q = model.sample(n, generator=generator, with_log_prob=True)
        excess = (log_q - model.target(x)).double()
    inside = (x.abs() <= BOX).all(1)
    mass = float(inside.double().mean())
    log_z = log_normalizer(target)
    box_kl = float(excess[inside].mean()) - math.log(mass) + log_z if mass > 0 else math.inf
    return {"gap": float(excess.mean()) + log_z, "box_kl": box_kl, "outside": 1.0 - mass}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 8, 2])
    parser.add_argument("--models", nargs="+", default=["NF", "CNF"], choices=["NF", "CNF"])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--step", type=float, default=0.125, help="CNF training RK4 step")
    parser.add_argument("--eval", type=int, default=20000, help="evaluation samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="append one JSON line per configuration to this file")
    args = parser.parse_args()
    header = f"{'target':6} {'size':>4} {'model':5} {'KL gap':>8} {'box KL':>8} {'outside':>8}"
    print(f"{header} {'train s':>8}")
    for size in args.sizes:
        for target in args.targets:
            flow = cnf(target, size, args)
            planar = PlanarFlow(size, flow.target, generator=torch.Generator().manual_seed(0))
            for name, model in (("NF", planar), ("CNF", flow)):
                if name not in args.models:
                    continue
                seconds = fit(model, args)
                row = {"target": target, "size": size, "model": name, "seconds": seconds}
                row.update(score(model, target, args.eval))
                print(
                    f"{target:6} {size:4d} {name:5} {row['gap']:8.3f} {row['box_kl']:8.3f} "
                    f"{row['outside']:8.4f} {seconds:8.1f}",
                    flush=True,
                )
                if args.json:
                    with open(args.json, "a") as out:
                        out.write(json.dumps({**row, **vars(args)}) + "\n")
                if not math.isfinite(row["box_kl"]):
                    print(f"  warning: non-finite KL for {name} on {target}")


if __name__ == "__main__":
    main()
