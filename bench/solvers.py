"""Forward solves: odedsl against torchdiffeq and torchdyn, interleaved in one run.

Three parts, every library on the same weights and inputs, under ``torch.no_grad``:

1. MLP dynamics f(t, z) = W2 tanh(W1 z + b1) + b2 (float32) from t = 0 to 1, final state:
   (a) D = 2, hidden 64, batch 1024 and (b) D = 32, hidden 128, batch 256; dopri5 at
   rtol = atol = 1e-3 and 1e-6, and rk4 with 100 steps; with one and with two threads.
   Reported: median wall time, evaluations, max error against scipy's DOP853 at 1e-13 on the
   float64 weights, the overhead ratio = solve time / (evaluations × time of one evaluation
   of f timed alone, interleaved with the solves), and the time relative to the faster peer.
2. The solver's own cost per dopri5 step with a trivial f (y' = J y, a 2-D rotation,
   float64, t from 0 to 10, tolerance 1e-8): (solve time - evaluations × f time) / steps,
   with steps = (evaluations - 2) / 6 for every library (FSAL dopri5 plus the initial-step
   probe).
3. Work–precision in float64, batch 1, t from 0 to 10 on Van der Pol (μ = 1, y0 = (2, 0)) and
   Lotka–Volterra (1.5, 1, 3, 1; y0 = (1, 1)), rtol = atol = 1e-3 … 1e-9: evaluations and
   the final-state error against scipy's DOP853 at 1e-13 (peers with dopri5; odedsl with
   dopri5, tsit5 and dopri8). The verdicts compare odedsl's evaluations with the fewest a
   peer would need for odedsl's error (log–log interpolation of the peer's own curve).

Run from the repository root (``--quick`` for a fast, rougher run):

    python bench/solvers.py [--quick] [--part mlp|step|precision] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchdiffeq
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import odedsl
from bench._common import MLP, Counted, interleaved_medians, markdown_table
from tests.solvers.problems import LOTKA_VOLTERRA, VAN_DER_POL

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import torchdyn
    from torchdyn.numerics import odeint as torchdyn_odeint

REFERENCE_TOL = 1e-13
MLP_CASES = {"a": (2, 64, 1024), "b": (32, 128, 256)}
RK4_STEPS = 100
F_CALLS = 10  # f alone is timed over this many back-to-back calls
LIBRARIES = ("odedsl", "torchdiffeq", "torchdyn")
PEERS = ("torchdiffeq", "torchdyn")

Solve = Callable[[Callable, torch.Tensor], torch.Tensor]


def solver_for(library: str, method: str, tol: float, t: torch.Tensor) -> Solve:
    """``run(func, y0) -> y(t[-1])`` for one library, method and tolerance (or rk4 grid)."""
    fixed = method == "rk4"
    if library == "torchdyn":
        span = torch.linspace(float(t[0]), float(t[-1]), RK4_STEPS + 1) if fixed else t

        def run_torchdyn(func: Callable, y0: torch.Tensor) -> torch.Tensor:
            kwargs = {} if fixed else dict(atol=tol, rtol=tol)
            return torchdyn_odeint(func, y0, span.to(y0.dtype), solver=method, **kwargs)[1][-1]

        return run_torchdyn
    odeint = odedsl.odeint if library == "odedsl" else torchdiffeq.odeint
    options = {"step_size": float(t[-1] - t[0]) / RK4_STEPS} if fixed else None

    def run(func: Callable, y0: torch.Tensor) -> torch.Tensor:
        return odeint(func, y0, t.to(y0.dtype), rtol=tol, atol=tol, method=method, options=options)[
            -1
        ]

    return run


def count_evaluations(run: Solve, func: Callable, y0: torch.Tensor) -> tuple[int, torch.Tensor]:
    counted = Counted(func)
    y = run(counted, y0)
    return counted.calls, y


def reference_final_state(func: Callable, y0: torch.Tensor, t0: float, t1: float) -> np.ndarray:
    """scipy's DOP853 at 1e-13 on the float64 right-hand side."""
    shape = y0.shape

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        z = torch.from_numpy(y).view(shape)
        with torch.no_grad():
            return func(torch.tensor(t, dtype=torch.float64), z).reshape(-1).numpy()

    solution = solve_ivp(
        rhs,
        (t0, t1),
        y0.double().reshape(-1).numpy(),
        method="DOP853",
        rtol=REFERENCE_TOL,
        atol=REFERENCE_TOL,
    )
    return solution.y[:, -1].reshape(shape)


