"""The ClickSend HTTP client: auth, concurrency cap, adaptive rate, retries, error mapping.

The only module that does network I/O, and it knows nothing about SQL: callers ask for
`request(method, path, params, body)` and get parsed JSON back. It runs on its own asyncio
loop in a background thread, so it works the same from a script, a thread, or inside
Jupyter's already-running loop, and many pages can be in flight at once.

Rate: no fixed budget by default; csql.ratelimit adapts to ClickSend's 429s per account,
and `requests_per_second` / `rate_limit` are explicit caps.

Request safety (the contract of writes; the facts are catalog data, see schema/README.md):
- Every path is checked against the catalog's endpoint templates (catalog.Routes) before it
  is sent; a path that fills no template is refused with ProgrammingError, nothing sent.
- 429: wait for Retry-After (or back off) and retry, for every method: ClickSend refused the
  request before processing it. Likewise a connection that could not be opened
  (ConnectError, ConnectTimeout, PoolTimeout): the request never left.
- 5xx, timeouts, and connections lost after the request was written leave the outcome
  unknown. They are retried (jittered exponential backoff) only for requests whose every
  matching template has `retry: safe` (reads, table updates and deletes by default).
  Anything else (POST, and PUTs that are actions: sends, purchases, cancels, copies) is never
  resent: it raises OutcomeUnknownError naming the request, which the writer reports as an
  *unknown* outcome. A write whose last attempt still had no answer is unknown too.
- A 404 answering a DELETE whose earlier attempt was lost is marked `after_lost_attempt`:
  the earlier attempt deleted the row, so the writer counts it as done.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

if TYPE_CHECKING:
    import httpx

    from csql.transport import LeanTransport

from csql.catalog import Retry, Routes, default_catalog
from csql.diagnostics import Where, missing_credentials, rejected_credentials
from csql.errors import (
    DatabaseError,
    DataError,
    IntegrityError,
    NotSupportedError,
    OperationalError,
    OutcomeUnknownError,
    ProgrammingError,
)
from csql.ratelimit import Limiter, limiter_for
from csql.secrets import Secrets, mask_all

T = TypeVar("T")

DEFAULTS: dict[str, Any] = {
    "concurrency": 8,  # requests in flight at once
    # no fixed rate by default: ClickSend publishes none, so csql adapts to its 429s
    # (csql.ratelimit); these two are explicit caps for accounts that want one
    "requests_per_second": None,  # at most this many request starts per second
    "rate_limit": None,  # a window, "100/60s": at most 100 request starts in any 60 s
    "max_retries": 4,  # for 429 / 5xx / connection errors (see the module docstring)
    "timeout": 30.0,  # seconds, per request
    "connect_timeout": 10.0,
    "backoff": 0.5,  # first backoff step, seconds; doubles each retry, with jitter
    "max_retry_after": 60.0,  # never sleep longer than this for one Retry-After
    # "lean": csql.transport (asyncio + h11, a third of httpcore's CPU per page); "httpx":
    # httpx's own transport, the escape hatch should the lean one ever misbehave somewhere
    "http_transport": "lean",
}


@dataclass
class Stats:
    """What the client did: read by the shell's status line and by tests."""

    requests: int = 0
    retries: int = 0
    bytes: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    pages_done: int = 0
    pages_expected: int = 0  # grows as first pages reveal how many pages their streams have
    progress: Callable[[int, int], None] | None = None  # called with (done, expected)

    def add(self, method: str) -> None:
        """A request was sent (counted when it leaves, so cancelled ones count too: ClickSend
        counts them against the rate limit)."""
        self.requests += 1
        self.by_method[method] = self.by_method.get(method, 0) + 1

    def expect(self, pages: int) -> None:
        self.pages_expected += pages
        self._report()

    def page(self) -> None:
        self.pages_done += 1
        self.pages_expected = max(self.pages_expected, self.pages_done)
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            try:
                self.progress(self.pages_done, self.pages_expected)
            except Exception:  # a broken progress display must not break the query
                self.progress = None

    def snapshot(self) -> tuple[int, int]:
        """(requests, retries) so far: take one before a statement, subtract after."""
        return self.requests, self.retries


