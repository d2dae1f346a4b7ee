"""Read ClickSend endpoints page by page: the paging rules of the catalog's endpoints.

Knows endpoints and paging (page/limit, cursor, none) and nothing of SQL. Pages come back as
lists of raw JSON records, in the server's order; converting them to Arrow is arrow.py's job.
Page 1 tells how many pages there are (`last_page`); the rest are requested concurrently,
within the client's concurrency cap and request budget.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from csql.catalog import Endpoint
from csql.client import Client, NotFound, Runner
from csql.errors import OperationalError
from csql.read.arrow import extract_records
from csql.read.plan import PAGE_SIZE

MAX_PAGES = 100_000  # a guard against a server that never says "last page"


@dataclass(frozen=True)
class Stream:
    """One request stream: an endpoint path with its keys filled in, and query parameters."""

    endpoint: Endpoint
    path: str
    params: Mapping[str, str]
    keys: Mapping[str, Any]  # the key values that produced `path` (they fill source: path columns)
    # turns a page's records into Arrow as soon as the page arrives: the conversion overlaps
    # the other requests' network waits, and raw JSON objects do not pile up in memory
    convert: Callable[[Page], Any] | None = field(default=None, compare=False)


@dataclass
class Page:
    stream: Stream
    records: list[Any]
    last_page: int | None = None
    total: int | None = None
    next_cursor: str | None = None
    table: Any = None  # the records as Arrow, once converted (records are then dropped)
    count: int = 0  # how many records the page had


def _converted(page: Page) -> Page:
    page.count = len(page.records)
    if page.stream.convert is not None:
        page.table = page.stream.convert(page)
        page.records = []
    return page


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _next_cursor(body: Any, next_url: str = "_metadata.pagination.next") -> str | None:
    """The offset of the next page of a cursor-paged endpoint: the `offset` parameter of the
    URL at the endpoint's `next_url` path (sender registration: `_metadata.pagination.next`;
    default senders: `data.next_page_url`)."""
    nxt: Any = body
    for part in next_url.split("."):
        nxt = nxt.get(part) if isinstance(nxt, dict) else None
    if not nxt:
        return None
    values = parse_qs(urlparse(str(nxt)).query).get("offset")
    return values[0] if values else None


def _cursor_position(cursor: str | None) -> str | int:
    """A cursor as a comparable position: offsets are numbers ('0' and no offset are both the
    start), anything else is compared as text."""
    text = (cursor or "").strip()
    return int(text) if text.isascii() and text.isdigit() else text or 0


def _check_advances(stream: Stream, cursor: str, seen: set[str | int], pages: int) -> None:
    """Cursor paging whose next offset was already read would loop forever (a server that
    repeats `next`): stop with an OperationalError instead of reading the same pages again."""
    position = _cursor_position(cursor)
    if position in seen:
        raise OperationalError(
            f"GET {stream.path}: cursor paging does not advance: after {pages} page(s) ClickSend's "
            f"next page is offset={cursor}, which was already read. Stopped instead of looping; "
            "the rows would be incomplete, so no result is returned (a ClickSend problem: try "
            "again later)"
        )
    seen.add(position)


async def fetch_page(client: Client, stream: Stream, page: int | None, limit: int | None,
                     cursor: str | None = None) -> Page:  # fmt: skip
    """One page of a stream (page=None: an endpoint that does not page).

    A 404 on a path with keys (the contacts of list 999) means the parent does not exist:
    there are no rows, exactly as a WHERE on a missing key would find none.
    """
    try:
        result = _converted(await _fetch_page(client, stream, page, limit, cursor))
        client.stats.page()
        if page == 1 and result.last_page and result.last_page > 1:
            client.stats.expect(result.last_page - 1)
        return result
    except NotFound:
        if stream.keys:
            return Page(stream=stream, records=[], last_page=1, total=0)
        raise


async def _fetch_page(client: Client, stream: Stream, page: int | None, limit: int | None,
                      cursor: str | None) -> Page:  # fmt: skip
    params = dict(stream.params)
    if stream.endpoint.paging == "page" and page is not None:
        params.update(page=str(page), limit=str(limit or PAGE_SIZE))
    elif stream.endpoint.paging == "cursor":
        params[stream.endpoint.size_param] = str(limit or PAGE_SIZE)
        if cursor:
            params["offset"] = cursor
    body = await client.request("GET", stream.path, params)
    records, parent = extract_records(body, stream.endpoint.records)
    if not isinstance(records, list):
        raise OperationalError(
            f"GET {stream.path}: expected a list of records, got {type(records).__name__}"
        )
    meta = parent if isinstance(parent, dict) else {}
    return Page(
        stream=stream,
        records=records,
        last_page=_int(meta.get("last_page")),
        total=_int(meta.get("total")),
        next_cursor=_next_cursor(body, stream.endpoint.next_url)
        if stream.endpoint.paging == "cursor"
        else None,
    )


async def fetch_get(client: Client, stream: Stream) -> Page:
    """A get-by-key request: a missing id is no row, not an error."""
    try:
        body = await client.request("GET", stream.path, stream.params)
    except NotFound:
        return Page(stream=stream, records=[])
    records, _ = extract_records(body, stream.endpoint.records)
    return _converted(Page(stream=stream, records=records))


async def fetch_total(client: Client, stream: Stream) -> int:
    """COUNT(*) of a page-paged stream: `total` of its smallest first page."""
    page = await fetch_page(client, stream, 1, 15)
    if page.total is None:
        raise OperationalError(f"GET {stream.path}: the response has no 'total' to count with")
    return page.total


async def fetch_stream(client: Client, stream: Stream, first: int = 1, last: int | None = None,
                       limit: int = PAGE_SIZE) -> list[Page]:  # fmt: skip
    """Every page of one stream (or pages first..last), concurrently after the first."""
    if stream.endpoint.paging == "none":
        return [await fetch_page(client, stream, None, None)]
    if stream.endpoint.paging == "cursor":
        pages, cursor = [], None
        seen = {_cursor_position(None)}
        for _ in range(MAX_PAGES):
            page = await fetch_page(client, stream, None, limit, cursor)
            pages.append(page)
            read, cursor = cursor, page.next_cursor
            if not cursor or not page.count:
                break
            if _cursor_position(cursor) == _cursor_position(read) and page.count < limit:
                break  # a short page pointing at itself (the spec's example does): the end
            _check_advances(stream, cursor, seen, len(pages))
        else:
            raise OperationalError(
                f"GET {stream.path}: cursor paging still had a next page after {MAX_PAGES} pages; "
                "stopped (the rows would be incomplete, so no result is returned)"
            )
        return pages
    head = await fetch_page(client, stream, first, limit)
    end = (
        _last_page(head, first, limit)
        if last is None
        else min(last, _last_page(head, first, limit))
    )
    rest = await asyncio.gather(
        *(fetch_page(client, stream, p, limit) for p in range(first + 1, end + 1))
    )
    return [head, *rest]


def _last_page(head: Page, first: int, limit: int) -> int:
    """The last page number, from `last_page`, else from `total`, else this page alone."""
    if head.last_page is not None:
        return min(head.last_page, MAX_PAGES)
    if head.total is not None:
        return max(first, -(-head.total // limit))
    return first


async def fetch_streams(client: Client, streams: list[Stream], mode: str,
                        window: tuple[int, int, int] | None = None) -> list[Page]:  # fmt: skip
    """All pages of several streams, concurrently, in stream order then page order."""
    if mode == "get":
        return list(await asyncio.gather(*(fetch_get(client, s) for s in streams)))
    if window is not None:
        size, first, last = window
        groups = await asyncio.gather(
            *(fetch_stream(client, s, first, last, size) for s in streams)
        )
    else:
        groups = await asyncio.gather(*(fetch_stream(client, s) for s in streams))
    return [p for g in groups for p in g]


def stream_pages(
    runner: Runner, client: Client, streams: list[Stream], ahead: int
) -> Iterator[Page]:
    """Pages in order, fetched at most `ahead` at a time and only as fast as they are consumed.

    When the consumer stops (DuckDB has the rows its LIMIT needs), the generator is closed
    and the pages still in flight are cancelled: no further request starts.
    """
    # canonical order: for each stream, its page 1, then (once page 1 tells the count) the rest
    order: collections.deque[tuple[Stream, int]] = collections.deque((s, 1) for s in streams)
    futures: dict[tuple[int, int], concurrent.futures.Future] = {}
    keyed = {id(s): s for s in streams}

    window = [1]  # pages in flight: 1 at first, doubling with each page consumed, up to `ahead`,
    # so that a LIMIT met by the first page costs one request, and a long scan still overlaps

    def submit_more() -> None:
        for stream, page in list(order)[: window[0]]:
            key = (id(stream), page)
            if key not in futures:
                if stream.endpoint.paging == "page":
                    coro = fetch_page(client, stream, page, PAGE_SIZE)
                else:
                    coro = fetch_stream(client, stream)
                futures[key] = runner.submit(coro)

    try:
        while order:
            submit_more()
            stream, page = order[0]
            result = futures.pop((id(stream), page)).result()
            order.popleft()
            pages = result if isinstance(result, list) else [result]
            if stream.endpoint.paging == "page" and page == 1:
                last = _last_page(pages[0], 1, PAGE_SIZE)
                order.extendleft(reversed([(keyed[id(stream)], p) for p in range(2, last + 1)]))
            window[0] = min(max(ahead, 1), window[0] * 2)
            yield from pages
    finally:
        for f in futures.values():
            f.cancel()
