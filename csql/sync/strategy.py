"""How each table is kept in sync, derived from the catalog (never from table names).

A table whose list endpoint takes `updated_after` on a column is read incrementally from that
column's high-water mark (contacts); one whose endpoint takes `date_from` is read from its
high-water mark minus a lookback, because messages change status after they were created
(message histories); every other table is small and re-read in full, which is also how its
deleted rows are noticed. A table without a primary key (one-row statistics) is replaced.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from csql.catalog import Catalog, Column, Table
from csql.errors import ProgrammingError


class Mode(enum.Enum):
    """How one run reads a table."""

    FULL = "full"  # every row; the replica becomes exactly that listing (deletes included)
    INCREMENTAL = "incremental"  # rows changed since the cursor, then a cheap delete check


class Cursor(enum.Enum):
    """Which kind of server-side filter moves the cursor."""

    NONE = "none"  # no date filter: always a full re-read
    UPDATED_AFTER = "updated_after"  # rows updated after a time (exact for updates)
    DATE_FROM = "date_from"  # rows created since a time (status changes need a lookback)


@dataclass(frozen=True)
class Strategy:
    """What replicate does with one table."""

    table: Table
    cursor: Cursor
    column: Column | None  # the cursor column (a timestamp the list endpoint filters on)
    fanout: Column | None  # the path key fanned out over a parent (contacts: list_id)
    parent: str | None  # the fan-out parent table (lists)
    parent_count: str | None  # the parent's column counting this table's rows per parent

    @property
    def key(self) -> tuple[str, ...]:
        return self.table.primary_key

    @property
    def incremental(self) -> bool:
        return self.cursor is not Cursor.NONE and bool(self.key)

    @property
    def partition_column(self) -> Column | None:
        """The timestamp whose month partitions a lake table (None: account only)."""
        return self.column


def strategy_for(table: Table) -> Strategy:
    column, cursor = None, Cursor.NONE
    for c in table.columns:
        if c.type == "timestamp" and c.range_after:
            column, cursor = c, Cursor.UPDATED_AFTER
            break
        if c.type == "timestamp" and c.range_lower and column is None:
            column, cursor = c, Cursor.DATE_FROM
    fanout = next((c for c in table.path_keys if c.fanout), None)
    parent = fanout.fanout.split(".", 1)[0] if fanout and fanout.fanout else None
    count = None
    if table.count_per_parent and parent and table.count_per_parent.startswith(parent + "."):
        count = table.count_per_parent.split(".", 1)[1]
    return Strategy(table, cursor, column, fanout, parent, count)


def default_tables(catalog: Catalog) -> list[Table]:
    """Every table that can be listed without a key the user must give."""
    return [t for t in catalog.tables if not t.required_keys]


def resolve_tables(
    catalog: Catalog, names: list[str] | None, verb: str = "replicate"
) -> list[Table]:
    """The tables to replicate (names or Skyvia aliases); none: every default table."""
    if not names:
        return default_tables(catalog)
    out: list[Table] = []
    for name in names:
        table = catalog.table(name)
        if table is None:
            hint = catalog.suggest_table(name)
            more = f"; did you mean {', '.join(hint)}?" if hint else ""
            raise ProgrammingError(
                f"unknown table {name!r} to {verb}{more} (SHOW TABLES lists them)"
            )
        if table.required_keys:
            keys = ", ".join(c.name for c in table.required_keys)
            raise ProgrammingError(
                f"cannot {verb} {table.name}: listing it needs {keys}, which only a "
                f"query can give (SELECT ... FROM {table.name} WHERE {table.required_keys[0].name} = ...)"
            )
        if table not in out:
            out.append(table)
    return out