#: transport errors raised before the request left: resending cannot repeat anything
def _never_sent(e: Exception) -> bool:
    """A transport error raised before the request left (connect errors, pool timeout)."""
    import httpx

    return isinstance(e, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _proxied(scheme: str) -> bool:
    """A proxy is configured in the environment for `scheme` (HTTPS_PROXY, ALL_PROXY, ...):
    then httpx.AsyncClient with httpx's own transport sends, since it applies the proxy (and
    NO_PROXY) as users expect; the lean transport knows no proxies."""
    import urllib.request

    proxies = urllib.request.getproxies()
    return bool(proxies.get(scheme) or proxies.get("all"))


#: what a path may carry unescaped (RFC 3986 pchar and "/"; "%" keeps escapes the catalog made)
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def _quote_path(path: str) -> bytes:
    """The path as httpx would send it: the catalog renders values already escaped, so this
    only escapes what a path literal could hold that the wire must not (a space, non-ASCII)."""
    from urllib.parse import quote

    return quote(path, safe=_PATH_SAFE).encode("ascii")


def _basic(username: str, api_key: str) -> bytes:
    """The Authorization header value httpx.BasicAuth sends (UTF-8, base64)."""
    import base64

    return b"Basic " + base64.b64encode(f"{username}:{api_key}".encode())


class APIError(DatabaseError):
    """A ClickSend error response; `status` and `response_code` as ClickSend gave them."""

    def __init__(self, message: str, status: int, response_code: str | None, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.response_code = response_code
        self.body = body


class NotFound(APIError, ProgrammingError):
    """404: the id or path does not exist."""

    #: True when an earlier attempt of the same request got no answer (it may be the one that
    #: deleted the row: a DELETE that then gets 404 is done)
    after_lost_attempt: bool = False


class Rejected(APIError, IntegrityError):
    """400/422 on a write: ClickSend refused the data."""


class BadRequest(APIError, ProgrammingError):
    """400 on a read: a parameter ClickSend does not accept."""


class AuthError(APIError, OperationalError):
    """401/403."""


class ServiceError(APIError, OperationalError):
    """429 or 5xx after the retries ran out."""


class MethodNotAllowed(APIError, NotSupportedError):
    """405."""


def _redact(text: str, secret: str | None) -> str:
    """The text with every secret of the open connections masked (csql.secrets: the key of
    any length, base64(user:key) that a server may echo from the Authorization header, URL
    userinfo, catalog-marked secret values) and this key too."""
    return mask_all(text)  # the client's own Secrets holds `secret` in every form


def describe_request(method: str, path: str, params: Mapping[str, Any] | None) -> str:
    """`GET /sms/history?page=2&limit=100`, for error messages and EXPLAIN (no credentials)."""
    query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
    return f"{method} {path}{'?' + query if query else ''}"


def _json_body(body: Any, what: str) -> bytes | None:
    """The request body as JSON bytes; a value JSON cannot carry (an integer beyond 64 bits)
    is a DataError before anything is sent, not orjson's TypeError."""
    if body is None:
        return None
    try:
        return orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError) as e:
        raise DataError(f"{what}: a value cannot be sent as JSON ({e}); nothing was sent") from None


class Client:
    """An async ClickSend client bound to one account; use `Runner` to call it from sync code."""

    def __init__(
        self,
        username: str | None,
        api_key: str | None,
        base_url: str,
        routes: Routes | None = None,
        **options: Any,
    ) -> None:
        # the endpoint templates every path must fill (the catalog's), and their retry rules
        self.routes = routes if routes is not None else default_catalog().routes
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise ProgrammingError(
                f"unknown connection option(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}"
            )
        self.options = {**DEFAULTS, **options}
        if self.options["http_transport"] not in ("lean", "httpx"):
            raise ProgrammingError(
                "http_transport must be 'lean' (the default) or 'httpx', not "
                f"{self.options['http_transport']!r}"
            )
        self.username = username
        self._api_key = api_key
        #: every value this client must never show; the engine adds catalog-marked secrets
        self.secrets = Secrets(username, api_key)
        self.base_url = base_url.rstrip("/")
        self.stats = Stats()
        self._http: httpx.AsyncClient | None = None  # with a proxy, or http_transport="httpx"
        self._lean: LeanTransport | None = None  # otherwise: csql.transport, called directly
        self._sem: asyncio.Semaphore | None = None
        # shared with every client of the same account (bad option values raise here)
        self.limiter: Limiter = limiter_for(
            self.base_url, username, self.options["requests_per_second"], self.options["rate_limit"]
        )

    def __repr__(self) -> str:
        return f"<csql.Client user={self.username!r} base_url={self.base_url!r}>"

    def _ensure(self) -> None:
        """Open the HTTP side on first use: the lean transport called directly (the default,
        when no proxy is configured), else httpx.AsyncClient (which honours the proxy)."""
        import httpx  # here, not at import: `csql -c "SELECT 1"` sends nothing (startup)

        if self._http is not None or self._lean is not None:
            return
        if not self.username or not self._api_key:
            raise OperationalError(missing_credentials(Where.PYTHON))
        n = int(self.options["concurrency"])
        timeout = httpx.Timeout(self.options["timeout"], connect=self.options["connect_timeout"])
        self._sem = asyncio.Semaphore(n)
        url = httpx.URL(self.base_url)
        if self.options["http_transport"] == "lean" and not _proxied(url.scheme):
            from csql.transport import LeanTransport

            self._lean = LeanTransport(max_connections=n, timeout=timeout)
            self._origin = (url.scheme, url.host, url.port)
            self._prefix = url.raw_path.rstrip(b"/")
            self._timeouts = timeout.as_dict()
            self._headers = [
                (b"Host", url.netloc),
                (b"Accept", b"application/json"),
                (b"Accept-Encoding", b"gzip, deflate"),
                (b"User-Agent", b"csql/0.1"),
                (b"Authorization", _basic(self.username, self._api_key)),
            ]
            return
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            auth=httpx.BasicAuth(self.username, self._api_key),
            headers={"Accept": "application/json", "User-Agent": "csql/0.1"},
            timeout=timeout,
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
        )  # httpx's own transport: it applies the environment's proxy (and NO_PROXY)

    async def _send(self, method: str, path: str, params: Mapping[str, Any] | None,
                    content: bytes | None) -> httpx.Response:  # fmt: skip
        """One attempt. The direct path builds the request line itself (path as rendered
        from the catalog, query by httpx.QueryParams) and skips httpx's per-request URL
        merging, auth flow and cookie jar (a quarter of the client's CPU per page); the
        answer is still an httpx.Response, so decoding (gzip) and every check below are
        the same on both paths."""
        import httpx

        if self._http is None and self._lean is None:  # closed while this request waited
            raise OperationalError(f"{method} {path}: the connection was closed; nothing was sent")
        if self._http is not None:  # a proxy, http_transport="httpx" (or a test's own client)
            headers = {"Content-Type": "application/json"} if content is not None else None
            return await self._http.request(
                method, path, params=dict(params or {}), content=content, headers=headers
            )
        target = self._prefix + _quote_path(path)
        if params:
            target += b"?" + str(httpx.QueryParams(params)).encode("ascii")  # httpx's encoding
        headers = self._headers
        if content is not None:
            headers = [*headers, (b"Content-Type", b"application/json"),
                       (b"Content-Length", str(len(content)).encode())]  # fmt: skip
        elif method in ("POST", "PUT", "PATCH"):
            headers = [*headers, (b"Content-Length", b"0")]
        status, reason, raw, data = await self._lean.exchange(
            method, self._origin, target, headers, content or b"", self._timeouts
        )
        return httpx.Response(
            status,
            headers=raw,
            content=data,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
        )

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._lean is not None:
            await self._lean.aclose()
            self._lean = None

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """Send one request; the parsed JSON body on 2xx, an APIError subclass otherwise."""
        import httpx

        self._ensure()
        assert self._sem is not None
        method = method.upper()
        what = describe_request(method, path, params)
        safe = self._route(method, path) is Retry.SAFE
        content = _json_body(body, what)
        attempt = 0
        lost = False  # an attempt may have reached ClickSend without an answer coming back
        while True:
            try:
                async with self._sem:
                    sent_at = await self.limiter.acquire()
                    self.stats.add(method)
                    resp = await self._send(method, path, params, content)
            except (httpx.TransportError, httpx.TimeoutException, httpx.DecodingError) as e:
                # DecodingError: a 2xx whose gzip body is corrupt: an answer lost in transit
                never_sent = _never_sent(e)
                if (safe or never_sent) and attempt < self.options["max_retries"]:
                    lost = lost or not never_sent
                    attempt += 1
                    self.stats.retries += 1
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                if method != "GET" and (lost or not never_sent):
                    raise self._unknown(
                        method, path, what, f"no answer ({reason})", None, safe
                    ) from None
                raise OperationalError(
                    _redact(
                        f"{what}: could not reach ClickSend at {self.base_url}: {reason}",
                        self._api_key,
                    )
                ) from None
            self.stats.bytes += len(resp.content)
            if resp.status_code == 429 and attempt < self.options["max_retries"]:
                attempt += 1
                self.stats.retries += 1
                wait = self._retry_after(resp, attempt)
                self.limiter.throttled(time.monotonic(), sent_at, wait)
                await asyncio.sleep(wait)
                continue
            if resp.status_code == 429:  # out of retries: still a sign to slow down
                self.limiter.throttled(time.monotonic(), sent_at, self._retry_after(resp, attempt))
            elif resp.status_code < 500:
                self.limiter.succeeded(time.monotonic())
            if resp.status_code >= 500:
                if safe and attempt < self.options["max_retries"]:
                    lost = True
                    attempt += 1
                    self.stats.retries += 1
                    await asyncio.sleep(self._backoff(attempt))
                    continue
                if method != "GET":
                    answer = f"ClickSend answered {resp.status_code} {resp.reason_phrase}"
                    raise self._unknown(method, path, what, answer, resp.status_code, safe)
            try:
                return self._result(resp, method, what)
            except NotFound as e:
                e.after_lost_attempt = lost  # a DELETE retried after a lost answer: done
                raise

    def _route(self, method: str, path: str) -> Retry:
        """The retry rule of the catalog template `path` fills; ProgrammingError (nothing is
        sent) when it fills none: csql sends no request outside its catalog."""
        retry = self.routes.retry(method, path)
        if retry is None:
            shown = path if len(path) <= 120 else path[:117] + "..."
            raise ProgrammingError(
                f"{method} {shown!r} is not an endpoint of the catalog (schema/): csql sends only "
                "requests that fill one of its endpoint templates, so nothing was sent"
            )
        return retry

    def _unknown(self, method: str, path: str, what: str, answer: str, status: int | None,
                 safe: bool) -> OutcomeUnknownError:  # fmt: skip
        """The error of a write whose outcome is unknown: it may have taken effect."""
        resend = (
            "it was retried, but no attempt got an answer"
            if safe
            else "csql does not resend it, because it is not safe to repeat"
        )
        text = (
            f"{what}: outcome unknown, {answer}: the request may have reached ClickSend and "
            f"taken effect; {resend}. Check ClickSend (SELECT the rows, or the history) before "
            "running it again"
        )
        return OutcomeUnknownError(_redact(text, self._api_key), method, path, status)

    def _backoff(self, attempt: int) -> float:
        base = self.options["backoff"] * 2 ** (attempt - 1)
        return base * (0.5 + random.random())

    def _retry_after(self, resp: httpx.Response, attempt: int) -> float:
        value = resp.headers.get("Retry-After")
        try:
            wait = float(value) if value is not None else self._backoff(attempt)
        except ValueError:
            wait = self._backoff(attempt)
        return max(0.0, min(wait, self.options["max_retry_after"]))

    def _result(self, resp: httpx.Response, method: str, what: str) -> Any:
        try:
            body = orjson.loads(resp.content) if resp.content else None
        except orjson.JSONDecodeError:
            body = None
            if resp.is_success:
                raise OperationalError(
                    f"{what}: ClickSend answered {resp.status_code} with a body that is not JSON "
                    f"({_redact(repr(resp.content[:80]), self._api_key)}...)"
                ) from None
        if resp.is_success:
            return body
        code = body.get("response_code") if isinstance(body, dict) else None
        msg = body.get("response_msg") if isinstance(body, dict) else None
        # masked before it is cut: a cut would leave part of an echoed Authorization header
        msg = msg or (_redact(resp.text, self._api_key)[:200] if resp.text else resp.reason_phrase)
        status = resp.status_code
        text = f"{what}: ClickSend answered {status} {code or ''}: {msg}".replace("  ", " ")
        text = _redact(text, self._api_key)
        if status == 401:
            cls, text = (
                AuthError,
                f"{text}. {rejected_credentials(Where.PYTHON)}",
            )
        elif status == 403:
            cls, text = AuthError, f"{text}. This account is not allowed to do that"
        elif status == 404:
            cls = NotFound
        elif status == 405:
            cls = MethodNotAllowed
        elif status == 429:
            cls, text = (
                ServiceError,
                f"{text}. Rate limited even after {self.options['max_retries']} retries: "
                "another client may be using the same account; retry later, or cap the rate "
                "with requests_per_second= or rate_limit='N/60s'",
            )
        elif status >= 500:
            cls = ServiceError
        elif method == "GET":
            cls = BadRequest
        else:
            cls = Rejected
        raise cls(text, status, code, self.secrets.scrub(body))


class Runner:
    """Runs coroutines on a private event loop in a daemon thread.

    Sync callers (the DB-API) block on `run()`; the loop keeps the HTTP connections alive
    between statements. A private loop also means csql never collides with a loop that is
    already running in the caller's thread (Jupyter).
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="csql-io", daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        try:
            return future.result(timeout)
        except concurrent.futures.CancelledError:
            raise OperationalError("the statement was interrupted") from None
        except BaseException:
            future.cancel()
            raise

    def submit(self, coro: Awaitable[T]):
        """Start a coroutine and return its concurrent.futures.Future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]

    def cancel_all(self) -> None:
        """Cancel every task running on the loop (an interrupted statement's requests)."""

        def cancel() -> None:
            for task in asyncio.all_tasks(self.loop):
                task.cancel()

        self.loop.call_soon_threadsafe(cancel)

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()
