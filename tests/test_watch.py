"""watch: events for exactly the rows inserted, updated and deleted between two polls, nothing
on a poll without changes, at-least-once with stable ids, --since, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from csql.errors import ProgrammingError
from csql.sandbox import Sandbox
from csql.sync.watch import event_id
from tests.sync_helpers import change_contacts, connect


@pytest.fixture
def sb():
    with Sandbox(seed=4, scale=0.5) as s:
        yield s


def test_first_poll_starts_from_now_then_exactly_the_changes_then_nothing(sb, tmp_path):
    conn = connect(sb)
    state = str(tmp_path / "watch.duckdb")
    assert list(conn.watch("contacts", state=state, once=True)) == []
    changed = change_contacts(sb, conn)
    events = list(conn.watch("contacts", state=state, once=True))
    got = {(e["op"], e["key"]["contact_id"]) for e in events}
    assert got == {("insert", changed["inserted"]), ("update", changed["updated"]),
                   ("delete", changed["deleted"])}  # fmt: skip
    for e in events:
        assert set(e) == {"event_id", "op", "table", "key", "row", "observed_at"}
        assert e["table"] == "contacts" and e["row"]["contact_id"] == e["key"]["contact_id"]
        json.dumps(e)  # plain JSON
    update = next(e for e in events if e["op"] == "update")
    assert update["row"]["first_name"] == "Renamed"
    assert list(conn.watch("contacts", state=state, once=True)) == []


def test_state_advances_only_after_every_event_was_taken(sb, tmp_path):
    conn = connect(sb)
    state = str(tmp_path / "watch.duckdb")
    list(conn.watch("contacts", state=state, once=True))
    change_contacts(sb, conn)
    gen = conn.watch("contacts", state=state, once=True)
    first = next(gen)
    gen.close()  # the consumer died after one event: nothing was committed
    again = list(conn.watch("contacts", state=state, once=True))
    assert len(again) == 3
    assert first["event_id"] in {e["event_id"] for e in again}  # the same id: de-duplicable
    assert list(conn.watch("contacts", state=state, once=True)) == []


def test_where_and_since(sb, tmp_path):
    conn = connect(sb)
    lid = conn.execute("SELECT min(list_id) FROM lists").fetchall()[0][0]
    every = list(conn.watch("contacts", where=f"list_id = {lid}", once=True, since="all"))
    assert every and all(e["op"] == "insert" and e["row"]["list_id"] == lid for e in every)
    assert (
        len(every)
        == conn.execute(f"SELECT count(*) FROM contacts WHERE list_id = {lid}").fetchall()[0][0]
    )
    recent = list(conn.watch("sms_history", once=True, since="2100-01-01"))
    assert recent == []
    with pytest.raises(ProgrammingError, match="since"):
        list(conn.watch("sms_history", once=True, since="yesterday-ish"))
    with pytest.raises(ProgrammingError):
        list(conn.watch("contacts", where="no_such_column = 1", once=True))


def test_inbound_sms_trigger(sb, tmp_path):
    conn = connect(sb)
    state = str(tmp_path / "inbound.duckdb")
    assert list(conn.watch("sms_inbound", state=state, once=True)) == []
    inbound = sb.store["sms_inbound"]  # a reply arrives (ClickSend's side: no API creates one)
    with sb.store.lock:
        reply = {**inbound.scope(())[0], "message_id": "REPLY-0001", "body": "STOP"}
        inbound.put(reply)
    events = list(conn.watch("sms_inbound", state=state, once=True))
    assert [e["op"] for e in events] == ["insert"] and events[0]["row"]["body"] == "STOP"


def test_event_ids_are_stable():
    a = event_id("contacts", {"contact_id": 1}, "update", {"contact_id": 1, "first_name": "A"})
    assert a == event_id(
        "contacts", {"contact_id": 1}, "update", {"first_name": "A", "contact_id": 1}
    )
    assert a != event_id(
        "contacts", {"contact_id": 1}, "update", {"contact_id": 1, "first_name": "B"}
    )
    assert a != event_id(
        "contacts", {"contact_id": 1}, "insert", {"contact_id": 1, "first_name": "A"}
    )


def test_cli_watch_once_prints_json_lines(sb, tmp_path):
    state = tmp_path / "cli-watch.duckdb"
    args = [sys.executable, "-m", "csql.cli", "watch", "contacts", "--once", "--state", str(state),
            "--username", sb.username, "--api-key", sb.api_key, "--base-url", sb.base_url]  # fmt: skip
    first = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and first.stdout == "", first.stderr
    changed = change_contacts(sb, connect(sb))
    second = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    lines = [json.loads(line) for line in second.stdout.splitlines()]
    assert sorted(e["op"] for e in lines) == ["delete", "insert", "update"]
    assert {e["key"]["contact_id"] for e in lines} == {
        changed["inserted"],
        changed["updated"],
        changed["deleted"],
    }
