"""Secrets never leave: the one place that knows what is secret and how it is masked.

A `Secrets` belongs to one connection (its client creates it from the credentials) and
collects every value that must never be shown: the API key (any length), `user:key`,
base64(`user:key`) as the Authorization header carries it (standard, URL-safe, with and
without padding, with JSON's escaped `\\/`), the key URL-quoted, the password of a base URL's
userinfo, and the values of parameters and columns the catalog marks `secret: true`
(activation tokens, passwords, card numbers) once a statement uses them. Error messages,
reprs, EXPLAIN rows and CLI output go through `mask`; log records of every logger
(httpx and httpcore included) are masked as they are created, so a DEBUG log handler never
sees a secret either.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import weakref
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from csql.errors import ProgrammingError

MASK = "***"
#: a secret shorter than this is masked where it stands as a whole token (`key=k9`), not
#: inside longer words: a two-letter test key must not turn "ClickSend" into "Clic***Send"
WHOLE_TOKEN_BELOW = 6
#: values of catalog-marked secrets shorter than this are masked where they are known to be
#: (their field, their path segment) but not in free text, where "1" would mangle every number
MIN_FREE_TEXT = 3


class Secrets:
    """The secret values of one connection, and the one way any text is masked."""

    def __init__(self, username: str | None = None, api_key: str | None = None) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._ordered: tuple[str, ...] = ()
        self._short: dict[str, re.Pattern[str]] = {}
        if api_key:
            self.add_credentials(username, api_key)
        _LIVE.add(self)

    def __repr__(self) -> str:
        return f"<csql.Secrets {len(self._values)} masked values>"

    def add_credentials(self, username: str | None, api_key: str) -> None:
        """The key and every form the Authorization header and URLs give it."""
        pair = f"{username or ''}:{api_key}"
        forms = {api_key, pair, quote(api_key, safe=""), quote(pair, safe="")}
        raw = pair.encode()
        for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
            forms |= {encoded, encoded.rstrip("="), encoded.replace("/", "\\/")}
        self.add(*forms, min_length=1)

    def add(self, *values: Any, min_length: int = MIN_FREE_TEXT) -> None:
        """Mask these values from now on (text of at least `min_length` characters)."""
        new = {str(v) for v in values if v is not None and len(str(v)) >= min_length}
        if not new - self._values:
            return
        with self._lock:
            self._values |= new
            self._ordered = tuple(sorted(self._values, key=len, reverse=True))
            self._short = {
                v: re.compile(rf"(?<![A-Za-z0-9]){re.escape(v)}(?![A-Za-z0-9])")
                for v in self._ordered
                if len(v) < WHOLE_TOKEN_BELOW
            }

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and value in self._values

    def mask(self, text: str) -> str:
        """`text` with every secret replaced by ***; longest first, so a secret that contains
        another is masked whole."""
        if not self._ordered or not isinstance(text, str):
            return text
        for value in self._ordered:
            if value in text:
                short = self._short.get(value)
                text = short.sub(MASK, text) if short else text.replace(value, MASK)
        return text

    def scrub(self, value: Any) -> Any:
        """A JSON-like value (a response body, an EXPLAIN body) with its strings masked."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {self.mask(str(k)): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value


_LIVE: weakref.WeakSet[Secrets] = weakref.WeakSet()


def mask_all(text: str) -> str:
    """`text` masked with the secrets of every open connection (for text csql did not build,
    such as a log record of httpx, whose connection is unknown)."""
    for secrets in list(_LIVE):
        text = secrets.mask(text)
    return text


def split_userinfo(
    username: str | None, api_key: str | None, base_url: str
) -> tuple[str | None, str | None, str]:
    """A base URL's `user:key@` taken out of it (it would show in every error and repr) and
    used as the credentials; ProgrammingError when it contradicts username=/api_key=."""
    parts = urlsplit(base_url)
    if parts.username is None and parts.password is None:
        return username, api_key, base_url
    url_user = unquote(parts.username) if parts.username else None
    url_key = unquote(parts.password) if parts.password else None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    if (username is not None and url_user is not None and username != url_user) or (
        api_key is not None and url_key is not None and api_key != url_key
    ):
        raise ProgrammingError(
            f"base_url {clean!r} carries credentials (user:key@) that differ from username= / "
            "api_key=; give the credentials once, as username= and api_key="
        )
    return (
        username if username is not None else url_user,
        api_key if api_key is not None else url_key,
        clean,
    )


def secret_values(values: dict[str, Any], secret_names: Iterable[str]) -> tuple[str, ...]:
    """The values (as text) of the entries that the catalog marks secret."""
    names = set(secret_names)
    return tuple(str(v) for k, v in values.items() if k in names and v is not None and v != "")


# -- logs ---------------------------------------------------------------------------------------

_previous_factory = logging.getLogRecordFactory()


def _masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every log record, of every logger, with the live connections' secrets masked: httpx and
    httpcore log URLs at INFO/DEBUG, and a handler attached by the application must not be
    where a key leaks. Runs only for records that a logger is going to emit."""
    record = _previous_factory(*args, **kwargs)
    if _LIVE:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return record
        masked = mask_all(message)
        if masked != message:
            record.msg, record.args = masked, None
    return record


if getattr(logging.getLogRecordFactory(), "__name__", "") != _masking_factory.__name__:
    logging.setLogRecordFactory(_masking_factory)


__all__ = ["MASK", "Secrets", "mask_all", "secret_values", "split_userinfo"]
