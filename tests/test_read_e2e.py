"""End to end through the DB-API against the sandbox: reads, errors, retries, streaming."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal

import pytest

import csql
from csql.sandbox import Sandbox


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=3, scale=1) as sandbox:
        yield sandbox


@pytest.fixture
def conn(sb):
    c = csql.connect(sb.username, sb.api_key, sb.base_url)
    yield c
    c.close()


def test_types_in_description_and_values(conn):
    cur = conn.execute(
        "SELECT message_id, date, message_price, subaccount_id FROM sms_history LIMIT 3"
    )
    names = [d[0] for d in cur.description]
    codes = [d[1] for d in cur.description]
    assert names == ["message_id", "date", "message_price", "subaccount_id"]
    assert codes[0] == csql.STRING and codes[1] == csql.DATETIME and codes[2] == csql.NUMBER
    assert codes[3] == csql.NUMBER
    row = cur.fetchone()
    assert isinstance(row[1], dt.datetime) and row[1].tzinfo is not None
    assert isinstance(row[2], decimal.Decimal)
    assert len(cur.fetchall()) == 2
    assert cur.fetchone() is None


def test_fetchmany_arraysize_iteration_and_rowcount(conn):
    cur = conn.cursor()
    cur.execute("SELECT * FROM lists ORDER BY list_id")
    total = cur.rowcount
    assert total > 2
    cur.arraysize = 2
    assert len(cur.fetchmany()) == 2
    assert len(list(cur)) == total - 2


def test_arrow_and_pandas(conn):
    cur = conn.execute("SELECT list_id, list_name FROM lists ORDER BY list_id")
    table = cur.fetch_arrow_table()
    assert table.column_names == ["list_id", "list_name"]
    df = conn.execute("SELECT list_id FROM lists").fetchdf()
    assert len(df) == table.num_rows


def test_json_columns_are_json(conn):
    cur = conn.execute("SELECT json_type(_currency) FROM account")
    assert cur.fetchone()[0] in ("OBJECT", "NULL", None)


def test_unknown_column_is_a_programming_error(conn):
    with pytest.raises(csql.ProgrammingError, match="first_nam") as e:
        conn.execute("SELECT first_nam FROM contacts WHERE list_id = 1")
    assert "__csql" not in str(e.value)


def test_bad_credentials_say_what_to_check(sb):
    c = csql.connect(sb.username, "wrong-secret-key", sb.base_url)
    with pytest.raises(
        csql.OperationalError, match="CLICKSEND_USERNAME and CLICKSEND_API_KEY"
    ) as e:
        c.execute("SELECT * FROM lists")
    assert "wrong-secret-key" not in str(e.value)
    c.close()


def test_unreachable_server_is_operational_error():
    c = csql.connect("u", "k", "http://127.0.0.1:9/v3", max_retries=1, backoff=0.01)
    with pytest.raises(csql.OperationalError, match="could not reach ClickSend"):
        c.execute("SELECT * FROM lists")
    c.close()


def test_unknown_option_is_refused():
    with pytest.raises(csql.ProgrammingError, match="unknown connection option"):
        csql.connect("u", "k", "http://127.0.0.1:9/v3", concurency=3)


def test_get_by_missing_id_is_no_row(conn, sb):
    sb.reset_log()
    assert conn.execute("SELECT * FROM lists WHERE list_id = 999999999").fetchall() == []
    assert len(sb.request_log) == 1


def test_streamed_limit_stops_fetching():
    with Sandbox(seed=5, scale=3) as big:
        c = csql.connect(big.username, big.api_key, big.base_url, concurrency=2)
        total = c.execute("SELECT count(*) FROM sms_history").fetchone()[0]
        assert total > 1000
        big.reset_log()
        rows = c.execute("SELECT * FROM sms_history WHERE body LIKE '%e%' LIMIT 3").fetchall()
        assert len(rows) == 3
        assert len(big.request_log) <= 4, "a satisfied LIMIT must stop the paging"
        c.close()


def test_rate_limit_429_is_retried():
    q = "SELECT count(*) FROM contacts c JOIN lists l USING (list_id)"
    with Sandbox(seed=1, scale=1, rate_limit=5) as limited, Sandbox(seed=1, scale=1) as steady:
        c = csql.connect(limited.username, limited.api_key, limited.base_url,
                         requests_per_second=1000, concurrency=8)  # fmt: skip
        ref = csql.connect(steady.username, steady.api_key, steady.base_url)
        assert c.execute(q).fetchall() == ref.execute(q).fetchall()
        assert c.stats.retries > 0, "the sandbox answered 429 and csql waited and retried"
    # with no retries allowed, the 429 surfaces as a clear OperationalError (a fresh account:
    # connections of one account share what the limiter learned, so `c`'s would not meet it)
    with Sandbox(seed=1, scale=1, rate_limit=5) as fresh:
        impatient = csql.connect(fresh.username, fresh.api_key, fresh.base_url,
                                 requests_per_second=1000, max_retries=0)  # fmt: skip
        with pytest.raises(csql.OperationalError, match="429"):
            for _ in range(3):
                impatient.execute("SELECT count(*) FROM contacts")
    for conn in (c, ref, impatient):
        conn.close()


def test_server_faults_are_retried_for_reads():
    with Sandbox(seed=1, scale=1, fail_rate=0.2) as flaky, Sandbox(seed=1, scale=1) as steady:
        a = csql.connect(flaky.username, flaky.api_key, flaky.base_url, backoff=0.01, max_retries=8)
        b = csql.connect(steady.username, steady.api_key, steady.base_url)
        # every page of every list is read (a grouped count could come from the lists' counts)
        q = "SELECT list_id, contact_id, phone_number FROM contacts ORDER BY 1, 2"
        assert a.execute(q).fetchall() == b.execute(q).fetchall()
        assert a.stats.retries > 0, "faults were injected and retried"
        a.close()
        b.close()


def test_works_inside_a_running_event_loop(sb):
    async def inside() -> int:
        c = csql.connect(sb.username, sb.api_key, sb.base_url)
        n = c.execute("SELECT count(*) FROM lists").fetchone()[0]
        c.close()
        return n

    assert asyncio.run(inside()) > 0


def test_explain_sends_nothing(conn, sb):
    sb.reset_log()
    rows = conn.execute("EXPLAIN SELECT * FROM contacts WHERE list_id = 3").fetchall()
    assert len(sb.request_log) == 0
    assert rows[0][3:6] == ("GET", "/lists/3/contacts", "page=1..&limit=100")
    assert rows[-1][2] == "duckdb"


def test_explain_of_every_shortcut_validates_without_sending(conn, sb):
    sb.reset_log()
    for sql in ("SELECT count(*) FROM contacts WHERE list_id = 3", "SELECT * FROM sms_history LIMIT 5 OFFSET 200",
                "SELECT * FROM lists WHERE list_id = 1", "SELECT * FROM sms_history WHERE status = 'Failed' LIMIT 2"):  # fmt: skip
        assert conn.execute("EXPLAIN " + sql).fetchall()[-1][2] == "duckdb"
    assert len(sb.request_log) == 0
    with pytest.raises(csql.ProgrammingError, match="nope"):
        conn.execute("EXPLAIN SELECT nope FROM contacts WHERE list_id = 3")


def test_closed_cursor_and_connection(sb):
    c = csql.connect(sb.username, sb.api_key, sb.base_url)
    cur = c.cursor()
    cur.close()
    with pytest.raises(csql.InterfaceError):
        cur.execute("SELECT 1")
    c.close()
    with pytest.raises(csql.InterfaceError):
        c.cursor()
