"""The equations of `dynamics` and `flow`: one derivative and one start per state, a flow's
base distribution and data binding, derived signals of time such as an intensity λ(t)."""

from __future__ import annotations

from dataclasses import dataclass, field

from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.declarations import StatesSection, applied_to_name, refuse
from odedsl.lang.diagnostics import Note, did_you_mean, number
from odedsl.lang.distributions import DistributionChecker
from odedsl.lang.env import Env
from odedsl.lang.expressions import Context, ExpressionChecker
from odedsl.lang.shapes import agree, show
from odedsl.lang.source import Span
from odedsl.lang.symbols import PHRASES

_DERIVATIVE_SEES = frozenset({"constant", "param", "network", "state", "time", "signal"})
_INITIAL_SEES = frozenset({"constant", "param", "network", "data", "latent"})
_SIGNAL_SEES = frozenset({"constant", "param", "network", "state", "time"})


@dataclass
class _Found:
    derivatives: dict[str, ir.Derivative] = field(default_factory=dict)
    initial: dict[str, ir.InitialCondition] = field(default_factory=dict)
    base: ir.BaseDistribution | None = None
    binding: ir.DataBinding | None = None
    signals: list[ir.Signal] = field(default_factory=list)
    first_loc: dict[tuple[str, str], Span] = field(default_factory=dict)


