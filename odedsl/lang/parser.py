"""Parsing a spec: the LALR parser of ``grammar/odedsl.lark``, recovery from syntax errors at
statement granularity, and the conversion of Lark's tree into :mod:`odedsl.lang.nodes`.

After a syntax error the parser drops the rest of the statement and goes on (one pass, so the
time stays linear in the size of the file), so every independent syntax error of a file is
reported in one run; the syntax tree is returned only when there was none.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Tree, v_args
from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.visitors import Transformer_NonRecursive

from odedsl.lang import nodes
from odedsl.lang.diagnostics import Note, Reporter, one_of
from odedsl.lang.lexer import TokenStream, continues, tokenize
from odedsl.lang.nesting import MAX_NESTING, too_deep
from odedsl.lang.source import MAX_SPEC_BYTES, Source, Span, too_large


def _grammar_path() -> Path:
    """The grammar file: ``grammar/`` beside the package in a checkout or editable install,
    the data package ``odedsl.grammar`` inside an installed wheel."""
    checkout = Path(__file__).resolve().parents[2] / "grammar" / "odedsl.lark"
    if checkout.is_file():
        return checkout
    return Path(str(resources.files("odedsl.grammar").joinpath("odedsl.lark")))


GRAMMAR_PATH = _grammar_path()
MAX_SYNTAX_ERRORS = 20

_EXPRESSION_STARTS = frozenset({"NAME", "INT", "FLOAT", "STRING", "SYMBOL", "LPAR", "LSQB"})
_STATEMENT_OPERATORS = frozenset({"EQUAL", "TILDE"})
_OPERATORS = frozenset(
    {
        "+",
        "-",
        "*",
        "/",
        "^",
        ".+",
        ".-",
        ".*",
        "./",
        ".^",
        "'",
        "(",
        "[",
        ".",
        ":",
        "=>",
        ")",
        "]",
        ",",
    }
)


@cache
def lark_parser() -> Lark:
    """The LALR parser of the grammar (its tables cached on disk by Lark between runs)."""
    return Lark.open(
        str(GRAMMAR_PATH),
        parser="lalr",
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,
    )


def parse(source: Source, reporter: Reporter) -> nodes.Model | None:
    """The syntax tree of ``source``, or None after reporting every syntax error found."""
    before = len(reporter.diagnostics)
    if len(source.text) > MAX_SPEC_BYTES:
        reporter.error("E004", too_large(len(source.text.encode("utf-8"))), Span(0, 0, 0, 0))
        return None
    stream = tokenize(source.text, reporter)
    if not stream.complete:
        return None
    if not any(token.type != "_NL" for token in stream.tokens):
        if not reporter.errors_since(before):
            reporter.error(
                "E005",
                "the spec is empty: expected `model Name ... end`",
                Span(1, 1, 1, 1),
            )
        return None
    tree = _parse_recovering(stream, source, reporter)
    if tree is None or reporter.errors_since(before):
        return None
    model = _ToNodes(reporter).transform(tree)
    for expr, depth in too_deep(model):
        reporter.error(
            "E017",
            f"this expression is nested {depth} levels deep; odedsl checks and compiles "
            f"expressions up to {MAX_NESTING} levels",
            expr.loc,
            help="split it into smaller definitions: name its parts in `constants`, or as "
            "`name = ...` in its section",
        )
    return None if reporter.errors_since(before) else model


def _parse_recovering(stream: TokenStream, source: Source, reporter: Reporter) -> Tree | None:
    """Parse in one pass; after a syntax error, drop the rest of the statement and go on
    (see :func:`_recover`), up to :data:`MAX_SYNTAX_ERRORS` errors."""
    tokens = stream.tokens
    parser = lark_parser().parse_interactive()
    index, errors = 0, 0
    while index < len(tokens):
        token = tokens[index]
        try:
            parser.feed_token(token)
            index += 1
            continue
        except UnexpectedToken as error:
            expected = set(error.expected)
        if "$END" in expected:
            _report_after_model(tokens, index, reporter)
            return None
        if id(token) not in stream.reported:
            _report_unexpected(tokens, index, expected, reporter)
        errors += 1
        next_index = _recover(parser, tokens, index) if errors < MAX_SYNTAX_ERRORS else None
        if next_index is None:
            return None
        index = next_index
    try:
        tree = parser.feed_eof(tokens[-1])
    except UnexpectedToken:
        _report_unclosed_block(tokens, source, reporter)
        return None
    return tree if errors == 0 else None


# -- recovery ---------------------------------------------------------------------------------


def _line_bounds(tokens: list[Token], index: int) -> tuple[int, int]:
    """The index of the first token of the line holding ``index`` and of its newline (or the
    length of ``tokens`` when the line is the last)."""
    start = index
    while start > 0 and tokens[start - 1].type != "_NL":
        start -= 1
    end = index
    while end < len(tokens) and tokens[end].type != "_NL":
        end += 1
    return start, end


def _recover(parser: InteractiveParser, tokens: list[Token], index: int) -> int | None:
    """Put ``parser`` back where the erroneous line began and return the index of the first
    token after that line (None when parsing cannot go on).

    The parser's stacks are popped down to a state between statements (one that could take
    ``end``); completed statements before it stay as they are. A broken block header
    (``model``, ``for``, ``name begin``) is replaced by a well-formed one, so that the block's
    ``end`` still closes it.
    """
    start, end = _line_bounds(tokens, index)
    state = parser.parser_state
    first = tokens[start]
    rebuilds_model = first.type == "MODEL" and index > start
    while len(state.state_stack) > 1 and (rebuilds_model or "END" not in parser.choices()):
        state.state_stack.pop()
        state.value_stack.pop()
    try:
        for token in _header(tokens, start, index):
            parser.feed_token(token)
    except UnexpectedToken:
        return None
    return end + 1


def _header(tokens: list[Token], start: int, index: int) -> list[Token]:
    """Well-formed tokens for the block header on the line at ``start`` (broken at
    ``index``), or none when that line is not a block header."""
    first = tokens[start]
    if index == start:
        return []
    if first.type == "MODEL":
        header = [first, _fake("NAME", "_", first)]
    elif first.type == "FOR":
        header = [first, _fake("NAME", "_", first), _fake("IN", "in", first)]
        header.append(_fake("NAME", "_", first))
    elif first.type == "NAME" and tokens[start + 1].type == "BEGIN":
        header = [first]
    else:
        return []
    return [*header, _fake("_NL", "\n", first)]


def _fake(kind: str, value: str, at: Token) -> Token:
    return Token.new_borrow_pos(kind, value, at)


# -- messages ---------------------------------------------------------------------------------


def _report_unexpected(
    tokens: list[Token], index: int, expected: set[str], reporter: Reporter
) -> None:
    token = tokens[index]
    start, _ = _line_bounds(tokens, index)
    if token.type == "_NL" and expected >= _STATEMENT_OPERATORS and index > start:
        reporter.error(
            "E012",
            "this line is not a statement: expected `=`, `~`, `::` or `∈` after it",
            Span.of(tokens[start]).to(Span.of(tokens[index - 1])),
            help="write an equation `a = b`, a sample `x ~ Dist(...)` or a declaration "
            "`x :: Real[D]`",
        )
        return
    help = _continued_line(tokens, index, start)
    if token.type == "EQUAL" and index > 0 and tokens[index - 1].type == "EQUAL":
        help = "odedsl has no `==`; an equation uses a single `=`"
    elif token.type == "END" and index == start:
        help = "is an earlier statement of this block unfinished?"
    reporter.error(
        "E012",
        f"unexpected {_describe(token)}; expected {_describe_expected(expected)}",
        _token_span(token),
        help=help,
    )


def _continued_line(tokens: list[Token], index: int, start: int) -> str | None:
    """A hint when the error's line only belongs to this statement because the line before
    it ends with an operator."""
    first = index
    while first > start and tokens[first - 1].line == tokens[index].line:
        first -= 1
    if first > start and tokens[first - 1].line < tokens[index].line:
        operator = tokens[first - 1].value
        if continues(tokens[first - 1]):
            return (
                f"line {tokens[first - 1].line} ends with `{operator}`, so this line continues it"
            )
    return None


def _token_span(token: Token) -> Span:
    if token.type == "_NL":
        return Span(token.line, token.column, token.line, token.column + 1)
    return Span.of(token)


def _describe(token: Token) -> str:
    kind = token.type
    if kind == "_NL":
        return "end of line"
    if kind == "NAME":
        return f"name `{token.value}`"
    if kind in ("INT", "FLOAT"):
        return f"number `{token.value}`"
    if kind == "STRING":
        return "string"
    if kind == "SYMBOL":
        return f"symbol `:{token.value}`"
    return f"`{token.value}`"


def _describe_expected(expected: set[str]) -> str:
    names = lark_parser().get_terminal
    phrases: list[str] = []
    if _EXPRESSION_STARTS & expected and "NAME" in expected and "INT" in expected:
        phrases.append("an expression")
        expected = expected - _EXPRESSION_STARTS - {"MINUS", "PLUS"}
    operators = (
        {kind for kind in expected if names(kind).pattern.value in _OPERATORS}
        if (expected - {"_NL", "$END"})
        else set()
    )
    if len(operators) >= 3:
        phrases.append("an operator")
        expected = expected - operators
        if "_NL" in expected:  # after a complete expression: the rest is noise of LALR states
            expected = {"_NL"}
    for kind in sorted(expected):
        if kind == "_NL":
            phrases.append("end of line")
        elif kind == "$END":
            phrases.append("end of file")
        elif kind == "NAME":
            phrases.append("a name")
        elif kind in ("INT", "FLOAT"):
            phrases.append("a number")
        elif kind in ("STRING", "SYMBOL"):
            phrases.append("a string" if kind == "STRING" else "a symbol")
        else:
            phrases.append(f"`{names(kind).pattern.value}`")
    phrases = sorted(dict.fromkeys(phrases), key=lambda p: (not p.startswith("a"), p))
    if len(phrases) > 6:
        phrases = [*phrases[:5], "..."]
    return ", ".join(phrases[:-1]) + (" or " if len(phrases) > 1 else "") + phrases[-1]


def _report_after_model(tokens: list[Token], index: int, reporter: Reporter) -> None:
    closing = next((t for t in reversed(tokens[:index]) if t.type == "END"), None)
    notes = [Note("the model ends at this `end`", Span.of(closing))] if closing else []
    reporter.error(
        "E016",
        f"unexpected {_describe(tokens[index])} after the end of the model",
        _token_span(tokens[index]),
        help="a file holds one `model ... end`; is there one `end` too many above?",
        notes=notes,
    )


def _report_unclosed_block(tokens: list[Token], source: Source, reporter: Reporter) -> None:
    opener = _unclosed_opener(tokens)
    if opener is None:
        reporter.error(
            "E012",
            "unexpected end of file",
            source.end,
            help="the model is incomplete: it ends with `end`",
        )
        return
    first, what = opener
    reporter.error(
        "E015",
        f"{what} is never closed",
        Span.of(first),
        help="add `end` after its last statement",
    )


def _unclosed_opener(tokens: list[Token]) -> tuple[Token, str] | None:
    """The block most likely missing its ``end``: one whose ``end`` (by counting) sits at the
    indentation of an enclosing block, else the innermost block still open at the end."""
    stack: list[tuple[Token, str]] = []
    suspect: tuple[Token, str] | None = None
    for line in _lines(tokens):
        first = line[0]
        if first.type == "MODEL":
            name = line[1].value if len(line) > 1 and line[1].type == "NAME" else ""
            stack.append((first, f"`model {name}`".replace(" `", "`")))
        elif first.type == "FOR":
            stack.append((first, "the `for` loop"))
        elif first.type == "NAME" and (len(line) == 1 or line[1].type == "BEGIN"):
            stack.append((first, f"the `{first.value}` block"))
        elif first.type == "END" and stack:
            outer = [opener for opener, _ in stack[:-1]]
            if stack[-1][0].column != first.column and any(o.column == first.column for o in outer):
                suspect = suspect or stack[-1]
                while stack[-1][0].column != first.column:
                    stack.pop()
            stack.pop()
    if suspect is not None:
        return suspect
    return stack[-1] if stack else None


def _lines(tokens: list[Token]) -> list[list[Token]]:
    lines: list[list[Token]] = [[]]
    for token in tokens:
        if token.type == "_NL":
            lines.append([])
        else:
            lines[-1].append(token)
    return [line for line in lines if line]


# -- Lark tree to nodes -------------------------------------------------------------------------


def _loc(meta: object) -> Span:
    return Span.of(meta)


ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
"""The escapes a string may hold: `\\n`, `\\t`, `\\"` and `\\\\`."""


def _unescape(token: Token, reporter: Reporter) -> str:
    """The text of a STRING token, its escapes resolved; an unknown escape is reported (E018)
    at its backslash, never read as the character after it."""
    body = token.value[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            escape = body[index + 1]
            if escape not in ESCAPES:
                column = token.column + 1 + index
                shown = escape if escape.isprintable() else f"U+{ord(escape):04X}"
                reporter.error(
                    "E018",
                    f"unknown escape `\\{shown}` in a string",
                    Span(token.line, column, token.line, column + 2),
                    help="the escapes are "
                    + one_of(["\\" + e for e in ESCAPES])
                    + "; write a backslash as `\\\\`, and `/` between the folders of a path",
                )
            out.append(ESCAPES.get(escape, escape))
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


@v_args(meta=True)
class _ToNodes(Transformer_NonRecursive):
    """Lark's parse tree to :mod:`odedsl.lang.nodes` (iteratively: no recursion limit)."""

    def __init__(self, reporter: Reporter) -> None:
        super().__init__()
        self.reporter = reporter

    def start(self, meta, children):
        return children[0]

    def model(self, meta, children):
        name, body = children
        return nodes.Model(_loc(meta), name.value, Span.of(name), body)

    def body(self, meta, children):
        return tuple(children)

    def block(self, meta, children):
        name, body = children
        return nodes.Block(_loc(meta), name.value, Span.of(name), body)

    def loop(self, meta, children):
        var, iterable, body = children
        return nodes.Loop(_loc(meta), var.value, Span.of(var), iterable, body)

    def assign(self, meta, children):
        return nodes.Assign(_loc(meta), children[0], None, children[1])

    def sample(self, meta, children):
        return nodes.Sample(_loc(meta), children[0], None, children[1])

    def declare(self, meta, children):
        return nodes.Declare(_loc(meta), children[0], children[1])

    def declare_assign(self, meta, children):
        return nodes.Assign(_loc(meta), *children)

    def declare_sample(self, meta, children):
        return nodes.Sample(_loc(meta), *children)

    def domain(self, meta, children):
        return nodes.Domain(_loc(meta), children[0], children[1])

    def juxtapose(self, meta, children):
        head, callee, *rest = children
        args, keywords = self._split(rest[0] if rest else [])
        call_loc = Span.of(callee).to(_loc(meta))
        call = nodes.Call(call_loc, nodes.Name(Span.of(callee), callee.value), args, keywords)
        return nodes.Juxtaposed(_loc(meta), nodes.Name(Span.of(head), head.value), call)

    def pair(self, meta, children):
        return nodes.Pair(_loc(meta), children[0], children[1])

    def range(self, meta, children):
        return nodes.Range(_loc(meta), children[0], children[1])

    def _binary(op: str):
        def method(self, meta, children):
            return nodes.BinOp(_loc(meta), op, children[0], children[1])

        return method

    add = _binary("+")
    sub = _binary("-")
    mul = _binary("*")
    div = _binary("/")
    pow = _binary("^")
    dot_add = _binary(".+")
    dot_sub = _binary(".-")
    dot_mul = _binary(".*")
    dot_div = _binary("./")
    dot_pow = _binary(".^")

    def neg(self, meta, children):
        return nodes.Unary(_loc(meta), "-", children[0])

    def pos(self, meta, children):
        return nodes.Unary(_loc(meta), "+", children[0])

    def call(self, meta, children):
        func, *rest = children
        args, keywords = self._split(rest[0] if rest else [])
        return nodes.Call(_loc(meta), func, args, keywords)

    def index(self, meta, children):
        base, arguments = children
        args, keywords = self._split(arguments)
        for keyword in keywords:
            self.reporter.error(
                "E012",
                "an index takes positions, not `name = value`",
                keyword.loc,
                help=f"write `[{keyword.name}]` or call a function with `(...)`",
            )
        return nodes.Index(_loc(meta), base, args)

    def transpose(self, meta, children):
        return nodes.Transpose(_loc(meta), children[0])

    def attribute(self, meta, children):
        return nodes.Attribute(_loc(meta), children[0], children[1].value)

    def int(self, meta, children):
        return nodes.Number(_loc(meta), int(children[0].replace("_", "")))

    def float(self, meta, children):
        value = float(children[0].replace("_", ""))
        if not math.isfinite(value):
            self.reporter.error("E012", f"number `{children[0]}` is out of range", _loc(meta))
        return nodes.Number(_loc(meta), value)

    def string(self, meta, children):
        return nodes.String(_loc(meta), _unescape(children[0], self.reporter))

    def symbol(self, meta, children):
        return nodes.Symbol(_loc(meta), children[0].value)

    def name(self, meta, children):
        return nodes.Name(_loc(meta), children[0].value)

    def tuple(self, meta, children):
        return nodes.Tuple(_loc(meta), tuple(children))

    def array(self, meta, children):
        return nodes.Array(_loc(meta), tuple(children))

    def arguments(self, meta, children):
        return list(children)

    def keyword(self, meta, children):
        name, value = children
        return nodes.Keyword(_loc(meta), name.value, Span.of(name), value)

    def generator(self, meta, children):
        element, var, iterable = children
        return nodes.Generator(_loc(meta), element, var.value, Span.of(var), iterable)

    @staticmethod
    def _split(arguments: list) -> tuple[tuple[nodes.Expr, ...], tuple[nodes.Keyword, ...]]:
        args = tuple(a for a in arguments if not isinstance(a, nodes.Keyword))
        keywords = tuple(a for a in arguments if isinstance(a, nodes.Keyword))
        return args, keywords
