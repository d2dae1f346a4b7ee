"""The shell's habits from pgcli, psql, sqlite3 and the duckdb CLI, through a real pty:
`.param set` / `\\set` and `:name`, `.expanded` / `\\x`, `.headers`, `.nullvalue`,
`.maxrows`, `.pager`, whole long values, `.tables PATTERN`, `.once`, `.read`, `.connect
PROFILE`; errors with a caret; a confirmation that checks the arguments first and says how
many rows and what price."""

from __future__ import annotations

import re
import textwrap

import pytest

from tests.test_shell import Shell, _plain

pytest.importorskip("pexpect")


@pytest.fixture
def shell(tmp_path, monkeypatch):
    monkeypatch.setenv("CSQL_CONFIG", str(tmp_path / "config.toml"))
    opened = []

    def start(*args: str) -> Shell:
        s = Shell(list(args) or ["--sandbox"], tmp_path / "history")
        opened.append(s)
        return s

    yield start
    for s in opened:
        s.close()


def test_params_display_settings_and_files(shell, tmp_path):
    sh = shell()
    sh.run(".param set name 'VIP'", r":name = 'VIP'")
    sh.run("\\set n 2", r":n = 2")
    seen = _plain(sh.run(".param list", r"2 parameters"))
    assert ":name" in seen and "'VIP'" in seen
    seen = _plain(
        sh.run("SELECT list_name, :n AS n FROM lists WHERE list_name = :name;", r"1 row, 1 request")
    )
    assert "VIP" in seen
    sh.run(".param unset n", r":n unset")
    assert "missing parameter" in _plain(sh.run("SELECT :n AS n;", r"error:[^\n]*\n"))

    # expanded display on, then \x toggles it off again
    sh.run(".expanded on", "expanded display on")
    seen = _plain(sh.run("SELECT 1 AS a, 'x' AS b;", r"1 row, 0 requests"))
    assert "RECORD 1" in seen and re.search(r"a\s+\|\s+1", seen)
    sh.run("\\x", "expanded display off")
    assert "RECORD" not in _plain(sh.run("SELECT 1 AS a;", r"1 row, 0 requests"))

    sh.run(".nullvalue ∅", "NULL is shown as")
    assert "∅" in _plain(sh.run("SELECT NULL AS n;", r"1 row, 0 requests"))
    sh.run(".headers off", "headers off")
    seen = _plain(sh.run("SELECT list_name FROM lists LIMIT 1;", r"1 row"))
    assert "├" not in seen and "Customers" in seen  # no header row, so no rule under it
    sh.run(".headers on", "headers on")
    sh.run(".maxrows 2", "at most 2 rows")
    seen = _plain(sh.run("SELECT list_name FROM lists ORDER BY list_id;", r"5 rows"))
    assert "Customers" in seen and "Newsletter" not in seen and "3 more rows not shown" in seen
    sh.run(".maxrows 0", "every row shown")

    # a long value is shown whole when the terminal has room (200 columns here)
    long = "x" * 150
    assert long in _plain(sh.run(f"SELECT '{long}' AS v;", r"1 row, 0 requests"))

    seen = _plain(sh.run(".tables sms_%", r"rows, 0 requests"))
    assert "sms_history" in seen and "contacts" not in seen

    once = tmp_path / "once.csv"
    sh.run(".format csv", "format csv")
    sh.run(f".once {once}", "the next result goes to")
    sh.run("SELECT 7 AS seven;", r"1 row")
    assert once.read_text() == "seven\n7\n"
    assert "8" in _plain(sh.run("SELECT 8 AS eight;", r"1 row"))

    script = tmp_path / "s.sql"
    script.write_text(".format jsonl\nSELECT 9 AS nine;\n")
    assert '"nine": 9' in _plain(sh.run(f".read {script}", r"1 row"))
    sh.run(".pager less -S", "pager less -S")
    sh.run(".pager off", "pager off")
    assert sh.quit() == 0


def test_errors_show_the_line_and_a_caret(shell):
    sh = shell()
    seen = _plain(sh.run("SELECT 2 * FROM contacts;", r"\^+"))
    assert "* needs a value after it" in seen and "LINE 1: SELECT 2 * FROM contacts" in seen
    assert "sqlglot" not in seen
    seen = _plain(sh.run("SELECT frist_name FROM contacts WHERE frist_name = 'y';", r"\^+"))
    assert 'unknown column "frist_name"; did you mean first_name' in seen
    assert "__" not in seen
    line = next(x for x in seen.splitlines() if x.startswith("LINE 1:"))
    carets = seen.splitlines()[seen.splitlines().index(line) + 1]
    assert line[carets.index("^") :].startswith("frist_name")
    assert sh.quit() == 0


def test_send_is_checked_before_asking_then_count_and_price(shell):
    sh = shell()
    # wrong arguments: the error, and no question
    seen = _plain(sh.run("CALL SendSMS('Shop');", r"error:[^\n]*\n"))
    assert "missing required argument" in seen and "[y/N]" not in seen

    sh.type("CALL SendSMS(from => 'Shop', body => 'hi', to => '+61411111111');")
    sh.child.send("\r")
    sh.expect(r"charged to your ClickSend account")
    sh.expect(r"ClickSend quotes [^\n]* for 1 message")
    sh.expect(r"\[y/N\]")
    sh.child.send("\r")
    sh.expect("not run")
    sh.prompt()

    sh.type("UPDATE sms_templates SET template_name = 'x';")
    sh.child.send("\r")
    sh.expect(r"UPDATE without WHERE changes every row of sms_templates")
    seen = sh.expect(r"\[y/N\]")
    assert re.search(r"this changes \d+ rows of sms_templates", _plain(seen))
    sh.type("n")
    sh.child.send("\r")
    sh.expect("not run")
    sh.prompt()
    assert sh.quit() == 0


def test_connect_switches_to_a_profile(shell, tmp_path):
    from csql.sandbox import Sandbox

    with Sandbox(seed=9) as other:
        (tmp_path / "config.toml").write_text(
            textwrap.dedent(
                f"""
                [profiles.other]
                username = "{other.username}"
                api_key = "{other.api_key}"
                base_url = "{other.base_url}"
                """
            )
        )
        sh = shell()
        sh.run(".connect other", rf"connected to {other.username} at {re.escape(other.base_url)}")
        seen = _plain(sh.run("SELECT count(*) AS n FROM lists;", r"1 row, 1 request"))
        assert re.search(r"│\s*\d+\s*│", seen)
        assert "no profile 'nope'" in _plain(sh.run(".connect nope", r"error:[^\n]*\n"))
        assert sh.quit() == 0
