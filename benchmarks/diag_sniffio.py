"""Diagnostic: what the missing `sniffio` package costs csql's HTTP path.

    python benchmarks/diag_sniffio.py [--repeat 3]

httpcore's `current_async_library()` does `import sniffio` on every call and falls back to
"asyncio" on ImportError. Since anyio 4.11 no longer pulls sniffio in, that import fails
every time, and Python does not cache failed imports: each call walks sys.path again (see
encode/httpcore discussion #1102, PR #1103). httpcore calls it several times per request.

This measures (1) one call of current_async_library() with and without sniffio importable,
and how many calls csql's requests make (counted by wrapping the function; "ms/request in
it" = calls/request x us/call, the robust figure on a noisy machine), (2) the csql full scan (SELECT count(*) FROM sms_history WHERE body LIKE '%a%', 2000 pages,
latency 0, concurrency 8) in child processes, without and with a stand-in `sniffio` module
(installed in sys.modules before httpx is imported: the effect of `pip install sniffio`).

pyproject.toml declares `sniffio>=1.3` since commit 29850b9; an environment installed before
that (or with --no-deps) still lacks it. If sniffio is importable, the script says so and its
"without" row is not what it claims.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import timeit
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BUDGET_HELP,
    HARD_LIMIT,
    cpu_seconds,
    fmt_table,
    hard_limit,
    machine_notes,
    median,
    sandbox_process,
    spread,
)

SQL = "SELECT count(*) FROM sms_history WHERE body LIKE '%a%'"


def stub_sniffio() -> None:
    mod = types.ModuleType("sniffio")
    mod.current_async_library = lambda: "asyncio"  # type: ignore[attr-defined]
    sys.modules["sniffio"] = mod


def child(stub: bool, url: str | None) -> dict:
    import asyncio

    if stub:
        stub_sniffio()
    from httpcore._synchronization import current_async_library

    async def per_call() -> float:
        n = 2000
        return timeit.timeit(current_async_library, number=n) / n

    call_us = asyncio.run(per_call()) * 1e6
    out = {"call_us": call_us}
    if url:
        import httpcore._backends.auto as auto
        import httpcore._synchronization as sync

        calls = [0]
        real = sync.current_async_library

        def counted() -> str:
            calls[0] += 1
            return real()

        sync.current_async_library = counted  # its callers look the name up at call time
        auto.current_async_library = counted

        from _common import connect

        conn = connect(url, 8)
        conn.execute("SELECT count(*) FROM lists").fetchall()
        r0, c0, t0 = conn.stats.requests, cpu_seconds(), time.perf_counter()
        calls[0] = 0
        conn.execute(SQL).fetchall()
        out.update(wall=time.perf_counter() - t0, cpu=cpu_seconds() - c0,
                   pages=conn.stats.requests - r0, calls=calls[0])  # fmt: skip
        conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--scale", type=float, default=100)
    ap.add_argument("--budget", type=float, default=130, help=BUDGET_HELP)
    ap.add_argument("--child", choices=["stub", "plain"], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child == "stub", args.url)))
        return 0
    try:
        import sniffio  # noqa: F401

        print("note: sniffio IS installed here; the 'without' row is not what it claims")
    except ImportError:
        pass

    hard_limit(HARD_LIMIT)
    print(machine_notes())
    started = time.perf_counter()
    runs: dict[str, list[dict]] = {"plain": [], "stub": []}
    with sandbox_process(args.scale, 0) as (url, _pid, startup):
        print(f"sandbox scale {args.scale}, latency 0 ms, ready in {startup:.1f}s")
        for i in range(args.repeat):
            t_rep = time.perf_counter()
            for mode in runs:
                out = subprocess.run([sys.executable, __file__, "--child", mode, "--url", url],
                                     capture_output=True, text=True, check=True, timeout=170)  # fmt: skip
                r = json.loads(out.stdout.strip().splitlines()[-1])
                runs[mode].append(r)
                print(f"rep {i + 1} {mode}: {r['wall']:.2f}s, cpu {r['cpu']:.2f}s", flush=True)
            rep = time.perf_counter() - t_rep
            if i + 1 < args.repeat and time.perf_counter() - started + rep > args.budget:
                print(f"(time budget {args.budget:g}s reached after {i + 1} reps)")
                break
    rows = []
    for mode, label in (("plain", "without sniffio (as installed)"), ("stub", "with sniffio")):
        rs = runs[mode]
        walls = [r["wall"] for r in rs]
        per_req = rs[0]["calls"] / rs[0]["pages"]
        us = median([r["call_us"] for r in rs])
        rows.append([
            label, f"{us:.1f}", f"{per_req:.1f}", f"{per_req * us / 1000:.2f}", rs[0]["pages"],
            f"{median(walls):.2f}", spread(walls),
            f"{median([r['cpu'] for r in rs]) / rs[0]['pages'] * 1000:.2f}",
        ])  # fmt: skip
    print(f"\n{SQL}; latency 0 ms, concurrency 8; median of {len(runs['stub'])} reps")
    print(fmt_table(
        ["httpcore", "current_async_library() us/call", "calls/request", "ms/request in it",
         "pages", "csql wall s", "min..max", "client CPU ms/page"],
        rows,
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
