"""Apply fetched rows to a replica table in DuckDB: count what changed, MERGE on the key.

Store-agnostic: the replica table is a DuckDB table (in the replica file, or a working copy of
a Parquet/Delta partition). The caller owns the transaction, so data and cursor state commit
together.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from csql.catalog import Table
from csql.metadata import SQL_TYPES

SYNCED_AT = "_csql_synced_at"
STAGE = "__csql_stage"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Changes:
    """What applying one listing did to the replica."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    def __iadd__(self, other: Changes) -> Changes:
        self.inserted += other.inserted
        self.updated += other.updated
        self.deleted += other.deleted
        return self


def create_table(duck: duckdb.DuckDBPyConnection, table: Table, name: str | None = None) -> None:
    """The replica table: the catalog's columns and types, plus when each row was synced."""
    cols = [f"{quote(c.name)} {SQL_TYPES[c.type]}" for c in table.columns]
    cols.append(f"{quote(SYNCED_AT)} TIMESTAMP WITH TIME ZONE")
    if table.primary_key:
        cols.append(f"PRIMARY KEY ({', '.join(quote(k) for k in table.primary_key)})")
    target = name or table.name
    duck.execute(f"CREATE TABLE IF NOT EXISTS {quote(target)} ({', '.join(cols)})")
    # a replica made before the catalog gained a column: add it (NULL until the row syncs)
    have = {r[0] for r in duck.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [target]
    ).fetchall()}  # fmt: skip
    for c in table.columns:
        if c.name not in have:
            duck.execute(
                f"ALTER TABLE {quote(target)} ADD COLUMN {quote(c.name)} {SQL_TYPES[c.type]}"
            )


def stage(duck: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table) -> int:
    """The fetched rows as a temp table typed like the replica (one row per key). Returns the
    number of staged rows."""
    duck.register("__csql_rows", rows)
    try:
        cols = ", ".join(
            f"CAST({quote(c.name)} AS {SQL_TYPES[c.type]}) AS {quote(c.name)}"
            for c in table.columns
        )
        distinct = ""
        if table.primary_key:
            distinct = f"DISTINCT ON ({', '.join(quote(k) for k in table.primary_key)}) "
        duck.execute(
            f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT {distinct}{cols} FROM __csql_rows"
        )
    finally:
        duck.unregister("__csql_rows")
    return duck.execute(f"SELECT count(*) FROM {STAGE}").fetchall()[0][0]


def _on(table: Table) -> str:
    return " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in table.primary_key)


def _differs(table: Table) -> str:
    others = [c.name for c in table.columns if c.name not in table.primary_key]
    if not others:
        return "FALSE"
    return " OR ".join(f"t.{quote(c)} IS DISTINCT FROM s.{quote(c)}" for c in others)


def _count(duck: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(duck.execute(sql).fetchall()[0][0])


def apply(
    duck: duckdb.DuckDBPyConnection,
    table: Table,
    name: str,
    synced_at: str,
    delete_scope: str | None,
) -> Changes:
    """MERGE the staged rows into `name`; then delete the rows in `delete_scope` (SQL over the
    replica's columns, "TRUE" for the whole table) that the listing did not contain.

    delete_scope must only cover what a *complete* listing was staged for: the caller passes
    None for an incremental listing.
    """
    if not table.primary_key:
        return _replace(duck, table, name, synced_at)
    target = quote(name)
    inserted = _count(duck, f"SELECT count(*) FROM {STAGE} s WHERE NOT EXISTS "
                            f"(SELECT 1 FROM {target} t WHERE {_on(table)})")  # fmt: skip
    updated = _count(duck, f"SELECT count(*) FROM {STAGE} s JOIN {target} t ON {_on(table)} "
                           f"WHERE {_differs(table)}")  # fmt: skip
    deleted = 0
    if delete_scope is not None:
        missing = f"{delete_scope} AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE {_on(table)})"
        deleted = _count(duck, f"SELECT count(*) FROM {target} t WHERE {missing}")
        if deleted:
            keys = ", ".join(quote(k) for k in table.primary_key)
            duck.execute(
                f"DELETE FROM {target} WHERE ({keys}) IN (SELECT ({', '.join('t.' + quote(k) for k in table.primary_key)}) "
                f"FROM {target} t WHERE {missing})"
            )
    if inserted or updated:
        others = [c.name for c in table.columns if c.name not in table.primary_key]
        sets = ", ".join([f"{quote(c)} = s.{quote(c)}" for c in others]
                         + [f"{quote(SYNCED_AT)} = {synced_at}"])  # fmt: skip
        names = [quote(c.name) for c in table.columns] + [quote(SYNCED_AT)]
        values = [f"s.{quote(c.name)}" for c in table.columns] + [synced_at]
        duck.execute(
            f"MERGE INTO {target} AS t USING {STAGE} AS s ON ({_on(table)}) "
            f"WHEN MATCHED AND ({_differs(table)}) THEN UPDATE SET {sets} "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(names)}) VALUES ({', '.join(values)})"
        )
    return Changes(inserted, updated, deleted)


