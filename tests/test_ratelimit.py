"""Adaptive rate control (csql.ratelimit): the controller on a fake clock, a simulated
token-bucket server, explicit caps, option parsing, and the limiter against the sandbox's
`--rate-limit`."""

from __future__ import annotations

import heapq
import math
import time

import pytest

import csql
from csql import ratelimit as rl
from csql.jupyter import connect_kwargs
from csql.sandbox import Sandbox


def _limiter(per_second: float | None = None, window: rl.Window | None = None) -> rl.Limiter:
    """A limiter of its own (not from the shared registry), starting at t=0."""
    return rl.Limiter(rl._Account(0.0), rl._Caps(per_second, window))


# -- option parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "requests", "seconds"),
    [
        ("100/60s", 100, 60.0),
        ("100/60", 100, 60.0),
        ("100/1m", 100, 60.0),
        ("100 / 1 min", 100, 60.0),
        ("5/s", 5, 1.0),
        ("1000/1h", 1000, 3600.0),
        ("50/500ms", 50, 0.5),
        ("3/2.5s", 3, 2.5),
        ("10/M", 10, 60.0),
    ],
)
def test_rate_limit_window_syntax(spec, requests, seconds):
    assert rl.parse_rate_limit(spec) == rl.Window(requests, seconds)


@pytest.mark.parametrize("spec", ["fast", "100", "/60s", "100/60x", "0/60s", "100/0s", "-1/s", 5])
def test_bad_rate_limit_is_a_programming_error(spec):
    with pytest.raises(csql.ProgrammingError, match="rate_limit"):
        rl.parse_rate_limit(spec)


def test_bad_options_fail_at_connect_with_the_accepted_forms():
    with pytest.raises(csql.ProgrammingError, match=r"'100/60s'"):
        csql.connect("u", "k", "http://127.0.0.1:9/v3", rate_limit="100 per minute")
    with pytest.raises(csql.ProgrammingError, match="requests_per_second"):
        csql.connect("u", "k", "http://127.0.0.1:9/v3", requests_per_second="lots")
    with pytest.raises(csql.ProgrammingError, match="positive"):
        csql.connect("u", "k", "http://127.0.0.1:9/v3", requests_per_second=-1)


def test_defaults_have_no_fixed_rate():
    assert csql.client.DEFAULTS["requests_per_second"] is None
    assert csql.client.DEFAULTS["rate_limit"] is None
    assert rl.parse_requests_per_second(0) is None  # 0 still means "no cap", as before
    assert rl.parse_requests_per_second("2.5") == 2.5


def test_url_options_are_typed():
    kw = connect_kwargs(
        "clicksend://u:k@/?base_url=http://x/v3&rate_limit=100/60s&requests_per_second=5"
    )
    assert kw["rate_limit"] == "100/60s" and kw["requests_per_second"] == 5.0


# -- explicit caps -----------------------------------------------------------------------------


def test_requests_per_second_spaces_starts_evenly():
    lim = _limiter(per_second=10)
    assert [round(lim.reserve(0.0), 6) for _ in range(4)] == [0.0, 0.1, 0.2, 0.3]
    assert lim.reserve(5.0) == 5.0  # idle time does not build up a burst beyond one request
    assert lim.reserve(5.0) == pytest.approx(5.1)


