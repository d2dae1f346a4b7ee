"""Edge cases of csql.transport.LeanTransport and csql.client's direct path, against the
contract in their module docstrings: exception classes (never sent vs. maybe sent), answers
never attributed to the wrong request, connections never reused when unsafe, the request
line httpx would send, TLS verification, timeouts, cancellation, pool slots, proxies.

Written as an adversarial review; each of the seven bugs it found has its test here (a proxy
ignored, a just-closed connection reused, a stale read timer, a corrupt gzip body escaping
as a non-DB-API error, aclose during a retry, aclose with requests waiting, a second loop)."""

from __future__ import annotations

import asyncio
import gc
import gzip
import random
import ssl
import time
import zlib

import httpx
import pytest

from csql.transport import LeanTransport
from tests.test_transport import Server, client, ok, read_request, run, serve_forever

#: "the request may have been sent": a POST must not be resent
MAYBE_SENT = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.WriteError)
#: "the request never left": safe to resend anything
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def echo_path(delay: float = 0.0, jitter: float = 0.0):
    """Answers every request with its own request line as the body."""

    async def handler(r, w, n):
        while req := await read_request(r):
            await asyncio.sleep(delay + random.random() * jitter)
            w.write(ok(req.split(b"\r\n")[0]))
            await w.drain()

    return handler


async def get(t: LeanTransport, port: int, target: bytes = b"/x", method: str = "GET",
              body: bytes = b"", **timeouts: float | None):  # fmt: skip
    """One exchange through LeanTransport.exchange, as csql.client calls it."""
    headers = [(b"Host", b"127.0.0.1:%d" % port)]
    if body or method in ("POST", "PUT"):
        headers.append((b"Content-Length", b"%d" % len(body)))
    return await t.exchange(method, ("http", "127.0.0.1", port), target, headers, body, timeouts)


class BackgroundServer:
    """A Server on its own loop in a thread (csql.client.Runner), so that the loops under test
    can come and go; on exit its tasks are ended on their own loop (no garbage left behind)."""

    def __init__(self, handler) -> None:
        from csql.client import Runner

        self.runner = Runner()
        self.handler = handler

    def __enter__(self) -> Server:
        async def start() -> Server:
            return await Server(self.handler).__aenter__()

        self.server = self.runner.run(start(), timeout=5)
        return self.server

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self.server.server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in others:
                t.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        try:
            self.runner.run(stop(), timeout=5)
        finally:
            self.runner.close()
            gc.collect()


def csql_client(url: str, **options):
    from csql.client import Client

    return Client("u", "k", url, **options)


# --- bugs -----------------------------------------------------------------------------------


def test_a_read_timer_of_an_earlier_exchange_does_not_time_out_the_next_one():
    async def handler(r, w, n):
        await read_request(r)
        await asyncio.sleep(0.2)  # a first byte at 0.2 s: the 0.3 s timer reschedules to 0.5 s
        w.write(b"HTTP/1.1 200 OK\r\n")
        await w.drain()
        await asyncio.sleep(0.2)  # the rest at 0.4 s: the first exchange is done
        w.write(ok()[len(b"HTTP/1.1 200 OK\r\n") :])
        await w.drain()
        await read_request(r)
        await asyncio.sleep(0.6)  # well within the second request's own 2 s
        w.write(ok())
        await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            assert (await http.get("/1", timeout=httpx.Timeout(0.3))).status_code == 200
            # raises ReadTimeout("no answer within 0.3 s") at about 0.3 s
            assert (await http.get("/2", timeout=httpx.Timeout(2.0))).status_code == 200
            assert s.connections == 1

    run(go())