def _replace(duck: duckdb.DuckDBPyConnection, table: Table, name: str, synced_at: str) -> Changes:
    """A table without a key (one-row statistics): the listing replaces it when it differs."""
    target = quote(name)
    cols = ", ".join(quote(c.name) for c in table.columns)
    new = _count(
        duck,
        f"SELECT count(*) FROM (SELECT {cols} FROM {STAGE} EXCEPT ALL SELECT {cols} FROM {target})",
    )
    gone = _count(
        duck,
        f"SELECT count(*) FROM (SELECT {cols} FROM {target} EXCEPT ALL SELECT {cols} FROM {STAGE})",
    )
    if new or gone:
        duck.execute(f"DELETE FROM {target}")
        duck.execute(f"INSERT INTO {target} SELECT {cols}, {synced_at} FROM {STAGE}")
    changed = min(new, gone)
    return Changes(inserted=new - changed, updated=changed, deleted=gone - changed)


@dataclass
class RowChanges:
    """The rows behind Changes, for events: new versions of inserted and updated rows, the
    last known version of deleted ones."""

    inserted: list[dict]
    updated: list[dict]
    deleted: list[dict]


def rows(duck: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cur = duck.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def diff(duck: duckdb.DuckDBPyConnection, table: Table, name: str,
         delete_scope: str | None) -> RowChanges:  # fmt: skip
    """What `apply` with the same arguments is about to change, row by row (staged rows vs
    the replica; call it before apply)."""
    target = quote(name)
    cols = ", ".join(quote(c.name) for c in table.columns)
    scols = ", ".join(f"s.{quote(c.name)}" for c in table.columns)
    tcols = ", ".join(f"t.{quote(c.name)}" for c in table.columns)
    if not table.primary_key:
        new = rows(duck, f"SELECT {cols} FROM {STAGE} EXCEPT ALL SELECT {cols} FROM {target}")
        gone = rows(duck, f"SELECT {cols} FROM {target} EXCEPT ALL SELECT {cols} FROM {STAGE}")
        return RowChanges(new, [], gone)
    inserted = rows(duck, f"SELECT {scols} FROM {STAGE} s WHERE NOT EXISTS "
                           f"(SELECT 1 FROM {target} t WHERE {_on(table)})")  # fmt: skip
    updated = rows(duck, f"SELECT {scols} FROM {STAGE} s JOIN {target} t ON {_on(table)} "
                          f"WHERE {_differs(table)}")  # fmt: skip
    deleted: list[dict] = []
    if delete_scope is not None:
        deleted = rows(duck, f"SELECT {tcols} FROM {target} t WHERE {delete_scope} AND NOT "
                              f"EXISTS (SELECT 1 FROM {STAGE} s WHERE {_on(table)})")  # fmt: skip
    return RowChanges(inserted, updated, deleted)
