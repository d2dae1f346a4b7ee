"""The `csql` command in batch mode (-c, -f, standard input, --format, --yes), csql.safety and
csql.output: in-process through main() against a sandbox, plus real subprocesses for what only
a process shows (standard input, exit status, the console script)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess
import sys

import pyarrow as pa
import pytest

import csql
from csql import output
from csql.cli import main, split_statements
from csql.safety import assess
from csql.sandbox import Sandbox


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=5) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def conn(sb):
    c = csql.connect(sb.username, sb.api_key, sb.base_url)
    yield c
    c.close()


@pytest.fixture
def run(sb, capsys, monkeypatch):
    """main() with the sandbox's credentials; (exit status, stdout, stderr)."""

    def go(*argv: str, stdin: str | None = None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        creds = ["--base-url", sb.base_url, "--username", sb.username, "--api-key", sb.api_key]
        code = main([*argv, *creds])
        out, err = capsys.readouterr()
        return code, out, err

    return go


LISTS = "SELECT list_id, list_name, _contacts_count FROM lists ORDER BY list_id"


def _expected(conn, sql=LISTS):
    return conn.execute(sql).fetchall()


# -- formats ---------------------------------------------------------------------------------


def test_table_format_is_plain_text_when_not_a_terminal(run, conn):
    code, out, err = run("-c", LISTS)
    assert code == 0 and err == ""
    assert "\x1b[" not in out  # no colours, no cursor movement
    lines = out.splitlines()
    assert lines[0].startswith("+-") and lines[-1].startswith("+-")
    assert [c.strip() for c in lines[1].strip("|").split("|")] == [
        "list_id",
        "list_name",
        "_contacts_count",
    ]
    rows = lines[3:-1]
    assert len(rows) == len(_expected(conn))
    first = _expected(conn)[0]
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells == [str(first[0]), first[1], str(first[2])]
    # numbers are right-aligned, text left-aligned
    assert rows[0].split("|")[1].endswith(f"{first[0]} ")
    assert rows[0].split("|")[2].startswith(f" {first[1]}")


def test_csv_format(run, conn):
    code, out, _ = run("-c", LISTS, "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["list_id", "list_name", "_contacts_count"]
    assert rows[1:] == [[str(a), b, str(c)] for a, b, c in _expected(conn)]


def test_json_format(run, conn):
    code, out, _ = run("-c", LISTS, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data == [
        {"list_id": a, "list_name": b, "_contacts_count": c} for a, b, c in _expected(conn)
    ]


def test_json_format_serializes_timestamps_and_nulls(run):
    code, out, _ = run(
        "-c",
        "SELECT TIMESTAMPTZ '2024-01-02 03:04:05+00' AS t, NULL AS n, 1.5::DECIMAL(4,2) AS d",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out) == [{"t": "2024-01-02T03:04:05+00:00", "n": None, "d": 1.5}]


def test_markdown_format(run, conn):
    code, out, _ = run("-c", LISTS, "--format", "markdown")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "| list_id | list_name | _contacts_count |"
    assert lines[1] == "|---:|---|---:|"
    a, b, c = _expected(conn)[0]
    assert lines[2] == f"| {a} | {b} | {c} |"
    assert len(lines) == 2 + len(_expected(conn))


def test_markdown_escapes_pipes():
    text = output.render(pa.table({"x": ["a|b"]}), "markdown")
    assert text.splitlines()[2] == "| a\\|b |"


def test_statements_metadata_and_several_results(run):
    code, out, _ = run("-c", "SHOW TABLES; DESCRIBE Contacts", "--format", "csv")
    assert code == 0
    assert out.startswith("name,kind,operations\n")
    assert "\ncolumn_name,column_type," in out
    assert "\ncontact_id,BIGINT," in out


# -- sources: -f, standard input --------------------------------------------------------------


def test_file(run, tmp_path):
    f = tmp_path / "report.sql"
    f.write_text("-- lists, then a count\nSELECT count(*) AS n FROM lists;\n\nSELECT 'a;b' AS s;\n")
    code, out, err = run("-f", str(f), "--format", "csv")
    assert code == 0 and err == ""
    assert out == "n\n5\n\ns\na;b\n"  # result sets apart by an empty line


def test_stdin_in_process(run):
    code, out, _ = run("--format", "csv", stdin="SELECT 1 AS one;\nSELECT 2 AS two;\n")
    assert code == 0
    assert out == "one\n1\n\ntwo\n2\n"


def test_empty_input_is_success(run):
    assert run(stdin="  \n-- nothing\n")[0] == 0


def test_stdin_and_exit_status_through_a_real_process(sb):
    args = [sys.executable, "-m", "csql.cli", "--base-url", sb.base_url]
    args += ["--username", sb.username, "--api-key", sb.api_key, "--format", "csv"]
    ok = subprocess.run(
        args, input="SELECT count(*) AS n FROM lists;", capture_output=True, text=True, timeout=120
    )
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "n\n5\n", "")
    bad = subprocess.run(
        args, input="SELECT * FROM no_such_table;", capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.startswith("error: ") and "no_such_table" in bad.stderr


def test_sandbox_flag_and_console_script():
    """`csql --sandbox -c ...` (the console script when installed, else the module)."""
    import shutil

    exe = shutil.which("csql", path=str(__import__("pathlib").Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "csql.cli"]
    done = subprocess.run(
        [*cmd, "--sandbox", "-c", "SELECT count(*) AS n FROM contacts", "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "n" and int(done.stdout.splitlines()[1]) > 0


# -- errors -----------------------------------------------------------------------------------


def test_syntax_error_goes_to_stderr_with_status_1(run):
    code, out, err = run("-c", "SELEC * FROM lists")
    assert code == 1 and out == ""
    assert err.startswith("error: SQL syntax error")


def test_unknown_table_suggests(run):
    code, _, err = run("-c", "SELECT * FROM contact")
    assert code == 1
    assert "unknown table 'contact'" in err and "contacts" in err


def test_error_stops_the_batch_and_names_the_statement(run):
    code, out, err = run(
        "-c", "SELECT 1 AS a; SELECT nope FROM lists; SELECT 3 AS c", "--format", "csv"
    )
    assert code == 1
    assert out == "a\n1\n"  # the first ran, the third did not
    assert err.startswith("error in statement 2: ")


def test_missing_file(run, tmp_path):
    code, out, err = run("-f", str(tmp_path / "nope.sql"))
    assert code == 1 and out == ""
    assert err.startswith("error: cannot read") and "nope.sql" in err


def test_bad_format_is_a_usage_error(run):
    with pytest.raises(SystemExit) as e:
        run("-c", "SELECT 1", "--format", "xml")
    assert e.value.code == 2


def test_c_and_f_together_is_a_usage_error(run, tmp_path):
    with pytest.raises(SystemExit) as e:
        run("-c", "SELECT 1", "-f", str(tmp_path / "x.sql"))
    assert e.value.code == 2


# -- --yes ------------------------------------------------------------------------------------


def _count(conn, table):
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_unfiltered_delete_needs_yes(run, sb, conn):
    before = _count(conn, "sms_templates")
    assert before > 0
    sb.reset_log()
    code, out, err = run("-c", "DELETE FROM sms_templates")
    assert code == 1 and out == ""
    assert "refused: DELETE without WHERE deletes every row of sms_templates" in err
    assert "--yes" in err
    assert not [r for r in sb.request_log if r.method == "DELETE"]
    assert _count(conn, "sms_templates") == before


def test_nothing_of_a_batch_runs_when_one_statement_is_refused(run, sb):
    sb.reset_log()
    code, out, err = run(
        "-c", "SELECT 1 AS a; UPDATE contacts SET custom_4 = 'x'", "--format", "csv"
    )
    assert code == 1 and out == ""
    assert "statement 2: UPDATE without WHERE changes every row of contacts" in err
    assert len(sb.request_log) == 0


def test_send_needs_yes_and_explain_does_not(run, sb):
    call = "CALL SendSMS(from => 'csql', body => 'hello from csql', to => '+61411111111')"
    sb.reset_log()
    code, _, err = run("-c", call)
    assert code == 1
    assert "CALL SendSMS is charged to your ClickSend account" in err
    assert not [r for r in sb.request_log if r.method == "POST"]

    code, out, err = run("-c", "EXPLAIN " + call, "--format", "csv")
    assert code == 0, err
    assert "/sms/send" in out

    code, out, err = run("-c", call, "--yes", "--format", "csv")
    assert code == 0, err
    assert [r for r in sb.request_log if r.method == "POST" and r.path.endswith("/sms/send")]


def test_destructive_procedure_needs_yes(run):
    code, _, err = run("-c", "CALL CancelAllSMS()")
    assert code == 1
    assert "CancelAllSMS is destructive" in err


def test_yes_runs_an_unfiltered_delete(run, conn):
    assert _count(conn, "sms_templates") > 0
    code, out, err = run("-c", "DELETE FROM sms_templates", "--yes")
    assert code == 0, err
    assert out == "" and err.endswith("rows affected\n")  # status on stderr, never stdout
    assert _count(conn, "sms_templates") == 0


# -- csql.safety ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "unfiltered"),
    [
        ("DELETE FROM contacts", True),
        ("delete from Contacts", True),  # a Skyvia alias, lower case
        ("-- tidy up\nDELETE FROM lists", True),
        ("UPDATE contacts SET custom_1 = 'x'", True),
        ("DELETE FROM contacts WHERE 1 = 1", True),  # a WHERE that names no column
        ("DELETE FROM contacts WHERE TRUE", True),
        ("DELETE FROM contacts WHERE FALSE", False),
        ("DELETE FROM contacts WHERE list_id = 1 AND contact_id = 2", False),
        ("UPDATE contacts SET custom_1 = 'x' WHERE contact_id = 7", False),
        ("EXPLAIN DELETE FROM contacts", False),
        ("SELECT * FROM contacts", False),
        ("DELETE FROM no_such_table", False),  # the engine reports it
        ("DELETE FROM", False),  # does not parse: the engine reports it
    ],
)
def test_assess_unfiltered_writes(catalog, sql, unfiltered):
    verdict = assess(sql, catalog)
    assert verdict.unfiltered_write is unfiltered
    assert verdict.needs_confirmation is unfiltered
    assert not verdict.costs_money


def test_assess_calls(catalog):
    send = assess("CALL SendSMS(to => '+61411111111', body => 'hi')", catalog)
    assert send.costs_money and send.needs_confirmation and not send.destructive
    assert "SendSMS" in send.message
    assert assess("call sendsms(:to, :body)", catalog).costs_money  # case-insensitive
    assert not assess(
        "CALL CalculateSMSPrice(to => '+61411111111', body => 'x')", catalog
    ).needs_confirmation
    assert not assess(
        "EXPLAIN CALL SendSMS(to => '+61411111111', body => 'x')", catalog
    ).needs_confirmation
    assert assess("CALL CancelAllSMS()", catalog).destructive
    assert not assess("CALL NoSuchProcedure()", catalog).needs_confirmation
    for proc in catalog.procedures:
        verdict = assess(f"CALL {proc.name}()", catalog)
        assert verdict.costs_money is proc.costs_money
        assert verdict.destructive is proc.destructive


class _StubCatalog:
    """assess() only looks tables and procedures up: a catalog with one paid insert."""

    def __init__(self, catalog, table_name):
        table = catalog.table(table_name)
        endpoints = dict(table.endpoints)
        endpoints["insert"] = dataclasses.replace(endpoints["insert"], costs_money=True)
        self.paid = dataclasses.replace(table, endpoints=endpoints)
        self.catalog = catalog

    def table(self, name):
        found = self.catalog.table(name)
        return self.paid if found is not None and found.name == self.paid.name else found

    def procedure(self, name):
        return self.catalog.procedure(name)


def test_assess_insert_into_a_paid_endpoint(catalog):
    assert not assess(
        "INSERT INTO contacts (list_id, phone_number) VALUES (1, '+61411111111')", catalog
    ).needs_confirmation
    stub = _StubCatalog(catalog, "contacts")
    paid = assess("INSERT INTO Contacts (list_id, phone_number) VALUES (1, '+61411111111')", stub)
    assert paid.costs_money and paid.needs_confirmation
    assert "INSERT INTO contacts is charged" in paid.message
    assert not assess("INSERT INTO lists (list_name) VALUES ('x')", stub).needs_confirmation


# -- helpers ----------------------------------------------------------------------------------


def test_split_statements_respects_quotes_and_comments():
    text = "SELECT 'a;b' AS x; -- c;d\nSELECT 2 /* e;f */ ;;"
    assert split_statements(text) == ["SELECT 'a;b' AS x", "-- c;d\nSELECT 2 /* e;f */"]


def test_status_line():
    assert output.status_line(152, 3, 0.414) == "152 rows, 3 requests, 0.41 s"
    assert output.status_line(1, 1) == "1 row, 1 request"
    assert (
        output.status_line(2, 4, None, affected=True, retries=1)
        == "2 rows affected, 4 requests, 1 retry"
    )
    assert output.status_line(-1, 0, 0.0) == "OK, 0 requests, 0.00 s"
