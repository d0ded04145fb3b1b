"""The right side of ``~``: a known distribution, its arguments, and their shapes against the
variable on the left.

The checks are driven by the catalogue entry (``odedsl.lang.builtins.DISTRIBUTIONS``): each
argument by its kind and constraint (``real`` and ``positive`` expressions broadcast against
the variable drawn, ``logits``, a ``signal``, an ``interval``), the variable on the left
against the entry's ``support``. A new distribution is one entry there, nothing here.
"""

from __future__ import annotations

from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.arguments import INVALID, argument_value, bind_arguments
from odedsl.lang.builtins import DISTRIBUTIONS, Arg, DistributionKind
from odedsl.lang.diagnostics import Note, did_you_mean, number
from odedsl.lang.env import Env
from odedsl.lang.expressions import Context, ExpressionChecker
from odedsl.lang.model import Shape
from odedsl.lang.shapes import broadcast, numel, show
from odedsl.lang.source import Span

ALIASES = {"Gaussian": "Normal", "MvNormal": "Normal", "Exponential": "Poisson"}
"""Names from other libraries, for suggestions."""


def _is_identity(expr: nodes.Expr) -> bool:
    """Whether ``expr`` is ``I(D)``, the identity covariance."""
    return (
        isinstance(expr, nodes.Call)
        and isinstance(expr.func, nodes.Name)
        and expr.func.id == "I"
        and len(expr.args) == 1
        and not expr.keywords
    )


def _drawing(*supports: str) -> str:
    """The distributions of the catalogue whose draws have one of ``supports``, as advice."""
    names = [
        d.example.split("~", 1)[-1].strip() for d in DISTRIBUTIONS.values() if d.support in supports
    ]
    return "use " + " or ".join(f"`{name}`" for name in names)


