"""The probabilistic sections: `target` (a density to match), `prior` and `encoder` (latent
variables with p(z) and q(z | x)), and `likelihood` (observation models)."""

from __future__ import annotations

from dataclasses import dataclass

from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.builtins import DISTRIBUTIONS
from odedsl.lang.declarations import applied_to_name, refuse, type_shape
from odedsl.lang.diagnostics import Note
from odedsl.lang.distributions import DistributionChecker
from odedsl.lang.env import Env
from odedsl.lang.expressions import Context, ExpressionChecker, Local
from odedsl.lang.model import Shape
from odedsl.lang.sections import Sections
from odedsl.lang.shapes import show
from odedsl.lang.source import Span
from odedsl.lang.symbols import Definition

_PRIOR_SEES = frozenset({"constant"})
_PRIOR_FORMS = "latent variables `z0 ~ Normal(0, 1)` and priors on parameters `a ~ Normal(0, 1)`"
_ENCODER_SEES = frozenset({"constant", "param", "network", "data", "local"})
_LIKELIHOOD_SEES = frozenset({"constant", "param", "network", "data", "state", "signal", "latent"})


class InferenceChecker:
    def __init__(
        self, env: Env, expressions: ExpressionChecker, distributions: DistributionChecker
    ) -> None:
        self.env = env
        self.reporter = env.reporter
        self.expressions = expressions
        self.distributions = distributions

    # -- target ------------------------------------------------------------------------------------

    def target(self, sections: Sections, state: ir.State | None) -> ir.TargetDensity | None:
        found: ir.TargetDensity | None = None
        first: Span | None = None
        for statement in sections.statements("target"):
            target = statement.target
            if not (isinstance(statement, nodes.Assign) and isinstance(target, nodes.Juxtaposed)):
                refuse(self.env, statement, "target", "one log-density `log p(x) = ...`")
                continue
            if first is not None:
                self.reporter.error(
                    "E053",
                    "a second target density",
                    statement.loc,
                    notes=[Note("the first is here", first)],
                )
                continue
            first = statement.loc
            found = self._log_density(statement, target, state)
        if first is None and "target" in sections:
            self.reporter.error(
                "E024",
                "`target` defines no density",
                sections.blocks["target"].name_loc,
                help="write `log p(x) = ...`",
            )
        return found

    def _log_density(
        self, statement: nodes.Assign, target: nodes.Juxtaposed, state: ir.State | None
    ) -> ir.TargetDensity | None:
        call = target.call
        argument = call.args[0] if len(call.args) == 1 and not call.keywords else None
        if target.head.id != "log" or not isinstance(argument, nodes.Name):
            self.reporter.error(
                "E050",
                "a target density is written `log p(x) = ...`",
                target.loc,
                help="the left side is `log`, a name for the density, and its argument",
            )
            return None
        if state is None or self.env.symbols.clashes(argument.id, argument.loc):
            return None
        ctx = Context(
            "in the target density",
            frozenset({"constant"}),
            locals={argument.id: Local("argument", state.shape, argument.loc)},
        )
        value = self.expressions.check(statement.value, ctx)
        if value is None:
            return None
        if value.shape != ():
            self.reporter.error(
                "E040",
                f"a log-density is a number, but this is {show(value.shape)}",
                statement.value.loc,
                help="reduce it, e.g. with `sum(...)` or `norm(...)`",
            )
            return None
        return ir.TargetDensity(argument.id, state.shape, value, statement.loc)

    # -- prior and encoder -------------------------------------------------------------------------

    def latents(
        self, sections: Sections, states: list[ir.State]
    ) -> tuple[list[ir.Assignment], list[ir.Latent]]:
        priors = self._priors(sections, _initial_shapes(sections, states))
        assignments, posteriors = self._encoder(sections, priors)
        latents = []
        for name, prior in priors.items():
            posterior = posteriors.get(name)
            if posterior is None:
                self.env.symbols.failed.add(name)
                if "encoder" in sections:
                    self.reporter.error(
                        "E063",
                        f"latent `{name}` has a prior but no posterior in `encoder`",
                        prior.statement.target.loc,
                        help=f"add `{name} ~ Normal(μ, σ)` to `encoder`",
                    )
                continue
            shape = prior.shape if prior.shape is not None else posterior.event_shape
            ctx = Context("in `prior`", _PRIOR_SEES)
            distribution = self.distributions.check(
                prior.statement.distribution,
                name,
                shape,
                ctx,
                variable_loc=prior.shape_loc,
                allowed=("Normal",),
            )
            if distribution is not None:
                latents.append(ir.Latent(name, shape, distribution, posterior, prior.statement.loc))
        return assignments, latents

    def _priors(
        self, sections: Sections, initial: dict[str, tuple[Shape, Span]]
    ) -> dict[str, _Prior]:
        """The latent variables of `prior`. A latent's shape is declared (``z0 :: Real[L] ~
        ...``), else that of the state it starts (``z(0) = z0``), else its posterior's."""
        priors: dict[str, _Prior] = {}
        for statement in sections.statements("prior"):
            target = statement.target
            if not (isinstance(statement, nodes.Sample) and isinstance(target, nodes.Name)):
                refuse(self.env, statement, "prior", _PRIOR_FORMS)
                continue
            if self._names_param(target):
                continue
            shape, loc = initial.get(target.id, (None, target.loc))
            if statement.annotation is not None:
                shape, loc = type_shape(self.env, statement.annotation), statement.annotation.loc
                if shape is None:
                    self.env.symbols.fail(target.id)
                    continue
            definition = self.env.symbols.define(target.id, "latent", target.loc, shape)
            if definition is not None:
                priors[target.id] = _Prior(statement, shape, loc, definition)
        return priors

    def _names_param(self, target: nodes.Name) -> bool:
        """Whether a `prior` statement's left side is a declared parameter (or one whose
        declaration failed)."""
        return self.env.symbols.expected.get(target.id) == "param"

    def param_priors(self, sections: Sections) -> list[ir.ParamPrior]:
        """The priors of `prior` on declared parameters (maximum a posteriori): each drawn
        from a distribution of real values whose parameters are constants, of the
        parameter's shape; a Positive parameter's prior is on its (positive) value."""
        found: list[ir.ParamPrior] = []
        first: dict[str, Span] = {}
        ctx = Context("in the prior of a parameter", _PRIOR_SEES)
        real = tuple(name for name, d in DISTRIBUTIONS.items() if d.support in ("real", "positive"))
        for statement in sections.statements("prior"):
            target = statement.target
            if not (
                isinstance(statement, nodes.Sample)
                and isinstance(target, nodes.Name)
                and self._names_param(target)
            ):
                continue
            definition = self.env.symbols.get(target.id)
            if definition is None or definition.kind != "param":  # its declaration failed
                continue
            param: ir.Param = definition.info  # type: ignore[assignment]
            if statement.annotation is not None:
                self.reporter.error(
                    "E047",
                    f"`{param.name}` is a parameter: its prior takes the declared shape "
                    f"{show(param.shape)}",
                    statement.annotation.loc,
                    help=f"write `{param.name} ~ ...`",
                    notes=[Note(f"`{param.name}` is declared here", param.loc)],
                )
                continue
            if param.hyper is not None:
                self.reporter.error(
                    "E063",
                    f"`{param.name}` is computed by the network `{param.hyper}` from the time: "
                    "it has no prior of its own",
                    target.loc,
                    notes=[Note(f"`{param.name}` is declared here", param.loc)],
                )
                continue
            if self._again(first, target.id, statement, "prior"):
                continue
            distribution = self.distributions.check(
                statement.distribution,
                param.name,
                param.shape,
                ctx,
                variable_loc=param.loc,
                allowed=real,
            )
            if distribution is not None:
                found.append(ir.ParamPrior(param.name, distribution, statement.loc))
        return found

    def _again(
        self, first: dict[str, Span], name: str, statement: nodes.Statement, what: str
    ) -> bool:
        """Whether ``name`` already has its ``what`` (reported, E053); else records this one."""
        if name in first:
            self.reporter.error(
                "E053",
                f"`{name}` has a second {what}",
                statement.loc,
                notes=[Note("the first is here", first[name])],
            )
            return True
        first[name] = statement.loc
        return False

    def _encoder(
        self, sections: Sections, priors: dict[str, _Prior]
    ) -> tuple[list[ir.Assignment], dict[str, ir.Distribution]]:
        assignments: list[ir.Assignment] = []
        posteriors: dict[str, ir.Distribution] = {}
        first: dict[str, Span] = {}
        ctx = Context("in `encoder`", _ENCODER_SEES)
        for statement in sections.statements("encoder"):
            target = statement.target
            if isinstance(statement, nodes.Assign) and statement.annotation is None:
                assignment = self._assignment(statement, ctx)
                if assignment is not None:
                    assignments.append(assignment)
            elif isinstance(statement, nodes.Sample) and isinstance(target, nodes.Name):
                prior = priors.get(target.id)
                if prior is None:
                    self.reporter.error(
                        "E063",
                        f"`{target.id}` is not a latent variable: give it a prior first",
                        target.loc,
                        help=f"add `{target.id} ~ Normal(0, 1)` to `prior`",
                    )
                    continue
                if self._again(first, target.id, statement, "posterior"):
                    continue
                distribution = self.distributions.check(
                    statement.distribution,
                    target.id,
                    prior.shape,
                    ctx,
                    variable_loc=prior.shape_loc,
                    allowed=("Normal",),
                )
                if distribution is not None:
                    posteriors[target.id] = distribution
                    prior.definition.shape = distribution.event_shape
            else:
                refuse(
                    self.env,
                    statement,
                    "encoder",
                    "assignments `(μ, logσ²) = chunk(rec(x), 2)` and posteriors "
                    "`z0 ~ Normal(μ, σ)`",
                )
        return assignments, posteriors

    def _assignment(self, statement: nodes.Assign, ctx: Context) -> ir.Assignment | None:
        target = statement.target
        names = target.items if isinstance(target, nodes.Tuple) else (target,)
        if not all(isinstance(n, nodes.Name) for n in names):
            self.reporter.error(
                "E050",
                "the left side of an assignment in `encoder` is a name or a tuple `(a, b)`",
                target.loc,
            )
            return None
        value = self.expressions.check(statement.value, ctx, parts=len(names) > 1)
        if value is None:
            return None
        shapes = self._part_shapes(value, len(names), statement.value.loc)
        if shapes is None:
            return None
        for name, shape in zip(names, shapes, strict=True):
            self.env.symbols.define(name.id, "local", name.loc, shape)  # type: ignore[union-attr]
        return ir.Assignment(
            tuple(n.id for n in names),
            tuple(shapes),
            value,
            statement.loc,  # type: ignore[union-attr]
        )

    def _part_shapes(self, value: ir.Expr, count: int, loc: Span) -> list[Shape] | None:
        if count == 1:
            return [value.shape]  # type: ignore[list-item]
        if value.shape is not None:
            self.reporter.error(
                "E040",
                f"{count} names are assigned one value {show(value.shape)}",
                loc,
                help=f"split it with `chunk(x, {count})`",
            )
            return None
        parts = value.args[1].value  # type: ignore[attr-defined]
        if parts != count:
            self.reporter.error(
                "E040",
                f"`chunk(..., {parts})` gives {parts} parts, but {count} names are assigned",
                loc,
            )
            return None
        whole = value.args[0].shape[0]  # type: ignore[attr-defined]
        return [(None if whole is None else whole // count,)] * count

    # -- likelihood --------------------------------------------------------------------------------

    def likelihood(self, sections: Sections) -> list[ir.Observation]:
        observations: list[ir.Observation] = []
        ctx = Context("in `likelihood`", _LIKELIHOOD_SEES)
        for item in sections.body("likelihood"):
            if isinstance(item, nodes.Loop):
                observations += self._loop(item, ctx)
            elif isinstance(item, nodes.Statement):
                observation = self._observation(item, ctx, None)
                if observation is not None:
                    observations.append(observation)
        return observations

    def _loop(self, loop: nodes.Loop, ctx: Context) -> list[ir.Observation]:
        times = loop.iterable
        if isinstance(times, nodes.Name) and times.id in self.env.symbols.failed:
            return []
        definition = self.env.symbols.get(times.id) if isinstance(times, nodes.Name) else None
        info = definition.info if definition else None
        if not (isinstance(info, ir.DataVariable) and info.role == "times"):
            self.reporter.error(
                "E090",
                "a `for` loop runs over the observation times of the data, such as `ts`",
                times.loc,
                help="the times come from a series data set: `(ts, x) ~ Spirals2D()`",
            )
            return []
        if self.env.symbols.clashes(loop.var, loop.var_loc, allowed=("time",)):
            return []
        self.env.symbols.used.add(info.name)
        inner = ctx.bind(loop.var, Local("time", (), loop.var_loc))
        observations = []
        for statement in loop.body:
            if isinstance(statement, nodes.Statement):
                observation = self._observation(statement, inner, (loop.var, info.name))
                if observation is not None:
                    observations.append(observation)
        return observations

    def _observation(
        self, statement: nodes.Statement, ctx: Context, loop: tuple[str, str] | None
    ) -> ir.Observation | None:
        if not isinstance(statement, nodes.Sample) or statement.annotation is not None:
            refuse(
                self.env, statement, "likelihood", "observations `y ~ Dist(...)` and `for` loops"
            )
            return None
        target = statement.target
        base = target.base if isinstance(target, nodes.Index) else target
        definition = self.env.symbols.get(base.id) if isinstance(base, nodes.Name) else None
        if isinstance(base, nodes.Name) and base.id in self.env.symbols.failed:
            return None
        if definition is None or definition.kind != "data":
            self.reporter.error(
                "E063",
                "the left side of `~` in `likelihood` is observed data, such as `y` or `x[t]`",
                target.loc,
            )
            return None
        value = self.expressions.check(target, ctx)
        if value is None:
            return None
        variable: ir.DataVariable = definition.info  # type: ignore[assignment]
        distribution = self.distributions.check(
            statement.distribution,
            definition.name,
            value.shape,  # type: ignore[arg-type]
            ctx,
            observed=variable,
            variable_loc=definition.loc,
        )
        if distribution is None:
            return None
        time_var, times = loop if loop else (None, None)
        return ir.Observation(value, distribution, time_var, times, statement.loc)


@dataclass
class _Prior:
    statement: nodes.Sample
    shape: Shape | None
    shape_loc: Span
    definition: Definition


def _initial_shapes(sections: Sections, states: list[ir.State]) -> dict[str, tuple[Shape, Span]]:
    """For each ``state(t0) = name`` in `dynamics`: the name, the state's shape and where."""
    shapes = {state.name: state.shape for state in states}
    found: dict[str, tuple[Shape, Span]] = {}
    for statement in sections.statements("dynamics"):
        applied = applied_to_name(statement.target)
        if (
            isinstance(statement, nodes.Assign)
            and applied is not None
            and applied[0].id in shapes
            and isinstance(statement.value, nodes.Name)
        ):
            found.setdefault(statement.value.id, (shapes[applied[0].id], statement.loc))
    return found
