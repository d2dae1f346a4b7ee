"""How many 100-row pages per second the sandbox serves from a 100k-row table.

    python benchmarks/sandbox_pages.py [--scale 100] [--seconds 5] [--threads 4]

Starts a sandbox at scale 100 (>= 100k SMS history rows), then several client threads, each
with one keep-alive connection (http.client, JSON parsed with orjson), fetch
/sms/history?limit=100&page=N over random pages for a fixed time. Prints pages/s. Client and
server share the machine's cores, so this is a lower bound on the server's own rate.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import random
import sys
import threading
import time
from urllib.parse import urlsplit

import orjson

from csql.sandbox import Sandbox


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--path", default="/sms/history")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    with Sandbox(seed=1, scale=args.scale) as sb:
        startup = time.perf_counter() - t0
        url = urlsplit(sb.base_url)
        auth = "Basic " + base64.b64encode(f"{sb.username}:{sb.api_key}".encode()).decode()
        conn = http.client.HTTPConnection(url.hostname, url.port)
        conn.request("GET", f"{url.path}{args.path}?limit=100", headers={"Authorization": auth})
        first = orjson.loads(conn.getresponse().read())["data"]
        total, last_page = first["total"], first["last_page"]
        conn.close()

        counts = [0] * args.threads
        rows = [0] * args.threads
        deadline = time.perf_counter() + args.seconds

        def worker(i: int) -> None:
            rng = random.Random(i)
            c = http.client.HTTPConnection(url.hostname, url.port)
            while time.perf_counter() < deadline:
                page = rng.randint(1, last_page)
                c.request(
                    "GET",
                    f"{url.path}{args.path}?limit=100&page={page}",
                    headers={"Authorization": auth},
                )
                resp = c.getresponse()
                body = orjson.loads(resp.read())
                assert resp.status == 200, body
                counts[i] += 1
                rows[i] += len(body["data"]["data"])
            c.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    pages = sum(counts)
    print(f"table {args.path}: {total} rows (scale {args.scale}, ready in {startup:.1f}s)")
    print(f"{pages} pages ({sum(rows)} rows) in {elapsed:.1f}s with {args.threads} threads")
    print(f"{pages / elapsed:.0f} pages/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
