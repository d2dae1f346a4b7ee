"""JSON records -> Arrow, with the catalog's types.

ClickSend sends the same field in different shapes (Unix seconds as 1436157486 or
"1436157486", prices as "0.070000", flags as 0/1 or "1"), so every column is first gathered
as one Arrow array and then converted with Arrow compute casts, column by column, never value
by value. A value that does not fit its column raises DataError naming table, column and value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

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


def _numeric(values: Sequence[Any], target: pa.DataType) -> pa.Array:
    try:
        raw = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raw = _as_text(values)
    if pa.types.is_null(raw.type):
        return pa.nulls(len(values), target)
    if pa.types.is_boolean(raw.type):
        raw = pc.cast(raw, pa.int8())
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
    try:
        raw = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raw = _as_text(values)
    if pa.types.is_null(raw.type):
        return pa.nulls(len(values), pa.bool_())
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
    seconds = _numeric(values, pa.int64())
    return pc.cast(seconds, TIMESTAMP)


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


def records_to_arrow(
    records: Sequence[Mapping[str, Any]],
    table: Table,
    fixed: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Rows of one page as an Arrow table with the table's schema.

    `fixed` gives values for columns the response does not carry (path keys with
    source: path, such as year and month), the same for every row of the page.
    """
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
