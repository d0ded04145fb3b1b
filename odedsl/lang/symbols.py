"""The names a spec defines, across all sections: each defined once, none hiding a built-in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from odedsl.lang.builtins import (
    ACTIVATIONS,
    CONSTANTS,
    DATASETS,
    DISTRIBUTIONS,
    FUNCTIONS,
    LAYERS,
)
from odedsl.lang.diagnostics import Note, Reporter
from odedsl.lang.model import Shape
from odedsl.lang.source import Span

DefinitionKind = Literal[
    "constant", "data", "param", "network", "state", "time", "signal", "latent", "local"
]
PHRASES: dict[str, str] = {
    "constant": "a constant",
    "data": "a data variable",
    "param": "a parameter",
    "network": "a network",
    "state": "a state",
    "time": "the time variable",
    "signal": "a signal",
    "latent": "a latent variable",
    "local": "a value of `encoder`",
}
RESERVED: dict[str, str] = {
    **{name: "a built-in function" for name in FUNCTIONS},
    **{name: "an activation" for name in ACTIVATIONS},
    **{name: "a built-in number" for name in CONSTANTS},
    **{name: "a distribution" for name in DISTRIBUTIONS},
    **{name: "a layer" for name in LAYERS},
    **{name: "a data set" for name in DATASETS},
    "true": "a boolean",
    "false": "a boolean",
}


@dataclass
class Definition:
    """A defined name: what it is, where it is defined, its shape when it is a tensor, and
    ``info``: the checked declaration (a Param, a DataVariable, ...) when there is one."""

    name: str
    kind: DefinitionKind
    loc: Span
    shape: Shape | None = None
    info: object = None


class Symbols:
    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.definitions: dict[str, Definition] = {}
        self.used: set[str] = set()
        self.expected: dict[str, DefinitionKind] = {}
        """Names that later sections will define, for messages about them meanwhile."""
        self.failed: set[str] = set()
        """Names whose definition failed (and was reported): their uses stay silent."""

    def fail(self, *names: str) -> None:
        self.failed.update(n for n in names if n not in self.definitions)

    def define(
        self,
        name: str,
        kind: DefinitionKind,
        loc: Span,
        shape: Shape | None = None,
        info: object = None,
    ) -> Definition | None:
        """Define ``name``; report a clash with a built-in or an earlier definition (E031)."""
        if self.clashes(name, loc):
            return None
        definition = Definition(name, kind, loc, shape, info)
        self.definitions[name] = definition
        return definition

    def clashes(self, name: str, loc: Span, allowed: tuple[str, ...] = ()) -> bool:
        """Whether ``name`` is taken (reported as E031), other than by a kind in ``allowed``."""
        if name in RESERVED:
            self.reporter.error(
                "E031",
                f"`{name}` is {RESERVED[name]} and cannot be redefined",
                loc,
                help="choose another name",
            )
            return True
        first = self.definitions.get(name)
        if first is None or first.kind in allowed:
            return False
        self.reporter.error(
            "E031",
            f"`{name}` is already defined as {PHRASES[first.kind]}",
            loc,
            help="choose another name",
            notes=[Note("first defined here", first.loc)],
        )
        return True

    def get(self, name: str) -> Definition | None:
        return self.definitions.get(name)

    def describe(self, name: str) -> str | None:
        """``"a parameter"`` etc. for a defined name, None for an unknown one."""
        definition = self.definitions.get(name)
        if definition is not None:
            return PHRASES[definition.kind]
        expected = self.expected.get(name)
        return PHRASES[expected] if expected else None

    def of_kind(self, *kinds: str) -> list[Definition]:
        return [d for d in self.definitions.values() if d.kind in kinds]
