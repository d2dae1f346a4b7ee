"""A read cache: pages already fetched (as Arrow) answer repeated reads within a TTL.

The executor fetches through `CachedFetch`, which has the same three calls as
`csql.read.fetch` (fetch_streams, stream_pages, fetch_total). Entries are keyed by account
(a digest of base URL, username and API key, so connections with other credentials never
share one), the request path with its keys filled in, and the query parameters.

A read is answered from a cached *superset* when that is provably safe: the cached stream is a
complete listing of the same path, and the new read only adds parameters that narrow
(`q`, the catalog's date range parameters). DuckDB re-applies every predicate, so the extra
rows fall away. Path keys are part of the path, so the contacts of one list are served by an
earlier read of every list's contacts. Windows (LIMIT pages) and counts are served only by the
same request.

Any write through csql drops the entries of the tables it wrote and the tables the catalog
says derive from them (`invalidates: [lists]` on contacts); a write to a path no table
declares (a send, a procedure) drops the account's entries.
"""

from __future__ import annotations

import collections
import hashlib
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from csql.catalog import Catalog, Endpoint, Table
from csql.read import fetch
from csql.read.fetch import Page, Stream

DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # an LRU bound: a long session does not grow forever
SHELL_TTL = 60.0  # the interactive shell's default: results stay fresh while one explores


def account_key(client: Any) -> str:
    """Who the cache entries belong to, without keeping the key itself."""
    raw = f"{client.base_url}\0{client.username}\0{getattr(client, '_api_key', '')}"
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


@dataclass
class Entry:
    table: str
    params: tuple[tuple[str, str], ...]
    tables: list[pa.Table]  # the stream's pages as Arrow, in order
    total: int | None  # what ClickSend said the listing holds
    complete: bool  # every page of the listing is here
    stored: float  # time.monotonic() when fetched
    nbytes: int


Key = tuple[str, str, str, tuple[tuple[str, str], ...]]  # account, kind, path, params


class PageCache:
    """The process's cache (shared by connections, partitioned by account), LRU-bounded."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: collections.OrderedDict[Key, Entry] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0

    def get(self, key: Key, ttl: float) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if time.monotonic() - entry.stored > ttl:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry

    def candidates(self, account: str, kind: str, path: str, ttl: float) -> list[Entry]:
        """Fresh entries of one path (any parameters), for superset look-ups."""
        now = time.monotonic()
        with self._lock:
            return [e for (a, k, p, _), e in self._entries.items()
                    if a == account and k == kind and p == path and now - e.stored <= ttl]  # fmt: skip

    def put(self, key: Key, entry: Entry) -> None:
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = entry
            self._bytes += entry.nbytes
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                self._drop(next(iter(self._entries)))

    def _drop(self, key: Key) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.nbytes

    def invalidate(self, account: str, tables: set[str] | None) -> int:
        """Drop an account's entries of `tables` (None: all of them). Returns how many."""
        with self._lock:
            gone = [k for k, e in self._entries.items()
                    if k[0] == account and (tables is None or e.table in tables)]  # fmt: skip
            for k in gone:
                self._drop(k)
            return len(gone)

    def __len__(self) -> int:
        return len(self._entries)


CACHE = PageCache()


def clear_account(client: Any) -> int:
    """conn.cache_clear(): forget this account's pages."""
    return CACHE.invalidate(account_key(client), None)


def _template(path: str) -> re.Pattern:
    parts = re.split(r"{[^}]+}", path)
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "$")


