"""Client-side rate control: adapt to ClickSend's 429s, and keep explicit caps when asked.

ClickSend publishes no request rate; it answers 429 (with Retry-After) when an account goes
too fast. So csql starts with no rate cap (only the connection's concurrency bounds it) and
learns the account's limit from the throttling itself, the way botocore's "adaptive" retry
mode and TCP CUBIC do:

- every 429 pauses the whole account for its Retry-After (the server asked for it), and the
  first 429 of a congestion event cuts the sending rate to `BETA` x the rate ClickSend was
  measured to accept (successful responses per second); 429s for requests that were sent
  before that cut belong to the same event and do not cut again;
- after a cut the rate grows back along a cubic curve: quickly at first, flat near the rate
  that was throttled (where the limit probably is), then faster again to probe for more;
- the rate never grows past twice what is really being sent, so an idle or latency-bound
  connection does not build up a licence for a burst.

The state is per account (base URL + username) and shared by every statement and every
connection of that account in the process: ClickSend counts requests per account.

Explicit caps stay available as options: `requests_per_second` (even spacing) and
`rate_limit="100/60s"` (at most N request starts in any window of that length, the way Power
Automate's ClickSend connector throttles). They combine with the adaptive rate: a request
starts when every one of them allows it.

The controller takes the time as an argument (no clock of its own), so tests drive it with a
fake clock; `Limiter.acquire` is the async front used by csql.client.
"""

from __future__ import annotations

import asyncio
import collections
import math
import re
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from csql.errors import ProgrammingError

BETA = 0.8  # after a 429, send at this share of the rate ClickSend was measured to accept
CUBIC_SCALE = 0.0001  # growth of the cubic, relative to the throttled rate (per second cubed)
MEASURE_WINDOW = 2.0  # seconds of history behind the measured rates
MIN_RATE = 0.2  # requests/second: the floor of the adaptive rate (one request every 5 s)
HEADROOM = 2.0  # the adaptive rate never exceeds this multiple of the measured sending rate

_WINDOW_SYNTAX = re.compile(
    r"^\s*(?P<n>\d+)\s*/\s*(?P<len>\d+(?:\.\d+)?|\.\d+)?\s*(?P<unit>ms|s|sec|secs|second|seconds"
    r"|m|min|mins|minute|minutes|h|hr|hour|hours)?\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Window:
    """At most `requests` request starts in any `seconds`-long window."""

    requests: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.requests}/{self.seconds:g}s"


def parse_rate_limit(spec: Any) -> Window | None:
    """`rate_limit="100/60s"` (also "100/60", "100/1m", "5/s", "1000/h", "50/500ms") as a Window.

    None means no window. Anything else is a ProgrammingError that shows the accepted forms.
    """
    if spec is None or isinstance(spec, Window):
        return spec
    m = _WINDOW_SYNTAX.match(spec) if isinstance(spec, str) else None
    if m is None:
        raise ProgrammingError(
            f"rate_limit={spec!r} is not a request window: write N/LENGTH with a unit, e.g. "
            "'100/60s' (100 requests per 60 seconds), '100/1m', '5/s', '1000/1h', '50/500ms'"
        )
    unit = (m["unit"] or "s").lower()
    scale = _UNIT_SECONDS["ms" if unit == "ms" else unit[0]]
    seconds = float(m["len"] or 1) * scale
    requests = int(m["n"])
    if requests < 1 or seconds <= 0:
        raise ProgrammingError(
            f"rate_limit={spec!r} allows no request: the count and the length must be positive"
        )
    return Window(requests, seconds)


def parse_requests_per_second(value: Any) -> float | None:
    """`requests_per_second`: a positive number, or None/0 for no fixed cap."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ProgrammingError(
            f"requests_per_second={value!r} must be a number (requests per second) or None"
        )
    try:
        rate = float(value)
    except ValueError:
        raise ProgrammingError(
            f"requests_per_second={value!r} must be a number (requests per second) or None"
        ) from None
    if math.isnan(rate) or rate < 0:
        raise ProgrammingError(
            f"requests_per_second={value!r} must be positive (or None/0 for no fixed cap)"
        )
    return rate or None


class _Rate:
    """Events per second over the last MEASURE_WINDOW seconds."""

    def __init__(self, start: float) -> None:
        self.start = start
        self.times: collections.deque[float] = collections.deque()

    def add(self, now: float) -> None:
        self.times.append(now)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self.times and self.times[0] <= now - MEASURE_WINDOW:
            self.times.popleft()

    def per_second(self, now: float) -> float:
        """The rate; over less history than the window at first, but never over < 1 s (a burst
        of 50 in 0.1 s measures 50/s, which is what a token-bucket server with that burst
        will go on accepting)."""
        self._trim(now)
        span = min(MEASURE_WINDOW, max(1.0, now - self.start))
        return len(self.times) / span


class CubicRate:
    """The adaptive rate of one account: None (no cap) until the first 429."""

    def __init__(self, now: float) -> None:
        self.rate: float | None = None
        self.throttled_at = -math.inf  # when the last cut happened
        self.peak = 0.0  # the rate the last cut was made from (CUBIC's W_max)
        self.sends = _Rate(now)
        self.successes = _Rate(now)
        self.cuts = 0

    def sent(self, now: float) -> None:
        self.sends.add(now)

    def succeeded(self, now: float) -> None:
        self.successes.add(now)
        if self.rate is not None:
            self.rate = self._grown(now)

    def throttled(self, now: float, sent_at: float) -> bool:
        """A 429 for a request sent at `sent_at`; True if it cut the rate (a new event)."""
        if sent_at < self.throttled_at:
            return False  # sent at the old rate: part of the event that already cut
        accepted = self.successes.per_second(now)
        base = accepted if self.rate is None else min(self.rate, accepted)
        self.peak = max(base, MIN_RATE)
        self.rate = max(self.peak * BETA, MIN_RATE)
        self.throttled_at = now
        self.cuts += 1
        return True

    def _grown(self, now: float) -> float:
        """CUBIC: W(t) = W_max (1 + C (t - K)^3), K the time to climb back to W_max."""
        k = ((1 - BETA) / CUBIC_SCALE) ** (1 / 3)
        t = now - self.throttled_at
        cubic = self.peak * (1 + CUBIC_SCALE * (t - k) ** 3)
        ceiling = max(HEADROOM * self.sends.per_second(now), self.peak * BETA)
        return max(MIN_RATE, min(cubic, ceiling))


class _Account:
    """What one account's limiter shares: the adaptive rate and the Retry-After pause."""

    def __init__(self, now: float) -> None:
        self.lock = threading.Lock()  # connections of one account may live on different loops
        self.cubic = CubicRate(now)
        self.paused_until = -math.inf
        self.next_adaptive = -math.inf
        self.throttles = 0


