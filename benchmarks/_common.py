"""Shared pieces of the benchmarks: a sandbox in its own process, the naive baseline, timing.

Not a benchmark itself. Every benchmark talks only to 127.0.0.1.

- `sandbox_process(...)` runs `python -m csql.cli sandbox` in a child process (so the server
  and the client under test never share one GIL) and yields its base URL.
- `NaiveClient` is what a user without csql would write: plain httpx, one keep-alive
  connection, pages fetched one after another, `resp.json()` into a list of dicts.
- `median`, `fmt_table`, `machine_notes`: reporting helpers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

USER = "sandbox"
KEY = "sandbox-key"
SEED = 1
PAGE = 100


@contextlib.contextmanager
def sandbox_process(
    scale: float = 100,
    latency_ms: float = 0,
    seed: int = SEED,
    timeout: float = 120,
    rate_limit: float | None = None,
) -> Iterator[tuple[str, int, float]]:
    """(base_url, pid, startup seconds) of a `csql sandbox` child process; stopped on exit."""
    cmd = [
        sys.executable, "-m", "csql.cli", "sandbox", "--host", "127.0.0.1", "--port", "0",
        "--seed", str(seed), "--scale", str(scale), "--latency-ms", str(latency_ms),
        "--username", USER, "--api-key", KEY,
    ]  # fmt: skip
    if rate_limit:
        cmd += ["--rate-limit", str(rate_limit)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()  # the base URL, printed once the data is loaded
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"sandbox did not start: {line!r} (exit {proc.poll()})")
        yield line, proc.pid, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def connect(base_url: str, concurrency: int = 8):
    import csql

    return csql.connect(USER, KEY, base_url, concurrency=concurrency, requests_per_second=0)


class NaiveClient:
    """Plain httpx, sequential pages, `resp.json()`: "fetch everything, then DuckDB"."""

    def __init__(self, base_url: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=base_url, auth=(USER, KEY), timeout=60)
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    def page(self, path: str, page: int, **params: Any) -> dict:
        resp = self.http.get(path, params={**params, "page": page, "limit": PAGE})
        resp.raise_for_status()
        self.requests += 1
        return resp.json()["data"]

    def all_rows(self, path: str, max_pages: int | None = None, **params: Any) -> list[dict]:
        """Every row of a paged list endpoint (or its first `max_pages` pages)."""
        first = self.page(path, 1, **params)
        rows = list(first["data"])
        last = int(first["last_page"] or 1)
        if max_pages is not None:
            last = min(last, max_pages)
        for p in range(2, last + 1):
            rows += self.page(path, p, **params)["data"]
        return rows


def naive_to_duckdb(rows: list[dict], sql: str, name: str = "t", via: str = "arrow"):
    """Run `sql` over `rows` (a list of dicts) registered in DuckDB as `name`."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    if via == "arrow":
        data = pa.Table.from_pylist(rows)
    else:
        import pandas as pd

        data = pd.DataFrame(rows)
    con.register(name, data)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def spread(xs: Sequence[float]) -> str:
    """min..max of the repetitions, for the noise column."""
    return f"{min(xs):.2f}..{max(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}"


def fmt_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (pastes straight into README.md)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def machine_notes() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    import duckdb
    import httpx
    import pyarrow

    return (
        f"{dt.datetime.now().isoformat(timespec='seconds')}; {platform.machine()} "
        f"{os.cpu_count()} cpu; Python {platform.python_version()}; duckdb {duckdb.__version__}, "
        f"pyarrow {pyarrow.__version__}, httpx {httpx.__version__}; "
        f"load avg at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def cpu_seconds(pid: int | None = None) -> float:
    """user+system CPU seconds of a process (default: this one), from /proc."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


#: no benchmark script runs longer than this (seconds); its --budget stops starting new reps
#: well before, so the limit only trips when the machine stalls
HARD_LIMIT = 175
BUDGET_HELP = "seconds after which no new rep starts (the script stops at 175 s in any case)"


def hard_limit(seconds: float = HARD_LIMIT) -> None:
    """Abort the script (and, through the context managers, its sandbox) after `seconds`."""
    import signal

    def expire(signum, frame):
        raise SystemExit(f"benchmark stopped: over its {seconds:g} s limit (machine too busy?)")

    signal.signal(signal.SIGALRM, expire)
    signal.alarm(int(seconds))
