"""A SQLAlchemy 2 dialect for csql, registered as `clicksend://` (and `clicksend+csql://`).

    from sqlalchemy import create_engine, text
    engine = create_engine("clicksend://USER:API_KEY@/?base_url=https://rest.clicksend.com/v3")
    engine = create_engine("clicksend://")                 # CLICKSEND_* environment variables
    engine = create_engine("clicksend:///?sandbox=true")   # the local sandbox with demo data
    pandas.read_sql(text("SELECT * FROM lists WHERE list_id = :id"), engine, params={"id": 1})

URL query values other than base_url/sandbox/seed/scale are csql.connect() options
(`requests_per_second=5`, `allow_unfiltered_writes=true`, ...): see csql.jupyter.connect_kwargs.

Reflection reads csql's metadata (SHOW TABLES, DESCRIBE, sys_tables) and never sends an HTTP
request. ClickSend has no transactions: commit is a no-op and rollback does nothing, so a
SQLAlchemy "rollback" never undoes a write. Tables cannot be created or altered.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy.types as sqltypes
from sqlalchemy import exc, util
from sqlalchemy.engine import default, reflection
from sqlalchemy.engine.url import URL
from sqlalchemy.sql import compiler

import csql
from csql.jupyter import connect_kwargs

__all__ = ["ClickSendDialect", "sqlalchemy_type"]

DEFAULT_SCHEMA = "main"

_SIMPLE_TYPES: dict[str, type[sqltypes.TypeEngine] | sqltypes.TypeEngine] = {
    "BOOLEAN": sqltypes.Boolean,
    "TINYINT": sqltypes.SmallInteger,
    "SMALLINT": sqltypes.SmallInteger,
    "INTEGER": sqltypes.Integer,
    "BIGINT": sqltypes.BigInteger,
    "HUGEINT": sqltypes.Numeric(38, 0),
    "UTINYINT": sqltypes.SmallInteger,
    "USMALLINT": sqltypes.Integer,
    "UINTEGER": sqltypes.BigInteger,
    "UBIGINT": sqltypes.Numeric(20, 0),
    "FLOAT": sqltypes.Float,
    "REAL": sqltypes.Float,
    "DOUBLE": sqltypes.Double,
    "VARCHAR": sqltypes.String,
    "TEXT": sqltypes.Text,
    "UUID": sqltypes.Uuid(as_uuid=False),
    "JSON": sqltypes.JSON,
    "BLOB": sqltypes.LargeBinary,
    "DATE": sqltypes.Date,
    "TIME": sqltypes.Time,
    "TIMESTAMP": sqltypes.DateTime,
    "TIMESTAMP WITH TIME ZONE": sqltypes.DateTime(timezone=True),
    "TIMESTAMPTZ": sqltypes.DateTime(timezone=True),
    "INTERVAL": sqltypes.Interval,
}


def sqlalchemy_type(type_name: str) -> sqltypes.TypeEngine:
    """The SQLAlchemy type of a csql/DuckDB column type name (as DESCRIBE prints it)."""
    name = type_name.strip().upper()
    if name.endswith("[]"):
        return sqltypes.ARRAY(sqlalchemy_type(name[:-2]))
    m = re.fullmatch(r"(DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", name)
    if m:
        return sqltypes.Numeric(int(m.group(2)), int(m.group(3)))
    if name in ("DECIMAL", "NUMERIC"):
        return sqltypes.Numeric()
    found = _SIMPLE_TYPES.get(name)
    if found is None:
        if name.startswith(("STRUCT", "MAP", "UNION")):
            return sqltypes.JSON()
        util.warn(f"csql: no SQLAlchemy type for {type_name!r}; reflected as NullType")
        return sqltypes.NullType()
    return found() if isinstance(found, type) else found


class ClickSendCompiler(compiler.SQLCompiler):
    """SQLAlchemy's generic SQL, which csql reads in DuckDB's dialect."""

    def _label_returning_column(
        self, stmt, column, populate_result_map, column_clause_args=None, **kw
    ):
        # RETURNING lists bare column names: csql evaluates it over the rows ClickSend returned
        return super()._label_returning_column(
            stmt, column, populate_result_map, column_clause_args, **{**kw, "include_table": False}
        )


class ClickSendIdentifierPreparer(compiler.IdentifierPreparer):
    # DuckDB's reserved words on top of SQLAlchemy's: column names like `from`, `to`, `order`
    reserved_words = compiler.RESERVED_WORDS | {"qualify", "pivot", "unpivot", "summarize"}


class ClickSendDialect(default.DefaultDialect):
    """csql's DB-API (`csql`) behind SQLAlchemy."""

    name = "clicksend"
    driver = "csql"
    default_paramstyle = "named"
    supports_statement_cache = True

    statement_compiler = ClickSendCompiler
    preparer = ClickSendIdentifierPreparer

    # what csql speaks
    supports_native_boolean = True
    supports_native_decimal = True
    supports_unicode_statements = True
    supports_unicode_binds = True
    returns_unicode_strings = True
    supports_multivalues_insert = True
    insert_returning = True
    update_returning = True
    delete_returning = True
    supports_sane_rowcount = True  # rowcount is exact: the rows ClickSend confirmed
    supports_sane_multi_rowcount = False  # executemany reports the total, not per statement
    postfetch_lastrowid = False
    supports_empty_insert = False
    supports_default_values = False
    supports_comments = True

    # what it does not: schemas, DDL, sequences, transactions
    supports_alter = False
    supports_sequences = False
    supports_native_enum = False
    supports_server_side_cursors = False
    max_identifier_length = 255
    default_schema_name = DEFAULT_SCHEMA

    @classmethod
    def import_dbapi(cls):
        return csql

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        """`clicksend://USER:KEY@/?base_url=...` -> csql.connect(**kwargs)."""
        return [], connect_kwargs(url.render_as_string(hide_password=False))

    # -- no transactions -------------------------------------------------------------------

    def do_begin(self, dbapi_connection) -> None:
        pass

    def do_commit(self, dbapi_connection) -> None:
        dbapi_connection.commit()

    def do_rollback(self, dbapi_connection) -> None:
        """Nothing to roll back: ClickSend applies each write as it is sent."""

    def get_isolation_level(self, dbapi_connection) -> str:
        return "AUTOCOMMIT"

    def get_isolation_level_values(self, dbapi_connection) -> list[str]:
        return ["AUTOCOMMIT"]

    def set_isolation_level(self, dbapi_connection, level: str) -> None:
        if level != "AUTOCOMMIT":
            raise exc.ArgumentError(
                f"csql has no transactions, so no isolation level {level!r}; only AUTOCOMMIT"
            )

    def do_ping(self, dbapi_connection) -> bool:
        return not dbapi_connection.closed

    def is_disconnect(self, e, connection, cursor) -> bool:
        return isinstance(e, csql.InterfaceError) and "closed" in str(e)

    def _get_server_version_info(self, connection) -> tuple[int, ...]:
        return tuple(int(p) for p in csql.__version__.split(".") if p.isdigit())

    def _get_default_schema_name(self, connection) -> str:
        return DEFAULT_SCHEMA

    # -- reflection (metadata only: no HTTP request) --------------------------------------------

    @staticmethod
    def _rows(connection, sql: str, params: dict[str, Any] | None = None) -> list[dict]:
        result = connection.exec_driver_sql(sql, params or {})
        return [dict(r._mapping) for r in result]

    def _check_schema(self, schema: str | None) -> None:
        if schema not in (None, DEFAULT_SCHEMA):
            raise exc.NoSuchTableError(f"csql has one schema, {DEFAULT_SCHEMA!r}, not {schema!r}")

    @reflection.cache
    def _catalog_names(self, connection, **kw) -> dict[str, str]:
        """Every name a table answers to (lower-cased) -> its canonical name."""
        names = {r["name"].lower(): r["name"] for r in self._rows(connection, "SHOW TABLES")}
        for r in self._rows(connection, "SELECT table_name, aliases FROM sys_tables"):
            for alias in r["aliases"] or []:
                names.setdefault(alias.lower(), r["table_name"])
        return names

    def _resolve(self, connection, table_name: str, schema: str | None, **kw) -> str:
        self._check_schema(schema)
        name = self._catalog_names(connection, **kw).get(table_name.lower())
        if name is None:
            raise exc.NoSuchTableError(table_name)
        return name

    def get_schema_names(self, connection, **kw) -> list[str]:
        return [DEFAULT_SCHEMA]

    @reflection.cache
    def get_table_names(self, connection, schema: str | None = None, **kw) -> list[str]:
        if schema not in (None, DEFAULT_SCHEMA):
            return []
        return [r["name"] for r in self._rows(connection, "SHOW TABLES")]

    def get_view_names(self, connection, schema: str | None = None, **kw) -> list[str]:
        return []

    def get_temp_table_names(self, connection, schema: str | None = None, **kw) -> list[str]:
        return []

    def get_temp_view_names(self, connection, schema: str | None = None, **kw) -> list[str]:
        return []

    def get_sequence_names(self, connection, schema: str | None = None, **kw) -> list[str]:
        return []

    def has_table(self, connection, table_name: str, schema: str | None = None, **kw) -> bool:
        if schema not in (None, DEFAULT_SCHEMA):
            return False
        return table_name.lower() in self._catalog_names(connection, **kw)

    @reflection.cache
    def _describe(self, connection, table_name: str, schema: str | None = None, **kw) -> list[dict]:
        name = self._resolve(connection, table_name, schema, **kw)
        return self._rows(connection, f"DESCRIBE {self.identifier_preparer.quote(name)}")

    def get_columns(self, connection, table_name: str, schema: str | None = None, **kw):
        columns = []
        for r in self._describe(connection, table_name, schema, **kw):
            columns.append(
                {
                    "name": r["column_name"],
                    "type": sqlalchemy_type(r["column_type"]),
                    "nullable": r.get("null") != "NO",
                    "default": None,
                    # ClickSend assigns read-only primary keys (contact_id, template_id, ...)
                    "autoincrement": r.get("key") == "PRI" and bool(r.get("read_only")),
                    "comment": r.get("description") or None,
                }
            )
        return columns

    def get_pk_constraint(self, connection, table_name: str, schema: str | None = None, **kw):
        rows = self._describe(connection, table_name, schema, **kw)
        return {
            "constrained_columns": [r["column_name"] for r in rows if r.get("key") == "PRI"],
            "name": None,
        }

    def get_foreign_keys(self, connection, table_name: str, schema: str | None = None, **kw):
        self._resolve(connection, table_name, schema, **kw)
        return []

    def get_indexes(self, connection, table_name: str, schema: str | None = None, **kw):
        self._resolve(connection, table_name, schema, **kw)
        return []

    def get_unique_constraints(self, connection, table_name: str, schema=None, **kw):
        self._resolve(connection, table_name, schema, **kw)
        return []

    def get_check_constraints(self, connection, table_name: str, schema=None, **kw):
        self._resolve(connection, table_name, schema, **kw)
        return []

    def get_table_comment(self, connection, table_name: str, schema: str | None = None, **kw):
        name = self._resolve(connection, table_name, schema, **kw)
        rows = self._rows(
            connection,
            "SELECT description FROM sys_tables WHERE table_name = :name",
            {"name": name},
        )
        return {"text": rows[0]["description"] if rows else None}


dialect = ClickSendDialect
