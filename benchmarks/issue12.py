"""Issue 12's table: csql with default options against its peers, at 20 ms latency.

    python benchmarks/issue12.py [--latency-ms 20] [--big-scale 100] [--small-scale 20]
                                 [--only big,scan,groupby]

Every client talks to a `csql sandbox` in its own process (seed 1) with the given latency:

- big:     `SELECT * FROM sms_history` (scale 100: 200k rows, 2000 pages) into Arrow, csql
           vs the SDK-style loop (ClickSend's SDKs page one request after another: plain
           httpx, one keep-alive connection, `resp.json()`, rows appended to a list); plus
           the 8-way latency floor ceil(pages / 8) x latency and csql's client CPU per page.
- scan:    `SELECT *` of sms_history at scale 20 (40k rows, 400 pages), every row as a
           Python tuple, csql vs shillelagh with benchmarks/shillelagh_clicksend.py.
- groupby: `SELECT list_id, count(*) FROM contacts GROUP BY 1` (scale 20: 20k contacts in 9
           lists), csql vs shillelagh; requests counted on both sides.

csql runs as a user gets it: `csql.connect(user, key, base_url)`, no options. One rep per
row, each ratio from one run (the machine is shared: see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    HARD_LIMIT,
    KEY,
    PAGE,
    USER,
    NaiveClient,
    cpu_seconds,
    fmt_table,
    hard_limit,
    machine_notes,
    sandbox_process,
)

import csql

GROUP_BY = "SELECT list_id, count(*) FROM contacts GROUP BY 1 ORDER BY 1"


def _csql(url: str) -> csql.Connection:
    """A default connection, warmed without a request (catalog, DuckDB): the timed statement
    pays only for itself."""
    conn = csql.connect(USER, KEY, url)
    conn.execute("SELECT * FROM sys_tables LIMIT 1").fetchall()
    return conn


def timed(fn):
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, cpu_seconds() - cpu0


def server_floor(url: str, pages: int, threads: int = 8) -> float:
    """Seconds the sandbox itself needs to serve `pages` pages to 8 plain clients at once
    (threads, one keep-alive httpx.Client each, bodies not parsed): on a loaded 2-core
    machine the Python sandbox, not the network, bounds every client."""
    import concurrent.futures

    import httpx

    def worker(k: int) -> None:
        with httpx.Client(base_url=url, auth=(USER, KEY), timeout=60) as http:
            for p in range(1 + k, pages + 1, threads):
                http.get("/sms/history", params={"page": p, "limit": PAGE}).raise_for_status()

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return time.perf_counter() - t0


def big(url: str, latency: float, rows: list) -> None:
    conn = _csql(url)
    table, wall, cpu = timed(lambda: conn.execute("SELECT * FROM sms_history").fetch_arrow_table())
    pages = conn.stats.requests
    conn.close()
    naive = NaiveClient(url)
    sdk_rows, sdk_wall, _ = timed(lambda: naive.all_rows("/sms/history"))
    naive.close()
    assert len(sdk_rows) == table.num_rows, (len(sdk_rows), table.num_rows)
    floor = math.ceil(pages / 8) * latency
    served = server_floor(url, pages)
    rows.append([f"SELECT * of {table.num_rows:,} SMS history rows ({pages} requests)",
                 f"{wall:.2f} s", f"SDK loop {sdk_wall:.2f} s", f"{sdk_wall / wall:.1f}x",
                 f"8-way latency floor {floor:.2f} s (csql {wall / floor:.2f}x); sandbox serves "
                 f"the pages to 8 plain clients in {served:.2f} s (csql {wall / served:.2f}x); "
                 f"client CPU {cpu / pages * 1000:.2f} ms/page"])  # fmt: skip


def _shillelagh(url: str):
    import shillelagh_clicksend as sc

    conn = sc.connect(url, USER, KEY)
    conn.cursor().execute("SELECT 1").fetchall()  # warm like csql: no request
    return sc, conn


def scan(url: str, rows: list) -> None:
    conn = _csql(url)
    got, wall, _ = timed(lambda: conn.execute("SELECT * FROM sms_history").fetchall())
    requests = conn.stats.requests
    conn.close()
    sc, sh = _shillelagh(url)
    cur = sh.cursor()
    before = sc.REQUESTS[0]
    peer, peer_wall, _ = timed(
        lambda: cur.execute('SELECT * FROM "clicksend://sms_history"').fetchall()
    )
    assert len(peer) == len(got)
    rows.append([f"SELECT * of {len(got):,} SMS history rows as tuples", f"{wall:.2f} s, {requests} req",
                 f"shillelagh {peer_wall:.2f} s, {sc.REQUESTS[0] - before} req",
                 f"{peer_wall / wall:.1f}x", ""])  # fmt: skip


def groupby(url: str, latency: float, rows: list) -> None:
    conn = _csql(url)
    got, wall, _ = timed(lambda: conn.execute(GROUP_BY).fetchall())
    requests = conn.stats.requests
    lists = conn.execute("SELECT count(*) FROM lists").fetchone()[0]
    conn.close()
    sc, sh = _shillelagh(url)
    cur = sh.cursor()
    before = sc.REQUESTS[0]
    peer, peer_wall, _ = timed(lambda: cur.execute(
        'SELECT list_id, count(*) FROM "clicksend://contacts" GROUP BY 1 ORDER BY 1').fetchall())  # fmt: skip
    assert [tuple(r) for r in got] == [tuple(r) for r in peer], (got, peer)
    total = sum(n for _, n in got)
    rows.append([f"contacts GROUP BY list_id ({total:,} contacts in {lists} lists)",
                 f"{wall:.2f} s, {requests} req (lists + 1 = {lists + 1})",
                 f"shillelagh {peer_wall:.2f} s, {sc.REQUESTS[0] - before} req",
                 f"{peer_wall / wall:.1f}x", f"latency {latency * 1000:.0f} ms"])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-ms", type=float, default=20)
    ap.add_argument("--big-scale", type=float, default=100)
    ap.add_argument("--small-scale", type=float, default=20)
    ap.add_argument("--only", default="big,scan,groupby")
    ap.add_argument(
        "--hard-limit",
        type=float,
        default=HARD_LIMIT * 2,
        help="seconds after which the script stops (sandbox start-up included)",
    )
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    hard_limit(args.hard_limit)
    print(machine_notes())
    latency = args.latency_ms / 1000
    rows: list[list[str]] = []
    if only & {"scan", "groupby"}:
        with sandbox_process(args.small_scale, args.latency_ms) as (url, _pid, startup):
            print(
                f"sandbox scale {args.small_scale:g}, {args.latency_ms:g} ms, ready in {startup:.1f}s"
            )
            if "scan" in only:
                scan(url, rows)
                print(rows[-1], flush=True)
            if "groupby" in only:
                groupby(url, latency, rows)
                print(rows[-1], flush=True)
    if "big" in only:
        with sandbox_process(args.big_scale, args.latency_ms) as (url, _pid, startup):
            print(
                f"sandbox scale {args.big_scale:g}, {args.latency_ms:g} ms, ready in {startup:.1f}s"
            )
            big(url, latency, rows)
            print(rows[-1], flush=True)
    print(
        f"\n{args.latency_ms:g} ms latency per request, csql with default options, {PAGE}-row pages"
    )
    print(fmt_table(["work", "csql", "peer", "csql faster by", "notes"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
