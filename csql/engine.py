"""Runs statements: metadata from the catalog, queries in DuckDB.

A Session owns one in-process DuckDB connection with the metadata tables registered. It is
the only place that knows about both the catalog and DuckDB; the DB-API cursor hands it SQL
and gets back an Arrow table.
"""

from __future__ import annotations

import contextlib
import decimal
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from csql import binder, diagnostics, metadata, sqltext
from csql.catalog import Catalog, Procedure, Table
from csql.client import Client, Runner
from csql.errors import (
    DataError,
    Error,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from csql.read.arrow import convert, extract_records, records_to_arrow
from csql.read.executor import Executor, StreamError
from csql.read.explain import explain_plan
from csql.read.planner import plan_query
from csql.secrets import Secrets
from csql.sqltext import Kind
from csql.sync import cache
from csql.sync.statement import replicate_statement
from csql.write import dml, writer
from csql.write.procedures import Call, batch, build_request, parse_call

#: ClickSend's per-message status of a message it queued (Application Status Codes)
ACCEPTED = frozenset({"SUCCESS"})


def message_statuses(records: list[Any]) -> list[str] | None:
    """The per-message `status` of a send's result rows, or None when the rows have none."""
    rows = [r for r in records if isinstance(r, dict)]
    if not rows or not all("status" in r for r in rows):
        return None
    return [str(r.get("status") or "").upper() for r in rows]


def refusal_warnings(name: str, statuses: list[str]) -> tuple[str, ...]:
    """One warning saying how many messages ClickSend refused and why (count per status)."""
    refused: dict[str, int] = {}
    for s in statuses:
        if s not in ACCEPTED:
            refused[s or "UNKNOWN"] = refused.get(s or "UNKNOWN", 0) + 1
    if not refused:
        return ()
    why = ", ".join(f"{s} x{n}" for s, n in sorted(refused.items(), key=lambda kv: -kv[1]))
    total = sum(refused.values())
    return (
        f"CALL {name}: ClickSend refused {total} of {len(statuses)} message(s) ({why}); "
        "they were not sent and cost nothing. The result rows' `status` says which; "
        "rowcount counts only the accepted ones.",
    )


def price_quote(data: Any) -> Any:
    """The totals of a price endpoint's answer. Most give total_price/total_count; the email
    price answers with the quoted email(s) instead (reference: a page of items with `price`,
    or one item), so their prices are summed."""
    if not isinstance(data, dict):
        return data
    keys = ("total_price", "total_count", "queued_count", "_currency")
    quote = {k: v for k, v in data.items() if k in keys}
    if "total_price" in quote:
        return quote
    items = data.get("data") if isinstance(data.get("data"), list) else [data]
    prices = [i.get("price") for i in items if isinstance(i, dict) and i.get("price") is not None]
    if prices:
        total = sum(decimal.Decimal(str(p)) for p in prices)
        quote.update(total_price=format(total, "f"), total_count=len(prices))
    return quote


@dataclass
class Result:
    """What a statement produced: rows (possibly none) and the affected-row count."""

    table: pa.Table | None
    rowcount: int = -1
    #: what the statement did that the user should know although it did not fail (messages
    #: that ClickSend refused one by one); the cursor records them as csql.Warning
    warnings: tuple[str, ...] = ()


FILE_ACCESS_OFF = (
    "local file access is off for this connection (read_csv, read_parquet, COPY, ATTACH and "
    "other file functions), so SQL from users cannot read or write the machine's files; "
    "connect with csql.connect(..., file_access=True) (or ?file_access=true in a clicksend:// "
    "URL) if this program should use local files"
)


def _mask_error(error: Error, secrets: Secrets) -> None:
    """The error's message with the connection's secrets masked, in place (its class and
    attributes, such as a write report, stay as they are)."""
    masked = tuple(secrets.mask(a) if isinstance(a, str) else a for a in error.args)
    if masked != error.args:
        error.args = masked


def duckdb_config(options: Mapping[str, Any]) -> dict[str, Any]:
    """DuckDB's settings for a session: no local files or extension downloads unless
    `file_access` is on (DuckDB refuses to turn it back on while the database runs)."""
    if options.get("file_access"):
        return {}
    return {"enable_external_access": False}


def _check_kind(tree: exp.Expression) -> None:
    """Only queries, INSERT, UPDATE and DELETE reach ClickSend; say so before resolving names."""
    if isinstance(tree, exp.Query | exp.Insert | exp.Update | exp.Delete):
        return
    kind = tree.key.upper() if not isinstance(tree, exp.Command) else str(tree.this).upper()
    raise NotSupportedError(
        f"{kind} statements are not supported: csql's tables are ClickSend's objects "
        "(SELECT, INSERT, UPDATE, DELETE, CALL, EXPLAIN, SHOW TABLES, DESCRIBE)"
    )


def _request_table(rows: list[dict]) -> pa.Table:
    schema = pa.schema([("row", pa.int32()), ("method", pa.string()), ("path", pa.string()),
                        ("query", pa.string()), ("body", pa.string())])  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def records_table(records: list[Any], like: Table | None = None) -> pa.Table:
    """What an action returned, as rows: one column per field; a field that `like` has as a
    column gets that column's type (a sent SMS's `date` is a timestamp, as in sms_history),
    other nested values become JSON text."""
    rows = [r if isinstance(r, dict) else {"value": r} for r in records]
    names = list(dict.fromkeys(k for r in rows for k in r))
    if not names:
        return pa.table({"result": pa.array([], pa.string())})
    cols = {}
    for n in names:
        vals = [r.get(n) for r in rows]
        column = like.column(n) if like is not None else None
        if column is not None:
            try:
                cols[n] = convert(vals, column)
                continue
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                pass  # an odd value: keep it as ClickSend sent it
        if any(isinstance(v, dict | list) for v in vals):
            vals = [json.dumps(v) if v is not None else None for v in vals]
        try:
            cols[n] = pa.array(vals)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            cols[n] = pa.array([None if v is None else str(v) for v in vals], pa.string())
    return pa.table(cols)


class Session:
    """One DuckDB connection, one ClickSend client and the catalog; one statement at a time."""

    def __init__(
        self, catalog: Catalog, client: Client, options: Mapping[str, Any] | None = None
    ) -> None:
        self.catalog = catalog
        self.client = client
        self.options = dict(options or {})
        self.runner: Runner | None = None
        self.statement: str | None = None  # the user's text of the statement running
        self.duck = duckdb.connect(":memory:", config=duckdb_config(self.options))
        self.duck.execute("SET TimeZone = 'UTC'")  # ClickSend's times are Unix seconds (UTC)
        self.cache = cache.for_session(catalog, client, self.options)  # None: cache_ttl off
        self._sys_registered = False  # sys_* views: on the first statement naming one

    def _register_sys_tables(self, sql: str) -> None:
        """Register the metadata tables when a statement may read them. Lazily: registering
        an Arrow table makes DuckDB import pandas (~0.5 s), which `SELECT 1` need not pay."""
        if self._sys_registered or "sys_" not in sql.lower():
            return
        for name, table in metadata.all_sys_tables(self.catalog).items():
            self.duck.register(name, table)
        self._sys_registered = True

    def close(self) -> None:
        if self.runner is not None:
            self.runner.run(self.client.aclose())
            self.runner.close()
            self.runner = None
        self.duck.close()

    def interrupt(self) -> None:
        """Stop the running statement: DuckDB stops pulling and pending page fetches end."""
        self.duck.interrupt()
        if self.runner is not None:
            self.runner.cancel_all()

    def _executor(self) -> Executor:
        if self.runner is None:
            self.runner = Runner()
        return Executor(self.client, self.runner, self.duck, cache=self.cache)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Result:
        self.statement = sql  # DuckDB's errors are said about this text (_guard)
        self._register_sys_tables(sql)
        with self._bounded():
            return self._dispatch(sql, params)

    @contextlib.contextmanager
    def _bounded(self) -> Iterator[None]:
        """One statement within its limits: statement_timeout (interrupts DuckDB and pending
        fetches) and Python's stack (a RecursionError is the user's deep SQL, reported so)."""
        timeout = self.options.get("statement_timeout")
        expired = threading.Event()
        timer = None
        if timeout:

            def expire() -> None:
                expired.set()
                self.interrupt()

            timer = threading.Timer(float(timeout), expire)
            timer.daemon = True
            timer.start()
        try:
            yield
        except RecursionError:
            raise ProgrammingError(binder.TOO_DEEP) from None
        except Error as e:
            if expired.is_set():
                raise OperationalError(
                    f"statement_timeout: the statement ran longer than {timeout} s and was "
                    "stopped (raise the connection option statement_timeout, or narrow the "
                    "statement with a WHERE or LIMIT)"
                ) from None
            _mask_error(e, self.client.secrets)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _dispatch(self, sql: str, params: Mapping[str, Any] | None) -> Result:
        stmt = sqltext.classify(sql)
        if stmt.kind is Kind.EXPLAIN:
            return self._explain(stmt.text, params)
        if stmt.kind is Kind.CALL:
            return self._call([parse_call(sql, self.catalog, dict(params or {}))])
        if stmt.kind is Kind.SQL and sqltext.leading_keyword(sql) == "REPLICATE":
            return Result(replicate_statement(self, sql))  # csql.sync.statement
        tree = binder.parse_with_parameters(sql, params)
        if isinstance(tree, exp.Copy):
            return self._copy(tree)
        if isinstance(tree, exp.Show):
            return self._show(tree)
        if isinstance(tree, exp.Describe):
            return self._describe(tree)
        _check_kind(tree)
        bound = binder.bind(tree, self.catalog)
        if isinstance(bound.tree, exp.Insert | exp.Update | exp.Delete):
            return self._write(bound.tree)
        if not isinstance(bound.tree, exp.Query):
            kind = type(bound.tree).__name__.upper()
            raise NotSupportedError(f"{kind} statements are not supported")
        return Result(self.query(tree, text=binder.substitute_parameters(sql, params)))

    def execute_many(self, sql: str, seq: list[Mapping[str, Any]]) -> Result:
        """executemany: CALLs of a send are batched (up to 1000 messages a request)."""
        if seq and sqltext.classify(sql).kind is Kind.CALL:
            self.statement = sql
            with self._bounded():
                return self._call([parse_call(sql, self.catalog, dict(p)) for p in seq])
        total, counted, last = 0, False, Result(None)
        for params in seq:
            last = self.execute(sql, params)
            if last.rowcount >= 0:
                total, counted = total + last.rowcount, True
        return Result(last.table, total if counted else -1)

    # -- reads -------------------------------------------------------------------------------

    def query(self, tree: exp.Expression, text: str | None = None) -> pa.Table:
        """The rows of a bound query: the read path for ClickSend tables, DuckDB for the rest.

        `text`: the statement as the user wrote it (parameters substituted), whose column
        names the result keeps.
        """
        bound = binder.bind(tree, self.catalog)
        if not bound.tables:  # DuckDB alone: the user's own text, as they wrote it
            return self._duck(text if text is not None else bound.tree.sql(dialect=binder.DIALECT))
        plan = plan_query(bound.tree, self.catalog)
        executor = self._executor()
        names = None
        if text is not None:  # bound as written, before any request (see output_names)
            spellings = {}
            for ref in binder.table_references(tree):
                table = self.catalog.table(ref.name)
                if table is not None and ref.name.lower() not in metadata.SYS_TABLES:
                    spellings.setdefault(ref.name.lower(), table)
            names = self._guard(lambda: executor.output_names(text, spellings))
        result = self._guard(lambda: executor.run(plan))
        if names is not None and len(names) == result.num_columns:
            result = result.rename_columns(names)
        return result

    # -- writes ------------------------------------------------------------------------------

    def _write(self, tree: exp.Expression, explain: bool = False) -> Result:
        stmt = dml.analyze(tree, self.catalog, bool(self.options.get("allow_unfiltered_writes")))
        if stmt.kind == "INSERT":
            rows = self.query(self._typed_source(stmt))
            requests = dml.insert_requests(stmt, rows)
            bulk = stmt.table.endpoints.get("bulk_insert")
            threshold = self.options.get("bulk_import_threshold")
            if bulk is not None and threshold and len(requests) >= threshold and not stmt.returning:
                return self._bulk_insert(stmt, bulk, requests, explain)
        else:
            rows = self.query(stmt.source)
            build = dml.update_requests if stmt.kind == "UPDATE" else dml.delete_requests
            requests = build(stmt, rows)
        if explain:
            return Result(_request_table(writer.describe_requests(requests)))
        report = self._send(requests)
        writer.raise_for_failures(f"{stmt.kind} {stmt.table.name}", report)
        table = None
        if stmt.returning:
            table = self._returning(stmt, report)
        return Result(table, len(report.written))

    def _bulk_insert(self, stmt, endpoint, requests, explain: bool) -> Result:
        """A large INSERT as files: upload each list's rows as CSV, then one import request.

        Two requests per list instead of one per row. ClickSend queues imports, so rows may
        take a moment to appear, and per-row errors are not reported: that is why this is
        opt-in (connection option bulk_import_threshold).
        """
        import base64

        upload = self.catalog.procedure(endpoint.upload)
        report = writer.WriteReport()
        explained: list[dict] = []
        for i, f in enumerate(files := dml.bulk_files(requests)):
            content = base64.b64encode(f.content).decode()
            up = build_request(upload, {"content": content, "convert": "csv"}, i + 1)
            if explain:
                explained += writer.describe_requests([up])
                explained[-1]["body"] = (
                    f'{{"content": "<{len(f.rows)} rows as CSV, {len(f.content)} bytes>"}}'
                )
                body = {"file_url": "<_url of the upload>", "field_order": list(f.field_order)}
                explained += writer.describe_requests(
                    [dml.WriteRequest(endpoint.method, endpoint.render(f.keys), body, i + 1)]
                )
                continue
            done = self._send([up])
            url = None
            if done.written:
                records, _ = extract_records(done.written[0][1], upload.result)
                url = records[0].get("_url") if records and isinstance(records[0], dict) else None
            imported = None
            if url:
                body = {"file_url": url, "field_order": list(f.field_order)}
                imported = self._send(
                    [dml.WriteRequest(endpoint.method, endpoint.render(f.keys), body, i + 1)]
                )
            if imported is not None and imported.written:
                report.written += [(r, imported.written[0][1]) for r in f.rows]
                continue
            if imported is not None and imported.unknown:  # the import may have run
                report.unknown += [(r, imported.unknown[0][1]) for r in f.rows]
                report.not_attempted += [r for later in files[i + 1 :] for r in later.rows]
                break
            error = (imported.failed if imported else done.failed) or [(up, OperationalError(
                f"POST {upload.path}: ClickSend returned no file URL to import"))]  # fmt: skip
            report.failed += [(r, error[0][1]) for r in f.rows]
            report.not_attempted += [r for later in files[i + 1 :] for r in later.rows]
            break
        if explain:
            return Result(_request_table(explained))
        writer.raise_for_failures(f"INSERT {stmt.table.name} (bulk import)", report)
        return Result(None, len(report.written))

    def _typed_source(self, stmt: dml.DmlStatement) -> exp.Expression:
        """The INSERT's rows cast to the columns' types, so bad values fail before any request."""
        names = [f"__c{i}" for i in range(len(stmt.columns))]
        alias = exp.TableAlias(
            this=exp.to_identifier("__src"), columns=[exp.to_identifier(n) for n in names]
        )
        casts = [
            exp.cast(exp.column(n), dml.sql_type(stmt.table.column(c))).as_(c, quoted=True)
            for n, c in zip(names, stmt.columns, strict=True)
        ]
        return exp.select(*casts).from_(exp.Subquery(this=stmt.source, alias=alias))

    def _send(self, requests: list[dml.WriteRequest]) -> writer.WriteReport:
        if self.runner is None:
            self.runner = Runner()
        cont = bool(self.options.get("continue_on_error"))
        self.client.secrets.add(*(v for r in requests for v in r.secrets))  # never in errors/logs
        try:
            return self.runner.run(writer.send(self.client, requests, cont))
        finally:  # sent or maybe sent: cached pages of what it wrote are stale (csql.sync.cache)
            cache.invalidate_for_requests(self.client, self.catalog, requests)

    def _returning(self, stmt: dml.DmlStatement, report: writer.WriteReport) -> pa.Table:
        kind = {"INSERT": "insert", "UPDATE": "update", "DELETE": "delete"}[stmt.kind]
        endpoint = stmt.table.endpoints[kind]
        records: list[Any] = []
        for req, resp in report.written:
            if req.current is not None:  # DELETE: the row as it was before
                records.append(req.current)
                continue
            found, _ = extract_records(resp, endpoint.records)
            records += found if found else [dict(req.keys)]
        data = records_to_arrow([r for r in records if isinstance(r, dict)], stmt.table)
        self.duck.register("__csql_returning", data)
        try:
            source = exp.to_table("__csql_returning").as_(
                stmt.alias or stmt.table.name, quoted=True
            )
            select = exp.select(*[e.copy() for e in stmt.returning]).from_(source)
            return self._duck(select.sql(dialect=binder.DIALECT))
        finally:
            self.duck.unregister("__csql_returning")

    # -- CALL ----------------------------------------------------------------------------------

    def _call_requests(self, calls: list[Call]) -> list[dml.WriteRequest]:
        out = []
        for i, call in enumerate(calls, start=1):
            names = list(call.args)
            values: dict[str, Any] = {}
            if names:
                select = exp.select(
                    *[e.copy().as_(f"__a{j}") for j, e in enumerate(call.args.values())]
                )
                row = self.query(select).to_pylist()[0]
                values = {n: row[f"__a{j}"] for j, n in enumerate(names)}
            # masked from here on: the checks of build_request may quote a bad token
            secret = {p.name for p in call.procedure.parameters if p.secret}
            self.client.secrets.add(*(v for n, v in values.items() if n in secret))
            out.append(build_request(call.procedure, values, i))
        return batch(out)

    def _call(self, calls: list[Call], explain: bool = False) -> Result:
        proc = calls[0].procedure
        requests = self._call_requests(calls)
        if explain:
            rows = writer.describe_requests(requests)
            if proc.price:
                rows += self._price_quote(proc, calls)
            return Result(_request_table(rows))
        report = self._send(requests)
        writer.raise_for_failures(f"CALL {proc.name}", report)
        records: list[Any] = []
        for _, resp in report.written:
            found, _ = extract_records(resp, proc.result)
            records += found
        count = sum(len(r.body.get("messages") or r.body.get("recipients") or [None])
                    if isinstance(r.body, dict) else 1 for r, _ in report.written)  # fmt: skip
        statuses = message_statuses(records)
        warnings: tuple[str, ...] = ()
        if statuses is not None:  # a send: only the messages ClickSend accepted count
            count = sum(1 for s in statuses if s in ACCEPTED)
            warnings = refusal_warnings(proc.name, statuses)
        like = self.catalog.table(proc.result_table) if proc.result_table else None
        return Result(records_table(records, like), count, warnings)

    def _price_quote(self, proc: Procedure, calls: list[Call]) -> list[dict]:
        """EXPLAIN of a send: what the matching price endpoint quotes for the same messages."""
        price = self.catalog.procedure(proc.price)
        requests = self._call_requests([Call(price, c.args) for c in calls])
        report = self._send(requests)
        rows = []
        for req, resp in report.written:
            data = resp.get("data") if isinstance(resp, dict) else resp
            quote = price_quote(data)
            rows.append({"row": req.row, "method": "price quote", "path": req.path, "query": None,
                         "body": json.dumps(quote, default=str, ensure_ascii=False)})  # fmt: skip
        for req, err in report.failed:
            rows.append({"row": req.row, "method": "price quote", "path": req.path, "query": None,
                         "body": f"could not get a quote: {err}"})  # fmt: skip
        return rows

    # -- EXPLAIN ---------------------------------------------------------------------------------

    def _explain(self, body: str, params: Mapping[str, Any] | None) -> Result:
        kind = sqltext.classify(body).kind
        if kind is Kind.CALL:
            return self._call([parse_call(body, self.catalog, dict(params or {}))], explain=True)
        if kind is Kind.EXPLAIN:
            raise ProgrammingError("EXPLAIN EXPLAIN: explain the statement itself")
        tree = binder.parse_with_parameters(body, params)
        bound = binder.bind(tree, self.catalog)
        if isinstance(bound.tree, exp.Insert | exp.Update | exp.Delete):
            return self._write(bound.tree, explain=True)
        if not isinstance(bound.tree, exp.Query):
            raise NotSupportedError("EXPLAIN takes SELECT, INSERT, UPDATE, DELETE or CALL")
        if not bound.tables:
            return Result(explain_plan(None, bound.tree.sql(dialect=binder.DIALECT)))
        plan = plan_query(bound.tree, self.catalog)
        executor = self._executor()
        try:
            self._guard(lambda: executor.validate(plan))  # bad columns fail here too
        finally:
            executor.cleanup()
        return Result(explain_plan(plan, plan.sql))

    def _duck(self, sql: str) -> pa.Table:
        return self._guard(lambda: self.duck.sql(sql).to_arrow_table())

    def _guard(self, run):
        """DuckDB's errors as PEP 249 errors (csql's own errors pass through)."""
        try:
            return run()
        except StreamError as e:
            raise e.error from None
        except duckdb.ParserException as e:
            raise ProgrammingError(f"syntax error: {self._readable(e)}") from None
        except (duckdb.BinderException, duckdb.CatalogException) as e:
            raise ProgrammingError(self._readable(e)) from None
        except (duckdb.ConversionException, duckdb.OutOfRangeException) as e:
            raise DataError(self._readable(e)) from None
        except duckdb.InvalidInputException as e:
            raise ProgrammingError(self._readable(e)) from None
        except duckdb.PermissionException as e:
            raise NotSupportedError(f"{FILE_ACCESS_OFF} ({e})") from None
        except duckdb.InterruptException:
            raise OperationalError("the statement was interrupted") from None
        except RuntimeError as e:  # DuckDB's answer to a Ctrl-C (SIGINT) while it computes
            if "interrupted" not in str(e).lower():
                raise
            raise OperationalError("the statement was interrupted") from None
        except duckdb.Error as e:
            raise OperationalError(f"DuckDB: {e}") from None

    def _readable(self, error: duckdb.Error) -> str:
        """DuckDB's message about the rewritten SQL, said about the user's statement."""
        return diagnostics.duckdb_error(str(error), self.statement, self._columns_of)

    def _columns_of(self, name: str) -> tuple[str, ...]:
        """The columns of the table a name or alias of the current statement stands for."""
        table = self.catalog.table(name)
        if table is None and self.statement:
            import sqlglot

            try:
                tree = sqlglot.parse_one(self.statement, read=binder.DIALECT)
            except Exception:
                return ()
            for ref in tree.find_all(exp.Table):
                if ref.alias_or_name.lower() == name.lower():
                    table = self.catalog.table(ref.name)
                    break
        return table.column_names if table is not None else ()

    # -- COPY ----------------------------------------------------------------------------------

    def _copy(self, tree: exp.Copy) -> Result:
        """COPY (query) TO 'file': the query's rows written by DuckDB, when file access is on.

        COPY ... FROM is an INSERT from a file: say how to write it."""
        if not self.options.get("file_access"):
            raise NotSupportedError(f"COPY ... TO writes a local file: {FILE_ACCESS_OFF}")
        if tree.args.get("kind"):
            raise NotSupportedError(
                "COPY ... FROM is not supported: INSERT INTO <table> (columns) "
                "SELECT ... FROM read_csv('file.csv') sends the file's rows to ClickSend"
            )
        source = tree.this
        query = source.this if isinstance(source, exp.Subquery) else exp.select("*").from_(source)
        rows = self.query(binder.bind(query, self.catalog).tree)
        out = tree.copy()
        out.set("this", exp.to_table("__csql_copy"))
        self.duck.register("__csql_copy", rows)
        try:
            self._guard(lambda: self.duck.execute(out.sql(dialect=binder.DIALECT)))
        finally:
            self.duck.unregister("__csql_copy")
        return Result(None, rows.num_rows)

    def _show(self, tree: exp.Show) -> Result:
        if tree.name.upper() not in ("TABLES", "ALL TABLES"):
            raise NotSupportedError("SHOW TABLES is supported; for columns use DESCRIBE <table>")
        return Result(metadata.show_tables(self.catalog))

    def _describe(self, tree: exp.Describe) -> Result:
        target = tree.this
        if not isinstance(target, exp.Table) or not isinstance(target.this, exp.Identifier):
            raise NotSupportedError("DESCRIBE takes a table name: DESCRIBE contacts")
        name = target.name
        if name.lower() in metadata.SYS_TABLES:
            return Result(self._duck(f"DESCRIBE {name.lower()}"))
        return Result(metadata.describe(binder.resolve_table(self.catalog, name)))
