"""A competent shillelagh adapter for ClickSend: the peer csql is measured against.

    from shillelagh_clicksend import connect
    conn = connect(base_url, username, api_key)
    conn.execute('SELECT * FROM "clicksend://sms_history"')

What a careful adapter author would write (shillelagh's own adapters are the model):

- one keep-alive `httpx.Client` per account, pages of `limit=100` one after another;
- typed fields: numbers that ClickSend sends as strings ("756", "0.077000") are parsed, Unix
  seconds become datetimes, "" is NULL;
- pushdown: `list_id = N` on contacts reads only /lists/N/contacts (exact), without it the
  adapter walks /lists then each list's contacts; on sms_history a range on `date` becomes
  date_from/date_to (inclusive on the server, so not exact: SQLite filters again).

The column lists come from csql's catalog (schema/*.yaml), so both clients read the same
fields; nothing else of csql is used.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import httpx
from shillelagh.adapters.base import Adapter
from shillelagh.adapters.registry import registry
from shillelagh.backends.apsw.db import connect as apsw_connect
from shillelagh.fields import Field, Order
from shillelagh.filters import Equal, Filter, Range
from shillelagh.typing import RequestedOrder, Row

PAGE = 100
_clients: dict[tuple[str, str], httpx.Client] = {}
REQUESTS = [0]  # requests sent by every adapter, for the benchmark's tables


def _count(request: httpx.Request) -> None:
    REQUESTS[0] += 1


def _http(base_url: str, username: str, api_key: str) -> httpx.Client:
    key = (base_url, username)
    if key not in _clients:
        _clients[key] = httpx.Client(base_url=base_url, auth=(username, api_key), timeout=60,
                                     event_hooks={"request": [_count]})  # fmt: skip
    return _clients[key]


class JSONInteger(Field[Any, int]):
    type = "INTEGER"
    db_api_type = "NUMBER"

    def parse(self, value: Any) -> int | None:
        if value is None or value == "":
            return None
        return int(value) if not isinstance(value, str) else int(float(value))


class JSONDecimal(Field[Any, decimal.Decimal]):
    type = "DECIMAL"
    db_api_type = "NUMBER"

    def parse(self, value: Any) -> decimal.Decimal | None:
        if value is None or value == "":
            return None
        return decimal.Decimal(str(value))


class JSONFloat(Field[Any, float]):
    type = "REAL"
    db_api_type = "NUMBER"

    def parse(self, value: Any) -> float | None:
        return None if value is None or value == "" else float(value)


class UnixTime(Field[Any, dt.datetime]):
    type = "TIMESTAMP"
    db_api_type = "DATETIME"

    def parse(self, value: Any) -> dt.datetime | None:
        if value is None or value == "":
            return None
        return dt.datetime.fromtimestamp(int(value), dt.UTC)

    def format(self, value: dt.datetime | None) -> Any:
        return None if value is None else int(value.timestamp())


class JSONBoolean(Field[Any, bool]):
    type = "BOOLEAN"
    db_api_type = "NUMBER"

    def parse(self, value: Any) -> bool | None:
        if value is None or value == "":
            return None
        return str(value).lower() in ("1", "true", "yes")


class Text(Field[Any, str]):
    type = "TEXT"
    db_api_type = "STRING"

    def parse(self, value: Any) -> str | None:
        return None if value is None else str(value)


FIELDS = {"integer": JSONInteger, "bigint": JSONInteger, "decimal": JSONDecimal,
          "double": JSONFloat, "timestamp": UnixTime, "boolean": JSONBoolean}  # fmt: skip


class ClickSendAdapter(Adapter):
    """`clicksend://<table>` for sms_history, contacts and lists."""

    safe = True
    supports_limit = False
    supports_offset = False

    def __init__(self, table: str, base_url: str, username: str, api_key: str) -> None:
        super().__init__()
        from csql.catalog import default_catalog  # the column list only

        self.table = default_catalog().table(table)
        self.http = _http(base_url, username, api_key)
        self.columns: dict[str, Field] = {}
        for col in self.table.columns:
            kind = FIELDS.get(col.type, Text)
            if table == "contacts" and col.name == "list_id":
                field = kind(filters=[Equal], order=Order.NONE, exact=True)
            elif table == "sms_history" and col.name == "date":
                field = kind(filters=[Range], order=Order.NONE, exact=False)
            else:
                field = kind()
            self.columns[col.name] = field

    @staticmethod
    def supports(uri: str, fast: bool = True, **kwargs: Any) -> bool | None:
        return uri.startswith("clicksend://")

    @staticmethod
    def parse_uri(uri: str) -> tuple[str]:
        return (uri.removeprefix("clicksend://"),)

    def get_columns(self) -> dict[str, Field]:
        return self.columns

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict]:
        page = 1
        while True:
            resp = self.http.get(path, params={**params, "page": page, "limit": PAGE})
            resp.raise_for_status()
            data = resp.json()["data"]
            yield from data["data"]
            if page >= int(data.get("last_page") or 1):
                return
            page += 1

    def get_data(self, bounds: dict[str, Filter], order: list[tuple[str, RequestedOrder]],
                 **kwargs: Any) -> Iterator[Row]:  # fmt: skip
        name = self.table.name
        if name == "contacts":
            if "list_id" in bounds and isinstance(bounds["list_id"], Equal):
                list_ids = [bounds["list_id"].value]
            else:
                list_ids = [r["list_id"] for r in self._pages("/lists", {})]
            rows: Iterator[dict] = (
                dict(r, list_id=lid)
                for lid in list_ids
                for r in self._pages(f"/lists/{lid}/contacts", {})
            )
        elif name == "sms_history":
            params = {}
            rng = bounds.get("date")
            if isinstance(rng, Range):
                if rng.start is not None:
                    params["date_from"] = int(rng.start.timestamp())
                if rng.end is not None:
                    params["date_to"] = int(rng.end.timestamp())
            rows = self._pages("/sms/history", params)
        else:
            rows = self._pages("/lists", {})
        for i, r in enumerate(rows):
            yield {"rowid": i, **{c: r.get(c) for c in self.columns}}


registry.add("clicksend", ClickSendAdapter)


def connect(base_url: str, username: str, api_key: str):
    """A shillelagh (SQLite/apsw) connection with the ClickSend adapter."""
    kwargs = {"base_url": base_url, "username": username, "api_key": api_key}
    return apsw_connect(":memory:", adapters=["clicksend"],
                        adapter_kwargs={"clicksend": kwargs})  # fmt: skip
