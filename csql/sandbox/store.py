"""In-memory state of the sandbox: one TableStore per catalog table, and the list queries on it.

Rows are plain dicts already in the JSON shape of the table's list endpoint, so that serving a
page is a slice plus one orjson.dumps. Filtering (q/operator), sorting (order_by) and the date
ranges scan the rows in Python; the result is cached per query and per table version, so paging
through a filtered 100k-row table costs one scan, not one per page. All mutation happens under
the store's lock (the server is threaded); readers take a snapshot list, never the live dict.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from csql.catalog import Table


class QueryError(ValueError):
    """A search/sort/range parameter the endpoint does not accept (becomes a 400)."""


def key_of(values: Iterable[Any]) -> str:
    """The dictionary key of a primary key (or path key) tuple: values as text, '|'-joined.

    URLs carry every key as text, JSON rows carry ints; comparing text makes both meet.
    """
    return "|".join("" if v is None else str(v) for v in values)


@dataclass(frozen=True)
class ListQuery:
    """What a list request asks for, parsed from its query string."""

    terms: tuple[tuple[str, str], ...] = ()  # q=field:value,... (value lower-cased)
    any_term: bool = False  # operator=OR
    order: tuple[str, bool] | None = None  # order_by=field:desc -> (field, True)
    lower: tuple[tuple[str, int], ...] = ()  # (column, bound) from date_from
    upper: tuple[tuple[str, int], ...] = ()  # (column, bound) from date_to
    after: tuple[tuple[str, int], ...] = ()  # (column, bound) from updated_after


def parse_list_query(table: Table, params: Mapping[str, str]) -> ListQuery:
    """Parse q/operator/order_by/date_from/date_to/updated_after against the catalog.

    Only the fields that the catalog declares searchable (q), sortable (order_by) or bounded by
    a range parameter are accepted; anything else is a QueryError naming the field, so that a
    client (or the catalog) that pushes down more than ClickSend offers is caught in tests.
    """
    terms: list[tuple[str, str]] = []
    q = params.get("q")
    if q:
        for part in q.split(","):
            if not part.strip():
                continue
            field, sep, value = part.partition(":")
            field = field.strip()
            col = table.column(field)
            if not sep or col is None or not col.searchable:
                allowed = ", ".join(c.name for c in table.columns if c.searchable) or "none"
                raise QueryError(
                    f"q: field '{field}' is not searchable on this endpoint "
                    f"(searchable: {allowed}); the format is q=field:value[,field:value]"
                )
            terms.append((col.name, value.strip().lower()))
    operator = (params.get("operator") or "AND").upper()
    if operator not in ("AND", "OR"):
        raise QueryError(f"operator: '{params.get('operator')}' is not AND or OR")
    order = None
    ob = params.get("order_by")
    if ob:
        field, _, direction = ob.partition(":")
        col = table.column(field.strip())
        if col is None or not col.sortable:
            allowed = ", ".join(c.name for c in table.columns if c.sortable) or "none"
            raise QueryError(
                f"order_by: field '{field.strip()}' is not sortable on this endpoint "
                f"(sortable: {allowed}); the format is order_by=field:asc|desc"
            )
        direction = (direction or "asc").strip().lower()
        if direction not in ("asc", "desc"):
            raise QueryError(f"order_by: direction '{direction}' is not asc or desc")
        order = (col.name, direction == "desc")
    bounds: dict[str, list[tuple[str, int]]] = {"lower": [], "upper": [], "after": []}
    for param in ("date_from", "date_to", "updated_after"):
        raw = params.get(param)
        if raw is None or raw == "":
            continue
        cols = [
            (kind, c.name)
            for c in table.columns
            for kind, name in (
                ("lower", c.range_lower),
                ("upper", c.range_upper),
                ("after", c.range_after),
            )
            if name == param
        ]
        if not cols:
            raise QueryError(f"{param}: this endpoint has no field that {param} bounds")
        try:
            bound = int(float(raw))
        except ValueError:
            raise QueryError(f"{param}: '{raw}' is not a Unix timestamp") from None
        for kind, name in cols:
            bounds[kind].append((name, bound))
    return ListQuery(
        terms=tuple(terms),
        any_term=operator == "OR",
        order=order,
        lower=tuple(bounds["lower"]),
        upper=tuple(bounds["upper"]),
        after=tuple(bounds["after"]),
    )


def _as_int(v: Any) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None


def _sort_key(field: str):
    """Numbers numerically, text case-insensitively, NULLs last (in ascending order)."""

    def key(row: dict) -> tuple:
        v = row.get(field)
        if v is None:
            return (2, 0, "")
        if isinstance(v, bool):
            return (0, int(v), "")
        if isinstance(v, int | float):
            return (0, v, "")
        s = str(v)
        try:  # numeric strings ("1436932432", "0.070000") sort as numbers
            return (0, float(s), "")
        except ValueError:
            return (1, 0, s.lower())

    return key


def run_query(rows: list[dict], query: ListQuery) -> list[dict]:
    """Filter and sort `rows` as ClickSend would (case-insensitive substring search)."""
    out = rows
    if query.terms:
        terms = query.terms

        def text(row: dict, f: str) -> str | None:
            v = row.get(f)
            return None if v is None else str(v).lower()

        if query.any_term:
            out = [
                r for r in out if any((t := text(r, f)) is not None and v in t for f, v in terms)
            ]
        else:
            out = [
                r for r in out if all((t := text(r, f)) is not None and v in t for f, v in terms)
            ]
    for field, bound in query.lower:
        out = [r for r in out if (x := _as_int(r.get(field))) is not None and x >= bound]
    for field, bound in query.upper:
        out = [r for r in out if (x := _as_int(r.get(field))) is not None and x <= bound]
    # updated_after is inclusive: the reference does not say, and an inclusive bound can only
    # return more rows, which a client that re-applies its predicate (csql does) filters out.
    for field, bound in query.after:
        out = [r for r in out if (x := _as_int(r.get(field))) is not None and x >= bound]
    if query.order:
        field, desc = query.order
        out = sorted(out, key=_sort_key(field), reverse=desc)
        if desc:  # keep NULLs last in both directions
            out = [r for r in out if r.get(field) is not None] + [
                r for r in out if r.get(field) is None
            ]
    return out if out is not rows else list(rows)


class TableStore:
    """The rows of one table, keyed by primary key, with an index on the list path keys."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.pk = table.primary_key or tuple(c.name for c in table.columns[:1])
        self.path_keys = tuple(c.name for c in table.path_keys)
        self.rows: dict[str, dict] = {}
        self.by_path: dict[str, dict[str, dict]] = {}
        self.version = 0
        self.next_id = 1
        self._cache: OrderedDict[tuple, list[dict]] = OrderedDict()

    # -- keys ---------------------------------------------------------------------------------

    def row_key(self, row: Mapping[str, Any]) -> str:
        return key_of(row.get(c) for c in self.pk)

    def path_key(self, row: Mapping[str, Any]) -> str:
        return key_of(row.get(c) for c in self.path_keys)

    # -- mutation (callers hold the Store lock) ---------------------------------------------------

    def load(self, rows: Iterable[dict]) -> None:
        """Bulk put (startup): the same as put() per row, without its per-row bookkeeping."""
        pk, paths, store, by_path = self.pk, self.path_keys, self.rows, self.by_path
        single = pk[0] if len(pk) == 1 else None
        top = self.next_id - 1
        for row in rows:
            if single is not None:
                v = row.get(single)
                k = "" if v is None else str(v)
                if isinstance(v, int) and v > top:
                    top = v
            else:
                k = self.row_key(row)
            old = store.get(k)
            if old is not None and paths:
                by_path.get(self.path_key(old), {}).pop(k, None)
            store[k] = row
            if paths:
                by_path.setdefault(self.path_key(row), {})[k] = row
        self.next_id = max(self.next_id, top + 1)
        self.version += 1

    def put(self, row: dict) -> dict:
        k = self.row_key(row)
        old = self.rows.get(k)
        if old is not None and self.path_keys:
            self.by_path.get(self.path_key(old), {}).pop(k, None)
        self.rows[k] = row
        if self.path_keys:
            self.by_path.setdefault(self.path_key(row), {})[k] = row
        for c in self.pk:
            v = row.get(c)
            if isinstance(v, int) and v >= self.next_id:
                self.next_id = v + 1
        self.version += 1
        return row

    def remove(self, row: Mapping[str, Any]) -> dict | None:
        k = self.row_key(row)
        old = self.rows.pop(k, None)
        if old is not None:
            if self.path_keys:
                self.by_path.get(self.path_key(old), {}).pop(k, None)
            self.version += 1
        return old

    def touch(self) -> None:
        """Note an in-place change of a row (invalidates cached query results)."""
        self.version += 1

    def new_id(self) -> int:
        n = self.next_id
        self.next_id += 1
        return n

    # -- reads -----------------------------------------------------------------------------------

    def get(self, pk_values: Iterable[Any], path_values: Iterable[Any] = ()) -> dict | None:
        row = self.rows.get(key_of(pk_values))
        if row is None:
            return None
        pv = tuple(path_values)
        if pv and self.path_keys and self.path_key(row) != key_of(pv):
            return None
        return row

    def scope(self, path_values: tuple[Any, ...]) -> list[dict]:
        """The rows under one list path (all rows when the list path has no placeholders)."""
        if not self.path_keys:
            return list(self.rows.values())
        return list(self.by_path.get(key_of(path_values), {}).values())

    def select(self, path_values: tuple[Any, ...], query: ListQuery) -> list[dict]:
        """The rows a list request returns before paging; cached per (query, version)."""
        ck = (key_of(path_values), query, self.version)
        hit = self._cache.get(ck)
        if hit is not None:
            self._cache.move_to_end(ck)
            return hit
        result = run_query(self.scope(path_values), query)
        self._cache[ck] = result
        while len(self._cache) > 64:
            self._cache.popitem(last=False)
        return result


class Store:
    """Every table's rows plus account-level state; one lock guards all writes."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tables: dict[str, TableStore] = {}
        self.state: dict[str, Any] = {}

    def __getitem__(self, name: str) -> TableStore:
        return self.tables[name]

    def get(self, name: str) -> TableStore | None:
        return self.tables.get(name)
