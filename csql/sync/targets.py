"""Where a replica lives: a DuckDB file, a hive-partitioned Parquet lake, or Delta tables.

Every target gives replicate one DuckDB connection holding the replica table being synced and
`_csql_state` / `_csql_runs`, and a commit per table:

- DuckDB file: the tables are in the file; a commit is a DuckDB transaction, so rows and
  state land together or not at all.
- Parquet (`TARGET/<table>/account=<a>/month=<YYYY-MM>/*.parquet`): an in-memory working copy
  of this account's partition; a commit writes the new partition beside the old one, swaps
  them with renames, then writes the state. A run killed between the two leaves data newer
  than the state: the next run re-reads from the older cursor and MERGE makes that a no-op.
- Delta (`deltalake`, optional): the same working copy; a commit overwrites this account's
  partition of the table in one Delta transaction, then the state table's.
"""

from __future__ import annotations

import contextlib
import enum
import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import quote as url_quote

import duckdb
import pyarrow as pa

from csql.errors import NotSupportedError, ProgrammingError
from csql.metadata import SQL_TYPES
from csql.sync import merge, state
from csql.sync.merge import SYNCED_AT, quote, sql_string
from csql.sync.strategy import Strategy

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Hive's name for a NULL partition value
ACCOUNT = "account"  # the lake's partition columns
MONTH = "month"


class Format(enum.Enum):
    DUCKDB = "duckdb"
    PARQUET = "parquet"
    DELTA = "delta"

    @classmethod
    def parse(cls, value: str | Format | None, target: str) -> Format:
        if isinstance(value, Format):
            return value
        if value is None:
            if target.endswith(("/", os.sep)) and not Path(target).is_file():
                return _infer(Path(target)) if Path(target).is_dir() else cls.PARQUET
            return _infer(Path(target))
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ProgrammingError(
                f"unknown replica format {value!r}: use duckdb, parquet or delta"
            ) from None


def _infer(path: Path) -> Format:
    """A directory is a lake (Delta if it holds Delta tables); anything else a DuckDB file."""
    if path.is_dir():
        if any((p / "_delta_log").is_dir() for p in path.iterdir() if p.is_dir()):
            return Format.DELTA
        return Format.PARQUET
    return Format.DUCKDB


def open_target(path: str, fmt: Format, account: str) -> Target:
    if fmt is Format.DUCKDB:
        return DuckDBTarget(path, account)
    if fmt is Format.PARQUET:
        return ParquetTarget(path, account)
    return DeltaTarget(path, account)


class Target:
    """The replica's tables behind one DuckDB connection, committed one table at a time."""

    duck: duckdb.DuckDBPyConnection
    account: str

    def prepare(self, strategy: Strategy) -> None:
        """Make the replica table exist (and, for a lake, load this account's rows)."""
        raise NotImplementedError

    def begin(self) -> None:
        self.duck.execute("BEGIN TRANSACTION")

    def commit(self, strategy: Strategy) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.duck.execute("ROLLBACK")

    def record_failure(self, row: dict) -> None:
        """A failed table's run row, committed on its own (its data was rolled back)."""
        raise NotImplementedError

    def close(self) -> None:
        self.duck.close()


class DuckDBTarget(Target):
    """A DuckDB file: the data and state tables live in it, one transaction per table."""

    def __init__(self, path: str, account: str) -> None:
        self.path, self.account = path, account
        parent = Path(path).parent
        if not parent.exists():
            raise ProgrammingError(f"cannot create the replica {path}: {parent} does not exist")
        try:
            self.duck = duckdb.connect(path)
        except duckdb.Error as e:
            raise ProgrammingError(
                f"cannot open the replica {path} as a DuckDB file: {e}"
            ) from None
        self.duck.execute("SET TimeZone = 'UTC'")
        state.ensure(self.duck)
        others = [a for a in state.accounts(self.duck) if a != account]
        if others:
            self.duck.close()
            raise ProgrammingError(
                f"{path} is a replica of account {others[0]!r}; replicate {account!r} into "
                "another file, or into a Parquet lake (partitioned by account)"
            )

    def prepare(self, strategy: Strategy) -> None:
        merge.create_table(self.duck, strategy.table)

    def commit(self, strategy: Strategy) -> None:
        self.duck.execute("COMMIT")

    def record_failure(self, row: dict) -> None:
        state.record_run(self.duck, row)


