"""Every endpoint the catalog maps is served: no 404 for the route, no 405, no 500.

Each table's list and get endpoints are read with keys taken from the sandbox itself; every
write endpoint and procedure is called once with plausible arguments built from the catalog.
"""

from __future__ import annotations

import os
import re

import pytest

from csql.catalog import default_catalog

CATALOG = default_catalog()

#: plausible argument values by parameter/column name, then by type
SAMPLES = {
    "to": "+61411111111",
    "from": "csql",
    "body": "Hello from the sandbox",
    "phone_number": "+61411111111",
    "user_phone": "+61411111111",
    "email": "test1@test.com",
    "email_address": "test1@test.com",
    "country": "AU",
    "address_country": "AU",
    "address_postal_code": "11111",
    "file_url": "https://example.com/doc.pdf",
    "file_urls": ["https://example.com/front.pdf", "https://example.com/back.pdf"],
    "media_file": "https://example.com/image.jpg",
    "url": "https://example.com/hook",
    "field_order": ["phone_number", "first_name"],
    "country_list_ids": [1, 2],
    "voice": "female",
    "lang": "en-au",
    "schedule": 0,
    "year": 2025,
    "month": 10,
}
BY_TYPE = {"bigint": 1, "integer": 1, "double": 1.0, "decimal": "1.00", "boolean": 1,
           "timestamp": 1761955200, "json": [], "varchar": "text"}  # fmt: skip


def sample(name, typ):
    return SAMPLES.get(name, BY_TYPE.get(typ, "x"))


def filter_params(table) -> dict:
    """Query parameters a list needs (compliant_sender_types: filter[product_type]=SMS)."""
    return {c.filter_param: c.example for c in table.columns if c.filter_param and c.example}


def existing_keys(http, table):
    """Placeholder values of one existing row, from the table's own list endpoint."""
    values = {}
    for c in table.path_keys:
        if c.fanout:
            parent = CATALOG.table(c.fanout.split(".")[0])
            values[c.name] = existing_keys(http, parent).get(c.fanout.split(".")[1])
        else:
            values[c.name] = c.example if c.example is not None else "AU"
    ep = table.list_endpoint
    r = http.get(ep.render(values) if ep.placeholders else ep.path, params=filter_params(table))
    assert r.status_code == 200, (table.name, r.text[:300])
    node = r.json()
    for part in [p for p in ep.records.split(".") if p]:
        node = node[part]
    row = node[0] if isinstance(node, list) and node else node
    if isinstance(row, dict):
        values.update({k: v for k, v in row.items() if k in table.column_names and k not in values})
    return values


@pytest.mark.parametrize("table", CATALOG.tables, ids=lambda t: t.name)
def test_reads(http, table):
    keys = existing_keys(http, table)
    if "get" in table.endpoints:
        ep = table.endpoints["get"]
        r = http.get(ep.render(keys))
        assert r.status_code == 200, (ep.path, r.text[:300])


@pytest.mark.parametrize(
    "table",
    [t for t in CATALOG.tables if set(t.endpoints) - {"list", "get"}],
    ids=lambda t: t.name,
)
def test_writes(fresh_http, table):
    keys = existing_keys(fresh_http, table)
    for kind in ("insert", "bulk_insert", "update", "delete"):
        ep = table.endpoints.get(kind)
        if ep is None:
            continue
        body = {c.name: keys.get(c.name) or sample(c.name, c.type) for c in table.columns
                if not c.read_only and not c.primary_key}  # fmt: skip
        if kind == "bulk_insert":
            body = {"file_url": "https://example.com/c.csv", "field_order": ["phone_number"]}
        r = fresh_http.request(ep.method, ep.render(keys), json=None if kind == "delete" else body)
        assert r.status_code in (200, 201), (kind, ep.path, r.text[:300])


def call_procedure(http, proc):
    """Call a procedure with plausible arguments; (path, response)."""
    path_values = {}
    for name in re.findall(r"{(\w+)}", proc.path):
        path_values[name] = _path_value(http, proc, name)
    query = {p.name: sample(p.name, p.type) for p in proc.parameters if p.location == "query"}
    item = {
        p.name: _path_value(http, proc, p.name)
        if p.name.endswith("_id")
        else sample(p.name, p.type)
        for p in proc.parameters
        if p.location == "body"
    }
    root = {p.name: sample(p.name, p.type) for p in proc.parameters if p.location == "root"}
    body = None
    if proc.body in ("messages", "recipients"):
        body = {**root, proc.body: [item]}
    elif proc.body == "object":
        body = item
    path = re.sub(r"{(\w+)}", lambda m: str(path_values[m.group(1)]), proc.path)
    return path, http.request(proc.method, path, params=query, json=body)


@pytest.mark.parametrize("proc", CATALOG.procedures, ids=lambda p: p.name)
def test_procedures(fresh_http, proc):
    _, r = call_procedure(fresh_http, proc)
    # 400 is allowed only where the sandbox refuses on purpose (nothing to cancel, ...)
    assert r.status_code in (200, 201, 400), (proc.name, r.status_code, r.text[:300])
    assert r.status_code == 200 or proc.name.startswith("Cancel"), (proc.name, r.text[:300])
    r.json()


def _path_value(http, proc, name):
    """An existing id for a procedure's placeholder, found through the table that owns it."""
    aliases = {"from_list_id": "list_id", "to_list_id": "list_id", "opt_out_list_id": "list_id"}
    col = aliases.get(name, name)
    prefix = proc.path.split("{")[0].rstrip("/")
    candidates = [t for t in CATALOG.tables if t.column(col) is not None]

    def shared(t):  # how much of the procedure's path the table's list path shares
        return len(os.path.commonpath([t.list_endpoint.path, prefix]))

    candidates.sort(key=lambda t: (-shared(t), not t.column(col).primary_key))
    for t in candidates:
        try:
            keys = existing_keys(http, t)
        except AssertionError:
            continue
        if keys.get(col) is not None:
            return keys[col]
    return sample(name, "varchar")
