"""The interactive shell: driven through a real pseudo-terminal with pexpect (a query, meta
commands, TAB completion, the confirmation of an unfiltered DELETE, Ctrl-C, .quit, history),
plus the completer and the helpers as plain functions."""

from __future__ import annotations

import os
import re
import sys
import time

import pytest

from csql.sandbox import Sandbox
from csql.shell import SqlCompleter, statement_complete, tables_in

pexpect = pytest.importorskip("pexpect")

TIMEOUT = int(
    os.environ.get("CSQL_TEST_TIMEOUT", "60")
)  # seconds for one expectation: generous, for a loaded 2-core machine
PROMPT = r"csql(?:\x1b\[[0-9;?]*[A-Za-z])*(?: \S+)?(?:\x1b\[[0-9;?]*[A-Za-z])*>"


class Shell:
    """A csql shell in a pseudo-terminal."""

    def __init__(self, args: list[str], history) -> None:
        env = dict(os.environ)
        env.update(
            CSQL_HISTORY=str(history),
            PROMPT_TOOLKIT_NO_CPR="1",  # no terminal here answers cursor-position requests
            NO_COLOR="1",
            PAGER="cat",  # never wait in less, whatever the result's length
            TERM="xterm",
            COLUMNS="200",
            LINES="50",
        )
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "csql.cli", *args],
            env=env,
            dimensions=(50, 200),
            encoding="utf-8",
            timeout=TIMEOUT,
        )
        self.prompt()

    def prompt(self) -> str:
        self.child.expect(PROMPT)
        return self.child.before

    def expect(self, pattern: str) -> str:
        self.child.expect(pattern)
        return self.child.before

    def type(self, text: str) -> None:
        """Send keys (prompt_toolkit handles them in order)."""
        self.child.send(text)

    def tab(self) -> None:
        """TAB, then wait until the screen settles: the completion is computed apart from the
        keys, and on a busy machine it may take a moment to land."""
        self.child.send("\t")
        self.settle()

    def settle(self, quiet: float = 0.3, limit: float = 15.0) -> None:
        """Read (and drop) output until none comes for `quiet` seconds."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            try:
                self.child.read_nonblocking(65536, timeout=quiet)
            except pexpect.TIMEOUT:
                return

    def run(self, line: str, until: str) -> str:
        """Type a line and Enter, wait for `until`, then for the next prompt; the text before.

        pexpect compiles patterns with re.DOTALL: `.*` in `until` would swallow the prompt."""
        self.type(line)
        self.child.send("\r")
        self.child.expect(until)
        seen = self.child.before + self.child.after
        self.prompt()
        return seen

    def quit(self) -> int:
        self.type(".quit")
        self.child.send("\r")
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def shell(tmp_path):
    opened = []

    def start(*args: str) -> Shell:
        s = Shell(list(args) or ["--sandbox"], tmp_path / "history")
        opened.append(s)
        return s

    yield start
    for s in opened:
        s.close()


def _plain(text: str) -> str:
    """Terminal output without escape sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r", "", text)


def test_query_meta_commands_output_and_quit(shell, tmp_path):
    sh = shell()
    seen = _plain(sh.run("SELECT list_name FROM lists ORDER BY list_id;", r"5 rows, 1 request"))
    assert "Customers" in seen and "Opt-out" in seen
    assert "list_name" in seen

    # a statement over several lines
    sh.type("SELECT 6 * 7")
    sh.child.send("\r")
    sh.expect(r"\.\.\.>")  # the continuation prompt
    seen = _plain(sh.run("AS answer;", r"1 row, 0 requests"))
    assert "42" in seen

    assert "sms_history" in _plain(sh.run(".tables", r"rows, 0 requests"))
    seen = _plain(sh.run(".schema Contacts", r"21 rows, 0 requests"))
    assert "phone_number" in seen and "one of phone_number, fax_number, email" in seen
    assert "SendSMS" in _plain(sh.run(".procedures", r"rows, 0 requests"))

    sh.run(".format csv", "format csv")
    seen = _plain(
        sh.run("SELECT list_id, list_name FROM lists ORDER BY list_id LIMIT 2;", r"2 rows")
    )
    assert "list_id,list_name" in seen and ",Customers" in seen

    out = tmp_path / "out.csv"
    sh.run(f".output {out}", "results go to")
    sh.run("SELECT list_name FROM lists ORDER BY list_id;", r"5 rows")
    sh.run(".output", "results go to the screen")
    assert out.read_text().splitlines() == [
        "list_name",
        "Customers",
        "VIP",
        "Newsletter",
        "Staff",
        "Opt-out",
    ]

    sh.run(".explain on", "explain on")
    seen = _plain(sh.run("SELECT * FROM contacts WHERE list_id = 752;", r"rows, 0 requests"))
    assert "/lists/752/contacts" in seen
    sh.run(".explain off", "explain off")

    assert "nope" in _plain(sh.run("SELECT nope FROM lists;", r"error:[^\n]*\n"))
    sh.run(".timer off", "timer off")
    seen = _plain(sh.run("SELECT 1 AS x;", r"1 row, 0 requests[^\n]*\n"))
    assert not re.search(r"\d s\b", seen.split("1 row, 0 requests")[1])
    sh.run(".help", r"\.schema \[TABLE\]")
    assert "error" in _plain(sh.run(".bogus", r"unknown command"))

    assert sh.quit() == 0
    history = (tmp_path / "history").read_text()
    assert "SELECT list_name FROM lists ORDER BY list_id;" in history
    assert ".format csv" in history


