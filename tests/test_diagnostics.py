"""Readable errors (csql.diagnostics): syntax errors in SQL terms with the user's line and a
caret, DuckDB's errors said about the user's statement (no internal names), and credential
hints for where the user is. Unit tests of the formatter, then through a connection."""

from __future__ import annotations

import re

import pytest

import csql
from csql import diagnostics
from csql.diagnostics import Spot, Where
from csql.sandbox import Sandbox

INTERNAL = re.compile(r"__csql|__keep|__c\d|__a\d|sqlglot|<class")


def caret_column(message: str) -> tuple[str, int, int]:
    """(the quoted line, the caret's first column and width) in the line's own text."""
    lines = message.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("LINE "))
    quoted, marks = lines[i], lines[i + 1]
    prefix = quoted.index(": ") + 2
    start = marks.index("^")
    return quoted[prefix:], start - prefix, len(marks.strip())


def under(message: str) -> str:
    text, col, width = caret_column(message)
    return text[col : col + width]


# -- the formatter ------------------------------------------------------------------------------


def test_caret_points_at_the_spot_on_the_right_line():
    sql = "SELECT *\nFROM lists\nWHERE x = 1"
    out = diagnostics.caret(sql, Spot(sql.index("x"), 1))
    assert out.splitlines()[0] == "LINE 3: WHERE x = 1"
    assert out.splitlines()[1] == " " * len("LINE 3: WHERE ") + "^"


def test_caret_cuts_a_long_line_around_the_spot():
    sql = "SELECT " + ", ".join(f"col{i}" for i in range(100)) + " FROM t"
    out = diagnostics.caret(sql, Spot(sql.index("col77"), 5))
    assert len(out.splitlines()[0]) < 120 and "..." in out
    assert under(out) == "col77"


@pytest.mark.parametrize(
    ("sql", "says", "at"),
    [
        ("SELECT 2 * FROM contacts", "* needs a value after it", "FROM"),
        ("SELECT 1 +", "+ needs a value after it", "+"),
        ("SELECT *\nFROM lists\nWHERE a = = 2", "= needs a value after it", "="),
        ("SELECT * FORM contacts", "did you mean FROM instead of FORM", "contacts"),
        ("SELECT * FROM lists WHERE (list_id = 1", "expected ')'", "1"),
        ("SELEC * FROM lists", "SELEC is not a statement; did you mean SELECT", "SELEC"),
        ("SELECT * FROM lists WHERE list_name = 'abc", "unterminated string", "'"),
    ],
)
def test_syntax_errors_in_sql_terms(sql, says, at):
    import sqlglot
    from sqlglot.errors import ParseError, TokenError

    with pytest.raises((ParseError, TokenError)) as info:
        sqlglot.parse(sql, read="duckdb")
    message = diagnostics.syntax_error(sql, info.value)
    assert message.startswith("SQL syntax error: ")
    assert says in message
    assert not INTERNAL.search(message), message
    assert under(message) == at


def test_duckdb_unknown_column_is_said_about_the_users_text():
    raw = (
        'Binder Error: Referenced column "frist_name" not found in FROM clause!\n'
        'Candidate bindings: "first_name", "__keep_email", "last_name"\n\n'
        "LINE 1: ... __keep_email FROM contacts WHERE frist_name = 'y'\n"
        "                                               ^^^^^^^^^^"
    )
    sql = "UPDATE contacts SET first_name = 'x' WHERE frist_name = 'y'"
    message = diagnostics.duckdb_error(raw, sql)
    assert message.splitlines()[0].startswith(
        'unknown column "frist_name"; did you mean first_name'
    )
    assert not INTERNAL.search(message)
    assert caret_column(message)[0] == sql
    assert under(message) == "frist_name"


def test_internal_view_names_become_the_users_names():
    raw = (
        "Conversion Error: Could not convert string 'abc' to INT64\n\n"
        "LINE 1: ...LECT * FROM __csql_scan_1_lists AS \"lists\" WHERE list_id = 'abc'"
    )
    message = diagnostics.duckdb_error(raw, "SELECT * FROM lists WHERE list_id = 'abc'")
    assert not INTERNAL.search(message)
    assert under(message) == "'abc'"


def test_credential_hints_depend_on_where_the_user_is():
    cli = diagnostics.missing_credentials(Where.CLI)
    python = diagnostics.missing_credentials(Where.PYTHON)
    for flag in ("--username", "--api-key", "--profile", "CLICKSEND_API_KEY", "API Credentials"):
        assert flag in cli
    assert "csql.connect(" not in cli
    assert "csql.connect(username=" in python and "--api-key" not in python
    err = csql.OperationalError(
        f"GET /account: 401. {diagnostics.rejected_credentials(Where.PYTHON)}"
    )
    shown = diagnostics.for_user(err, Where.CLI)
    assert "--api-key" in shown and "username=" not in shown


# -- through a connection ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conn():
    with Sandbox(seed=5) as sb:
        c = csql.connect(sb.username, sb.api_key, sb.base_url)
        yield c
        c.close()


@pytest.mark.parametrize(
    ("sql", "says", "at"),
    [
        ("SELECT frist_name FROM contacts c WHERE frist_name = 'y'", 'unknown column "frist_name"; did you mean first_name', "frist_name"),
        ("SELECT c.frist_name FROM contacts c", '"c" has no column "frist_name"; did you mean first_name', "c.frist_name"),
        ("DELETE FROM contacts WHERE emial = 'x'", 'unknown column "emial"; did you mean email', "emial"),
        ("UPDATE contacts SET first_name = 'x' WHERE frist_name = 'y'", 'unknown column "frist_name"', "frist_name"),
        ("SELECT l.list_name, x.y FROM lists l", '"x" is not a table or alias', "x"),
        ("SELECT foo(1) FROM lists", "unknown function foo(); did you mean floor", "foo"),
        ("SELECT 2 * FROM contacts", "* needs a value after it", "FROM"),
    ],
)  # fmt: skip
def test_errors_through_execute(conn, sql, says, at):
    with pytest.raises(csql.ProgrammingError) as info:
        conn.execute(sql)
    message = str(info.value)
    assert says in message, message
    assert not INTERNAL.search(message), message
    assert caret_column(message)[0] == sql.splitlines()[0]
    assert under(message) == at


def test_missing_credentials_in_python_name_connect_arguments(monkeypatch, tmp_path):
    monkeypatch.delenv("CLICKSEND_USERNAME", raising=False)
    monkeypatch.delenv("CLICKSEND_API_KEY", raising=False)
    monkeypatch.setenv("CSQL_CONFIG", str(tmp_path / "none.toml"))
    with csql.connect() as c, pytest.raises(csql.OperationalError) as info:
        c.execute("SELECT * FROM lists")
    assert "csql.connect(username=" in str(info.value)
