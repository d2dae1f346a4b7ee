"""Writes under lost answers: every reported outcome equals what the sandbox holds.

The sandbox's `drop_after_rate` applies a request and then loses its answer (a 502 or a
dropped connection). csql cannot know whether such a write happened, so it must report it as
*unknown* (never as failed), must never resend anything the catalog does not declare safe to
retry, and must count a DELETE whose retry finds the row gone as done. These tests check the
report against the sandbox's own state (its store) and its request log (requests per path).

The client's rules are also tested one by one with an httpx MockTransport (no network).
"""

from __future__ import annotations

import asyncio
import collections
import itertools

import httpx
import pytest

import csql
from csql.client import Client, ServiceError
from csql.errors import OutcomeUnknownError
from csql.sandbox import Sandbox, _parser
from csql.sandbox import main as sandbox_main
from csql.write import writer
from csql.write.dml import WriteRequest

#: a fresh account per mock client: the adaptive rate state is per account, and one
#: test's lost answers must not slow the next one down
_ACCOUNTS = itertools.count()

RATE = 0.4  # share of requests whose answer is lost after they were applied


def _connect(sb: Sandbox) -> csql.Connection:
    return csql.connect(sb.username, sb.api_key, sb.base_url, backoff=0.001, max_retries=10,
                        continue_on_error=True)  # fmt: skip


def _per_path(sb: Sandbox, method: str) -> collections.Counter:
    return collections.Counter(r.path for r in sb.request_log.snapshot() if r.method == method)


def _report(conn, sql, params=None):
    """The write report of a statement: from its error, or all written when it succeeded."""
    try:
        cur = conn.execute(sql, params)
    except csql.DatabaseError as e:
        assert hasattr(e, "report"), e
        if e.report.unknown:
            assert isinstance(e, OutcomeUnknownError) and isinstance(e, csql.OperationalError)
            assert "check ClickSend" in str(e)
            assert e.requests == [r for r, _ in e.report.unknown]
        return e.report
    return cur


# --- end to end against the sandbox -----------------------------------------------------------


def test_inserts_under_lost_answers_match_the_sandbox():
    with Sandbox(seed=11, scale=0.05, drop_after_rate=RATE) as sb:
        conn = _connect(sb)
        names = [f"lost {i}" for i in range(40)]
        values = ", ".join(f"('{n}', 'b')" for n in names)
        sb.reset_log()
        report = _report(conn, f"INSERT INTO sms_templates (template_name, body) VALUES {values}")
        assert isinstance(report, writer.WriteReport), "some answers were lost"
        written = {r.body["template_name"] for r, _ in report.written}
        unknown = {r.body["template_name"] for r, _ in report.unknown}
        failed = {r.body["template_name"] for r, _ in report.failed}
        assert written | unknown | failed == set(names) and not report.not_attempted
        assert written and unknown, "both outcomes occur at this rate"
        held = collections.Counter(
            r["template_name"] for r in sb.store["sms_templates"].rows.values()
            if str(r.get("template_name", "")).startswith("lost ")
        )  # fmt: skip
        assert all(held[n] == 1 for n in written), "every written row is there, once"
        assert not any(held[n] for n in failed), "a failed row is not there"
        assert all(held[n] <= 1 for n in names), "no row was written twice"
        # the sandbox applied every request before losing the answer: unknown rows exist
        assert all(held[n] == 1 for n in unknown)
        assert _per_path(sb, "POST")["/v3/sms/templates"] == len(names), "POST never resent"
        conn.close()


def test_updates_and_deletes_are_retried_and_reported_done():
    with Sandbox(seed=12, scale=0.05, drop_after_rate=RATE) as sb:
        conn = _connect(sb)
        templates = sb.store["sms_templates"]
        for i in range(16):  # enough rows that some answers are certainly lost
            templates.put(
                {"template_id": templates.new_id(), "template_name": f"t{i}", "body": "b"}
            )
        ids = sorted(int(r["template_id"]) for r in templates.rows.values())
        assert len(ids) >= 20
        sb.reset_log()
        report = _report(conn, "UPDATE sms_templates SET body = 'changed' WHERE template_id IN "
                         f"({', '.join(map(str, ids))})")  # fmt: skip
        if isinstance(report, writer.WriteReport):  # only when a retry budget ran out
            assert not report.failed
        bodies = {int(r["template_id"]): r["body"] for r in sb.store["sms_templates"].rows.values()}
        assert all(bodies[i] == "changed" for i in ids)
        puts = _per_path(sb, "PUT")
        assert max(puts.values()) > 1, "a lost answer of an idempotent PUT was retried"

        sb.reset_log()
        report = _report(conn, "DELETE FROM sms_templates WHERE template_id IN "
                         f"({', '.join(map(str, ids))})")  # fmt: skip
        left = {int(r["template_id"]) for r in sb.store["sms_templates"].rows.values()}
        assert not left & set(ids), "every row is gone"
        if isinstance(report, writer.WriteReport):
            assert not report.failed, "a retried DELETE that gets 404 is done, not failed"
        else:
            assert report.rowcount == len(ids)
        deletes = _per_path(sb, "DELETE")
        retried = [p for p, n in deletes.items() if n > 1]
        assert retried, "some DELETE lost its answer, was retried and found the row gone (404)"
        conn.close()