class _Lake(Target):
    """A working copy in memory of this account's rows; subclasses persist it."""

    def __init__(self, path: str, account: str) -> None:
        self.root, self.account = Path(path), account
        self._keys = {}
        if self.root.exists() and not self.root.is_dir():
            raise ProgrammingError(f"{path} is a file; a {self.kind} replica is a directory")
        self.root.mkdir(parents=True, exist_ok=True)
        self.duck = duckdb.connect(":memory:")
        self.duck.execute("SET TimeZone = 'UTC'")
        state.ensure(self.duck)
        for name, columns in ((state.STATE_TABLE, state.STATE_COLUMNS),
                              (state.RUNS_TABLE, state.RUNS_COLUMNS)):  # fmt: skip
            self._load(name, columns, name)

    kind = "lake"

    #: partition column names per lake table; a table with a column of that name (the
    #: reseller accounts' `account`) gets csql_account / csql_month instead
    _keys: dict[str, tuple[str, str]]

    def keys(self, name: str) -> tuple[str, str]:
        return self._keys.get(name, (ACCOUNT, MONTH))

    def partition(self, name: str) -> str:
        return f"{self.keys(name)[0]}={url_quote(self.account, safe='')}"

    def _load(self, name: str, columns: dict[str, str], into: str) -> None:
        source = self._read(name)
        if source is None:
            return
        cols = ", ".join(f"CAST({quote(c)} AS {t}) AS {quote(c)}" for c, t in columns.items())
        self.duck.execute(f"INSERT INTO {quote(into)} SELECT {cols} FROM {source}")

    def _read(self, name: str) -> str | None:
        """A FROM clause reading this account's rows of one lake table, or None."""
        raise NotImplementedError

    def prepare(self, strategy: Strategy) -> None:
        table = strategy.table
        names = set(table.column_names)
        self._keys[table.name] = tuple(
            k if k not in names else f"csql_{k}" for k in (ACCOUNT, MONTH)
        )
        self.duck.execute(f"DROP TABLE IF EXISTS {quote(table.name)}")
        merge.create_table(self.duck, table)
        columns = {c.name: SQL_TYPES[c.type] for c in table.columns}
        columns[SYNCED_AT] = "TIMESTAMP WITH TIME ZONE"
        self._load(table.name, columns, table.name)

    def _frame(self, strategy: Strategy) -> str:
        """The table as written to the lake: its columns plus the partition columns."""
        col = strategy.partition_column
        month = (
            f"coalesce(strftime({quote(col.name)}, '%Y-%m'), {sql_string(NULL_PARTITION)})"
            if col is not None
            else None
        )
        acct, mon = self.keys(strategy.table.name)
        parts = f"{sql_string(self.account)} AS {acct}" + (f", {month} AS {mon}" if month else "")
        cols = ", ".join(
            f"CAST({quote(c.name)} AS VARCHAR) AS {quote(c.name)}" if c.type == "json" and self.kind == "Delta"
            else quote(c.name)
            for c in strategy.table.columns
        )  # fmt: skip
        return f"SELECT {cols}, {quote(SYNCED_AT)}, {parts} FROM {quote(strategy.table.name)}"

    def commit(self, strategy: Strategy) -> None:
        self.duck.execute("COMMIT")
        self._write_table(strategy.table.name, self._frame(strategy),
                          list(self.keys(strategy.table.name)[: 2 if strategy.partition_column else 1]))  # fmt: skip
        self._write_state(state.STATE_TABLE)
        self._runs_dirty = True

    def record_failure(self, row: dict) -> None:
        state.record_run(self.duck, row)
        self._runs_dirty = True

    def close(self) -> None:
        """The run log is written once, at the end of the run (the state after each table)."""
        try:
            if getattr(self, "_runs_dirty", False):
                self._write_state(state.RUNS_TABLE)
        finally:
            self.duck.close()

    def _write_state(self, name: str) -> None:
        where = f"account = {sql_string(self.account)}"
        self._write_table(name, f"SELECT * FROM {quote(name)} WHERE {where}", ["account"])

    def _write_table(self, name: str, select: str, partition_by: list[str]) -> None:
        raise NotImplementedError


