"""Metadata as the shell shows it: DESCRIBE says "one of phone_number, fax_number, email",
sys_columns covers the sys_* tables (and agrees with DuckDB's DESCRIBE of them), SHOW TABLES
is sorted, `.schema T` is DESCRIBE T, `.tables PATTERN` narrows; no request is sent."""

from __future__ import annotations

import io
import sys

import pytest

import csql
from csql.cli import main


@pytest.fixture(scope="module")
def conn():
    c = csql.connect()  # metadata needs no credentials and sends nothing
    yield c
    c.close()


def test_describe_marks_an_any_of_group(conn):
    rows = {r[0]: r for r in conn.execute("DESCRIBE contacts").fetchall()}
    names = [d[0] for d in conn.execute("DESCRIBE contacts").description]
    req = names.index("required_on_insert")
    assert rows["list_id"][req] == "required"
    for col in ("phone_number", "fax_number", "email"):
        assert rows[col][req] == "one of phone_number, fax_number, email"
    assert rows["first_name"][req] is None


@pytest.mark.parametrize("table", ["sys_tables", "sys_columns", "sys_procedures"])
def test_sys_columns_covers_the_metadata_tables(conn, table):
    described = {r[0]: r[1] for r in conn.execute(f"DESCRIBE {table}").fetchall()}
    listed = conn.execute(
        "SELECT column_name, data_type FROM sys_columns WHERE table_name = :t "
        "ORDER BY ordinal_position",
        {"t": table},
    ).fetchall()
    assert dict(listed) == described and [c for c, _ in listed] == list(described)
    assert conn.stats.requests == 0


def test_show_tables_is_sorted(conn):
    names = [r[0] for r in conn.execute("SHOW TABLES").fetchall()]
    assert names == sorted(names) and "sys_columns" in names and "contacts" in names


def _batch(monkeypatch, capsys, tmp_path, script: str) -> str:
    monkeypatch.setenv("CSQL_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    assert main(["--format", "csv"]) == 0
    return capsys.readouterr().out


def test_schema_is_describe_and_tables_narrow(monkeypatch, capsys, tmp_path):
    schema = _batch(monkeypatch, capsys, tmp_path, ".schema Contacts\n")
    assert schema == _batch(monkeypatch, capsys, tmp_path, "DESCRIBE Contacts;\n")
    assert "one of phone_number, fax_number, email" in schema
    tables = _batch(monkeypatch, capsys, tmp_path, ".tables sms_%\n").splitlines()
    assert tables[0] == "name,kind,operations"
    names = [line.split(",")[0] for line in tables[1:]]
    assert names and all(n.startswith("sms_") for n in names) and names == sorted(names)
