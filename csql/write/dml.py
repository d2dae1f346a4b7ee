"""INSERT/UPDATE/DELETE: from a statement and its rows to the requests to send. Pure.

The engine finds the rows (VALUES or a SELECT through the read path for INSERT; the affected
rows through the read path, with pushdown, for UPDATE/DELETE) and hands them here as Arrow;
this module checks them against the catalog and turns each row into one request.
Nothing here does I/O, so EXPLAIN can show exactly what would be sent.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlglot import exp

from csql.catalog import OPERATION_ENDPOINT, Catalog, Column, Table
from csql.errors import DataError, IntegrityError, NotSupportedError, ProgrammingError


@dataclass(frozen=True)
class WriteRequest:
    """One request of a write statement; `row` is the 1-based row of the statement it serves."""

    method: str
    path: str
    body: Any
    row: int
    keys: dict[str, Any] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    current: dict[str, Any] | None = None  # DELETE ... RETURNING: the row as it was
    #: values the catalog marks secret (passwords, tokens): masked in EXPLAIN, errors and logs
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class DmlStatement:
    """A checked DML statement: what to read first, and how rows become requests."""

    kind: str  # INSERT, UPDATE, DELETE
    table: Table
    source: exp.Query | None  # the query whose rows are inserted / identify the affected rows
    columns: tuple[str, ...] = ()  # INSERT: target columns in source order; UPDATE: SET columns
    returning: tuple[exp.Expression, ...] = ()
    alias: str | None = None  # the target's name or alias in the statement (RETURNING t.col)


def not_allowed(table: Table, operation: str) -> NotSupportedError:
    allowed = ", ".join(table.operations)
    return NotSupportedError(f"{operation} is not allowed on {table.name} (allowed: {allowed})")


def check_allowed(table: Table, operation: str) -> None:
    if not table.allows(operation):
        raise not_allowed(table, operation)


def _target(tree: exp.Expression, catalog: Catalog) -> tuple[Table, exp.Table]:
    node = tree.this
    if isinstance(node, exp.Schema):
        node = node.this
    if not isinstance(node, exp.Table):
        raise ProgrammingError("the statement needs a table to write to")
    from csql.binder import resolve_table

    return resolve_table(catalog, node.name), node


def _column(table: Table, name: str) -> Column:
    col = table.column(name)
    if col is None:
        from csql.catalog import _close

        hints = _close(name, list(table.column_names))
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise ProgrammingError(f"{table.name} has no column {name!r}{hint} (DESCRIBE {table.name})")
    return col


def analyze(tree: exp.Expression, catalog: Catalog, allow_unfiltered: bool = False) -> DmlStatement:
    """Check a bound INSERT/UPDATE/DELETE and say what must be read to run it."""
    if isinstance(tree, exp.Insert):
        return _insert(tree, catalog)
    if isinstance(tree, exp.Update):
        return _update(tree, catalog, allow_unfiltered)
    if isinstance(tree, exp.Delete):
        return _delete(tree, catalog, allow_unfiltered)
    raise NotSupportedError(f"{type(tree).__name__.upper()} is not supported")


def _alias(tree: exp.Expression) -> str:
    node = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    return node.alias_or_name


def _returning(tree: exp.Expression) -> tuple[exp.Expression, ...]:
    ret = tree.args.get("returning")
    return tuple(ret.expressions) if ret is not None else ()


def _insert(tree: exp.Insert, catalog: Catalog) -> DmlStatement:
    table, _ = _target(tree, catalog)
    check_allowed(table, "INSERT")
    _refuse_changed_meaning(tree, table)
    names: list[str]
    if isinstance(tree.this, exp.Schema) and tree.this.expressions:
        names = [_column(table, i.name).name for i in tree.this.expressions]
    else:
        names = [c.name for c in table.columns if not c.read_only]
    if len(set(names)) != len(names):
        raise ProgrammingError("a column is named twice in the INSERT column list")
    for name in names:
        col = table.column(name)
        if col.read_only:
            raise ProgrammingError(
                f"{table.name}.{name} is read-only: ClickSend sets it; leave it out of the INSERT"
            )
    source = tree.expression
    if isinstance(source, exp.Values):
        source = exp.select("*").from_(
            exp.Subquery(this=source, alias=exp.TableAlias(this=exp.to_identifier("v")))
        )
    if not isinstance(source, exp.Query):
        raise ProgrammingError("INSERT needs VALUES (...) or a SELECT")
    return DmlStatement("INSERT", table, source, tuple(names), _returning(tree), _alias(tree))


def _refuse_changed_meaning(tree: exp.Insert, table: Table) -> None:
    """INSERT forms whose meaning a plain POST per row would change are refused, never run as
    a plain INSERT: OR REPLACE / OR IGNORE / ON CONFLICT (upserts; ClickSend has none, and a
    plain POST would create duplicates), BY NAME, OVERWRITE and DEFAULT VALUES."""
    alternative = tree.args.get("alternative")
    conflict = tree.args.get("conflict")
    if alternative or conflict is not None or tree.args.get("ignore"):
        form = (
            f"INSERT OR {str(alternative).upper()}"
            if alternative
            else ("INSERT ... ON CONFLICT" if conflict is not None else "INSERT IGNORE")
        )
        keys = ", ".join(c.name for c in table.columns if c.primary_key) or "its id"
        raise NotSupportedError(
            f"{form} is not supported: ClickSend has no upsert, and running it as a plain "
            f"INSERT would create duplicates. Look the rows up first (SELECT ... FROM "
            f"{table.name} WHERE {keys.split(', ')[0]} = ...), then UPDATE {table.name} the "
            f"ones that exist and INSERT the others"
        )
    if tree.args.get("by_name"):
        raise NotSupportedError(
            "INSERT ... BY NAME is not supported: list the columns instead, "
            f"INSERT INTO {table.name} (col, ...) SELECT ..."
        )
    if tree.args.get("overwrite"):
        raise NotSupportedError(
            f"INSERT OVERWRITE would replace every row of {table.name}: not supported; "
            "DELETE and INSERT explicitly"
        )
    if tree.args.get("default"):
        raise NotSupportedError(
            "INSERT ... DEFAULT VALUES is not supported: ClickSend has no defaults to apply; "
            "give the values"
        )


def _where_or_refuse(
    tree: exp.Expression, table: Table, kind: str, allow: bool
) -> exp.Expression | None:
    where = tree.args.get("where")
    if where is None and not allow:
        raise ProgrammingError(
            f"{kind} without WHERE would change every row of {table.name}; add a WHERE, or "
            f"connect with allow_unfiltered_writes=True if that is really what you want"
        )
    return where


def _key_columns(table: Table, operation: str) -> list[str]:
    endpoint = table.endpoints[OPERATION_ENDPOINT[operation]]
    return list(endpoint.placeholders)


def _select_rows(
    tree: exp.Expression, table: Table, node: exp.Table, exprs: list[exp.Expression]
) -> exp.Select:
    """SELECT <exprs> FROM <target> [other FROM tables] WHERE <where>: the affected rows."""
    select = exp.select(*exprs).from_(node.copy())
    extra = tree.args.get("from_") or tree.args.get("from")
    if extra is not None:
        select = select.join(extra.this.copy(), join_type="CROSS")
    for join in tree.args.get("joins") or []:
        select = select.join(join.copy())
    where = tree.args.get("where")
    if where is not None:
        select = select.where(where.this.copy())
    return select


def _keyed(tree: exp.Expression, catalog: Catalog, op: str, allow: bool):
    """UPDATE/DELETE alike: the target, its qualifier, and the columns naming each row's key."""
    table, node = _target(tree, catalog)
    check_allowed(table, op)
    _where_or_refuse(tree, table, op, allow)
    qualifier = node.alias_or_name

    def col(name: str, prefix: str) -> exp.Expression:
        return exp.column(name, table=qualifier, quoted=True).as_(f"{prefix}{name}")

    keys = [col(k, "__key_") for k in _key_columns(table, op)]
    return table, node, qualifier, keys, col


