"""Gradients through ODE solves: odedsl's direct, adjoint and checkpointed modes against
torchdiffeq (odeint, odeint_adjoint) and torchdyn (NeuralODE, autograd and adjoint).

Two parts, both on the MLP dynamics f(t, z) = W2 tanh(W1 z + b1) + b2 with the same weights
in every library (float32, one thread):

1. Forward + backward of loss = sum(z(1)²) with dopri5 at rtol = atol = 1e-5 (adjoint
   tolerances the same), cases (a) D = 2, hidden 64, batch 1024 and (b) D = 32, hidden 128,
   batch 256: median wall time over interleaved repeats, function evaluations forward and
   backward (counted by the dynamics module itself), and each method's gradient error
   against a float64 direct solve at 1e-9 (max |g - g_ref| / max |g_ref| over all weights).
2. Peak memory of forward + backward on case (a) as the integration time T grows (1, 4, 16),
   rk4 with h = 0.05 and dopri5: each configuration runs in a fresh subprocess, which first
   warms up (one short solve, so that lazy initialisation is not counted), then records
   ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` before and after the measured run; the
   difference is the growth of the process' peak resident memory caused by that run.
   (tracemalloc does not see torch's allocations.)

Run from the repository root:

    python bench/gradients.py                 # both parts (about 5 minutes)
    python bench/gradients.py --part timing   # or --part memory
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from odedsl.solvers import solve

TOL = 1e-5
CASES = {"a": dict(dim=2, hidden=64, batch=1024), "b": dict(dim=32, hidden=128, batch=256)}
MEMORY_TIMES = (1.0, 4.0, 16.0)
RK4_STEP = 0.05


class MLP(nn.Module):
    """``f(t, z) = W2 tanh(W1 z + b1) + b2``, counting its calls."""

    def __init__(self, dim: int, hidden: int, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.inner = nn.Linear(dim, hidden)
        self.outer = nn.Linear(hidden, dim)
        self.calls = 0

    def forward(self, t: Tensor, z: Tensor, args: dict | None = None) -> Tensor:
        """``args`` is torchdyn's extra keyword; unused."""
        self.calls += 1
        return self.outer(torch.tanh(self.inner(z)))


Runner = Callable[[MLP, Tensor, Tensor, str], Tensor]


@dataclass(frozen=True)
class Variant:
    """One way to get ``z(T)`` with gradients: a library and a gradient mode."""

    name: str
    library: str
    mode: str
    run: Runner  # (field, y0, t, method) -> z(T); t is [0, T] (dopri5) or rk4's grid


def _ours(gradient: str, **extra) -> Runner:
    def run(field: MLP, y0: Tensor, t: Tensor, method: str) -> Tensor:
        options = {"step_size": RK4_STEP} if method == "rk4" else None
        return solve(
            field,
            y0,
            t[[0, -1]],
            method=method,
            rtol=TOL,
            atol=TOL,
            options=options,
            gradient=gradient,
            **extra,
        ).ys[-1]

    return run


def _torchdiffeq(adjoint: bool, **extra) -> Runner:
    def run(field: MLP, y0: Tensor, t: Tensor, method: str) -> Tensor:
        import torchdiffeq  # imported on first use: the memory probes stay lean

        call = torchdiffeq.odeint_adjoint if adjoint else torchdiffeq.odeint
        options = {"step_size": RK4_STEP} if method == "rk4" else None
        span = t[[0, -1]]
        return call(field, y0, span, method=method, rtol=TOL, atol=TOL, options=options, **extra)[
            -1
        ]

    return run


def _torchdyn(sensitivity: str) -> Runner:
    def run(field: MLP, y0: Tensor, t: Tensor, method: str) -> Tensor:
        from torchdyn.core import NeuralODE

        # torchdyn's fixed-step solvers step on t_span: pass rk4's grid, keep the last state
        model = NeuralODE(
            field,
            solver=method,
            sensitivity=sensitivity,
            atol=TOL,
            rtol=TOL,
            atol_adjoint=TOL,
            rtol_adjoint=TOL,
            return_t_eval=False,
        )
        return model(y0, t if method == "rk4" else t[[0, -1]])[-1]

    return run


