"""The HTTP side: a threaded HTTP/1.1 server with ClickSend's auth and the test knobs.

One thread per connection (keep-alive, so a client's pool reuses them), which is what lets
--latency-ms overlap across concurrent requests instead of queueing them. Auth, the rate limit
and fault injection happen here, before routing, as they would at ClickSend's edge. The other
fault knob, --drop-after-rate, acts after routing: the request is applied, then its answer
is lost (the connection drops, or a 502 comes back): an outcome the client cannot know. Responses
are written in one send (headers and body together, TCP_NODELAY) so that small keep-alive
requests never wait on Nagle's algorithm.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import math
import random
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import orjson

from csql.sandbox import wire
from csql.sandbox.actions import SUBACCOUNT_PREFIX
from csql.sandbox.routes import App, Request

#: ClickSend's documented test accounts (reference, "Test Credentials")
TEST_KEY = "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"
TEST_ACCOUNTS = ("nocredit", "notactive", "banned")


class LoggedRequest(NamedTuple):
    method: str
    path: str  # as sent, e.g. /v3/sms/history
    query: dict[str, str]


class RequestLog:
    """The requests a sandbox received, in order; safe to read while the server runs."""

    def __init__(self) -> None:
        self._items: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests matched; `path` matches with or without the /v3 prefix."""
        return sum(
            1
            for r in self.snapshot()
            if (method is None or r.method == method.upper())
            and (path is None or r.path in (path, "/v3" + path))
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self.snapshot())

    def __getitem__(self, i):
        with self._lock:
            return self._items[i]


class RateLimiter:
    """A token bucket: `rate` requests per second, bursts up to `rate`."""

    def __init__(self, rate: float) -> None:
        self.rate = float(rate)
        self.tokens = float(rate)
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0 if the request may go ahead, else the seconds until it could."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


class Fault(enum.Enum):
    """What the sandbox does instead of answering a request it has applied."""

    DROP = "drop"  # close the connection without a response
    BAD_GATEWAY = "502"  # answer 502, as a gateway whose upstream went silent


