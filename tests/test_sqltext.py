"""csql.sqltext, the one front door for SQL text, and the callers that use it: placeholders
found by tokens (never inside strings, `$$..$$`, quoted names or comments), statement
splitting, EXPLAIN / CALL dispatch with comments and quoted names, CALL arguments of every
SQL literal, unknown and missing parameters, INSERT forms that would change meaning."""

from __future__ import annotations

import pytest

import csql
from csql import binder, sqltext
from csql.sandbox import Sandbox
from csql.sqltext import Kind

# -- placeholders -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql, names",
    [
        ("SELECT :a, :b", ["a", "b"]),
        ("SELECT $$:v$$", []),
        ("SELECT $tag$ :v $tag$", []),
        ("SELECT ':v', \"x:v\"", []),
        ("SELECT 1 -- :v\n", []),
        ("SELECT /* :v */ 1", []),
        ("SELECT a::int, a :: int", []),
        ("SELECT x[1:n], {'k':v}", []),
        ("SELECT x[:n]", ["n"]),  # sqlglot reads this one as a placeholder too
        ("CALL SendSMS(:from, :body, :to)", ["from", "body", "to"]),
        ("SELECT :a + :A", ["a", "A"]),
        ("SELECT ':x' || :y || $$:z$$", ["y"]),
    ],
)
def test_placeholders_are_found_by_tokens(sql, names):
    assert sqltext.placeholder_names(sql) == names


def test_substitution_never_touches_strings_comments_or_dollar_quotes():
    sql = "SELECT $$:v$$ AS a, ':v' AS b, \"x:v\" AS c, :v AS d -- :v\n"
    out = binder.substitute_parameters(sql, {"v": "it's"})
    assert out == "SELECT $$:v$$ AS a, ':v' AS b, \"x:v\" AS c, 'it''s' AS d -- :v\n"


def test_dollar_quoted_placeholder_end_to_end():
    conn = csql.connect("u", "k", "http://127.0.0.1:9/v3")
    assert conn.execute("SELECT $$:v$$ AS x").fetchall() == [(":v",)]
    assert conn.execute("SELECT :v AS x, $$:v$$ AS y", {"v": 5}).fetchall() == [(5, ":v")]


def test_values_become_literals_that_keep_their_meaning():
    conn = csql.connect("u", "k", "http://127.0.0.1:9/v3")
    got = conn.execute(
        "SELECT :d AS d, :n AS n, :s AS s, :l AS l",
        {"d": {"a": [1, 2]}, "n": float("nan"), "s": "a'b;--c", "l": [1, 2]},
    ).fetchone()
    assert got[0] == '{"a": [1, 2]}'  # JSON, never a Python repr
    assert got[1] != got[1]  # NaN
    assert got[2:] == ("a'b;--c", [1, 2])


# -- parameters ---------------------------------------------------------------------------------


def test_unknown_parameters_are_an_error_naming_them():
    conn = csql.connect("u", "k", "http://127.0.0.1:9/v3")
    with pytest.raises(csql.ProgrammingError, match=r"'shedule' not used by the statement"):
        conn.execute("SELECT :a AS a", {"a": 1, "shedule": 2})
    with pytest.raises(csql.ProgrammingError, match="no :name placeholders"):
        conn.execute("SELECT 1", {"x": 1})
    with pytest.raises(csql.ProgrammingError, match=r"missing parameter\(s\) :b"):
        conn.execute("SELECT :a, :b", {"a": 1})
    for positional in ("SELECT ?", "SELECT $1", "SELECT 1 WHERE 1 = ?"):
        with pytest.raises(csql.ProgrammingError, match="use :name"):
            conn.execute(positional)
    assert conn.execute("SELECT :A AS a", {"a": 1}).fetchall() == [(1,)]  # case-insensitive


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=3, scale=1) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def conn(sb):
    c = csql.connect(sb.username, sb.api_key, sb.base_url)
    yield c
    c.close()


def test_misspelled_call_parameter_sends_nothing(conn, sb):
    sb.reset_log()
    with pytest.raises(csql.ProgrammingError, match="'shedule' not used"):
        conn.execute(
            "CALL SendSMS(:from, :body, :to)",
            {"from": "csql", "body": "hi", "to": "+61411111111", "shedule": 1999999999},
        )
    assert len(sb.request_log) == 0


def test_call_parameters_named_like_the_procedures_are_used(conn, sb):
    # executemany-style binding: parameters named like the procedure's are its arguments
    rows = conn.execute(
        "EXPLAIN CALL SendSMS()", {"from": "csql", "body": "b", "to": "+61411111111"}
    ).fetchall()
    assert rows and '"body": "b"' in rows[0][4]


# -- dispatch: comments, quoted names, EXPLAIN ----------------------------------------------------


@pytest.mark.parametrize(
    "sql, kind",
    [
        ("-- why\nEXPLAIN SELECT 1", Kind.EXPLAIN),
        ("/* a */ -- b\n  call SendSMS()", Kind.CALL),
        ('CALL "SendSMS"(1)', Kind.CALL),
        ("SELECT 'CALL x()'", Kind.SQL),
        ("-- only a comment", Kind.EMPTY),
    ],
)
def test_classify(sql, kind):
    assert sqltext.classify(sql).kind is kind


def test_explain_analyze_is_refused():
    with pytest.raises(csql.NotSupportedError, match="would run the statement"):
        sqltext.classify("EXPLAIN ANALYZE SELECT 1")