def test_keep_alive_promised_then_closed_right_after_the_answer():
    """The server answers keep-alive and closes at once (a restart, a proxy's limit): the next
    request, sent right away, must go on a new connection, as httpx's own transport does."""
    from csql.errors import OutcomeUnknownError

    async def handler(r, w, n):
        await read_request(r)
        w.write(ok(b'{"http_code": 200, "n": %d}' % n))
        await w.drain()  # then closed (Server closes the writer)

    async def go() -> None:
        async with Server(handler) as s:
            c = csql_client(s.url())
            try:
                for i in range(1, 4):
                    try:
                        body = await c.request("POST", "/sms/send", body={"messages": []})
                    except OutcomeUnknownError:
                        pytest.fail(f"POST {i}: outcome unknown, yet it was written into "
                                    f"the connection the server closed after POST {i - 1}")  # fmt: skip
                    assert body["n"] == i
            finally:
                await c.aclose()

    run(go())


def test_keep_alive_then_close_with_httpx_own_transport_for_comparison():
    async def handler(r, w, n):
        await read_request(r)
        w.write(ok(b'{"n": %d}' % n))
        await w.drain()

    async def go() -> None:
        async with Server(handler) as s, httpx.AsyncClient(base_url=s.url()) as http:
            for i in range(1, 6):
                assert (await http.post("/x", content=b"{}")).json() == {"n": i}

    run(go())


PROXY_VARS = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]


def _clear_proxies(monkeypatch) -> None:
    for name in [*PROXY_VARS, "NO_PROXY", "no_proxy", "REQUEST_METHOD"]:
        monkeypatch.delenv(name, raising=False)


def _through_a_proxy(monkeypatch, var: str, http_transport: str) -> None:
    """A GET through csql.Client with `var` naming a local proxy: the proxy must get it."""

    async def proxy_handler(r, w, n):
        while req := await read_request(r):
            proxied.append(req)
            w.write(ok(b'{"http_code": 200, "via": "proxy"}'))
            await w.drain()

    proxied: list[bytes] = []

    async def go() -> None:
        async with (
            Server(serve_forever(ok(b'{"via": "direct"}'))) as origin,
            Server(proxy_handler) as proxy,
        ):
            monkeypatch.setenv(var, f"http://127.0.0.1:{proxy.port}")
            c = csql_client(origin.url(), http_transport=http_transport)
            try:
                body = await c.request("GET", "/lists")
            finally:
                await c.aclose()
            assert body == {"http_code": 200, "via": "proxy"}
            assert origin.connections == 0
            assert proxied[0].startswith(b"GET http://127.0.0.1:%d/lists " % origin.port)

    _clear_proxies(monkeypatch)
    run(go())