def variants() -> list[Variant]:
    return [
        Variant("odedsl adjoint (seminorm)", "odedsl", "adjoint", _ours("adjoint")),
        Variant(
            "odedsl adjoint (full norm)",
            "odedsl",
            "adjoint-full",
            _ours("adjoint", adjoint_norm="full"),
        ),
        Variant("odedsl checkpoint (every step)", "odedsl", "checkpoint", _ours("checkpoint")),
        Variant("odedsl direct", "odedsl", "direct", _ours("direct")),
        Variant("torchdiffeq odeint_adjoint", "torchdiffeq", "adjoint", _torchdiffeq(True)),
        Variant(
            "torchdiffeq odeint_adjoint (seminorm)",
            "torchdiffeq",
            "adjoint",
            _torchdiffeq(True, adjoint_options={"norm": "seminorm"}),
        ),
        Variant("torchdiffeq odeint", "torchdiffeq", "direct", _torchdiffeq(False)),
        Variant("torchdyn adjoint", "torchdyn", "adjoint", _torchdyn("adjoint")),
        Variant("torchdyn autograd", "torchdyn", "direct", _torchdyn("autograd")),
    ]


def _problem(case: str, span: float, dtype=torch.float32) -> tuple[MLP, Tensor, Tensor]:
    sizes = CASES[case]
    field = MLP(sizes["dim"], sizes["hidden"]).to(dtype)
    generator = torch.Generator().manual_seed(1)
    y0 = torch.randn(sizes["batch"], sizes["dim"], generator=generator).to(dtype)
    steps = round(span / RK4_STEP)
    t = torch.linspace(0.0, span, steps + 1, dtype=dtype)
    return field, y0.requires_grad_(True), t


def _forward_backward(variant: Variant, field: MLP, y0: Tensor, t: Tensor, method: str):
    """One forward + backward; returns (seconds, forward calls, backward calls, gradients)."""
    field.calls = 0
    start = time.perf_counter()
    z = variant.run(field, y0, t, method)
    forward_calls = field.calls
    grads = torch.autograd.grad((z**2).sum(), (y0, *field.parameters()))
    seconds = time.perf_counter() - start
    return seconds, forward_calls, field.calls - forward_calls, grads


# --------------------------------------------------------------------------- timing


def _reference_gradient(case: str) -> Tensor:
    field, y0, t = _problem(case, 1.0, torch.float64)
    z = solve(field, y0, t[[0, -1]], rtol=1e-9, atol=1e-9).ys[-1]
    return torch.cat(
        [g.reshape(-1) for g in torch.autograd.grad((z**2).sum(), (y0, *field.parameters()))]
    )


def timing(repeats: int) -> None:
    for case in CASES:
        field, y0, t = _problem(case, 1.0)
        reference = _reference_gradient(case).float()
        runs = variants()
        times: dict[str, list[float]] = {v.name: [] for v in runs}
        counts, errors = {}, {}
        for repeat in range(repeats + 1):  # the first round warms up and is not timed
            for variant in runs[repeat % len(runs) :] + runs[: repeat % len(runs)]:
                seconds, fwd, bwd, grads = _forward_backward(variant, field, y0, t, "dopri5")
                if repeat:
                    times[variant.name].append(seconds)
                else:
                    counts[variant.name] = (fwd, bwd)
                    flat = torch.cat([g.reshape(-1) for g in grads])
                    errors[variant.name] = float(
                        (flat - reference).abs().max() / reference.abs().max()
                    )
        sizes = CASES[case]
        lines = [
            f"\nB1({case}): D = {sizes['dim']}, hidden {sizes['hidden']}, batch {sizes['batch']}; "
            f"dopri5, rtol = atol = {TOL:g}; median of {repeats} interleaved runs\n",
            "| method | forward + backward (ms) | relative to fastest peer adjoint / direct "
            "| evaluations forward / backward | gradient error |",
            "|---|---|---|---|---|",
        ]
        medians = {name: statistics.median(v) for name, v in times.items()}
        best_peer = {
            mode: min(medians[v.name] for v in runs if v.library != "odedsl" and v.mode == mode)
            for mode in ("adjoint", "direct")
        }
        for variant in runs:
            base = best_peer["direct" if variant.mode == "direct" else "adjoint"]
            fwd, bwd = counts[variant.name]
            lines.append(
                f"| {variant.name} | {1e3 * medians[variant.name]:.1f} | "
                f"{medians[variant.name] / base:.2f} | {fwd} / {bwd} | {errors[variant.name]:.1e} |"
            )
        print("\n".join(lines), flush=True)


