"""Solves under ``torch.compile``: ``compiled_solve``, with a fallback to eager execution.

- A fixed-grid solve with direct backpropagation runs as one compiled graph: the unrolled
  solve of ``unrolled.py`` under ``torch.compile(fullgraph=True)``, so the dynamics, every
  step and (through AOTAutograd) the backward pass are compiled, without graph breaks and
  without host synchronisation. The graph is specific to the grid and output times, so it is
  built when the same ones come back (see ``_runner``). Without gradients (evaluation) every
  gradient mode solves this way.
- Every other solve (adaptive methods, the adjoint and checkpointed gradients, and the first
  solve on a grid) runs the usual solver around compiled dynamics, compiled once they are
  hot (``HOT_CALLS`` evaluations), as a tiered JIT does.

Compilation needs a working backend (on CPU, inductor needs a C++ compiler). When it fails,
or when the dynamics cannot be traced without a graph break (say an autograd call inside
them), the solve runs eagerly instead, with one ``CompileFallbackWarning`` saying why; the
results are the eager solver's. ``compile_seconds()`` reports the time this process spent
compiling.
"""

from __future__ import annotations

import types
import warnings
import weakref
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
import torch._inductor.exc
from torch import Tensor, nn

from odedsl.errors import SolverError

from . import unrolled
from .api import solve
from .solution import Solution, SolverStats

Func = Callable[[Tensor, Tensor], Tensor]
_COMPILE_METRICS = ("_compile.compile_inner", "compile_fx.<locals>.bw_compiler")
"""Dynamo's timers of a forward graph compilation and of a (lazy) backward one."""


class CompileFallbackWarning(UserWarning):
    """``compile = true`` could not compile a solve, which runs eagerly instead."""


class _Fallback:
    """Process-wide record of why compilation is off, and which reasons were warned of."""

    unavailable: ClassVar[str | None] = None
    warned: ClassVar[set[str]] = set()


def compile_seconds() -> float:
    """Seconds this process has spent compiling graphs so far (forward and backward)."""
    metrics = getattr(torch._dynamo.utils, "compilation_time_metrics", {})
    return sum(sum(metrics.get(name, ())) for name in _COMPILE_METRICS)


def compile_available() -> bool:
    """False once a compilation failed for want of a backend (e.g. no C++ compiler)."""
    return _Fallback.unavailable is None


def compiled_solve(
    func: Func,
    y0: Tensor,
    t: Tensor,
    *,
    method: str,
    rtol: float,
    atol: float,
    options: Mapping[str, Any],
    gradient: str,
    per_sample: bool = False,
) -> Solution:
    """``odedsl.solve(func, y0, t, ...)`` with compiled execution (see the module docstring);
    the same results as the eager solve, to rounding."""
    options = dict(options)
    unrolls = gradient == "direct" or not torch.is_grad_enabled()  # no gradient: any mode
    if unrolls and not per_sample and unrolled.supports(method, options, t):
        plan = unrolled.make_plan(method, y0, t, options)
        runner = None if plan is None else _runner(func, plan)
        if runner is not None:
            ys = runner(y0)
            if ys is not None:
                if not torch.is_grad_enabled():
                    _check_finite(ys, t)
                stats = SolverStats(
                    nfe_forward=plan.nfe,
                    steps_accepted=len(plan.steps),
                    info={"method": method, "compiled": "solve"},
                )
                return Solution(ys, stats)
    params = tuple(func.parameters()) if isinstance(func, nn.Module) else None
    extra = {} if gradient == "direct" else {"adjoint_params": params}
    dynamics = _dynamics(func)
    compiled = "dynamics" if dynamics.compiling else "no"
    solution = solve(
        dynamics,
        y0,
        t,
        method=method,
        rtol=rtol,
        atol=atol,
        options=options,
        gradient=gradient,
        per_sample=per_sample,
        **extra,
    )
    solution.stats.info["compiled"] = compiled
    return solution


def _check_finite(ys: Tensor, t: Tensor) -> None:
    """The one check of a solve without gradients (training solves are checked through their
    loss, by the training loop): one host read per solve, never per step."""
    if not bool(torch.isfinite(ys).all()):
        raise SolverError(
            f"the state is not finite (NaN/inf) somewhere between t={float(t[0]):.6g} and "
            f"t={float(t[-1]):.6g}. Hint: use a smaller step size or an adaptive method, or "
            "check func for overflow."
        )


