"""Hostile SQL and values through cursor.execute: every failure is a PEP 249 error
(csql.Error, and never InternalError, which would be csql's own bug), never a bare Python
exception, a RecursionError or a hang. Deep nesting is refused up front with a clear message.
"""

from __future__ import annotations

import datetime as dt
import decimal
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import csql
from csql.sandbox import Sandbox

NOWHERE = "http://127.0.0.1:9/v3"
HOSTILE_CHARS = "\x00\x01\x07\x1b\x7f\u202e\u200f\u0301\u0000\ufeff\ud7ff\U0001f600'\"`;:$\\%/.#?"
CASES = {"tried": 0}


def hostile_text() -> st.SearchStrategy[str]:
    alphabet = st.sampled_from(HOSTILE_CHARS) | st.characters(codec="utf-8")
    return st.one_of(
        st.text(alphabet, max_size=40),
        st.sampled_from([".", "..", "%2e", "%2e%2e", "/", "?", "#", "", " ", "1 OR 1=1",
                         "x" * 100_000, "\u202eevil", "e\u0301", "a\x00b", "$$", "'; --"]),
    )  # fmt: skip


def hostile_values() -> st.SearchStrategy:
    return st.one_of(
        hostile_text(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=True, allow_infinity=True),
        st.decimals(allow_nan=False, allow_infinity=False, places=3),
        st.booleans(),
        st.none(),
        st.binary(max_size=20),
        st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
        st.dates(),
        st.lists(st.integers(-5, 5) | hostile_text(), max_size=5),
        st.dictionaries(st.text(string.ascii_letters, max_size=5), st.integers(), max_size=3),
    )


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=9, scale=0.2) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def conn(sb):
    c = csql.connect(sb.username, sb.api_key, sb.base_url, max_retries=0)
    yield c
    c.close()


def run(conn, sql, params=None):
    """Execute and fetch; a failure must be a csql error that is not csql's own bug."""
    CASES["tried"] += 1
    try:
        cur = conn.execute(sql, params)
        if cur.description is not None:
            cur.fetchall()
    except csql.InternalError as e:  # pragma: no cover - shows the bug
        raise AssertionError(f"csql bug on {sql[:200]!r} {params!r:.200}: {e}") from e
    except csql.Error:
        pass


#: statements with one :v; none of them sends a write (EXPLAIN, reads, WHERE that matches nothing)
TEMPLATES = [
    "SELECT :v AS x",
    "SELECT count(*) FROM sms_templates WHERE template_name = :v",
    "SELECT * FROM sms_templates WHERE body LIKE :v",
    "SELECT * FROM contacts WHERE list_id = :v",
    "SELECT count(*) FROM available_numbers WHERE country = :v",
    "SELECT * FROM sms_history WHERE date > :v",
    "EXPLAIN CALL CancelSMS(:v)",
    "EXPLAIN CALL SendSMS(:v, :v, :v)",
    "EXPLAIN CALL SendSMS(body => 'x', \"from\" => 'csql', to => '+61411111111', schedule => :v)",
    "EXPLAIN UPDATE sms_templates SET body = :v WHERE template_id = -1",
    "EXPLAIN INSERT INTO sms_templates (template_name, body) VALUES (:v, :v)",
    "SELECT * FROM sms_templates WHERE template_id IN (SELECT :v)",
    "SELECT * FROM contacts WHERE list_id = 1 AND contact_id = :v",
    "SELECT * FROM sms_history WHERE message_id = :v",
    "CALL CancelSMS(:v)",  # a real call: a hostile id must be refused or answered, never crash
    "CALL MarkSpecificInboundSMSAsRead(:v)",
    "SELECT * FROM sms_templates WHERE template_name IN (:v, :v, :v)",
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(template=st.sampled_from(TEMPLATES), value=hostile_values())
def test_hostile_values(conn, template, value):
    run(conn, template, {"v": value})


SQL_PIECES = st.sampled_from([
    "SELECT", "FROM", "WHERE", "sms_templates", "contacts", "sys_tables", "(", ")", "[", "]",
    "{", "}", ",", ";", "'", "''", '"', "$$", "--", "/*", "*/", ":", "::", ":v", "?", "$1",
    "CALL", "EXPLAIN", "INSERT OR REPLACE INTO", "VALUES", "IN", "*", "1", "NULL", "=", "AND",
    "OR", "NOT", "LIKE", "read_csv('/etc/passwd')", "COPY", "TO", "'x'", "=>", "\x00", "\u202e",
])  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(pieces=st.lists(SQL_PIECES | hostile_text(), max_size=25))
def test_hostile_sql_fragments(conn, pieces):
    run(conn, " ".join(pieces), {"v": 1} if ":v" in pieces else None)


# -- bounded input ------------------------------------------------------------------------------


def test_deep_parentheses_are_a_clear_error():
    conn = csql.connect("u", "k", NOWHERE)
    with pytest.raises(csql.ProgrammingError, match="more than 32 deep"):
        conn.execute("SELECT " + "(" * 5000 + "1" + ")" * 5000)


def test_deeply_nested_subqueries_are_a_clear_error(conn):
    nested = "SELECT template_id FROM sms_templates"
    for _ in range(60):
        nested = f"SELECT template_id FROM sms_templates WHERE template_id IN ({nested})"
    with pytest.raises(csql.ProgrammingError, match="subqueries more than 32 deep"):
        conn.execute(nested)
    with pytest.raises(csql.ProgrammingError, match="subqueries more than 32 deep"):
        conn.execute("EXPLAIN " + nested)


def test_moderate_nesting_still_works(conn):
    assert conn.execute("SELECT " + "(" * 32 + "1" + ")" * 32).fetchone() == (1,)
    assert conn.execute("SELECT " + "[" * 32 + "1" + "]" * 32).fetchone() is not None
    nested = "SELECT 1 AS x"
    for _ in range(10):
        nested = f"SELECT x FROM ({nested}) WHERE x IN (SELECT 1)"
    assert conn.execute(nested).fetchone() == (1,)


@pytest.mark.slow
def test_long_expression_chains_are_a_clear_error():
    conn = csql.connect("u", "k", NOWHERE)
    with pytest.raises(csql.ProgrammingError):
        conn.execute("SELECT " + " + ".join(["1"] * 20000))


def test_bad_timestamp_argument_is_a_data_error(conn):
    with pytest.raises((csql.DataError, csql.ProgrammingError)):
        conn.execute(
            "EXPLAIN CALL SendSMS(body => 'x', \"from\" => 'csql', to => '+61411111111', "
            "schedule => 'tomorrow')"
        )


def test_values_are_bound_not_spliced(conn):
    for value in ("'; DROP TABLE x; --", "$$ :v $$", "\x00", "x" * 100_000):
        assert conn.execute("SELECT :v AS v", {"v": value}).fetchone() == (value,)


def test_huge_in_list_is_answered(conn):
    ids = ", ".join(str(i) for i in range(3000))
    got = conn.execute(f"SELECT count(*) FROM (SELECT 1 AS x) WHERE x IN ({ids})").fetchone()
    assert got == (1,)


def test_decimal_and_big_integers(conn):
    assert conn.execute("SELECT :v AS v", {"v": decimal.Decimal("1.50")}).fetchone()[0] == (
        decimal.Decimal("1.50")
    )
    run(conn, "SELECT :v AS v", {"v": 2**70})
