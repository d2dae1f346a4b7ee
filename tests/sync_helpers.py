"""Shared by the replicate/watch/cache/export tests: a sandbox, direct API changes (httpx,
not csql), and "the replica equals a direct read" checks."""

from __future__ import annotations

import duckdb
import httpx
import pyarrow as pa

import csql
from csql.catalog import Table


def connect(sb, **options) -> csql.Connection:
    return csql.connect(sb.username, sb.api_key, sb.base_url, **options)


def api(sb) -> httpx.Client:
    """ClickSend's API itself, without csql: changes csql has not seen."""
    return httpx.Client(base_url=sb.base_url, auth=(sb.username, sb.api_key), timeout=30)


def direct(conn, table: str) -> pa.Table:
    return conn.execute(f'SELECT * FROM "{table}"').fetch_arrow_table()


def differences(
    d: duckdb.DuckDBPyConnection, table: Table, rows: pa.Table, source: str
) -> tuple[int, int]:
    """(rows read directly but missing from `source`, rows of `source` not in the read),
    comparing every catalog column as text (multisets: duplicates count)."""
    d.register("__direct", rows)
    try:
        cols = ", ".join(f'CAST("{c.name}" AS VARCHAR)' for c in table.columns)
        a = d.execute(f"SELECT count(*) FROM (SELECT {cols} FROM __direct EXCEPT ALL "
                      f"SELECT {cols} FROM {source})").fetchall()[0][0]  # fmt: skip
        b = d.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {source} EXCEPT ALL "
                      f"SELECT {cols} FROM __direct)").fetchall()[0][0]  # fmt: skip
    finally:
        d.unregister("__direct")
    return a, b


def assert_replica_equal(conn, d: duckdb.DuckDBPyConnection, tables: list[Table],
                         source=lambda t: f'"{t.name}"') -> None:  # fmt: skip
    bad = {}
    for t in tables:
        rows = direct(conn, t.name)
        diff = differences(d, t, rows, source(t))
        if diff != (0, 0):
            bad[t.name] = diff
    assert not bad, f"replica differs from a direct read (missing, extra): {bad}"


def first_list(conn) -> tuple[int, int, int]:
    """A list id and the smallest and largest contact ids in it."""
    lid = conn.execute("SELECT min(list_id) FROM lists").fetchall()[0][0]
    lo, hi = conn.execute(
        f"SELECT min(contact_id), max(contact_id) FROM contacts WHERE list_id = {lid}"
    ).fetchall()[0]
    return lid, lo, hi


def change_contacts(sb, conn) -> dict:
    """An insert, an update and a delete of contacts straight through the API."""
    lid, lo, hi = first_list(conn)
    with api(sb) as http:
        r = http.post(
            f"/lists/{lid}/contacts",
            json={"phone_number": "+61411000999", "first_name": "Newcomer"},
        )
        r.raise_for_status()
        new_id = r.json()["data"]["contact_id"]
        http.put(f"/lists/{lid}/contacts/{lo}", json={"first_name": "Renamed"}).raise_for_status()
        http.delete(f"/lists/{lid}/contacts/{hi}").raise_for_status()
    return {"list_id": lid, "inserted": new_id, "updated": lo, "deleted": hi}
