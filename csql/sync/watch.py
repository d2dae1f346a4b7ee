"""Watch a table: each row that appeared, changed or disappeared since the last poll, as an
event `{"event_id", "op", "table", "key", "row", "observed_at"}`.

The state is a small replica (a DuckDB file, or memory for the life of the generator) of the
rows that match `where`, synced with replicate's incremental reads; a poll's events are the
difference between the replica and what ClickSend now holds.

Semantics:
- A first poll with no state starts from now: it records the rows and emits nothing, unless
  `since` is "all" (every row is an insert) or a timestamp (rows whose time column is at or
  after it are inserts).
- At-least-once: the state advances only after every event of a poll was emitted (the
  generator resumed past the last one). A consumer that stops early sees those events again,
  with the same `event_id` (a hash of table, key, operation and row version): de-duplicate on it.
- A poll with no changes emits nothing. `once=True` polls once and returns.

`csql watch sms_inbound` is the inbound-SMS trigger of Power Automate.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from csql.errors import ProgrammingError
from csql.sync.replicate import DEFAULT_LOOKBACK, SessionReader, TableSync
from csql.sync.strategy import resolve_tables, strategy_for
from csql.sync.targets import DuckDBTarget


class Op:
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


def default_state_path(account: str, table: str, where: str | None) -> Path:
    """Where `csql watch` keeps its state without --state: one file per account, table and
    filter, under $XDG_STATE_HOME/csql/watch (default ~/.local/state/csql/watch)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(f"{account}\0{table}\0{where or ''}".encode()).hexdigest()[:12]
    return base / "csql" / "watch" / f"{table}-{digest}.duckdb"


def _plain(value: Any, kind: str | None = None) -> Any:
    """A value as JSON: times in ISO 8601 (UTC), decimals as strings, JSON columns parsed."""
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if kind == "json" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def event_id(table: str, key: dict, op: str, row: dict) -> str:
    """Stable across re-deliveries: the same change of the same row has the same id."""
    version = json.dumps(row, sort_keys=True, default=str)
    raw = json.dumps([table, key, op, version], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _since(value: Any) -> dt.datetime | str | None:
    if value is None or isinstance(value, dt.datetime):
        return (
            value.astimezone(dt.UTC) if isinstance(value, dt.datetime) and value.tzinfo else value
        )
    text = str(value).strip()
    if text.lower() == "all":
        return "all"
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ProgrammingError(
            f"--since takes 'all' or a timestamp (2024-05-01 or 2024-05-01T12:00:00Z), not {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class Watcher:
    """Polls one table into its state replica and turns the differences into events."""

    def __init__(self, session: Any, table: str, where: str | None = None,
                 state: str | os.PathLike | None = None, since: Any = None) -> None:  # fmt: skip
        self.reader = SessionReader(session)
        self.catalog = session.catalog
        self.table = resolve_tables(self.catalog, [table], verb="watch")[0]
        self.strategy = strategy_for(self.table)
        self.where = where
        self.since = _since(since)
        path = str(state) if state is not None else ":memory:"
        if state is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.store = DuckDBTarget(path, self.reader.account)
        self._time_col = self.strategy.column or next(
            (c for c in self.table.columns if c.type == "timestamp"), None
        )
        if isinstance(self.since, dt.datetime) and self._time_col is None:
            raise ProgrammingError(
                f"--since TIMESTAMP needs a time column and {self.table.name} has none; "
                "use --since all"
            )
        if where:
            self._check_where(where)

    def _check_where(self, where: str) -> None:
        """A bad filter fails now, before any request (EXPLAIN validates without sending)."""
        self.reader.session.execute(f'EXPLAIN SELECT * FROM "{self.table.name}" WHERE {where}')

    def close(self) -> None:
        self.store.close()

    def poll(self) -> Iterator[dict]:
        """One poll's events; the state commits when the last one has been taken."""
        sync = TableSync(self.reader, self.catalog, self.store, self.strategy,
                         uuid.uuid4().hex[:12], DEFAULT_LOOKBACK, self.where, collect=True)  # fmt: skip
        first = not sync.has_state()
        sync.apply(full=False)
        done = False
        try:
            observed = dt.datetime.now(dt.UTC).isoformat()
            if not first or self.since is not None:
                yield from self._events(sync, first, observed)
            done = True
        finally:
            if done:
                sync.commit()
            else:
                sync.rollback()

    def _events(self, sync: TableSync, first: bool, observed: str) -> Iterator[dict]:
        changed = sync.changed
        groups = [(Op.INSERT, changed.inserted), (Op.UPDATE, changed.updated),
                  (Op.DELETE, changed.deleted)]  # fmt: skip
        for op, rows in groups:
            for row in rows:
                if first and not self._since_ok(row):
                    continue
                yield self._event(op, row, observed)

    def _since_ok(self, row: dict) -> bool:
        if self.since == "all":
            return True
        value = row.get(self._time_col.name)
        return value is not None and value >= self.since

    def _event(self, op: str, row: dict, observed: str) -> dict:
        kinds = {c.name: c.type for c in self.table.columns}
        plain = {k: _plain(v, kinds.get(k)) for k, v in row.items() if k in kinds}
        key = {k: plain.get(k) for k in self.table.primary_key}
        return {"event_id": event_id(self.table.name, key, op, plain), "op": op,
                "table": self.table.name, "key": key, "row": plain, "observed_at": observed}  # fmt: skip


def watch(session: Any, table: str, where: str | None = None, state: str | None = None,
          interval: float = 60.0, once: bool = False, since: Any = None) -> Iterator[dict]:  # fmt: skip
    """conn.watch(): events as a generator; polls every `interval` seconds until closed."""
    if interval is None or interval < 0:
        raise ProgrammingError("interval is a number of seconds (>= 0)")
    watcher = Watcher(session, table, where, state, since)
    return _loop(watcher, float(interval), once)


def _loop(watcher: Watcher, interval: float, once: bool) -> Iterator[dict]:
    try:
        while True:
            yield from watcher.poll()
            if once:
                return
            time.sleep(interval)
    finally:
        watcher.close()
