"""csql.transport.LeanTransport against scripted servers on 127.0.0.1: keep-alive, chunked and
gzip answers, TLS, and every way an answer can go missing, each raising the httpx exception
whose meaning csql.client's retry rules rely on (never sent vs. outcome unknown)."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import Awaitable, Callable

import httpx
import pytest

from csql.transport import LeanTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head (and its Content-Length body); b"" at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            head += await reader.readexactly(int(line.split(b":")[1]))
    return head


class Server:
    """A TCP server whose connection handler is the test's script; counts connections."""

    def __init__(self, handler: Handler, ssl_ctx: ssl.SSLContext | None = None) -> None:
        self.handler, self.ssl_ctx = handler, ssl_ctx
        self.connections = 0
        self.requests: list[bytes] = []

    async def __aenter__(self) -> Server:
        async def on_connect(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(r, w, self.connections)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                w.close()

        self.server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=self.ssl_ctx)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    def url(self, scheme: str = "http") -> str:
        host = "localhost" if scheme == "https" else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}"


def run(coro: Awaitable[object]) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def client(url: str, **kw: object) -> httpx.AsyncClient:
    timeout = kw.pop("timeout", httpx.Timeout(5.0))
    return httpx.AsyncClient(
        base_url=url,
        transport=LeanTransport(timeout=timeout, **kw),  # type: ignore[arg-type]
        timeout=timeout,  # type: ignore[arg-type]
    )


def serve_forever(answer: bytes) -> Handler:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> None:
        while await read_request(r):
            w.write(answer)
            await w.drain()

    return handler


def test_keep_alive_reuses_one_connection_and_sends_the_request_as_given():
    async def go() -> None:
        seen: list[bytes] = []

        async def handler(r, w, n):
            while req := await read_request(r):
                seen.append(req)
                w.write(ok(b'{"n": %d}' % len(seen)))

        async with Server(handler) as s, client(s.url()) as http:
            for i in range(1, 6):
                resp = await http.get("/sms/history", params={"page": i, "q": "a b&c"})
                assert resp.status_code == 200 and resp.json() == {"n": i}
            body = await http.post("/sms/send", json={"messages": []})
            assert body.status_code == 200
            assert s.connections == 1
        assert seen[0].startswith(b"GET /sms/history?page=1&q=a+b%26c HTTP/1.1\r\n")
        assert b"host: 127.0.0.1:" in seen[0].lower()
        assert seen[-1].startswith(b"POST /sms/send HTTP/1.1")
        assert seen[-1].endswith(b'{"messages":[]}')

    run(go())


def test_chunked_and_gzip_answers_are_decoded():
    payload = b'{"data": [' + b",".join(b'{"i": %d}' % i for i in range(500)) + b"]}"
    packed = gzip.compress(payload)
    chunked = (
        b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (packed[:7], packed[7:])) + b"0\r\n\r\n"
    )
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n" + chunked
    )

    async def go() -> None:
        async with Server(serve_forever(answer)) as s, client(s.url()) as http:
            for _ in range(3):
                resp = await http.get("/x")
                assert resp.content == payload
            assert s.connections == 1

    run(go())


def test_connection_close_answer_is_not_reused():
    async def handler(r, w, n):
        await read_request(r)
        w.write(ok(extra=b"Connection: close\r\n"))
        await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            for _ in range(3):
                assert (await http.get("/x")).status_code == 200
            assert s.connections == 3

    run(go())


def test_a_connection_the_server_closed_while_idle_is_not_reused():
    async def handler(r, w, n):
        await read_request(r)
        w.write(ok())
        await w.drain()  # keep-alive promised, then closed while idle

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            assert (await http.get("/x")).status_code == 200
            await asyncio.sleep(0.05)  # the close reaches the client
            assert (await http.get("/x")).status_code == 200
            assert s.connections == 2

    run(go())


def test_idle_connections_older_than_the_expiry_are_dropped():
    async def go() -> None:
        async with Server(serve_forever(ok())) as s, client(s.url(), keepalive_expiry=0.01) as h:
            await h.get("/x")
            await asyncio.sleep(0.05)
            await h.get("/x")
            assert s.connections == 2

    run(go())


@pytest.mark.parametrize(
    ("script", "error"),
    [
        # closed after reading the request, no byte back: the request was sent, outcome unknown
        (b"", httpx.RemoteProtocolError),
        # half an answer, then closed
        (ok(b'{"ok": true, "more": "....."}')[:-10], httpx.ReadError),
        # not HTTP
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", httpx.RemoteProtocolError),
        # a status line h11 refuses
        (b"HTTP/1.1 abc OK\r\n\r\n", httpx.RemoteProtocolError),
    ],
    ids=["no-answer", "cut-answer", "not-http", "bad-status"],
)
def test_lost_and_malformed_answers_raise_the_matching_httpx_error(script, error):
    async def handler(r, w, n):
        await read_request(r)
        w.write(script)
        await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            with pytest.raises(error):
                await http.post("/sms/send", content=b"{}")

    run(go())


