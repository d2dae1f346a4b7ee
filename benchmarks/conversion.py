"""Conversion cost: milliseconds per 100-row page of JSON records -> Arrow.

    python benchmarks/conversion.py [--pages 20] [--repeat 7] [--columns]

Fetches real pages of sms_history and contacts (100 rows each) from a sandbox in its own
process, then, with no network involved, times per page:

- csql: `csql.read.arrow.records_to_arrow(records, table, fixed)`: the catalog's types, what the
  executor does to every page (contacts get `list_id` from the path, as the executor does).
  Since issue 12 this is the native path (one StructArray per page, one struct cast; the
  wire types are learned from the first page, before timing); "exact" is
  `records_to_arrow_exact`, the column-by-column path every odd page still takes (and what
  `records_to_arrow` was before);
- bytes->Arrow: orjson.loads of the page's bytes + records_to_arrow: the whole client-side
  conversion of one response;
- from_pylist: `pyarrow.Table.from_pylist(records)`, types inferred (the naive baseline);
- orjson / json: parsing the page's bytes, for scale (csql parses with orjson, the naive
  baseline with httpx's `resp.json()`, i.e. the json module).

Each figure is the median over --repeat rounds; one round converts every fetched page once.
--columns adds a per-column breakdown of records_to_arrow (the slowest columns).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
import pyarrow as pa
from _common import (
    KEY,
    PAGE,
    USER,
    fmt_table,
    machine_notes,
    median,
    sandbox_process,
)

from csql.catalog import default_catalog
from csql.read.arrow import convert, records_to_arrow, records_to_arrow_exact


def fetch_pages(base_url: str, n: int) -> dict[str, list[tuple[bytes, dict]]]:
    """{table: [(raw page bytes, fixed values)]}: n pages of each table."""
    import httpx

    out: dict[str, list[tuple[bytes, dict]]] = {"sms_history": [], "contacts": []}
    with httpx.Client(base_url=base_url, auth=(USER, KEY)) as http:
        for p in range(1, n + 1):
            r = http.get("/sms/history", params={"page": p, "limit": PAGE})
            out["sms_history"].append((r.content, {}))
        lists = http.get("/lists", params={"limit": PAGE}).json()["data"]["data"]
        for lst in lists:
            page = 1
            while len(out["contacts"]) < n:
                r = http.get(
                    f"/lists/{lst['list_id']}/contacts", params={"page": page, "limit": PAGE}
                )
                data = r.json()["data"]
                if len(data["data"]) == PAGE:  # only full pages, so every page is 100 rows
                    out["contacts"].append((r.content, {"list_id": lst["list_id"]}))
                if page >= data["last_page"]:
                    break
                page += 1
            if len(out["contacts"]) >= n:
                break
    return out


def per_page_ms(fn, items, repeat: int) -> float:
    """Median over rounds of (round CPU time / pages), in ms: process CPU time, not wall
    time, so that other jobs on the shared machine do not count (all threads count)."""
    rounds = []
    for _ in range(repeat):
        t0 = time.process_time()
        for it in items:
            fn(it)
        rounds.append((time.process_time() - t0) / len(items) * 1000)
    return median(rounds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20, help="pages per table")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--scale", type=float, default=1, help="sandbox scale (rows look the same)")
    ap.add_argument("--columns", action="store_true", help="per-column breakdown")
    args = ap.parse_args(argv)
    print(machine_notes())

    with sandbox_process(scale=args.scale) as (url, _pid, _startup):
        raw = fetch_pages(url, args.pages)

    catalog = default_catalog()
    rows = []
    for name, pages in raw.items():
        table = catalog.table(name)
        parsed = [(orjson.loads(b)["data"]["data"], fixed) for b, fixed in pages]
        assert all(len(r) == PAGE for r, _ in parsed), "every page should hold 100 rows"
        for recs, fixed in parsed:  # the result is right: one row per record, catalog schema
            t = records_to_arrow(recs, table, fixed)
            assert t.num_rows == PAGE and len(t.schema) == len(table.columns)
        csql_ms = per_page_ms(
            lambda it, table=table: records_to_arrow(it[0], table, it[1]), parsed, args.repeat
        )
        exact_ms = per_page_ms(
            lambda it, table=table: records_to_arrow_exact(it[0], table, it[1]), parsed, args.repeat
        )
        bytes_ms = per_page_ms(
            lambda b, table=table: records_to_arrow(orjson.loads(b[0])["data"]["data"], table, b[1]),
            pages, args.repeat,
        )  # fmt: skip
        pylist_ms = per_page_ms(lambda it: pa.Table.from_pylist(it[0]), parsed, args.repeat)
        orjson_ms = per_page_ms(lambda b: orjson.loads(b[0]), pages, args.repeat)
        json_ms = per_page_ms(lambda b: json.loads(b[0]), pages, args.repeat)
        kb = sum(len(b) for b, _ in pages) / len(pages) / 1024
        rows.append([
            name, len(table.columns), f"{kb:.0f}", f"{csql_ms:.3f}", f"{exact_ms:.3f}",
            f"{exact_ms / csql_ms:.1f}x", f"{pylist_ms:.3f}", f"{orjson_ms:.3f}", f"{json_ms:.2f}",
            f"{bytes_ms:.3f}", f"{PAGE / csql_ms * 1000:,.0f}", f"{PAGE / exact_ms * 1000:,.0f}",
            f"{PAGE / bytes_ms * 1000:,.0f}",
        ])  # fmt: skip
        if args.columns:
            cols = []
            for col in table.columns:
                values = [
                    [fixed[col.name]] * len(recs) if col.name in fixed else [r.get(col.name) for r in recs]
                    for recs, fixed in parsed
                ]  # fmt: skip
                ms = per_page_ms(lambda v, col=col: convert(v, col), values, args.repeat)
                cols.append((ms, col.name, col.type))
            cols.sort(reverse=True)
            total = sum(c[0] for c in cols)
            print(f"\n{name}: records_to_arrow per column, ms per page (sum {total:.2f})")
            print(fmt_table(
                ["column", "type", "ms/page", "share"],
                [[n, t, f"{ms:.3f}", f"{ms / total:.0%}"] for ms, n, t in cols[:8]],
            ))  # fmt: skip

    print(f"\n{args.pages} pages of {PAGE} rows per table, median of {args.repeat} rounds")
    print(fmt_table(
        ["table", "columns", "KiB/page", "native ms/page", "exact ms/page", "exact/native",
         "from_pylist ms", "orjson parse ms", "json parse ms", "bytes->Arrow ms", "native rows/s",
         "exact rows/s", "bytes->Arrow rows/s"],
        rows,
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
