"""Error messages people can read: the user's line quoted with a caret under the spot.

Two sources of SQL errors reach users: sqlglot's ParseError/TokenError (csql parses every
statement first) and DuckDB's errors about the SQL that csql hands it. Neither speaks to the
user as written: sqlglot names its own classes (`<class 'sqlglot.expressions.core.Mul'>`),
and DuckDB quotes csql's rewritten SQL (internal view names such as `__csql_scan_3_lists`,
helper columns such as `__keep_email`) with its caret under a spot in that text. This module
turns both into SQL terms about the statement the user typed: what is wrong, the line, a
caret, and close matches where there are any.

It also words the credential hints for where the user is (`Where.PYTHON`: the arguments of
csql.connect; `Where.CLI`: flags, variables, profiles), so the client stays free of any idea
of who called it.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: the longest stretch of a line quoted around the spot
_WINDOW = 100

#: sqlglot expression classes as the SQL a user wrote
_OPERATORS = {
    "Mul": "*", "Div": "/", "IntDiv": "//", "Add": "+", "Sub": "-", "Mod": "%", "Pow": "^",
    "EQ": "=", "NEQ": "<>", "GT": ">", "GTE": ">=", "LT": "<", "LTE": "<=",
    "NullSafeEQ": "IS NOT DISTINCT FROM", "And": "AND", "Or": "OR", "Not": "NOT",
    "Like": "LIKE", "ILike": "ILIKE", "In": "IN", "Between": "BETWEEN", "Is": "IS",
    "DPipe": "||", "BitwiseAnd": "&", "BitwiseOr": "|", "Neg": "-", "Alias": "AS",
    "Where": "WHERE", "Having": "HAVING", "Limit": "LIMIT", "Offset": "OFFSET", "Cast": "CAST",
    "Order": "ORDER BY", "Group": "GROUP BY", "Join": "JOIN", "Case": "CASE", "If": "WHEN",
}  # fmt: skip

_SQL_WORDS = (
    "SELECT", "FROM", "WHERE", "GROUP", "ORDER", "BY", "HAVING", "LIMIT", "OFFSET", "JOIN",
    "LEFT", "RIGHT", "INNER", "OUTER", "FULL", "CROSS", "ON", "USING", "AS", "AND", "OR", "NOT",
    "IN", "IS", "NULL", "LIKE", "ILIKE", "BETWEEN", "EXISTS", "DISTINCT", "CASE", "WHEN",
    "THEN", "ELSE", "END", "UNION", "EXCEPT", "INTERSECT", "WITH", "ASC", "DESC", "INSERT",
    "INTO", "VALUES", "UPDATE", "SET", "DELETE", "RETURNING", "CALL", "EXPLAIN", "DESCRIBE",
    "SHOW", "TABLES", "QUALIFY", "WINDOW", "OVER", "PARTITION",
)  # fmt: skip

_REQUIRED = re.compile(r"Required keyword: '(\w+)' missing for <class '[\w.]*?\.?(\w+)'>")
_CLASS = re.compile(r"<class '[\w.]*?\.?(\w+)'>")
#: csql's internal names in DuckDB's text: scan views, count views, helper columns
_INTERNAL_VIEW = re.compile(r'"?__csql_\w+?_\d+_(\w+)"?(?: AS "?([^"\s),]+)"?)?')
_INTERNAL_COLUMN = re.compile(r'^"?__(?:keep_\w+|c\d+|a\d+|src|csql\w*)"?$')
_CATEGORY = re.compile(r"^(?:\w+ )?(?:Binder|Catalog|Parser|Conversion|Out of Range|Invalid Input|Not implemented) Error: ", re.I)  # fmt: skip
_LINE_BLOCK = re.compile(r"\n*LINE \d+:.*", re.S)
_QUOTED = re.compile(r'"([^"]+)"')


class Where(enum.Enum):
    """Where a user meets an error: what the hints may name."""

    PYTHON = "python"  # csql.connect(...)
    CLI = "cli"  # the csql command and its shell


@dataclass(frozen=True)
class Spot:
    """A place in the user's SQL: character offset and length."""

    offset: int
    length: int = 1


# -- quoting the user's line -----------------------------------------------------------------------