@pytest.mark.parametrize("var", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_a_proxy_in_the_environment_is_used_by_the_default_transport(monkeypatch, var):
    _through_a_proxy(monkeypatch, var, "lean")


@pytest.mark.parametrize("var", ["HTTP_PROXY", "all_proxy"])
def test_a_proxy_in_the_environment_is_used_with_http_transport_httpx(monkeypatch, var):
    _through_a_proxy(monkeypatch, var, "httpx")


@pytest.mark.parametrize("var", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
def test_an_https_proxy_in_the_environment_is_mounted(monkeypatch, var):
    _clear_proxies(monkeypatch)
    monkeypatch.setenv(var, "http://proxy.invalid:3128")
    c = csql_client("https://rest.clicksend.com/v3")
    c._ensure()
    assert c._http is not None
    used = c._http._transport_for_url(httpx.URL("https://rest.clicksend.com/v3/lists"))
    assert not isinstance(used, LeanTransport)


def test_a_transport_used_on_a_second_event_loop():
    t = LeanTransport(max_connections=1, timeout=httpx.Timeout(0.5))
    with BackgroundServer(serve_forever(ok())) as s:

        async def one() -> int:
            return (await get(t, s.port))[0]

        async def contended() -> list[int]:
            return [a[0] for a in await asyncio.gather(*(get(t, s.port) for _ in range(3)))]

        first = run(contended())
        try:  # an idle connection of the first (closed) loop: written, never read
            second: object = run(one())
        except Exception as e:
            second = type(e).__name__
        try:  # the Semaphore, bound to the first loop
            third: object = run(contended())
        except Exception as e:
            third = type(e).__name__
        t._idle.clear()
        t._open.clear()
        gc.collect()
    assert first == [200, 200, 200]
    assert (second, third) == (200, [200, 200, 200])


def test_aclose_with_requests_in_flight_leaves_no_connection_open():
    async def go() -> None:
        async with Server(echo_path(delay=0.2)) as s:
            t = LeanTransport(max_connections=1, timeout=httpx.Timeout(2.0))
            tasks = [asyncio.create_task(get(t, s.port)) for _ in range(3)]
            await asyncio.sleep(0.05)
            await t.aclose()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            # the one in flight was written: it may have been sent
            assert isinstance(results[0], MAYBE_SENT)
            still_open = [c for c in t._open if not c.closed]
            still_open += [c for cs in t._idle.values() for c in cs if not c.closed]
            assert still_open == []

    run(go())


def test_client_aclose_during_a_retry_backoff_raises_a_dbapi_error():
    from csql.errors import DatabaseError, OperationalError

    async def handler(r, w, n):
        await read_request(r)  # closed without an answer: the GET is retried after a backoff

    async def go() -> None:
        async with Server(handler) as s:
            c = csql_client(s.url(), backoff=0.2)
            task = asyncio.create_task(c.request("GET", "/lists"))
            await asyncio.sleep(0.05)
            await c.aclose()
            try:
                await task
                err: BaseException | None = None
            except BaseException as e:  # (kept whole: pytest cannot show csql's frame here)
                err = e
            assert isinstance(err, OperationalError | DatabaseError), type(err).__name__

    run(go())


# --- servers closing at every moment --------------------------------------------------------


async def _closing_handler(script: str, r, w) -> None:
    answer = ok(b'{"ok": true, "padding": "' + b"x" * 64 + b'"}')
    head_end = answer.index(b"\r\n\r\n") + 4
    if script == "at-accept":
        return
    if script == "mid-request":
        await r.read(5)
        return
    await read_request(r)
    cut = {
        "after-request": 0,
        "mid-status-line": 7,
        "mid-headers": 30,
        "after-headers": head_end,
        "mid-body": head_end + 10,
        "one-byte-short": len(answer) - 1,
    }[script]
    w.write(answer[:cut])
    await w.drain()


CLOSINGS = [
    "at-accept",
    "mid-request",
    "after-request",
    "mid-status-line",
    "mid-headers",
    "after-headers",
    "mid-body",
    "one-byte-short",
]


@pytest.mark.parametrize("script", CLOSINGS)
def test_a_close_at_any_moment_after_connecting_is_maybe_sent_never_never_sent(script):
    async def handler(r, w, n):
        await _closing_handler(script, r, w)

    async def go() -> None:
        async with Server(handler) as s:
            t = LeanTransport(timeout=httpx.Timeout(1.0))
            with pytest.raises(httpx.TransportError) as info:
                await get(t, s.port, b"/sms/send", "POST", b'{"messages": []}')
            assert isinstance(info.value, MAYBE_SENT), repr(info.value)
            assert not isinstance(info.value, NEVER_SENT)
            assert t._slots is not None and t._slots._value == t._max
            await t.aclose()

    run(go())


@pytest.mark.parametrize("script", ["after-request", "mid-headers", "mid-body"])
def test_the_client_never_resends_a_post_whose_answer_was_cut(script):
    from csql.errors import OutcomeUnknownError

    posts: list[bytes] = []

    async def handler(r, w, n):
        posts.append(b"POST")
        await _closing_handler(script, r, w)

    async def go() -> None:
        async with Server(handler) as s:
            c = csql_client(s.url(), backoff=0.01)
            try:
                with pytest.raises(OutcomeUnknownError):
                    await c.request("POST", "/sms/send", body={"messages": []})
            finally:
                await c.aclose()
            assert len(posts) == 1

    run(go())


def test_a_server_that_talks_first_on_a_new_connection():
    """Bytes before any request (a 400 at accept): read before the request is written, they
    close the connection and nothing was sent (ConnectError); read after, they are taken as
    the answer, as httpx's own transport does too (HTTP/1.1 cannot tell them apart). Either
    way the next request gets its own answer on a new connection."""

    async def handler(r, w, n):
        if n == 1:
            w.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            await w.drain()
            await asyncio.sleep(0.1)
            return
        await serve_forever(ok())(r, w, n)

    async def go() -> None:
        async with Server(handler) as s:
            t = LeanTransport(timeout=httpx.Timeout(1.0))
            try:
                status = (await get(t, s.port))[0]
            except httpx.TransportError as e:
                assert isinstance(e, NEVER_SENT + MAYBE_SENT)
            else:
                assert status == 400
            assert (await get(t, s.port))[0] == 200
            assert s.connections == 2
            await t.aclose()

    run(go())


def test_an_answer_to_nobody_on_an_idle_connection_is_never_the_next_answer():
    """A 408 on an idle keep-alive connection (sent in its own segment, later): dropped."""

    async def handler(r, w, n):
        while req := await read_request(r):
            w.write(ok(req.split(b"\r\n")[0]))
            await w.drain()
            await asyncio.sleep(0.02)
            w.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s:
            t = LeanTransport(timeout=httpx.Timeout(1.0))
            assert (await get(t, s.port, b"/1"))[3] == b"GET /1 HTTP/1.1"
            await asyncio.sleep(0.1)
            assert (await get(t, s.port, b"/2"))[3] == b"GET /2 HTTP/1.1"
            assert s.connections == 2
            await t.aclose()

    run(go())


# --- answer shapes --------------------------------------------------------------------------


def test_informational_answers_are_skipped_and_the_connection_kept():
    async def handler(r, w, n):
        while await read_request(r):
            w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            w.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n")
            await w.drain()
            await asyncio.sleep(0.01)
            w.write(ok(b'{"final": true}'))
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            for _ in range(3):
                resp = await http.post("/x", content=b"{}")
                assert resp.status_code == 200 and resp.json() == {"final": True}
            assert s.connections == 1

    run(go())


def test_head_204_and_304_have_no_body_and_keep_the_connection():
    async def handler(r, w, n):
        while req := await read_request(r):
            if req.startswith(b"HEAD"):  # Content-Length of the GET, no body
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
            elif b"/204" in req:
                w.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            elif b"/304" in req:
                w.write(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n")
            else:
                w.write(ok(req.split(b"\r\n")[0]))
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            head = await http.head("/x")
            assert head.status_code == 200 and head.content == b""
            assert (await http.get("/204")).content == b""
            assert (await http.get("/304")).content == b""
            assert (await http.get("/after")).content == b"GET /after HTTP/1.1"
            assert s.connections == 1

    run(go())


def test_chunked_with_trailers_and_tiny_chunks():
    body = b'{"data": [1, 2, 3]}'
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (1, body[i : i + 1]) for i in range(len(body)))
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
        + chunked
        + b"0\r\nX-Sum: 42\r\n\r\n"
    )

    async def go() -> None:
        async with Server(serve_forever(answer)) as s, client(s.url()) as http:
            for _ in range(3):
                assert (await http.get("/x")).content == body
            assert s.connections == 1

    run(go())


def test_an_answer_written_one_byte_at_a_time():
    answer = ok(b'{"slow": "' + b"y" * 50 + b'"}')

    async def handler(r, w, n):
        while await read_request(r):
            for i in range(len(answer)):
                w.write(answer[i : i + 1])
                await w.drain()
                if i % 20 == 0:
                    await asyncio.sleep(0)

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            for _ in range(2):
                assert (await http.get("/x")).json()["slow"] == "y" * 50
            assert s.connections == 1

    run(go())


def test_content_length_longer_than_the_body_is_a_read_timeout_then_a_fresh_connection():
    async def handler(r, w, n):
        while await read_request(r):
            if n == 1:
                w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
            else:
                w.write(ok())
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url(), timeout=httpx.Timeout(0.2)) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/x")
            assert (await http.get("/x")).json() == {"ok": True}
            assert s.connections == 2

    run(go())


