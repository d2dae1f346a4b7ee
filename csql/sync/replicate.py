"""Keep a local copy of ClickSend tables: a full load first, then incremental runs.

Reads go through csql's own read path (SQL through the session: pushdown, paging, rate
limits, retries of what the catalog declares safe), so a replicate run behaves exactly like
the queries it is made of. Per table, one transaction holds the rows and the cursor state.

Deletes are applied only from listings that completed (a failed read raises before anything
is written): small tables are re-read in full; a table with a fan-out parent that counts its
rows (contacts: lists._contacts_count) is reconciled only for the parents whose count
disagrees with the replica; other incremental tables compare the listing's `total` with the
replica's count and re-read in full only when they differ.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import pyarrow as pa

from csql.client import BadRequest
from csql.errors import Error, OperationalError, ProgrammingError
from csql.sync import merge, state
from csql.sync.merge import Changes, quote, sql_string
from csql.sync.state import ScopeState, timestamp_sql
from csql.sync.strategy import Cursor, Mode, Strategy, resolve_tables, strategy_for
from csql.sync.targets import Format, Target, open_target

DEFAULT_LOOKBACK = dt.timedelta(days=3)  # message statuses settle within a few days
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str | float | dt.timedelta | None) -> dt.timedelta:
    """`3d`, `12h`, `90m`, `30s`, `1w`, a number of seconds or a timedelta."""
    if value is None:
        return DEFAULT_LOOKBACK
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float):
        return dt.timedelta(seconds=value)
    m = _DURATION.match(str(value))
    if not m:
        raise ProgrammingError(
            f"not a duration: {value!r} (write a number with s, m, h, d or w: 3d, 12h)"
        )
    return dt.timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


class Status(enum.Enum):
    """How one table's run ended."""

    OK = "ok"
    FAILED = "failed"  # rolled back; the next run tries again
    SKIPPED = "skipped"  # ClickSend refused to list it without a filter (default tables only)


class Reader(Protocol):
    """What replicate needs of a connection: SQL in, Arrow out, and a request counter."""

    account: str

    def read(self, sql: str) -> pa.Table: ...

    def requests(self) -> int: ...


