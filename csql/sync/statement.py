"""`REPLICATE [table, ...] TO 'target' [(FULL, LOOKBACK '3d', FORMAT parquet)]` as SQL.

The statement form of `conn.replicate()`, for the shell and DB-API cursors. It writes local
files, so like COPY it runs only where file access is on (the shell, or
`csql.connect(..., file_access=True)`); `conn.replicate()` from Python needs no option. The
result is one row per table: mode, inserted, updated, deleted, requests, duration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlglot.tokens import Token, Tokenizer, TokenType

from csql.errors import NotSupportedError, ProgrammingError

USAGE = (
    "REPLICATE [table, ...] TO 'target' [(FULL, LOOKBACK '3d', FORMAT duckdb|parquet|delta)], "
    "e.g. REPLICATE contacts, lists TO 'replica.duckdb'"
)


@dataclass
class ReplicateStatement:
    target: str
    tables: list[str] = field(default_factory=list)
    full: bool = False
    lookback: str | None = None
    format: str | None = None


def _word(tok: Token) -> str:
    return tok.text.upper() if tok.token_type != TokenType.STRING else ""


def parse(sql: str) -> ReplicateStatement:
    """The statement's parts, or a ProgrammingError that shows the syntax."""
    try:
        toks = [t for t in Tokenizer().tokenize(sql) if t.token_type != TokenType.SEMICOLON]
    except Exception:
        raise ProgrammingError(f"REPLICATE: SQL syntax error; {USAGE}") from None
    if not toks or _word(toks[0]) != "REPLICATE":
        raise ProgrammingError(USAGE)
    i, tables = 1, []
    while i < len(toks) and _word(toks[i]) != "TO":
        tok = toks[i]
        if tok.token_type == TokenType.COMMA:
            i += 1
            continue
        if (
            tok.token_type not in (TokenType.VAR, TokenType.IDENTIFIER)
            and not tok.text.isidentifier()
        ):
            raise ProgrammingError(f"REPLICATE: {tok.text!r} is not a table name; {USAGE}")
        tables.append(tok.text)
        i += 1
    if i + 1 >= len(toks) or toks[i + 1].token_type != TokenType.STRING:
        raise ProgrammingError(f"REPLICATE needs TO 'target' (a file or directory); {USAGE}")
    stmt = ReplicateStatement(target=toks[i + 1].text, tables=tables)
    rest = toks[i + 2 :]
    if not rest:
        return stmt
    if rest[0].token_type != TokenType.L_PAREN or rest[-1].token_type != TokenType.R_PAREN:
        raise ProgrammingError(f"REPLICATE: options go in parentheses after the target; {USAGE}")
    _options(stmt, rest[1:-1])
    return stmt


def _options(stmt: ReplicateStatement, toks: list[Token]) -> None:
    groups: list[list[Token]] = [[]]
    for t in toks:
        if t.token_type == TokenType.COMMA:
            groups.append([])
        else:
            groups[-1].append(t)
    for g in groups:
        if not g:
            continue
        name = _word(g[0]) or g[0].text.upper()
        value = g[1].text if len(g) > 1 else None
        if name == "FULL":
            stmt.full = value is None or value.upper() in ("TRUE", "1", "ON")
        elif name == "LOOKBACK" and value is not None:
            stmt.lookback = value
        elif name == "FORMAT" and value is not None:
            stmt.format = value.lower()
        else:
            raise ProgrammingError(
                f"REPLICATE: unknown option {' '.join(t.text for t in g)!r}; {USAGE}"
            )


def replicate_statement(session: Any, sql: str) -> pa.Table:
    """Run REPLICATE on an engine session; the per-table reports as rows."""
    from csql.sync.replicate import ReplicationError, SessionReader, replicate, reports_table

    stmt = parse(sql)
    if not session.options.get("file_access"):
        raise NotSupportedError(
            "REPLICATE writes local files, and local file access is off for this connection; "
            "connect with csql.connect(..., file_access=True), or call conn.replicate(target, "
            "tables) from Python"
        )
    try:
        reports = replicate(SessionReader(session), session.catalog, stmt.target,
                            stmt.tables or None, stmt.full, stmt.lookback, stmt.format)  # fmt: skip
    except ReplicationError as e:
        raise ReplicationError(str(e), e.reports) from None
    return reports_table(reports)
