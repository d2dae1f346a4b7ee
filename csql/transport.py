"""A lean HTTP/1.1 transport for httpx: an asyncio Protocol per connection, h11 to parse.

Why: httpx's default async transport (httpcore over anyio streams, with its pool locks and
trace hooks) costs about 2.5 ms of client CPU per 61 KiB ClickSend page on this machine,
more than the page's JSON -> Arrow conversion; the same exchange over an `asyncio.Protocol`
that feeds `h11` (the HTTP/1.1 state machine httpcore itself uses, so parsing is as strict)
costs a fraction of that (benchmarks/diag_transport.py). It is an `httpx.AsyncBaseTransport`,
so `httpx.AsyncClient` can use it unchanged; csql's client calls `exchange` directly. It
knows no proxies: with a proxy in the environment csql uses httpx's own transport.

The exceptions are httpx's own, with the meaning csql.client's retry rules rely on:

- `ConnectError` / `ConnectTimeout`: no connection could be opened; the request never left.
- `PoolTimeout`: no connection came free in time; the request never left.
- `WriteError` / `WriteTimeout`: the connection broke while the request was being written.
- `ReadError` / `ReadTimeout` / `RemoteProtocolError`: the request was written and no whole
  answer came back (a malformed answer included): its outcome is unknown.

Keep-alive: a connection goes back to the pool only when h11 says both sides finished the
exchange cleanly and nothing came after the answer; an idle connection older than
`keepalive_expiry`, one the server closed, or one with bytes waiting (a close or a 408 not yet
seen by the event loop) is dropped rather than reused, as httpcore does. A cancelled request
closes its connection (its answer may still be on the way and must not be read as the next
request's). A transport used from a new event loop starts a new pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import h11
import httpx

_CHUNK_LIMIT = 1 << 20  # h11's bound on an incomplete event (a response head)


def _readable(sock: Any) -> bool:
    """Bytes (or the end) are waiting on the socket; poll, as select cannot take a file
    descriptor above 1023. An error counts as readable: the connection is not reused."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class _Body(httpx.AsyncByteStream):
    """A response body already read in full: httpx decodes (gzip) and counts it as usual."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._data

    async def aclose(self) -> None:
        return None


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one exchange at a time; parses as bytes arrive."""

    def __init__(self, origin: tuple[str, str, int]) -> None:
        self.origin = origin
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_CHUNK_LIMIT)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[h11.Response, bytes]] | None = None
        self.head: h11.Response | None = None
        self.body: list[bytes] = []
        self.closed = False
        self.idle_since = 0.0
        self.last_data = 0.0
        self.got_bytes = False

    # asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.last_data = time.monotonic()
        self.got_bytes = True
        if self.waiter is None:  # bytes nobody asked for: the connection cannot be reused
            self.close()
            return
        try:
            self.h11.receive_data(data)
            self._pump()
        except h11.RemoteProtocolError as e:
            self._fail(httpx.RemoteProtocolError(f"malformed answer from the server: {e}"))

    def eof_received(self) -> bool:
        if self.waiter is not None:
            try:
                self.h11.receive_data(b"")
                self._pump()
            except h11.RemoteProtocolError:
                self._fail(
                    httpx.ReadError("the server closed the connection in the middle of the answer")
                    if self.got_bytes
                    else httpx.RemoteProtocolError(
                        "the server closed the connection without an answer"
                    )
                )
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            if self.got_bytes:
                err: Exception = httpx.ReadError(
                    f"the connection was lost in the middle of the answer ({exc or 'closed'})"
                )
            else:
                err = httpx.RemoteProtocolError(
                    f"the server closed the connection without an answer ({exc or 'closed'})"
                )
            self.waiter.set_exception(err)

    # the exchange ----------------------------------------------------------------------
    def _pump(self) -> None:
        """Consume every event h11 has; resolve the waiter on the end of the answer."""
        while True:
            event = self.h11.next_event()
            kind = type(event)
            if kind is h11.Data:
                self.body.append(event.data)  # type: ignore[union-attr]
            elif event is h11.NEED_DATA or event is h11.PAUSED:
                return
            elif kind is h11.Response:
                self.head = event  # type: ignore[assignment]
            elif kind is h11.EndOfMessage:
                waiter, self.waiter = self.waiter, None
                if waiter is not None and not waiter.done() and self.head is not None:
                    waiter.set_result((self.head, b"".join(self.body)))
                return
            elif kind is h11.ConnectionClosed:
                self._fail(httpx.RemoteProtocolError("the server closed the connection early"))
                return
            # InformationalResponse (100 Continue): wait for the final answer

    def _fail(self, err: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(err)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            # RuntimeError: its event loop is closed; the socket goes with the transport
            with contextlib.suppress(RuntimeError):
                self.transport.close()

    def reusable(self, now: float, expiry: float) -> bool:
        if (
            self.closed
            or self.transport is None
            or self.transport.is_closing()
            or now - self.idle_since >= expiry
        ):
            return False
        # bytes on an idle connection (its close, a 408) that the event loop has not handed
        # over yet: writing a request into it would fail with "no answer", never reuse it
        sock = self.transport.get_extra_info("socket")
        return sock is None or not _readable(sock)

    async def exchange(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]],
                       body: bytes, read_timeout: float | None
                       ) -> tuple[h11.Response, bytes]:  # fmt: skip
        """Write the request and wait for its whole answer."""
        loop = asyncio.get_running_loop()
        self.head, self.body, self.got_bytes = None, [], False
        self.waiter = waiter = loop.create_future()
        try:
            out = self.h11.send(h11.Request(method=method, target=target, headers=headers))
            if body:
                out += self.h11.send(h11.Data(data=body))
            out += self.h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as e:  # a request h11 will not write: never sent
            self.waiter = None
            self.close()
            raise httpx.LocalProtocolError(str(e)) from None
        if self.closed or self.transport is None or self.transport.is_closing():
            self.waiter = None  # nothing was written: as good as a connection never opened
            raise httpx.ConnectError("the connection closed before the request was written")
        self.transport.write(out)
        self.last_data = time.monotonic()
        timer = None
        if read_timeout is not None:
            timer = loop.call_later(read_timeout, self._check_timeout, read_timeout, waiter)
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if self.waiter is waiter:
                self.waiter = None

    def _check_timeout(self, timeout: float, waiter: asyncio.Future) -> None:
        """Read timeout as httpx means it: no byte for `timeout` seconds (of this exchange:
        a timer left from an earlier one finds another waiter and does nothing)."""
        if self.waiter is not waiter or waiter.done():
            return
        left = self.last_data + timeout - time.monotonic()
        if left > 0:
            asyncio.get_running_loop().call_later(left, self._check_timeout, timeout, waiter)
            return
        self._fail(httpx.ReadTimeout(f"no answer within {timeout:g} s"))

    def finish(self, now: float) -> bool:
        """After a whole answer: ready for the next exchange (True) or closed (False)."""
        clean = self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE
        # bytes beyond the answer (a second answer to one request) must never be read as the
        # next request's answer: such a connection is closed
        if clean and not self.closed and not self.h11.trailing_data[0]:
            self.h11.start_next_cycle()
            self.idle_since = now
            return True
        self.close()
        return False


class LeanTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive pool of asyncio Protocol connections (see the module docstring).

    `max_connections` bounds the connections open at once (requests beyond it wait, up to
    `pool_timeout`); `keepalive_expiry` is how long an idle connection may be reused.
    """

    def __init__(
        self,
        *,
        max_connections: int = 8,
        timeout: httpx.Timeout | None = None,
        keepalive_expiry: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = timeout or httpx.Timeout(30.0)
        self._expiry = keepalive_expiry
        self._ssl = ssl_context
        self._max = max_connections
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the pool belongs to
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._closed = False

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()  # certifi + SSL_CERT_FILE/DIR, like httpx
            self._ssl.set_alpn_protocols(["http/1.1"])
        return self._ssl

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        timeouts = request.extensions.get("timeout") or {}
        status, reason, headers, data = await self.exchange(
            request.method,
            (url.scheme, url.host, url.port),
            url.raw_path,
            list(request.headers.raw),
            await request.aread(),
            timeouts,
        )
        return httpx.Response(
            status,
            headers=headers,
            stream=_Body(data),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    async def exchange(
        self,
        method: str,
        origin: tuple[str, str, int | None],
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeouts: Mapping[str, float | None] | None = None,
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes]:
        """One request, below httpx: (status, reason, raw headers, body as sent, still
        encoded). `headers` must hold Host; `timeouts` has httpx's keys (pool, connect, read)."""
        scheme, host, port = origin
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"csql speaks http and https, not {scheme!r}")
        key = (scheme, host, port or (443 if scheme == "https" else 80))
        timeouts = timeouts or {}
        slots = self._pool_for(asyncio.get_running_loop())
        pool_timeout = timeouts.get("pool", self._timeout.pool)
        try:
            async with asyncio.timeout(pool_timeout):
                await slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(f"no connection came free within {pool_timeout:g} s") from None
        try:
            if self._closed:  # closed while this request waited for a slot: nothing sent
                raise httpx.ConnectError("the transport was closed; nothing was sent")
            conn = await self._connection(key, timeouts.get("connect", self._timeout.connect))
            try:
                head, data = await conn.exchange(
                    method, target, headers, body, timeouts.get("read", self._timeout.read)
                )
            except BaseException:
                conn.close()  # cancelled or broken mid-exchange: never reuse it
                self._open.discard(conn)
                raise
            if not self._closed and conn.finish(time.monotonic()):
                self._idle.setdefault(key, []).append(conn)
            else:
                conn.close()
                self._open.discard(conn)
        finally:
            slots.release()
        return head.status_code, head.reason, head.headers.raw_items(), data

    def _pool_for(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        """The slots of this loop's pool; a new loop drops the old loop's connections (they
        belong to a loop that no longer reads them) and starts afresh."""
        if self._slots is None or self._loop is not loop:
            for conn in list(self._open):
                conn.close()
            self._open.clear()
            self._idle.clear()
            self._slots, self._loop = asyncio.Semaphore(self._max), loop
        return self._slots

    async def _connection(self, origin: tuple[str, str, int], timeout: float | None) -> _Connection:
        """An idle live connection to `origin`, or a new one."""
        now = time.monotonic()
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if conn.reusable(now, self._expiry):
                return conn
            conn.close()
            self._open.discard(conn)
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        kwargs: dict[str, Any] = {}
        if scheme == "https":
            kwargs = {"ssl": self._ssl_context(), "server_hostname": host}
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(lambda: _Connection(origin), host, port,
                                                       **kwargs)  # fmt: skip
        except TimeoutError:
            raise httpx.ConnectTimeout(f"could not connect to {host}:{port} within "
                                       f"{timeout:g} s") from None  # fmt: skip
        except (OSError, ssl.SSLError) as e:
            raise httpx.ConnectError(f"could not connect to {host}:{port}: {e}") from None
        self._open.add(conn)
        return conn

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()
