"""A local ClickSend: a real HTTP server speaking the v3 API, for tests, demos and benchmarks.

    with Sandbox(seed=1) as sb:                 # serves in a background thread
        csql.connect(sb.username, sb.api_key, sb.base_url)

    csql sandbox --port 8080 --scale 100        # the same server, in the foreground

Modules: data (deterministic rows from the catalog), store (state, search, sort, paging),
routes (catalog-driven routing), actions (sends, cancels, contact moves, ...), wire (envelopes
and the spec's field types, shapes.py), server (HTTP, auth, latency, rate limit, faults).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
import time
from typing import Any

from csql.catalog import Catalog, default_catalog

__all__ = ["Sandbox", "main"]


def build_app(
    catalog: Catalog,
    seed: int = 0,
    scale: float = 1.0,
    username: str = "sandbox",
    empty: bool = False,
):
    """The routes and the in-memory state for one (seed, scale); no sockets involved."""
    from csql.sandbox import actions
    from csql.sandbox.data import Generator
    from csql.sandbox.routes import App
    from csql.sandbox.store import Store, TableStore

    store = Store()
    gen = Generator(catalog, seed=seed, scale=scale, username=username)
    for table in catalog.tables:
        ts = store.tables[table.name] = TableStore(table)
        # reference data and the account itself exist even in an empty sandbox
        if (
            not empty
            or table.singleton
            or (table.operations == ("SELECT",) and not _history(table))
        ):
            ts.load(gen.rows(table))
    app = App(catalog, store, gen)
    actions.install(app)  # ClickSend's behaviour, registered by name (csql.sandbox.registry)
    return app


def _history(table) -> bool:
    return table.name.endswith(("_history", "_receipts", "_inbound", "_statistics")) or (
        table.name in ("recharge_transactions", "numbers", "referral_accounts", "email_to_sms")
    )


class Sandbox:
    """A local ClickSend in a background thread; a context manager.

    `request_log` records (method, path, query) of every request received, `reset_log()`
    empties it. `store` and `app` are there for tests that look inside.
    """

    def __init__(
        self,
        seed: int = 0,
        scale: float = 1.0,
        username: str = "sandbox",
        api_key: str = "sandbox-key",
        latency_ms: float = 0,
        rate_limit: float | None = None,
        fail_rate: float = 0.0,
        empty: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        catalog: Catalog | None = None,
        drop_after_rate: float = 0.0,
    ) -> None:
        for name, rate in (("fail_rate", fail_rate), ("drop_after_rate", drop_after_rate)):
            if not 0 <= rate <= 1:
                raise ValueError(f"{name} must be between 0 and 1, not {rate!r}")
        # drop_after_rate: the share of requests that are applied and then lose their answer
        # (the connection drops or a 502 comes back), to test unknown outcomes end to end
        self.drop_after_rate = drop_after_rate
        self.seed, self.scale, self.empty = seed, scale, empty
        self.username, self.api_key = username, api_key
        self.latency_ms, self.rate_limit, self.fail_rate = latency_ms, rate_limit, fail_rate
        self.host, self.port = host, port
        self.catalog = catalog or default_catalog()
        self._server = None
        self._thread: threading.Thread | None = None
        self.app = None

    def start(self) -> Sandbox:
        from csql.sandbox.server import Options, SandboxServer

        if self._server is not None:
            return self
        self.app = build_app(self.catalog, self.seed, self.scale, self.username, self.empty)
        options = Options(
            username=self.username,
            api_key=self.api_key,
            latency_ms=self.latency_ms,
            rate_limit=self.rate_limit,
            fail_rate=self.fail_rate,
            seed=self.seed,
            drop_after_rate=self.drop_after_rate,
        )
        self._server = SandboxServer((self.host, self.port), self.app, options)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="csql-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running (use it as a context manager)")
        return self._server.base_url

    @property
    def store(self):
        return self.app.store if self.app else None

    @property
    def request_log(self):
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return self._server.log

    def reset_log(self) -> None:
        if self._server is not None:
            self._server.log.clear()

    def __repr__(self) -> str:  # never shows the API key
        state = self._server.base_url if self._server else "stopped"
        return f"Sandbox(seed={self.seed}, scale={self.scale}, {state})"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="csql sandbox",
        description="Serve a local ClickSend (API v3) with deterministic demo data until stopped.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=float, default=1.0, help="100 gives >= 100k SMS and contacts")
    p.add_argument("--username", default="sandbox")
    p.add_argument("--api-key", default="sandbox-key")
    p.add_argument("--latency-ms", type=float, default=0, help="added to every response")
    p.add_argument("--rate-limit", type=float, default=None, help="requests/second, then 429")
    p.add_argument("--fail-rate", type=float, default=0.0,
                   help="share of requests refused before handling (500s and drops)")  # fmt: skip
    p.add_argument("--drop-after-rate", type=float, default=0.0, metavar="P",
                   help="share of requests applied, then answered with a 502 or a dropped "
                   "connection (the outcome the client cannot know)")  # fmt: skip
    p.add_argument("--empty", action="store_true", help="start with no records")
    return p


def main(argv: list[str] | None = None) -> int:
    """`csql sandbox ...`: print the base URL on the first line, serve until stopped."""
    args = _parser().parse_args(argv)
    for flag, rate in (
        ("--fail-rate", args.fail_rate),
        ("--drop-after-rate", args.drop_after_rate),
    ):
        if not 0 <= rate <= 1:
            print(f"error: {flag} must be between 0 and 1", file=sys.stderr)
            return 2
    sb = Sandbox(
        seed=args.seed,
        scale=args.scale,
        username=args.username,
        api_key=args.api_key,
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        fail_rate=args.fail_rate,
        drop_after_rate=args.drop_after_rate,
        empty=args.empty,
        host=args.host,
        port=args.port,
    )
    started = time.monotonic()
    sb.start()
    print(sb.base_url, flush=True)
    # lines to paste into another terminal: `csql` and csql.connect() then use this sandbox
    for name, value in (("BASE_URL", sb.base_url), ("USERNAME", sb.username),
                        ("API_KEY", sb.api_key)):  # fmt: skip
        print(f"export CLICKSEND_{name}={shlex.quote(str(value))}", flush=True)
    print(
        f"username={sb.username} api_key={sb.api_key} seed={sb.seed} scale={sb.scale} "
        f"(ready in {time.monotonic() - started:.1f}s; Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
    return 0