def test_window_allows_n_starts_in_any_window():
    lim = _limiter(window=rl.Window(3, 1.0))
    assert [lim.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert lim.reserve(0.2) == 1.0  # the 4th start waits until the 1st leaves the window
    assert lim.reserve(0.2) == 1.0
    assert lim.reserve(0.2) == 1.0
    assert lim.reserve(1.5) == 2.0


def test_caps_combine():
    lim = _limiter(per_second=100, window=rl.Window(2, 1.0))
    assert [round(lim.reserve(0.0), 3) for _ in range(3)] == [0.0, 0.01, 1.0]


def test_no_cap_and_no_throttle_means_no_wait():
    lim = _limiter()
    assert {lim.reserve(1.0) for _ in range(100)} == {1.0}
    assert lim.rate is None


# -- the adaptive controller -------------------------------------------------------------------


def _run_at(lim: rl.Limiter, rate: float, start: float, seconds: float) -> float:
    """Successful requests at `rate`/s from `start` for `seconds`; returns the end time."""
    t = start
    while t < start + seconds:
        lim.reserve(t)
        lim.succeeded(t)
        t += 1 / rate
    return t


def test_429_pauses_the_account_for_retry_after():
    lim = _limiter()
    lim.throttled(now=5.0, sent_at=4.9, retry_after=2.0)
    assert lim.reserve(5.0) >= 7.0
    assert lim.throttles == 1


def test_429_cuts_to_beta_of_the_measured_accepted_rate():
    lim = _limiter()
    t = _run_at(lim, 40, 0.0, 3.0)
    assert lim.rate is None
    lim.throttled(t, t - 0.01, 1.0)
    assert lim.rate == pytest.approx(40 * rl.BETA, rel=0.05)
    assert lim.cuts == 1


def test_429s_of_one_event_cut_once():
    lim = _limiter()
    t = _run_at(lim, 40, 0.0, 3.0)
    for i in range(8):  # eight requests in flight were all refused
        lim.throttled(t + i * 0.001, t - 0.01, 1.0)
    assert lim.cuts == 1 and lim.throttles == 8
    rate = lim.rate
    lim.throttled(t + 5, t + 4, 1.0)  # sent after the cut: a new event
    assert lim.cuts == 2 and lim.rate < rate


def test_rate_probes_back_up_along_a_cubic():
    lim = _limiter()
    t = _run_at(lim, 40, 0.0, 3.0)
    lim.throttled(t, t, 1.0)
    cut, peak = lim.rate, lim._account.cubic.peak
    k = ((1 - rl.BETA) / rl.CUBIC_SCALE) ** (1 / 3)
    t2 = _run_at(lim, 45, t + 1, k / 2)
    half = lim.rate
    assert cut < half < peak  # concave: growing, not yet back
    t3 = _run_at(lim, 60, t2, k / 2)
    assert lim.rate == pytest.approx(peak, rel=0.05)  # flat near the rate that was throttled
    _run_at(lim, 120, t3, 10)
    assert lim.rate > peak * 1.05  # then probing beyond it


def test_rate_never_grows_past_twice_what_is_sent():
    lim = _limiter()
    t = _run_at(lim, 40, 0.0, 3.0)
    lim.throttled(t, t, 0.0)
    _run_at(lim, 2, t, 120)  # a long quiet spell: 2 requests/s
    assert lim.rate <= rl.HEADROOM * 2 + 1e-9 or lim.rate <= lim._account.cubic.peak * rl.BETA


class _Bucket:
    """The sandbox's server-side limit: a token bucket of `rate`, bursts of `rate`."""

    def __init__(self, rate: float) -> None:
        self.rate, self.tokens, self.t = rate, rate, 0.0

    def take(self, now: float) -> float:
        self.tokens = min(self.rate, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def simulate(pages: int, server_rate: float | None, concurrency: int = 8,
             latency: float = 0.02) -> tuple[float, int, rl.Limiter]:  # fmt: skip
    """A discrete-event run of `pages` requests through one limiter against a token-bucket
    server that answers 429 with Retry-After ceil(wait) >= 1 s, as the sandbox does.
    Returns (elapsed simulated seconds, 429s, limiter)."""
    lim = _limiter()
    bucket = _Bucket(server_rate) if server_rate else None
    todo, throttles, seq = pages, 0, 0
    events: list[tuple[float, int, str, object]] = []

    def push(at: float, kind: str, data: object = None) -> None:
        nonlocal seq
        heapq.heappush(events, (at, seq, kind, data))
        seq += 1

    for _ in range(concurrency):
        push(0.0, "want")
    now = 0.0
    while events:
        now, _, kind, data = heapq.heappop(events)
        if kind == "want":
            if data is None:
                if todo == 0:
                    continue
                todo -= 1
            at = lim.reserve(now)
            push(at, "send", at)
        elif kind == "send":
            if lim.paused_until > now:  # a 429 arrived while it waited: book again
                push(now, "want", "again")
                continue
            wait = bucket.take(now) if bucket else 0.0
            push(now + latency, "response", (data, wait))
        else:
            sent, wait = data  # type: ignore[misc]
            if wait > 0:
                throttles += 1
                retry_after = max(1, math.ceil(wait))
                lim.throttled(now, sent, retry_after)
                push(now + retry_after, "want", "again")
            else:
                lim.succeeded(now)
                push(now, "want")
    return now, throttles, lim


@pytest.mark.parametrize(("pages", "limit"), [(2000, 20), (2000, 50), (400, 20), (1000, 5)])
def test_simulated_scan_approaches_the_server_limit_with_few_429s(pages, limit):
    elapsed, throttles, lim = simulate(pages, limit)
    floor = (pages - limit) / limit  # the server's burst lets the first `limit` through at once
    assert floor <= elapsed <= floor * 1.1 + 3, elapsed
    assert throttles <= max(15, pages * 0.015), throttles
    assert lim.rate is not None


def test_simulated_scan_without_a_limit_runs_at_full_concurrency():
    elapsed, throttles, lim = simulate(2000, None, concurrency=8, latency=0.02)
    assert throttles == 0 and lim.rate is None
    assert elapsed == pytest.approx(math.ceil(2000 / 8) * 0.02, rel=0.01)


# -- sharing -----------------------------------------------------------------------------------


def test_connections_of_one_account_share_the_adaptive_state():
    a = csql.connect("alice", "k", "http://127.0.0.1:9/v3")
    b = csql.connect("alice", "k", "http://127.0.0.1:9/v3/", rate_limit="10/s")
    other = csql.connect("bob", "k", "http://127.0.0.1:9/v3")
    la, lb, lo = (c._client.limiter for c in (a, b, other))
    assert la._account is lb._account and la._account is not lo._account
    assert la._caps is not lb._caps  # caps are the connection's own option
    la.throttled(time.monotonic(), time.monotonic(), 0.5)
    assert lb.throttles == 1 and lo.throttles == 0
    for c in (a, b, other):
        c.close()


# -- against the sandbox -----------------------------------------------------------------------


def _scan(sb: Sandbox, **options) -> tuple[float, int, int, csql.Connection]:
    """(seconds, rows, 429s) of a full sms_history scan through a fresh connection."""
    conn = csql.connect(sb.username, sb.api_key, sb.base_url, **options)
    sb.reset_log()
    t0 = time.perf_counter()
    rows = conn.execute("SELECT count(*) FROM sms_history WHERE body LIKE '%'").fetchone()[0]
    elapsed = time.perf_counter() - t0
    pages = -(-rows // 100)
    throttled = len(sb.request_log) - pages
    return elapsed, rows, throttled, conn


def test_sandbox_rate_limit_is_approached_with_few_429s():
    """120 pages against --rate-limit 25: no error, few 429s, and no faster than the limit.

    (25/s, not more: on a loaded 2-core machine the client alone may not reach 50/s, and then
    there is nothing to adapt to.)"""
    with Sandbox(seed=3, scale=6, rate_limit=25) as sb:
        elapsed, rows, throttled, conn = _scan(sb)
        pages = -(-rows // 100)
        assert pages >= 110
        assert throttled >= 1, "the scan must have met the server's limit"
        assert conn.stats.retries == throttled  # every 429 was waited out and retried
        assert throttled <= 15, f"{throttled} 429s for {pages} pages"
        assert elapsed >= (pages - 25) / 25 * 0.95, elapsed  # the server's burst is 25
        assert elapsed <= (pages / 25) * 1.6 + 3, elapsed
        assert conn._client.limiter.rate is not None  # it adapted
        conn.close()


def test_sandbox_without_limit_runs_at_full_concurrency():
    # a long latency and few pages: the time is the network's, not the (shared) CPU's
    with Sandbox(seed=3, scale=1, latency_ms=200) as sb:
        elapsed, rows, throttled, conn = _scan(sb)
        pages = -(-rows // 100)
        assert throttled == 0 and conn._client.limiter.rate is None
        sequential = pages * 0.200  # 8 in flight: 1 + ceil(19 / 8) round trips = 0.8 s
        assert elapsed < sequential / 2.5, (elapsed, sequential)  # clearly more than 2 in flight
        conn.close()


def test_explicit_window_is_never_exceeded():
    """rate_limit='10/0.5s' keeps under a server limit of 25/s: no 429 at all."""
    with Sandbox(seed=3, scale=2.5, rate_limit=25) as sb:
        elapsed, rows, throttled, conn = _scan(sb, rate_limit="10/0.5s")
        pages = -(-rows // 100)
        assert pages >= 40 and throttled == 0
        assert elapsed >= (pages - 10) / 20 * 0.95
        conn.close()


def test_explicit_requests_per_second_is_never_exceeded():
    with Sandbox(seed=3, scale=2.5, rate_limit=25) as sb:
        elapsed, rows, throttled, conn = _scan(sb, requests_per_second=20)
        pages = -(-rows // 100)
        assert throttled == 0
        assert elapsed >= (pages - 1) / 20 * 0.95
        conn.close()
