"""PEP 249 (DB-API 2.0): connect(), Connection and Cursor.

The cursor is thin: it hands SQL to the engine and serves the resulting Arrow table through
fetchone/fetchmany/fetchall, `description`, `fetch_arrow_table()` and `fetchdf()`.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from csql import errors as _errors
from csql.catalog import Catalog, default_catalog
from csql.client import Client
from csql.engine import Result, Session
from csql.errors import InterfaceError, NotSupportedError, ProgrammingError
from csql.read.rows import BATCH_ROWS, RowStream
from csql.secrets import split_userinfo

apilevel = "2.0"
threadsafety = 1  # threads may share the module, not connections
paramstyle = "named"

_log = logging.getLogger("csql")
DEFAULT_BASE_URL = "https://rest.clicksend.com/v3"

#: connection options of the engine and their types; the rest go to the HTTP client
#: (csql.client.DEFAULTS)
SESSION_OPTION_TYPES: dict[str, type] = {
    "allow_unfiltered_writes": bool,  # UPDATE/DELETE without WHERE (default: refused)
    "continue_on_error": bool,  # a failed row does not stop a write statement (default: it does)
    "bulk_import_threshold": int,  # INSERTs of at least this many contacts go as a file import
    # read_csv, COPY, ATTACH, ... on the local machine (default: off, so SQL from an app's
    # users cannot read the machine's files; the csql shell and CLI turn it on)
    "file_access": bool,
    "statement_timeout": float,  # seconds a statement may run before it is stopped (default: none)
    "cache_ttl": float,  # seconds fetched pages answer repeated reads (default: off; csql.sync.cache)
}
SESSION_OPTIONS = tuple(SESSION_OPTION_TYPES)


def _check_session_options(options: Mapping[str, Any]) -> None:
    """A wrongly typed engine option is a ProgrammingError now, not a surprise later."""
    for name, kind in SESSION_OPTION_TYPES.items():
        value = options.get(name)
        if value is None:
            continue
        if kind is bool and not isinstance(value, bool):
            raise ProgrammingError(f"option {name} takes True or False, not {value!r}")
        if kind in (int, float) and (
            isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0
        ):
            raise ProgrammingError(f"option {name} takes a number >= 0, not {value!r}")


class _TypeObject:
    """A PEP 249 type object: compares equal to every type code of its family."""

    def __init__(self, name: str, *codes: str) -> None:
        self.name = name
        self.codes = frozenset(codes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _TypeObject):
            return self.codes == other.codes
        return isinstance(other, str) and other.upper() in self.codes

    def __hash__(self) -> int:
        return hash(self.codes)

    def __repr__(self) -> str:
        return self.name


STRING = _TypeObject("STRING", "VARCHAR", "STRING", "JSON", "UUID")
BINARY = _TypeObject("BINARY", "BLOB", "BINARY")
NUMBER = _TypeObject(
    "NUMBER", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN",
)  # fmt: skip
DATETIME = _TypeObject(
    "DATETIME", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "INTERVAL"
)
ROWID = _TypeObject("ROWID", "ROWID")

Date = _dt.date
Time = _dt.time
Timestamp = _dt.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> _dt.date:
    return _dt.date.fromtimestamp(ticks)


def TimeFromTicks(ticks: float) -> _dt.time:
    return _dt.datetime.fromtimestamp(ticks).time()


def TimestampFromTicks(ticks: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ticks)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _type_code(t: pa.DataType) -> str:
    """The DuckDB-style name of an Arrow type, used as the description's type_code."""
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_int8(t):
        return "TINYINT"
    if pa.types.is_int16(t):
        return "SMALLINT"
    if pa.types.is_int32(t):
        return "INTEGER"
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_decimal(t):
        return "DECIMAL"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP WITH TIME ZONE" if t.tz else "TIMESTAMP"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_time(t):
        return "TIME"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "BLOB"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "VARCHAR"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "LIST"
    if pa.types.is_struct(t):
        return "STRUCT"
    return str(t).upper()


def _description(schema: pa.Schema) -> list[tuple]:
    out = []
    for f in schema:
        precision = scale = None
        if pa.types.is_decimal(f.type):
            precision, scale = f.type.precision, f.type.scale
        out.append((f.name, _type_code(f.type), None, None, precision, scale, f.nullable))
    return out


def _operation(operation: Any) -> str:
    if not isinstance(operation, str):
        raise ProgrammingError(f"execute() takes SQL text (str), not {type(operation).__name__}")
    return operation


def _pep249(run: Callable[[], Result]) -> Result:
    """Run a statement so that whatever goes wrong reaches the caller as a PEP 249 error: a
    Python exception that escaped csql is its own bug, raised as InternalError (chained to the
    original, which the traceback shows) rather than as a bare TypeError."""
    try:
        return run()
    except _errors.Error:
        raise
    except RecursionError:
        raise ProgrammingError(
            "the statement is too deeply nested for csql to read; simplify it"
        ) from None
    except Exception as e:
        raise _errors.InternalError(
            f"csql failed unexpectedly ({type(e).__name__}: {str(e)[:200]}); please report it "
            "with the statement"
        ) from e


