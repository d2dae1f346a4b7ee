"""The scan graph: which scan gives its keys to which, and which scans can share one fetch.

A scan whose path key is not fixed by the query gets its key values from another scan: a
dependent join (`contacts c JOIN lists l USING (list_id)` reads l first, then the contacts
of each list l holds) or a hidden full scan of the parent table (a fan-out). This module
keeps that graph acyclic, merges scans that one fetch can serve, and orders the scans so
that each runs after the scans it depends on.

Sharing is exact because DuckDB applies every predicate of every reference again: a
reference may read *more* rows than its own pushdown asks for, never fewer. So a scan can
serve another reference of the same table when it is a complete listing (no q, no range,
no window, not streamed) for a superset of that reference's key values.

>>> from csql.catalog import default_catalog
>>> from csql.read.plan import Scan, Values
>>> lists = default_catalog().table("lists")
>>> a, b = Scan(1, lists, "v1"), Scan(2, lists, "v2", params={"q": "list_name:VIP"})
>>> covers(a, b), covers(b, a)
(True, False)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from csql.read.plan import FromQuery, FromScan, KeySource, Scan, Values


def ancestors(scans: dict[int, Scan], scan_id: int) -> set[int]:
    """Every scan `scan_id` waits for, directly or not."""
    seen: set[int] = set()
    stack = [scan_id]
    while stack:
        s = scans.get(stack.pop())
        if s is None:
            continue
        for d in s.depends_on:
            if d not in seen:
                seen.add(d)
                stack.append(d)
    return seen


def topological(scans: dict[int, Scan]) -> tuple[Scan, ...]:
    """Scans ordered so that each comes after the scans it depends on (ties by id)."""
    done: list[Scan] = []
    placed: set[int] = set()

    def visit(s: Scan) -> None:
        if s.id in placed:
            return
        placed.add(s.id)
        for d in s.depends_on:
            visit(scans[d])
        done.append(s)

    for s in sorted(scans.values(), key=lambda s: s.id):
        visit(s)
    return tuple(done)


def _listing(scan: Scan) -> bool:
    """A complete listing of the table for its key values: every row, nothing filtered."""
    return (
        scan.mode == "list"
        and not scan.params
        and scan.window is None
        and not scan.empty
        and all(isinstance(k, Values | FromScan | FromQuery) for k in scan.keys.values())
    )


def _key_superset(wide: KeySource, narrow: KeySource) -> bool:
    if wide == narrow:
        return True
    if isinstance(wide, Values) and isinstance(narrow, Values):
        return set(narrow.values) <= set(wide.values)
    # the same column of the same scan, with or without a filter on the narrow side
    if isinstance(wide, FromScan) and isinstance(narrow, FromScan):
        return (wide.scan, wide.column) == (narrow.scan, narrow.column) and not wide.filter_sql
    return False


def covers(wide: Scan, narrow: Scan) -> bool:
    """True when `wide`'s rows are a superset of every row `narrow` would fetch.

    Exact condition: same table, `wide` is a complete listing (see `_listing`), `narrow`
    reads the list endpoint too (a GET may return fields a list does not), and each of
    `narrow`'s key sources is a subset of `wide`'s for the same key.
    """
    if wide.table is not narrow.table or not _listing(wide) or narrow.mode not in ("list",):
        return False
    if narrow.window is not None or narrow.empty:
        return False
    if set(wide.keys) != set(narrow.keys):
        return False
    return all(_key_superset(wide.keys[k], narrow.keys[k]) for k in wide.keys)


def _redirect(source: KeySource, old: int, new: int) -> KeySource:
    if isinstance(source, FromScan) and source.scan == old:
        return replace(source, scan=new)
    if isinstance(source, FromQuery) and old in source.scans:
        return replace(
            source, scans=tuple(dict.fromkeys(new if s == old else s for s in source.scans))
        )
    return source


def merge(scans: dict[int, Scan], views: dict[int, str]) -> dict[int, int]:
    """Serve every scan that another covers from that one: one fetch per distinct scan.

    Returns {removed scan id: the scan id that now serves it}; `views` (scan id -> the view
    name its references read) is updated in place so those references read the survivor.
    A scan is never served by one that depends on it (directly or not), and the survivor is
    materialised (a streamed scan cannot feed two readers).
    """
    served: dict[int, int] = {}
    for narrow_id in sorted(scans):
        narrow = scans.get(narrow_id)
        if narrow is None:
            continue
        for wide_id in sorted(scans):
            wide = scans.get(wide_id)
            if wide is None or wide_id == narrow_id or not covers(wide, narrow):
                continue
            if narrow_id in ancestors(scans, wide_id):
                continue  # wide waits for narrow: cannot replace it
            if wide == narrow and wide_id > narrow_id:
                continue  # identical scans: keep the first
            _replace_scan(scans, views, narrow_id, wide_id)
            served[narrow_id] = wide_id
            break
    for old, new in list(served.items()):  # a chain a -> b -> c serves a from c
        while new in served:
            new = served[new]
        served[old] = new
    return served


def _replace_scan(scans: dict[int, Scan], views: dict[int, str], old: int, new: int) -> None:
    gone = scans.pop(old)
    survivor = scans[new]
    scans[new] = replace(survivor, stream=False, hidden=survivor.hidden and gone.hidden)
    for sid, scan in list(scans.items()):
        keys = {k: _redirect(v, old, new) for k, v in scan.keys.items()}
        if keys != scan.keys:
            scans[sid] = replace(scan, keys=keys)
    for sid, view in list(views.items()):
        if sid == old or view == gone.view:
            views[sid] = scans[new].view


def key_combinations(scan: Scan) -> int | None:
    """How many request streams a scan opens, when its keys are all written in the query."""
    total = 1
    for k in scan.keys.values():
        if not isinstance(k, Values):
            return None
        total *= len(k.values)
    return total


def values_of(source: KeySource) -> tuple[Any, ...] | None:
    return source.values if isinstance(source, Values) else None
