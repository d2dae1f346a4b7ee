"""Metadata through SQL: sys_tables, sys_columns, sys_procedures, SHOW TABLES, DESCRIBE.

None of it may send an HTTP request, so every test here runs with sockets disabled.
"""

from __future__ import annotations

import socket

import pytest

import csql


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a metadata query tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def cur(no_network):
    conn = csql.connect(username="u", api_key="secret-key-123", base_url="http://127.0.0.1:9/v3")
    yield conn.cursor()
    conn.close()


def test_sys_tables(cur, catalog):
    cur.execute("SELECT table_name, aliases, operations, endpoint, description FROM sys_tables")
    rows = {r[0]: r for r in cur.fetchall()}
    assert len(rows) == len(catalog.tables)
    _, aliases, ops, endpoint, desc = rows["contacts"]
    assert aliases == ["Contacts"]
    assert ops == ["SELECT", "INSERT", "UPDATE", "DELETE"]
    assert endpoint == "GET /lists/{list_id}/contacts"
    assert desc
    assert rows["email_addresses"][2] == ["SELECT", "INSERT", "DELETE"]


def test_sys_tables_with_duckdb_sql(cur):
    cur.execute(
        "SELECT table_name FROM sys_tables WHERE list_contains(operations, 'DELETE') "
        "AND list_contains(aliases, 'SMSTemplates')"
    )
    assert cur.fetchall() == [("sms_templates",)]


def test_sys_columns(cur):
    cur.execute(
        "SELECT column_name, data_type, nullable, is_key, searchable, sortable, "
        "required_on_insert, read_only FROM sys_columns WHERE table_name = 'contacts' "
        "ORDER BY ordinal_position"
    )
    cols = {r[0]: r for r in cur.fetchall()}
    assert cols["contact_id"][1:4] == ("BIGINT", False, True)
    assert cols["contact_id"][7] is True  # read-only
    assert cols["list_id"][3] is True and cols["list_id"][6] is True
    assert cols["phone_number"][6] is True  # one of phone/fax/email is required
    assert cols["date_added"][1] == "TIMESTAMP WITH TIME ZONE"


def test_sys_procedures(cur):
    cur.execute(
        "SELECT procedure_name, parameters, method, endpoint FROM sys_procedures "
        "WHERE procedure_name = 'SendSMS'"
    )
    name, params, method, endpoint = cur.fetchone()
    assert (name, method, endpoint) == ("SendSMS", "POST", "/sms/send")
    assert [p["name"] for p in params][:3] == ["from", "body", "to"] or {
        p["name"] for p in params
    } >= {"from", "body", "to"}


def test_show_tables(cur, catalog):
    cur.execute("SHOW TABLES")
    names = [r[0] for r in cur.fetchall()]
    assert "contacts" in names and "sys_tables" in names
    assert len(names) == len(catalog.tables) + 3


@pytest.mark.parametrize("name", ["contacts", "Contacts", "CONTACTS", '"Contacts"'])
def test_describe_table_or_alias(cur, name):
    cur.execute(f"DESCRIBE {name}")
    assert [d[0] for d in cur.description][:3] == ["column_name", "column_type", "null"]
    rows = {r[0]: r for r in cur.fetchall()}
    assert rows["contact_id"][3] == "PRI"
    assert rows["list_id"][3] == "PATH"


def test_describe_unknown_table_suggests(cur):
    with pytest.raises(csql.ProgrammingError, match="did you mean contacts"):
        cur.execute("DESCRIBE contact")


def test_clicksend_table_without_credentials_says_what_to_set(no_network):
    conn = csql.connect(username="", api_key="", base_url="http://127.0.0.1:9/v3")
    with pytest.raises(csql.OperationalError, match="CLICKSEND_USERNAME and CLICKSEND_API_KEY"):
        conn.cursor().execute("SELECT * FROM lists")
    conn.close()


def test_unknown_table_suggests(cur):
    with pytest.raises(csql.ProgrammingError, match=r"unknown table 'smstemplate'.*sms_templates"):
        cur.execute("SELECT * FROM smstemplate")


def test_bad_sql(cur):
    with pytest.raises(csql.ProgrammingError, match="syntax error"):
        cur.execute("SELEC * FROM sys_tables")


def test_named_parameters(cur):
    cur.execute("SELECT table_name FROM sys_tables WHERE table_name = :t", {"t": "lists"})
    assert cur.fetchall() == [("lists",)]
    with pytest.raises(csql.ProgrammingError, match=":t"):
        cur.execute("SELECT table_name FROM sys_tables WHERE table_name = :t")


def test_api_key_never_in_repr(no_network):
    conn = csql.connect(username="u", api_key="secret-key-123", base_url="http://127.0.0.1:9/v3")
    assert "secret-key-123" not in repr(conn)
    assert "secret-key-123" not in repr(conn.cursor())


def test_connect_defaults_from_environment(monkeypatch, no_network):
    monkeypatch.setenv("CLICKSEND_USERNAME", "envuser")
    monkeypatch.setenv("CLICKSEND_API_KEY", "envkey")
    monkeypatch.delenv("CLICKSEND_BASE_URL", raising=False)
    conn = csql.connect()
    assert conn.username == "envuser"
    assert conn.base_url == "https://rest.clicksend.com/v3"
    monkeypatch.setenv("CLICKSEND_BASE_URL", "http://127.0.0.1:1/v3/")
    assert csql.connect().base_url == "http://127.0.0.1:1/v3"
