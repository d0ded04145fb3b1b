"""``scipy_solver``: scipy's ODE solvers behind odedsl's solver interface (torchdiffeq's
``scipy_solver``), for reference solutions and stiff problems.

Options: ``solver`` (one of ``SCIPY_SOLVERS``, default ``"LSODA"`` as in torchdiffeq),
``min_step`` and ``max_step`` (passed on when given), ``max_num_steps`` (no limit by
default). The solve runs in float64 numpy outside autograd: gradients need
``odeint_adjoint`` (whose backward solve can be scipy's too). scipy is the optional extra
``odedsl[scipy]``.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from odedsl.errors import SolverError

from .control import Norm
from .options import choice_option, float_option, int_option, times_as_floats
from .runge_kutta import Func, check_derivative
from .solution import SolverStats

SCIPY_SOLVERS = ("LSODA", "RK45", "RK23", "DOP853", "Radau", "BDF")


class ScipySolver:
    """``scipy.integrate``'s ``OdeSolver`` classes stepped by hand, outputs from their dense
    output (as ``solve_ivp(..., t_eval=t)`` gives); see ``methods`` for the interface."""

    option_names: ClassVar[frozenset[str]] = frozenset(
        {"solver", "min_step", "max_step", "max_num_steps"}
    )

    def __init__(
        self,
        func: Func,
        y0: Tensor,
        rtol: float | Tensor,
        atol: float | Tensor,
        norm: Norm | None,
        options: dict[str, Any],
        stats: SolverStats,
    ) -> None:
        try:
            import scipy.integrate
        except ImportError:
            raise ImportError(
                "method 'scipy_solver' needs scipy: pip install 'odedsl[scipy]'"
            ) from None
        self.solver_class = getattr(
            scipy.integrate, choice_option(options, "solver", "LSODA", SCIPY_SOLVERS)
        )
        self.extra = {
            name: float_option(options, name, 0.0, low=0.0)
            for name in ("min_step", "max_step")
            if options.get(name) is not None
        }
        self.max_num_steps = int_option(options, "max_num_steps", 0) or None
        self.func = func
        self.y0 = y0
        self.rtol = _numpy(rtol)
        self.atol = _numpy(atol)
        self.stats = stats
        if torch.is_grad_enabled() and y0.requires_grad:
            warnings.warn(
                "method 'scipy_solver' solves outside autograd: no gradient flows through "
                "it; use odeint_adjoint (gradient='adjoint') for gradients",
                stacklevel=2,
            )

    def integrate(self, t: Tensor) -> Tensor:
        """Solve at the times ``t`` (strictly monotone); returns ``(len(t), *y0.shape)``."""
        times = times_as_floats(t)
        y0 = self.y0.detach().cpu().numpy().astype(np.float64).reshape(-1)
        solver = self.solver_class(
            self._numpy_func(),
            times[0],
            y0,
            times[-1],
            rtol=self.rtol,
            atol=self.atol,
            vectorized=False,
            **self.extra,
        )
        rows = [y0]
        n_steps = 0
        try:
            while len(rows) < len(times):
                if self.max_num_steps is not None and n_steps >= self.max_num_steps:
                    raise SolverError(
                        f"reached max_num_steps={self.max_num_steps} at t={solver.t:.6g} "
                        f"(scipy's {self.solver_class.__name__}). Hint: raise "
                        "options['max_num_steps'] or loosen rtol/atol."
                    )
                message = solver.step()
                n_steps += 1
                if solver.status == "failed":
                    raise SolverError(
                        f"scipy's {self.solver_class.__name__} failed at t={solver.t:.6g}: "
                        f"{message}. Hint: loosen rtol/atol or try another options['solver']."
                    )
                dense = None
                while (
                    len(rows) < len(times) and (times[len(rows)] - solver.t) * solver.direction <= 0
                ):
                    dense = dense or solver.dense_output()
                    rows.append(dense(times[len(rows)]))
        finally:
            self.stats.steps_accepted += n_steps
            self.stats.nfe_forward += solver.nfev
        ys = torch.as_tensor(np.stack(rows), dtype=self.y0.dtype, device=self.y0.device)
        return ys.view(len(times), *self.y0.shape)

    def _numpy_func(self):
        shape, dtype, device = self.y0.shape, self.y0.dtype, self.y0.device
        first = [True]

        def fun(t: float, y: np.ndarray) -> np.ndarray:
            state = torch.as_tensor(y, device=device).to(dtype).view(shape)
            with torch.no_grad():
                f = self.func(torch.scalar_tensor(t, dtype=dtype, device=device), state)
            if first[0]:
                check_derivative(f, state)
                first[0] = False
            return f.detach().cpu().numpy().astype(np.float64).reshape(-1)

        return fun


def _numpy(tol: float | Tensor) -> float | np.ndarray:
    if isinstance(tol, Tensor):
        return tol.detach().cpu().numpy().astype(np.float64).reshape(-1)
    return tol