def test_conflicting_content_lengths_are_a_protocol_error():
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"

    async def go() -> None:
        async with Server(serve_forever(answer)) as s, client(s.url()) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get("/x")

    run(go())


def test_an_eof_delimited_http_1_0_answer_is_read_whole_and_not_reused():
    async def handler(r, w, n):
        await read_request(r)
        w.write(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"n": %d}' % n)
        await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            assert (await http.get("/x")).json() == {"n": 1}
            assert (await http.get("/x")).json() == {"n": 2}
            assert s.connections == 2

    run(go())


def test_very_large_headers():
    big = b"X-Big: " + b"a" * 300_000 + b"\r\n"
    huge = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 60_000) for i in range(50))  # 3 MB

    async def handler(r, w, n):
        while req := await read_request(r):
            w.write(ok(extra=huge if b"/huge" in req else big))
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            resp = await http.get("/big")
            assert len(resp.headers["x-big"]) == 300_000 and resp.json() == {"ok": True}
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get("/huge")

    run(go())


def test_an_answer_before_the_request_body_was_read_is_maybe_sent_or_the_answer():
    async def handler(r, w, n):
        await r.readuntil(b"\r\n\r\n")  # the head only: a 413, then closed
        w.write(b"HTTP/1.1 413 Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        await w.drain()

    async def go() -> None:
        async with Server(handler) as s:
            t = LeanTransport(timeout=httpx.Timeout(1.0))
            for _ in range(3):
                try:
                    status = (await get(t, s.port, b"/up", "POST", b"z" * 2_000_000))[0]
                except httpx.TransportError as e:
                    assert isinstance(e, MAYBE_SENT), repr(e)
                else:
                    assert status == 413
            assert t._slots is not None and t._slots._value == t._max
            await t.aclose()

    run(go())


@pytest.mark.parametrize("encoding", ["gzip", "deflate-zlib", "deflate-raw"])
def test_the_direct_path_decodes_gzip_and_deflate(encoding):
    payload = b'{"http_code": 200, "data": {"data": ["' + "Zoë".encode() * 200 + b'"]}}'
    if encoding == "gzip":
        packed, name = gzip.compress(payload), b"gzip"
    elif encoding == "deflate-zlib":
        packed, name = zlib.compress(payload), b"deflate"
    else:
        c = zlib.compressobj(wbits=-15)
        packed, name = c.compress(payload) + c.flush(), b"deflate"
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        name,
        len(packed),
        packed,
    )

    async def go() -> None:
        async with Server(serve_forever(answer)) as s:
            c = csql_client(s.url())
            try:
                body = await c.request("GET", "/lists")
                assert body["data"]["data"] == ["Zoë" * 200]
                assert c._lean is not None
            finally:
                await c.aclose()

    run(go())


