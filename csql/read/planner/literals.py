"""Literals: what a SQL constant is worth, and how it may be written to ClickSend.

Pure functions over sqlglot nodes. Each one answers one question the pushdown pass asks
about a constant, and says when the answer is exact:

- `literal_value`: the Python value of a constant (`5`, `'x'`, `-1.5`, `CAST('2024-01-01' AS
  DATE)`), or `NoValue` when the node is not one (a column, a function call).
- `key_value`: a constant as the value of a path key or id, typed like the key column; a
  value that DuckDB would not compare equal to any such key (`5.5` for an integer id,
  `'٥٢١'`, which DuckDB refuses to cast) is `NoValue`, so nothing is pushed.
- `q_text`: how a constant is written in `q=field:value`, or None.
- `like_fragment`: the longest run of a LIKE/ILIKE pattern that every match contains, and
  that ClickSend's search certainly matches (see `FOLD_SAFE`).
- `constant_truth`: TRUE, FALSE/NULL or unknown for a predicate that mentions no column.

>>> import sqlglot
>>> literal_value(sqlglot.parse_one("-(5)"))
-5
>>> like_fragment("%Grüße, Zoë%", case_insensitive=True)
'Gr'
>>> like_fragment("%Grüße, Zoë%", case_insensitive=False)
'Grüße'
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.simplify import simplify

from csql.catalog import Column

INTEGER_TYPES = ("integer", "bigint")
ORDERED_TYPES = ("integer", "bigint", "double", "decimal", "timestamp")
#: characters q cannot carry: `,` separates terms and `:` separates field from value
UNSAFE_IN_Q = re.compile(r"[,:]")
#: a canonical integer as DuckDB casts text to one: optional sign, ASCII digits, spaces around
_ASCII_INT = re.compile(r"\s*[+-]?[0-9]+\s*", re.ASCII)
#: the longest value pushed into q: a longer one is not pushed (DuckDB still filters), so a
#: URL never grows past what servers accept
MAX_Q_VALUE = 200


class NoValue(Exception):
    """The expression is not a constant the planner can read (or use for this column)."""


def literal_value(node: exp.Expression) -> Any:
    """The Python value of a SQL constant: 5, 'x', -1.5, TRUE, CAST('2024-01-01' AS DATE).

    >>> import sqlglot
    >>> literal_value(sqlglot.parse_one("CAST('2024-01-02' AS DATE)")).isoformat()
    '2024-01-02T00:00:00+00:00'
    """
    if isinstance(node, exp.Paren):
        return literal_value(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        try:
            return int(node.this)
        except ValueError:
            try:
                return Decimal(node.this)
            except InvalidOperation:
                raise NoValue from None
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Neg):
        v = literal_value(node.this)
        if isinstance(v, int | Decimal | float) and not isinstance(v, bool):
            return -v
        raise NoValue
    if isinstance(node, exp.Cast):
        inner = literal_value(node.this)
        target = node.to.this if isinstance(node.to, exp.DataType) else None
        if target in exp.DataType.TEMPORAL_TYPES and isinstance(inner, str):
            return parse_time(inner)
        if target in exp.DataType.TEXT_TYPES:
            return str(inner)
        raise NoValue  # other casts change the value in ways DuckDB decides
    raise NoValue


def parse_time(text: str) -> dt.datetime:
    """An ISO timestamp as DuckDB reads one (UTC when no zone is given)."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise NoValue from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def unix_seconds(value: Any) -> int | None:
    """Unix seconds of a literal compared with a timestamp column (None if unreadable)."""
    if isinstance(value, str):
        try:
            value = parse_time(value)
        except NoValue:
            return None
    if isinstance(value, dt.datetime):
        return math.floor(value.timestamp())
    if isinstance(value, dt.date):
        return math.floor(
            dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
        )
    return None


def key_value(value: Any, column: Column) -> Any:
    """A constant as the value of a key column, or NoValue if no key can equal it.

    Exact for integer keys: DuckDB compares `list_id = '5'` by casting the text to an
    integer, which accepts ASCII digits with a sign and surrounding spaces only; `5.0`
    equals 5; `5.5` equals no integer. For text keys only text is a key: DuckDB compares a
    number with a varchar column numerically (`'+61' = 61.0` is true), which no path or
    `q` value can express.

    >>> from csql.catalog import Column
    >>> key_value(" 7 ", Column(name="list_id", type="integer"))
    7
    """
    if value is None or isinstance(value, bool):
        raise NoValue
    if column.type in INTEGER_TYPES:
        if isinstance(value, str):
            if not _ASCII_INT.fullmatch(value):
                raise NoValue
            number = int(value.strip())
            bits = 31 if column.type == "integer" else 63  # INTEGER is 32-bit in DuckDB
            if not -(2**bits) <= number < 2**bits:
                raise NoValue  # DuckDB fails to cast it: the query's error, not ours
            return number
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal | float) and math.isfinite(value) and value == int(value):
            return int(value)
        raise NoValue
    if column.type == "varchar" and isinstance(value, str):
        return value
    raise NoValue