class Connection:
    """A csql connection: credentials, options and a DuckDB session. Not shared across threads."""

    # PEP 249 optional extension: the exception classes as attributes of the connection
    Warning = _errors.Warning
    Error = _errors.Error
    InterfaceError = _errors.InterfaceError
    DatabaseError = _errors.DatabaseError
    DataError = _errors.DataError
    OperationalError = _errors.OperationalError
    IntegrityError = _errors.IntegrityError
    InternalError = _errors.InternalError
    ProgrammingError = _errors.ProgrammingError
    NotSupportedError = _errors.NotSupportedError

    def __init__(
        self,
        username: str | None,
        api_key: str | None,
        base_url: str,
        catalog: Catalog,
        options: Mapping[str, Any],
    ) -> None:
        # a base URL's user:key@ would show in every repr and error: it becomes the credentials
        username, api_key, base_url = split_userinfo(username, api_key, base_url)
        self.username = username
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.catalog = catalog
        self.options = dict(options)
        _check_session_options(options)
        session_opts = {k: options[k] for k in SESSION_OPTIONS if k in options}
        client_opts = {k: v for k, v in options.items() if k not in SESSION_OPTIONS}
        self._client = Client(
            username, api_key, self.base_url, routes=catalog.routes, **client_opts
        )
        self._session: Session | None = Session(catalog, self._client, session_opts)
        #: PEP 249 extension: (csql.Warning, message) for every warning of this connection's
        #: cursors (messages ClickSend refused one by one); cleared by cursor() and execute()
        self.messages: list[tuple[type, str]] = []

    def __repr__(self) -> str:  # never shows the API key
        state = "closed" if self._session is None else "open"
        return f"<csql.Connection {state} user={self.username!r} base_url={self.base_url!r}>"

    @property
    def stats(self):
        """Requests sent, retries, bytes and pages so far (csql.client.Stats); set
        `stats.progress = callback(done, expected)` for a progress display."""
        return self._client.stats

    @property
    def closed(self) -> bool:
        return self._session is None

    def _live(self) -> Session:
        if self._session is None:
            raise InterfaceError("the connection is closed; open a new one with csql.connect()")
        return self._session

    def interrupt(self) -> None:
        """Cancel the statement running on this connection (from another thread, like
        sqlite3's): pending requests stop and the statement raises OperationalError."""
        session = self._session
        if session is not None:
            session.interrupt()

    def cursor(self) -> Cursor:
        self._live()
        del self.messages[:]
        return Cursor(self)

    def execute(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Cursor:
        """Shortcut (as in sqlite3/duckdb): a new cursor with `sql` executed."""
        return self.cursor().execute(sql, parameters)

    # -- keeping a local copy (csql.sync) --------------------------------------------------------

    def replicate(self, target: str, tables: Sequence[str] | None = None, full: bool = False,
                  lookback: Any = None, format: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Sync tables (default: every table listable without a key) into a DuckDB file, a
        Parquet lake or Delta tables; a report per table (csql.sync.replicate)."""
        from csql.sync.replicate import SessionReader, replicate

        reader = SessionReader(self._live())
        return replicate(reader, self.catalog, target, tables, full, lookback, format)

    def watch(self, table: str, where: str | None = None, state: str | None = None,
              interval: float = 60.0, once: bool = False, since: Any = None) -> Iterator[dict]:  # fmt: skip
        """The rows of `table` that appear, change or disappear, as events (a generator that
        polls every `interval` seconds; csql.sync.watch)."""
        from csql.sync.watch import watch

        return watch(self._live(), table, where=where, state=state, interval=interval,
                     once=once, since=since)  # fmt: skip

    def cache_clear(self) -> None:
        """Forget every page cached for this connection's account (cache_ttl)."""
        from csql.sync.cache import clear_account

        clear_account(self._live().client)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def commit(self) -> None:
        """A no-op: every ClickSend write is applied when its request succeeds."""
        self._live()

    def rollback(self) -> None:
        self._live()
        raise NotSupportedError(
            "ClickSend has no transactions: writes are applied as they are sent, "
            "so there is nothing to roll back"
        )

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Cursor:
    """A PEP 249 cursor over the results of one statement at a time."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.arraysize = 1
        self._result: pa.Table | None = None
        self._rows: RowStream | None = None  # the result's rows, made tuples as they are read
        self._rowcount = -1
        self._closed = False
        #: PEP 249 extension: (csql.Warning, message) for the last statement, e.g. how many
        #: messages of a send ClickSend refused and why; cleared when the next one starts
        self.messages: list[tuple[type, str]] = []

    def __repr__(self) -> str:
        return f"<csql.Cursor {'closed' if self._closed else 'open'}>"

    # -- state ------------------------------------------------------------------------------

    def _check(self) -> Session:
        if self._closed:
            raise InterfaceError("the cursor is closed; get a new one with connection.cursor()")
        return self.connection._live()

    def _need_result(self) -> pa.Table:
        self._check()
        if self._result is None:
            raise ProgrammingError("no result set: execute a query first")
        return self._result

    @property
    def description(self) -> list[tuple] | None:
        if self._result is None:
            return None
        return _description(self._result.schema)

    @property
    def rowcount(self) -> int:
        return self._rowcount

    # -- execution --------------------------------------------------------------------------

    def execute(self, operation: str, parameters: Mapping[str, Any] | None = None) -> Cursor:
        session = self._check()
        if parameters is not None and not isinstance(parameters, Mapping):
            raise ProgrammingError(
                "parameters must be a mapping for :name placeholders (paramstyle 'named')"
            )
        del self.messages[:]
        self._set(Result(None))  # a failed statement leaves no stale result behind
        self._set(_pep249(lambda: session.execute(_operation(operation), parameters)))
        return self

    def executemany(self, operation: str, seq_of_parameters: Sequence[Mapping[str, Any]]) -> Cursor:
        """Run once per parameter set; sends via CALL are batched into few requests."""
        session = self._check()
        del self.messages[:]
        self._set(Result(None))
        params = [dict(p) for p in seq_of_parameters]
        self._set(_pep249(lambda: session.execute_many(_operation(operation), params)))
        return self

    def callproc(
        self, procname: str, parameters: Sequence[Any] | Mapping[str, Any] = ()
    ) -> Sequence[Any] | Mapping[str, Any]:
        """CALL a ClickSend procedure (see sys_procedures) with positional or named arguments.

        What the procedure returned is the result set; the parameters come back unchanged
        (ClickSend's procedures have no OUT parameters).
        """
        self._check()
        if not _IDENTIFIER.fullmatch(procname):
            raise ProgrammingError(f"not a procedure name: {procname!r}")
        if isinstance(parameters, Mapping):
            bad = [n for n in parameters if not _IDENTIFIER.fullmatch(str(n))]
            if bad:
                raise ProgrammingError(f"not a parameter name: {bad[0]!r}")
            binds = dict(parameters)
            args = ", ".join(f"{n} => :{n}" for n in binds)
        else:
            binds = {f"p{i}": v for i, v in enumerate(parameters)}
            args = ", ".join(f":{n}" for n in binds)
        self.execute(f"CALL {procname}({args})", binds)
        return parameters

    def _set(self, result: Result) -> None:
        for text in result.warnings:
            self.messages.append((_errors.Warning, text))
            self.connection.messages.append((_errors.Warning, text))
            _log.info("%s", text)
        self._result = result.table
        self._rows = RowStream(result.table) if result.table is not None else None
        if result.table is not None and result.rowcount < 0:
            self._rowcount = result.table.num_rows
        else:
            self._rowcount = result.rowcount

    # -- fetching ---------------------------------------------------------------------------

    def _stream(self) -> RowStream:
        self._need_result()
        assert self._rows is not None
        return self._rows

    def fetchone(self) -> tuple | None:
        return self._stream().next()

    def fetchmany(self, size: int | None = None) -> list[tuple]:
        """The next `size` rows (`arraysize` by default): only their record batch becomes
        Python tuples, so reading a large result in batches keeps memory flat."""
        n = self.arraysize if size is None else size
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ProgrammingError(f"fetchmany() takes a row count >= 0, not {n!r}")
        return self._stream().take(n)

    def fetchall(self) -> list[tuple]:
        return self._stream().all()

    def fetch_arrow_table(self) -> pa.Table:
        """The rest of the result as an Arrow table (all of it if nothing was fetched yet)."""
        return self._stream().rest()

    def fetchdf(self):
        """The rest of the result as a pandas DataFrame (needs pandas)."""
        try:
            import pandas  # noqa: F401
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise NotSupportedError("fetchdf() needs pandas: pip install pandas") from e
        import pandas as pd

        # nullable integer/boolean columns stay integers (pandas would make NULL-holding ints floats)
        nullable = {
            pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
            pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(),
        }  # fmt: skip
        return self.fetch_arrow_table().to_pandas(types_mapper=nullable.get)

    def __iter__(self) -> Iterator[tuple]:
        stream = self._stream()
        while rows := stream.take(BATCH_ROWS):
            yield from rows

    # -- no-ops required by PEP 249 -----------------------------------------------------------

    def setinputsizes(self, sizes: Any) -> None:
        self._check()

    def setoutputsize(self, size: int, column: int | None = None) -> None:
        self._check()

    def close(self) -> None:
        self._closed = True
        self._result = None
        self._rows = None

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    username: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    *,
    catalog: Catalog | None = None,
    profile: str | None = None,
    **options: Any,
) -> Connection:
    """Open a connection to ClickSend.

    Missing arguments come from CLICKSEND_USERNAME, CLICKSEND_API_KEY and CLICKSEND_BASE_URL
    (default https://rest.clicksend.com/v3), or from `profile`, a named profile of the
    configuration file (csql.config: ~/.config/csql/config.toml). Nothing is sent until a
    statement needs it, so metadata queries work without credentials.
    """
    from csql.config import connect_arguments

    username, api_key, base_url, options = connect_arguments(
        username, api_key, base_url, profile, options
    )
    return Connection(username, api_key, base_url, catalog or default_catalog(), options)
