"""Send the requests of a write statement and account for every row.

Writes go out one at a time in row order for POST (a create or a send must never be sent
twice, and the report must say exactly which rows were written), and a few at a time for
PUT/DELETE. Every row ends in exactly one of four outcomes (WriteReport):

- written: ClickSend answered 2xx (or a DELETE retried after a lost answer got 404: the
  earlier attempt deleted the row, so it is done);
- failed: ClickSend answered with an error, so nothing happened;
- unknown: the request may have reached ClickSend but no answer came back (timeout, dropped
  connection, 5xx); it may have taken effect and was not resent (OutcomeUnknownError);
- not attempted: never sent, because an earlier row failed or had an unknown outcome.

By default the first failure or unknown outcome stops the statement: nothing new is
started, and the error lists every row by outcome, with the ids ClickSend returned. With
`continue_on_error` every row is tried. The error is an OutcomeUnknownError (an
OperationalError) when any row's outcome is unknown, else the class of the first failure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from csql.client import Client, NotFound
from csql.errors import DatabaseError, Error, OutcomeUnknownError
from csql.write.dml import WriteRequest, redact

_ID_FIELDS = ("message_id", "contact_id", "list_id", "template_id", "subaccount_id", "id")


@dataclass
class WriteReport:
    """What happened to each row of a write statement."""

    written: list[tuple[WriteRequest, Any]] = field(default_factory=list)
    failed: list[tuple[WriteRequest, Error]] = field(default_factory=list)
    not_attempted: list[WriteRequest] = field(default_factory=list)
    #: sent, but no answer: each may have taken effect (check ClickSend before re-running)
    unknown: list[tuple[WriteRequest, Error]] = field(default_factory=list)

    def summary(self) -> str:
        def ids(resp: Any, req: WriteRequest) -> str:
            data = resp.get("data") if isinstance(resp, dict) else None
            if isinstance(data, dict):
                for f in _ID_FIELDS:
                    if data.get(f) is not None:
                        return f"{f}={data[f]}"
            return req.path

        parts = [f"{len(self.written)} written"]
        if self.written:
            shown = ", ".join(f"row {r.row} ({ids(resp, r)})" for r, resp in self.written[:20])
            parts[-1] += f": {shown}" + (" ..." if len(self.written) > 20 else "")
        if self.failed:
            parts.append(
                f"{len(self.failed)} failed: "
                + "; ".join(f"row {r.row} ({r.method} {r.path}): {e}" for r, e in self.failed[:5])
            )
        if self.unknown:
            parts.append(
                f"{len(self.unknown)} outcome unknown (may have taken effect, not resent; check "
                "ClickSend before running it again): "
                + ", ".join(f"row {r.row} ({r.method} {r.path})" for r, _ in self.unknown[:20])
                + (" ..." if len(self.unknown) > 20 else "")
            )
        if self.not_attempted:
            rows = ", ".join(str(r.row) for r in self.not_attempted[:20])
            parts.append(
                f"{len(self.not_attempted)} not attempted: rows {rows}"
                + (" ..." if len(self.not_attempted) > 20 else "")
            )
        return "; ".join(parts)


class PartialWriteError(DatabaseError):
    """A write statement stopped (or finished) with failed rows; `report` has the details."""

    def __init__(self, message: str, report: WriteReport) -> None:
        Exception.__init__(self, message)  # not super(): mixed with APIError subclasses below
        self.report = report


async def send(
    client: Client, requests: list[WriteRequest], continue_on_error: bool = False
) -> WriteReport:
    """Send every request; see the module docstring for order, concurrency and stopping."""
    report = WriteReport()
    if not requests:
        return report
    parallel = 1 if requests[0].method == "POST" else max(1, int(client.options["concurrency"]))
    stop = asyncio.Event()
    results: dict[int, tuple[str, Any]] = {}
    queue = list(enumerate(requests))
    lock = asyncio.Lock()

    async def worker() -> None:
        while True:
            async with lock:
                if not queue or stop.is_set():
                    return
                i, req = queue.pop(0)
            outcome = await _attempt(client, req)
            results[i] = outcome
            if outcome[0] != "ok" and not continue_on_error:
                stop.set()

    await asyncio.gather(*(worker() for _ in range(min(parallel, len(requests)))))
    for i, req in enumerate(requests):
        outcome = results.get(i)
        if outcome is None:
            report.not_attempted.append(req)
        elif outcome[0] == "ok":
            report.written.append((req, outcome[1]))
        elif outcome[0] == "unknown":
            report.unknown.append((req, outcome[1]))
        else:
            report.failed.append((req, outcome[1]))
    return report


async def _attempt(client: Client, req: WriteRequest) -> tuple[str, Any]:
    """One row's request and its outcome: ("ok", response), ("failed", error) or
    ("unknown", error)."""
    try:
        return "ok", await client.request(req.method, req.path, req.query, req.body)
    except OutcomeUnknownError as e:
        return "unknown", e
    except NotFound as e:
        if req.method == "DELETE" and e.after_lost_attempt:
            return "ok", None  # an earlier attempt deleted it; its answer was lost
        return "failed", e
    except Error as e:
        return "failed", e


def raise_for_failures(statement: str, report: WriteReport) -> None:
    """Raise when any row failed or has an unknown outcome: OutcomeUnknownError (carrying
    `report` and `requests`, the rows that may have taken effect) if any is unknown, else the
    class of the first failure's error."""
    if not report.failed and not report.unknown:
        return
    first = (report.unknown or report.failed)[0][1]
    cls = type(first) if isinstance(first, DatabaseError) else DatabaseError
    message = f"{statement}: {report.summary()}"

    class _Partial(PartialWriteError, cls):  # type: ignore[misc, valid-type]
        pass

    _Partial.__name__ = cls.__name__
    _Partial.__qualname__ = cls.__qualname__
    error = _Partial(message, report)
    for attr in ("status", "response_code", "body", "method", "path"):
        if hasattr(first, attr):
            setattr(error, attr, getattr(first, attr))
    if report.unknown:
        error.requests = [r for r, _ in report.unknown]  # type: ignore[attr-defined]
    raise error


def _masked_path(r: WriteRequest) -> str:
    """The path with its secret segments (an activation token) as ***."""
    from urllib.parse import quote

    if not r.secrets:
        return r.path
    forms = {f for v in r.secrets for f in (v, quote(v, safe=""))}
    return "/".join("***" if segment in forms else segment for segment in r.path.split("/"))


def _masked_query(r: WriteRequest) -> str | None:
    pairs = [f"{k}={'***' if str(v) in r.secrets else v}" for k, v in r.query.items()]
    return "&".join(pairs) or None


def describe_requests(requests: list[WriteRequest]) -> list[dict]:
    """Rows for EXPLAIN: method, path, query, body (secrets masked)."""
    import json

    return [
        {
            "row": r.row,
            "method": r.method,
            "path": _masked_path(r),
            "query": _masked_query(r),
            "body": json.dumps(redact(r.body, r.secrets), default=str, ensure_ascii=False)
            if r.body is not None
            else None,
        }
        for r in requests
    ]
