"""Compile-time numbers: the `constants` section and every value folded from constants
(sizes, option values, times)."""

from __future__ import annotations

import math
from collections.abc import Callable

from odedsl.lang import nodes
from odedsl.lang.builtins import CONSTANTS
from odedsl.lang.diagnostics import Note, Reporter, did_you_mean, number
from odedsl.lang.source import Span

Number = int | float
MAX_SIZE = 1 << 31
_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "sin": math.sin,
    "cos": math.cos,
    "tanh": math.tanh,
    "abs": abs,
}


class ConstantFold(Exception):
    """A value is not a constant: ``code``, ``message``, where, and optional help."""

    def __init__(self, code: str, message: str, loc: Span, help: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.loc, self.help = code, message, loc, help


class Constants:
    """The constants of a spec, folded on demand (so their order does not matter).

    ``describe_other(name)`` says what a known non-constant name is (``"a parameter"``), or
    None for an unknown name; it shapes the message when a constant is expected.
    """

    def __init__(self, reporter: Reporter, describe_other: Callable[[str], str | None]) -> None:
        self.reporter = reporter
        self.describe_other = describe_other
        self.definitions: dict[str, nodes.Assign] = {}
        self.values: dict[str, Number] = {}
        self.used: set[str] = set()
        self._failed: set[str] = set()
        self._resolving: list[str] = []

    def define(self, statement: nodes.Assign, name: nodes.Name) -> None:
        self.definitions[name.id] = statement

    def resolve_all(self) -> dict[str, Number]:
        """Fold every constant, reporting each failure once; the values that folded."""
        for name in self.definitions:
            self._resolve(name)
        return {n: self.values[n] for n in self.definitions if n in self.values}

    # -- folding -------------------------------------------------------------------------------

    def fold(self, expr: nodes.Expr, what: str = "this value") -> Number | None:
        """The number ``expr`` denotes, or None after reporting why it has none."""
        try:
            return self.evaluate(expr, what)
        except _Silent:
            return None
        except ConstantFold as error:
            self.reporter.error(error.code, error.message, error.loc, help=error.help)
            return None

    def size(self, expr: nodes.Expr, what: str = "a size") -> int | None:
        """A positive integer (a dimension or a layer width), or None after reporting."""
        value = self.fold(expr, what)
        if value is None:
            return None
        if not isinstance(value, int) or value <= 0 or value >= MAX_SIZE:
            shown = number(value)
            self.reporter.error(
                "E036",
                f"{what} must be a positive integer, but this is {shown}",
                expr.loc,
                help="`/` always gives a real number; sizes are built with `+`, `-` and `*`"
                if isinstance(value, float)
                else None,
            )
            return None
        return value

    def try_evaluate(self, expr: nodes.Expr) -> Number | None:
        """The number ``expr`` denotes if it is a constant, else None (nothing reported)."""
        try:
            return self.evaluate(expr, "a value")
        except ConstantFold:
            return None

    def evaluate(self, expr: nodes.Expr, what: str) -> Number:
        """Like :meth:`fold`, raising :class:`ConstantFold` instead of reporting."""
        if isinstance(expr, nodes.Number):
            return expr.value
        if isinstance(expr, nodes.Name):
            return self._name(expr)
        if isinstance(expr, nodes.Unary):
            value = self.evaluate(expr.operand, what)
            return -value if expr.op == "-" else value
        if isinstance(expr, nodes.BinOp):
            return self._binary(expr, what)
        if (
            isinstance(expr, nodes.Call)
            and isinstance(expr.func, nodes.Name)
            and expr.func.id in _FUNCTIONS
            and len(expr.args) == 1
            and not expr.keywords
        ):
            argument = self.evaluate(expr.args[0], what)
            try:
                return _FUNCTIONS[expr.func.id](argument)
            except (ValueError, OverflowError):
                raise ConstantFold(
                    "E035", f"`{expr.func.id}` is undefined at {number(argument)}", expr.loc
                ) from None
        raise ConstantFold(
            "E035",
            f"{what} must be a number known before training",
            expr.loc,
            help="use numbers, constants from `constants`, `+ - * / ^` and exp, log, sqrt",
        )

    def _name(self, expr: nodes.Name) -> Number:
        name = expr.id
        if name in self.definitions:
            self.used.add(name)
            value = self._resolve(name)
            if value is None:
                raise _Silent(expr.loc)
            return value
        if name in CONSTANTS:
            return CONSTANTS[name]
        other = self.describe_other(name)
        if other is not None:
            raise ConstantFold(
                "E035",
                f"`{name}` is {other}, not a constant known before training",
                expr.loc,
                help="only numbers and names from `constants` can be used here",
            )
        raise ConstantFold(
            "E030",
            f"unknown name `{name}`",
            expr.loc,
            help=did_you_mean(name, [*self.definitions, *CONSTANTS]),
        )

    def _resolve(self, name: str) -> Number | None:
        if name in self.values:
            return self.values[name]
        if name in self._failed:
            return None
        statement = self.definitions[name]
        if name in self._resolving:
            cycle = self._resolving[self._resolving.index(name) :]
            self._failed.update(cycle)
            first = self.definitions[cycle[0]]
            self.reporter.error(
                "E034",
                "constants defined in a cycle: " + " -> ".join(f"`{n}`" for n in [*cycle, name]),
                first.target.loc,
                notes=[Note(f"`{n}` is defined here", self.definitions[n].loc) for n in cycle[1:]],
            )
            return None
        self._resolving.append(name)
        try:
            value = self.evaluate(statement.value, f"constant `{name}`")
        except _Silent:
            value = None
        except ConstantFold as error:
            self.reporter.error(error.code, error.message, error.loc, help=error.help)
            value = None
        finally:
            self._resolving.pop()
        if value is None:
            self._failed.add(name)
        else:
            self.values[name] = value
        return value

    def _binary(self, expr: nodes.BinOp, what: str) -> Number:
        left = self.evaluate(expr.left, what)
        right = self.evaluate(expr.right, what)
        try:
            if expr.op == "+":
                result = left + right
            elif expr.op == "-":
                result = left - right
            elif expr.op == "*":
                result = left * right
            elif expr.op == "/":
                result = left / right
            elif abs(left) > 1 and abs(right) * math.log2(abs(left)) > 4096:
                raise OverflowError
            else:
                result = left**right
            if isinstance(result, complex) or not math.isfinite(result):
                raise ValueError
            return result
        except ZeroDivisionError:
            raise ConstantFold("E035", "division by zero", expr.loc) from None
        except (OverflowError, ValueError):
            raise ConstantFold("E035", f"{what} is out of range", expr.loc) from None


class _Silent(ConstantFold):
    """A constant that already failed (and was reported): fail quietly where it is used."""

    def __init__(self, loc: Span) -> None:
        super().__init__("E035", "", loc)