def test_comment_before_explain_and_call_and_quoted_procedure(conn):
    rows = conn.execute("-- plan it\nEXPLAIN SELECT * FROM contacts LIMIT 1").fetchall()
    assert rows
    rows = conn.execute(
        "/* check */ EXPLAIN -- a quoted name\nCALL \"SendSMS\"('csql', 'a, (b)', '+61411111111')"
    ).fetchall()
    assert '"body": "a, (b)"' in rows[0][4]


# -- CALL arguments -----------------------------------------------------------------------------


def test_call_arguments_of_every_literal():
    call = sqltext.parse_call(
        "CALL P('a,b)', [1, 2], {'k': 1, 'l': [3]}, now() + INTERVAL 1 HOUR, "
        "'5'::INT, coalesce(NULL, 'x'), x => 'y', \"z\" := 2);"
    )
    assert call.name == "P"
    names = [a.name for a in call.arguments]
    assert names == [None] * 6 + ["x", "z"]
    sql = [a.value.sql("duckdb") for a in call.arguments]
    assert sql[0] == "'a,b)'"
    assert sql[1] == "[1, 2]"
    assert sql[2].startswith("{'k': 1")


def test_call_syntax_errors():
    for bad in ("CALL", "CALL 1()", "CALL P(1", "CALL P(1) x", "CALL P(1); CALL Q(2)"):
        with pytest.raises(csql.ProgrammingError):
            sqltext.parse_call(bad)


def test_call_with_array_and_struct_arguments_end_to_end(conn):
    rows = conn.execute(
        "EXPLAIN CALL SendSMS(body => 'x, [y]', \"from\" => 'csql', to => '+61411111111')"
    ).fetchall()
    assert '"body": "x, [y]"' in rows[0][4]


# -- statement splitting ------------------------------------------------------------------------


def test_split_statements():
    text = (
        "SELECT 'a;b'; SELECT $$c;d$$; CALL P(';'); -- e;f\n"
        "SELECT 2 /* g;h */;;  -- only a comment;\n"
    )
    assert sqltext.split_statements(text) == [
        "SELECT 'a;b'",
        "SELECT $$c;d$$",
        "CALL P(';')",
        "-- e;f\nSELECT 2 /* g;h */",
    ]
    assert sqltext.split_statements("SELECT 'unterminated") == ["SELECT 'unterminated"]
    cli = pytest.importorskip("csql.cli")  # still importable from the CLI
    assert cli.split_statements(text) == sqltext.split_statements(text)


def test_no_regexes_left_for_sql_text():
    import pathlib

    root = pathlib.Path(csql.__file__).parent
    for name in ("binder.py", "write/procedures.py", "jupyter.py", "engine.py", "sqltext.py"):
        assert "re.compile" not in (root / name).read_text(), name


# -- statements whose meaning would change ------------------------------------------------------


@pytest.mark.parametrize(
    "sql, what",
    [
        ("INSERT OR REPLACE INTO sms_templates (template_name, body) VALUES ('a', 'b')",
         "INSERT OR REPLACE"),
        ("INSERT OR IGNORE INTO sms_templates (template_name, body) VALUES ('a', 'b')",
         "INSERT OR IGNORE"),
        ("INSERT INTO sms_templates (template_name, body) VALUES ('a', 'b') "
         "ON CONFLICT DO NOTHING", "ON CONFLICT"),
        ("INSERT INTO sms_templates (template_name, body) VALUES ('a', 'b') "
         "ON CONFLICT (template_id) DO UPDATE SET body = 'c'", "ON CONFLICT"),
        ("INSERT INTO sms_templates BY NAME SELECT 'a' AS template_name", "BY NAME"),
    ],
)  # fmt: skip
def test_insert_forms_that_would_change_meaning_are_refused(conn, sb, sql, what):
    sb.reset_log()
    with pytest.raises(csql.NotSupportedError, match=what):
        conn.execute(sql)
    with pytest.raises(csql.NotSupportedError, match=what):
        conn.execute("EXPLAIN " + sql)
    assert len(sb.request_log) == 0


def test_upsert_refusal_says_what_to_do(conn):
    with pytest.raises(csql.NotSupportedError, match="UPDATE sms_templates") as e:
        conn.execute("INSERT OR REPLACE INTO sms_templates (template_name, body) VALUES ('a', 'b')")
    assert "duplicates" in str(e.value)


def test_plain_insert_still_works(conn):
    cur = conn.execute(
        "INSERT INTO sms_templates (template_name, body) VALUES ('sqltext', 'plain')"
    )
    assert cur.rowcount == 1


def test_confirmation_rules_read_calls_as_the_engine_does(catalog):
    from csql.shell import safety

    for sql in ('-- why\nCALL "SendSMS"(1)', "/* a */ call sendsms(1)", "CALL SendSMS"):
        assert safety.assess(sql, catalog).costs_money, sql
    assert safety.leading_keyword("-- c\n/* d */ explain select 1") == "EXPLAIN"
    assert not safety.assess("SELECT 'CALL SendSMS()'", catalog).needs_confirmation


def test_the_shell_ends_statements_where_the_engine_does():
    from csql.shell.terminal import statement_complete

    assert statement_complete("SELECT $$a;b$$;")
    assert not statement_complete("SELECT $$a;b")
    assert not statement_complete("SELECT 'a;")
    assert statement_complete("CALL \"SendSMS\"('x;y');")