# --- pool, concurrency, cancellation -------------------------------------------------------


def test_many_concurrent_requests_each_get_their_own_answer_within_max_connections():
    async def go() -> None:
        async with Server(echo_path(jitter=0.01)) as s:
            t = LeanTransport(max_connections=2, timeout=httpx.Timeout(5.0))
            answers = await asyncio.gather(*(get(t, s.port, b"/r%d" % i) for i in range(40)))
            assert [a[3] for a in answers] == [b"GET /r%d HTTP/1.1" % i for i in range(40)]
            assert s.connections <= 2
            assert t._slots is not None and t._slots._value == 2
            await t.aclose()

    run(go())


def test_cancellations_at_random_moments_leak_no_slot_and_no_stale_answer():
    async def go() -> None:
        async with Server(echo_path(jitter=0.02)) as s:
            t = LeanTransport(max_connections=2, timeout=httpx.Timeout(5.0))
            rng = random.Random(7)
            tasks = [asyncio.create_task(get(t, s.port, b"/c%d" % i)) for i in range(40)]
            for i, task in enumerate(tasks):
                if i % 3 == 0:
                    asyncio.get_running_loop().call_later(rng.random() * 0.1, task.cancel)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for i, res in enumerate(results):
                if not isinstance(res, BaseException):
                    assert res[3] == b"GET /c%d HTTP/1.1" % i
                else:
                    assert isinstance(res, asyncio.CancelledError)
            assert t._slots is not None and t._slots._value == 2
            for i in range(5):  # connections kept after all that answer their own request
                assert (await get(t, s.port, b"/after%d" % i))[3] == b"GET /after%d HTTP/1.1" % i
            await t.aclose()

    run(go())


