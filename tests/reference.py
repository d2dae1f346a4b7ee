"""The reference answer: page through every row directly, load into DuckDB, run the same SQL.

Deliberately simple and independent of the planner, the fetcher and the client: plain httpx,
one request after another, every page of every table. Differential tests compare csql's
answers with this one.
"""

from __future__ import annotations

import duckdb
import httpx
import pyarrow as pa

from csql import binder
from csql.catalog import Catalog, Table
from csql.read.arrow import extract_records, records_to_arrow, scalar_records, schema_for


def _pages(http: httpx.Client, table: Table, path: str) -> list[dict]:
    ep = table.list_endpoint
    rows: list = []
    if ep.paging == "none":
        # a filter ClickSend requires (compliant_sender_types: filter[product_type]=SMS)
        required = {
            c.filter_param: c.example for c in table.columns if c.filter_param and c.example
        }
        body = http.get(path, params=required).raise_for_status().json()
        records, _ = extract_records(body, ep.records)
        return records
    if ep.paging == "cursor":
        offset = None
        while True:
            params = {"page_size": 100, **({"offset": offset} if offset else {})}
            body = http.get(path, params=params).raise_for_status().json()
            records, _ = extract_records(body, ep.records)
            rows += records
            nxt = ((body.get("_metadata") or {}).get("pagination") or {}).get("next")
            if not nxt or not records:
                return rows
            offset = httpx.URL(nxt).params.get("offset")
    page = 1
    while True:
        body = http.get(path, params={"page": page, "limit": 100}).raise_for_status().json()
        records, parent = extract_records(body, ep.records)
        rows += records
        if page >= int(parent.get("last_page") or 1):
            return rows
        page += 1


def load_everything(
    base_url: str, username: str, api_key: str, catalog: Catalog
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection holding every row of every table that can be read without a key."""
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    loaded: dict[str, pa.Table] = {}
    with httpx.Client(base_url=base_url, auth=(username, api_key), timeout=30) as http:
        pending = list(catalog.tables)
        while pending:
            progress = False
            for table in list(pending):
                keys = table.path_keys
                if any(k.fanout is None for k in keys):
                    pending.remove(table)  # needs a key from the query: not in the reference
                    continue
                parents = [k.fanout.split(".")[0] for k in keys]
                if any(p not in loaded for p in parents):
                    continue
                parts = []
                if keys:
                    (key,) = keys
                    parent, _, col = key.fanout.partition(".")
                    values = loaded[parent].column(col).to_pylist()
                    for v in values:
                        recs = _pages(http, table, table.list_endpoint.render({key.name: v}))
                        parts.append(_arrow(recs, table, {key.name: v}))
                else:
                    recs = _with_omitted(http, table, _pages(http, table, table.list_endpoint.path))
                    parts.append(_arrow(recs, table, {}))
                loaded[table.name] = (
                    pa.concat_tables(parts) if parts else schema_for(table).empty_table()
                )
                pending.remove(table)
                progress = True
            if not progress and pending:
                pending.clear()
    for name, data in loaded.items():
        duck.register(f"{name}__raw", data)
        cols = []
        for c in catalog.table(name).columns:
            q = '"' + c.name + '"'
            cols.append(f"CAST({q} AS JSON) AS {q}" if c.type == "json" else q)
        duck.execute(f'CREATE VIEW "{name}" AS SELECT {", ".join(cols)} FROM "{name}__raw"')
    return duck


def _with_omitted(http: httpx.Client, table: Table, records: list) -> list:
    """Columns the list endpoint omits (catalog list_omits), read with a GET per row."""
    if not table.list_omits:
        return records
    get = table.endpoints["get"]
    out = []
    for r in records:
        body = http.get(get.render({k: r[k] for k in get.placeholders})).raise_for_status()
        full, _ = extract_records(body.json(), get.records)
        out.append({**r, **{c: full[0].get(c) for c in table.list_omits}} if full else r)
    return out


def _arrow(records: list, table: Table, fixed: dict) -> pa.Table:
    if records and not isinstance(records[0], dict):
        records = scalar_records(records, table)
    return records_to_arrow(records, table, fixed)


def reference_sql(sql: str, catalog: Catalog, params=None) -> str:
    """The statement with aliases resolved to table names, as the reference DuckDB names them."""
    tree = binder.parse_with_parameters(sql, params)
    return binder.bind(tree, catalog).tree.sql(dialect="duckdb")
