"""Full scan throughput: csql vs "fetch everything with httpx, then DuckDB".

    python benchmarks/scan_throughput.py --latency-ms 0  [--repeat 3]
    python benchmarks/scan_throughput.py --latency-ms 50 [--repeat 3] [--naive-pages 200]

The query is SELECT count(*) FROM sms_history WHERE body LIKE '%a%': `body` is not searchable
on ClickSend, so nothing can be pushed down and every page of the 200k-row table (scale 100,
2000 pages of 100) is fetched.

- csql: `csql.connect(..., concurrency=8, requests_per_second=0)`, the query as is.
- naive: plain httpx (one keep-alive connection), pages one after another, `resp.json()`,
  rows appended to a list of dicts, then `pyarrow.Table.from_pylist` (or `pandas.DataFrame`)
  registered in DuckDB and the same SQL. "fetch" is the HTTP part alone.

With --latency-ms 50 a sequential full scan takes > 100 s, so the naive client fetches only
the first --naive-pages pages; its per-page rate is measured on those and the full-table time
is extrapolated (marked "est."). Every rep interleaves csql and naive; the table shows the
median, with min..max. CPU columns: this process (client) and the sandbox process (server),
per page. The sandbox runs in its own process (no shared GIL).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BUDGET_HELP,
    HARD_LIMIT,
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

SQL = "SELECT count(*) FROM sms_history WHERE body LIKE '%a%'"
PHASES: dict[str, float] = {}


def install_breakdown() -> None:
    """--breakdown: time csql's phases by wrapping two of its functions (this process only).

    Runner.run is where the executor waits for all pages of an eager scan (the fetch phase);
    Executor.to_arrow converts the fetched pages (JSON records -> Arrow) afterwards.
    """
    import csql.client
    import csql.read.executor

    def timed(name, fn):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                PHASES[name] = PHASES.get(name, 0.0) + time.perf_counter() - t0

        return wrapper

    csql.client.Runner.run = timed("fetch", csql.client.Runner.run)
    csql.read.executor.Executor.to_arrow = staticmethod(
        timed("to_arrow", csql.read.executor.Executor.to_arrow)
    )


def run_csql(url: str, server_pid: int, concurrency: int) -> dict:
    conn = connect(url, concurrency)
    try:
        conn.execute("SELECT count(*) FROM lists").fetchall()  # connection + first request
        r0, s0, c0 = conn.stats.requests, cpu_seconds(server_pid), cpu_seconds()
        PHASES.clear()
        t0 = time.perf_counter()
        (count,) = conn.execute(SQL).fetchone()
        wall = time.perf_counter() - t0
        return {
            "phases": dict(PHASES),
            "wall": wall,
            "pages": conn.stats.requests - r0,
            "count": count,
            "client_cpu": cpu_seconds() - c0,
            "server_cpu": cpu_seconds(server_pid) - s0,
        }
    finally:
        conn.close()


def run_naive(url: str, server_pid: int, max_pages: int | None) -> dict:
    naive = NaiveClient(url)
    try:
        s0, c0 = cpu_seconds(server_pid), cpu_seconds()
        t0 = time.perf_counter()
        rows = naive.all_rows("/sms/history", max_pages=max_pages)
        fetched = time.perf_counter()
        server_cpu, c1 = cpu_seconds(server_pid) - s0, cpu_seconds()
        (count,) = naive_to_duckdb(rows, SQL.replace("sms_history", "t"), via="arrow")[0]
        t_arrow = time.perf_counter()
        c2 = cpu_seconds()
        (count_pd,) = naive_to_duckdb(rows, SQL.replace("sms_history", "t"), via="pandas")[0]
        t_pandas = time.perf_counter()
        c3 = cpu_seconds()
        assert count == count_pd
        return {
            "fetch": fetched - t0,
            "arrow": t_arrow - t0,  # fetch + from_pylist + DuckDB
            "pandas": (fetched - t0) + (t_pandas - t_arrow),  # fetch + DataFrame + DuckDB
            "pages": naive.requests,
            "rows": len(rows),
            "count": count,
            "cpu_fetch": c1 - c0,
            "cpu_arrow": c2 - c0,
            "cpu_pandas": (c1 - c0) + (c3 - c2),
            "server_cpu": server_cpu,
        }
    finally:
        naive.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--scale", type=float, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument(
        "--naive-pages", type=int, default=None,
        help="cap the naive scan (default: every page at 0 ms, 200 pages otherwise)",
    )  # fmt: skip
    ap.add_argument("--budget", type=float, default=150, help=BUDGET_HELP)
    ap.add_argument(
        "--breakdown",
        action="store_true",
        help="also time csql's fetch and JSON->Arrow phases (wraps two functions)",
    )
    args = ap.parse_args(argv)
    if args.breakdown:
        install_breakdown()
    naive_pages = args.naive_pages
    if naive_pages is None and args.latency_ms > 0:
        naive_pages = 200
    hard_limit(HARD_LIMIT)
    print(machine_notes())
    started = time.perf_counter()

    with sandbox_process(args.scale, args.latency_ms) as (url, pid, startup):
        print(
            f"sandbox scale {args.scale}, latency {args.latency_ms:g} ms, ready in {startup:.1f}s"
        )
        csql_runs, naive_runs = [], []
        for i in range(args.repeat):
            t_rep = time.perf_counter()
            csql_runs.append(run_csql(url, pid, args.concurrency))
            naive_runs.append(run_naive(url, pid, naive_pages))
            rep = time.perf_counter() - t_rep
            c, n = csql_runs[-1], naive_runs[-1]
            print(f"rep {i + 1}: csql {c['wall']:.2f}s ({c['pages']} pages, count {c['count']}); "
                  f"naive fetch {n['fetch']:.2f}s ({n['pages']} pages), +arrow+duckdb "
                  f"{n['arrow']:.2f}s, +pandas+duckdb {n['pandas']:.2f}s", flush=True)  # fmt: skip
            if i + 1 < args.repeat and time.perf_counter() - started + rep > args.budget:
                print(f"(time budget {args.budget:g}s reached after {i + 1} reps)")
                break

    total_pages = csql_runs[0]["pages"]
    total_rows = int(args.scale * 2000)  # sms_history has 2000 rows per unit of scale
    full_naive = naive_runs[0]["pages"] >= total_pages
    if full_naive:
        assert all(n["count"] == c["count"] for n, c in zip(naive_runs, csql_runs, strict=True)), (
            "answers differ"
        )

    def row(name, walls, pages, rows, ccpu, scpu, full=True):
        w = median(walls)
        full_wall = w if full else w * total_pages / pages
        return [
            name, pages, rows,
            f"{w:.2f}" if full else f"{w:.2f} ({pages} pages)",
            spread(walls),
            f"{pages / w:,.0f}", f"{rows / w:,.0f}",
            f"{median(ccpu) / pages * 1000:.1f}",
            f"{median(scpu) / pages * 1000:.1f}" if scpu else "",
            f"{full_wall:.1f}" if full else f"est. {full_wall:.0f}",
        ]  # fmt: skip

    c_walls = [r["wall"] for r in csql_runs]
    n_pages, n_rows = naive_runs[0]["pages"], naive_runs[0]["rows"]
    table = [
        row(f"csql (concurrency {args.concurrency})", c_walls, total_pages, total_rows,
            [r["client_cpu"] for r in csql_runs], [r["server_cpu"] for r in csql_runs]),
        row("naive: httpx fetch only", [r["fetch"] for r in naive_runs], n_pages, n_rows,
            [r["cpu_fetch"] for r in naive_runs], [r["server_cpu"] for r in naive_runs], full_naive),
        row("naive: fetch + from_pylist + DuckDB", [r["arrow"] for r in naive_runs], n_pages, n_rows,
            [r["cpu_arrow"] for r in naive_runs], [], full_naive),
        row("naive: fetch + pandas + DuckDB", [r["pandas"] for r in naive_runs], n_pages, n_rows,
            [r["cpu_pandas"] for r in naive_runs], [], full_naive),
    ]  # fmt: skip
    print(f"\n{SQL}; latency {args.latency_ms:g} ms; median of {len(csql_runs)} reps")
    print(fmt_table(
        ["client", "pages", "rows", "wall s", "min..max", "pages/s", "rows/s",
         "client CPU ms/page", "server CPU ms/page", "full table s"],
        table,
    ))  # fmt: skip
    if args.breakdown:
        mid = sorted(csql_runs, key=lambda r: r["wall"])[(len(csql_runs) - 1) // 2]
        fetch, conv = mid["phases"].get("fetch", 0.0), mid["phases"].get("to_arrow", 0.0)
        rest = mid["wall"] - fetch - conv
        print(f"\ncsql phases of the median rep ({mid['wall']:.2f}s): " + ", ".join(
            f"{k} {v:.2f}s ({v / mid['wall']:.0%})"
            for k, v in (("fetch all pages", fetch), ("then JSON->Arrow", conv),
                         ("plan + DuckDB + rest", rest))))  # fmt: skip
    naive_full = median([r["arrow"] for r in naive_runs]) * total_pages / n_pages
    ratio = naive_full / median(c_walls)
    verdict = (f"csql is {ratio:.2f}x faster" if ratio >= 1
               else f"csql takes {1 / ratio:.2f}x as long")  # fmt: skip
    print(
        f"\nfull scan, naive (fetch + from_pylist + DuckDB) time / csql time = {ratio:.2f}: "
        f"{verdict}{'' if full_naive else ' (naive extrapolated from its pages)'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