def mlp_part(threads: tuple[int, ...], repeats: int) -> str:
    rows = []
    t = torch.tensor([0.0, 1.0])
    configurations = [("dopri5", 1e-3), ("dopri5", 1e-6), ("rk4", 1e-6)]  # rk4 ignores tol
    for case, (dim, hidden, batch) in MLP_CASES.items():
        func = MLP(dim, hidden)
        y0 = torch.randn(batch, dim, generator=torch.Generator().manual_seed(1))
        reference = reference_final_state(MLP(dim, hidden).double(), y0.double(), 0.0, 1.0)
        for n_threads in threads:
            torch.set_num_threads(n_threads)
            for method, tol in configurations:
                runs = {lib: solver_for(lib, method, tol, t) for lib in LIBRARIES}
                counts, errors = {}, {}
                for lib, run in runs.items():
                    calls, y = count_evaluations(run, func, y0)
                    counts[lib] = calls
                    errors[lib] = float(np.abs(y.double().numpy() - reference).max())
                variants = {
                    lib: (lambda run=run, func=func, y0=y0: run(func, y0))
                    for lib, run in runs.items()
                }
                variants["f alone"] = lambda func=func, y0=y0: [
                    func(t[0], y0) for _ in range(F_CALLS)
                ]
                times = interleaved_medians(variants, repeats)
                times["f alone"] /= F_CALLS
                fastest_peer = min(times[p] for p in PEERS)
                label = f"rk4 {RK4_STEPS} steps" if method == "rk4" else f"dopri5 {tol:g}"
                for lib in LIBRARIES:
                    ratio = times[lib] / (counts[lib] * times["f alone"])
                    rows.append(
                        [
                            f"F1({case})",
                            label,
                            n_threads,
                            lib,
                            times[lib] * 1e3,
                            counts[lib],
                            errors[lib],
                            ratio,
                            times[lib] / fastest_peer,
                        ]
                    )
    headers = [
        "case",
        "method",
        "threads",
        "library",
        "time (ms)",
        "evaluations",
        "error",
        "overhead ratio",
        "time / fastest peer",
    ]
    return markdown_table(headers, rows)


def rotation(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return y @ ROTATION_GENERATOR


ROTATION_GENERATOR = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)


def step_cost_part(repeats: int) -> str:
    torch.set_num_threads(1)
    tol = 1e-8
    t = torch.tensor([0.0, 10.0], dtype=torch.float64)
    y0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    runs = {lib: solver_for(lib, "dopri5", tol, t) for lib in LIBRARIES}
    counts = {lib: count_evaluations(run, rotation, y0)[0] for lib, run in runs.items()}
    variants = {lib: (lambda run=run: run(rotation, y0)) for lib, run in runs.items()}
    variants["f alone"] = lambda: [rotation(t[0], y0) for _ in range(F_CALLS)]
    times = interleaved_medians(variants, repeats)
    times["f alone"] /= F_CALLS
    rows = []
    for lib in LIBRARIES:
        steps = (counts[lib] - 2) / 6
        own = (times[lib] - counts[lib] * times["f alone"]) / steps
        rows.append([lib, times[lib] * 1e3, counts[lib], steps, own * 1e6])
    headers = ["library", "solve (ms)", "evaluations", "steps", "solver cost per step (µs)"]
    return markdown_table(headers, rows)