class _Caps:
    """Explicit caps, shared by the connections of one account that ask for the same caps."""

    def __init__(self, per_second: float | None, window: Window | None) -> None:
        self.per_second = per_second
        self.window = window
        self.next_at = -math.inf
        self.starts: collections.deque[float] = collections.deque(
            maxlen=window.requests if window else 1
        )


class Limiter:
    """When each request of one account may start. Thread-safe; `now` is passed in."""

    def __init__(self, account: _Account, caps: _Caps) -> None:
        self._account = account
        self._caps = caps

    @property
    def rate(self) -> float | None:
        """The adaptive rate in requests/second (None: not throttled yet, no cap)."""
        return self._account.cubic.rate

    @property
    def throttles(self) -> int:
        """429s seen for this account."""
        return self._account.throttles

    @property
    def cuts(self) -> int:
        """Congestion events: 429s that cut the rate."""
        return self._account.cubic.cuts

    @property
    def paused_until(self) -> float:
        return self._account.paused_until

    def reserve(self, now: float) -> float:
        """Book the next start time allowed by the pause, the adaptive rate and the caps."""
        acct, caps = self._account, self._caps
        with acct.lock:
            at = max(now, acct.paused_until)
            rate = acct.cubic.rate
            if rate is not None:
                at = max(at, acct.next_adaptive)
                acct.next_adaptive = at + 1 / rate
            if caps.per_second is not None:
                at = max(at, caps.next_at)
                caps.next_at = at + 1 / caps.per_second
            if caps.window is not None:
                if len(caps.starts) == caps.window.requests:
                    at = max(at, caps.starts[0] + caps.window.seconds)
                caps.starts.append(at)
            acct.cubic.sent(at)
            return at

    def succeeded(self, now: float) -> None:
        with self._account.lock:
            self._account.cubic.succeeded(now)

    def throttled(self, now: float, sent_at: float, retry_after: float) -> None:
        """A 429: pause the account for Retry-After and, once per event, cut the rate."""
        acct = self._account
        with acct.lock:
            acct.throttles += 1
            acct.paused_until = max(acct.paused_until, now + max(retry_after, 0.0))
            if acct.cubic.throttled(now, sent_at) and acct.cubic.rate is not None:
                acct.next_adaptive = max(acct.next_adaptive, acct.paused_until)

    async def acquire(self) -> float:
        """Wait until a request may start; returns its start time (time.monotonic)."""
        while True:
            at = self.reserve(time.monotonic())
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._account.paused_until <= time.monotonic():
                return at  # a 429 that arrived while this one waited moves it after the pause


_accounts: weakref.WeakValueDictionary[tuple[str, str], _Account] = weakref.WeakValueDictionary()
_caps: weakref.WeakValueDictionary[tuple, _Caps] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()


def limiter_for(
    base_url: str,
    username: str | None,
    requests_per_second: Any = None,
    rate_limit: Any = None,
    now: float | None = None,
) -> Limiter:
    """The limiter of one account (base URL + username), with these explicit caps.

    Connections of the same account share the adaptive state and the Retry-After pause; the
    ones with the same caps also share the caps. Bad option values raise ProgrammingError.
    """
    per_second = parse_requests_per_second(requests_per_second)
    window = parse_rate_limit(rate_limit)
    key = (base_url.rstrip("/"), username or "")
    with _registry_lock:
        account = _accounts.get(key)
        if account is None:
            account = _accounts[key] = _Account(time.monotonic() if now is None else now)
        caps_key = (*key, per_second, window)
        caps = _caps.get(caps_key)
        if caps is None:
            caps = _caps[caps_key] = _Caps(per_second, window)
    return Limiter(account, caps)