def test_fifty_failures_leave_the_pool_usable():
    async def handler(r, w, n):
        while req := await read_request(r):
            if b"/drop" in req:
                return
            if b"/silent" in req:
                await asyncio.sleep(1)
                return
            if b"/cut" in req:
                w.write(ok()[:20])
                await w.drain()
                return
            w.write(ok(req.split(b"\r\n")[0]))
            await w.drain()

    async def refused_port() -> int:
        srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        srv.close()
        await srv.wait_closed()
        return port

    async def go() -> None:
        async with Server(handler) as s:
            dead = await refused_port()
            t = LeanTransport(max_connections=2, timeout=httpx.Timeout(2.0))

            async def fail(i: int):
                kind = i % 5
                if kind == 0:
                    return await get(t, s.port, b"/drop", "POST", b"{}")
                if kind == 1:
                    return await get(t, s.port, b"/silent", read=0.05)
                if kind == 2:
                    return await get(t, s.port, b"/cut")
                if kind == 3:
                    return await get(t, dead, b"/x")
                task = asyncio.create_task(get(t, s.port, b"/silent"))
                await asyncio.sleep(0.01)
                task.cancel()
                return await task

            results = await asyncio.gather(*(fail(i) for i in range(50)), return_exceptions=True)
            assert all(isinstance(r, BaseException) for r in results)
            refused = [r for i, r in enumerate(results) if i % 5 == 3]
            assert all(isinstance(r, httpx.ConnectError) for r in refused)
            others = [r for i, r in enumerate(results) if i % 5 in (0, 1, 2)]
            assert all(isinstance(r, MAYBE_SENT) for r in others), others
            assert t._slots is not None and t._slots._value == 2
            t0 = time.monotonic()
            assert (await get(t, s.port, b"/fine", pool=0.5))[3] == b"GET /fine HTTP/1.1"
            assert time.monotonic() - t0 < 0.3
            await t.aclose()

    run(go())


def test_a_pool_timeout_leaks_no_slot_and_a_zero_pool_timeout_with_a_free_slot_works():
    async def go() -> None:
        async with Server(echo_path(delay=0.3)) as s:
            t = LeanTransport(max_connections=1, timeout=httpx.Timeout(2.0))
            first = asyncio.create_task(get(t, s.port, b"/first"))
            await asyncio.sleep(0.02)
            for _ in range(5):
                with pytest.raises(httpx.PoolTimeout):
                    await get(t, s.port, b"/y", pool=0.01)
            assert (await first)[3] == b"GET /first HTTP/1.1"
            assert t._slots is not None and t._slots._value == 1
            assert (await get(t, s.port, b"/z", pool=0))[0] == 200
            await t.aclose()

    run(go())


def test_a_connect_timeout_is_connect_timeout_and_leaks_no_slot(monkeypatch):
    async def slow_connect(*a, **kw):
        await asyncio.sleep(5)

    async def go() -> None:
        t = LeanTransport(max_connections=1, timeout=httpx.Timeout(2.0, connect=0.05))
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(loop, "create_connection", slow_connect)
        for _ in range(3):
            with pytest.raises(httpx.ConnectTimeout):
                await get(t, 9)
        assert t._slots is not None and t._slots._value == 1

    run(go())


def test_keepalive_expiry_zero_never_reuses():
    async def go() -> None:
        async with Server(serve_forever(ok())) as s:
            t = LeanTransport(keepalive_expiry=0.0)
            for _ in range(3):
                await get(t, s.port)
            assert s.connections == 3
            await t.aclose()

    run(go())


