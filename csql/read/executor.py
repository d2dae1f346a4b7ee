"""Run a read Plan: fetch each scan's pages, land them in DuckDB as Arrow, run the SQL.

Scans run in dependency order: a scan whose keys come from another scan (a parent fan-out or
a dependent join) waits for that scan, reads the distinct key values from DuckDB, and opens
one request stream per value. Independent scans of one level are fetched concurrently.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa

from csql.catalog import Table
from csql.client import Client, Runner
from csql.read.arrow import records_to_arrow, scalar_records, schema_for
from csql.read.fetch import Page, Stream, fetch_streams, fetch_total, stream_pages
from csql.read.plan import FromQuery, KeySource, Plan, Scan, Values, readable


class StreamError(Exception):
    """A csql error raised while DuckDB was pulling a streamed scan, carried out of DuckDB."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Executor:
    """Executes plans against one client and one DuckDB connection."""

    def __init__(self, client: Client, runner: Runner, duck: duckdb.DuckDBPyConnection) -> None:
        self.client = client
        self.runner = runner
        self.duck = duck
        self._registered: list[str] = []

    # -- streams -------------------------------------------------------------------------------

    def key_values(self, source: KeySource, scans: dict[int, Scan]) -> list[Any]:
        if isinstance(source, Values):
            return list(source.values)
        if isinstance(source, FromQuery):
            return [r[0] for r in self.duck.execute(source.sql).fetchall()]
        view = scans[source.scan].view
        col = _quote(source.column)
        alias = f" AS {_quote(source.alias)}" if source.alias else ""
        where = f" AND ({source.filter_sql})" if source.filter_sql else ""
        sql = f"SELECT DISTINCT {col} FROM {_quote(view)}{alias} WHERE {col} IS NOT NULL{where} ORDER BY 1"
        return [r[0] for r in self.duck.execute(sql).fetchall()]

    def streams(self, scan: Scan, scans: dict[int, Scan]) -> list[Stream]:
        """One stream per combination of key values (none when a key has no values)."""
        endpoint = scan.table.endpoints["get" if scan.mode == "get" else "list"]
        params = dict(scan.params)

        def convert(page: Page) -> pa.Table:
            return self.page_table(scan.table, page, params)

        names = list(scan.keys)
        value_lists = [self.key_values(scan.keys[n], scans) for n in names]
        out = []
        for combo in itertools.product(*value_lists):
            keys = dict(zip(names, combo, strict=True))
            out.append(Stream(endpoint, endpoint.render(keys), dict(scan.params), keys, convert))
        return out

    # -- Arrow ---------------------------------------------------------------------------------

    @staticmethod
    def to_arrow(table: Table, pages: list[Page], params: dict[str, str]) -> pa.Table:
        batches = [Executor.page_table(table, p, params) for p in pages]
        batches = [b for b in batches if b.num_rows]
        if not batches:
            return schema_for(table).empty_table()
        return pa.concat_tables(batches)

    @staticmethod
    def page_table(table: Table, page: Page, params: dict[str, str]) -> pa.Table:
        if page.table is not None:  # converted when it arrived
            return page.table
        records = page.records
        if records and not isinstance(records[0], dict):
            records = scalar_records(records, table)
        fixed = dict(page.stream.keys)
        for col in table.columns:
            if col.filter_param and col.filter_param in params:
                fixed.setdefault(col.name, params[col.filter_param])
        return records_to_arrow(records, table, fixed)

    def register(self, scan: Scan, data: pa.Table | pa.RecordBatchReader) -> None:
        """Expose a scan's rows to DuckDB under its view name (JSON columns typed as JSON)."""
        raw = f"{scan.view}__raw"
        self.duck.register(raw, data)
        cols = []
        for c in scan.table.columns:
            q = _quote(c.name)
            cols.append(f"CAST({q} AS JSON) AS {q}" if c.type == "json" else q)
        self.duck.execute(
            f"CREATE OR REPLACE TEMP VIEW {_quote(scan.view)} AS SELECT {', '.join(cols)} FROM {_quote(raw)}"
        )
        if scan.view not in self._registered:
            self._registered.append(scan.view)

    def validate(self, plan: Plan) -> None:
        """Bind the SQL against empty views first: a bad column fails before any request."""
        for scan in plan.scans:
            self.register(scan, schema_for(scan.table).empty_table())
        count = f"__csql_count_{plan.count_scan}" if plan.count_scan is not None else None
        if count:
            self.duck.register(count, pa.table({"total": pa.array([], pa.int64())}))
        try:
            self.duck.execute(f"EXPLAIN {plan.sql}")
        finally:
            if count:
                self.duck.unregister(count)

    def cleanup(self) -> None:
        for view in self._registered:
            self.duck.execute(f"DROP VIEW IF EXISTS {_quote(view)}")
            self.duck.unregister(f"{view}__raw")
        self._registered.clear()

    # -- running -------------------------------------------------------------------------------

    def run(self, plan: Plan) -> pa.Table:
        scans = {s.id: s for s in plan.scans}
        self._stream_error: BaseException | None = None
        try:
            if plan.count_scan is not None:
                total = self._count(scans[plan.count_scan], scans)
                self.duck.register(
                    f"__csql_count_{plan.count_scan}",
                    pa.table({"total": pa.array([total], pa.int64())}),
                )
                return self.duck.sql(plan.sql).to_arrow_table()
            self.validate(plan)
            for level in _levels(plan, scans):
                self._run_level(level, scans)
            try:
                result = self.duck.sql(plan.sql).to_arrow_table()
                # unaliased expressions are named by their text: give back the user's names
                return result.rename_columns([readable(n) for n in result.column_names])
            except duckdb.Error:
                if self._stream_error is not None:  # the real cause, not DuckDB's wrapper
                    raise StreamError(self._stream_error) from None
                raise
        finally:
            self.cleanup()
            if plan.count_scan is not None:
                self.duck.unregister(f"__csql_count_{plan.count_scan}")

    def _count(self, scan: Scan, scans: dict[int, Scan]) -> int:
        for dep in _deps_in_order(scan, scans):
            self._run_level([dep], scans)
        streams = self.streams(scan, scans)

        async def count_all() -> int:
            return sum(await asyncio.gather(*(fetch_total(self.client, s) for s in streams)))

        return self.runner.run(count_all())

    def _run_level(self, level: list[Scan], scans: dict[int, Scan]) -> None:
        eager = [s for s in level if not s.stream]
        for s in level:
            if s.stream:
                self.register(s, self._reader(s, scans))
        if not eager:
            return
        plans = [(s, self.streams(s, scans)) for s in eager]
        for s, streams in plans:
            pages = (s.window.last_page - s.window.first_page + 1) if s.window else 1
            self.client.stats.expect(len(streams) * pages)

        async def fetch_all() -> list[list[Page]]:
            return list(await asyncio.gather(*(
                fetch_streams(self.client, streams, s.mode,
                              (s.window.page_size, s.window.first_page, s.window.last_page) if s.window else None)
                for s, streams in plans
            )))  # fmt: skip

        results = self.runner.run(fetch_all())
        for (scan, _), pages in zip(plans, results, strict=True):
            self.register(scan, self.to_arrow(scan.table, pages, scan.params))

    def _reader(self, scan: Scan, scans: dict[int, Scan]) -> pa.RecordBatchReader:
        streams = self.streams(scan, scans)
        self.client.stats.expect(len(streams))
        schema = schema_for(scan.table)
        ahead = int(self.client.options["concurrency"])

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for page in stream_pages(self.runner, self.client, streams, ahead):
                    table = self.page_table(scan.table, page, scan.params)
                    yield from table.to_batches()
            except Exception as e:
                self._stream_error = e
                raise

        return pa.RecordBatchReader.from_batches(schema, batches())


def _deps_in_order(scan: Scan, scans: dict[int, Scan]) -> list[Scan]:
    out: list[Scan] = []
    for d in scan.depends_on:
        for x in _deps_in_order(scans[d], scans):
            if x not in out:
                out.append(x)
        if scans[d] not in out:
            out.append(scans[d])
    return out


def _levels(plan: Plan, scans: dict[int, Scan]) -> list[list[Scan]]:
    """Scans grouped so that each group depends only on earlier groups."""
    depth: dict[int, int] = {}
    for s in plan.scans:  # already topologically ordered
        depth[s.id] = 1 + max((depth[d] for d in s.depends_on), default=-1)
    levels: dict[int, list[Scan]] = {}
    for s in plan.scans:
        levels.setdefault(depth[s.id], []).append(s)
    # a scan that feeds keys to another must be materialized, never streamed
    feeders = {d for s in plan.scans for d in s.depends_on}
    return [
        [s if s.id not in feeders else _materialized(s) for s in levels[k]] for k in sorted(levels)
    ]


def _materialized(scan: Scan) -> Scan:
    from dataclasses import replace

    return replace(scan, stream=False) if scan.stream else scan
