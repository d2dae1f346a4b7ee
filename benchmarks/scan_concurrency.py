"""Scan throughput of csql by concurrency (1/4/8/16) against a server with latency.

    python benchmarks/scan_concurrency.py [--latency-ms 50] [--pages 200] [--repeat 3]

A full 2000-page scan at concurrency 1 and 50 ms takes > 100 s on its own, so this sweep
scans a bounded slice of the same table with the same query shape:

    SELECT count(*) FROM sms_history WHERE body LIKE '%a%' AND date >= TIMESTAMP '<t>'

where <t> is chosen so that the newest --pages x 100 rows match. csql pushes the date bound
(date_from) and then fetches every page of the result, concurrently after page 1, exactly
as in the full scan: nothing else is pushed. The naive row is the httpx baseline of
scan_throughput.py fetching the same pages (date_from given by hand) one after another.

"ideal s" = (1 + ceil((pages - 1) / concurrency)) x latency: page 1 alone, then the rest in
waves; "efficiency" = ideal / measured. Reps interleave all configurations; median shown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BUDGET_HELP,
    HARD_LIMIT,
    PAGE,
    NaiveClient,
    connect,
    cpu_seconds,
    fmt_table,
    hard_limit,
    machine_notes,
    median,
    naive_to_duckdb,
    sandbox_process,
    spread,
)


def threshold(url: str, pages: int) -> int:
    """Unix time of the (pages x 100)-th newest message."""
    naive = NaiveClient(url)
    try:
        data = naive.page("/sms/history", pages, order_by="date:desc")["data"]
        return int(data[-1]["date"])
    finally:
        naive.close()


def run_csql(url: str, sql: str, concurrency: int) -> dict:
    conn = connect(url, concurrency)
    try:
        conn.execute("SELECT count(*) FROM lists").fetchall()
        r0, c0 = conn.stats.requests, cpu_seconds()
        t0 = time.perf_counter()
        (count,) = conn.execute(sql).fetchone()
        return {"wall": time.perf_counter() - t0, "pages": conn.stats.requests - r0,
                "count": count, "cpu": cpu_seconds() - c0}  # fmt: skip
    finally:
        conn.close()


def run_naive(url: str, sql: str, since: int) -> dict:
    naive = NaiveClient(url)
    try:
        c0 = cpu_seconds()
        t0 = time.perf_counter()
        rows = naive.all_rows("/sms/history", date_from=since - 1)
        (count,) = naive_to_duckdb(rows, sql)[0]
        return {"wall": time.perf_counter() - t0, "pages": naive.requests, "count": count,
                "cpu": cpu_seconds() - c0}  # fmt: skip
    finally:
        naive.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--scale", type=float, default=100)
    ap.add_argument("--pages", type=int, default=200, help="size of the scanned slice, in pages")
    ap.add_argument("--concurrency", default="1,4,8,16")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument("--budget", type=float, default=150, help=BUDGET_HELP)
    args = ap.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    hard_limit(HARD_LIMIT)
    print(machine_notes())
    started = time.perf_counter()

    with sandbox_process(args.scale, args.latency_ms) as (url, _pid, startup):
        since = threshold(url, args.pages)
        stamp = dt.datetime.fromtimestamp(since, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        sql = (
            "SELECT count(*) FROM sms_history WHERE body LIKE '%a%' "
            f"AND date >= TIMESTAMP '{stamp}'"
        )
        # the naive rows keep `date` as Unix seconds
        naive_sql = f"SELECT count(*) FROM t WHERE body LIKE '%a%' AND date >= {since}"
        print(
            f"sandbox scale {args.scale}, latency {args.latency_ms:g} ms, ready in {startup:.1f}s"
        )
        print(sql)
        run_csql(url, sql, 8)  # warm-up: the sandbox caches the filtered result once
        results: dict[str, list[dict]] = {}
        for i in range(args.repeat):
            t_rep = time.perf_counter()
            for c in levels:
                results.setdefault(f"csql c={c}", []).append(run_csql(url, sql, c))
            if not args.no_naive:
                results.setdefault("naive sequential", []).append(run_naive(url, naive_sql, since))
            rep = time.perf_counter() - t_rep
            print(f"rep {i + 1}: " + ", ".join(f"{k} {v[-1]['wall']:.2f}s" for k, v in results.items()),
                  flush=True)  # fmt: skip
            if i + 1 < args.repeat and time.perf_counter() - started + rep > args.budget:
                print(f"(time budget {args.budget:g}s reached after {i + 1} reps)")
                break

    counts = {r["count"] for runs in results.values() for r in runs}
    assert len(counts) == 1, f"answers differ: {counts}"
    lat = args.latency_ms / 1000
    base = median([r["wall"] for r in results[f"csql c={levels[0]}"]])
    table = []
    for name, runs in results.items():
        walls = [r["wall"] for r in runs]
        w, pages = median(walls), runs[0]["pages"]
        conc = int(name.split("=")[1]) if "=" in name else 1
        ideal = (1 + math.ceil((pages - 1) / conc)) * lat
        table.append([
            name, pages, f"{w:.2f}", spread(walls), f"{pages / w:,.0f}",
            f"{pages * PAGE / w:,.0f}", f"{median([r['cpu'] for r in runs]) / pages * 1000:.1f}",
            f"{ideal:.2f}", f"{ideal / w:.0%}", f"{base / w:.2f}x",
        ])  # fmt: skip
    print(f"\n{pages} pages ({counts.pop()} matching rows), latency {args.latency_ms:g} ms, "
          f"median of {len(runs)} reps")  # fmt: skip
    print(fmt_table(
        ["client", "pages", "wall s", "min..max", "pages/s", "rows/s", "client CPU ms/page",
         "ideal s", "efficiency", f"speed-up vs c={levels[0]}"],
        table,
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
