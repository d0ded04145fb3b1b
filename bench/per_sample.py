"""Per-row step sizes on a batch of independent problems of different stiffness.

A batch of Van der Pol oscillators ``x'' = μ (1 - x²) x' - x``, ``x(0) = 2``, ``x'(0) = 0``,
μ spread evenly from 0.5 to 20 (one μ per row), float64, t from 0 to 10 with 21 output times,
dopri5 at rtol = 1e-6, atol = 1e-8. Solved
- jointly by odedsl (one step size for the batch),
- per row by odedsl (``solve(..., per_sample=True)``),
- per row by torchode (``AutoDiffAdjoint`` with Dopri5 and its ``IntegralController``), when
  it is installed,
interleaved in one run on one thread. Reported: mean evaluations per row (a joint solve's
rows each take every evaluation), the largest error of any row against scipy's Radau at
1e-12 relative to the row's own tolerance scale ``atol + rtol·max|y|``, and the median wall
time of a forward solve and of a forward + backward (loss = sum of the final states, direct
backpropagation). The adjoint is left out here: reconstructing a Van der Pol state backwards
in time leaves the attracting limit cycle, and the joint adjoint's backward solve underflows
at μ = 20 whether the forward was joint or per row (tests/solvers/test_per_sample.py checks
the per-row adjoint on a stable problem).

    python bench/per_sample.py [--batch 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import odedsl
from bench._common import interleaved_medians, markdown_table
from tests.solvers.problems import VanDerPolBatch

RTOL, ATOL = 1e-6, 1e-8
T_END, N_OUT = 10.0, 21


def reference(mu: np.ndarray, t: np.ndarray) -> np.ndarray:
    """scipy's Radau at 1e-12 for every row: ``(B, T, 2)``."""
    rows = []
    for m in mu:
        solution = solve_ivp(
            lambda _, y, m=m: [y[1], m * (1 - y[0] ** 2) * y[1] - y[0]],
            (0.0, T_END),
            [2.0, 0.0],
            method="Radau",
            t_eval=t,
            rtol=1e-12,
            atol=1e-12,
        )
        rows.append(solution.y.T)
    return np.stack(rows)


def worst_error(ys: np.ndarray, truth: np.ndarray) -> float:
    """Largest |error| / (atol + rtol·max|y|) over rows, times and components."""
    scale = ATOL + RTOL * np.abs(truth).max(axis=1, keepdims=True)
    return float((np.abs(ys - truth) / scale).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dtype = torch.float64
    mu = torch.linspace(0.5, 20.0, args.batch, dtype=dtype)
    func = VanDerPolBatch(mu)
    y0 = torch.tensor([2.0, 0.0], dtype=dtype).repeat(args.batch, 1)
    t = torch.linspace(0.0, T_END, N_OUT, dtype=dtype)
    truth = reference(mu.numpy(), t.numpy())

    def odedsl_solve(per_sample: bool, gradient: str = "direct") -> odedsl.solvers.Solution:
        return odedsl.solve(
            func, y0, t, rtol=RTOL, atol=ATOL, per_sample=per_sample, gradient=gradient
        )

    variants = {"odedsl joint": False, "odedsl per row": True}
    forward = {name: (lambda ps=ps: odedsl_solve(ps)) for name, ps in variants.items()}
    backward = {
        name: (lambda ps=ps: odedsl_solve(ps).ys[-1].sum().backward())
        for name, ps in variants.items()
    }
    rows = {}
    for name, ps in variants.items():
        with torch.no_grad():
            solution = odedsl_solve(ps)
        per_row = solution.stats.info.get("per_row")
        nfe = float(per_row["nfe"].double().mean()) if per_row else solution.stats.nfe_forward
        ys = solution.ys.transpose(0, 1).numpy()
        rows[name] = [nfe, worst_error(ys, truth)]

    try:
        import torchode
    except ImportError:
        torchode = None
    if torchode is not None:
        term = torchode.ODETerm(func)
        solver = torchode.AutoDiffAdjoint(
            torchode.Dopri5(term=term), torchode.IntegralController(atol=ATOL, rtol=RTOL, term=term)
        )
        problem = torchode.InitialValueProblem(y0=y0, t_eval=t.repeat(args.batch, 1))
        with torch.no_grad():
            solution = solver.solve(problem)
        rows["torchode per row"] = [
            float(solution.stats["n_f_evals"].double().mean()),
            worst_error(solution.ys.numpy(), truth),
        ]
        forward["torchode per row"] = lambda: solver.solve(problem)
        backward["torchode per row"] = lambda: solver.solve(problem).ys[:, -1].sum().backward()

    with torch.no_grad():
        times = interleaved_medians(forward, args.repeats)
    grad_times = interleaved_medians(backward, args.repeats)
    table = [
        [name, nfe, error, times[name] * 1e3, grad_times[name] * 1e3]
        for name, (nfe, error) in rows.items()
    ]
    headers = [
        "solver",
        "evaluations per row (mean)",
        "worst error / tolerance",
        "forward ms",
        "forward + backward ms",
    ]
    print(
        f"Van der Pol, batch {args.batch}, μ from 0.5 to 20, dopri5 rtol {RTOL} atol {ATOL}, "
        f"torch {torch.__version__}, one thread"
    )
    print(markdown_table(headers, table))


if __name__ == "__main__":
    main()
