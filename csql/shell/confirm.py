"""What a statement that needs confirmation would do, found out before anyone is asked.

`preview()` runs `EXPLAIN <statement>` on the connection that would run it: that checks the
statement fully (a CALL's arguments, an UPDATE's columns) without changing anything, counts
the rows an UPDATE/DELETE/INSERT would write (EXPLAIN lists one request per row, after
fetching the affected keys with GETs), and for a send asks ClickSend's price endpoint for a
quote. A statement that fails here is reported instead of asked about.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from csql.dbapi import Connection
from csql.shell import safety
from csql.shell.output import plural

PRICE_QUOTE = "price quote"  # the method column of EXPLAIN's quote rows (csql.engine)


@dataclass(frozen=True)
class Preview:
    """What EXPLAIN found: the requests a statement would send, and ClickSend's quote."""

    keyword: str
    requests: int
    rows: int  # rows written or messages sent
    quotes: tuple[Any, ...] = ()

    def lines(self, table: str | None = None) -> list[str]:
        """Sentences for the prompt."""
        out = []
        if self.keyword in ("UPDATE", "DELETE", "INSERT"):
            verb = {"UPDATE": "changes", "DELETE": "deletes", "INSERT": "inserts"}[self.keyword]
            what = f" of {table}" if table and self.keyword != "INSERT" else ""
            out.append(f"this {verb} {plural(self.rows, 'row')}{what}")
        elif self.requests:
            out.append(f"this sends {plural(self.requests, 'request')}")
        for quote in self.quotes:
            out.append(describe_quote(quote))
        return out


def describe_quote(quote: Any) -> str:
    """ClickSend's price answer as a sentence: `ClickSend quotes $0.0770 USD for 1 message`."""
    if not isinstance(quote, dict):
        return f"ClickSend's price quote: {quote}"
    currency = quote.get("_currency") or {}
    prefix = currency.get("currency_prefix_d", "") if isinstance(currency, dict) else ""
    code = currency.get("currency_name_short", "") if isinstance(currency, dict) else ""
    price = quote.get("total_price")
    count = quote.get("total_count")
    amount = f"{prefix}{price}" if price is not None else "an unknown amount"
    many = f" for {plural(int(count), 'message')}" if isinstance(count, int | float) else ""
    return f"ClickSend quotes {amount} {code}{many}".replace("  ", " ").strip()


def preview(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> Preview:
    """EXPLAIN the statement (see the module docstring); its csql.Error propagates."""
    cur = conn.cursor()
    cur.execute("EXPLAIN " + sql, dict(params) if params else None)
    names = [d[0] for d in cur.description or []]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    if "method" not in names:  # a query's EXPLAIN: nothing is written
        return Preview(safety.leading_keyword(sql), 0, 0)
    sends = [r for r in rows if r["method"] != PRICE_QUOTE]
    quotes = []
    for r in rows:
        if r["method"] == PRICE_QUOTE:
            try:
                quotes.append(json.loads(r["body"]))
            except (TypeError, ValueError):
                quotes.append(r["body"])
    count = len({r["row"] for r in sends})
    return Preview(safety.leading_keyword(sql), len(sends), count, tuple(quotes))


__all__ = ["Preview", "describe_quote", "preview"]
