"""Pushdown savings: requests and wall time per query, csql vs "fetch every page, then DuckDB".

    python benchmarks/pushdown.py [--latency-ms 50] [--repeat 5]

For each query:
- requests (server): what a sandbox's request log saw while csql ran the query once. This
  pass uses an in-thread `Sandbox(seed=1, scale=...)` at 0 ms latency (only its log is read;
  no timing is taken from it), because the log also counts requests that csql cancelled in
  flight, which `conn.stats` never sees;
- requests (stats): `conn.stats.requests` for the same run, over the timed sandbox;
- naive requests: every page of every table the query reads, as the httpx baseline fetches
  them (contacts: the lists page, then every page of every list's contacts);
- wall: csql, one connection (concurrency 8), sandbox in its own process at --latency-ms;
  a warm-up pass first (the sandbox caches filtered results and the connection is opened),
  then --repeat interleaved passes over all queries; median and min..max;
- naive est.: naive requests x the median time of one sequential httpx page request measured
  against the same sandbox (fetch only: the JSON -> DuckDB step would add to it).
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
    SEED,
    NaiveClient,
    connect,
    fmt_table,
    hard_limit,
    machine_notes,
    median,
    sandbox_process,
    spread,
)

#: queries that read every page at 50 ms take ~20 s: timed once (the warm-up pass), and their
#: request count is taken from conn.stats (they are not streamed, so nothing is cancelled)
SLOW = ("ORDER BY date DESC LIMIT 10",)


def queries(vip_name: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(label, SQL, tables the naive baseline must read in full)."""
    return [
        ("COUNT(*) from total", "SELECT count(*) FROM sms_history", ("sms_history",)),
        ("LIMIT 10", "SELECT * FROM sms_history LIMIT 10", ("sms_history",)),
        ("LIMIT 10 OFFSET 150000", "SELECT * FROM sms_history LIMIT 10 OFFSET 150000",
         ("sms_history",)),
        ("path key list_id = X", "SELECT * FROM contacts WHERE list_id = {vip_id}",
         ("contacts",)),
        ("q search status = 'Failed'", "SELECT * FROM sms_history WHERE status = 'Failed'",
         ("sms_history",)),
        ("date range (7 days)",
         "SELECT * FROM sms_history WHERE date >= TIMESTAMP '2025-06-01' "
         "AND date < TIMESTAMP '2025-06-08'", ("sms_history",)),
        ("join lists -> contacts by list_name",
         "SELECT c.* FROM lists l JOIN contacts c ON c.list_id = l.list_id "
         f"WHERE l.list_name = '{vip_name}'", ("lists", "contacts")),
        # not pushed, or only partly: the cost of what the planner cannot do
        ("COUNT(*) contacts (fan-out totals)", "SELECT count(*) FROM contacts", ("contacts",)),
        ("COUNT(*) WHERE status = 'Failed'",
         "SELECT count(*) FROM sms_history WHERE status = 'Failed'", ("sms_history",)),
        ("q search + LIMIT 10 (streamed)",
         "SELECT * FROM sms_history WHERE status = 'Failed' LIMIT 10", ("sms_history",)),
        ("ORDER BY date DESC LIMIT 10",
         "SELECT * FROM sms_history ORDER BY date DESC LIMIT 10", ("sms_history",)),
    ]  # fmt: skip


def naive_pages(url: str) -> tuple[dict[str, int], int, str, float]:
    """Pages per table for the naive baseline, VIP's list id and name, seconds per page."""
    naive = NaiveClient(url)
    try:
        times = []
        for p in range(1, 21):  # sequential page time, for the naive estimate
            t0 = time.perf_counter()
            first = naive.page("/sms/history", p)
            times.append(time.perf_counter() - t0)
        pages = {"sms_history": int(first["last_page"])}
        lists = naive.page("/lists", 1)
        pages["lists"] = int(lists["last_page"])
        contact_pages = pages["lists"]  # the naive client must list the lists first
        for lst in lists["data"]:
            contact_pages += int(
                naive.page(f"/lists/{lst['list_id']}/contacts", 1)["last_page"] or 1
            )
        pages["contacts"] = contact_pages
        vip = next(x for x in lists["data"] if x["list_name"] == "VIP")
        return pages, int(vip["list_id"]), vip["list_name"], median(times)
    finally:
        naive.close()