def test_cancel_sms_is_never_retried_and_reported_honestly():
    with Sandbox(seed=13, scale=0.05, drop_after_rate=0.5) as sb:
        conn = _connect(sb)
        history = sb.store["sms_history"]
        scheduled = [r["message_id"] for r in history.rows.values() if r["status"] == "Scheduled"]
        assert len(scheduled) >= 3
        sb.reset_log()
        outcomes = {}
        for mid in scheduled:
            try:
                conn.execute("CALL CancelSMS(:m)", {"m": mid})
                outcomes[mid] = "written"
            except OutcomeUnknownError as e:
                assert e.report.unknown and e.requests[0].path == f"/sms/{mid}/cancel"
                outcomes[mid] = "unknown"
        assert set(outcomes.values()) == {"written", "unknown"}
        by_id = {r["message_id"]: r for r in history.rows.values()}
        assert all(by_id[m]["status"] == "Cancelled" for m in outcomes)  # applied before lost
        puts = _per_path(sb, "PUT")
        assert all(puts[f"/v3/sms/{m}/cancel"] == 1 for m in scheduled), "never resent"
        conn.close()


def test_copy_contact_is_never_retried_and_counts_match():
    with Sandbox(seed=14, scale=0.05, drop_after_rate=0.5) as sb:
        conn = _connect(sb)
        contacts = sb.store["contacts"]
        lists = sorted({int(r["list_id"]) for r in contacts.rows.values()})
        source, target = lists[0], lists[1]
        todo = [int(r["contact_id"]) for r in contacts.rows.values() if int(r["list_id"]) == source]
        before = sum(1 for r in contacts.rows.values() if int(r["list_id"]) == target)
        sb.reset_log()
        outcomes = collections.Counter()
        for cid in todo:
            try:
                conn.execute("CALL CopyContactToList(:a, :c, :b)",
                             {"a": source, "c": cid, "b": target})  # fmt: skip
                outcomes["written"] += 1
            except OutcomeUnknownError:
                outcomes["unknown"] += 1
        after = sum(1 for r in contacts.rows.values() if int(r["list_id"]) == target)
        assert outcomes["written"] and outcomes["unknown"]
        # every copy reached the sandbox exactly once: written ones surely, unknown ones too
        assert after - before == outcomes["written"] + outcomes["unknown"] == len(todo)
        puts = _per_path(sb, "PUT")
        assert sum(puts.values()) == len(todo) and max(puts.values()) == 1, "never resent"
        conn.close()


def test_sandbox_knob_validation_and_cli_flag():
    assert _parser().parse_args(["--drop-after-rate", "0.25"]).drop_after_rate == 0.25
    assert sandbox_main(["--drop-after-rate", "1.5"]) == 2
    with pytest.raises(ValueError, match="drop_after_rate"):
        Sandbox(drop_after_rate=2)


def test_lost_answers_are_seeded():
    def run() -> list[int]:
        with Sandbox(seed=15, scale=0.05, drop_after_rate=RATE) as sb:
            conn = _connect(sb)
            report = _report(conn, "INSERT INTO sms_templates (template_name, body) VALUES "
                             + ", ".join(f"('s{i}', 'b')" for i in range(12)))  # fmt: skip
            conn.close()
            return [r.row for r, _ in report.unknown]

    assert run() == run()


# --- the client's rules, one by one (MockTransport) -------------------------------------------


