"""JSON records -> Arrow, with the catalog's types.

ClickSend sends the same field in different shapes (Unix seconds as 1436157486 or
"1436157486", prices as "0.070000", flags as 0/1 or "1"), so every column is first gathered
as one Arrow array and then converted with Arrow compute casts, column by column, never value
by value. A value that does not fit its column raises DataError naming table, column and value.

Two paths give the same answer (tests/test_arrow_native.py proves it on generated pages):

- native (`records_to_arrow`): the whole page becomes one Arrow StructArray in a single C++
  call (`pa.array(records, type=wire)`), using the JSON shape each column had on earlier pages
  (the *wire type*: "756" is string, 1436157486 int64); each column whose catalog type differs
  is then cast to it, first with one direct cast, and only when that fails with the careful rules
  below ("" is NULL, "29.00" is a whole number, 0/1 are flags). No Python loop per column.
- exact (`records_to_arrow_exact`): a Python list per column, then the careful rules. Used
  for a page whose shape differs from the wire types (a field that changed type, a nested
  object in a JSON column, a value that does not fit: the DataError comes from here), after
  which the wire types are learned again from that page.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa

from csql.catalog import Column, Table
from csql.errors import DataError

DECIMAL = pa.decimal128(18, 6)
TIMESTAMP = pa.timestamp("s", tz="UTC")

ARROW_TYPES: dict[str, pa.DataType] = {
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "decimal": DECIMAL,
    "varchar": pa.string(),
    "boolean": pa.bool_(),
    "timestamp": TIMESTAMP,
    "json": pa.string(),  # JSON text; the engine exposes it to DuckDB as JSON
}

_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


class _Compute:
    """pyarrow.compute, imported on first use: its import (~0.1 s) is not paid by statements
    that convert no page (`csql -c "SELECT 1"`: startup)."""

    def __getattr__(self, name: str):
        import pyarrow.compute as module

        globals()["pc"] = module  # later calls go straight to the module
        return getattr(module, name)


pc = _Compute()


def schema_for(table: Table) -> pa.Schema:
    """The Arrow schema of a table's rows."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type], c.nullable) for c in table.columns])


def _as_text(values: Sequence[Any]) -> pa.Array:
    """Any JSON scalars as strings (numbers printed as JSON does), nested values as JSON text."""

    def text(v: Any) -> str | None:
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return orjson.dumps(v).decode()
        return orjson.dumps(v).decode()

    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([text(v) for v in values], pa.string())


def _blank_to_null(arr: pa.Array) -> pa.Array:
    """ClickSend sends "" for an unset number or date: that is NULL, not a parse error."""
    if pa.types.is_string(arr.type):
        blank = pc.equal(pc.utf8_trim_whitespace(arr), "")
        return pc.if_else(blank, pa.scalar(None, pa.string()), arr)
    return arr