def test_silence_is_a_read_timeout_and_the_connection_is_dropped():
    async def handler(r, w, n):
        if n == 1:
            await read_request(r)
            await asyncio.sleep(2)  # never answers
        else:
            await serve_forever(ok())(r, w, n)

    async def go() -> None:
        async with Server(handler) as s, client(s.url(), timeout=httpx.Timeout(0.2)) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/x")
            assert (await http.get("/x")).status_code == 200
            assert s.connections == 2

    run(go())


def test_a_slow_answer_that_keeps_arriving_is_not_a_timeout():
    async def handler(r, w, n):
        await read_request(r)
        head, body = ok(b"x" * 40)[:-40], b"x" * 40
        w.write(head)
        for i in range(0, 40, 8):  # 5 pieces, 0.1 s apart: 0.5 s in all, > the 0.3 s timeout
            await asyncio.sleep(0.1)
            w.write(body[i : i + 8])
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url(), timeout=httpx.Timeout(0.3)) as http:
            assert (await http.get("/x")).content == b"x" * 40

    run(go())


def test_refused_connection_is_a_connect_error():
    async def go() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        async with client(f"http://127.0.0.1:{port}") as http:
            with pytest.raises(httpx.ConnectError):
                await http.get("/x")

    run(go())


def test_a_cancelled_request_closes_its_connection():
    async def handler(r, w, n):
        while await read_request(r):
            await asyncio.sleep(0.3 if n == 1 else 0)
            w.write(ok(b'{"n": %d}' % n))
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            task = asyncio.create_task(http.get("/x"))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # the late answer of the cancelled request is never read as this one's
            assert (await http.get("/x")).json() == {"n": 2}

    run(go())


def test_concurrent_requests_stay_within_max_connections():
    async def handler(r, w, n):
        while await read_request(r):
            await asyncio.sleep(0.02)
            w.write(ok())
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url(), max_connections=3) as http:
            answers = await asyncio.gather(*(http.get(f"/x?i={i}") for i in range(12)))
            assert all(a.status_code == 200 for a in answers)
            assert s.connections == 3

    run(go())


def test_pool_timeout_when_no_connection_comes_free():
    async def handler(r, w, n):
        await read_request(r)
        await asyncio.sleep(1)
        w.write(ok())

    async def go() -> None:
        timeout = httpx.Timeout(5.0, pool=0.1)
        async with Server(handler) as s, client(s.url(), max_connections=1, timeout=timeout) as h:
            first = asyncio.create_task(h.get("/x"))
            await asyncio.sleep(0.02)
            with pytest.raises(httpx.PoolTimeout):
                await h.get("/y")
            first.cancel()

    run(go())


def test_tls_with_certificate_verification():
    trustme = pytest.importorskip("trustme", reason="trustme makes the throwaway CA")
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)

    async def go() -> None:
        async with Server(serve_forever(ok()), server_ctx) as s:
            url = s.url("https")
            transport = LeanTransport(ssl_context=trusting)
            async with httpx.AsyncClient(base_url=url, transport=transport) as http:
                for _ in range(2):
                    assert (await http.get("/x")).json() == {"ok": True}
            assert s.connections == 1
            # the default context (certifi) does not trust the throwaway CA: refused
            async with httpx.AsyncClient(base_url=url, transport=LeanTransport()) as http:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await http.get("/x")

    run(go())


def test_csql_client_maps_a_lost_post_answer_to_an_unknown_outcome():
    """Through csql.Client: a POST whose answer is lost is never resent and is reported as an
    unknown outcome; a GET is retried and succeeds."""
    from csql.client import Client
    from csql.errors import OutcomeUnknownError

    posts: list[bytes] = []

    async def handler(r, w, n):
        while req := await read_request(r):
            if req.startswith(b"POST"):
                posts.append(req)
                return  # closed without an answer
            if n == 1:
                return  # the first GET's answer is lost too
            w.write(ok(b'{"http_code": 200, "data": {"data": []}}'))
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s:
            c = Client("u", "k", s.url(), backoff=0.01)
            try:
                assert (await c.request("GET", "/lists"))["http_code"] == 200
                assert c.stats.retries == 1
                with pytest.raises(OutcomeUnknownError, match="outcome unknown"):
                    await c.request("POST", "/sms/send", body={"messages": []})
                assert len(posts) == 1  # sent once, never again
            finally:
                await c.aclose()

    run(go())


