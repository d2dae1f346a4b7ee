"""The one front door for SQL text: what a statement is, before anything parses it.

Every caller that looks at raw SQL (the engine's dispatch, parameter binding, CALL, the
command line's statement splitting, the Jupyter magics, the shell's confirmation rules) asks
this module, and this module reads the text with sqlglot's tokenizer for DuckDB's dialect,
never with regular expressions. That is what makes the answers agree with the parser:
a `:name` inside `$$...$$`, `'...'`, `"..."` or a comment is not a placeholder, a `;` inside
a string does not end a statement, `-- comment` before EXPLAIN or CALL is skipped, and
`CALL "SendSMS"(...)` is the same call as `CALL sendsms(...)`.

sqlglot turns a statement that starts with CALL (and a few other commands) into a single
opaque token holding the rest of the text; `tokens()` tokenizes that rest again so callers
always see real tokens.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError, TokenError
from sqlglot.tokens import Token, TokenType

from csql.errors import NotSupportedError, ProgrammingError

DIALECT = "duckdb"

#: deepest nesting of (), [] and {} accepted: sqlglot's parser spends ~20 Python frames on
#: each level and the planner recurses over the tree too, so Python's default stack (1000
#: frames) ends at about 40 levels; real statements rarely nest 10
MAX_NESTING = 32
#: deepest nesting of subqueries: each level of a ClickSend table is a scan that waits for the
#: one inside it, so 60 levels is minutes of requests no one meant
MAX_SUBQUERIES = 32

_TOKENIZER = sqlglot.Dialect.get_or_raise(DIALECT).tokenizer_class
_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}
#: tokens after which `:x` is not a placeholder but a slice (`arr[1:n]`) or a struct key
#: separator (`{'a':v}`), exactly as sqlglot's parser reads them
_VALUE_END = {
    TokenType.STRING, TokenType.NUMBER, TokenType.IDENTIFIER, TokenType.VAR,
    TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.HEREDOC_STRING,
    TokenType.NATIONAL_STRING, TokenType.BIT_STRING, TokenType.HEX_STRING,
    TokenType.BYTE_STRING, TokenType.RAW_STRING,
}  # fmt: skip
#: token types whose text is not a bare word even when it looks like one
_NOT_WORDS = {
    TokenType.STRING, TokenType.IDENTIFIER, TokenType.HEREDOC_STRING,
    TokenType.NATIONAL_STRING, TokenType.BIT_STRING, TokenType.HEX_STRING,
    TokenType.BYTE_STRING, TokenType.RAW_STRING,
}  # fmt: skip


class Kind(enum.Enum):
    """What the engine does with a statement, decided from its first keyword."""

    EMPTY = "empty"  # only comments or whitespace
    EXPLAIN = "explain"
    CALL = "call"
    SQL = "sql"  # everything else goes to the parser


# -- tokens ------------------------------------------------------------------------------------


def _tokenize(text: str) -> list[Token]:
    try:
        return _TOKENIZER().tokenize(text)
    except TokenError as e:  # the quote or comment that never ends, with a caret (diagnostics)
        from csql.diagnostics import syntax_error

        raise ProgrammingError(syntax_error(text, e)) from None


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _shift(token: Token, offset: int) -> Token:
    if not offset:
        return token
    return Token(
        token.token_type, token.text, token.line, token.col,
        token.start + offset, token.end + offset, token.comments,
    )  # fmt: skip


def tokens(sql: str) -> list[Token]:
    """The tokens of `sql`, positions (`start`, `end`, inclusive) relative to `sql`.

    A CALL (or another command sqlglot does not parse) at the start of a statement comes back
    as its keyword followed by the real tokens of its arguments, not as one opaque string.
    ProgrammingError for text that cannot be tokenized (an unterminated string).
    The dispatch, the parameter check and the nesting check all read the same statement, so
    the last few are remembered (sqlglot's tokenizer is pure Python: ~30 us a token).
    """
    return list(_cached_tokens(sql))


@functools.lru_cache(maxsize=16)
def _cached_tokens(sql: str) -> tuple[Token, ...]:
    out: list[Token] = []
    offset = 0
    while True:
        found = _tokenize(sql[offset:])
        for i, token in enumerate(found):
            out.append(_shift(token, offset))
            if _swallows(found, i):
                offset += token.end + 1
                break
        else:
            return tuple(out)


def _swallows(found: list[Token], i: int) -> bool:
    """Whether sqlglot turned the rest of this statement into one string after found[i]."""
    token = found[i]
    if token.token_type not in _TOKENIZER.COMMANDS:
        return False
    if i and found[i - 1].token_type not in _TOKENIZER.COMMAND_PREFIX_TOKENS:
        return False
    return i + 1 < len(found) and found[i + 1].token_type == TokenType.STRING


def _is_word(token: Token) -> bool:
    return token.token_type not in _NOT_WORDS and token.text.isidentifier()


def check_nesting(
    toks: Iterable[Token], limit: int = MAX_NESTING, subqueries: int = MAX_SUBQUERIES
) -> None:
    """ProgrammingError when brackets nest deeper than `limit`, or subqueries (a `(` that
    opens a SELECT or WITH) deeper than `subqueries`, before anything recurses over the tree."""
    stack: list[bool] = []  # per open bracket: whether it opens a subquery
    open_queries = 0
    previous: Token | None = None
    for t in toks:
        if (
            previous is not None
            and previous.token_type == TokenType.L_PAREN
            and t.token_type in (TokenType.SELECT, TokenType.WITH)
        ):
            stack[-1] = True
            open_queries += 1
            if open_queries > subqueries:
                raise ProgrammingError(
                    f"the statement nests subqueries more than {subqueries} deep; simplify it "
                    "(a CTE or a join instead of nested IN (SELECT ...))"
                )
        if t.token_type in _OPEN:
            stack.append(False)
            if len(stack) > limit:
                raise ProgrammingError(
                    f"the statement nests parentheses, lists or subqueries more than {limit} "
                    "deep; simplify it (a CTE or a join instead of nested subqueries, a list "
                    "instead of nested expressions)"
                )
        elif t.token_type in _CLOSE and stack:
            open_queries -= stack.pop()
        previous = t


# -- what a statement is -------------------------------------------------------------------------


def leading_keyword(sql: str) -> str:
    """The first word of a statement, upper-cased, comments skipped ('' if none or unreadable)."""
    try:
        toks = tokens(sql)
    except ProgrammingError:
        return ""
    return toks[0].text.upper() if toks and _is_word(toks[0]) else ""


@dataclass(frozen=True)
class Statement:
    """One statement's kind, and for EXPLAIN the text of the statement it explains."""

    kind: Kind
    text: str  # for EXPLAIN: the explained statement; otherwise the statement itself


def classify(sql: str) -> Statement:
    """EXPLAIN x, CALL p(...), nothing, or SQL for the parser (comments before any of them
    are allowed). EXPLAIN ANALYZE is refused: it would run the statement."""
    toks = tokens(sql)
    if not toks or (toks[0].token_type == TokenType.SEMICOLON and len(toks) == 1):
        return Statement(Kind.EMPTY, sql)
    first = toks[0].text.upper() if _is_word(toks[0]) else ""
    if first == "EXPLAIN":
        rest = toks[1:]
        if rest and rest[0].text.upper() == "ANALYZE":
            raise NotSupportedError(
                "EXPLAIN ANALYZE would run the statement; EXPLAIN <statement> shows the "
                "requests it would send without sending them"
            )
        if not rest or rest[0].token_type == TokenType.SEMICOLON:
            raise ProgrammingError("EXPLAIN of what? EXPLAIN <statement>, e.g. EXPLAIN SELECT ...")
        return Statement(Kind.EXPLAIN, sql[toks[0].end + 1 :])
    if first == "CALL":
        return Statement(Kind.CALL, sql)
    return Statement(Kind.SQL, sql)


# -- statements ----------------------------------------------------------------------------------


def split_statements(text: str) -> list[str]:
    """The statements of a script, split on top-level `;` (strings, `$$...$$`, quoted names and
    comments respected). A piece with only comments is no statement. Text that cannot be
    tokenized comes back whole, so the parser reports the error with its position."""
    try:
        toks = tokens(text)
    except ProgrammingError:
        return [text.strip()] if text.strip() else []
    stmts, start, seen = [], 0, 0
    for t in toks:
        if t.token_type == TokenType.SEMICOLON:
            if seen:
                stmts.append(text[start : t.start].strip())
            start, seen = t.end + 1, 0
        else:
            seen += 1
    if seen:
        stmts.append(text[start:].strip())
    return stmts


# -- placeholders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placeholder:
    """A `:name` in the text: the name as written and the span of `:name` (end exclusive)."""

    name: str
    start: int
    end: int


def placeholders(sql: str, toks: list[Token] | None = None) -> list[Placeholder]:
    """Every `:name` placeholder, in order: a colon directly followed by a word, not inside
    strings, quoted names or comments, not a `::` cast, not a slice `a[1:n]` or a struct
    key's colon `{'k':v}`."""
    toks = tokens(sql) if toks is None else toks
    found = []
    for i, t in enumerate(toks):
        if t.token_type != TokenType.COLON or i + 1 >= len(toks):
            continue
        name = toks[i + 1]
        if name.start != t.end + 1 or not _is_word(name):
            continue
        if i and toks[i - 1].token_type in _VALUE_END and toks[i - 1].end + 1 == t.start:
            continue
        found.append(Placeholder(name.text, t.start, name.end + 1))
    return found


def placeholder_names(sql: str) -> list[str]:
    """The distinct `:name` parameters of a statement, in order of first use."""
    return list(dict.fromkeys(p.name for p in placeholders(sql)))


def substitute(sql: str, params: Mapping[str, Any] | None, literal) -> str:
    """The text with each `:name` found in `params` (case-insensitively) replaced by
    `literal(value)` (SQL text). Names not in `params` are left for the caller to report."""
    if not params:
        return sql
    lower = {str(k).lower(): v for k, v in params.items()}
    out, last = [], 0
    for p in placeholders(sql):
        key = p.name.lower()
        if key in lower:
            out += [sql[last : p.start], literal(lower[key])]
            last = p.end
    out.append(sql[last:])
    return "".join(out)


def check_parameters(
    used: Iterable[str], params: Mapping[str, Any] | None, also_accepted: Iterable[str] = ()
) -> None:
    """ProgrammingError naming the missing parameters and the ones given but never used (a
    misspelled `:schedule` must not silently send now). Names compare case-insensitively."""
    used = list(dict.fromkeys(used))
    given = {str(k).lower(): str(k) for k in (params or {})}
    missing = [u for u in used if u.lower() not in given]
    if missing:
        raise ProgrammingError(
            f"missing parameter(s) {', '.join(':' + m for m in missing)}; pass them as "
            f"execute(sql, {{{', '.join(repr(m) + ': ...' for m in missing)}}})"
        )
    known = {u.lower() for u in used} | {a.lower() for a in also_accepted}
    unknown = [name for key, name in given.items() if key not in known]
    if unknown:
        where = (
            f"; the statement uses {', '.join(':' + u for u in used)}"
            if used
            else ("; the statement has no :name placeholders")
        )
        raise ProgrammingError(
            f"parameter(s) {', '.join(repr(u) for u in unknown)} not used by the statement"
            f"{where} (a misspelled name?)"
        )


# -- CALL ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Argument:
    """One argument of a CALL: its name for `name => value`, None when positional."""

    name: str | None
    value: exp.Expression


@dataclass(frozen=True)
class CallText:
    """`CALL name(args)` read from the text: the procedure's name as written and its arguments."""

    name: str
    arguments: tuple[Argument, ...]


CALL_SYNTAX = "CALL ProcedureName(arg, ...), e.g. CALL SendSMS(:from, :body, :to)"


def parse_call(sql: str) -> CallText:
    """The procedure name and argument expressions of `CALL name(...)`.

    The name may be quoted (`CALL "SendSMS"(...)`); arguments are any SQL expressions
    (strings with commas, arrays, structs, casts, nested calls), positional or `name => value`
    (or `name := value`), parsed by sqlglot, not split by hand. Placeholders must already be
    substituted (unbound ones stay exp.Placeholder nodes for the caller to report).
    """
    name, toks = _call_tokens(sql)
    check_nesting(toks)
    rest = toks[2:]
    if not rest:
        return CallText(name, ())
    if rest[0].token_type != TokenType.L_PAREN or rest[-1].token_type != TokenType.R_PAREN:
        raise ProgrammingError(f"CALL syntax: {CALL_SYNTAX}")
    inner = sql[rest[0].end + 1 : rest[-1].start]
    if not inner.strip():
        return CallText(name, ())
    try:
        tree = sqlglot.parse_one(f"SELECT __csql_call({inner})", read=DIALECT)
    except SqlglotError as e:
        raise ProgrammingError(
            f"CALL {name}: cannot read the arguments: {_short(str(e))}"
        ) from None
    except RecursionError:
        raise ProgrammingError(f"CALL {name}: the arguments nest too deeply") from None
    call = tree.expressions[0] if isinstance(tree, exp.Select) and tree.expressions else None
    if not isinstance(call, exp.Anonymous) or len(tree.expressions) != 1:
        raise ProgrammingError(f"CALL syntax: {CALL_SYNTAX}")
    return CallText(name, tuple(_argument(a) for a in call.expressions))


def call_target(sql: str) -> str:
    """The procedure name of `CALL name(...)` as written (unquoted), before anything else is
    read: callers look the procedure up first, so an unknown name is the first error."""
    return _call_tokens(sql)[0]


def _call_tokens(sql: str) -> tuple[str, list[Token]]:
    toks = tokens(sql)
    while toks and toks[-1].token_type == TokenType.SEMICOLON:
        toks = toks[:-1]
    if (
        len(toks) < 2
        or toks[0].text.upper() != "CALL"
        or not (_is_word(toks[1]) or toks[1].token_type == TokenType.IDENTIFIER)
    ):
        raise ProgrammingError(f"CALL syntax: {CALL_SYNTAX}")
    if any(t.token_type == TokenType.SEMICOLON for t in toks):
        raise ProgrammingError("one statement at a time, please: execute() got several")
    return toks[1].text, toks


def _argument(node: exp.Expression) -> Argument:
    if isinstance(node, exp.Kwarg | exp.PropertyEQ):
        return Argument(node.this.name, node.expression)
    return Argument(None, node)


__all__ = [
    "DIALECT",
    "MAX_NESTING",
    "MAX_SUBQUERIES",
    "Argument",
    "CallText",
    "Kind",
    "Placeholder",
    "Statement",
    "call_target",
    "check_nesting",
    "check_parameters",
    "classify",
    "leading_keyword",
    "parse_call",
    "placeholder_names",
    "placeholders",
    "split_statements",
    "substitute",
    "tokens",
]  # fmt: skip
