"""EXPLAIN: the requests a plan would send and the SQL DuckDB would run, sending nothing."""

from __future__ import annotations

import itertools
from urllib.parse import urlencode

import pyarrow as pa

from csql.read.plan import FromQuery, FromScan, Plan, Scan, Values

_MAX_LISTED = 10  # key combinations listed one by one before summarising


def _pages(scan: Scan) -> str:
    paging = scan.table.list_endpoint.paging
    if scan.mode in ("get", "count") or paging == "none":
        return "1"
    if scan.window is not None:
        return str(scan.window.last_page - scan.window.first_page + 1)
    if paging == "cursor":
        return "? (follows the next cursor)"
    return "? (page 1 gives last_page)" + (
        ", streamed: stops when LIMIT is met" if scan.stream else ""
    )


def _query(scan: Scan) -> str:
    params = dict(scan.params)
    paging = scan.table.list_endpoint.paging
    if scan.mode == "count":
        params.update(page="1", limit="15")
    elif scan.mode == "list" and paging == "page":
        if scan.window is not None:
            params.update(limit=str(scan.window.page_size))
            first, last = scan.window.first_page, scan.window.last_page
            params["page"] = str(first) if first == last else f"{first}..{last}"
        else:
            params.update(page="1..", limit="100")
    elif scan.mode == "list" and paging == "cursor":
        params["page_size"] = "100"
    return urlencode(params, safe=":,.")


def _rows(scan: Scan) -> list[dict]:
    endpoint = scan.table.endpoints["get" if scan.mode == "get" else "list"]
    if scan.empty:
        return [
            {"scan": scan.id, "table": scan.table.name, "role": "empty", "method": None,
             "path": endpoint.path, "query": None, "pages": "0",
             "note": "no request: the statement keeps none of these rows (WHERE false, LIMIT 0)"}
        ]  # fmt: skip
    fixed = {k: v.values for k, v in scan.keys.items() if isinstance(v, Values)}
    derived = {k: v for k, v in scan.keys.items() if isinstance(v, FromScan | FromQuery)}
    combos = list(itertools.islice(itertools.product(*fixed.values()), _MAX_LISTED + 1))
    total = 1
    for v in fixed.values():
        total *= len(v)
    role = "feeds keys" if scan.hidden else scan.mode
    note = "; ".join(
        [f"{k}: {src.describe()}" for k, src in derived.items()]
        + ([f"pushed: {', '.join(scan.pushed)}"] if scan.pushed else [])
    )
    rows = []
    for combo in combos[:_MAX_LISTED]:
        values = dict(zip(fixed, combo, strict=True))
        path = endpoint.path
        for k, v in values.items():
            path = path.replace("{" + k + "}", str(v))
        rows.append(
            {
                "scan": scan.id,
                "table": scan.table.name,
                "role": role,
                "method": endpoint.method,
                "path": path,
                "query": _query(scan),
                "pages": _pages(scan),
                "note": note or None,
            }
        )
    if total > _MAX_LISTED:
        rows.append(
            {**rows[-1], "path": f"... {total - _MAX_LISTED} more key combinations", "note": None}
        )
    return rows


def explain_plan(plan: Plan | None, sql: str) -> pa.Table:
    """One row per request stream of the plan, then the DuckDB statement."""
    rows = [r for s in plan.scans for r in _rows(s)] if plan else []
    rows.append(
        {"scan": None, "table": None, "role": "duckdb", "method": None, "path": None,
         "query": None, "pages": None, "note": sql}
    )  # fmt: skip
    schema = pa.schema(
        [("scan", pa.int32()), ("table", pa.string()), ("role", pa.string()),
         ("method", pa.string()), ("path", pa.string()), ("query", pa.string()),
         ("pages", pa.string()), ("note", pa.string())]
    )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)
