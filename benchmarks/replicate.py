"""replicate: requests and wall time of a full load vs an incremental run after a few changes.

    python benchmarks/replicate.py [--scale 10] [--latency-ms 20] [--format duckdb|parquet]

Runs a sandbox in its own process (_common.sandbox_process), replicates every default table
into a fresh replica (the full load), makes a few changes straight through the API (httpx,
not csql: new, changed and deleted contacts, a few sent SMS), then runs replicate again (the
incremental run), and once more with no change. Prints one row per run, and the tables that
cost most requests in each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from _common import KEY, USER, fmt_table, hard_limit, machine_notes, sandbox_process

import csql


def changes(base_url: str, conn) -> str:
    """A few changes made outside csql: 3 contacts added, 3 renamed, 2 deleted, 5 SMS sent."""
    lists = [
        r[0] for r in conn.execute("SELECT list_id FROM lists ORDER BY list_id LIMIT 3").fetchall()
    ]
    with httpx.Client(base_url=base_url, auth=(USER, KEY), timeout=30) as http:
        for i, lid in enumerate(lists):
            http.post(
                f"/lists/{lid}/contacts", json={"phone_number": f"+6141100{i:04d}"}
            ).raise_for_status()
            ids = http.get(f"/lists/{lid}/contacts", params={"limit": 15}).json()["data"]["data"]
            http.put(
                f"/lists/{lid}/contacts/{ids[0]['contact_id']}", json={"first_name": "Bench"}
            ).raise_for_status()
            if i < 2:
                http.delete(f"/lists/{lid}/contacts/{ids[1]['contact_id']}").raise_for_status()
        msgs = [{"to": f"+6141122{i:04d}", "body": "bench", "source": "bench"} for i in range(5)]
        http.post("/sms/send", json={"messages": msgs}).raise_for_status()
    return "3 contacts inserted, 3 updated, 2 deleted, 5 SMS sent"


def run(conn, target: str, fmt: str) -> tuple[dict, float]:
    t0 = time.perf_counter()
    reports = conn.replicate(target, format=fmt)
    return reports, time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=10)
    p.add_argument("--latency-ms", type=float, default=20)
    p.add_argument("--format", choices=("duckdb", "parquet"), default="duckdb")
    args = p.parse_args()
    hard_limit(175)
    rows = []
    with sandbox_process(scale=args.scale, latency_ms=args.latency_ms) as (base_url, _, startup):
        conn = csql.connect(USER, KEY, base_url, concurrency=8)
        with tempfile.TemporaryDirectory() as tmp:
            target = str(Path(tmp) / ("replica.duckdb" if args.format == "duckdb" else "lake"))
            full, t_full = run(conn, target, args.format)
            what = changes(base_url, conn)
            incr, t_incr = run(conn, target, args.format)
            same, t_same = run(conn, target, args.format)
    for name, reports, secs in (("full load", full, t_full), ("incremental after changes", incr, t_incr),
                                ("incremental, no change", same, t_same)):  # fmt: skip
        req = sum(r.requests for r in reports.values())
        rows.append([name, str(req), f"{secs:.1f}",
                     str(sum(r.inserted for r in reports.values())),
                     str(sum(r.updated for r in reports.values())),
                     str(sum(r.deleted for r in reports.values()))])  # fmt: skip
    print(
        f"## replicate, scale {args.scale:g}, {args.latency_ms:g} ms latency, format {args.format}\n"
    )
    print(f"changes between the runs: {what}; sandbox startup {startup:.1f} s\n")
    print(fmt_table(["run", "requests", "seconds", "inserted", "updated", "deleted"], rows))
    for name, reports in (("full load", full), ("incremental after changes", incr)):
        top = sorted(reports.values(), key=lambda r: -r.requests)[:5]
        print(
            f"\n{name}, most requests: "
            + ", ".join(f"{r.table} {r.requests} ({r.mode})" for r in top)
        )
    print("\n" + machine_notes())
    return 0


if __name__ == "__main__":
    sys.exit(main())
