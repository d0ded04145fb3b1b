"""Tokens of a spec: Lark's lexer made resumable, then the line structure the grammar expects.

``tokenize`` reports bad characters and unterminated strings and goes on after them, then
prepares the stream for the LALR parser (see the header of ``grammar/odedsl.lark``): newlines
inside brackets or after a binary operator are dropped, brackets are matched (an unclosed one
is reported where it opened), and ``:name`` after a space or an opening token becomes a SYMBOL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lark import Token
from lark.exceptions import UnexpectedCharacters
from lark.lexer import BasicLexer, LexerState, TextSlice

from odedsl.lang.diagnostics import Note, Reporter
from odedsl.lang.source import Span

MAX_LEXICAL_ERRORS = 20
"""After this many bad characters the text is not a spec: lexing stops."""
MAX_UNCLOSED = 3

_OPENERS = {"(": ")", "[": "]"}
_CLOSERS = {")": "(", "]": "["}
_CONTINUES = frozenset(
    {"=", "~", "::", "=>", ":", "+", "-", "*", "/", "^", ".+", ".-", ".*", "./", ".^", ","}
    | {"in", "∈", "."}
)
_ENDS_VALUE = frozenset({"NAME", "INT", "FLOAT", "STRING", "SYMBOL", "RPAR", "RSQB", "QUOTE"})

_CHARACTER_HELP = {
    ";": "statements end at the end of a line; remove the `;`",
    "{": "use `(` or `[` for grouping",
    "}": "use `)` or `]` for grouping",
    "−": "use the ASCII minus `-`",
    "×": "use `*` for multiplication",
    "·": "use `*` for multiplication",
    "÷": "use `/` for division",
    "∑": "write sums as `sum(expr for n in 1:N)`",
    "Σ": "write sums as `sum(expr for n in 1:N)`",
    "∂": "write derivatives as `dz/dt = ...`",
    "√": "use `sqrt(x)`",
    "'": "strings use double quotes; `'` is the transpose",
    "`": "names are written without backquotes",
    "<": "odedsl has no comparison operators",
    ">": "odedsl has no comparison operators",
    "!": "odedsl has no logical operators",
    "&": "odedsl has no logical operators",
    "|": "odedsl has no logical operators",
    "$": "odedsl has no interpolation; write the name itself",
    "@": "odedsl has no macros or decorators",
}


class TooManyErrors(Exception):
    """More than :data:`MAX_LEXICAL_ERRORS` characters start no token: this is not a spec."""


@dataclass
class TokenStream:
    """Tokens ready for the parser. ``reported`` holds the ids of tokens whose problem was
    already reported (a stray bracket, a newline added to end an unclosed statement), so that
    the parser does not report it a second time."""

    tokens: list[Token]
    reported: set[int] = field(default_factory=set)
    complete: bool = True


def lex(
    text: str, reporter: Reporter | None = None, broken_lines: set[int] | None = None
) -> list[Token]:
    """The raw tokens of ``text`` (comments and spaces dropped, newlines kept), skipping and
    reporting characters that start no token; lines cut short by an unterminated string are
    added to ``broken_lines``."""
    lexer = _basic_lexer()
    state = LexerState(TextSlice(text, 0, len(text)))
    tokens: list[Token] = []
    errors = 0
    while True:
        try:
            tokens.extend(lexer.lex(state, None))
            return tokens
        except UnexpectedCharacters as error:
            position = error.pos_in_stream
            skipped = _skip_length(text, position)
            if text[position] == '"' and broken_lines is not None:
                broken_lines.add(error.line)
            errors += 1
            if errors > MAX_LEXICAL_ERRORS:
                raise TooManyErrors from None
            if reporter is not None:
                _report_character(reporter, text, position, skipped, error.line, error.column)
            state.line_ctr.feed(text[position : position + skipped])


def tokenize(text: str, reporter: Reporter) -> TokenStream:
    """Lex ``text`` and prepare the tokens for the parser."""
    broken_lines: set[int] = set()
    try:
        raw = lex(text, reporter, broken_lines)
    except TooManyErrors:
        return TokenStream([], complete=False)
    return _prepare(raw, reporter, broken_lines)


def _basic_lexer() -> BasicLexer:
    from odedsl.lang.parser import lark_parser

    return BasicLexer(lark_parser().lexer_conf)


def _skip_length(text: str, position: int) -> int:
    """Characters to skip after a lexical error: the rest of the line for an unterminated
    string, else one character."""
    if text[position] == '"':
        newline = text.find("\n", position)
        return (newline if newline >= 0 else len(text)) - position
    return 1


def _report_character(
    reporter: Reporter, text: str, position: int, length: int, line: int, column: int
) -> None:
    char = text[position]
    if char == '"':
        span = Span(line, column, line, column + length)
        reporter.error(
            "E011",
            "unterminated string",
            span,
            help='close the string with `"` on the same line',
        )
        return
    shown = f"`{char}`" if char.isprintable() else f"U+{ord(char):04X}"
    reporter.error(
        "E010",
        f"unexpected character {shown}",
        Span(line, column, line, column + 1),
        help=_CHARACTER_HELP.get(char),
    )


def _prepare(raw: list[Token], reporter: Reporter, broken_lines: set[int]) -> TokenStream:
    stream = TokenStream([])
    out = stream.tokens
    open_brackets: list[Token] = []
    for token in _merge_symbols(raw):
        kind = token.type
        if kind == "_NL":
            if not open_brackets and out and out[-1].type != "_NL" and not continues(out[-1]):
                out.append(token)
            continue
        if kind == "END" and open_brackets:
            _report_unclosed(open_brackets, reporter, broken_lines)
            open_brackets.clear()
            _end_statement(stream, token)
        elif kind in ("LPAR", "LSQB"):
            open_brackets.append(token)
        elif kind in ("RPAR", "RSQB") and not _close(open_brackets, token, reporter):
            stream.reported.add(id(token))
        out.append(token)
    if open_brackets:
        _report_unclosed(open_brackets, reporter, broken_lines)
        _end_statement(stream, out[-1])
    return stream


def _merge_symbols(raw: list[Token]) -> list[Token]:
    """Join a ``:`` glued to the NAME after it into one SYMBOL, unless the colon is glued to a
    value before it too (``1:M``, ``x[2:n]`` are ranges)."""
    merged: list[Token] = []
    index = 0
    while index < len(raw):
        token = raw[index]
        following = raw[index + 1] if index + 1 < len(raw) else None
        if (
            token.type == "COLON"
            and following is not None
            and following.type == "NAME"
            and following.start_pos == token.end_pos
            and not (merged and _glued_value(merged[-1], token))
        ):
            merged.append(_symbol(token, following))
            index += 2
            continue
        merged.append(token)
        index += 1
    return merged


def _glued_value(previous: Token, colon: Token) -> bool:
    return previous.type in _ENDS_VALUE and previous.end_pos == colon.start_pos


def continues(token: Token) -> bool:
    """Whether a line ending in ``token`` goes on on the next line (a binary operator)."""
    return token.value in _CONTINUES and token.type not in ("STRING", "SYMBOL", "NAME")


def _symbol(colon: Token, name: Token) -> Token:
    symbol = Token("SYMBOL", name.value, colon.start_pos, colon.line, colon.column)
    symbol.end_line, symbol.end_column, symbol.end_pos = (
        name.end_line,
        name.end_column,
        name.end_pos,
    )
    return symbol


def _close(open_brackets: list[Token], closer: Token, reporter: Reporter) -> bool:
    """Match ``closer`` against the innermost open bracket; False when it had to be reported."""
    span = Span.of(closer)
    if not open_brackets:
        reporter.error(
            "E014",
            f"unmatched `{closer.value}`: no bracket is open here",
            span,
            help=f"remove this `{closer.value}` or add the `{_CLOSERS[closer.value]}` it closes",
        )
        return False
    opener = open_brackets.pop()
    if _OPENERS[opener.value] == closer.value:
        return True
    reporter.error(
        "E014",
        f"mismatched `{closer.value}`: the open bracket is `{opener.value}`",
        span,
        help=f"close it with `{_OPENERS[opener.value]}`",
        notes=[Note(f"`{opener.value}` opened here", Span.of(opener))],
    )
    return False


def _report_unclosed(
    open_brackets: list[Token], reporter: Reporter, broken_lines: set[int]
) -> None:
    """Report brackets left open (the outermost few), except on a line whose string ran to
    its end (the closing bracket is inside that string, and the string was reported)."""
    for opener in [o for o in open_brackets if o.line not in broken_lines][:MAX_UNCLOSED]:
        reporter.error(
            "E013",
            f"unclosed `{opener.value}`",
            Span.of(opener),
            help=f"add the matching `{_OPENERS[opener.value]}`",
        )


def _end_statement(stream: TokenStream, at: Token) -> None:
    """End the statement an unclosed bracket left open, so that parsing can go on."""
    if stream.tokens and stream.tokens[-1].type != "_NL":
        newline = Token.new_borrow_pos("_NL", "\n", at)
        stream.tokens.append(newline)
        stream.reported.add(id(newline))
