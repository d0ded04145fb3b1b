"""Cost of one evaluation of CNF dynamics plus trace: symbolic, exact and Hutchinson.

The paper's gated units ``f = Σ_n g_n u_n tanh(w_n'z + b_n)`` with M = 64 units, batch 512,
D in (2, 8, 32, 128), float32. Variants, all on the same tensors:

- dynamics: ``f`` alone, hand-written torch (the floor any trace strategy adds to);
- symbolic: the code ``odedsl.symbolic`` emits for ``(f, tr ∂f/∂z)``, executed;
- exact: ``odedsl.nn.trace.exact_trace`` on the hand-written ``f`` (D vjps);
- hutchinson: ``f`` and one vjp with fixed noise (``hutchinson_trace``).

The gate g(t) is a fixed tensor for all variants (its network costs the same in each). Two
modes: ``forward`` (an evaluation without gradients, as when sampling) and ``train`` (the
evaluation with graph, then a backward pass of ``Σ dz + Σ tr`` to the parameters). Timing:
CPU time of the computing thread (one torch thread), in rounds of the variants in shuffled
order, each a block of calls lasting about 5 ms; times are medians over rounds, ratios medians
of the ratios within rounds (robust on a shared, noisy machine). Run from the repository root:

    python bench/trace.py                 # the tables in docs/benchmarks.md
    python bench/trace.py --dims 2 32 --samples 5
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from odedsl.nn.trace import exact_trace, hutchinson_trace, load_symbolic
from odedsl.symbolic import DynamicsBuilder, apply, sum_over, symbolic_dynamics

UNITS, BATCH = 64, 512
BLOCK_SECONDS = 0.005  # each timing sample: a block of calls lasting about this long
VARIANTS = ("dynamics", "symbolic", "exact", "hutchinson")


def gated_variants(dim: int) -> dict[str, Callable[[], tuple[torch.Tensor, ...]]]:
    """Each variant as a call returning the tensors it computes."""
    generator = torch.Generator().manual_seed(dim)
    # w scaled as at initialisation (w'z of unit variance), so tanh is not saturated.
    w = (torch.randn(UNITS, dim, generator=generator) / dim**0.5).requires_grad_()
    u = torch.randn(UNITS, dim, generator=generator).requires_grad_()
    b = torch.randn(UNITS, generator=generator).requires_grad_()
    gate = torch.rand(UNITS, generator=generator)
    z = torch.randn(BATCH, dim, generator=generator)
    t = torch.tensor(0.5)
    eps = torch.randint(0, 2, z.shape, generator=generator).float() * 2 - 1

    builder = DynamicsBuilder("z", dim)
    pw, pu = builder.param("w", (UNITS, dim)), builder.param("u", (UNITS, dim))
    pb = builder.param("b", (UNITS,))
    g = builder.network("gate", (UNITS,), builder.time)
    n = builder.index("n", UNITS)
    f_symbolic = sum_over(n, g[n] * pu[n] * apply("tanh", pw[n].T * builder.state + pb[n]))
    emitted = load_symbolic(symbolic_dynamics(builder, f_symbolic)).dynamics_and_trace

    def f(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return (gate * torch.tanh(z @ w.T + b)) @ u

    def hutchinson() -> tuple[torch.Tensor, ...]:
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            state = z.detach().requires_grad_()
            dz = f(t, state)
            trace, _ = hutchinson_trace(dz, state, eps, create_graph=create_graph)
        return dz, trace

    return {
        "dynamics": lambda: (f(t, z),),
        "symbolic": lambda: emitted(t, z, w, u, b, gate),
        "exact": lambda: tuple(exact_trace(f, t, z)[:2]),
        "hutchinson": hutchinson,
    }


def clock() -> float:
    """CPU seconds of this thread: with one torch thread every operation, the backward pass
    included, runs here, and time the machine gives to other processes does not count."""
    return time.thread_time()


def run_once(call: Callable[[], tuple[torch.Tensor, ...]], mode: str) -> None:
    if mode == "forward":
        with torch.no_grad():
            call()
    else:
        sum(out.sum() for out in call()).backward()


def measure(variants: dict, mode: str, samples: int) -> list[dict[str, float]]:
    """Seconds per call of each variant, one dict per round of interleaved measurements."""
    repeats = {}
    for name, call in variants.items():
        run_once(call, mode)  # warm-up
        start = clock()
        run_once(call, mode)
        repeats[name] = max(1, int(BLOCK_SECONDS / max(clock() - start, 1e-6)))
    rounds = []
    order = list(variants)
    for _ in range(samples):
        random.shuffle(order)
        times = {}
        for name in order:
            start = clock()
            for _ in range(repeats[name]):
                run_once(variants[name], mode)
            times[name] = (clock() - start) / repeats[name]
        rounds.append(times)
    return rounds


def median_ratio(rounds: list[dict[str, float]], numerator: str, denominator: str) -> float:
    """The median over rounds of a ratio measured within each round (drift cancels)."""
    return statistics.median(r[numerator] / r[denominator] for r in rounds)


def check_agreement(variants: dict) -> None:
    """The symbolic and exact traces agree (float32: to ~1e-4 relative)."""
    dz, trace = variants["symbolic"]()
    dz_exact, trace_exact = variants["exact"]()
    torch.testing.assert_close(dz, dz_exact, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(trace, trace_exact, rtol=1e-4, atol=1e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 8, 32, 128])
    parser.add_argument("--samples", type=int, default=41)
    args = parser.parse_args()
    torch.set_num_threads(1)
    random.seed(0)
    print(f"# python bench/trace.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"# torch {torch.__version__}, 1 thread, thread CPU time, M = {UNITS}, batch {BATCH}")
    for mode in ("forward", "train"):
        print(f"\n{mode}: milliseconds per evaluation (medians; ratios: medians of ratios)\n")
        print("| D | dynamics | symbolic | exact | hutchinson | exact / symbolic "
              "| symbolic / dynamics |")  # fmt: skip
        print("|---|---|---|---|---|---|---|")
        for dim in args.dims:
            variants = gated_variants(dim)
            check_agreement(variants)
            rounds = measure(variants, mode, args.samples)
            cells = " | ".join(
                f"{statistics.median(r[name] for r in rounds) * 1e3:.3f}" for name in VARIANTS
            )
            ratios = (
                f"{median_ratio(rounds, 'exact', 'symbolic'):.1f}× | "
                f"{median_ratio(rounds, 'symbolic', 'dynamics'):.2f}×"
            )
            print(f"| {dim} | {cells} | {ratios} |", flush=True)


if __name__ == "__main__":
    main()
