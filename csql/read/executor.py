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

from csql.catalog import Column, Table
from csql.client import Client, Runner
from csql.read import fetch as _fetch
from csql.read.arrow import records_to_arrow, scalar_records, schema_for
from csql.read.fetch import Page, Stream
from csql.read.plan import FromQuery, KeySource, Plan, Scan, Values, readable
from csql.read.planner.literals import NoValue, key_value


class StreamError(Exception):
    """A csql error raised while DuckDB was pulling a streamed scan, carried out of DuckDB."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Executor:
    """Executes plans against one client and one DuckDB connection."""

    def __init__(self, client: Client, runner: Runner, duck: duckdb.DuckDBPyConnection,
                 cache: Any = None) -> None:  # fmt: skip
        self.client = client
        # where pages come from: csql.read.fetch, or the read cache in front of it (cache_ttl)
        self.fetcher = cache if cache is not None else _fetch
        self.runner = runner
        self.duck = duck
        self._registered: list[str] = []

    # -- streams -------------------------------------------------------------------------------

    def key_values(self, source: KeySource, scans: dict[int, Scan], column: Column) -> list[Any]:
        """The values a path key takes, typed like the key column.

        Values written in the query are used as they are (a bad one is refused when the path
        is rendered, naming the parameter). Values that come from data (a join, a subquery,
        a parent table) are converted to the key's type, and a value no key can equal
        (`522.5` for an integer key, text that is not a valid path segment) is skipped: no
        row has that key, so no request is sent for it.
        """
        if isinstance(source, Values):
            return list(source.values)
        if isinstance(source, FromQuery):
            found = [r[0] for r in self.duck.execute(source.sql).fetchall()]
        else:
            view = scans[source.scan].view
            col = _quote(source.column)
            alias = f" AS {_quote(source.alias)}" if source.alias else ""
            where = f" AND ({source.filter_sql})" if source.filter_sql else ""
            sql = f"SELECT DISTINCT {col} FROM {_quote(view)}{alias} WHERE {col} IS NOT NULL{where} ORDER BY 1"
            found = [r[0] for r in self.duck.execute(sql).fetchall()]
        return list(
            dict.fromkeys(v for v in map(lambda v: _as_key(v, column), found) if v is not None)
        )

    def streams(self, scan: Scan, scans: dict[int, Scan]) -> list[Stream]:
        """One stream per combination of key values (none when a key has no values)."""
        endpoint = scan.table.endpoints["get" if scan.mode == "get" else "list"]
        params = dict(scan.params)

        def convert(page: Page) -> pa.Table:
            return self.page_table(scan.table, page, params)

        if scan.empty:
            return []
        names = list(scan.keys)
        value_lists = [self.key_values(scan.keys[n], scans, _key_column(scan, n)) for n in names]
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

    def output_names(self, text: str, tables: dict[str, Table]) -> list[str] | None:
        """Bind the statement *as the user wrote it*; the column names DuckDB gives it.

        The SQL DuckDB runs is regenerated by sqlglot, which spells some expressions its own
        way (`date_trunc('DAY', x)`) and accepts some that DuckDB does not (`LIKE ANY (...)`).
        So the user's own text is bound over empty views named as the user named the tables,
        before any request: a statement DuckDB would refuse (a parser, binder or catalog
        error) is refused with DuckDB's error, and an unaliased column keeps the name DuckDB
        gives its text. None when the text cannot be bound for another reason (then the
        names of the SQL that ran stand).
        """
        made: list[str] = []
        try:
            for name, table in tables.items():
                raw = f"__csql_names_{len(made)}"
                self.duck.register(raw, schema_for(table).empty_table())
                cols = []
                for c in table.columns:
                    q = _quote(c.name)
                    cols.append(f"CAST({q} AS JSON) AS {q}" if c.type == "json" else q)
                self.duck.execute(
                    f"CREATE TEMP VIEW {_quote(name)} AS SELECT {', '.join(cols)} FROM {_quote(raw)}"
                )
                made.append(name)
            return [r[0] for r in self.duck.execute(f"DESCRIBE {text}").fetchall()]
        except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException):
            raise
        except duckdb.Error:
            return None
        finally:
            for i, name in enumerate(made):
                self.duck.execute(f"DROP VIEW IF EXISTS {_quote(name)}")
                self.duck.unregister(f"__csql_names_{i}")

    def validate(self, plan: Plan) -> None:
        """Bind the SQL against empty views first: a bad column fails before any request."""
        for scan in plan.scans:
            self.register(scan, schema_for(scan.table).empty_table())
        self.duck.execute(f"EXPLAIN {plan.check_sql or plan.sql}")

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
            self.validate(plan)  # the statement as written binds, before any request
            for level in _levels(plan, scans):
                level = [s for s in level if s.id != plan.count_scan]
                if level:
                    self._run_level(level, scans)
            if plan.count_scan is not None:
                scan = scans[plan.count_scan]
                self.duck.register(plan.count_table, self._count(scan, scans, plan.count_keys))
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
            if plan.count_table is not None:
                self.duck.unregister(plan.count_table)

    def _count(self, scan: Scan, scans: dict[int, Scan], keys: tuple[str, ...]) -> pa.Table:
        """`total` of every key combination: one row per combination with its key values
        (grouped counts), or one row with the sum (COUNT(*) with no GROUP BY)."""
        streams = self.streams(scan, scans)  # the scans it depends on have run

        async def count_all() -> list[int]:
            return list(await asyncio.gather(
                *(self.fetcher.fetch_total(self.client, s) for s in streams)))  # fmt: skip

        totals = self.runner.run(count_all())
        if not keys:
            return pa.table({"total": pa.array([sum(totals)], pa.int64())})
        schema = schema_for(scan.table)
        columns = {
            k: pa.array([s.keys.get(k) for s in streams], schema.field(k).type) for k in keys
        }
        return pa.table({**columns, "total": pa.array(totals, pa.int64())})

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
                self.fetcher.fetch_streams(self.client, streams, s.mode,
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
                for page in self.fetcher.stream_pages(self.runner, self.client, streams, ahead):
                    table = self.page_table(scan.table, page, scan.params)
                    yield from table.to_batches()
            except Exception as e:
                self._stream_error = e
                raise

        return pa.RecordBatchReader.from_batches(schema, batches())


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


def _key_column(scan: Scan, name: str) -> Column:
    col = scan.table.column(name)
    assert col is not None  # the planner keys scans by their table's columns
    return col


def _as_key(value: Any, column: Column) -> Any:
    """A value from data as the value of a key column, or None if no key can equal it."""
    if value is None:
        return None
    try:
        typed = key_value(value, column)
        text = column.path_value.segment(typed)
    except (NoValue, ValueError):
        return None
    return int(text) if column.type in ("integer", "bigint") else text