def _update(tree: exp.Update, catalog: Catalog, allow: bool) -> DmlStatement:
    table, node, qualifier, exprs, col_as = _keyed(tree, catalog, "UPDATE", allow)
    sets: list[str] = []
    for eq in tree.expressions:
        if not isinstance(eq, exp.EQ) or not isinstance(eq.this, exp.Column):
            raise ProgrammingError("SET takes column = value pairs")
        col = _column(table, eq.this.name)
        if col.read_only or col.primary_key or col.path_key or not col.writable_on_update:
            what = "a key" if col.primary_key or col.path_key else "read-only"
            raise ProgrammingError(f"{table.name}.{col.name} is {what}: UPDATE cannot change it")
        sets.append(col.name)
        exprs.append(exp.cast(eq.expression.copy(), sql_type(col)).as_(f"__set_{col.name}"))
    for group in table.required_on_insert:  # sent along: ClickSend wants one of them present
        for name in group:
            col = table.column(name)
            if name not in sets and not col.path_key and not col.read_only:
                exprs.append(col_as(name, "__keep_"))
    rows = _select_rows(tree, table, node, exprs)
    return DmlStatement("UPDATE", table, rows, tuple(sets), _returning(tree), qualifier)


def _delete(tree: exp.Delete, catalog: Catalog, allow: bool) -> DmlStatement:
    if tree.args.get("using"):
        raise NotSupportedError(
            "DELETE ... USING: write it as DELETE ... WHERE key IN (SELECT ...)"
        )
    table, node, qualifier, exprs, col_as = _keyed(tree, catalog, "DELETE", allow)
    if _returning(tree):  # the rows as they were, for RETURNING
        exprs += [col_as(c, "__row_") for c in table.column_names]
    rows = _select_rows(tree, table, node, exprs)
    return DmlStatement("DELETE", table, rows, (), _returning(tree), qualifier)