class Options(NamedTuple):
    username: str
    api_key: str
    latency_ms: float = 0
    rate_limit: float | None = None
    fail_rate: float = 0.0
    seed: int = 0
    drop_after_rate: float = 0.0  # share of requests applied and then left without an answer


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App, options: Options) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.options = options
        self.log = RequestLog()
        self.limiter = RateLimiter(options.rate_limit) if options.rate_limit else None
        self.faults = random.Random(f"faults:{options.seed}")
        self.faults_lock = threading.Lock()
        self.lost = random.Random(f"lost:{options.seed}")

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v3"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a LIMIT that stopped paging early) is normal, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def fault(self) -> str | None:
        """'error' (a 500), 'drop' (connection closed, no response) or None, seeded."""
        p = self.options.fail_rate
        if p <= 0:
            return None
        with self.faults_lock:
            r = self.faults.random()
        if r >= p:
            return None
        return "error" if r < p / 2 else "drop"

    def lost_answer(self) -> Fault | None:
        """After a request was applied: lose its answer (DROP: close the connection, BAD_GATEWAY:
        a 502 as a proxy gives when the upstream's answer never came) or None; seeded."""
        p = self.options.drop_after_rate
        if p <= 0:
            return None
        with self.faults_lock:
            r = self.lost.random()
        if r >= p:
            return None
        return Fault.BAD_GATEWAY if r < p / 2 else Fault.DROP


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "csql-sandbox"
    sys_version = ""
    disable_nagle_algorithm = True
    server: SandboxServer

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr logging
        pass

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        started = time.monotonic()
        server = self.server
        opts = server.options
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        server.log.append(LoggedRequest(self.command, split.path, query))
        body = self._read_body()
        headers: dict[str, str] = {}
        status, payload = self._answer(split.path, query, body, headers)
        if status is None:  # fault injection: drop the connection without a response
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        # the body is serialised before the wait, so that --latency-ms is the time to the
        # answer, not the time to the answer plus its serialisation
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        if opts.latency_ms:
            delay = opts.latency_ms / 1000 - (time.monotonic() - started)
            if delay > 0:
                time.sleep(delay)
        self._send(status, data, headers)

    def _answer(
        self, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, Any]:
        server = self.server
        if server.limiter is not None:
            wait = server.limiter.take()
            if wait > 0:
                headers["Retry-After"] = str(max(1, math.ceil(wait)))
                return 429, wire.envelope(
                    None, "Rate Limit Exceeded. Please retry after some time.", 429
                )
        fault = server.fault()
        if fault == "drop":
            return None, None
        if fault == "error":
            return 500, wire.envelope(None, "Something is broken (injected fault).", 500)
        account, error = self._authenticate()
        if error is not None:
            return error
        if not path.startswith("/v3/") and path != "/v3":
            return 404, wire.envelope(None, f"The URI requested is invalid: {path}.", 404)
        req = Request(
            method=self.command,
            path=path[3:] or "/",
            query=query,
            body=body,
            base_url=server.base_url,
            account=account,
        )
        status, payload = server.app.handle(req)
        lost = server.lost_answer()
        if lost is Fault.DROP:
            return None, None
        if lost is Fault.BAD_GATEWAY:
            return 502, wire.envelope(
                None, "Bad Gateway (injected after the request was applied).", 502
            )
        if status == 405 and isinstance(payload, dict):
            allow = (payload.get("data") or {}).get("allow") if payload.get("data") else None
            if allow:
                headers["Allow"] = ", ".join(allow)
                payload["data"] = None
        return status, payload

    def _authenticate(self) -> tuple[str, tuple[int, Any] | None]:
        opts = self.server.options
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic" or not token:
            return "", (
                401,
                wire.envelope(
                    None,
                    "Not enough information has been supplied for authentication. Please "
                    "ensure that your Username and Unique Key are supplied in your request.",
                    401,
                    "MISSING_CREDENTIALS",
                ),
            )
        try:
            user, _, key = base64.b64decode(token.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, key = "", ""
        if user in TEST_ACCOUNTS and key == TEST_KEY:
            if user == "notactive":
                msg = "Your account has not been activated."
                return user, (403, wire.envelope(None, msg, 403, "ACCOUNT_NOT_ACTIVATED"))
            if user == "banned":
                msg = "Your account has been banned."
                return user, (403, wire.envelope(None, msg, 403, "FORBIDDEN"))
            return user, None  # nocredit: reads work, sends fail with INSUFFICIENT_CREDIT
        sub = self._subaccount(user, key)
        if sub is not None:
            return sub, None
        if user != opts.username or key != opts.api_key:
            return "", (
                401,
                wire.envelope(
                    None, "Your Username or Unique Key is incorrect.", 401, "INVALID_CREDENTIALS"
                ),
            )
        return user, None

    def _subaccount(self, user: str, key: str) -> str | None:
        """Request.account for a subaccount's own API username and key: ClickSend's
        subaccounts authenticate with the credentials POST /subaccounts returned."""
        subs = self.server.app.store.get("subaccounts")
        if subs is None or not user or not key:
            return None
        with self.server.app.store.lock:
            for row in subs.rows.values():
                if row.get("api_username") == user and row.get("api_key") == key:
                    return f"{SUBACCOUNT_PREFIX}{row.get('subaccount_id')}"
        return None

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers_with(data)

    def end_headers_with(self, data: bytes) -> None:
        """end_headers + body in a single write."""
        self._headers_buffer.append(b"\r\n")
        self._headers_buffer.append(data)
        try:
            self.wfile.write(b"".join(self._headers_buffer))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        self._headers_buffer = []

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """Protocol-level errors (bad request line, unsupported method) in the envelope too."""
        try:
            self.close_connection = True
            self._send(code, wire.envelope(None, message or "Bad request.", code), {})
        except OSError:
            pass