def test_tab_completes_a_table_name(shell):
    sh = shell()
    sh.type("SELECT count(*) AS n FROM sms_templ")
    sh.tab()
    sh.type(";")
    sh.child.send("\r")
    sh.expect(r"1 row, 1 request")
    seen = _plain(sh.child.before)
    assert "FROM sms_templates;" in seen
    # a column of the table named in the statement, after its alias
    sh.prompt()
    sh.type("SELECT list_id FROM lists l ORDER BY l.list_na")
    sh.tab()
    sh.type(" LIMIT 1;")
    sh.child.send("\r")
    sh.expect(r"1 row")
    assert "ORDER BY l.list_name LIMIT 1;" in _plain(sh.child.before)
    assert sh.quit() == 0


def test_unfiltered_delete_asks_and_no_keeps_the_rows(shell):
    sh = shell()
    before = _count(sh, "sms_templates")
    assert before > 0
    sh.type("DELETE FROM sms_templates;")
    sh.child.send("\r")
    sh.expect(r"DELETE without WHERE deletes every row of sms_templates")
    sh.expect(r"\[y/N\]")
    sh.type("n")
    sh.child.send("\r")
    sh.expect("not run")
    sh.prompt()
    assert _count(sh, "sms_templates") == before

    # and 'y' runs it, on a connection that allows it
    sh.type("DELETE FROM sms_templates;")
    sh.child.send("\r")
    sh.expect(r"\[y/N\]")
    sh.type("y")
    sh.child.send("\r")
    sh.expect(rf"{before} rows affected")
    sh.prompt()
    assert _count(sh, "sms_templates") == 0

    # a send asks too; Enter alone means no
    sh.type("CALL SendSMS(from => 'csql', body => 'hi', to => '+61411111111');")
    sh.child.send("\r")
    sh.expect(r"charged to your ClickSend account")
    sh.expect(r"\[y/N\]")
    sh.child.send("\r")
    sh.expect("not run")
    sh.prompt()
    assert sh.quit() == 0


def _count(sh: Shell, table: str) -> int:
    seen = _plain(sh.run(f"SELECT count(*) AS n FROM {table};", r"1 row, \d+ request"))
    return int(re.findall(r"│\s*(\d+)\s*│", seen)[-1])


@pytest.fixture
def slow_sandbox():
    # 100 pages of sms_history, each answered after 300 ms: several seconds to fetch all
    with Sandbox(seed=2, scale=5, latency_ms=300) as sb:
        yield sb


def test_ctrl_c_cancels_a_running_statement_and_the_shell_goes_on(shell, slow_sandbox):
    sb = slow_sandbox
    sh = shell("--base-url", sb.base_url, "--username", sb.username, "--api-key", sb.api_key)
    sh.type("SELECT count(*) FROM sms_history WHERE body LIKE '%a%';")
    sh.child.send("\r")
    sh.expect("fetching pages")  # the progress bar: pages are being fetched
    started = time.monotonic()
    sh.child.sendintr()
    sh.expect("cancelled")
    sh.prompt()
    assert time.monotonic() - started < 30
    seen = _plain(
        sh.run("SELECT list_name FROM lists ORDER BY list_id LIMIT 1;", r"1 row, 1 request")
    )
    assert "Customers" in seen
    # a long DuckDB computation (no request at all) stops too
    sh.type("SELECT count(*) FROM range(100000000000) t(x) WHERE x % 7 = 3;")
    sh.child.send("\r")
    time.sleep(1.5)
    started = time.monotonic()
    sh.child.sendintr()
    sh.expect("cancelled")
    sh.prompt()
    assert time.monotonic() - started < 30
    assert "Customers" in _plain(  # the same read again: the shell's cache may answer it
        sh.run(
            "SELECT list_name FROM lists ORDER BY list_id LIMIT 1;",
            r"1 row, (1 request|0 requests)",
        )
    )
    # Ctrl-C at the prompt clears the line and keeps the shell
    sh.type("SELECT garbage")
    sh.child.sendintr()
    seen = _plain(sh.run("SELECT 7 AS seven;", r"1 row"))
    assert "error" not in seen
    assert sh.quit() == 0