class ParquetTarget(_Lake):
    """Hive-partitioned Parquet: TARGET/<table>/account=<a>/month=<YYYY-MM>/data_0.parquet."""

    kind = "Parquet"

    def _read(self, name: str) -> str | None:
        base = self.root / name / self.partition(name)
        self._recover(name)
        if not any(base.rglob("*.parquet")):
            return None
        glob = sql_string(str(base / "**" / "*.parquet"))
        return f"read_parquet({glob}, hive_partitioning = true, union_by_name = true)"

    def _recover(self, name: str) -> None:
        """A swap interrupted after the old partition was moved aside: move it back."""
        live, old = self.root / name / self.partition(name), self._aside(name, "old")
        if not live.exists() and old.exists():
            os.replace(old, live)
        elif old.exists():
            shutil.rmtree(old, ignore_errors=True)

    def _aside(self, name: str, what: str) -> Path:
        return self.root / ".csql" / f"{name}.{self.partition(name)}.{what}"

    def _write_table(self, name: str, select: str, partition_by: list[str]) -> None:
        staging = self.root / ".csql" / f"{name}.{uuid.uuid4().hex}"
        staging.parent.mkdir(parents=True, exist_ok=True)
        cols = ", ".join(quote(c) for c in partition_by)
        self.duck.execute(
            f"COPY ({select}) TO {sql_string(str(staging))} "
            f"(FORMAT parquet, PARTITION_BY ({cols}), OVERWRITE_OR_IGNORE true)"
        )
        # the one partition written (DuckDB escapes odd characters its own way)
        written = next(staging.iterdir(), staging / self.partition(name))
        live = self.root / name / self.partition(name)
        live.parent.mkdir(parents=True, exist_ok=True)
        old = self._aside(name, "old")
        if not written.exists():  # no rows: an empty partition
            written.mkdir(parents=True)
        if live.exists():
            os.replace(live, old)
        os.replace(written, live)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


class DeltaTarget(_Lake):
    """Delta Lake tables (TARGET/<table>/_delta_log), partitioned by account and month."""

    kind = "Delta"

    def __init__(self, path: str, account: str) -> None:
        try:
            import deltalake  # noqa: F401
        except ImportError:
            raise NotSupportedError(
                "the delta format needs the deltalake package: pip install 'csql[delta]'"
            ) from None
        super().__init__(path, account)

    def _read(self, name: str) -> str | None:
        from deltalake import DeltaTable

        uri = self.root / name
        if not (uri / "_delta_log").is_dir():
            return None
        data = DeltaTable(str(uri)).to_pyarrow_table(
            filters=[(self.keys(name)[0], "=", self.account)]
        )
        view = f"__csql_delta_{name}"
        self.duck.register(view, data)
        return quote(view)

    def _write_table(self, name: str, select: str, partition_by: list[str]) -> None:
        from deltalake import write_deltalake

        data: pa.Table = self.duck.sql(select).to_arrow_table()
        data = _delta_types(data)
        uri = self.root / name
        predicate = f"{self.keys(name)[0]} = {sql_string(self.account)}"
        if (uri / "_delta_log").is_dir():
            write_deltalake(str(uri), data, mode="overwrite", predicate=predicate,
                            partition_by=partition_by)  # fmt: skip
        else:
            write_deltalake(str(uri), data, mode="overwrite", partition_by=partition_by)


def _delta_types(data: pa.Table) -> pa.Table:
    """Arrow types Delta accepts: timestamps in UTC microseconds, JSON as text."""
    fields = []
    for f in data.schema:
        t = f.type
        if pa.types.is_timestamp(t):
            t = pa.timestamp("us", tz="UTC")
        elif isinstance(t, pa.ExtensionType):
            t = pa.string()
        fields.append(pa.field(f.name, t, f.nullable))
    return data.cast(pa.schema(fields))