def evaluations_needed(curve: list[tuple[float, int]], error: float) -> float:
    """Evaluations a (error, evaluations) curve needs to reach ``error``, interpolated in
    log–log; infinity if the curve never gets there."""
    reachable = [(e, n) for e, n in curve if e <= error]
    if not reachable:
        return math.inf
    best = min(n for _, n in reachable)
    above = [(e, n) for e, n in curve if e > error and n < best]
    if not above:
        return best
    e_hi, n_lo = max(above, key=lambda p: p[1])
    e_lo, n_hi = min(((e, n) for e, n in reachable), key=lambda p: p[1])
    weight = (math.log(e_hi) - math.log(error)) / (math.log(e_hi) - math.log(e_lo))
    return math.exp(math.log(n_lo) + weight * (math.log(n_hi) - math.log(n_lo)))


def work_precision_part(tolerances: list[float]) -> str:
    """Rows ``evaluations / error`` per library (dopri5) and odedsl's tsit5 and dopri8; a
    verdict per odedsl method: its evaluations against the fewest a peer needs for its error.
    """
    torch.set_num_threads(1)
    rows = []
    runs = [(lib, "dopri5") for lib in LIBRARIES] + [("odedsl", "tsit5"), ("odedsl", "dopri8")]
    for problem in (VAN_DER_POL, LOTKA_VOLTERRA):
        t = torch.tensor([problem.t0, problem.t1], dtype=torch.float64)
        y0 = problem.y0_tensor()
        reference = problem.reference(np.array([problem.t0, problem.t1]), REFERENCE_TOL)[-1]
        curves: dict[tuple[str, str], list[tuple[float, int]]] = {}
        for lib, method in runs:
            curves[lib, method] = []
            for tol in tolerances:
                run = solver_for(lib, method, tol, t)
                calls, y = count_evaluations(run, problem.torch_func(), y0)
                curves[lib, method].append((float(np.abs(y.numpy() - reference).max()), calls))
        for i, tol in enumerate(tolerances):
            row: list[object] = [problem.name, tol]
            row += [f"{curves[run][i][1]} / {curves[run][i][0]:.2g}" for run in runs]
            for method in ("dopri5", "tsit5"):
                error, calls = curves["odedsl", method][i]
                need = min(evaluations_needed(curves[p, "dopri5"], error) for p in PEERS)
                shown = "never" if math.isinf(need) else round(need)
                row.append(f"{'yes' if calls <= need else 'no'} ({calls} vs {shown})")
            rows.append(row)
    headers = ["problem", "tol", *(f"{lib} {method}" for lib, method in runs)]
    headers += ["odedsl dopri5 ≤ peers", "odedsl tsit5 ≤ peers"]
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and tolerances")
    parser.add_argument("--part", choices=("all", "mlp", "step", "precision"), default="all")
    parser.add_argument("--threads", default="1,2", help="thread counts for the MLP part")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15
    threads = tuple(int(n) for n in args.threads.split(","))
    tolerances = [1e-3, 1e-6, 1e-9] if args.quick else [10.0**-k for k in range(3, 10)]
    print(
        f"torch {torch.__version__}, torchdiffeq {torchdiffeq.__version__}, torchdyn "
        f"{getattr(torchdyn, '__version__', '?')}, python {platform.python_version()}, "
        f"{platform.processor() or platform.machine()}, repeats {repeats}\n"
    )
    with torch.no_grad():
        if args.part in ("all", "mlp"):
            print("### MLP dynamics (F1)\n")
            print(mlp_part(threads, repeats), "\n")
        if args.part in ("all", "step"):
            print("### Solver cost per dopri5 step, trivial f\n")
            print(step_cost_part(repeats), "\n")
        if args.part in ("all", "precision"):
            print("### Work–precision, float64 (evaluations / final-state error)\n")
            print(work_precision_part(tolerances))


if __name__ == "__main__":
    main()
