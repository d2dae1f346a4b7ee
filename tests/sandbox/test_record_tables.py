"""The record-returning endpoints added from the official specs (issue 11): default senders,
compliant sender types, short-URL statistics and tracking, MMS receipts, SMS templates by id."""

from __future__ import annotations

import pytest

import csql


@pytest.fixture(scope="module")
def conn(sandbox):
    c = csql.connect(sandbox.username, sandbox.api_key, sandbox.base_url, requests_per_second=0)
    yield c
    c.close()


def test_default_senders_one_per_country(conn):
    rows = conn.execute("SELECT country_code, product_type, status FROM default_senders").fetchall()
    assert rows and len({r[0] for r in rows}) == len(rows)
    assert all(r[1] == "SMS" and r[2] == "ENABLED" for r in rows)


def test_compliant_sender_types_need_the_product_type(conn):
    rows = conn.execute(
        "SELECT recipient_country_code, blocked_sender_types FROM compliant_sender_types"
        " WHERE product_type = 'SMS' AND recipient_country_code = 'US'"
    ).fetchall()
    assert rows == [("US", '["alpha_tag","own_number"]')]
    with pytest.raises(csql.Error, match=r"product_type = 'SMS'"):
        conn.execute("SELECT * FROM compliant_sender_types").fetchall()


def test_short_url_statistics_lead_to_tracking(conn, sandbox):
    stats = conn.execute(
        "SELECT long_url_id, CAST(links->>'total' AS INT) FROM short_url_statistics"
        " WHERE source = 'quick_sms' AND source_id = 'C557A3D1-0000-4000-8000-000000000001'"
    ).fetchall()
    assert stats and all(total >= 1 for _, total in stats)
    sandbox.reset_log()
    opens = conn.execute(
        "SELECT count(*) FROM short_url_tracking WHERE long_url_id = :id", {"id": stats[0][0]}
    ).fetchone()[0]
    assert opens >= 0
    assert [r.path for r in sandbox.request_log] == [f"/v3/short-url/tracking/{stats[0][0]}"]
    with pytest.raises(csql.ProgrammingError, match="source"):
        conn.execute("SELECT * FROM short_url_statistics").fetchall()


def test_mms_receipts_are_a_table(conn):
    rows = conn.execute("SELECT message_id, status_code FROM mms_receipts LIMIT 5").fetchall()
    assert rows and all(r[0] for r in rows)


def test_sms_template_by_id_is_one_get(conn, sandbox):
    template_id = conn.execute("SELECT min(template_id) FROM sms_templates").fetchone()[0]
    sandbox.reset_log()
    body = conn.execute(
        "SELECT body FROM sms_templates WHERE template_id = :t", {"t": template_id}
    ).fetchone()[0]
    assert body
    assert [r.path for r in sandbox.request_log] == [f"/v3/sms/templates/{template_id}"]