def sql_type(col: Column) -> str:
    from csql.metadata import SQL_TYPES

    return "VARCHAR" if col.type == "json" else SQL_TYPES[col.type]


# --------------------------------------------------------------------------------------------
# rows -> requests


def json_value(value: Any, col_type: str) -> Any:
    """A value as ClickSend's JSON expects it: Unix seconds, 0/1 flags, decimals as strings."""
    if value is None:
        return None
    if col_type == "timestamp" or isinstance(value, dt.datetime):
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return int(value.timestamp())
        if isinstance(value, dt.date):
            return int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp())
        return _unix_seconds(value)
    if col_type == "boolean" or isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f") if col_type == "decimal" else float(value)
    if col_type == "json" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if (
        col_type in ("integer", "bigint")
        and isinstance(value, str)
        and value.strip().lstrip("-").isdigit()
    ):
        return int(value)
    return value


MAX_UNIX_SECONDS = 253402300799  # 9999-12-31 23:59:59 UTC


def _unix_seconds(value: Any) -> int:
    """A timestamp given as a number or text (Unix seconds or ISO 8601) as Unix seconds;
    DataError for anything else (`'tomorrow'`), never a bare ValueError."""
    if isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
        try:
            seconds = int(value)
        except (ValueError, OverflowError, decimal.InvalidOperation):
            pass
        else:
            if abs(seconds) <= MAX_UNIX_SECONDS:
                return seconds
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = int(text)
        except ValueError:
            pass
        else:
            if abs(seconds) <= MAX_UNIX_SECONDS:
                return seconds
        try:
            parsed = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            try:
                return int(parsed.timestamp())
            except (OverflowError, ValueError):
                pass
    raise DataError(
        f"{str(value)[:80]!r} is not a timestamp: give a TIMESTAMP, an ISO 8601 text such as "
        "'2026-12-01 10:00:00' or Unix seconds"
    )


def _rows(data: pa.Table) -> list[dict[str, Any]]:
    return data.to_pylist()


def insert_requests(stmt: DmlStatement, data: pa.Table) -> list[WriteRequest]:
    """One POST per row, after every row has been checked (nothing is sent if one is bad)."""
    table = stmt.table
    if data.num_columns != len(stmt.columns):
        raise ProgrammingError(
            f"INSERT lists {len(stmt.columns)} columns but the rows have {data.num_columns} values"
        )
    data = data.rename_columns(list(stmt.columns))
    endpoint = table.endpoints["insert"]
    problems = []
    out = []
    for i, row in enumerate(_rows(data), start=1):
        for group in table.required_on_insert:
            if all(row.get(c) is None for c in group):
                need = group[0] if len(group) == 1 else "one of " + ", ".join(group)
                problems.append(f"row {i}: {need} is required")
        missing_keys = [p for p in endpoint.placeholders if row.get(p) is None]
        if missing_keys:
            problems.append(f"row {i}: {', '.join(missing_keys)} is needed for {endpoint.path}")
            continue
        body = {
            name: json_value(v, table.column(name).type)
            for name, v in row.items()
            if v is not None and name not in endpoint.placeholders
        }
        keys = {p: row[p] for p in endpoint.placeholders}
        out.append(
            WriteRequest(
                endpoint.method,
                endpoint.render(keys),
                _wrap(body, endpoint.body),
                i,
                keys,
                secrets=secret_values(table, row),
            )
        )
    if problems:
        shown = "; ".join(problems[:10]) + (
            f"; and {len(problems) - 10} more" if len(problems) > 10 else ""
        )
        raise IntegrityError(f"INSERT INTO {table.name}: nothing was sent: {shown}")
    return out


