"""Adams against dopri5 and scipy's LSODA on smooth problems: evaluations at equal error.

For each problem (Kepler, Arenstorf, a fixed-seed tanh MLP, and the trained dynamics of a latent
ODE on spirals from ``bench/data``, see ``bench/trained_dynamics.py``) and rtol = atol in
(1e-6, 1e-9),
prints the evaluations and the maximum error over 11 output times (against scipy's DOP853 at
1e-12) of odedsl's adams (modes PECE and PEC), odedsl's dopri5 and scipy's LSODA (Adams on
non-stiff problems), and dopri5's evaluations *at adams' error*, interpolated (log-log) on a
dopri5 sweep over tolerances 1e-3 .. 1e-13; since one tolerance's error is partly luck
(Arenstorf's most), the same ratio's median over adams runs at nine tolerances within a decade
either side, and the start-up phase's evaluations (``stats.info``) with the ratio were they
free: the most any better start could give. Then a reference point no start-up can beat: the
fewest evaluations of constant-step Adams (orders 4-12, PECE and PEC) started from exact
values, at adams' error at 1e-6, on the random MLP (whose step barely varies). Then PECE against PEC
where PEC's smaller stability region shows. Then the solver cost per step with a trivial f
(interleaved runs, medians). Run from the repository root:

    python bench/adams.py            # the tables in docs/benchmarks.md
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from odedsl.solvers import Solution, solve
from tests.solvers.problems import ARENSTORF, KEPLER, LINEAR, REFERENCE_TOL, Problem

TOLERANCES = (1e-6, 1e-9)
SWEEP = tuple(10.0 ** (-e / 4) for e in range(12, 53))  # 1e-3 .. 1e-13, quarter decades
N_OUTPUTS = 11
MODES = ("PECE", "PEC")
MAX_CONSTANT_STEPS = 2000


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


class TrainedMlp:
    """A trained latent ODE's dynamics (``bench/data/latent_spirals_mlp.npz``, written by
    ``bench/trained_dynamics.py``): dense layers with ELU between them, from the posterior
    mean of a test spiral, in torch and in numpy."""

    FILE = Path(__file__).resolve().parent / "data" / "latent_spirals_mlp.npz"

    def __init__(self) -> None:
        arrays = np.load(self.FILE)
        count = sum(name.startswith("weight_") for name in arrays.files)
        self.layers = [(arrays[f"weight_{k}"], arrays[f"bias_{k}"]) for k in range(count)]
        self.y0 = tuple(arrays["y0"][0].tolist())
        self._torch = [(torch.tensor(w), torch.tensor(b)) for w, b in self.layers]
        sizes = [self.layers[0][0].shape[1]] + [w.shape[0] for w, _ in self.layers]
        self.name = f"trained latent MLP ({'-'.join(map(str, sizes))}, ELU)"

    def numpy(self, t: float, y: np.ndarray) -> np.ndarray:
        for k, (w, b) in enumerate(self.layers):
            y = w @ y + b
            if k < len(self.layers) - 1:
                y = np.where(y > 0, y, np.expm1(np.minimum(y, 0.0)))
        return y

    def torch(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for k, (w, b) in enumerate(self._torch):
            y = y @ w.T + b
            if k < len(self._torch) - 1:
                y = torch.nn.functional.elu(y)
        return y


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

    def odedsl(self, method: str, tol: float, **options) -> tuple[int, float]:
        """(evaluations, max error) of an odedsl solve."""
        solution = self.solve(method, tol, **options)
        return solution.stats.nfe_forward, self.error(solution.ys.numpy())

    def solve(self, method: str, tol: float, **options) -> Solution:
        return solve(
            self.torch_func,
            torch.tensor(self.y0),
            torch.tensor(self.times),
            method=method,
            rtol=tol,
            atol=tol,
            options={"max_num_steps": 10**6, **options},
        )

    @functools.cache  # noqa: B019 (a handful of cases, alive for the whole run)
    def dopri5_curve(self) -> list[tuple[int, float]]:
        """(evaluations, error) of dopri5 over the tolerance sweep."""
        return [self.odedsl("dopri5", tol) for tol in SWEEP]

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
        return result.nfev, self.error(result.y.T)

    def error(self, ys: np.ndarray) -> float:
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
        "| problem | rtol=atol | adams mode | adams nfe | adams error | dopri5 nfe "
        "| dopri5 error | dopri5 nfe at adams' error | adams / dopri5 at equal error "
        "| same, median over tol x 10^[-1, 1] | adams start-up nfe | ratio without them "
        "| LSODA nfe | LSODA error |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        curve = case.dopri5_curve()
        for tol in TOLERANCES:
            dopri_nfe, dopri_err = case.odedsl("dopri5", tol)
            lsoda_nfe, lsoda_err = case.lsoda(tol)
            for mode in MODES:
                adams = case.solve("adams", tol, mode=mode)
                adams_nfe, adams_err = adams.stats.nfe_forward, case.error(adams.ys.numpy())
                start = adams.stats.info["start_evaluations"]
                equal = nfe_at_error(curve, adams_err)
                nearby = [
                    case.odedsl("adams", tol * 10.0 ** (e / 4), mode=mode) for e in range(-4, 5)
                ]
                median = statistics.median(n / nfe_at_error(curve, err) for n, err in nearby)
                lines.append(
                    f"| {case.name} | {tol:g} | {mode} | {adams_nfe} | {adams_err:.2e} | "
                    f"{dopri_nfe} | {dopri_err:.2e} | {equal:.0f} | {adams_nfe / equal:.2f} | "
                    f"{median:.2f} | {start} | {(adams_nfe - start) / equal:.2f} | {lsoda_nfe} "
                    f"| {lsoda_err:.2e} |"
                )
    return lines


def adams_weights(order: int, implicit: bool) -> np.ndarray:
    """Constant-step Adams weights on f_n, f_{n-1}, ... (Bashforth, order ``order``) or on
    f_{n+1}, f_n, ... (Moulton, order ``order + 1``), as fractions of h."""
    nodes = ([1.0] if implicit else []) + [-float(i) for i in range(order)]
    weights = []
    for i, node in enumerate(nodes):
        basis = np.poly1d([1.0])
        for j, other in enumerate(nodes):
            if j != i:
                basis = basis * np.poly1d([1.0, -other]) / (node - other)
        antiderivative = basis.integ()
        weights.append(antiderivative(1.0) - antiderivative(0.0))
    return np.array(weights)


def constant_step_error(case: Case, order: int, mode: str, steps: int) -> float:
    """Max error over the output times of constant-step Adams (predictor order ``order``,
    corrector order + 1, PECE or PEC) over ``steps`` steps, started from exact back values
    (uncounted). ``steps`` is a multiple of the number of output intervals."""
    t0, t1 = case.times[0], case.times[-1]
    h = (t1 - t0) / steps
    back = solve_ivp(
        case.numpy_func,
        (t0, t0 - (order + 1) * h),
        case.y0,
        method="DOP853",
        dense_output=True,
        rtol=REFERENCE_TOL,
        atol=REFERENCE_TOL,
    )
    history = [case.numpy_func(t0 - i * h, back.sol(t0 - i * h)) for i in range(order)]
    bashforth, moulton = adams_weights(order, False), adams_weights(order, True)
    y, out, every = case.y0.copy(), [case.y0.copy()], steps // (N_OUTPUTS - 1)
    for n in range(steps):
        t = t0 + (n + 1) * h
        predicted = y + h * (bashforth @ np.array(history))
        f_predicted = case.numpy_func(t, predicted)
        y = y + h * (moulton @ np.array([f_predicted, *history]))
        f_new = f_predicted if mode == "PEC" else case.numpy_func(t, y)
        history = [f_new, *history[:-1]]
        if (n + 1) % every == 0:
            out.append(y.copy())
    return case.error(np.array(out))


def constant_step_nfe(case: Case, error: float, mode: str) -> tuple[int, int]:
    """The fewest evaluations of constant-step Adams in ``mode`` reaching ``error`` (steps
    up to ``MAX_CONSTANT_STEPS``), and the order that needs them."""
    per_step = 2 if mode == "PECE" else 1
    best = (per_step * MAX_CONSTANT_STEPS, 0)
    for order in range(4, 13):
        for steps in range(N_OUTPUTS - 1, best[0] // per_step, N_OUTPUTS - 1):
            if constant_step_error(case, order, mode, steps) <= error:
                best = (per_step * steps, order)
                break
    return best


def bound_table(cases: list[Case], tol: float = 1e-6) -> list[str]:
    lines = [
        "| problem | adams mode (rtol=atol 1e-6) | adams nfe | adams error | constant-step "
        "PECE from exact start: fewest nfe at that error (order) | same, PEC | the fewer's "
        "ratio to dopri5 |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        curve = case.dopri5_curve()
        for mode in MODES:
            adams_nfe, adams_err = case.odedsl("adams", tol, mode=mode)
            pece, pec = (constant_step_nfe(case, adams_err, m) for m in MODES)
            ratio = min(pece[0], pec[0]) / nfe_at_error(curve, adams_err)
            lines.append(
                f"| {case.name} | {mode} | {adams_nfe} | {adams_err:.2e} | {pece[0]} "
                f"({pece[1]}) | {pec[0]} ({pec[1]}) | {ratio:.2f} |"
            )
    return lines


def relaxation(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``y' = -50 (y - cos t)``: mildly stiff, where stability rather than accuracy bounds
    the step."""
    return -50.0 * (y - torch.cos(t))


