"""The read cache (cache_ttl): repeated and narrower reads send nothing, writes through csql
are seen at once, entries never cross accounts, the TTL and cache_clear() work."""

from __future__ import annotations

import time

import duckdb
import pytest

import csql
from csql.errors import OperationalError
from csql.sandbox import Sandbox
from csql.sync.cache import CACHE, account_key
from tests.sync_helpers import api, connect


@pytest.fixture
def sb():
    with Sandbox(seed=6, scale=0.5) as s:
        yield s


def requests_of(sb, run) -> tuple[int, object]:
    sb.reset_log()
    result = run()
    return len(sb.request_log.snapshot()), result


def rows(conn, sql):
    return sorted(conn.execute(sql).fetchall(), key=repr)


def test_a_repeated_read_sends_nothing(sb):
    conn = connect(sb, cache_ttl=60)
    n, _ = requests_of(sb, lambda: rows(conn, "SELECT * FROM contacts"))
    assert n > 1
    for sql in ("SELECT * FROM contacts", "SELECT count(*) FROM sms_history",
                "SELECT * FROM sms_history ORDER BY date DESC LIMIT 5"):  # fmt: skip
        rows(conn, sql)
        n, _ = requests_of(sb, lambda sql=sql: rows(conn, sql))
        assert n == 0, sql


def test_narrower_reads_are_answered_from_the_cached_superset(sb):
    cached, plain = connect(sb, cache_ttl=60), connect(sb)
    rows(cached, "SELECT * FROM contacts")
    rows(cached, "SELECT * FROM sms_history")
    lid = plain.execute("SELECT min(list_id) FROM lists").fetchall()[0][0]
    narrower = [
        f"SELECT contact_id, first_name FROM contacts WHERE list_id = {lid}",  # a path key, fewer columns
        f"SELECT * FROM contacts WHERE list_id = {lid} AND first_name ILIKE 'a%'",  # q pushed
        "SELECT * FROM contacts WHERE date_updated >= TIMESTAMP '2024-06-01 00:00:00'",
        "SELECT message_id FROM sms_history WHERE date >= TIMESTAMP '2024-09-01 00:00:00'",
    ]
    for sql in narrower:
        n, got = requests_of(sb, lambda sql=sql: rows(cached, sql))
        assert n == 0, sql
        assert got == rows(plain, sql), sql


def test_a_write_through_csql_is_seen_immediately(sb):
    conn = connect(sb, cache_ttl=600)
    lid = conn.execute("SELECT min(list_id) FROM lists").fetchall()[0][0]
    before = conn.execute(f"SELECT count(*) FROM contacts WHERE list_id = {lid}").fetchall()[0][0]
    counted = conn.execute(f"SELECT _contacts_count FROM lists WHERE list_id = {lid}").fetchall()[
        0
    ][0]
    rows(conn, "SELECT * FROM contacts")
    conn.execute(
        f"INSERT INTO contacts (list_id, phone_number, first_name) VALUES ({lid}, '+61411000222', 'Cached')"
    )
    after = conn.execute(f"SELECT count(*) FROM contacts WHERE list_id = {lid}").fetchall()[0][0]
    assert after == before + 1
    found = conn.execute("SELECT count(*) FROM contacts WHERE first_name = 'Cached'").fetchall()[0][
        0
    ]
    assert found == 1
    # lists derive their counts from contacts (invalidates: [lists] in the catalog)
    assert (
        conn.execute(f"SELECT _contacts_count FROM lists WHERE list_id = {lid}").fetchall()[0][0]
        == counted + 1
    )
    conn.execute("DELETE FROM contacts WHERE first_name = 'Cached'")
    assert (
        conn.execute("SELECT count(*) FROM contacts WHERE first_name = 'Cached'").fetchall()[0][0]
        == 0
    )


