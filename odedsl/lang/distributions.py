"""The right side of ``~``: a known distribution, its arguments, and their shapes against the
variable on the left."""

from __future__ import annotations

from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.arguments import INVALID, argument_value, bind_arguments
from odedsl.lang.builtins import DISTRIBUTIONS
from odedsl.lang.diagnostics import Note, did_you_mean, number
from odedsl.lang.env import Env
from odedsl.lang.expressions import Context, ExpressionChecker
from odedsl.lang.model import Shape
from odedsl.lang.shapes import broadcast, numel, show
from odedsl.lang.source import Span

ALIASES = {"Gaussian": "Normal", "MvNormal": "Normal", "Poisson": "PoissonProcess"}
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
        ``variable_loc``; a Normal infers it from its parameters when it is None);
        ``observed`` is the data variable when the left side is data."""
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
        bound = bind_arguments(expr, DISTRIBUTIONS[family].args, family, self.reporter)
        if bound is None:
            return None
        if family == "Normal" and event is None:
            return self._inferred_normal(expr, bound, ctx)
        assert event is not None, "only a Normal infers its shape"
        declared = (
            [Note(f"`{variable}` is {show(event)} here", variable_loc)] if (variable_loc) else []
        )
        if family == "Normal":
            return self._normal(expr, bound, variable, event, ctx, declared)
        if family == "PoissonProcess":
            return self._poisson(expr, bound, variable, event, ctx, observed)
        return self._logits(expr, family, bound, variable, event, ctx, observed, declared)

    def _normal(
        self,
        expr: nodes.Call,
        bound: dict[str, nodes.Expr],
        variable: str,
        event: Shape,
        ctx: Context,
        declared: list[Note],
    ) -> ir.Distribution | None:
        mean = self._parameter(bound["mean"], "mean", variable, event, ctx, declared)
        std_expr = bound["std"]
        if _is_identity(std_expr):
            std = self._identity(std_expr, variable, event, declared)  # type: ignore[arg-type]
        else:
            std = self._parameter(std_expr, "standard deviation", variable, event, ctx, declared)
            std = self._positive(std, std_expr)
        if mean is None or std is None:
            return None
        return ir.Distribution("Normal", {"mean": mean, "std": std}, event, expr.loc)

    def _inferred_normal(
        self, expr: nodes.Call, bound: dict[str, nodes.Expr], ctx: Context
    ) -> ir.Distribution | None:
        """A Normal whose shape is that of its parameters (a posterior in `encoder`)."""
        mean = self.expressions.check(bound["mean"], ctx)
        std_expr = bound["std"]
        if _is_identity(std_expr):
            size = self.env.constants.size(std_expr.args[0], "the size of `I`")  # type: ignore[attr-defined]
            std = None if size is None else ir.Const(std_expr.loc, (size,), 1.0)
        else:
            std = self._positive(self.expressions.check(std_expr, ctx), std_expr)
        if mean is None or std is None:
            return None
        event = broadcast(mean.shape, std.shape)  # type: ignore[arg-type]
        if event is None:
            self.reporter.error(
                "E040",
                f"the mean is {show(mean.shape)} but the standard deviation is "
                f"{show(std.shape)}: they must agree",
                expr.loc,
                notes=[
                    Note(f"the mean is {show(mean.shape)}", bound["mean"].loc),
                    Note(f"the standard deviation is {show(std.shape)}", std_expr.loc),
                ],
            )
            return None
        if _is_identity(std_expr):
            std = ir.Const(std_expr.loc, (), 1.0)
        return ir.Distribution("Normal", {"mean": mean, "std": std}, event, expr.loc)

    def _positive(self, std: ir.Expr | None, expr: nodes.Expr) -> ir.Expr | None:
        value = self.env.constants.try_evaluate(expr) if std is not None else None
        if value is not None and value <= 0:
            self.reporter.error(
                "E062",
                f"the standard deviation of `Normal` must be positive, not {number(value)}",
                expr.loc,
            )
            return None
        return std

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

    def _parameter(
        self,
        expr: nodes.Expr,
        what: str,
        variable: str,
        event: Shape,
        ctx: Context,
        declared: list[Note],
    ) -> ir.Expr | None:
        value = self.expressions.check(expr, ctx)
        if value is None:
            return None
        if broadcast(value.shape, event) != event:  # type: ignore[arg-type]
            self.reporter.error(
                "E040",
                f"the {what} is {show(value.shape)}, but `{variable}` is {show(event)}",
                expr.loc,
                notes=declared,
            )
            return None
        return value

    def _logits(
        self,
        expr: nodes.Call,
        family: str,
        bound: dict[str, nodes.Expr],
        variable: str,
        event: Shape,
        ctx: Context,
        observed: ir.DataVariable | None,
        declared: list[Note],
    ) -> ir.Distribution | None:
        logits = self.expressions.check(bound["logits"], ctx)
        if logits is None:
            return None
        if family == "Bernoulli":
            if broadcast(logits.shape, event) != event and numel(logits.shape) != 1:  # type: ignore[arg-type]
                self.reporter.error(
                    "E040",
                    f"the logits are {show(logits.shape)}, but `{variable}` is {show(event)}",
                    bound["logits"].loc,
                    notes=declared,
                )
                return None
            return ir.Distribution(family, {"logits": logits}, event, expr.loc)
        if observed is None or observed.role != "label":
            self.reporter.error(
                "E063",
                f"`Categorical` draws class labels, but `{variable}` is not a label of the data",
                expr.func.loc,
                help="a label comes from a labelled data set, as in `(x, y) ~ Digits()`",
            )
            return None
        classes = observed.classes
        if len(logits.shape) != 1 or (  # type: ignore[arg-type]
            classes is not None and logits.shape[0] not in (None, classes)  # type: ignore[index]
        ):
            wanted = f"Real[{classes}]" if classes else "a vector Real[K]"
            self.reporter.error(
                "E040",
                f"the logits are {show(logits.shape)}, but `{variable}` has "
                f"{classes or 'K'} classes: they must be {wanted}",
                bound["logits"].loc,
                notes=[Note(f"`{variable}` has {classes} classes in this data set", observed.loc)],
            )
            return None
        return ir.Distribution(family, {"logits": logits}, (), expr.loc)

    def _poisson(
        self,
        expr: nodes.Call,
        bound: dict[str, nodes.Expr],
        variable: str,
        event: Shape,
        ctx: Context,
        observed: ir.DataVariable | None,
    ) -> ir.Distribution | None:
        intensity_expr = bound["intensity"]
        if isinstance(intensity_expr, nodes.Name) and intensity_expr.id in self.env.symbols.failed:
            return None
        definition = (
            self.env.symbols.get(intensity_expr.id)
            if isinstance(intensity_expr, nodes.Name)
            else None
        )
        if definition is None or definition.kind != "signal":
            self.reporter.error(
                "E063",
                "the intensity of `PoissonProcess` is a signal defined in `dynamics`, "
                "as in `λ(t) = exp(rate(z(t)))`, written by its bare name",
                intensity_expr.loc,
            )
            return None
        self.env.symbols.used.add(definition.name)
        if numel(definition.shape) != 1:  # type: ignore[arg-type]
            self.reporter.error(
                "E040",
                f"an intensity must be a scalar, but `{definition.name}` is "
                f"{show(definition.shape)}",
                intensity_expr.loc,
                notes=[Note(f"`{definition.name}` is defined here", definition.loc)],
            )
            return None
        interval = argument_value(
            bound["on"],
            DISTRIBUTIONS["PoissonProcess"].args[1],
            self.env.constants,
            self.reporter,
            what="`on` of `PoissonProcess`",
        )
        if observed is None or observed.role != "events":
            self.reporter.error(
                "E063",
                f"`PoissonProcess` draws event times, but `{variable}` is not the event "
                "times of the data",
                expr.func.loc,
                help="event times come from `(ts, x, events) ~ EventSeries()`",
            )
            return None
        if interval is INVALID:
            return None
        intensity = ir.Var(intensity_expr.loc, definition.shape, definition.name, "signal")
        return ir.Distribution(
            "PoissonProcess",
            {"intensity": intensity},
            event,
            expr.loc,
            interval,  # type: ignore[arg-type]
        )
