"""What a read plan is: Scans (one per table reference) and the SQL DuckDB runs over them.

Plain frozen data, produced by the planner (pure) and consumed by the executor (I/O). EXPLAIN
renders it without sending anything.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from csql.catalog import Table

PAGE_SIZE = 100  # ClickSend's maximum page size
MIN_PAGE_SIZE = 15  # and its minimum


def view_name(scan_id: int, table: str) -> str:
    """The DuckDB view that holds one scan's rows."""
    return f"__csql_scan_{scan_id}_{table}"


_VIEW = re.compile(r'__csql_scan_\d+_(\w+)(?: AS "?([^"\s),]+)"?)?')


def readable(text: str) -> str:
    """Text DuckDB wrote about the rewritten SQL (a column name, an error) as the user wrote it:
    `__csql_scan_3_lists AS lists` -> `lists`, `__csql_scan_3_lists AS "l"` -> `lists AS l`."""

    def back(m: re.Match) -> str:
        table, alias = m.group(1), m.group(2)
        return table if alias in (None, table) else f"{table} AS {alias}"

    return _VIEW.sub(back, text)


@dataclass(frozen=True)
class Values:
    """Key values written in the query (`list_id = 5`, `list_id IN (1, 2)`)."""

    values: tuple[Any, ...]

    def describe(self) -> str:
        return ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class FromScan:
    """Key values taken from a column of another scan, fetched first (dependent scan, fan-out)."""

    scan: int
    column: str
    filter_sql: str | None = None  # that reference's own predicates (DuckDB SQL) ...
    alias: str | None = None  # ... written with this table alias

    def describe(self) -> str:
        where = f" where {self.filter_sql}" if self.filter_sql else ""
        return f"each {self.column} of scan #{self.scan}{where}"


@dataclass(frozen=True)
class FromQuery:
    """Key values computed by an uncorrelated subquery over other scans, fetched first
    (`list_id IN (SELECT list_id FROM lists WHERE list_name = 'VIP')`)."""

    sql: str  # DuckDB SQL over the scans' views, returning the distinct non-null values
    scans: tuple[int, ...]

    def describe(self) -> str:
        return f"each value of subquery over scan(s) {', '.join(f'#{s}' for s in self.scans)}"


KeySource = Values | FromScan | FromQuery


@dataclass(frozen=True)
class Window:
    """Fetch only some pages: the rows [skip, skip + take) in the server's order."""

    page_size: int
    first_page: int
    last_page: int
    skip_in_first: int  # rows of the first fetched page before the wanted ones


class ScanMode(enum.StrEnum):
    """How a scan reads its table (a str, so `scan.mode == "list"` reads naturally)."""

    LIST = "list"  # page the list endpoint once per combination of path-key values
    GET = "get"  # the get endpoint once per key combination (404 = no row)
    COUNT = "count"  # only `total`, one `limit=1` request per key combination
    EMPTY = "empty"  # no request: the query cannot keep any of its rows (WHERE false, LIMIT 0)


@dataclass(frozen=True)
class Scan:
    """How to fetch the rows of one table reference (see ScanMode)."""

    id: int
    table: Table
    view: str
    mode: ScanMode = ScanMode.LIST
    keys: dict[str, KeySource] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    pushed: tuple[str, ...] = ()
    window: Window | None = None
    stream: bool = False  # pages are pulled by DuckDB as it needs them (LIMIT stops fetching)
    hidden: bool = False  # only feeds keys of another scan (a parent fan-out)

    @property
    def empty(self) -> bool:
        return self.mode is ScanMode.EMPTY

    @property
    def depends_on(self) -> tuple[int, ...]:
        out: list[int] = []
        for k in self.keys.values():
            if isinstance(k, FromScan):
                out.append(k.scan)
            elif isinstance(k, FromQuery):
                out.extend(k.scans)
        return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Plan:
    """Scans in dependency order, and the statement for DuckDB over their views."""

    scans: tuple[Scan, ...]
    sql: str
    count_scan: int | None = None  # COUNT(*) answered from `total`: the scan whose total to use
    notes: tuple[str, ...] = ()
    # the statement as the user wrote it, over the views, before any shortcut rewrote it:
    # DuckDB binds this against empty views before any request (a bad column fails first)
    check_sql: str = ""
    # COUNT(*) ... GROUP BY path keys from `total`: the key columns of the count table
    count_keys: tuple[str, ...] = ()

    @property
    def count_table(self) -> str | None:
        """The table the rewritten SQL reads the totals from (COUNT shortcuts only)."""
        return count_table(self.count_scan) if self.count_scan is not None else None


def count_table(scan_id: int) -> str:
    return f"__csql_count_{scan_id}"
