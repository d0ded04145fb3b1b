"""Run torchdiffeq's own test suite against odedsl (or against torchdiffeq itself).

torchdiffeq's tests ``import torchdiffeq``; here that name is a module alias re-exporting
``odedsl.odeint``, ``odedsl.odeint_adjoint`` and (when odedsl has it) ``odeint_event``, so the
suite exercises odedsl through exactly the calls a torchdiffeq user makes. Each subtest is
counted once (a test without subtests counts as one case); the table gives passed / failed /
errored per test and per method (a subtest's ``method``, or ``scipy_solver:SOLVER``).

    PYTHONPATH=$PWD python scripts/torchdiffeq_suite.py /work/tdq/tests --json out.json
    PYTHONPATH=/work/tdq python scripts/torchdiffeq_suite.py /work/tdq/tests --against-torchdiffeq

The tests folder is read where it lies (it is torchdiffeq's, never part of this repository).
``--only api_tests,norm_tests`` runs some test files; ``-k NAME`` the tests whose id contains
NAME; ``--timeout`` bounds each test (a test that runs past it counts as one error).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib
import json
import signal
import sys
import time
import types
import unittest
import warnings
from pathlib import Path
from typing import Any

TEST_FILES = ("api_tests", "event_tests", "gradient_tests", "norm_tests", "odeint_tests")
OUTCOMES = ("passed", "failed", "errored")


def install_alias() -> types.ModuleType:
    """Make ``import torchdiffeq`` give odedsl's functions; returns the alias module."""
    import odedsl

    alias = types.ModuleType("torchdiffeq")
    alias.__doc__ = "odedsl under torchdiffeq's name (scripts/torchdiffeq_suite.py)"
    for name in ("odeint", "odeint_adjoint", "odeint_event"):
        with contextlib.suppress(AttributeError):  # odeint_event before odedsl has events
            setattr(alias, name, getattr(odedsl, name))
    sys.modules["torchdiffeq"] = alias
    return alias


