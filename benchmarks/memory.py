"""Memory: peak RSS of a 200k-row scan of sms_history into Arrow, csql vs naive.

    python benchmarks/memory.py [--repeat 3] [--modes csql,csql-count,naive]
    python benchmarks/memory.py --modes csql-fetchmany --csql-path /tmp/before   # "before"

Each measurement runs in a fresh child process (peak RSS is a per-process high-water mark),
against one sandbox in its own process (latency 0, scale 100: 2000 pages of 100 rows):

- csql:       conn.execute("SELECT * FROM sms_history").fetch_arrow_table()
- csql-count: conn.execute("SELECT count(*) FROM sms_history WHERE body LIKE '%a%'")
              (the same 2000 pages; the answer is one row)
- csql-fetchmany: the 200k rows read as tuples with fetchmany(1000), each batch dropped
              (issue 12: streaming results; before it, the first fetch made every row a tuple)
- csql-fetchall: the 200k rows as one list of tuples (what every fetch cost before)
- naive:      httpx, sequential pages, resp.json() rows in a list, then
              pyarrow.Table.from_pylist(rows) (the list is kept until the table exists)

"base" is the child's RSS after imports and one small request (before the scan); "peak" is
getrusage(RUSAGE_SELF).ru_maxrss at the end; "peak - base" is what the scan itself cost.
"result" is the Arrow table's nbytes. Median over --repeat children per mode, interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BUDGET_HELP,
    HARD_LIMIT,
    NaiveClient,
    connect,
    fmt_table,
    hard_limit,
    machine_notes,
    median,
    sandbox_process,
    spread,
)

MB = 1024 * 1024


def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def child(mode: str, url: str) -> dict:
    import pyarrow as pa

    if mode.startswith("csql"):
        conn = connect(url, 8)
        conn.execute("SELECT count(*) FROM lists").fetchall()  # imports, loop, connection
        base = rss_now()
        t0 = time.perf_counter()
        if mode == "csql":
            table = conn.execute("SELECT * FROM sms_history").fetch_arrow_table()
        elif mode in ("csql-fetchmany", "csql-fetchall"):
            cur = conn.execute("SELECT * FROM sms_history")
            n = 0
            if mode == "csql-fetchall":
                n = len(cur.fetchall())
            else:
                while rows := cur.fetchmany(1000):
                    n += len(rows)
            table = pa.table({"n": pa.nulls(n, pa.null())})  # the row count; nbytes 0
        else:
            table = conn.execute(
                "SELECT count(*) FROM sms_history WHERE body LIKE '%a%'"
            ).fetch_arrow_table()
        wall = time.perf_counter() - t0
        pages = conn.stats.requests - 1
    else:
        naive = NaiveClient(url)
        naive.page("/lists", 1)
        pa.Table.from_pylist([{"a": 1}])  # warm pyarrow like the csql child
        base = rss_now()
        t0 = time.perf_counter()
        rows = naive.all_rows("/sms/history")
        table = pa.Table.from_pylist(rows)
        del rows
        wall = time.perf_counter() - t0
        pages = naive.requests - 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"mode": mode, "base": base, "peak": peak, "end": rss_now(), "rows": table.num_rows,
            "nbytes": table.nbytes, "wall": wall, "pages": pages}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", default="csql,csql-count,naive")
    ap.add_argument("--budget", type=float, default=140, help=BUDGET_HELP)
    ap.add_argument(
        "--csql-path",
        help="run the children with this csql tree first on "
        "PYTHONPATH (a `git archive` of an older commit: the 'before')",
    )
    ap.add_argument(
        "--hard-limit",
        type=float,
        default=HARD_LIMIT,
        help="seconds after which the script stops (a loaded machine needs more)",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.url)))
        return 0

    modes = args.modes.split(",")
    hard_limit(args.hard_limit)
    print(machine_notes())
    started = time.perf_counter()
    results: dict[str, list[dict]] = {m: [] for m in modes}
    with sandbox_process(args.scale, 0) as (url, _pid, startup):
        print(f"sandbox scale {args.scale}, latency 0 ms, ready in {startup:.1f}s")
        for i in range(args.repeat):
            t_rep = time.perf_counter()
            for m in modes:
                env = dict(os.environ)
                if args.csql_path:
                    env["PYTHONPATH"] = args.csql_path
                out = subprocess.run(
                    [sys.executable, __file__, "--child", m, "--url", url],
                    capture_output=True, text=True, check=True, timeout=170, env=env,
                )  # fmt: skip
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results[m].append(r)
                print(f"rep {i + 1} {m}: peak {r['peak'] / MB:.0f} MB, base {r['base'] / MB:.0f} MB, "
                      f"{r['wall']:.1f}s", flush=True)  # fmt: skip
            rep = time.perf_counter() - t_rep
            if i + 1 < args.repeat and time.perf_counter() - started + rep > args.budget:
                print(f"(time budget {args.budget:g}s reached after {i + 1} reps)")
                break

    table = []
    naive_delta = None
    if results.get("naive"):
        naive_delta = median([r["peak"] - r["base"] for r in results["naive"]])
    for m, runs in results.items():
        if not runs:
            continue
        deltas = [(r["peak"] - r["base"]) / MB for r in runs]
        d = median(deltas)
        table.append([
            m, runs[0]["pages"], runs[0]["rows"], f"{median([r['base'] for r in runs]) / MB:.0f}",
            f"{median([r['peak'] for r in runs]) / MB:.0f}", f"{d:.0f}", spread(deltas),
            f"{runs[0]['nbytes'] / MB:.0f}", f"{median([r['wall'] for r in runs]):.1f}",
            f"{d * MB / naive_delta:.2f}x" if naive_delta else "",
        ])  # fmt: skip
    print(
        f"\npeak RSS, scale {args.scale:g} (200k sms_history rows), median of {len(runs)} children"
    )
    print(fmt_table(
        ["client", "pages", "result rows", "base MB", "peak MB", "peak - base MB", "min..max",
         "result MB", "wall s", "vs naive"],
        table,
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