def naive_requests(pages: dict[str, int], tables: tuple[str, ...]) -> int:
    if "contacts" in tables:  # the lists are read anyway to reach the contacts
        tables = tuple(t for t in tables if t != "lists")
    return sum(pages[t] for t in tables)


def server_counts(
    scale: float, latency_ms: float, qs: list[tuple[str, str]]
) -> list[tuple[int | None, int | None]]:
    """(requests the sandbox logged, rows) per query, against an in-thread sandbox."""
    from csql.sandbox import Sandbox

    out: list[tuple[int | None, int | None]] = []
    with Sandbox(seed=SEED, scale=scale, latency_ms=latency_ms) as sb:
        conn = connect(sb.base_url, 8)
        try:
            for label, sql in qs:
                if label in SLOW:
                    out.append((None, None))
                    continue
                sb.reset_log()
                rows = len(conn.execute(sql).fetchall())
                time.sleep(0.2)
                out.append((len(sb.request_log), rows))
        finally:
            conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--scale", type=float, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-server-count", action="store_true", help="skip the request-log pass")
    ap.add_argument("--budget", type=float, default=110, help=BUDGET_HELP)
    args = ap.parse_args(argv)
    hard_limit(HARD_LIMIT)
    print(machine_notes())
    started = time.perf_counter()

    with sandbox_process(args.scale, args.latency_ms) as (url, _pid, startup):
        print(
            f"sandbox scale {args.scale}, latency {args.latency_ms:g} ms, ready in {startup:.1f}s"
        )
        pages, vip_id, vip_name, page_s = naive_pages(url)
        qs = [(label, sql.replace("{vip_id}", str(vip_id)), tables)
              for label, sql, tables in queries(vip_name)]  # fmt: skip
        conn = connect(url, 8)
        try:
            stats_requests, rows = [], []
            walls: list[list[float]] = [[] for _ in qs]
            for j, (label, sql, _) in enumerate(qs):  # warm-up; requests as conn.stats sees them
                r0, t0 = conn.stats.requests, time.perf_counter()
                rows.append(len(conn.execute(sql).fetchall()))
                stats_requests.append(conn.stats.requests - r0)
                if label in SLOW:
                    walls[j].append(time.perf_counter() - t0)
            for i in range(args.repeat):
                t_rep = time.perf_counter()
                for j, (label, sql, _) in enumerate(qs):
                    if label in SLOW:
                        continue
                    t0 = time.perf_counter()
                    conn.execute(sql).fetchall()
                    walls[j].append(time.perf_counter() - t0)
                rep = time.perf_counter() - t_rep
                print(f"rep {i + 1}: {rep:.1f}s", flush=True)
                if i + 1 < args.repeat and time.perf_counter() - started + rep > args.budget:
                    print(f"(time budget {args.budget:g}s reached after {i + 1} reps)")
                    break
        finally:
            conn.close()

    logged: list[tuple[int | None, int | None]] = [(None, None)] * len(qs)
    if not args.no_server_count:
        logged = server_counts(args.scale, args.latency_ms, [(lb, sql) for lb, sql, _ in qs])
    table = []
    for j, (label, _sql, tables) in enumerate(qs):
        n = naive_requests(pages, tables)
        srv = logged[j][0]
        used = srv if srv is not None else stats_requests[j]
        w = median(walls[j])
        est = n * page_s
        assert logged[j][1] in (None, rows[j]), f"{label}: row counts differ"
        table.append([
            label, rows[j], srv if srv is not None else "", stats_requests[j], n,
            f"{n / used:,.0f}x" if used else "", f"{w:.2f}", spread(walls[j]),
            f"{est:.1f}", f"{est / w:,.0f}x",
        ])  # fmt: skip
    print(f"\nlatency {args.latency_ms:g} ms, scale {args.scale:g}, concurrency 8; median of "
          f"{len(walls[0])} reps ({', '.join(SLOW)}: 1 run); one sequential page = "
          f"{page_s * 1000:.1f} ms")  # fmt: skip
    print(fmt_table(
        ["query", "rows", "csql requests (server log)", "csql requests (conn.stats)",
         "naive requests", "fewer requests", "csql wall s", "min..max", "naive est. s",
         "speed-up"],
        table,
    ))  # fmt: skip
    print("\nSQL:")
    for label, sql, _ in qs:
        print(f"- {label}: {sql}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
