"""Discrete normalizing flows: a `flow` section without an ODE.

Its two statements are a base sample and its transformation by a flow network::

    networks
        f = PlanarFlow(D, depth = K)
    end
    flow
        z ~ Normal(0, I(D))
        x = f(z)
    end

A spec is a discrete flow when its `flow` has no derivative `dz/dt = ...` and there is no
`states` section (:func:`is_discrete_flow`). Such a flow has no closed-form inverse, so it only
matches a `target` density; the base sample's shape is the flow network's dimension.
"""

from __future__ import annotations

from typing import TypeVar

from odedsl.lang import model as ir
from odedsl.lang import nodes
from odedsl.lang.declarations import applied_to_name, refuse
from odedsl.lang.diagnostics import Note, did_you_mean
from odedsl.lang.distributions import DistributionChecker
from odedsl.lang.env import Env
from odedsl.lang.expressions import Context
from odedsl.lang.sections import Sections

Found = TypeVar("Found", nodes.Sample, nodes.Assign)
_EXPECTED = "the base sample `z ~ Normal(0, I(D))` and its transformation `x = f(z)`"


def is_discrete_flow(sections: Sections) -> bool:
    """Whether the spec's `flow` is discrete: no `states`, and no derivative in `flow`."""
    if "flow" not in sections or "states" in sections:
        return False
    return not any(
        isinstance(s, nodes.Assign) and isinstance(s.target, nodes.BinOp) and s.target.op == "/"
        for s in sections.statements("flow")
    )


class DiscreteFlowChecker:
    """Checks a discrete `flow` section (see the module docstring)."""

    def __init__(self, env: Env, distributions: DistributionChecker) -> None:
        self.env = env
        self.reporter = env.reporter
        self.distributions = distributions

    def check(self, section: nodes.Block) -> ir.DiscreteFlow | None:
        """The discrete flow, or None after reporting what is wrong with it."""
        base: nodes.Sample | None = None
        transformation: nodes.Assign | None = None
        for statement in section.body:
            if not isinstance(statement, nodes.Statement):
                continue
            if isinstance(statement, nodes.Sample) and statement.annotation is None:
                base = self._once(base, statement, "base sample")
            elif isinstance(statement, nodes.Assign) and statement.annotation is None:
                transformation = self._once(transformation, statement, "transformation")
            else:
                refuse(self.env, statement, "flow", _EXPECTED)
        if self.reporter.errors_within(section.loc):
            return None
        if base is None or transformation is None:
            missing = "base sample `z ~ Normal(0, I(D))`" if base is None else "transformation"
            self.reporter.error(
                "E058",
                f"a discrete flow needs its {missing}",
                section.name_loc,
                help=f"`flow` holds {_EXPECTED}, with `f = PlanarFlow(D, depth = K)` in `networks`",
            )
            return None
        return self._flow(base, transformation)

    def _once(self, first: Found | None, statement: Found, what: str) -> Found:
        if first is not None:
            self.reporter.error(
                "E053",
                f"a second {what} in a discrete flow",
                statement.loc,
                notes=[Note("the first is here", first.loc)],
            )
            return first
        return statement

    def _flow(self, base: nodes.Sample, transformation: nodes.Assign) -> ir.DiscreteFlow | None:
        base_name = self._name(base.target, "the base sample is a name, as in `z ~ Normal(...)`")
        result = self._name(transformation.target, "the flow's result is a name: `x = f(z)`")
        network = self._network(transformation.value, base_name)
        if base_name is None or result is None or network is None:
            return None
        shape = self.env.networks.apply_flow(network.id)
        ctx = Context("in a base distribution", frozenset({"constant"}))
        distribution = self.distributions.check(
            base.distribution,
            base_name.id,
            shape,
            ctx,
            variable_loc=base_name.loc,
            allowed=("Normal",),
        )
        if distribution is None:
            return None
        return ir.DiscreteFlow(
            base_name.id, distribution, result.id, network.id, shape, transformation.loc
        )

    def _name(self, target: nodes.Expr, message: str) -> nodes.Name | None:
        if not isinstance(target, nodes.Name):
            self.reporter.error("E050", message, target.loc)
            return None
        if self.env.symbols.clashes(target.id, target.loc):
            return None
        return target

    def _network(self, value: nodes.Expr, base: nodes.Name | None) -> nodes.Name | None:
        """The flow network ``f`` of ``x = f(z)``, after checking the call's form."""
        applied = applied_to_name(value)
        if applied is None:
            self.reporter.error(
                "E058",
                "a discrete flow's transformation applies one flow network to the base "
                "sample: `x = f(z)`",
                value.loc,
            )
            return None
        network, argument = applied
        definition = self.env.symbols.get(network.id)
        if network.id not in self.env.networks:
            failed = definition is not None and definition.kind == "network"  # and reported
            if not failed and network.id not in self.env.symbols.failed:
                self._not_a_flow(network, "is not a network")
            return None
        self.env.symbols.used.add(network.id)
        if not self.env.networks.is_flow(network.id):
            self._not_a_flow(network, "is not a discrete flow")
            return None
        if base is not None and not (isinstance(argument, nodes.Name) and argument.id == base.id):
            self.reporter.error(
                "E058",
                f"`{network.id}` transforms the base sample `{base.id}`",
                argument.loc,
                help=f"write `... = {network.id}({base.id})`",
            )
            return None
        return network

    def _not_a_flow(self, network: nodes.Name, what: str) -> None:
        definition = self.env.symbols.get(network.id)
        if definition is None:
            networks = [d.name for d in self.env.symbols.of_kind("network")]
            self.reporter.error(
                "E030",
                f"unknown name `{network.id}`",
                network.loc,
                help=did_you_mean(network.id, networks)
                or "define the flow in `networks` as `f = PlanarFlow(D, depth = K)`",
            )
            return
        notes = [Note(f"`{network.id}` is defined here", definition.loc)]
        self.reporter.error(
            "E058",
            f"`{network.id}` {what}: a discrete flow applies a flow layer",
            network.loc,
            help="define it in `networks` as `f = PlanarFlow(D, depth = K)`",
            notes=notes,
        )


def placeholder_dynamics() -> ir.Dynamics:
    """The empty dynamics of a model without an ODE."""
    return ir.Dynamics(ir.TimeDomain("t", 0.0, None, None), (), (), None, None, ())
