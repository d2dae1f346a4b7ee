"""Adaptive rate control against a throttling server: how close to the limit, how many 429s.

    python benchmarks/rate_limit.py [--scale 20] [--rate-limit 20] [--latency-ms 20]

A `csql sandbox --rate-limit R` answers 429 with Retry-After (whole seconds, at least 1) once
a token bucket of R requests/second (bursts of R) is empty. The scan is
`SELECT count(*) FROM sms_history WHERE body LIKE '%a%'` (every page: scale 20 is 400 pages).

- adaptive: `csql.connect(user, key, base_url)`, the default since issue 12 (no fixed rate;
  the limiter learns the account's limit from the 429s);
- old default: `requests_per_second=20`, the fixed budget csql had before (right only when
  the limit happens to be 20/s);
- and, against a sandbox without a limit, the default again: it must run at full concurrency
  (time close to ceil(pages / 8) x latency).

The floor against the limited sandbox is (pages - R) / R seconds (the bucket's first burst
of R is free). 429s are the sandbox's answers beyond one per page (csql's retries).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HARD_LIMIT, KEY, USER, fmt_table, hard_limit, machine_notes, sandbox_process

import csql

SQL = "SELECT count(*) FROM sms_history WHERE body LIKE '%a%'"


def run(url: str, **options) -> tuple[float, int, int, float | None]:
    conn = csql.connect(USER, KEY, url, **options)
    t0 = time.perf_counter()
    conn.execute(SQL).fetchall()
    wall = time.perf_counter() - t0
    out = wall, conn.stats.requests, conn.stats.retries, conn._client.limiter.rate
    conn.close()
    return out


def unlimited(scale: float, latency_ms: float) -> list:
    """The default against a sandbox without a limit: full concurrency, no 429."""
    with sandbox_process(scale, latency_ms) as (url, _pid, _s):
        wall, requests, retries, rate = run(url)
    floor = (1 + math.ceil((requests - 1) / 8)) * latency_ms / 1000
    return ["adaptive (default)", "no limit", requests, f"{wall:.1f}", f"{floor:.1f}",
            f"{wall / floor:.2f}x", retries, f"{requests / wall:.1f}",
            f"{rate:.1f}" if rate else "none"]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=20)
    ap.add_argument("--rate-limit", type=float, default=20)
    ap.add_argument("--latency-ms", type=float, default=20)
    ap.add_argument(
        "--modes",
        default="adaptive,old,unlimited",
        help="which runs: adaptive, old (requests_per_second=20), unlimited",
    )
    args = ap.parse_args(argv)
    modes = set(args.modes.split(","))
    hard_limit(HARD_LIMIT * 2)
    print(machine_notes())
    rows = []
    r = args.rate_limit
    with sandbox_process(args.scale, args.latency_ms, rate_limit=r) as (url, _pid, _s):
        for mode, name, opts in (("adaptive", "adaptive (default)", {}),
                                 ("old", "old default requests_per_second=20",
                                  {"requests_per_second": 20})):  # fmt: skip
            if mode not in modes:
                continue
            wall, requests, retries, rate = run(url, **opts)
            pages = requests - retries
            floor = max(pages - r, 0) / r
            rows.append([name, f"limit {r:g}/s", pages, f"{wall:.1f}", f"{floor:.1f}",
                         f"{wall / floor:.2f}x" if floor else "", retries,
                         f"{pages / wall:.1f}", f"{rate:.1f}" if rate else "none"])  # fmt: skip
            print(rows[-1], flush=True)
    if "unlimited" in modes:
        rows.append(unlimited(args.scale, args.latency_ms))
        print(rows[-1], flush=True)
    print(f"\n{args.latency_ms:g} ms latency, scale {args.scale:g}, one run each")
    print(fmt_table(["csql", "sandbox", "pages", "wall s", "floor s", "wall/floor", "429s",
                     "pages/s", "learned rate/s"], rows))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
