"""Diagnostic: client CPU per request of HTTP stacks, the part of csql's per-page cost that
issue 12's conversion work does not touch.

    python benchmarks/diag_transport.py [--requests 200]

GET /sms/history?page=N&limit=100 (61 KiB bodies, not parsed) from a sandbox in its own
process at 0 ms latency; CPU seconds of this process (user + system, every thread) per
request:

- csql Client.request: httpx.AsyncClient on csql's loop, 8 concurrent, + orjson parse
  (what every csql page costs before conversion);
- httpx.AsyncClient alone, 8 concurrent, body not parsed;
- httpx.Client, sequential (the SDK-style loop);
- urllib3 PoolManager: sequential, and 8 threads.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import KEY, USER, cpu_seconds, fmt_table, machine_notes, sandbox_process

PARAMS = {"limit": "100"}


def per_request(fn, n: int) -> float:
    c0 = cpu_seconds()
    fn()
    return (cpu_seconds() - c0) / n * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args(argv)
    n = args.requests
    print(machine_notes())
    import base64

    import httpx
    import urllib3

    import csql

    with sandbox_process(20, 0) as (url, _pid, _startup):
        pages = [str(1 + i % 400) for i in range(n)]
        conn = csql.connect(USER, KEY, url)
        conn.execute("SELECT count(*) FROM lists").fetchall()
        client, runner = conn._client, conn._session.runner

        async def csql_requests() -> None:
            await asyncio.gather(*(client.request("GET", "/sms/history", {**PARAMS, "page": p})
                                   for p in pages))  # fmt: skip

        async def httpx_async() -> None:
            sem = asyncio.Semaphore(8)
            async with httpx.AsyncClient(base_url=url, auth=(USER, KEY)) as http:

                async def one(p: str) -> None:
                    async with sem:
                        _ = (await http.get("/sms/history", params={**PARAMS, "page": p})).content

                await asyncio.gather(*(one(p) for p in pages))

        def httpx_sync() -> None:
            with httpx.Client(base_url=url, auth=(USER, KEY)) as http:
                for p in pages:
                    _ = http.get("/sms/history", params={**PARAMS, "page": p}).content

        auth = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{KEY}".encode()).decode()}
        pool = urllib3.PoolManager(maxsize=8)

        def u3(p: str) -> None:
            _ = pool.request(
                "GET", f"{url}/sms/history", fields={**PARAMS, "page": p}, headers=auth
            ).data

        def urllib3_seq() -> None:
            for p in pages:
                u3(p)

        def urllib3_threads() -> None:
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                list(ex.map(u3, pages))

        rows = [
            ["csql Client.request (httpx async, 8 concurrent, + orjson)",
             per_request(lambda: runner.run(csql_requests()), n)],
            ["httpx.AsyncClient, 8 concurrent",
             per_request(lambda: asyncio.run(httpx_async()), n)],
            ["httpx.Client, sequential", per_request(httpx_sync, n)],
            ["urllib3, sequential", per_request(urllib3_seq, n)],
            ["urllib3, 8 threads", per_request(urllib3_threads, n)],
        ]  # fmt: skip
        conn.close()
    print(f"\n{n} requests each, client CPU per request")
    print(fmt_table(["stack", "CPU ms/request"], [[r[0], f"{r[1]:.2f}"] for r in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