class DynamicsChecker:
    """Checks the statements of `dynamics` (``flow`` False) or `flow` (``flow`` True)."""

    def __init__(
        self,
        env: Env,
        expressions: ExpressionChecker,
        distributions: DistributionChecker,
        states: StatesSection,
        flow: bool,
        binding_expected: bool,
        section_loc: Span,
    ) -> None:
        self.env = env
        self.reporter = env.reporter
        self.expressions = expressions
        self.distributions = distributions
        self.states = {s.name: s for s in states.states}
        self.time_var = states.time_var
        self.flow = flow
        self.binding_expected = binding_expected
        self.section_loc = section_loc
        self.section = "flow" if flow else "dynamics"
        self.found = _Found()
        self.start: float | None = env.domain.start if env.domain else None

    def check(self, section: nodes.Block | None) -> ir.Dynamics:
        """The dynamics; a missing equation or condition is reported only when the section
        has no other error (which could be its cause)."""
        statements = [s for s in section.body if isinstance(s, nodes.Statement)] if section else []
        signals = {id(s): name for s in statements if (name := self._signal_name(s)) is not None}
        for statement in statements:
            if id(statement) in signals:
                self._signal(statement, signals[id(statement)])  # type: ignore[arg-type]
        for statement in statements:
            if id(statement) not in signals:
                self._statement(statement)
        if section is not None and not self.reporter.errors_within(section.loc):
            self._complete()
        return self._dynamics()

    # -- classification --------------------------------------------------------------------------

    def _signal_name(self, statement: nodes.Statement) -> nodes.Name | None:
        """The name a statement ``λ(t) = ...`` defines, when it is one."""
        applied = applied_to_name(statement.target)
        if (
            self.flow
            or not isinstance(statement, nodes.Assign)
            or statement.annotation is not None
            or applied is None
        ):
            return None
        name, time = applied
        if name.id in self.states or self.env.symbols.get(name.id) is not None:
            return None
        if isinstance(time, nodes.Name) and time.id == self.time_var:
            return name
        return None

    def _statement(self, statement: nodes.Statement) -> None:
        target = statement.target
        if isinstance(statement, nodes.Assign) and statement.annotation is None:
            if isinstance(target, nodes.BinOp) and target.op == "/":
                self._derivative(statement, target)
                return
            applied = applied_to_name(target)
            if applied is not None:
                self._condition(statement, *applied)
                return
            self._bad_left_side(target)
            return
        if isinstance(statement, nodes.Sample) and statement.annotation is None:
            applied = applied_to_name(target)
            if applied is not None and applied[0].id in self.env.symbols.failed:
                return
            if self.flow and applied is not None and applied[0].id in self.states:
                self._base(statement, *applied)
                return
            if not self.flow:
                self.reporter.error(
                    "E023",
                    "a distribution of a state belongs in `flow`",
                    statement.loc,
                    help="a latent ODE draws `z0 ~ Normal(0, 1)` in `prior` and sets `z(0) = z0`",
                )
                return
        expected = (
            "`dz/dt = ...`, the base `z(0) ~ Normal(...)` and the data binding `z(T) = x`"
            if self.flow
            else "`dz/dt = ...`, initial conditions `z(0) = ...` and signals `λ(t) = ...`"
        )
        refuse(self.env, statement, self.section, expected)

    def _bad_left_side(self, target: nodes.Expr) -> None:
        self.reporter.error(
            "E050",
            f"the left side of an equation in `{self.section}` is a derivative `dz/dt`"
            + (
                " or the data binding `z(T)`"
                if self.flow
                else ", a start `z(0)` or a signal `λ(t)`"
            ),
            target.loc,
        )

    # -- derivatives -------------------------------------------------------------------------------

    def _derivative(self, statement: nodes.Assign, target: nodes.BinOp) -> None:
        top, bottom = target.left, target.right
        if not (
            isinstance(top, nodes.Name)
            and isinstance(bottom, nodes.Name)
            and len(top.id) > 1
            and len(bottom.id) > 1
            and top.id.startswith("d")
            and bottom.id.startswith("d")
        ):
            self._bad_left_side(target)
            return
        state_name, by = top.id[1:], bottom.id[1:]
        state = self.states.get(state_name)
        if state is None:
            self._not_a_state(state_name, top.loc, f"the derivative `{top.id}/{bottom.id}`")
            return
        if by != self.time_var:
            self.reporter.error(
                "E051",
                f"`{top.id}/{bottom.id}` is a derivative with respect to `{by}`, but the states "
                f"evolve in `{self.time_var}`",
                bottom.loc,
                help=f"write `{top.id}/d{self.time_var}`",
            )
            return
        if self._repeated("derivative", state_name, target.loc):
            return
        ctx = Context(f"in `{top.id}/{bottom.id}`", _DERIVATIVE_SEES, self.time_var)
        rhs = self.expressions.check(statement.value, ctx)
        if rhs is None or not self._fits(
            rhs, state, statement.value.loc, f"`{top.id}/{bottom.id}`"
        ):
            return
        self.found.derivatives[state_name] = ir.Derivative(state_name, rhs, statement.loc)

    def _fits(self, value: ir.Expr, state: ir.State, loc: Span, what: str) -> bool:
        if agree(value.shape, state.shape):  # type: ignore[arg-type]
            return True
        self.reporter.error(
            "E040",
            f"{what} is {show(value.shape)}, but `{state.name}` is {show(state.shape)}",
            loc,
            notes=[Note(f"`{state.name}` is declared {show(state.shape)} here", state.loc)],
        )
        return False

    def _not_a_state(self, name: str, loc: Span, what: str) -> None:
        if name in self.env.symbols.failed:
            return
        other = self.env.symbols.describe(name)
        self.reporter.error(
            "E052",
            f"{what} needs a state `{name}`, but `{name}` is "
            + (f"{other}" if other else "not declared"),
            loc,
            help=did_you_mean(name, self.states) or "declare states in `states`: `z(t) :: Real[D]`",
        )

    def _repeated(self, what: str, state: str, loc: Span) -> bool:
        first = self.found.first_loc.get((what, state))
        if first is not None:
            self.reporter.error(
                "E053",
                f"`{state}` has a second {what}",
                loc,
                help="each state has exactly one",
                notes=[Note("the first is here", first)],
            )
            return True
        self.found.first_loc[(what, state)] = loc
        return False

    # -- conditions at a time ----------------------------------------------------------------------

    def _condition(self, statement: nodes.Assign, name: nodes.Name, time: nodes.Expr) -> None:
        state = self.states.get(name.id)
        if state is None:
            definition = self.env.symbols.get(name.id)
            if definition is not None and definition.kind != "state":
                self.reporter.error(
                    "E050",
                    f"`{name.id}` is {PHRASES[definition.kind]}: the left side of an equation "
                    f"in `{self.section}` is a state's derivative or value",
                    name.loc,
                )
            else:
                self._not_a_state(name.id, name.loc, f"the condition `{name.id}(...)`")
            return
        if isinstance(time, nodes.Name) and time.id == self.time_var:
            self.reporter.error(
                "E050",
                f"`{name.id}({time.id}) = ...` would set the state at every time",
                statement.target.loc,
                help=f"write its dynamics `d{name.id}/d{time.id} = ...` and its start "
                f"`{name.id}(0) = ...`",
            )
            return
        value = self.env.constants.fold(time, "the time of a condition")
        if value is None:
            return
        if self.flow:
            self._binding(statement, state, value, time.loc)
        else:
            self._initial(statement, state, value, time.loc)

    def _initial(self, statement: nodes.Assign, state: ir.State, time: float, loc: Span) -> None:
        if not self._at_start(time, loc, state.name):
            return
        if self._repeated("initial condition", state.name, statement.loc):
            return
        ctx = Context(f"in the initial condition of `{state.name}`", _INITIAL_SEES)
        value = self.expressions.check(statement.value, ctx)
        what = f"the initial value of `{state.name}`"
        if value is None or not self._fits(value, state, statement.value.loc, what):
            return
        self.found.initial[state.name] = ir.InitialCondition(
            state.name, float(time), value, statement.loc
        )

    def _at_start(self, time: float, loc: Span, state: str) -> bool:
        if self.start is None:
            self.start = float(time)
        if time == self.start:
            return True
        domain = self.env.domain
        self.reporter.error(
            "E056",
            f"`{state}` starts at {number(time)}, but the time domain starts at "
            f"{number(self.start)}",
            loc,
            notes=[Note("the time domain is set here", domain.loc)]
            if domain and domain.loc
            else [],
        )
        return False

    def _base(self, statement: nodes.Sample, name: nodes.Name, time: nodes.Expr) -> None:
        state = self.states[name.id]
        value = self.env.constants.fold(time, "the time of the base distribution")
        if value is None or not self._at_start(value, time.loc, state.name):
            return
        if self._repeated("base distribution", state.name, statement.loc):
            return
        ctx = Context("in a base distribution", frozenset({"constant"}))
        distribution = self.distributions.check(
            statement.distribution,
            state.name,
            state.shape,
            ctx,
            variable_loc=state.loc,
            allowed=("Normal",),
        )
        if distribution is not None:
            self.found.base = ir.BaseDistribution(
                state.name, float(value), distribution, statement.loc
            )

    def _binding(self, statement: nodes.Assign, state: ir.State, time: float, loc: Span) -> None:
        domain = self.env.domain
        if domain is not None and time != domain.end:
            what = "the base distribution `z(0) ~ ...`" if time == domain.start else None
            self.reporter.error(
                "E056",
                f"a flow binds its data at the end of the time domain, {number(domain.end)}, "
                f"not at {number(time)}",
                loc,
                help=f"the start of a flow is {what}" if what else None,
                notes=[Note("the time domain is set here", domain.loc)] if domain.loc else [],
            )
            return
        if self._repeated("data binding", state.name, statement.loc):
            return
        value = statement.value
        if isinstance(value, nodes.Name) and value.id in self.env.symbols.failed:
            return
        definition = self.env.symbols.get(value.id) if isinstance(value, nodes.Name) else None
        if definition is None or definition.kind != "data":
            self.reporter.error(
                "E058",
                f"a flow binds data: `{state.name}({number(time)}) = x` with `x` from `data`",
                value.loc,
            )
            return
        self.env.symbols.used.add(definition.name)
        variable: ir.DataVariable = definition.info  # type: ignore[assignment]
        if not agree(variable.shape, state.shape) or variable.role != "sample":
            self.reporter.error(
                "E040",
                f"`{variable.name}` is {show(variable.shape)}, but the flow's state "
                f"`{state.name}` is {show(state.shape)}",
                value.loc,
                notes=[
                    Note(f"`{state.name}` is declared here", state.loc),
                    Note(f"`{variable.name}` is bound here", definition.loc),
                ],
            )
            return
        self.found.binding = ir.DataBinding(state.name, float(time), variable.name, statement.loc)

    # -- signals -----------------------------------------------------------------------------------

    def _signal(self, statement: nodes.Assign, name: nodes.Name) -> None:
        definition = self.env.symbols.define(name.id, "signal", name.loc)
        if definition is None:
            return
        ctx = Context(f"in the signal `{name.id}`", _SIGNAL_SEES, self.time_var)
        rhs = self.expressions.check(statement.value, ctx)
        if rhs is None:
            self.env.symbols.failed.add(name.id)
            return
        definition.shape = rhs.shape
        self.found.signals.append(ir.Signal(name.id, rhs, statement.loc))

    # -- completeness ------------------------------------------------------------------------------

    def _complete(self) -> None:
        found = self.found
        states = list(self.states.values())
        if self.flow and len(states) > 1:
            self.reporter.error(
                "E058",
                "a flow transforms one state, but there are several",
                states[1].loc,
                notes=[Note("the flow's state is declared here", states[0].loc)],
            )
        for state in states[: 1 if self.flow else None]:
            if state.name not in found.derivatives and ("derivative", state.name) not in (
                found.first_loc
            ):
                self.reporter.error(
                    "E054",
                    f"state `{state.name}` has no equation `d{state.name}/d{self.time_var} = ...`",
                    state.loc,
                    help=f"add it to `{self.section}`",
                )
            started = (
                ("base distribution", state.name) in found.first_loc
                if self.flow
                else ("initial condition", state.name) in found.first_loc
            )
            if not started:
                example = (
                    f"`{state.name}(0) ~ Normal(0, I(D))`"
                    if self.flow
                    else f"`{state.name}(0) = ...`"
                )
                what = "base distribution" if self.flow else "initial condition"
                self.reporter.error(
                    "E055",
                    f"state `{state.name}` has no {what} {example}",
                    state.loc,
                    help=f"add it to `{self.section}`",
                )
        if (
            self.flow
            and self.binding_expected
            and found.binding is None
            and not any(what == "data binding" for what, _ in found.first_loc)
        ):
            self.reporter.error(
                "E058",
                "the flow learns from data but never binds them: add `z(T) = x`",
                self.section_loc,
                help="the data are the state at the end of the flow",
            )

    def _dynamics(self) -> ir.Dynamics:
        found = self.found
        domain = self.env.domain or ir.TimeDomain(
            self.time_var or "t", self.start if self.start is not None else 0.0, None, None
        )
        return ir.Dynamics(
            domain,
            tuple(found.derivatives.values()),
            tuple(found.initial.values()),
            found.base,
            found.binding,
            tuple(found.signals),
        )
