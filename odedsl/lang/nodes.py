"""The syntax tree of a spec: what was written, with where it was written.

Every node carries ``loc`` (a :class:`~odedsl.lang.source.Span`). Nodes are frozen and compared
by identity, so two equal-looking expressions at different places stay distinct. The checker
(``odedsl.lang.checker``) turns this tree into the checked model of ``odedsl.lang.model``.
"""

from __future__ import annotations

from dataclasses import dataclass

from odedsl.lang.source import Span


@dataclass(frozen=True, eq=False, slots=True)
class Node:
    loc: Span


# -- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, slots=True)
class Expr(Node):
    """Base of every expression."""


@dataclass(frozen=True, eq=False, slots=True)
class Number(Expr):
    """An ``int`` (``64``, ``10_000``) or ``float`` (``1e-3``, ``0.05``) literal."""

    value: int | float


@dataclass(frozen=True, eq=False, slots=True)
class String(Expr):
    """A double-quoted string, with its escapes resolved."""

    value: str


@dataclass(frozen=True, eq=False, slots=True)
class Symbol(Expr):
    """An enumeration value ``:dopri5``; ``name`` is written without the colon."""

    name: str


@dataclass(frozen=True, eq=False, slots=True)
class Name(Expr):
    id: str


@dataclass(frozen=True, eq=False, slots=True)
class Keyword(Node):
    """``name = value`` inside a call's parentheses."""

    name: str
    name_loc: Span
    value: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Generator(Expr):
    """``element for var in iterable``, the argument of ``sum(...)``."""

    element: Expr
    var: str
    var_loc: Span
    iterable: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Call(Expr):
    """``func(args..., name = value...)``; positional ``args`` keep their written order."""

    func: Expr
    args: tuple[Expr, ...]
    keywords: tuple[Keyword, ...]


@dataclass(frozen=True, eq=False, slots=True)
class Index(Expr):
    """``base[i, j]``: 1-based, a range ``a:b`` selects inclusively."""

    base: Expr
    indices: tuple[Expr, ...]


@dataclass(frozen=True, eq=False, slots=True)
class Attribute(Expr):
    """``base.name``: parsed so that it can be refused with a located message."""

    base: Expr
    name: str


@dataclass(frozen=True, eq=False, slots=True)
class Transpose(Expr):
    """``operand'``"""

    operand: Expr


@dataclass(frozen=True, eq=False, slots=True)
class BinOp(Expr):
    """``left op right`` with ``op`` one of ``+ - * / ^`` or the elementwise (broadcasting)
    ``.+ .- .* ./ .^``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Unary(Expr):
    """``-operand`` or ``+operand``."""

    op: str
    operand: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Range(Expr):
    """``start:stop``, inclusive of both ends."""

    start: Expr
    stop: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Pair(Expr):
    """``left => right``: layer sizes, as in ``MLP(1 => 32 => M)``."""

    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Tuple(Expr):
    """``(a, b, ...)``"""

    items: tuple[Expr, ...]


@dataclass(frozen=True, eq=False, slots=True)
class Array(Expr):
    """``[a, b, ...]``"""

    items: tuple[Expr, ...]


@dataclass(frozen=True, eq=False, slots=True)
class Juxtaposed(Expr):
    """``head callee(args)``, the left side of ``log p(x) = ...``."""

    head: Name
    call: Call


# -- statements and blocks -----------------------------------------------------------------


@dataclass(frozen=True, eq=False, slots=True)
class Statement(Node):
    """Base of every statement: ``target`` is the left-hand side."""

    target: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Assign(Statement):
    """``target = value`` or ``target :: annotation = value``."""

    annotation: Expr | None
    value: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Sample(Statement):
    """``target ~ distribution`` or ``target :: annotation ~ distribution``."""

    annotation: Expr | None
    distribution: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Declare(Statement):
    """``target :: annotation``"""

    annotation: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Domain(Statement):
    """``t ∈ (t0, t1)`` (or ``t in (t0, t1)``): ``target`` is the time variable."""

    interval: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Block(Node):
    """``name [begin] ... end``: a section, or a nested block such as ``eval``."""

    name: str
    name_loc: Span
    body: tuple[Statement | Block | Loop, ...]


@dataclass(frozen=True, eq=False, slots=True)
class Loop(Node):
    """``for var in iterable ... end``"""

    var: str
    var_loc: Span
    iterable: Expr
    body: tuple[Statement | Block | Loop, ...]


@dataclass(frozen=True, eq=False, slots=True)
class Model(Node):
    """``model Name ... end``"""

    name: str
    name_loc: Span
    body: tuple[Statement | Block | Loop, ...]


Item = Statement | Block | Loop