def q_text(value: Any, column: Column) -> str | None:
    """How a value is written in `q` (None if it cannot be written so the match is a superset).

    ClickSend matches a `q` term loosely (case-insensitively, on a part of the field), so the
    exact text always finds the rows DuckDB keeps; but only text compares as text (see
    `key_value`), `,` and `:` cannot be written, and a very long value is not worth a URL.
    """
    try:
        key = key_value(value, column)
    except NoValue:
        return None
    if column.type in INTEGER_TYPES:
        return str(key)
    text = key.strip()
    if not text or UNSAFE_IN_Q.search(text) or len(text) > MAX_Q_VALUE:
        return None
    if any(unicodedata.category(c).startswith("C") for c in text):
        return None  # control and format characters: how ClickSend reads them is unknown
    return text


def fold_safe(char: str) -> bool:
    """True when every collation ClickSend may use matches at least what DuckDB's ILIKE does.

    DuckDB's ILIKE folds Unicode case (`'Ä' ILIKE 'ä'`, `'ẞ' ILIKE 'ß'`, the Kelvin sign
    `'K' ILIKE 'k'`, `'İ' ILIKE 'i'`). Of ClickSend's MySQL collation we assume only that it is
    case-insensitive for ASCII. So a character is safe when DuckDB folds it to nothing but
    itself and its ASCII partner: an uncased character (digits, punctuation, CJK), or an ASCII
    letter other than i and k (the only ASCII letters that a non-ASCII character lowers to).
    """
    if char.isascii():
        return char.lower() not in ("i", "k") and not UNSAFE_IN_Q.match(char)
    if unicodedata.category(char).startswith("C"):
        return False
    return char.lower() == char and char.upper() == char and char.casefold() == char


def like_fragment(pattern: str, case_insensitive: bool) -> str | None:
    """The longest literal run of a LIKE pattern that every match contains (case aside).

    For LIKE (case-sensitive in DuckDB) any run is certainly found by ClickSend's looser
    match; for ILIKE the run is cut down to characters that `fold_safe` accepts. Runs are
    split at `%` and `_`, and at `,` and `:`, which q cannot carry.
    """
    pieces = re.split(r"[%_,:]", pattern)
    if case_insensitive:
        pieces = [s for p in pieces for s in _safe_runs(p)]
    pieces = [p.strip() for p in pieces]
    pieces = [p for p in pieces if p and not any(unicodedata.category(c)[0] == "C" for c in p)]
    if not pieces:
        return None
    best = max(pieces, key=len)
    return best if len(best) <= MAX_Q_VALUE else None


def _safe_runs(text: str) -> list[str]:
    runs, current = [], []
    for c in text:
        if fold_safe(c):
            current.append(c)
        else:
            runs.append("".join(current))
            current = []
    runs.append("".join(current))
    return runs


class Truth(enum.Enum):
    """What a column-free predicate is, as far as the planner can tell without running it."""

    TRUE = "true"
    FALSE = "false"  # FALSE or NULL: no row passes
    UNKNOWN = "unknown"  # depends on the session (current_date, random()): DuckDB decides


def constant_truth(node: exp.Expression) -> Truth:
    """TRUE/FALSE for a predicate sqlglot can fold (`1 = 0`, `NOT NULL`, `2 > 1 AND true`).

    Exact: sqlglot's simplifier folds only literals and boolean algebra; a predicate with a
    function call (current_date) or a subquery stays UNKNOWN, and DuckDB evaluates it.

    >>> import sqlglot
    >>> constant_truth(sqlglot.parse_one("1 = 0")), constant_truth(sqlglot.parse_one("NULL"))
    (<Truth.FALSE: 'false'>, <Truth.FALSE: 'false'>)
    """
    if node.find(exp.Column, exp.Subquery, exp.Select, exp.Placeholder):
        return Truth.UNKNOWN
    try:
        folded = simplify(node.copy())
    except Exception:  # the simplifier is best effort; an odd node is simply not folded
        return Truth.UNKNOWN
    while isinstance(folded, exp.Paren):
        folded = folded.this
    if isinstance(folded, exp.Boolean):
        return Truth.TRUE if folded.this else Truth.FALSE
    if isinstance(folded, exp.Null):
        return Truth.FALSE
    return Truth.UNKNOWN
