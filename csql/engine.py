"""Runs statements: metadata from the catalog, queries in DuckDB.

A Session owns one in-process DuckDB connection with the metadata tables registered. It is
the only place that knows about both the catalog and DuckDB; the DB-API cursor hands it SQL
and gets back an Arrow table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from csql import binder, metadata
from csql.catalog import Catalog
from csql.client import Client, Runner
from csql.errors import (
    DataError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from csql.executor import Executor, StreamError
from csql.explain import explain_plan
from csql.planner import plan_query


@dataclass
class Result:
    """What a statement produced: rows (possibly none) and the affected-row count."""

    table: pa.Table | None
    rowcount: int = -1


def _readable(message: str) -> str:
    """DuckDB's message with csql's internal view names turned back into table names."""
    return re.sub(r"__csql_scan_\d+_(\w+)", r"\1", message)


class Session:
    """One DuckDB connection, one ClickSend client and the catalog; one statement at a time."""

    def __init__(self, catalog: Catalog, client: Client) -> None:
        self.catalog = catalog
        self.client = client
        self.runner: Runner | None = None
        self.duck = duckdb.connect(":memory:")
        self.duck.execute("SET TimeZone = 'UTC'")  # ClickSend's times are Unix seconds (UTC)
        for name, table in metadata.all_sys_tables(catalog).items():
            self.duck.register(name, table)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.run(self.client.aclose())
            self.runner.close()
            self.runner = None
        self.duck.close()

    def _executor(self) -> Executor:
        if self.runner is None:
            self.runner = Runner()
        return Executor(self.client, self.runner, self.duck)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Result:
        keyword = binder.leading_keyword(sql)
        if keyword == "EXPLAIN":
            return self._explain(sql, params)
        if keyword == "CALL":
            raise NotSupportedError("CALL is not available yet in this version of csql")
        tree = binder.bind_parameters(binder.parse(sql), params)
        if isinstance(tree, exp.Show):
            return self._show(tree)
        if isinstance(tree, exp.Describe):
            return self._describe(tree)
        bound = binder.bind(tree, self.catalog)
        if not isinstance(bound.tree, exp.Query):
            kind = type(bound.tree).__name__.upper()
            raise NotSupportedError(f"{kind} statements are not supported yet")
        if not bound.tables:
            return Result(self._duck(bound.tree.sql(dialect=binder.DIALECT)))
        plan = plan_query(bound.tree, self.catalog)
        return Result(self._guard(lambda: self._executor().run(plan)))

    def _explain(self, sql: str, params: Mapping[str, Any] | None) -> Result:
        body = sql.lstrip()[len("EXPLAIN") :]
        tree = binder.bind_parameters(binder.parse(body), params)
        bound = binder.bind(tree, self.catalog)
        if not isinstance(bound.tree, exp.Query):
            raise NotSupportedError("EXPLAIN takes a SELECT statement")
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
            raise ProgrammingError(f"SQL syntax error: {e}") from None
        except (duckdb.BinderException, duckdb.CatalogException) as e:
            raise ProgrammingError(_readable(str(e))) from None
        except (duckdb.ConversionException, duckdb.OutOfRangeException) as e:
            raise DataError(str(e)) from None
        except duckdb.InvalidInputException as e:
            raise ProgrammingError(str(e)) from None
        except duckdb.Error as e:
            raise OperationalError(f"DuckDB: {e}") from None

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