def test_a_send_drops_the_account_entries(sb):
    conn = connect(sb, cache_ttl=600)
    n_before = conn.execute("SELECT count(*) FROM sms_history").fetchall()[0][0]
    conn.execute("CALL SendSMS(to => '+61411000333', body => 'hello')")
    assert conn.execute("SELECT count(*) FROM sms_history").fetchall()[0][0] == n_before + 1


def test_off_by_default_ttl_expiry_and_cache_clear(sb):
    off = connect(sb)
    rows(off, "SELECT * FROM lists")
    assert requests_of(sb, lambda: rows(off, "SELECT * FROM lists"))[0] == 1
    short = connect(sb, cache_ttl=0.3)
    rows(short, "SELECT * FROM lists")
    assert requests_of(sb, lambda: rows(short, "SELECT * FROM lists"))[0] == 0
    time.sleep(0.4)
    assert requests_of(sb, lambda: rows(short, "SELECT * FROM lists"))[0] == 1
    conn = connect(sb, cache_ttl=60)
    rows(conn, "SELECT * FROM lists")
    conn.cache_clear()
    assert requests_of(sb, lambda: rows(conn, "SELECT * FROM lists"))[0] == 1


def test_changes_outside_csql_wait_for_the_ttl_but_replicate_reads_fresh(sb, tmp_path):
    conn = connect(sb, cache_ttl=600)
    lid = conn.execute("SELECT min(list_id) FROM lists").fetchall()[0][0]
    with api(sb) as http:
        http.put(f"/lists/{lid}", json={"list_name": "Renamed outside"}).raise_for_status()
    reports = conn.replicate(str(tmp_path / "r.duckdb"), ["lists"])
    assert reports["lists"].requests >= 1
    with duckdb.connect(str(tmp_path / "r.duckdb")) as d:
        assert d.execute(f"SELECT list_name FROM lists WHERE list_id = {lid}").fetchall() == [
            ("Renamed outside",)
        ]


def test_entries_never_cross_accounts(sb):
    good = connect(sb, cache_ttl=600)
    rows(good, "SELECT * FROM lists")
    impostor = csql.connect(sb.username, "not-the-key", sb.base_url, cache_ttl=600)
    with pytest.raises(OperationalError):
        impostor.execute("SELECT * FROM lists").fetchall()

    class C:
        base_url, username = sb.base_url, sb.username

    a, b = C(), C()
    a._api_key, b._api_key = "k1", "k2"
    assert account_key(a) != account_key(b)
    assert all("not-the-key" not in str(k) and sb.api_key not in str(k) for k in CACHE._entries)


def test_renaming_a_list_refreshes_its_contacts_names(sb):
    conn = connect(sb, cache_ttl=600)
    lid = conn.execute("SELECT min(list_id) FROM lists").fetchall()[0][0]
    rows(conn, "SELECT * FROM contacts")
    conn.execute(f"UPDATE lists SET list_name = 'Renamed list' WHERE list_id = {lid}")
    names = conn.execute(
        f"SELECT DISTINCT _list_name FROM contacts WHERE list_id = {lid}"
    ).fetchall()
    assert names == [("Renamed list",)]


def test_shell_cache_command(sb):
    from csql.sync.shell_cache import cache_command

    conn = connect(sb)
    session = conn._live()
    assert cache_command(session, "")[1].startswith("cache off")
    ok, text = cache_command(session, "on")
    assert ok and "kept 60 s" in text
    rows(conn, "SELECT * FROM lists")
    assert requests_of(sb, lambda: rows(conn, "SELECT * FROM lists"))[0] == 0
    assert cache_command(session, "ttl 5")[1].startswith("cache on: pages are kept 5 s")
    assert cache_command(session, "clear")[0]
    assert requests_of(sb, lambda: rows(conn, "SELECT * FROM lists"))[0] == 1
    assert cache_command(session, "off")[1].startswith("cache off")
    assert requests_of(sb, lambda: rows(conn, "SELECT * FROM lists"))[0] == 1
    assert cache_command(session, "ttl soon") == (
        False,
        "'soon' is not a number of seconds; .cache [on|off|clear|ttl SECONDS]",
    )
