"""Batch output that scripts can parse: `--format jsonl`, multi-statement json and csv, status
lines only on standard error, `--timer`, `--output FILE`, dot commands in scripts and on
standard input (`.read`, `.once`, `.param`, `.headers`, `.nullvalue`, `.format`), the
confirmation rules in batch mode; in-process through main() and through real processes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import pytest

import csql
from csql.cli import main
from csql.sandbox import Sandbox
from csql.shell.script import ItemKind, split_script

FOOTER = re.compile(r"^\d+ rows?( affected)?, \d+ requests?(, \d+ retr(y|ies))?, \d+\.\d\d s$")


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
def run(sb, capsys, monkeypatch, tmp_path):
    """main() with the sandbox's credentials; (exit status, stdout, stderr)."""
    monkeypatch.setenv("CSQL_CONFIG", str(tmp_path / "no-config.toml"))

    def go(*argv: str, stdin: str | None = None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        creds = ["--base-url", sb.base_url, "--username", sb.username, "--api-key", sb.api_key]
        code = main([*argv, *creds])
        out, err = capsys.readouterr()
        return code, out, err

    return go


TWO = "SELECT list_id, list_name FROM lists ORDER BY list_id LIMIT 2; SELECT 42 AS answer"


def test_jsonl_one_object_per_row_with_the_statement_index(run, conn):
    code, out, err = run("-c", TWO, "--format", "jsonl")
    assert code == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    lists = conn.execute("SELECT list_id, list_name FROM lists ORDER BY list_id LIMIT 2").fetchall()
    assert rows == [
        {"statement": 1, "list_id": lists[0][0], "list_name": lists[0][1]},
        {"statement": 1, "list_id": lists[1][0], "list_name": lists[1][1]},
        {"statement": 2, "answer": 42},
    ]


def test_jsonl_statement_index_counts_statements_without_rows(run):
    code, out, _ = run(
        "-c", "SELECT 1 AS a; SELECT 1 AS b WHERE false; SELECT 3 AS c", "--format", "jsonl"
    )
    assert code == 0
    assert [json.loads(x) for x in out.splitlines()] == [
        {"statement": 1, "a": 1},
        {"statement": 3, "c": 3},
    ]


def test_json_of_several_statements_is_one_document(run):
    code, out, _ = run("-c", TWO, "--format", "json")
    assert code == 0
    doc = json.loads(out)  # one parseable document
    assert len(doc) == 2 and len(doc[0]) == 2 and doc[1] == [{"answer": 42}]


def test_json_of_one_statement_is_its_array(run):
    code, out, _ = run("-c", "SELECT 42 AS answer", "--format", "json")
    assert code == 0 and json.loads(out) == [{"answer": 42}]


def test_csv_result_sets_are_apart_by_an_empty_row(run):
    code, out, _ = run("-c", TWO, "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    blank = rows.index([])
    assert rows[0] == ["list_id", "list_name"] and len(rows[1:blank]) == 2
    assert rows[blank + 1 :] == [["answer"], ["42"]]


def test_status_goes_to_stderr_and_timer_adds_the_footer(run, conn):
    code, out, err = run("-c", "SELECT list_name FROM lists LIMIT 1", "--format", "csv", "--timer")
    assert code == 0
    assert out.splitlines()[0] == "list_name" and len(out.splitlines()) == 2
    assert FOOTER.match(err.strip()), err
    assert err.startswith("1 row, 1 request")


def test_rows_affected_on_stderr_never_on_stdout(run, conn):
    code, out, err = run(
        "-c",
        "INSERT INTO lists (list_name) VALUES ('batch-test'); SELECT 1 AS x",
        "--format",
        "jsonl",
    )
    assert code == 0
    assert [json.loads(x) for x in out.splitlines()] == [{"statement": 2, "x": 1}]
    assert "1 row affected" in err


def test_output_file(run, tmp_path):
    target = tmp_path / "out.jsonl"
    code, out, err = run("-c", TWO, "--format", "jsonl", "--output", str(target))
    assert code == 0 and out == "" and err == ""
    assert [json.loads(x)["statement"] for x in target.read_text().splitlines()] == [1, 1, 2]


def test_dot_commands_in_a_script_on_stdin(run, tmp_path):
    once = tmp_path / "once.csv"
    script = (
        ".format csv\n"
        ".param set name 'VIP'\n"
        "SELECT list_name FROM lists WHERE list_name = :name;\n"
        ".headers off\n"
        ".nullvalue (none)\n"
        "SELECT NULL AS n;\n"
        f".once {once}\n"
        "SELECT 7 AS seven;\n"
        "SELECT 8 AS eight;\n"
    )
    code, out, err = run(stdin=script)
    assert code == 0, err
    assert out == "list_name\nVIP\n\n(none)\n\n8\n"
    assert once.read_text() == "7\n"  # .once took exactly the next result


def test_read_runs_another_script(run, tmp_path):
    inner = tmp_path / "inner.sql"
    inner.write_text(".format jsonl\nSELECT 1 AS a;\n")
    code, out, err = run("-c", f".read {inner}\nSELECT 2 AS b;")
    assert code == 0, err
    assert [json.loads(x) for x in out.splitlines()] == [
        {"statement": 1, "a": 1},
        {"statement": 2, "b": 2},
    ]


def test_a_failing_dot_command_stops_the_script(run):
    code, out, err = run("-c", ".format yaml\nSELECT 1 AS a;")
    assert code == 1 and out == ""
    assert "usage: .format" in err


def test_error_names_the_statement_and_shows_the_caret(run):
    code, out, err = run(
        "-c", "SELECT 1 AS a; SELECT frist_name FROM contacts", "--format", "jsonl"
    )
    assert code == 1
    assert json.loads(out) == {"statement": 1, "a": 1}
    assert err.startswith('error in statement 2: unknown column "frist_name"')
    assert "LINE 1: SELECT frist_name FROM contacts" in err and "^^^^^^^^^^" in err
    assert "__" not in err


def test_refused_send_runs_nothing_and_yes_checks_arguments(run):
    code, out, err = run("-c", "SELECT 1; CALL SendSMS('Shop', 'hi', '+61411111111')")
    assert code == 1 and out == "" and "--yes" in err
    code, out, err = run("-c", "CALL SendSMS('Shop')", "--yes")
    assert code == 1 and "missing required argument" in err


def test_split_script_keeps_dot_commands_and_statements_apart():
    items = split_script(
        ".mode csv\nSELECT 1\n  AS x;\n-- a comment\n.headers off\nSELECT '.not a command';\n"
    )
    assert [(i.kind, i.text) for i in items] == [
        (ItemKind.COMMAND, ".mode csv"),
        (ItemKind.SQL, "SELECT 1\n  AS x"),
        (ItemKind.COMMAND, ".headers off"),
        (ItemKind.SQL, "SELECT '.not a command'"),
    ]


def test_jsonl_through_a_real_process_with_stdin(sb, tmp_path):
    env = dict(os.environ, CSQL_CONFIG=str(tmp_path / "none.toml"))
    args = [sys.executable, "-m", "csql.cli", "--base-url", sb.base_url]
    args += ["--username", sb.username, "--api-key", sb.api_key, "--format", "jsonl", "--timer"]
    done = subprocess.run(
        args, input=TWO + ";\n", capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(x)["statement"] for x in done.stdout.splitlines()] == [1, 1, 2]
    footers = done.stderr.strip().splitlines()
    assert len(footers) == 2 and all(FOOTER.match(f) for f in footers)