class _Compiled:
    """``fn`` under ``torch.compile(fullgraph=True)`` from its ``warmup``-th call on (the
    calls before run ``fallback``), falling back to ``fallback`` (eager) with one warning when
    compiling fails; a ``fallback`` of None returns None, to let the caller choose."""

    def __init__(self, fn: Callable, what: str, fallback: Callable | None, warmup: int = 0) -> None:
        self.compiled = torch.compile(_fresh_code(fn), fullgraph=True)
        self.what = what
        self.fallback = fallback
        self.warmup = warmup
        self.failed = False

    @property
    def compiling(self) -> bool:
        """Whether calls now run compiled."""
        return self.warmup <= 0 and not self.failed and compile_available()

    def __call__(self, *args: Any) -> Any:
        if self.warmup > 0:
            self.warmup -= 1
        elif not self.failed and compile_available():
            try:
                return self.compiled(*args)
            except torch._dynamo.exc.Unsupported as error:
                self.failed = True
                _warn(f"{self.what} has a graph break ({_first_line(error)})", once=False)
            except torch._dynamo.exc.TorchDynamoException as error:
                _Fallback.unavailable = _first_line(error)
                _warn(f"torch.compile is unavailable here ({_Fallback.unavailable})", once=True)
        return None if self.fallback is None else self.fallback(*args)


def _warn(reason: str, *, once: bool) -> None:
    key = "unavailable" if once else reason
    if key in _Fallback.warned:
        return
    _Fallback.warned.add(key)
    warnings.warn(
        f"compile = true: {reason}; running eagerly instead (same results, eager speed)",
        CompileFallbackWarning,
        stacklevel=4,
    )


def _first_line(error: BaseException) -> str:
    """The first line of the error that made compiling fail (the backend's own error)."""
    inner = getattr(error, "inner_exception", None)
    if inner is not None and not isinstance(error, torch._inductor.exc.InductorError):
        error = inner
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


_RUNNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_DYNAMICS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SEEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


_SEEN_PLANS = 64
"""Plans remembered per function while waiting for one to come back (then forgotten)."""


def _runner(func: Func, plan: unrolled.UnrolledPlan) -> Callable[[Tensor], Tensor | None] | None:
    """The compiled unrolled solve of ``plan`` for ``func``, built once per pair when the
    plan is hot: solved again and again, for ``HOT_CALLS`` evaluations and at least twice
    (before that, None: the caller solves eagerly). A plan is a graph to compile, worth it
    only when it comes back: a model's fixed-step training solve does on every step, but the
    grid of a latent model's batch (the union of its observation times) rarely does, and
    those solves keep the eager driver around compiled dynamics."""
    runners = _RUNNERS.setdefault(func, {})
    runner = runners.get(plan)
    if runner is None:
        seen = _SEEN.setdefault(func, {})
        if len(seen) >= _SEEN_PLANS and plan not in seen:
            seen.clear()
        seen[plan] = seen.get(plan, 0) + 1
        if seen[plan] < max(2, 1 + HOT_CALLS // plan.nfe):
            return None
        compiled = _Compiled(unrolled.run_plan, "the unrolled solve", None)
        runner = runners[plan] = lambda y0: compiled(func, y0, plan, plan.call_times(y0))
    return runner


HOT_CALLS = 1000
"""Calls of a function's dynamics before they are compiled. Compiling costs tens of seconds
on a CPU; a function called fewer times (say a final evaluation) would lose more to it than
it gains."""


def _dynamics(func: Func) -> _Compiled:
    """``func`` compiled (once per ``func``) once it is hot (``HOT_CALLS``), or ``func``
    itself before and after a fallback."""
    compiled = _DYNAMICS.get(func)
    if compiled is None:
        compiled = _DYNAMICS[func] = _Compiled(func, "the dynamics", func, HOT_CALLS)
    return compiled


def _fresh_code(fn: Callable) -> Callable:
    """A copy of ``fn`` (a function, or a module's ``forward``) with its own code object:
    dynamo caches compiled graphs, and counts its recompilation limit, per code object, so
    each compiled solve or dynamics gets its own cache."""
    if isinstance(fn, nn.Module):
        return types.MethodType(_fresh_code(type(fn).forward), fn)
    if isinstance(fn, types.FunctionType):
        code = fn.__code__.replace(co_name=fn.__code__.co_name)
        return types.FunctionType(
            code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
        )
    return fn
