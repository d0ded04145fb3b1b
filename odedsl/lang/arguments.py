"""Arguments of built-ins: binding a call's arguments to the catalogue's parameters, and
validating constant argument values (numbers, symbols, strings, lists, intervals)."""

from __future__ import annotations

from collections.abc import Sequence

from odedsl.lang import nodes
from odedsl.lang.builtins import ACTIVATIONS, Arg
from odedsl.lang.constants import ConstantFold, Constants
from odedsl.lang.diagnostics import Note, Reporter, did_you_mean, number, one_of


class Invalid:
    """The value of an argument that was reported invalid."""


INVALID = Invalid()

_KIND_NAMES = {
    "number": "a number",
    "int": "an integer",
    "string": 'a string "..."',
    "bool": "`true` or `false`",
    "int_list": "a list of integers [a, b, ...]",
    "string_list": 'a list of strings ["a", "b", ...]',
    "fractions": "three fractions (train, validation, test) summing to 1",
    "interval": "an interval (t0, t1)",
}


def bind_arguments(
    call: nodes.Call,
    params: Sequence[Arg],
    callee: str,
    reporter: Reporter,
    positional: Sequence[nodes.Expr] | None = None,
) -> dict[str, nodes.Expr] | None:
    """Map ``positional`` (default: all positional arguments of ``call``) and then the keyword
    arguments to ``params`` by name. Reports extra or missing arguments (E044), unknown
    keywords (E061) and arguments given twice (E031); returns None after any of them."""
    args = call.args if positional is None else positional
    bound: dict[str, nodes.Expr] = {}
    ok = True
    for param, expr in zip(params, args, strict=False):
        bound[param.name] = expr
    if len(args) > len(params):
        extra = args[len(params)]
        accepted = one_of(p.name for p in params) if params else "none"
        reporter.error(
            "E044",
            f"too many arguments for `{callee}`",
            extra.loc.to(args[-1].loc),
            help=f"`{callee}` takes these arguments: {accepted}" if params else None,
        )
        ok = False
    names = [p.name for p in params]
    for keyword in call.keywords:
        if keyword.name not in names:
            hint = did_you_mean(keyword.name, names)
            if hint is None:
                hint = (
                    f"`{callee}` takes {one_of(names)}"
                    if names
                    else f"`{callee}` takes no arguments"
                )
            reporter.error(
                "E061",
                f"`{callee}` has no argument `{keyword.name}`",
                keyword.name_loc,
                help=hint,
            )
            ok = False
        elif keyword.name in bound:
            reporter.error(
                "E031",
                f"argument `{keyword.name}` of `{callee}` is given twice",
                keyword.loc,
                notes=[Note("first given here", bound[keyword.name].loc)],
            )
            ok = False
        else:
            bound[keyword.name] = keyword.value
    for param in params:
        if param.required and param.name not in bound and ok:
            reporter.error(
                "E044",
                f"`{callee}` needs its argument `{param.name}`",
                call.loc,
                help=f"add `{param.name} = ...`",
            )
            ok = False
    return bound if ok else None


def argument_value(
    expr: nodes.Expr,
    arg: Arg,
    constants: Constants,
    reporter: Reporter,
    *,
    what: str,
    code: str = "E062",
) -> object:
    """The validated value of a constant argument, or :data:`INVALID` after reporting.

    ``what`` names the argument in messages (``"`method`"``); ``code`` is the code of an
    invalid value (E062 for arguments of constructors, E081 for options).
    """
    try:
        return _value(expr, arg, constants, what, code)
    except ConstantFold as error:
        if error.message:
            reporter.error(error.code, error.message, error.loc, help=error.help)
        return INVALID