class DistributionChecker:
    def __init__(self, env: Env, expressions: ExpressionChecker) -> None:
        self.env = env
        self.reporter = env.reporter
        self.expressions = expressions

    def check(
        self,
        expr: nodes.Expr,
        variable: str,
        event: Shape | None,
        ctx: Context,
        *,
        observed: ir.DataVariable | None = None,
        variable_loc: Span | None = None,
        allowed: tuple[str, ...] = tuple(DISTRIBUTIONS),
    ) -> ir.Distribution | None:
        """The distribution of ``variable`` (of shape ``event``, declared at
        ``variable_loc``; None: the shape its parameters give, as for a posterior in
        `encoder`); ``observed`` is the data variable when the left side is data."""
        if not (isinstance(expr, nodes.Call) and isinstance(expr.func, nodes.Name)):
            self.reporter.error(
                "E063",
                "the right side of `~` must be a distribution, such as `Normal(0, 1)`",
                expr.loc,
            )
            return None
        family = expr.func.id
        if family not in DISTRIBUTIONS:
            self.reporter.error(
                "E060",
                f"unknown distribution `{family}`",
                expr.func.loc,
                help=(f"did you mean `{ALIASES[family]}`?" if family in ALIASES else None)
                or did_you_mean(family, DISTRIBUTIONS)
                or "distributions are " + ", ".join(DISTRIBUTIONS),
            )
            return None
        if family not in allowed:
            self.reporter.error(
                "E063",
                f"`{family}` cannot be used here: use " + " or ".join(f"`{a}`" for a in allowed),
                expr.func.loc,
            )
            return None
        kind = DISTRIBUTIONS[family]
        bound = bind_arguments(expr, kind.args, family, self.reporter)
        if bound is None:
            return None
        if event is None:
            return self._inferred(expr, kind, bound, ctx)
        if not self._supports(kind, expr, variable, observed):
            return None
        declared = (
            [Note(f"`{variable}` is {show(event)} here", variable_loc)] if variable_loc else []
        )
        params: dict[str, ir.Expr] = {}
        interval: tuple[float, float] | None = None
        failed = False
        for arg in kind.args:
            node = bound.get(arg.name)
            value: ir.Expr | None
            if node is None:  # an optional argument left out
                value = ir.Const(expr.loc, (), arg.default)  # type: ignore[arg-type]
            elif arg.kind == "signal":
                value = self._signal(node, family)
            elif arg.kind == "interval":
                found = argument_value(
                    node, arg, self.env.constants, self.reporter, what=f"`{arg.name}` of `{family}`"
                )
                failed |= found is INVALID
                interval = None if found is INVALID else found  # type: ignore[assignment]
                continue
            elif kind.constraints.get(arg.name, "real") == "logits":
                value = self._logits(node, kind, variable, event, ctx, observed, declared)
            else:
                value = self._parameter(node, arg, kind, variable, event, ctx, declared)
            if value is None:
                failed = True
            else:
                params[arg.name] = value
        if failed:
            return None
        return ir.Distribution(family, params, event, expr.loc, interval)

    # -- the variable drawn ------------------------------------------------------------------------

    def _supports(
        self,
        kind: DistributionKind,
        expr: nodes.Call,
        variable: str,
        observed: ir.DataVariable | None,
    ) -> bool:
        """Whether the data ``observed`` (None: not data) fit what ``kind`` draws."""
        family, support = kind.name, kind.support
        help: str | None = None
        if support == "label":
            if observed is not None and observed.role == "label" and observed.dtype == "int":
                return True
            message = f"`{family}` draws class labels, but `{variable}` is not a label of the data"
            help = "a label comes from a labelled data set, as in `(x, y) ~ Digits()`"
        elif support == "events":
            if observed is not None and observed.role == "events":
                return True
            message = (
                f"`{family}` draws event times, but `{variable}` is not the event times of the data"
            )
            help = "event times come from `(ts, x, events) ~ EventSeries()`"
        elif observed is None:
            return True
        elif observed.role == "events":
            message = f"`{variable}` holds event times, which `{family}` does not draw"
            help = _drawing("events")
        elif support in ("real", "positive") and observed.dtype == "int":
            message = f"`{family}` draws real values, but `{variable}` is a class label"
            help = _drawing("label", "binary")
        elif support == "binary" and observed.classes not in (None, 2):
            message = f"`{family}` draws 0 or 1, but `{variable}` has {observed.classes} classes"
            help = _drawing("label")
        else:
            return True
        self.reporter.error(
            "E063",
            message,
            expr.func.loc,
            help=help,
            notes=[Note(f"`{variable}` is bound here", observed.loc)] if observed else [],
        )
        return False

    # -- arguments -------------------------------------------------------------------------------

    def _parameter(
        self,
        expr: nodes.Expr,
        arg: Arg,
        kind: DistributionKind,
        variable: str,
        event: Shape,
        ctx: Context,
        declared: list[Note],
    ) -> ir.Expr | None:
        """A ``real`` or ``positive`` argument: any expression broadcasting against the
        variable drawn; ``I(D)`` (the identity covariance) for a positive one."""
        positive = kind.constraints.get(arg.name, "real") == "positive"
        if positive and _is_identity(expr):
            return self._identity(expr, variable, event, declared)  # type: ignore[arg-type]
        value = self.expressions.check(expr, ctx)
        if value is None:
            return None
        what = arg.doc or arg.name
        if broadcast(value.shape, event) != event:  # type: ignore[arg-type]
            self.reporter.error(
                "E040",
                f"the {what} is {show(value.shape)}, but `{variable}` is {show(event)}",
                expr.loc,
                notes=declared,
            )
            return None
        return self._positive(value, expr, arg, kind) if positive else value

    def _positive(
        self, value: ir.Expr | None, expr: nodes.Expr, arg: Arg, kind: DistributionKind
    ) -> ir.Expr | None:
        constant = self.env.constants.try_evaluate(expr) if value is not None else None
        if constant is not None and constant <= 0:
            self.reporter.error(
                "E062",
                f"the {arg.doc or arg.name} of `{kind.name}` must be positive, not "
                f"{number(constant)}",
                expr.loc,
            )
            return None
        return value

    def _identity(
        self, expr: nodes.Call, variable: str, event: Shape, declared: list[Note]
    ) -> ir.Expr | None:
        size = self.env.constants.size(expr.args[0], "the size of `I`")
        if size is None:
            return None
        if len(event) != 1 or event[0] not in (None, size):
            self.reporter.error(
                "E040",
                f"`I({size})` is the covariance of Real[{size}], but `{variable}` is {show(event)}",
                expr.loc,
                notes=declared,
            )
            return None
        return ir.Const(expr.loc, (), 1.0)

    def _inferred(
        self, expr: nodes.Call, kind: DistributionKind, bound: dict[str, nodes.Expr], ctx: Context
    ) -> ir.Distribution | None:
        """A distribution whose shape is that of its parameters (a posterior in `encoder`):
        they must agree with one another."""
        values: dict[str, ir.Expr] = {}
        for arg in kind.args:
            node = bound.get(arg.name)
            if node is None:
                values[arg.name] = ir.Const(expr.loc, (), arg.default)  # type: ignore[arg-type]
                continue
            positive = kind.constraints.get(arg.name, "real") == "positive"
            if positive and _is_identity(node):
                size = self.env.constants.size(node.args[0], "the size of `I`")  # type: ignore[attr-defined]
                value = None if size is None else ir.Const(node.loc, (size,), 1.0)
            else:
                value = self.expressions.check(node, ctx)
                if positive:
                    value = self._positive(value, node, arg, kind)
            if value is None:
                return None
            values[arg.name] = value
        event: Shape | None = ()
        first: Arg | None = None
        for arg in kind.args:
            shape = values[arg.name].shape
            joined = broadcast(event, shape)  # type: ignore[arg-type]
            if joined is None:
                a, b = values[first.name], values[arg.name]  # type: ignore[union-attr]
                self.reporter.error(
                    "E040",
                    f"the {first.doc or first.name} is {show(a.shape)} but the "  # type: ignore[union-attr]
                    f"{arg.doc or arg.name} is {show(b.shape)}: they must agree",
                    expr.loc,
                    notes=[
                        Note(f"the {first.doc or first.name} is {show(a.shape)}", a.loc),  # type: ignore[union-attr]
                        Note(f"the {arg.doc or arg.name} is {show(b.shape)}", b.loc),
                    ],
                )
                return None
            if shape and first is None:
                first = arg
            event = joined
        for arg in kind.args:  # I(D) fixed the shape; as a value it is 1
            node = bound.get(arg.name)
            if node is not None and _is_identity(node):
                values[arg.name] = ir.Const(node.loc, (), 1.0)
        return ir.Distribution(kind.name, values, event, expr.loc)  # type: ignore[arg-type]

    def _logits(
        self,
        expr: nodes.Expr,
        kind: DistributionKind,
        variable: str,
        event: Shape,
        ctx: Context,
        observed: ir.DataVariable | None,
        declared: list[Note],
    ) -> ir.Expr | None:
        """Logits: ``Real[K]`` for a label of K classes; else broadcast against the variable
        (or one number)."""
        logits = self.expressions.check(expr, ctx)
        if logits is None:
            return None
        if kind.support != "label":
            if broadcast(logits.shape, event) != event and numel(logits.shape) != 1:  # type: ignore[arg-type]
                self.reporter.error(
                    "E040",
                    f"the logits are {show(logits.shape)}, but `{variable}` is {show(event)}",
                    expr.loc,
                    notes=declared,
                )
                return None
            return logits
        classes = observed.classes if observed is not None else None
        if len(logits.shape) != 1 or (  # type: ignore[arg-type]
            classes is not None and logits.shape[0] not in (None, classes)  # type: ignore[index]
        ):
            wanted = f"Real[{classes}]" if classes else "a vector Real[K]"
            self.reporter.error(
                "E040",
                f"the logits are {show(logits.shape)}, but `{variable}` has "
                f"{classes or 'K'} classes: they must be {wanted}",
                expr.loc,
                notes=[Note(f"`{variable}` has {classes} classes in this data set", observed.loc)]
                if observed is not None and classes
                else [],
            )
            return None
        return logits

    def _signal(self, expr: nodes.Expr, family: str) -> ir.Expr | None:
        """A signal defined in `dynamics`, written by its bare name (an intensity λ)."""
        if isinstance(expr, nodes.Name) and expr.id in self.env.symbols.failed:
            return None
        definition = self.env.symbols.get(expr.id) if isinstance(expr, nodes.Name) else None
        if definition is None or definition.kind != "signal":
            self.reporter.error(
                "E063",
                f"the intensity of `{family}` is a signal defined in `dynamics`, "
                "as in `λ(t) = exp(rate(z(t)))`, written by its bare name",
                expr.loc,
            )
            return None
        self.env.symbols.used.add(definition.name)
        if numel(definition.shape) != 1:  # type: ignore[arg-type]
            self.reporter.error(
                "E040",
                f"an intensity must be a scalar, but `{definition.name}` is "
                f"{show(definition.shape)}",
                expr.loc,
                notes=[Note(f"`{definition.name}` is defined here", definition.loc)],
            )
            return None
        return ir.Var(expr.loc, definition.shape, definition.name, "signal")