def _client(responses) -> tuple[Client, list[httpx.Request]]:
    """A client whose transport answers from `responses` (a Response, or an exception to raise)."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    client = Client(
        f"u{next(_ACCOUNTS)}",
        "key-123456",
        "https://example.invalid/v3",
        backoff=0.001,
        max_retries=3,
    )
    client._ensure()
    client._http = httpx.AsyncClient(
        base_url=client.base_url, transport=httpx.MockTransport(handle)
    )
    return client, seen


def _ok(body=None) -> httpx.Response:
    return httpx.Response(200, json=body or {"http_code": 200, "data": {}})


@pytest.mark.parametrize(
    "fault",
    [
        httpx.Response(502),
        httpx.Response(503),
        httpx.Response(504),
        httpx.Response(500),
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("gone"),
        httpx.ReadError("reset"),
        httpx.WriteTimeout("slow"),
    ],
    ids=lambda f: getattr(f, "status_code", type(f).__name__),
)
@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/sms/send"),
        ("PUT", "/recharge/purchase/5"),
        ("PUT", "/sms/abc/cancel"),
        ("PUT", "/lists/1/contacts/2/copy/3"),
        ("POST", "/lists/1/contacts"),
    ],
)
def test_unsafe_requests_are_never_resent_and_unknown(fault, method, path):
    client, seen = _client([fault, _ok()])
    with pytest.raises(OutcomeUnknownError) as info:
        asyncio.run(client.request(method, path, body={"x": 1}))
    assert len(seen) == 1
    assert (info.value.method, info.value.path) == (method, path)
    assert "outcome unknown" in str(info.value) and "not safe to repeat" in str(info.value)


@pytest.mark.parametrize("method,path", [("PUT", "/lists/1/contacts/2"), ("DELETE", "/lists/1"),
                                         ("GET", "/sms/history")])  # fmt: skip
def test_safe_requests_are_retried(method, path):
    client, seen = _client([httpx.Response(503), httpx.ReadTimeout("slow"), _ok()])
    asyncio.run(client.request(method, path))
    assert len(seen) == 3 and client.stats.retries == 2


def test_safe_write_whose_every_attempt_is_lost_is_unknown_and_a_read_is_a_service_error():
    client, seen = _client([httpx.Response(502)])
    with pytest.raises(OutcomeUnknownError, match="retried, but no attempt got an answer"):
        asyncio.run(client.request("PUT", "/lists/1"))
    assert len(seen) == 4
    client, seen = _client([httpx.Response(502)])
    with pytest.raises(ServiceError) as info:
        asyncio.run(client.request("GET", "/lists/1"))
    assert not isinstance(info.value, OutcomeUnknownError)


def test_refused_before_processing_is_retried_for_everything():
    client, seen = _client([httpx.Response(429, headers={"Retry-After": "0"}), _ok()])
    asyncio.run(client.request("POST", "/sms/send", body={"messages": []}))
    assert len(seen) == 2
    client, seen = _client([httpx.ConnectError("refused"), _ok()])
    asyncio.run(client.request("PUT", "/recharge/purchase/5"))
    assert len(seen) == 2, "a connection that never opened sent nothing: safe to try again"


def test_delete_retried_into_404_is_written_and_a_first_404_failed():
    gone = httpx.Response(404, json={"http_code": 404, "response_msg": "not found"})
    client, seen = _client([httpx.RemoteProtocolError("gone"), gone])
    req = WriteRequest("DELETE", "/lists/7", None, 1)
    report = asyncio.run(writer.send(client, [req]))
    assert [r for r, _ in report.written] == [req] and not report.failed and len(seen) == 2
    client, seen = _client([gone])
    report = asyncio.run(writer.send(client, [req]))
    assert [r for r, _ in report.failed] == [req] and not report.written


def test_writer_stops_at_an_unknown_outcome_and_raises_it():
    client, _seen = _client([_ok(), httpx.Response(502), _ok()])
    reqs = [WriteRequest("POST", "/sms/templates", {"template_name": str(i)}, i) for i in (1, 2, 3)]
    report = asyncio.run(writer.send(client, reqs))
    assert [r.row for r, _ in report.written] == [1]
    assert [r.row for r, _ in report.unknown] == [2]
    assert [r.row for r in report.not_attempted] == [3]
    assert "1 outcome unknown" in report.summary()
    with pytest.raises(OutcomeUnknownError) as info:
        writer.raise_for_failures("INSERT sms_templates", report)
    assert info.value.report is report and [r.row for r in info.value.requests] == [2]
    assert isinstance(info.value, csql.OperationalError)