def _wire(values: Sequence[Any]) -> pa.Array:
    """The values as Arrow infers them (int64, double, string, ...), text if they are mixed."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return _as_text(values)


def _numeric(values: Sequence[Any], target: pa.DataType) -> pa.Array:
    return _numeric_array(_wire(values), target)


def _numeric_array(raw: pa.Array, target: pa.DataType) -> pa.Array:
    if pa.types.is_null(raw.type):
        return pa.nulls(len(raw), target)
    if pa.types.is_boolean(raw.type):
        raw = pc.cast(raw, pa.int8())
    if pa.types.is_string(raw.type):
        # one direct cast is exact when it succeeds (clean "756", "1.5"); "", " 7" and "29.00"
        # fail it and take the careful path below
        try:
            return pc.cast(raw, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    raw = _blank_to_null(raw)
    if pa.types.is_string(raw.type) and pa.types.is_integer(target):
        # "29.00" is a whole number written as a decimal: accept it, reject "29.5"
        as_dec = pc.cast(raw, pa.float64())
        if pc.all(pc.equal(pc.floor(as_dec), as_dec)).as_py() not in (True, None):
            raise pa.ArrowInvalid("not a whole number")
        return pc.cast(as_dec, target)
    if pa.types.is_floating(raw.type) and pa.types.is_decimal(target):
        return pc.cast(pc.round(raw, 6), target, safe=False)
    if pa.types.is_integer(raw.type) and pa.types.is_decimal(target):
        return pc.cast(pc.cast(raw, pa.decimal128(38, 6)), target)
    return pc.cast(raw, target)


def _boolean(values: Sequence[Any]) -> pa.Array:
    return _boolean_array(_wire(values))


def _boolean_array(raw: pa.Array) -> pa.Array:
    if pa.types.is_null(raw.type):
        return pa.nulls(len(raw), pa.bool_())
    if pa.types.is_boolean(raw.type):
        return raw
    if pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type):
        flags = pc.or_kleene(pc.is_in(raw, pa.array([0, 1], raw.type)), pc.is_null(raw))
        if pc.all(flags).as_py() not in (True, None):
            raise pa.ArrowInvalid("flags are 0 or 1")
        return pc.not_equal(raw, pa.scalar(0, raw.type))
    text = pc.utf8_lower(pc.utf8_trim_whitespace(raw))
    known = pc.is_in(text, pa.array(sorted(_TRUE | _FALSE)))
    if pc.all(pc.or_kleene(known, pc.is_null(text))).as_py() not in (True, None):
        raise pa.ArrowInvalid("not a flag")
    return pc.if_else(pc.equal(text, ""), None, pc.is_in(text, pa.array(sorted(_TRUE))))


def _timestamp(values: Sequence[Any]) -> pa.Array:
    return _timestamp_array(_wire(values))


def _timestamp_array(raw: pa.Array) -> pa.Array:
    return pc.cast(_numeric_array(raw, pa.int64()), TIMESTAMP)


def _text_array(raw: pa.Array) -> pa.Array | None:
    """A wire array as text, or None when only the JSON values can say (doubles print
    differently in Arrow and JSON, nested values need the original objects)."""
    if pa.types.is_string(raw.type):
        return raw
    if pa.types.is_null(raw.type) or pa.types.is_integer(raw.type) or pa.types.is_boolean(raw.type):
        return pc.cast(raw, pa.string())  # 756 -> "756", true -> "true": as JSON prints them
    return None


def convert_array(raw: pa.Array, column: Column) -> pa.Array | None:
    """A column already in Arrow (its wire type) as the column's type; None if only the exact
    path can convert it. Raises ArrowInvalid/ArrowTypeError for a value that does not fit."""
    kind = column.type
    if kind == "varchar" or kind == "json":
        return _text_array(raw)
    if not (
        pa.types.is_null(raw.type)
        or pa.types.is_integer(raw.type)
        or pa.types.is_floating(raw.type)
        or pa.types.is_boolean(raw.type)
        or pa.types.is_string(raw.type)
    ):
        return None  # a nested value in a scalar column: the exact path names it
    if kind == "boolean":
        return _boolean_array(raw)
    if kind == "timestamp":
        return _timestamp_array(raw)
    return _numeric_array(raw, ARROW_TYPES[kind])


def convert(values: Sequence[Any], column: Column) -> pa.Array:
    """One column's raw JSON values as an Arrow array of the column's type (ArrowInvalid if not)."""
    kind = column.type
    if kind == "varchar" or kind == "json":
        return _as_text(values)
    if kind == "boolean":
        return _boolean(values)
    if kind == "timestamp":
        return _timestamp(values)
    return _numeric(values, ARROW_TYPES[kind])


def _first_bad(values: Sequence[Any], column: Column) -> Any:
    """The first value that does not convert, for the error message (only on the error path)."""
    for v in values:
        try:
            convert([v], column)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return v
    return values[0] if values else None


class WireTypes:
    """The JSON shape of each table's columns as Arrow types, learned from the pages seen.

    Shared by every statement in the process: ClickSend sends a field in the same shape
    page after page, so after the first page of a table every page converts natively.
    """

    def __init__(self) -> None:
        self._types: dict[str, pa.StructType] = {}
        self._lock = threading.Lock()

    def get(self, table: Table) -> pa.StructType | None:
        return self._types.get(table.name)

    def learn(self, records: Sequence[Mapping[str, Any]], table: Table) -> None:
        """The wire types of this page (text for text columns; a column that was all NULL
        keeps what earlier pages said)."""
        old = self._types.get(table.name)
        fields = []
        for col in table.columns:
            kind = _wire([r.get(col.name) for r in records]).type
            if pa.types.is_null(kind) and old is not None:
                kind = old.field(col.name).type
            text = col.type in ("varchar", "json")
            if text and not (pa.types.is_integer(kind) or pa.types.is_boolean(kind)):
                kind = pa.string()  # text as text; ints and flags print the same in Arrow
            elif not (pa.types.is_primitive(kind) or pa.types.is_string(kind)):
                kind = pa.string()  # nested: such a page takes the exact path in any case
            fields.append(pa.field(col.name, kind))
        with self._lock:
            self._types[table.name] = pa.struct(fields)


WIRE_TYPES = WireTypes()


def _direct_type(col: Column, wire: pa.DataType) -> pa.DataType | None:
    """The type one direct cast of the wire type can reach exactly, or None when the column
    needs its own rules (flags, doubles into decimals, nested values)."""
    kind = col.type
    if kind in ("varchar", "json"):
        ok = pa.types.is_string(wire) or pa.types.is_integer(wire) or pa.types.is_null(wire)
        return pa.string() if ok else None
    if not (pa.types.is_integer(wire) or pa.types.is_string(wire) or pa.types.is_null(wire)
            or pa.types.is_floating(wire)):  # fmt: skip
        return None
    if kind == "boolean" or (kind == "decimal" and not pa.types.is_string(wire)):
        return None  # int64 -> decimal(18, 6) needs precision 25: the rules go via (38, 6)
    if kind == "timestamp":  # "1436157486" is seconds, not an ISO date: to int64 first
        return pa.int64() if pa.types.is_string(wire) else TIMESTAMP
    return ARROW_TYPES[kind]


class _Casts:
    """How a page of one wire shape becomes the table's types: one cast for each column a
    direct cast converts and whose type changes (most are text already), then the few
    columns with rules of their own."""

    def __init__(self, table: Table, wire: pa.StructType) -> None:
        self.wire = wire
        self.schema = schema_for(table)
        direct = [_direct_type(c, wire.field(c.name).type) for c in table.columns]
        self.special = [i for i, t in enumerate(direct) if t is None]
        self.direct = pa.struct(
            [pa.field(c.name, t if t is not None else wire.field(c.name).type)
             for c, t in zip(table.columns, direct, strict=True)]
        )  # fmt: skip
        # the columns whose direct type is not their wire type: the only ones to cast
        self.recast = [
            (i, f.type) for i, (f, w) in enumerate(zip(self.direct, wire, strict=True))
            if f.type != w.type
        ]  # fmt: skip
        self.then_timestamp = [
            i for i, (c, t) in enumerate(zip(table.columns, direct, strict=True))
            if c.type == "timestamp" and t == pa.int64()
        ]  # fmt: skip


_CASTS: dict[tuple[str, pa.StructType], _Casts] = {}


def _native(records: Sequence[Mapping[str, Any]], table: Table,
            fixed: Mapping[str, Any]) -> pa.Table | None:  # fmt: skip
    """The page through the native path, or None when it has to take the exact path."""
    wire = WIRE_TYPES.get(table)
    if wire is None or not records:
        return None
    casts = _CASTS.get((table.name, wire))
    if casts is None:
        casts = _CASTS[(table.name, wire)] = _Casts(table, wire)
    errors = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)
    try:
        struct = pa.array(records, type=wire)  # every value of the page in one C++ pass
        arrays = struct.flatten()  # then a cast for the few columns whose type changes
        for i, kind in casts.recast:
            arrays[i] = arrays[i].cast(kind)
        for i in casts.then_timestamp:
            arrays[i] = arrays[i].cast(TIMESTAMP)
        for i in casts.special:
            out = convert_array(arrays[i], table.columns[i])
            if out is None:
                return None
            arrays[i] = out
    except errors:
        return None  # the exact path finds the value and says which one
    for i, col in enumerate(table.columns):
        if col.name in fixed and col.source == "path":
            arrays[i] = convert([fixed[col.name]] * len(records), col)
    return pa.Table.from_arrays(arrays, schema=casts.schema)


def records_to_arrow(
    records: Sequence[Mapping[str, Any]],
    table: Table,
    fixed: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Rows of one page as an Arrow table with the table's schema (native when it can be).

    `fixed` gives values for columns the response does not carry (path keys with
    source: path, such as year and month), the same for every row of the page.
    """
    fixed = fixed or {}
    if records and all(type(r) is dict for r in records):
        native = _native(records, table, fixed)
        if native is not None:
            return native
        result = records_to_arrow_exact(records, table, fixed)
        WIRE_TYPES.learn(records, table)  # only after the page converted: its shape is sound
        return result
    return records_to_arrow_exact(records, table, fixed)