def test_unwritable_history_is_a_warning_and_ctrl_d_leaves(tmp_path):
    env = dict(os.environ, CSQL_HISTORY=str(tmp_path), PROMPT_TOOLKIT_NO_CPR="1", NO_COLOR="1")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "csql.cli", "--sandbox"],
        env=env,
        dimensions=(50, 200),
        encoding="utf-8",
        timeout=TIMEOUT,
    )
    try:
        child.expect("history not kept")  # CSQL_HISTORY names a directory
        child.expect(PROMPT)
        child.send("SELECT 1 AS x;\r")
        child.expect("1 row")
        child.expect(PROMPT)
        child.sendeof()
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
    finally:
        child.close(force=True)


# -- the completer and helpers, without a terminal ----------------------------------------------


@pytest.fixture(scope="module")
def completer(catalog):
    return SqlCompleter(catalog)


def _texts(completer, text, cursor=None):
    _, found = completer.complete(text, cursor)
    return [c.text for c in found]


def test_completes_tables_and_aliases_after_from(completer):
    assert _texts(completer, "SELECT * FROM sms_h")[0] == "sms_history"
    assert "ContactLists" in _texts(completer, "select * from Contact")
    assert "contacts" in _texts(completer, "SELECT * FROM lists l JOIN conta")
    assert "lists" in _texts(completer, "SELECT * FROM contacts c, li")
    assert "sys_columns" in _texts(completer, "SELECT * FROM sys_c")
    # substring matches come after prefix matches
    found = _texts(completer, "SELECT * FROM history")
    assert "sms_history" in found and "voice_history" in found


def test_completes_procedures_after_call(completer):
    found = _texts(completer, "CALL SendS")
    assert found[0] in ("SendSMS", "SendSMSCampaign") and "SendSMS" in found
    _, cands = completer.complete("CALL SendS")
    assert any(c.meta == "costs money" for c in cands)
    assert "CancelAllSMS" in _texts(completer, "CALL cancelall")


def test_completes_columns_of_the_tables_in_the_statement(completer):
    text = "SELECT first_ FROM contacts"
    found = _texts(completer, text, cursor=len("SELECT first_"))
    assert found[0] == "first_name"
    # through an alias, and only that table's columns
    text = "SELECT c.li FROM contacts c JOIN lists l ON l.list_id = c.list_id"
    found = _texts(completer, text, cursor=len("SELECT c.li"))
    assert found[0] == "list_id" and "list_name" not in found  # contacts' columns only
    text = "SELECT l. FROM contacts c JOIN lists l ON true"
    found = _texts(completer, text, cursor=len("SELECT l."))
    assert "list_name" in found and "first_name" not in found
    # columns of the other statement on the line are not offered
    text = "SELECT * FROM lists; SELECT list_ FROM contacts"
    assert "list_name" not in _texts(completer, text, cursor=len(text) - len(" FROM contacts"))


def test_completes_named_arguments_of_a_call(completer):
    found = _texts(completer, "CALL SendSMS(b")
    assert found[0] == "body => "
    assert "to => " in _texts(completer, "CALL SendSMS(body => 'hi', ")


def test_completes_keywords_in_the_case_typed(completer):
    assert "SELECT" in _texts(completer, "SEL")
    assert "select" in _texts(completer, "sel")
    assert "GROUP BY" in _texts(completer, "SELECT * FROM contacts GRO")


def test_completes_meta_commands_and_their_arguments(completer):
    assert _texts(completer, ".sch") == [".schema"]
    assert _texts(completer, ".format m") == ["markdown"]
    assert _texts(completer, ".explain o") == ["on", "off"]
    assert "contacts" in _texts(completer, ".schema conta")


def test_nothing_pops_up_on_a_bare_space_while_typing(completer):
    _, found = completer.complete("SELECT ", requested=False)
    assert found == []
    _, found = completer.complete("SELECT * FROM ", requested=False)
    assert found  # tables are what comes next


def test_tables_in_reads_incomplete_sql(catalog):
    from csql.metadata import all_sys_tables

    sys_cols = {n: tuple(t.column_names) for n, t in all_sys_tables(catalog).items()}
    found = tables_in("SELECT x. FROM Contacts AS x, lists JOIN sys_tables t ON", catalog, sys_cols)
    assert found["x"][0] == "contacts" and found["contacts"][0] == "contacts"
    assert found["lists"][0] == "lists" and found["t"][0] == "sys_tables"
    assert "on" not in found


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("SELECT 1;", True),
        ("SELECT 1", False),
        ("SELECT ';'", False),
        ("SELECT 1; -- done", True),
        ("SELECT 'unterminated;", False),
        (".tables", True),
        ("", True),
        ("quit", True),
    ],
)
def test_statement_complete(text, complete):
    assert statement_complete(text) is complete