def relaxation_numpy(t: float, y: np.ndarray) -> np.ndarray:
    return -50.0 * (y - np.cos(t))


def mode_table(cases: list[Case]) -> list[str]:
    """Evaluations and error of PECE against PEC where PEC's smaller stability region
    shows: the lightly damped oscillator and a mildly stiff relaxation."""
    lines = [
        "| problem | rtol=atol | PECE nfe | PECE error | PEC nfe | PEC error |",
        "|---|---|---|---|---|---|",
    ]
    for case in cases:
        for tol in TOLERANCES:
            pece_nfe, pece_err = case.odedsl("adams", tol)
            pec_nfe, pec_err = case.odedsl("adams", tol, mode="PEC")
            lines.append(
                f"| {case.name} | {tol:g} | {pece_nfe} | {pece_err:.2e} | {pec_nfe} "
                f"| {pec_err:.2e} |"
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
    variants = {
        "adams": ("adams", {}),
        "adams PEC": ("adams", {"mode": "PEC"}),
        "dopri5": ("dopri5", {}),
    }
    samples: dict[str, list[float]] = {name: [] for name in variants}
    steps: dict[str, int] = {}
    nfes: dict[str, int] = {}
    for _ in range(repeats):
        for method, (name, options) in variants.items():  # interleaved
            inside = 0.0
            start = time.perf_counter()
            solution = solve(func, y0, t, method=name, rtol=1e-9, atol=1e-9, options=options)
            total = time.perf_counter() - start
            steps[method] = solution.stats.steps_accepted + solution.stats.steps_rejected
            nfes[method] = solution.stats.nfe_forward
            samples[method].append((total - inside) / steps[method] * 1e6)
    lines = [
        "| method | steps | evaluations | solver cost per step (µs, median) |",
        "|---|---|---|---|",
    ]
    for method, values in samples.items():
        lines.append(
            f"| {method} | {steps[method]} | {nfes[method]} | {statistics.median(values):.0f} |"
        )
    return lines


def main() -> None:
    torch.set_num_threads(1)
    mlp, trained = MlpDynamics(), TrainedMlp()
    cases = [
        Case.from_problem(KEPLER),
        Case.from_problem(ARENSTORF),
        Case("tanh MLP (8-64-8)", mlp.torch, mlp.numpy, mlp.y0, 0.0, 10.0),
        Case(trained.name, trained.torch, trained.numpy, trained.y0, 0.0, 7.5),
    ]
    print("command: python bench/adams.py")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, float64, CPU\n")
    print("\n".join(accuracy_table(cases)))
    print()
    print("\n".join(bound_table(cases[2:3])))  # the random MLP: its step barely varies
    print()
    stiff = Case("relaxation y' = -50 (y - cos t)", relaxation, relaxation_numpy, [0.0], 0, 10)
    print("\n".join(mode_table([Case.from_problem(LINEAR), stiff])))
    print()
    print("\n".join(overhead_table()))


if __name__ == "__main__":
    main()