class _Timeout(Exception):
    """A test ran past ``--timeout``."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    def expire(signum: int, frame: Any) -> None:
        raise _Timeout(f"test ran past the {seconds:g} s time limit")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class CountingResult(unittest.TestResult):
    """Records one outcome per subtest (or per test without subtests)."""

    def __init__(self) -> None:
        super().__init__()
        self.cases: list[dict[str, Any]] = []
        self._subtests_seen: set[str] = set()

    def _record(self, test: unittest.TestCase, params: dict, outcome: str, err: Any) -> None:
        message = ""
        if err is not None:
            exc_type, exc, _ = err
            first_line = (str(exc).strip().splitlines() or [""])[0]
            message = f"{exc_type.__name__}: {first_line}"
        self.cases.append(
            {
                "test": _test_name(test),
                "params": {k: str(v) for k, v in params.items()},
                "method": _method_of(params),
                "outcome": outcome,
                "message": message[:300],
            }
        )

    def addSubTest(self, test, subtest, err) -> None:
        self._subtests_seen.add(test.id())
        params = dict(subtest.params)
        if err is None:
            self._record(test, params, "passed", None)
        elif issubclass(err[0], test.failureException):
            self._record(test, params, "failed", err)
        else:
            self._record(test, params, "errored", err)

    def addSuccess(self, test) -> None:
        if test.id() not in self._subtests_seen:
            self._record(test, {}, "passed", None)

    def addFailure(self, test, err) -> None:
        self._record(test, {}, "failed", err)

    def addError(self, test, err) -> None:
        self._record(test, {}, "errored", err)

    def addSkip(self, test, reason) -> None:
        pass


def _test_name(test: unittest.TestCase) -> str:
    module, cls, method = test.id().rsplit(".", 2)
    return f"{module}.{cls}.{method}"


def _method_of(params: dict) -> str:
    if "solver" in params:
        return f"scipy_solver:{params['solver']}"
    return str(params.get("method", "-"))


def _iter_tests(suite: unittest.TestSuite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _iter_tests(item)
        else:
            yield item


def run_suite(
    tests_dir: Path, files: list[str], keyword: str | None, timeout: float
) -> tuple[list[dict], float]:
    """Run the chosen test files' tests one by one; returns the case records and seconds."""
    sys.path.insert(0, str(tests_dir))
    loader = unittest.TestLoader()
    result = CountingResult()
    start = time.perf_counter()
    for name in files:
        module = importlib.import_module(name)
        for test in _iter_tests(loader.loadTestsFromModule(module)):
            if keyword and keyword not in test.id():
                continue
            began = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    with _time_limit(timeout):
                        test.run(result)
                except _Timeout as exc:
                    result._record(test, {}, "errored", (type(exc), exc, None))
            print(
                f"  {_test_name(test)}: {time.perf_counter() - began:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    return result.cases, time.perf_counter() - start


def tally(cases: list[dict], key: str) -> dict[str, dict[str, int]]:
    """Counts of each outcome grouped by ``key`` (``"test"`` or ``"method"``)."""
    table: dict[str, dict[str, int]] = collections.defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for case in cases:
        table[case[key]][case["outcome"]] += 1
    return dict(sorted(table.items()))


def format_table(title: str, table: dict[str, dict[str, int]]) -> str:
    width = max([len(title), *map(len, table)])
    lines = [f"{title:<{width}}  passed  failed  errored   total"]
    totals = dict.fromkeys(OUTCOMES, 0)
    for name, counts in table.items():
        lines.append(
            f"{name:<{width}}  {counts['passed']:6d}  {counts['failed']:6d}  "
            f"{counts['errored']:7d}  {sum(counts.values()):6d}"
        )
        for outcome in OUTCOMES:
            totals[outcome] += counts[outcome]
    lines.append(
        f"{'total':<{width}}  {totals['passed']:6d}  {totals['failed']:6d}  "
        f"{totals['errored']:7d}  {sum(totals.values()):6d}"
    )
    return "\n".join(lines)


def failure_causes(cases: list[dict]) -> dict[str, int]:
    """The failing cases grouped by their first message line (numbers kept)."""
    causes = collections.Counter(
        case["message"] or case["outcome"] for case in cases if case["outcome"] != "passed"
    )
    return dict(causes.most_common())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests_dir", type=Path, help="torchdiffeq's tests/ folder")
    parser.add_argument(
        "--against-torchdiffeq",
        action="store_true",
        help="run against the real torchdiffeq on the path (e.g. PYTHONPATH=/work/tdq)",
    )
    parser.add_argument("--only", help="comma-separated test files (default: all five)")
    parser.add_argument("-k", dest="keyword", help="run tests whose id contains this")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per test")
    parser.add_argument("--json", type=Path, help="write the case records and tables here")
    parser.add_argument("--causes", action="store_true", help="print failures by message")
    args = parser.parse_args(argv)

    tests_dir = args.tests_dir.resolve()
    if not (tests_dir / "problems.py").is_file():
        parser.error(f"{tests_dir} is not torchdiffeq's tests/ folder (no problems.py)")
    if args.against_torchdiffeq:
        import torchdiffeq

        target = f"torchdiffeq {getattr(torchdiffeq, '__version__', '?')} ({torchdiffeq.__file__})"
    else:
        install_alias()
        import odedsl

        target = f"odedsl {odedsl.__version__} ({Path(odedsl.__file__).parent})"
    files = args.only.split(",") if args.only else list(TEST_FILES)
    print(f"running torchdiffeq's suite from {tests_dir} against {target}", file=sys.stderr)
    cases, seconds = run_suite(tests_dir, files, args.keyword, args.timeout)

    by_test, by_method = tally(cases, "test"), tally(cases, "method")
    print(f"against {target}; {seconds:.0f} s")
    print(format_table("test", by_test))
    print()
    print(format_table("method", by_method))
    if args.causes:
        print()
        for message, count in failure_causes(cases).items():
            print(f"{count:5d}  {message}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "target": target,
                    "seconds": seconds,
                    "by_test": by_test,
                    "by_method": by_method,
                    "causes": failure_causes(cases),
                    "cases": cases,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