def records_to_arrow_exact(
    records: Sequence[Mapping[str, Any]],
    table: Table,
    fixed: Mapping[str, Any] | None = None,
) -> pa.Table:
    """records_to_arrow, a Python list per column: any shape, and the DataError for a value
    that does not fit its column."""
    fixed = fixed or {}
    if not all(type(r) is dict for r in records):  # odd responses: a non-object is an empty row
        records = [r if isinstance(r, Mapping) else {} for r in records]
    arrays = []
    for col in table.columns:
        if col.name in fixed and (col.source == "path" or not records):
            values: Sequence[Any] = [fixed[col.name]] * len(records)
        else:
            values = [r.get(col.name) for r in records]
        try:
            arrays.append(convert(values, col))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            bad = _first_bad(values, col)
            raise DataError(
                f"{table.name}.{col.name}: ClickSend sent {bad!r}, which is not a valid "
                f"{col.type} ({e}); the catalog's type for this column may need fixing"
            ) from None
    return pa.Table.from_arrays(arrays, schema=schema_for(table))


def extract_records(body: Any, path: str) -> tuple[list[Any], Any]:
    """The records at a dotted path of a response body ('' is the body itself), and their parent.

    An object there is one record; a missing path is no records. The parent is the object
    that holds the records: page metadata (total, last_page) sits beside them.
    """
    parent, node = None, body
    for part in [p for p in path.split(".") if p]:
        if not isinstance(node, Mapping):
            return [], parent
        parent, node = node, node.get(part)
    if node is None:
        return [], parent
    if isinstance(node, Mapping):
        return [node], parent
    if isinstance(node, list):
        return node, parent
    return [node], parent


def scalar_records(values: Sequence[Any], table: Table) -> list[dict[str, Any]]:
    """A list of plain values (timezones) as records of the table's single column."""
    name = table.columns[0].name
    return [{name: v} for v in values]