# --------------------------------------------------------------------------- memory


def probe(name: str, method: str, span: float) -> None:
    """Child process: print the peak-RSS growth (MiB) of one forward + backward."""
    torch.set_num_threads(1)
    variant = next(v for v in variants() if v.name == name)
    field, y0, t = _problem("a", span)
    _forward_backward(variant, field, y0[:8], t[:3], method)  # warm-up: lazy initialisation
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _forward_backward(variant, field, y0, t, method)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"mib": (after - before) / 1024}))


def memory(repeats: int) -> None:
    skipped = (
        "odedsl adjoint (full norm)",
        "torchdiffeq odeint_adjoint (seminorm)",
        "torchdyn autograd",
    )
    names = [v.name for v in variants() if v.name not in skipped]
    # A fixed mmap threshold makes glibc return every freed buffer over 64 KiB to the system
    # at once, so the peak follows live memory rather than the heap's fragmentation.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    samples: dict[tuple[str, str, float], list[float]] = {}
    for _ in range(repeats):  # interleaved: every configuration once per round
        for span in MEMORY_TIMES:
            for method in ("rk4", "dopri5"):
                for name in names:
                    command = [sys.executable, __file__, "--probe", name, method, str(span)]
                    out = subprocess.run(
                        command, capture_output=True, text=True, env=env, check=True
                    )
                    mib = json.loads(out.stdout.strip().splitlines()[-1])["mib"]
                    samples.setdefault((name, method, span), []).append(mib)
                    print(f"  {name}, {method}, T={span:g}: {mib:.2f} MiB", flush=True)
    lines = [
        f"\nPeak memory growth of forward + backward, MiB (median of {repeats} fresh processes), "
        f"case (a); rk4 h = {RK4_STEP}, dopri5 at {TOL:g}\n",
        "| method | rk4 T=1 | T=4 | T=16 | T=16 / T=1 | dopri5 T=1 | T=4 | T=16 | T=16 / T=1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        cells = []
        for method in ("rk4", "dopri5"):
            values = [statistics.median(samples[(name, method, span)]) for span in MEMORY_TIMES]
            ratio = f"{values[-1] / values[0]:.2f}" if values[0] > 0 else "n/a"
            cells += [f"{v:.2f}" for v in values] + [ratio]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("timing", "memory", "all"), default="all")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds")
    parser.add_argument("--memory-repeats", type=int, default=3, help="probes per configuration")
    parser.add_argument("--probe", nargs=3, metavar=("VARIANT", "METHOD", "T"))
    args = parser.parse_args()
    if args.probe:
        probe(args.probe[0], args.probe[1], float(args.probe[2]))
        return
    torch.set_num_threads(1)
    print(f"command: python bench/gradients.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"torch {torch.__version__}, one thread")
    if args.part in ("timing", "all"):
        timing(args.repeats)
    if args.part in ("memory", "all"):
        memory(args.memory_repeats)


if __name__ == "__main__":
    main()
