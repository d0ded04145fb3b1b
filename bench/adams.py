"""Adams against dopri5 and scipy's LSODA on smooth problems: evaluations at equal error.

For each problem (Kepler, Arenstorf, a fixed-seed tanh MLP) and rtol = atol in (1e-6, 1e-9),
prints the evaluations and the maximum error over 11 output times (against scipy's DOP853 at
1e-12) of odedsl's adams, odedsl's dopri5 and scipy's LSODA (Adams on non-stiff problems),
and dopri5's evaluations *at adams' error*, interpolated (log-log) on a dopri5 sweep over
tolerances 1e-3 .. 1e-13; since one tolerance's error is partly luck (Arenstorf's most), the
same ratio's median over adams runs at nine tolerances within a decade either side. Then the
solver cost per step with a trivial f (interleaved runs, medians). Run from the repository
root:

    python bench/adams.py            # the tables in docs/benchmarks.md
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from odedsl.solvers import solve
from tests.solvers.problems import ARENSTORF, KEPLER, REFERENCE_TOL, Problem

TOLERANCES = (1e-6, 1e-9)
SWEEP = tuple(10.0 ** (-e / 4) for e in range(12, 53))  # 1e-3 .. 1e-13, quarter decades
N_OUTPUTS = 11


class MlpDynamics:
    """``f(y) = W2 tanh(W1 y + b1) - 0.1 y``: a 'trained-looking' smooth vector field (fixed
    seed, 8 states, 64 hidden units), in torch and in numpy for the scipy runs."""

    def __init__(self, dim: int = 8, hidden: int = 64, seed: int = 0) -> None:
        g = np.random.default_rng(seed)
        self.w1 = g.normal(0.0, 1.0 / np.sqrt(dim), (hidden, dim))
        self.b1 = g.normal(0.0, 0.5, hidden)
        self.w2 = g.normal(0.0, 1.0 / np.sqrt(hidden), (dim, hidden))
        self.y0 = tuple(g.normal(0.0, 1.0, dim).tolist())
        self._torch = [torch.tensor(a) for a in (self.w1, self.b1, self.w2)]

    def numpy(self, t: float, y: np.ndarray) -> np.ndarray:
        return self.w2 @ np.tanh(self.w1 @ y + self.b1) - 0.1 * y

    def torch(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        w1, b1, w2 = self._torch
        return torch.tanh(y @ w1.T + b1) @ w2.T - 0.1 * y


class Case:
    """One benchmark problem: a torch func, a numpy func, y0, the output times, a reference."""

    def __init__(
        self, name: str, torch_func: Callable, numpy_func: Callable, y0, t0: float, t1: float
    ) -> None:
        self.name = name
        self.torch_func = torch_func
        self.numpy_func = numpy_func
        self.y0 = np.asarray(y0, dtype=np.float64)
        self.times = np.linspace(t0, t1, N_OUTPUTS)
        self.reference = solve_ivp(
            numpy_func,
            (t0, t1),
            self.y0,
            method="DOP853",
            t_eval=self.times,
            rtol=REFERENCE_TOL,
            atol=REFERENCE_TOL,
        ).y.T

    @classmethod
    def from_problem(cls, problem: Problem) -> Case:
        return cls(
            problem.name,
            problem.torch_func(),
            lambda t, y: problem.rhs(t, y, np),
            problem.y0,
            problem.t0,
            problem.t1,
        )

    def odedsl(self, method: str, tol: float) -> tuple[int, float]:
        """(evaluations, max error) of an odedsl solve."""
        solution = solve(
            self.torch_func,
            torch.tensor(self.y0),
            torch.tensor(self.times),
            method=method,
            rtol=tol,
            atol=tol,
            options={"max_num_steps": 10**6},
        )
        return solution.stats.nfe_forward, self._error(solution.ys.numpy())

    def lsoda(self, tol: float) -> tuple[int, float]:
        result = solve_ivp(
            self.numpy_func,
            (self.times[0], self.times[-1]),
            self.y0,
            method="LSODA",
            t_eval=self.times,
            rtol=tol,
            atol=tol,
        )
        return result.nfev, self._error(result.y.T)

    def _error(self, ys: np.ndarray) -> float:
        return float(np.abs(ys - self.reference).max())


def nfe_at_error(curve: list[tuple[int, float]], error: float) -> float:
    """Evaluations a method needs for ``error``, interpolated log-log on its (nfe, error)
    curve (errors decreasing along the sweep); NaN outside the curve."""
    points = sorted((e, n) for n, e in curve if e > 0)
    errors = np.log([e for e, _ in points])
    nfes = np.log([n for _, n in points])
    if not errors[0] <= np.log(error) <= errors[-1]:
        return float("nan")
    # The error is not strictly monotone in the tolerance: take, for each error, the fewest
    # evaluations of any run that reached at most that error (a running minimum).
    nfes = np.minimum.accumulate(nfes)
    return float(np.exp(np.interp(np.log(error), errors, nfes)))


def accuracy_table(cases: list[Case]) -> list[str]:
    lines = [
        "| problem | rtol=atol | adams nfe | adams error | dopri5 nfe | dopri5 error "
        "| dopri5 nfe at adams' error | adams / dopri5 at equal error | same, median over "
        "tol x 10^[-1, 1] | LSODA nfe | LSODA error |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        curve = [case.odedsl("dopri5", tol) for tol in SWEEP]
        for tol in TOLERANCES:
            adams_nfe, adams_err = case.odedsl("adams", tol)
            dopri_nfe, dopri_err = case.odedsl("dopri5", tol)
            lsoda_nfe, lsoda_err = case.lsoda(tol)
            equal = nfe_at_error(curve, adams_err)
            nearby = [case.odedsl("adams", tol * 10.0 ** (e / 4)) for e in range(-4, 5)]
            median_ratio = statistics.median(n / nfe_at_error(curve, err) for n, err in nearby)
            lines.append(
                f"| {case.name} | {tol:g} | {adams_nfe} | {adams_err:.2e} | {dopri_nfe} | "
                f"{dopri_err:.2e} | {equal:.0f} | {adams_nfe / equal:.2f} | {median_ratio:.2f} "
                f"| {lsoda_nfe} | {lsoda_err:.2e} |"
            )
    return lines


def overhead_table(repeats: int = 7) -> list[str]:
    """Solver cost per step: (solve time - time inside f) / steps, f(y) = y @ A (rotation)."""
    rotation = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    inside = 0.0

    def func(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal inside
        start = time.perf_counter()
        out = y @ rotation
        inside += time.perf_counter() - start
        return out

    y0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    t = torch.tensor([0.0, 100.0], dtype=torch.float64)
    samples: dict[str, list[float]] = {"adams": [], "dopri5": []}
    steps: dict[str, int] = {}
    nfes: dict[str, int] = {}
    for _ in range(repeats):
        for method in samples:  # interleaved
            inside = 0.0
            start = time.perf_counter()
            solution = solve(func, y0, t, method=method, rtol=1e-9, atol=1e-9)
            total = time.perf_counter() - start
            steps[method] = solution.stats.steps_accepted + solution.stats.steps_rejected
            nfes[method] = solution.stats.nfe_forward
            samples[method].append((total - inside) / steps[method] * 1e6)
    lines = [
        "| method | steps | evaluations per step | solver cost per step (µs, median) |",
        "|---|---|---|---|",
    ]
    for method, values in samples.items():
        per_step = nfes[method] / steps[method]
        lines.append(
            f"| {method} | {steps[method]} | {per_step:.1f} | {statistics.median(values):.0f} |"
        )
    return lines


def main() -> None:
    torch.set_num_threads(1)
    mlp = MlpDynamics()
    cases = [
        Case.from_problem(KEPLER),
        Case.from_problem(ARENSTORF),
        Case("tanh MLP (8-64-8)", mlp.torch, mlp.numpy, mlp.y0, 0.0, 10.0),
    ]
    print("command: python bench/adams.py")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, float64, CPU\n")
    print("\n".join(accuracy_table(cases)))
    print()
    print("\n".join(overhead_table()))


if __name__ == "__main__":
    main()