class SessionReader:
    """A Reader over an engine Session (the DB-API connection's, or the shell's)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.catalog = session.catalog
        self.account = session.client.username or "anonymous"

    def read(self, sql: str) -> pa.Table:
        """Fresh rows: a replica or a watch must see changes made outside csql, so the read
        cache (cache_ttl) is bypassed."""
        cache = getattr(self.session, "cache", None)
        enabled = cache.enabled if cache is not None else None
        if cache is not None:
            cache.enabled = False
        try:
            return self.session.execute(sql).table
        finally:
            if cache is not None:
                cache.enabled = enabled

    def requests(self) -> int:
        return self.session.client.stats.requests


@dataclass
class TableReport:
    """What one run did to one table."""

    table: str
    mode: str = Mode.FULL.value
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    requests: int = 0
    duration: float = 0.0  # seconds
    rows: int = 0  # rows in the replica after the run
    status: str = "ok"
    error: str | None = None
    reconciled: list = field(default_factory=list)  # parents re-read in full (list ids)

    # the same figures under the names a report table uses
    @property
    def rows_inserted(self) -> int:
        return self.inserted

    @property
    def rows_updated(self) -> int:
        return self.updated

    @property
    def rows_deleted(self) -> int:
        return self.deleted

    def as_dict(self) -> dict:
        return asdict(self)


REPORT_SCHEMA = pa.schema([
    ("table_name", pa.string()), ("mode", pa.string()), ("inserted", pa.int64()),
    ("updated", pa.int64()), ("deleted", pa.int64()), ("requests", pa.int64()),
    ("duration_s", pa.float64()), ("rows", pa.int64()), ("status", pa.string()),
    ("error", pa.string()),
])  # fmt: skip


def reports_table(reports: dict[str, TableReport]) -> pa.Table:
    """The reports as rows (what `REPLICATE ... TO` returns)."""
    rows = [{"table_name": r.table, "mode": r.mode, "inserted": r.inserted, "updated": r.updated,
             "deleted": r.deleted, "requests": r.requests, "duration_s": round(r.duration, 3),
             "rows": r.rows, "status": r.status, "error": r.error} for r in reports.values()]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=REPORT_SCHEMA)


class ReplicationError(OperationalError):
    """Some tables could not be synced; the others were committed. `reports` has them all."""

    def __init__(self, message: str, reports: dict[str, TableReport]) -> None:
        super().__init__(message)
        self.reports = reports


def replicate(
    reader: Reader,
    catalog: Any,
    target: str,
    tables: list[str] | None = None,
    full: bool = False,
    lookback: str | float | dt.timedelta | None = None,
    format: str | Format | None = None,
    progress: Callable[[TableReport], None] | None = None,
) -> dict[str, TableReport]:
    """Sync `tables` (default: every table listable without a key) into `target`.

    Returns a report per table. When a table fails (its rows and state are rolled back, the
    others are kept), raises ReplicationError carrying every report: run again to converge.
    """
    fmt = Format.parse(format, str(target))
    window = parse_duration(lookback)
    chosen = resolve_tables(catalog, list(tables) if tables else None)
    run_id = uuid.uuid4().hex[:12]
    out: dict[str, TableReport] = {}
    store = open_target(str(target), fmt, reader.account)
    try:
        for table in chosen:
            sync = TableSync(reader, catalog, store, strategy_for(table), run_id, window)
            report = sync.run(full, skip_refused=not tables)
            out[table.name] = report
            if progress is not None:
                progress(report)
    finally:
        store.close()
    failed = [r for r in out.values() if r.status == Status.FAILED.value]
    if failed:
        names = ", ".join(f"{r.table} ({r.error})" for r in failed)
        raise ReplicationError(
            f"replicate could not sync {len(failed)} of {len(out)} table(s): {names}. The other "
            "tables were committed; run replicate again to converge", out
        )  # fmt: skip
    return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TableSync:
    """One table's run: read what changed, apply it, move the cursor, in one commit."""

    def __init__(self, reader: Reader, catalog: Any, store: Target, strategy: Strategy,
                 run_id: str, lookback: dt.timedelta, where: str | None = None,
                 collect: bool = False) -> None:  # fmt: skip
        self.reader, self.catalog, self.store = reader, catalog, store
        self.s, self.table, self.run_id, self.lookback = strategy, strategy.table, run_id, lookback
        self.duck = store.duck
        self.name = self.table.name
        self.where = where  # watch --where: the replica holds only the rows that match
        self.collect = collect  # watch: keep the changed rows themselves
        self.changed = merge.RowChanges([], [], [])

    # -- reading (csql's read path) -------------------------------------------------------------

    def _filter(self, where: str | None) -> str:
        parts = [f"({w})" for w in (self.where, where) if w]
        return f" WHERE {' AND '.join(parts)}" if parts else ""

    def _select(self, where: str | None = None) -> pa.Table:
        return self.reader.read(f"SELECT * FROM {quote(self.name)}{self._filter(where)}")

    def _count_remote(self) -> int:
        sql = f"SELECT count(*) AS n FROM {quote(self.name)}{self._filter(None)}"
        return int(self.reader.read(sql).column(0)[0].as_py())

    # -- the run ---------------------------------------------------------------------------------

    def run(self, full: bool, skip_refused: bool = False) -> TableReport:
        """Sync and commit; a csql error leaves the table as it was (reported as failed).

        skip_refused: a listing ClickSend refuses as a bad request (a filter it requires that
        the catalog cannot supply) is skipped, not failed: for runs over every default table."""
        started, before, t0 = _now(), self.reader.requests(), time.monotonic()
        try:
            report = self.apply(full)
        except Error as e:
            status = Status.SKIPPED if skip_refused and isinstance(e, BadRequest) else Status.FAILED
            report = TableReport(self.name, status=status.value, error=str(e))
            report.requests = self.reader.requests() - before
            report.duration = time.monotonic() - t0
            with contextlib.suppress(Exception):  # recording a failure must not hide it
                self.store.record_failure(self._run_row(report, started))
            return report
        self.commit()
        return report

    def has_state(self) -> bool:
        self.store.prepare(self.s)
        return "" in state.load(self.duck, self.store.account, self.name)

    def apply(self, full: bool) -> TableReport:
        """Read and apply the changes, rows and state, in a transaction left open for
        commit() or rollback() (watch emits its events in between)."""
        report = TableReport(self.name)
        self._started, before, t0 = _now(), self.reader.requests(), time.monotonic()
        self.store.prepare(self.s)
        states = state.load(self.duck, self.store.account, self.name)
        incremental = not full and self.s.incremental and "" in states and states[""].cursor
        self.store.begin()
        try:
            if incremental:
                report.mode = Mode.INCREMENTAL.value
                changes, new_states, dropped = self._incremental(states, report)
            else:
                report.mode = Mode.FULL.value
                changes, new_states, dropped = self._full(states)
            report.inserted, report.updated, report.deleted = (
                changes.inserted, changes.updated, changes.deleted)  # fmt: skip
            report.rows = self._local_count()
            report.requests = self.reader.requests() - before
            report.duration = time.monotonic() - t0
            state.save(self.duck, self.store.account, new_states, dropped)
            state.record_run(self.duck, self._run_row(report, self._started))
        except BaseException:
            self.store.rollback()
            raise
        return report

    def commit(self) -> None:
        self.store.commit(self.s)

    def rollback(self) -> None:
        self.store.rollback()

    def _run_row(self, report: TableReport, started: dt.datetime) -> dict:
        return {"run_id": self.run_id, "account": self.store.account, "table_name": self.name,
                "mode": report.mode, "started_at": started, "finished_at": _now(),
                "inserted": report.inserted, "updated": report.updated, "deleted": report.deleted,
                "requests": report.requests, "status": report.status, "error": report.error}  # fmt: skip

    def _synced_at(self) -> str:
        return f"TIMESTAMPTZ {sql_string(_now().isoformat())}"

    def _apply(self, rows: pa.Table, scope: str | None) -> Changes:
        merge.stage(self.duck, self.table, rows)
        if self.collect:
            found = merge.diff(self.duck, self.table, self.name, scope)
            self.changed.inserted += found.inserted
            self.changed.updated += found.updated
            self.changed.deleted += found.deleted
        return merge.apply(self.duck, self.table, self.name, self._synced_at(), scope)

    def _local_count(self, where: str = "TRUE") -> int:
        return int(
            self.duck.execute(
                f"SELECT count(*) FROM {quote(self.name)} t WHERE {where}"
            ).fetchall()[0][0]
        )

    # -- full ------------------------------------------------------------------------------------

    def _full(self, states: dict[str, ScopeState]) -> tuple[Changes, list[ScopeState], list[str]]:
        rows = self._select()
        changes = self._apply(rows, "TRUE")
        now = _now()
        table_state = self._table_state(now)
        scopes = self._parent_states(now, reconciled=None)
        dropped = [s for s in states if s and s not in {p.scope for p in scopes}]
        return changes, [table_state, *scopes], dropped

    def _table_state(
        self, last_full: dt.datetime | None, old: ScopeState | None = None
    ) -> ScopeState:
        cursor, boundary = self._high_water()
        if old is not None and cursor is None:
            cursor = old.cursor
        return ScopeState(self.name, "", cursor, boundary,
                          last_full if last_full else (old.last_full if old else None),
                          self._local_count())  # fmt: skip

    def _high_water(self) -> tuple[dt.datetime | None, list]:
        """The cursor column's maximum in the replica, and the keys of the rows exactly there."""
        col = self.s.column
        if col is None or not self.s.key:
            return None, []
        c = quote(col.name)
        top = self.duck.execute(f"SELECT max({c}) FROM {quote(self.name)}").fetchall()[0][0]
        if top is None:
            return None, []
        if top > _now():  # a message scheduled for later must not hide the ones sent until then
            return _now(), []
        keys = ", ".join(quote(k) for k in self.s.key)
        found = self.duck.execute(
            f"SELECT {keys} FROM {quote(self.name)} WHERE {c} = ? ORDER BY ALL", [top]
        ).fetchall()
        return top, [list(k) for k in found]

    def _parent_states(self, now: dt.datetime, reconciled: set | None,
                       old: dict[str, ScopeState] | None = None) -> list[ScopeState]:  # fmt: skip
        """Per fan-out parent (contacts: per list): cursor, last full read, rows."""
        if self.s.fanout is None or self.s.parent_count is None or self.where:
            return []
        col = quote(self.s.fanout.name)
        cursor = self.duck.execute(
            f"SELECT {col}, count(*) FROM {quote(self.name)} GROUP BY ALL"
        ).fetchall()
        table_cursor, _ = self._high_water()
        out = []
        for value, n in cursor:
            scope = f"{self.s.fanout.name}={value}"
            prev = (old or {}).get(scope)
            full = reconciled is None or value in reconciled
            last_full = now if full else (prev.last_full if prev else None)
            out.append(ScopeState(self.name, scope, table_cursor, [], last_full, n))
        return out

    # -- incremental -----------------------------------------------------------------------------

    def _since(self, cursor: dt.datetime) -> dt.datetime:
        if self.s.cursor is Cursor.DATE_FROM:
            return cursor - self.lookback
        return cursor

    def _incremental(self, states: dict[str, ScopeState],
                     report: TableReport) -> tuple[Changes, list[ScopeState], list[str]]:  # fmt: skip
        old = states[""]
        col = quote(self.s.column.name)
        rows = self._select(f"{col} >= {timestamp_sql(self._since(old.cursor))}")
        changes = self._apply(rows, None)
        now = _now()
        if self.s.parent_count is not None and not self.where:
            reconciled, more = self._reconcile_parents(states)
            changes += more
            report.reconciled = sorted(reconciled)
            scopes = self._parent_states(now, reconciled, states)
            dropped = [s for s in states if s and s not in {p.scope for p in scopes}]
            return changes, [self._table_state(None, old), *scopes], dropped
        if self._count_remote() != self._local_count():
            # rows disappeared (or appeared outside the window): a full listing settles it
            changes += self._apply(self._select(), "TRUE")
            return changes, [self._table_state(now, old)], []
        return changes, [self._table_state(None, old)], []

    def _reconcile_parents(self, states: dict[str, ScopeState]) -> tuple[set, Changes]:
        """Re-read in full only the parents whose row count disagrees with the replica (or
        that are new); drop the rows of parents that no longer exist."""
        parent = self.catalog.table(self.s.parent)
        key = self.s.fanout.fanout.split(".", 1)[1]
        counts = self.reader.read(
            f"SELECT {quote(key)} AS k, {quote(self.s.parent_count)} AS n FROM {quote(parent.name)}"
        ).to_pylist()
        remote = {r["k"]: r["n"] for r in counts}
        col = quote(self.s.fanout.name)
        local = dict(
            self.duck.execute(
                f"SELECT {col}, count(*) FROM {quote(self.name)} GROUP BY ALL"
            ).fetchall()
        )
        known = {s.split("=", 1)[1] for s in states if s}
        todo = {
            k for k, n in remote.items() if n is None or local.get(k, 0) != n or str(k) not in known
        }
        changes = Changes()
        gone = [k for k in local if k not in remote]
        if gone:  # the parents listing completed: these parents are gone, and their rows
            values = ", ".join(sql_string(str(v)) for v in gone)
            n = self._local_count(f"CAST(t.{col} AS VARCHAR) IN ({values})")
            if self.collect:
                self.changed.deleted += merge.rows(
                    self.duck, f"SELECT * EXCLUDE ({quote(merge.SYNCED_AT)}) FROM "
                    f"{quote(self.name)} WHERE CAST({col} AS VARCHAR) IN ({values})")  # fmt: skip
            self.duck.execute(
                f"DELETE FROM {quote(self.name)} WHERE CAST({col} AS VARCHAR) IN ({values})"
            )
            changes.deleted += n
        if todo:
            values = ", ".join(_literal(v) for v in sorted(todo))
            rows = self._select(f"{col} IN ({values})")
            changes += self._apply(rows, f"t.{col} IN ({values})")
        return todo, changes


def _literal(value: Any) -> str:
    if isinstance(value, int | float):
        return str(value)
    return sql_string(str(value))