def caret(sql: str, spot: Spot) -> str:
    """`LINE n: <the line>` and a caret line under the spot (the line cut around it if long)."""
    offset = max(0, min(spot.offset, len(sql)))
    start = sql.rfind("\n", 0, offset) + 1
    end = sql.find("\n", offset)
    end = len(sql) if end < 0 else end
    line_no = sql.count("\n", 0, start) + 1
    text = sql[start:end].replace("\t", " ")
    col = offset - start
    length = max(1, min(spot.length, len(text) - col if col < len(text) else 1))
    lead, tail = "", ""
    if len(text) > _WINDOW:
        left = max(0, min(col - _WINDOW // 2, len(text) - _WINDOW))
        if left > 0:
            lead, text, col = "...", text[left:], col - left + 3
        if len(text) > _WINDOW - len(lead):
            text, tail = text[: _WINDOW - len(lead)], "..."
    prefix = f"LINE {line_no}: "
    return f"{prefix}{lead}{text}{tail}\n{' ' * (len(prefix) + col)}{'^' * length}"


def _with_caret(message: str, sql: str, spot: Spot | None) -> str:
    return f"{message}\n{caret(sql, spot)}" if spot is not None and sql.strip() else message


# -- sqlglot's parse errors --------------------------------------------------------------------------


def syntax_error(sql: str, error: Exception) -> str:
    """A ParseError or TokenError of sqlglot as `syntax error: ...` with the line and a caret."""
    from sqlglot.errors import ParseError

    if not isinstance(error, ParseError):  # TokenError: an unterminated quote or comment
        return _token_error(sql)
    unknown = _unknown_statement(sql)
    if unknown is not None:
        return unknown
    first = error.errors[0] if error.errors else {}
    description = str(first.get("description") or error)
    highlight = str(first.get("highlight") or "")
    spot = _spot_of(sql, first.get("line"), first.get("col"), highlight)
    at_end = spot is not None and not sql[spot.offset + spot.length :].strip()
    found = "the end of the statement" if at_end and not highlight.strip() else repr(highlight)
    message = _describe(description, highlight, found, sql, spot)
    return _with_caret(f"SQL syntax error: {message}", sql, spot)


#: the words a statement csql runs may start with
_STATEMENT_WORDS = (
    "SELECT", "WITH", "FROM", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE", "CALL",
    "EXPLAIN", "DESCRIBE", "DESC", "SHOW", "SUMMARIZE", "PIVOT", "UNPIVOT",
)  # fmt: skip


def _unknown_statement(sql: str) -> str | None:
    """`SELEC * FROM lists`: the first word is no statement; say that, not what sqlglot
    made of the rest."""
    m = re.match(r"\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*([A-Za-z_]+)", sql, re.S)
    if m is None or m.group(1).upper() in _STATEMENT_WORDS or m.group(1).upper() in _SQL_WORDS:
        return None
    word = m.group(1)
    close = difflib.get_close_matches(word.upper(), _STATEMENT_WORDS, n=1, cutoff=0.6)
    hint = (
        f"; did you mean {close[0]}?"
        if close
        else " (statements start with SELECT, INSERT, UPDATE, DELETE, CALL, EXPLAIN, ...)"
    )
    return _with_caret(
        f"SQL syntax error: {word} is not a statement{hint}", sql, Spot(m.start(1), len(word))
    )


def _spot_of(sql: str, line: object, col: object, highlight: str) -> Spot | None:
    """sqlglot's (1-based line, column of the highlight's last character) as an offset."""
    if not isinstance(line, int) or not isinstance(col, int):
        return None
    lines = sql.split("\n")
    if not 1 <= line <= len(lines):
        return None
    start = sum(len(s) + 1 for s in lines[: line - 1])
    first = max(0, col - len(highlight)) if highlight else max(0, col - 1)
    return Spot(start + first, max(1, len(highlight)))


def _describe(description: str, highlight: str, found: str, sql: str, spot: Spot | None) -> str:
    required = _REQUIRED.search(description)
    if required:
        what = _OPERATORS.get(required.group(2))
        if what is not None and highlight.upper() == what.upper():
            return f"{what} needs a value after it"
        if what is not None:
            return f"{what} needs a value after it, found {found}"
        return f"incomplete {_words(required.group(2))}: its {required.group(1)} is missing (found {found})"
    if description.startswith("Expecting "):
        wanted = description[len("Expecting ") :].strip()
        hint = " (a '(' is not closed)" if wanted == ")" else ""
        return f"expected '{wanted}' but found {found}{hint}"
    if description.startswith("Expected "):
        return _CLASS.sub(lambda m: _words(m.group(1)), description) + f" (found {found})"
    if "Unexpected token" in description or "Invalid expression" in description:
        return f"unexpected {found}{_keyword_hint(sql, spot, highlight)}"
    return _CLASS.sub(lambda m: _words(m.group(1)), description)


def _keyword_hint(sql: str, spot: Spot | None, highlight: str) -> str:
    """`; did you mean FROM?` when the word at or before the spot is a misspelt keyword."""
    words = [highlight]
    if spot is not None:
        before = re.findall(r"[A-Za-z_]+", sql[: spot.offset])
        words = ([before[-1]] if before else []) + words
    for word in words:
        if word.upper() in _SQL_WORDS or not word.isalpha():
            continue
        close = difflib.get_close_matches(word.upper(), _SQL_WORDS, n=1, cutoff=0.75)
        if close:
            return f"; did you mean {close[0]} instead of {word}?"
    return ""


def _words(class_name: str) -> str:
    """`DateAdd` -> `date add`: a sqlglot class name in plain words."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", class_name).lower()


def _token_error(sql: str) -> str:
    """Tokenizing failed: find the quote or comment that never ends."""
    i, quote = 0, None
    while i < len(sql):
        ch = sql[i]
        if sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = len(sql) if nl < 0 else nl + 1
            continue
        if sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            if close < 0:
                return _with_caret(
                    "SQL syntax error: a /* comment is never closed with */", sql, Spot(i, 2)
                )
            i = close + 2
            continue
        if ch in "'\"":
            quote, j = i, i + 1
            while j < len(sql):
                if sql[j] == ch and sql.startswith(ch * 2, j):
                    j += 2
                    continue
                if sql[j] == ch:
                    break
                j += 1
            if j >= len(sql):
                kind = "string" if ch == "'" else "quoted name"
                return _with_caret(
                    f"SQL syntax error: unterminated {kind}: the {ch} here is never closed",
                    sql,
                    Spot(quote),
                )
            i = j + 1
            continue
        i += 1
    return "SQL syntax error: the statement cannot be split into SQL tokens"


# -- DuckDB's errors ----------------------------------------------------------------------------------


def duckdb_error(message: str, sql: str | None, columns_of=None) -> str:
    """DuckDB's error about csql's rewritten SQL, said about the user's statement `sql`.

    `columns_of(name_or_alias)` (optional) gives the columns of a table the statement names,
    for close matches DuckDB does not offer.
    """
    text = _LINE_BLOCK.sub("", message).strip()
    text = _CATEGORY.sub("", text)
    text = _INTERNAL_VIEW.sub(_view_back, text)
    sql = sql or ""
    for rule in (_unknown_column, _no_such_column, _unknown_qualifier, _unknown_function):
        found = rule(text, sql, columns_of)
        if found is not None:
            return found
    return _generic(text, sql)


def _view_back(m: re.Match) -> str:
    table, alias = m.group(1), m.group(2)
    return table if alias in (None, table) else alias


def _candidates(raw: str) -> list[str]:
    names = [n for n in _QUOTED.findall(raw) if not _INTERNAL_COLUMN.match(n)]
    return list(dict.fromkeys(n.split(".")[-1] for n in names))


def _did_you_mean(names: Iterable[str]) -> str:
    names = list(names)[:5]
    return f"; did you mean {', '.join(names)}?" if names else ""


def _unknown_column(text: str, sql: str, columns_of) -> str | None:
    m = re.match(r'Referenced column "([^"]+)" not found in FROM clause!?\s*(.*)', text, re.S)
    if not m:
        return None
    name = m.group(1)
    hints = _candidates(m.group(2))
    close = difflib.get_close_matches(name, hints, n=3, cutoff=0.7) or hints[:3]
    message = f'unknown column "{name}"{_did_you_mean(close)}'
    return _with_caret(message, sql, find_name(sql, name))


def _no_such_column(text: str, sql: str, columns_of) -> str | None:
    m = re.match(r'(?:Table|Values list) "([^"]+)" does not have a column named "([^"]+)"', text)
    if not m:
        return None
    table, name = m.group(1), m.group(2)
    cols = list(columns_of(table) or []) if columns_of is not None else []
    close = difflib.get_close_matches(name, cols, n=3, cutoff=0.6)
    message = f'"{table}" has no column "{name}"{_did_you_mean(close)}'
    return _with_caret(message, sql, find_name(sql, name, qualifier=table))


def _unknown_qualifier(text: str, sql: str, columns_of) -> str | None:
    m = re.match(r'Referenced table "([^"]+)" not found!?\s*(.*)', text, re.S)
    if not m:
        return None
    name = m.group(1)
    named = _candidates(m.group(2))
    hint = f"; the statement names {', '.join(named)}" if named else ""
    message = f'"{name}" is not a table or alias of this statement{hint}'
    return _with_caret(message, sql, find_name(sql, name))


def _unknown_function(text: str, sql: str, columns_of) -> str | None:
    m = re.match(r"(Scalar|Aggregate|Table) Function with name (\w+) does not exist!?\s*(.*)", text, re.S)  # fmt: skip
    if not m:
        return None
    name = m.group(2)
    hints = _candidates(m.group(3))
    message = f"unknown function {name}(){_did_you_mean(hints)}"
    return _with_caret(message, sql, find_name(sql, name))


def _generic(text: str, sql: str) -> str:
    """Any other DuckDB error: its text without csql's internals, caret at the first quoted
    name of the message that the user's statement contains."""
    lines = [
        line
        for line in text.splitlines()
        if not any(_INTERNAL_COLUMN.match(n) for n in _QUOTED.findall(line))
    ]
    text = "\n".join(lines).strip() or text
    text = re.sub(r"\b__(?:keep_\w+|c\d+|a\d+|src)\b", "", text)
    for name in _QUOTED.findall(text) + re.findall(r"'([^']+)'", text):
        spot = find_name(sql, name)
        if spot is not None:
            return _with_caret(text, sql, spot)
    return text


def find_name(sql: str, name: str, qualifier: str | None = None) -> Spot | None:
    """Where an identifier (or a quoted string's text) is in `sql`: tokens, not text search,
    so a column is not found inside a string or a longer name; `qualifier.name` preferred."""
    import sqlglot.tokens as tk

    if not sql:
        return None
    try:
        tokens = tk.Tokenizer(dialect="duckdb").tokenize(sql)
    except Exception:
        return None
    want = name.lower()
    first: Spot | None = None
    for i, t in enumerate(tokens):
        if t.text.lower() != want:
            continue
        spot = Spot(t.start, t.end - t.start + 1)
        if qualifier is None:
            return spot
        if (
            i >= 2
            and tokens[i - 1].token_type == tk.TokenType.DOT
            and tokens[i - 2].text.lower() == qualifier.lower()
        ):
            q = tokens[i - 2]
            return Spot(q.start, t.end - q.start + 1)
        first = first or spot
    return first


# -- credentials -----------------------------------------------------------------------------------

KEY_LOCATION = "ClickSend dashboard -> API Credentials (https://dashboard.clicksend.com/account/subaccounts)"  # fmt: skip


def missing_credentials(where: Where) -> str:
    """What to do when no username or API key is known, in the terms of where the user is."""
    if where is Where.CLI:
        how = (
            "pass --username and --api-key, set CLICKSEND_USERNAME and CLICKSEND_API_KEY, "
            "or name a profile of ~/.config/csql/config.toml with --profile NAME"
        )
        other = "csql --sandbox needs none"
    else:
        how = (
            "pass csql.connect(username=..., api_key=...) or connect(profile=NAME), "
            "or set CLICKSEND_USERNAME and CLICKSEND_API_KEY"
        )
        other = "csql.sandbox.Sandbox() serves a local ClickSend that needs none"
    return f"no ClickSend credentials: {how}. The key is in the {KEY_LOCATION}; {other}"


def rejected_credentials(where: Where) -> str:
    """The hint after a 401."""
    if where is Where.CLI:
        how = "check --username and --api-key, CLICKSEND_USERNAME and CLICKSEND_API_KEY, or the --profile used"
    else:
        how = "check the username= and api_key= given to csql.connect, CLICKSEND_USERNAME and CLICKSEND_API_KEY, or the profile used"  # fmt: skip
    return (
        f"ClickSend did not accept the username and API key: {how}. "
        f"The username and key are in the {KEY_LOCATION}"
    )


def for_user(error: Exception, where: Where) -> str:
    """An error's message with the credential hints of `where` instead of Python's."""
    text = str(error)
    if where is Where.PYTHON:
        return text
    for hint in (missing_credentials, rejected_credentials):
        text = text.replace(hint(Where.PYTHON), hint(where))
    return text


__all__ = [
    "Spot",
    "Where",
    "caret",
    "duckdb_error",
    "find_name",
    "for_user",
    "missing_credentials",
    "rejected_credentials",
    "syntax_error",
]
