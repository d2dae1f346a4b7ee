"""Cursor state and run history, as tables next to the data (`_csql_state`, `_csql_runs`).

State is written with the same DuckDB connection, inside the same transaction, as the rows
it describes: a run killed at any point leaves rows and cursor consistent, and the next run
continues from the last commit. One row per (account, table, scope): the scope is "" for a
whole table, or a fan-out parent key (`list_id=5`) for the contacts of one list.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import duckdb

from csql.sync.merge import quote, sql_string

STATE_TABLE = "_csql_state"
RUNS_TABLE = "_csql_runs"

STATE_COLUMNS = {
    "account": "VARCHAR",
    "table_name": "VARCHAR",
    "scope": "VARCHAR",
    "cursor_value": "TIMESTAMP WITH TIME ZONE",  # the high-water mark of the cursor column
    "boundary_keys": "JSON",  # keys of the rows seen exactly at the cursor value
    "last_full_sync": "TIMESTAMP WITH TIME ZONE",  # the last complete listing (deletes applied)
    "row_count": "BIGINT",
    "updated_at": "TIMESTAMP WITH TIME ZONE",
}
RUNS_COLUMNS = {
    "run_id": "VARCHAR",
    "account": "VARCHAR",
    "table_name": "VARCHAR",
    "mode": "VARCHAR",
    "started_at": "TIMESTAMP WITH TIME ZONE",
    "finished_at": "TIMESTAMP WITH TIME ZONE",
    "inserted": "BIGINT",
    "updated": "BIGINT",
    "deleted": "BIGINT",
    "requests": "BIGINT",
    "status": "VARCHAR",
    "error": "VARCHAR",
}


@dataclass
class ScopeState:
    """Where the last committed run left one table (or one list of contacts)."""

    table: str
    scope: str = ""
    cursor: dt.datetime | None = None
    boundary: list = field(default_factory=list)
    last_full: dt.datetime | None = None
    row_count: int | None = None


def _create(duck: duckdb.DuckDBPyConnection, name: str, columns: dict[str, str], key: str) -> None:
    cols = ", ".join(f"{quote(c)} {t}" for c, t in columns.items())
    duck.execute(f"CREATE TABLE IF NOT EXISTS {quote(name)} ({cols}{key})")


def ensure(duck: duckdb.DuckDBPyConnection) -> None:
    _create(duck, STATE_TABLE, STATE_COLUMNS, ", PRIMARY KEY (account, table_name, scope)")
    _create(duck, RUNS_TABLE, RUNS_COLUMNS, "")


def accounts(duck: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in duck.execute(f"SELECT DISTINCT account FROM {STATE_TABLE}").fetchall()]


def load(duck: duckdb.DuckDBPyConnection, account: str, table: str) -> dict[str, ScopeState]:
    rows = duck.execute(
        f"SELECT scope, cursor_value, boundary_keys, last_full_sync, row_count FROM {STATE_TABLE} "
        "WHERE account = ? AND table_name = ?",
        [account, table],
    ).fetchall()
    return {
        scope: ScopeState(table, scope, cursor, json.loads(boundary) if boundary else [], full, n)
        for scope, cursor, boundary, full, n in rows
    }


def save(duck: duckdb.DuckDBPyConnection, account: str, states: list[ScopeState],
         drop_scopes: list[str] = ()) -> None:  # fmt: skip
    """Upsert the states (in the caller's transaction); forget scopes that no longer exist."""
    for s in drop_scopes:
        duck.execute(f"DELETE FROM {STATE_TABLE} WHERE account = ? AND table_name = ? AND scope = ?",
                     [account, states[0].table if states else "", s])  # fmt: skip
    if states:
        duck.executemany(
            f"INSERT OR REPLACE INTO {STATE_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, now())",
            [[account, s.table, s.scope, s.cursor, json.dumps(s.boundary, default=str),
              s.last_full, s.row_count] for s in states],
        )  # fmt: skip


def drop_table_states(duck: duckdb.DuckDBPyConnection, account: str, table: str) -> None:
    duck.execute(
        f"DELETE FROM {STATE_TABLE} WHERE account = ? AND table_name = ?", [account, table]
    )


def record_run(duck: duckdb.DuckDBPyConnection, row: dict) -> None:
    names = ", ".join(quote(c) for c in RUNS_COLUMNS)
    marks = ", ".join("?" for _ in RUNS_COLUMNS)
    duck.execute(f"INSERT INTO {RUNS_TABLE} ({names}) VALUES ({marks})",
                 [row.get(c) for c in RUNS_COLUMNS])  # fmt: skip


def timestamp_sql(value: dt.datetime) -> str:
    """A UTC timestamp literal DuckDB (and csql's planner) read the same way."""
    utc = value.astimezone(dt.UTC) if value.tzinfo else value
    return f"TIMESTAMP {sql_string(utc.strftime('%Y-%m-%d %H:%M:%S'))}"