def _value(expr: nodes.Expr, arg: Arg, constants: Constants, what: str, code: str) -> object:
    kind = arg.kind
    if kind in ("symbol", "activation"):
        return _symbol(expr, arg.choices if kind == "symbol" else ACTIVATIONS, what, code, kind)
    if kind == "string":
        if not isinstance(expr, nodes.String):
            raise ConstantFold(code, f"{what} must be {_KIND_NAMES[kind]}", expr.loc)
        return expr.value
    if kind == "bool":
        if not (isinstance(expr, nodes.Name) and expr.id in ("true", "false")):
            raise ConstantFold(code, f"{what} must be `true` or `false`", expr.loc)
        return expr.id == "true"
    if kind == "int_list":
        if not isinstance(expr, nodes.Array):
            raise ConstantFold(code, f"{what} must be {_KIND_NAMES[kind]}", expr.loc)
        return tuple(_number(item, "int", what, constants, code) for item in expr.items)
    if kind == "string_list":
        if not isinstance(expr, nodes.Array) or not all(
            isinstance(item, nodes.String) for item in expr.items
        ):
            raise ConstantFold(code, f"{what} must be {_KIND_NAMES[kind]}", expr.loc)
        return tuple(item.value for item in expr.items)  # type: ignore[attr-defined]
    if kind == "fractions":
        return _fractions(expr, what, constants, code)
    if kind == "interval":
        if not (isinstance(expr, nodes.Tuple) and len(expr.items) == 2):
            raise ConstantFold(code, f"{what} must be {_KIND_NAMES[kind]}", expr.loc)
        start, end = (_number(item, "number", what, constants, code) for item in expr.items)
        if not start < end:
            raise ConstantFold(
                code,
                f"{what} must have t0 < t1, but it is ({number(start)}, {number(end)})",
                expr.loc,
            )
        return (float(start), float(end))
    value = _number(expr, kind, what, constants, code)
    violation = arg.violation(value)
    if violation:
        raise ConstantFold(code, f"{what} {violation}, but it is {number(value)}", expr.loc)
    return value


def _fractions(expr: nodes.Expr, what: str, constants: Constants, code: str) -> tuple:
    if not (isinstance(expr, nodes.Tuple) and len(expr.items) == 3):
        raise ConstantFold(
            code, f"{what} must be {_KIND_NAMES['fractions']}, e.g. (0.8, 0.1, 0.1)", expr.loc
        )
    values = tuple(float(_number(item, "number", what, constants, code)) for item in expr.items)
    if any(v < 0 for v in values) or abs(sum(values) - 1) > 1e-9 or values[0] == 0:
        raise ConstantFold(
            code,
            f"{what} must be non-negative fractions summing to 1 with a positive training "
            f"share, but it is ({', '.join(number(v) for v in values)})",
            expr.loc,
        )
    return values


def _number(expr: nodes.Expr, kind: str, what: str, constants: Constants, code: str) -> int | float:
    if isinstance(expr, nodes.Symbol | nodes.String | nodes.Array | nodes.Tuple):
        raise ConstantFold(code, f"{what} must be {_KIND_NAMES[kind]}", expr.loc)
    value = constants.evaluate(expr, what)
    if kind == "int" and not isinstance(value, int):
        raise ConstantFold(code, f"{what} must be an integer, but it is {number(value)}", expr.loc)
    return value


def _symbol(expr: nodes.Expr, choices: Sequence[str], what: str, code: str, kind: str) -> str:
    allowed = one_of(choices, ":")
    if isinstance(expr, nodes.Symbol | nodes.Name):
        name, written = (
            (expr.name, f":{expr.name}") if isinstance(expr, nodes.Symbol) else (expr.id, expr.id)
        )
        if name in choices and (isinstance(expr, nodes.Symbol) or kind == "activation"):
            return name
        if name in choices:
            raise ConstantFold(
                code, f"{what} takes a symbol: write `:{name}`", expr.loc, help=f"use {allowed}"
            )
        raise ConstantFold(
            code,
            f"`{written}` is not a valid value of {what}",
            expr.loc,
            help=did_you_mean(name, choices, ":") or f"use {allowed}",
        )
    raise ConstantFold(code, f"{what} must be one of {allowed}", expr.loc)
