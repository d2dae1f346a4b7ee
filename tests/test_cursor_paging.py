"""Cursor paging (sender-registration endpoints) always ends: a `next` that does not advance
stops with a clear OperationalError instead of reading the same pages forever.

The server is an httpx MockTransport that answers pages of /alpha-tags with a chosen `next`.
"""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest

import csql
from csql.catalog import default_catalog
from csql.client import Client
from csql.read.fetch import Stream, fetch_stream

#: a fresh account per mock client: the adaptive rate state is per account, and one
#: test's lost answers must not slow the next one down
_ACCOUNTS = itertools.count()

ENDPOINT = default_catalog().table("alpha_tags").list_endpoint


def _client(next_offsets: list[str | None]) -> tuple[Client, list[httpx.Request]]:
    """Page i answers one record and `next` pointing at next_offsets[i] (None: last page)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        i = len(seen)
        seen.append(request)
        nxt = next_offsets[min(i, len(next_offsets) - 1)]
        link = None if nxt is None else f"https://example.invalid/v3/alpha-tags?offset={nxt}"
        body = {
            "alpha_tags": [{"id": f"tag-{i}", "alpha_tag": f"T{i}"}],
            "_metadata": {"pagination": {"next": link}},
        }
        return httpx.Response(200, json=body)

    client = Client(f"u{next(_ACCOUNTS)}", "key-123456", "https://example.invalid/v3")
    client._ensure()
    client._http = httpx.AsyncClient(
        base_url=client.base_url, transport=httpx.MockTransport(handle)
    )
    return client, seen


def _stream() -> Stream:
    return Stream(ENDPOINT, ENDPOINT.path, {}, {})


def test_advancing_cursor_reads_every_page_and_stops_at_the_last():
    client, seen = _client(["2", "4", "6", None])
    pages = asyncio.run(fetch_stream(client, _stream(), limit=2))
    assert [p.count for p in pages] == [1, 1, 1, 1]
    assert [r.url.params.get("offset") for r in seen] == [None, "2", "4", "6"]


@pytest.mark.parametrize(
    "offsets,requests",
    [
        (["5", "5"], 2),  # the same next twice
        (["5", "9", "5"], 3),  # back to a page already read
        (["0"], 1),  # back to the start: offset 0 is where no offset began
        (["3", "03"], 2),  # the same offset spelled differently
    ],
)
def test_cursor_that_does_not_advance_stops_with_an_operational_error(offsets, requests):
    client, seen = _client(offsets)
    with pytest.raises(csql.OperationalError, match="cursor paging does not advance") as info:
        asyncio.run(fetch_stream(client, _stream(), limit=1))
    assert len(seen) == requests, "stopped at the first repeated offset, no request after it"
    assert "/alpha-tags" in str(info.value) and "already read" in str(info.value)


def test_cursor_that_never_ends_is_still_bounded(monkeypatch):
    from csql.read import fetch

    monkeypatch.setattr(fetch, "MAX_PAGES", 5)
    client, seen = _client([str(n) for n in range(1, 100)])
    with pytest.raises(csql.OperationalError, match="still had a next page after 5 pages"):
        asyncio.run(fetch_stream(client, _stream(), limit=1))
    assert len(seen) == 5
    client, seen = _client(["1", "2", "3", "4", None])
    assert len(asyncio.run(fetch_stream(client, _stream(), limit=1))) == 5  # exactly at the bound


def test_a_short_page_whose_next_is_itself_is_the_last():
    """The spec's default-senders example answers a page whose next_page_url is the page
    itself: a short page that points at itself ends the reading (no error, no repeat)."""
    client, seen = _client(["5", "5"])
    pages = asyncio.run(fetch_stream(client, _stream(), limit=2))
    assert [p.count for p in pages] == [1, 1]
    assert [r.url.params.get("offset") for r in seen] == [None, "5"]


def test_default_senders_are_read_page_after_page_by_next_page_url():
    """GET /senders/default-senders pages by per_page (10 unless asked) and offset, the next
    page's URL in data.next_page_url: every row is read, none twice."""
    from csql.catalog import default_catalog
    from csql.sandbox import Sandbox
    from csql.sandbox.actions import default_senders

    table = default_catalog().table("default_senders")
    with Sandbox(seed=2, scale=1) as sb:
        store = sb.app.store["default_senders"]
        template = default_senders(sb.app)[0]
        for i in range(246):  # 4 + 246 = 250 rows: pages of 100, 100, 50
            store.put({**template, "id": f"00000000-0000-4000-8000-{i:012d}", "country_code": "NZ"})
        conn = csql.connect(sb.username, sb.api_key, sb.base_url)
        sb.reset_log()
        ((n, distinct),) = conn.execute(
            "SELECT count(*), count(DISTINCT id) FROM default_senders"
        ).fetchall()
        log = [r for r in sb.request_log if r.path.endswith(table.list_endpoint.path)]
        assert (n, distinct) == (250, 250)
        assert len(log) == 3
        assert all(r.query.get("per_page") == "100" for r in log)
        assert "offset" not in log[0].query and all(r.query.get("offset") for r in log[1:])