def test_the_csql_client_across_two_runners_after_close():
    """Engine.close() then a new statement: a new Runner (a new loop) and the client reopens
    its transport there; contention on both loops."""
    from csql.client import Runner

    async def many(c) -> list:
        return await asyncio.gather(*(c.request("GET", "/lists") for _ in range(6)))

    with BackgroundServer(serve_forever(ok(b'{"http_code": 200}'))) as s:
        c = csql_client(s.url(), concurrency=2)
        for _ in range(2):
            r = Runner()
            try:
                assert r.run(many(c), timeout=5) == [{"http_code": 200}] * 6
                r.run(c.aclose(), timeout=5)
            finally:
                r.close()


# --- the request as httpx would send it ----------------------------------------------------


@pytest.mark.parametrize("value", ["a b", "a/b", "a?b#c", "100%", "Zoë", "[x]|^\\", "a+b"])
def test_a_rendered_path_value_is_quoted_as_httpx_would(value):
    from urllib.parse import quote

    from csql.client import _quote_path

    path = "/lists/" + quote(value, safe="")  # how catalog.Endpoint.render fills a placeholder
    assert _quote_path(path) == httpx.Request("GET", "https://h" + path).url.raw_path


def test_host_header_for_ipv6_and_non_default_ports():
    seen: list[bytes] = []

    async def on_connect(r, w):
        while req := await read_request(r):
            seen.append(req)
            w.write(ok(b'{"http_code": 200}'))
            await w.drain()
        w.close()

    async def go() -> None:
        server = await asyncio.start_server(on_connect, "::1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            c = csql_client(f"http://[::1]:{port}/v3")
            try:
                assert (await c.request("GET", "/lists")) == {"http_code": 200}
                assert c._lean is not None
            finally:
                await c.aclose()
            async with client(f"http://[::1]:{port}") as http:
                await http.get("/lists")
        finally:
            server.close()
        for req in seen:
            assert b"\r\nhost: [::1]:%d\r\n" % port in req.lower()

    run(go())
    default = csql_client("https://rest.clicksend.com:443/v3")
    default._ensure()
    assert (b"Host", b"rest.clicksend.com") in default._headers
    other = csql_client("https://rest.clicksend.com:8443/v3")
    other._ensure()
    assert (b"Host", b"rest.clicksend.com:8443") in other._headers


def test_userinfo_in_the_base_url_never_reaches_the_host_header():
    c = csql_client("https://user:secret@rest.clicksend.com/v3")
    c._ensure()
    assert all(b"secret" not in v for _, v in c._headers if _ == b"Host")


# --- TLS ------------------------------------------------------------------------------------


def _tls_server_ctx(name: str):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(server_ctx)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    return server_ctx, trusting


def test_tls_refuses_a_certificate_for_another_host():
    server_ctx, trusting = _tls_server_ctx("other.example")

    async def go() -> None:
        async with Server(serve_forever(ok()), server_ctx) as s:
            t = LeanTransport(ssl_context=trusting)
            async with httpx.AsyncClient(base_url=s.url("https"), transport=t) as http:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await http.get("/x")

    run(go())


def test_tls_direct_path_verifies_with_the_default_context():
    server_ctx, _ = _tls_server_ctx("localhost")
    from csql.errors import OperationalError

    async def go() -> None:
        async with Server(serve_forever(ok(b'{"http_code": 200}')), server_ctx) as s:
            c = csql_client(s.url("https"), max_retries=0)
            try:
                with pytest.raises(OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
                    await c.request("GET", "/lists")
                assert c._lean is not None
            finally:
                await c.aclose()

    run(go())


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_answer_whose_gzip_body_is_corrupt_is_a_dbapi_error(method):
    from csql.errors import Error, OutcomeUnknownError

    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"

    async def go() -> BaseException | None:
        async with Server(serve_forever(answer)) as s:
            c = csql_client(s.url(), backoff=0.01)
            try:
                if method == "GET":
                    await c.request("GET", "/lists")
                else:
                    await c.request("POST", "/sms/send", body={"messages": []})
            except BaseException as e:
                return e
            finally:
                await c.aclose()
        return None

    err = run(go())
    expected = OutcomeUnknownError if method == "POST" else Error
    assert isinstance(err, expected), type(err).__name__