class Invalidator:
    """Which tables a write request changes, from the catalog's endpoint templates."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._routes = [(t, _template(e.path)) for t in catalog.tables
                        for e in t.endpoints.values()]  # fmt: skip

    def tables_for(self, method: str, path: str) -> set[str] | None:
        """The tables a request may change (with their derived tables); None: unknown, so all."""
        if method.upper() == "GET":
            return set()
        hit = {t.name for t, pattern in self._routes if pattern.match(path.split("?", 1)[0])}
        if not hit:
            return None
        for name in list(hit):
            table = self.catalog.table(name)
            hit.update(table.invalidates if table is not None else ())
        return hit


def invalidate_for_requests(client: Any, catalog: Catalog, requests: list[Any]) -> None:
    """After writes (sent or maybe sent): drop what they may have changed."""
    if not requests:
        return
    inv = _invalidator(catalog)
    tables: set[str] = set()
    for r in requests:
        hit = inv.tables_for(r.method, r.path)
        if hit is None:
            CACHE.invalidate(account_key(client), None)
            return
        tables |= hit
    if tables:
        CACHE.invalidate(account_key(client), tables)


_INVALIDATORS: dict[int, Invalidator] = {}


def _invalidator(catalog: Catalog) -> Invalidator:
    inv = _INVALIDATORS.get(id(catalog))
    if inv is None or inv.catalog is not catalog:
        inv = _INVALIDATORS[id(catalog)] = Invalidator(catalog)
    return inv


# -- the executor's fetch calls, through the cache ------------------------------------------------


def _params(params: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in params.items()))


def _nbytes(tables: list[pa.Table]) -> int:
    return sum(t.nbytes for t in tables if t is not None)


class CachedFetch:
    """csql.read.fetch's calls for one session, answered from the cache when allowed.

    `ttl` may change at any time (`.cache ttl N` in the shell); `enabled` False bypasses the
    cache without forgetting it.
    """

    def __init__(self, catalog: Catalog, client: Any, ttl: float) -> None:
        self.catalog, self.client, self.ttl = catalog, client, float(ttl)
        self.enabled = True
        self.account = account_key(client)
        self.hits = 0  # streams answered without a request
        self._tables: dict[Endpoint, Table] = {
            e: t for t in catalog.tables for e in t.endpoints.values()
        }

    def _table(self, stream: Stream) -> str:
        table = self._tables.get(stream.endpoint)
        return table.name if table is not None else stream.path

    # -- look-ups ------------------------------------------------------------------------------

    def _narrowing(self, stream: Stream) -> set[str]:
        """Parameters that only ever remove rows and leave every row's values alone."""
        table = self._tables.get(stream.endpoint)
        out = {"q"}
        if table is not None:
            for c in table.columns:
                out.update(p for p in (c.range_lower, c.range_upper, c.range_after) if p)
        return out

    def _listing(self, stream: Stream) -> Entry | None:
        """A complete cached listing that holds every row `stream` would return."""
        if not self.enabled or self.ttl <= 0:
            return None
        want = dict(stream.params)
        exact = CACHE.get((self.account, "list", stream.path, _params(want)), self.ttl)
        if exact is not None and exact.complete:
            return exact
        narrowing = self._narrowing(stream)
        for entry in CACHE.candidates(self.account, "list", stream.path, self.ttl):
            have = dict(entry.params)
            if not entry.complete or any(want.get(k) != v for k, v in have.items()):
                continue
            extra = set(want) - set(have)
            if "operator" in extra and "q" in have:
                continue  # operator=OR on the same q widens it
            if extra - narrowing - {"operator"}:
                continue
            return entry
        return None

    def _pages(self, stream: Stream, entry: Entry) -> list[Page]:
        self.hits += 1
        pages = [Page(stream=stream, records=[], table=t, count=t.num_rows, total=entry.total)
                 for t in entry.tables]  # fmt: skip
        return pages or [Page(stream=stream, records=[], table=None, count=0, total=0)]

    def _store(self, stream: Stream, pages: list[Page], kind: str = "list") -> None:
        if not self.enabled or self.ttl <= 0 or any(p.table is None and p.records for p in pages):
            return  # only converted pages are kept (raw JSON would not be reused as is)
        tables = [p.table for p in pages if p.table is not None]
        total = pages[0].total if pages else 0
        entry = Entry(self._table(stream), _params(stream.params), tables, total, True,
                      time.monotonic(), _nbytes(tables))  # fmt: skip
        CACHE.put((self.account, kind, stream.path, entry.params), entry)

    # -- the three calls -----------------------------------------------------------------------

    async def fetch_streams(self, client: Any, streams: list[Stream], mode: str,
                            window: tuple[int, int, int] | None = None) -> list[Page]:  # fmt: skip
        kind = "get" if mode == "get" else ("list" if window is None else f"window:{window}")
        found: dict[int, list[Page]] = {}
        missing: list[Stream] = []
        for i, s in enumerate(streams):
            entry = self._listing(s) if kind == "list" else self._exact(s, kind)
            if entry is not None:
                found[i] = self._pages(s, entry)
            else:
                missing.append(s)
        if missing:
            pages = await fetch.fetch_streams(client, missing, mode, window)
            by_stream: dict[int, list[Page]] = collections.defaultdict(list)
            for p in pages:
                by_stream[id(p.stream)].append(p)
            for s in missing:
                self._store(s, by_stream.get(id(s), []), kind)
            fetched = iter(missing)
            for i, _ in enumerate(streams):
                if i not in found:
                    s = next(fetched)
                    found[i] = by_stream.get(id(s), [])
        return [p for i in range(len(streams)) for p in found[i]]

    def _exact(self, stream: Stream, kind: str) -> Entry | None:
        if not self.enabled or self.ttl <= 0:
            return None
        return CACHE.get((self.account, kind, stream.path, _params(stream.params)), self.ttl)

    def stream_pages(self, runner: Any, client: Any, streams: list[Stream],
                     ahead: int) -> Iterator[Page]:  # fmt: skip
        """Cached streams first, then the others as csql.read.fetch streams them; a stream
        is kept once all its pages went by (a LIMIT that stopped early keeps only those)."""
        missing = []
        for s in streams:
            entry = self._listing(s)
            if entry is not None:
                yield from self._pages(s, entry)
            else:
                missing.append(s)
        if not missing:
            return
        current: Stream | None = None
        pages: list[Page] = []
        for page in fetch.stream_pages(runner, client, missing, ahead):
            if page.stream is not current:
                if current is not None:
                    self._store(current, pages)
                current, pages = page.stream, []
            pages.append(page)
            yield page
        if current is not None:
            self._store(current, pages)

    async def fetch_total(self, client: Any, stream: Stream) -> int:
        entry = self._exact(stream, "total")
        listing = self._exact(stream, "list")
        if entry is not None:
            self.hits += 1
            return int(entry.total or 0)
        if listing is not None and listing.complete:
            self.hits += 1
            return sum(t.num_rows for t in listing.tables)
        total = await fetch.fetch_total(client, stream)
        if self.enabled and self.ttl > 0:
            CACHE.put((self.account, "total", stream.path, _params(stream.params)),
                      Entry(self._table(stream), _params(stream.params), [], total, True,
                            time.monotonic(), 64))  # fmt: skip
        return total


def for_session(catalog: Catalog, client: Any, options: Mapping[str, Any]) -> CachedFetch | None:
    """The session's cached fetch when the connection option cache_ttl is set (and > 0)."""
    ttl = options.get("cache_ttl")
    if not ttl:
        return None
    return CachedFetch(catalog, client, float(ttl))
