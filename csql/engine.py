"""Runs statements: metadata from the catalog, queries in DuckDB.

A Session owns one in-process DuckDB connection with the metadata tables registered. It is
the only place that knows about both the catalog and DuckDB; the DB-API cursor hands it SQL
and gets back an Arrow table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from csql import binder, metadata
from csql.catalog import Catalog
from csql.errors import (
    DataError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)


@dataclass
class Result:
    """What a statement produced: rows (possibly none) and the affected-row count."""

    table: pa.Table | None
    rowcount: int = -1


class Session:
    """One DuckDB connection plus the catalog; executes one statement at a time."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.duck = duckdb.connect(":memory:")
        for name, table in metadata.all_sys_tables(catalog).items():
            self.duck.register(name, table)

    def close(self) -> None:
        self.duck.close()

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Result:
        keyword = binder.leading_keyword(sql)
        if keyword in ("CALL", "EXPLAIN"):
            raise NotSupportedError(
                f"{keyword} is not available yet in this version of csql; "
                "SELECT from sys_tables, sys_columns and sys_procedures works"
            )
        tree = binder.bind_parameters(binder.parse(sql), params)
        if isinstance(tree, exp.Show):
            return self._show(tree)
        if isinstance(tree, exp.Describe):
            return self._describe(tree)
        bound = binder.bind(tree, self.catalog)
        if bound.tables:
            names = ", ".join(t.name for t in bound.tables)
            raise NotSupportedError(
                f"reading ClickSend tables ({names}) is not available yet in this version of csql; "
                "the metadata tables sys_tables, sys_columns and sys_procedures answer now"
            )
        if not isinstance(bound.tree, exp.Query):
            kind = type(bound.tree).__name__.upper()
            raise NotSupportedError(f"{kind} statements are not supported here")
        return Result(self._duck(bound.tree.sql(dialect=binder.DIALECT)))

    def _duck(self, sql: str) -> pa.Table:
        try:
            return self.duck.sql(sql).to_arrow_table()
        except duckdb.ParserException as e:
            raise ProgrammingError(f"SQL syntax error: {e}") from None
        except (duckdb.BinderException, duckdb.CatalogException) as e:
            raise ProgrammingError(str(e)) from None
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