@dataclass(frozen=True)
class BulkFile:
    """Rows of one list as a CSV file for an import endpoint (no header: `field_order` names
    the columns)."""

    keys: dict[str, Any]
    field_order: tuple[str, ...]
    content: bytes
    rows: tuple[WriteRequest, ...]


def bulk_files(requests: list[WriteRequest]) -> list[BulkFile]:
    """The checked per-row requests of an INSERT, regrouped as one CSV file per path."""
    import csv
    import io

    groups: dict[str, list[WriteRequest]] = {}
    for r in requests:
        groups.setdefault(r.path, []).append(r)
    out = []
    for reqs in groups.values():
        order = tuple(dict.fromkeys(k for r in reqs for k in r.body))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for r in reqs:
            writer.writerow(["" if r.body.get(k) is None else r.body[k] for k in order])
        out.append(BulkFile(dict(reqs[0].keys), order, buf.getvalue().encode(), tuple(reqs)))
    return out


def _wrap(body: dict, style: str) -> Any:
    if style == "messages":
        return {"messages": [body]}
    if style == "recipients":
        return {"recipients": [body]}
    if style == "none":
        return None
    return body


def update_requests(stmt: DmlStatement, data: pa.Table) -> list[WriteRequest]:
    table = stmt.table
    endpoint = table.endpoints["update"]
    out = []
    for i, row in enumerate(_rows(data), start=1):
        keys = {k[len("__key_") :]: v for k, v in row.items() if k.startswith("__key_")}
        body = {}
        for name, v in row.items():
            if name.startswith("__keep_") and v is not None:
                col = table.column(name[len("__keep_") :])
                body[col.name] = json_value(v, col.type)
        for name in stmt.columns:
            col = table.column(name)
            body[name] = json_value(row[f"__set_{name}"], col.type)
        out.append(
            WriteRequest(
                endpoint.method,
                endpoint.render(keys),
                _wrap(body, endpoint.body),
                i,
                keys,
                secrets=secret_values(table, {**keys, **body}),
            )
        )
    return _dedupe(out)


def delete_requests(stmt: DmlStatement, data: pa.Table) -> list[WriteRequest]:
    endpoint = stmt.table.endpoints["delete"]
    out = []
    for i, row in enumerate(_rows(data), start=1):
        keys = {k[len("__key_") :]: v for k, v in row.items() if k.startswith("__key_")}
        current = {k[len("__row_") :]: v for k, v in row.items() if k.startswith("__row_")} or None
        out.append(
            WriteRequest(
                endpoint.method,
                endpoint.render(keys),
                None,
                i,
                keys,
                current=current,
                secrets=secret_values(stmt.table, keys),
            )
        )
    return _dedupe(out)


def _dedupe(requests: list[WriteRequest]) -> list[WriteRequest]:
    """A row matched twice (a join in the WHERE) is still written once."""
    seen: set[str] = set()
    out = []
    for r in requests:
        if r.path not in seen:
            seen.add(r.path)
            out.append(r)
    return out


def secret_values(table: Table, row: dict[str, Any]) -> tuple[str, ...]:
    """The values of the row's columns that the catalog marks `secret: true`."""
    return tuple(
        str(v)
        for k, v in row.items()
        if v is not None and v != "" and (c := table.column(k)) is not None and c.secret
    )


def redact(body: Any, secrets: tuple[str, ...] = ()) -> Any:
    """A request body with the request's secret values (catalog `secret: true`: passwords,
    tokens, card numbers) masked, for EXPLAIN and errors."""
    if not secrets:
        return body
    if isinstance(body, dict):
        return {k: redact(v, secrets) for k, v in body.items()}
    if isinstance(body, list):
        return [redact(v, secrets) for v in body]
    if body is not None and str(body) in secrets:
        return "***"
    if isinstance(body, str):
        for value in sorted(secrets, key=len, reverse=True):
            if len(value) >= 3:
                body = body.replace(value, "***")
    return body