PARAMS = [
    {},
    {"page": 2, "limit": 100},
    {"q": "a b&c=d+e", "name": "Zoë 😀", "slash": "a/b?c#d"},
    {"flag": True, "off": False, "none": None, "pct": "100%"},
    {"ids": [1, 2, 3], "date_from": 1436157486},
    {"plus": "+1 555", "pct": "%2B%", "amp": "a&b=c", "hash": "#x"},
    {"uni": "Zoë 😀 日本", "é": "ü"},
    {"t": True, "f": False, "n": None, "zero": 0, "float": 1.5, "big": 10**20},
    {"list": [1, "two", None, True], "tuple": ("a b", "c+d"), "empty": []},
    {"tilde": "~*'()!", "brackets": "[x]", "nl": "a\nb", "tab": "\t"},
]


@pytest.mark.parametrize("params", PARAMS, ids=range(len(PARAMS)))
def test_the_direct_path_sends_the_request_line_httpx_would(params):
    """csql.Client sends through LeanTransport.exchange directly (no httpx.AsyncClient): the
    request target, and so what ClickSend sees, is byte for byte what httpx would send."""
    from csql.client import Client

    seen: list[bytes] = []

    async def handler(r, w, n):
        while req := await read_request(r):
            seen.append(req)
            w.write(ok(b'{"http_code": 200}'))
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s:
            base = s.url() + "/v3"
            c = Client("user@example.com", "k:ey", base + "/")  # a trailing slash is dropped
            try:
                await c.request("GET", "/lists/7/contacts", params)
                assert c._lean is not None and c._http is None
            finally:
                await c.aclose()
            expected = httpx.Request("GET", base + "/lists/7/contacts", params=params)
            line = seen[0].split(b"\r\n")[0]
            assert line == b"GET " + expected.url.raw_path + b" HTTP/1.1"
            head = seen[0].lower()
            assert b"host: 127.0.0.1:%d\r\n" % s.port in head
            assert b"authorization: basic " in head
            auth = httpx.BasicAuth("user@example.com", "k:ey")._auth_header.lower().encode()
            assert b"authorization: " + auth in head

    run(go())


def test_the_direct_path_decodes_gzip_and_sends_bodies():
    payload = b'{"http_code": 200, "data": {"data": [1, 2, 3]}}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(
        gzip.compress(payload)
    ) + gzip.compress(payload)
    seen: list[bytes] = []

    async def handler(r, w, n):
        while req := await read_request(r):
            seen.append(req)
            w.write(answer)
            await w.drain()

    async def go() -> None:
        from csql.client import Client

        async with Server(handler) as s:
            c = Client("u", "k", s.url())
            try:
                assert (await c.request("GET", "/lists"))["data"]["data"] == [1, 2, 3]
                await c.request("PUT", "/lists/5", body={"list_name": "Zoë"})
                await c.request("DELETE", "/lists/5")
            finally:
                await c.aclose()
        put = seen[1]
        assert put.startswith(b"PUT /lists/5 HTTP/1.1")
        assert b"content-type: application/json" in put.lower()
        assert put.endswith('{"list_name":"Zoë"}'.encode())
        assert b"content-length: %d" % len('{"list_name":"Zoë"}'.encode()) in put.lower()
        assert seen[2].startswith(b"DELETE /lists/5 HTTP/1.1")

    run(go())


def test_a_proxy_in_the_environment_sends_through_httpx(monkeypatch):
    from csql.client import Client

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    c = Client("u", "k", "https://rest.clicksend.com/v3")
    c._ensure()
    assert c._http is not None and c._lean is None
    monkeypatch.delenv("HTTPS_PROXY")
    c = Client("u", "k", "https://rest.clicksend.com/v3")
    c._ensure()
    assert c._lean is not None


def test_http_transport_option():
    from csql.client import Client
    from csql.errors import ProgrammingError

    c = Client("u", "k", "https://rest.clicksend.com/v3", http_transport="httpx")
    c._ensure()
    assert c._http is not None and c._lean is None
    with pytest.raises(ProgrammingError, match="http_transport"):
        Client("u", "k", "https://rest.clicksend.com/v3", http_transport="curl")


def test_bytes_beyond_an_answer_are_never_read_as_the_next_answer():
    """A server that sends more than one answer to one request (a proxy bug): the extra
    answer must not become the next request's; the connection is dropped instead."""

    async def handler(r, w, n):
        while await read_request(r):
            w.write(ok(b'{"n": %d}' % n) + ok(b'{"stale": true}'))
            await w.drain()

    async def go() -> None:
        async with Server(handler) as s, client(s.url()) as http:
            assert (await http.get("/x")).json() == {"n": 1}
            assert (await http.get("/x")).json() == {"n": 2}
            assert s.connections == 2

    run(go())
