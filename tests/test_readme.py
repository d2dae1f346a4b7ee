"""README.md is true: every fenced sh and python block runs (against local sandboxes, never
the internet), a ```text block right after a command is its exact output, the two opening
commands stay first and the test command is .ci/run's, and the table list is the catalog's.

Blocks run verbatim. Where they name the real ClickSend (`you@example.com`, `YOUR-API-KEY`),
CLICKSEND_BASE_URL points at a sandbox that has exactly those credentials; `csql sandbox
--port N` is started in the background and the blocks after it talk to it, as a reader's
second terminal would. `CSQL_UPDATE_README=1 pytest tests/test_readme.py` rewrites the table
list from the catalog.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from csql.catalog import default_catalog
from csql.sandbox import Sandbox
from tests.test_shell import PROMPT

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
TABLES = re.compile(r"(<!-- tables:[^\n]*-->\n)(.*?)(<!-- /tables -->)", re.S)
FIRST = "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && csql --sandbox"
TEST_COMMAND = "pip install -e '.[test]' && pytest"
SECOND = f"python3 -m venv .venv && . .venv/bin/activate && {TEST_COMMAND}"
PLACEHOLDER_USER, PLACEHOLDER_KEY = "you@example.com", "YOUR-API-KEY"
TIMEOUT = 180


@dataclass
class Block:
    lang: str
    code: str
    output: str | None  # the ```text block that follows a command, if any
    line: int


def blocks(text: str) -> list[Block]:
    found = [
        (m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)
    ]
    out: list[Block] = []
    for i, (lang, code, line) in enumerate(found):
        if lang == "text":
            continue
        nxt = found[i + 1] if i + 1 < len(found) else None
        output = nxt[1] if nxt is not None and nxt[0] == "text" else None
        out.append(Block(lang, code, output, line))
    return out


def table_list() -> str:
    """The README's table list, from the catalog."""
    catalog = default_catalog()
    lines = [
        f"{len(catalog.tables)} tables (and `sys_tables`, `sys_columns`, `sys_procedures`):",
        "",
        "| table | operations | Skyvia name(s) |",
        "|---|---|---|",
    ]
    for t in sorted(catalog.tables, key=lambda t: t.name):
        lines.append(f"| `{t.name}` | {', '.join(t.operations)} | {', '.join(t.aliases)} |")
    return "\n".join(lines) + "\n"


def test_table_list_is_the_catalogs():
    text = README.read_text()
    m = TABLES.search(text)
    assert m, "README.md has no <!-- tables: ... --> ... <!-- /tables --> section"
    if os.environ.get("CSQL_UPDATE_README"):
        text = text[: m.start(2)] + table_list() + text[m.end(2) :]
        README.write_text(text)
        m = TABLES.search(text)
    assert m.group(2) == table_list(), "run CSQL_UPDATE_README=1 pytest tests/test_readme.py"


def test_opening_commands_come_first_and_ci_runs_the_test_command():
    found = blocks(README.read_text())
    assert [b.code.strip() for b in found[:2]] == [FIRST, SECOND]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert TEST_COMMAND in ci, ".ci/run must run the README's test command verbatim"
    assert "python3 -m venv .venv" in ci and ". .venv/bin/activate" in ci


def test_first_command_opens_the_sandbox_shell(tmp_path):
    """The end of the first command, `csql --sandbox`, in a terminal: the prompt, then .quit.
    (The venv and pip steps are what this test environment was built with.)"""
    pexpect = pytest.importorskip("pexpect")
    env = dict(os.environ, CSQL_HISTORY=str(tmp_path / "h"), PROMPT_TOOLKIT_NO_CPR="1",
               NO_COLOR="1", TERM="xterm", CSQL_CONFIG=str(tmp_path / "none.toml"))  # fmt: skip
    child = pexpect.spawn(FIRST.rsplit("&& ", 1)[1], env=env, encoding="utf-8", timeout=TIMEOUT,
                          dimensions=(40, 160))  # fmt: skip
    child.expect(r"the built-in sandbox")
    child.expect(PROMPT)
    child.send(".quit\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_extras_named_in_the_readme_exist():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    named = set(re.findall(r"^\s*\| `(\w+)` \| ", README.read_text(), re.M)) & {
        "sqlalchemy",
        "jupyter",
        "test",
        "delta",
    }
    assert named and named <= set(extras)


@pytest.fixture
def account():
    """A sandbox standing in for the reader's real account (the README's placeholders)."""
    with Sandbox(username=PLACEHOLDER_USER, api_key=PLACEHOLDER_KEY) as sb:
        yield sb


def test_every_command_runs_and_prints_what_the_readme_shows(account, tmp_path):
    found = blocks(README.read_text())[2:]  # the opening two: the tests above
    assert found, "no commands in README.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKSEND_", "CSQL_"))}
    env.update(
        CLICKSEND_BASE_URL=account.base_url,  # never the real ClickSend
        CSQL_CONFIG=str(tmp_path / "config.toml"),
        CSQL_HISTORY=str(tmp_path / "history"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    servers: list[subprocess.Popen] = []
    python_env = dict(env)
    try:
        for b in found:
            where = f"README.md line {b.line}"
            if b.lang == "toml":
                Path(env["CSQL_CONFIG"]).write_text(b.code)
            elif b.lang == "sh" and b.code.strip().startswith("csql sandbox"):
                servers.append(_serve(b, env, where))
                for line in (b.output or "").splitlines():  # its export lines: Python's too
                    if line.startswith("export "):
                        name, _, value = line[len("export ") :].partition("=")
                        python_env[name] = shlex.split(value)[0]
            elif b.lang == "sh":
                done = subprocess.run(["bash", "-e", "-c", b.code], env=env, cwd=tmp_path,
                                      capture_output=True, text=True, timeout=TIMEOUT)  # fmt: skip
                assert done.returncode == 0, f"{where}: {b.code}\n{done.stderr}"
                if b.output is not None:
                    assert done.stdout == b.output, f"{where}: output differs"
            elif b.lang == "python":
                done = subprocess.run([sys.executable, "-c", textwrap.dedent(b.code)],
                                      env=python_env, cwd=tmp_path, capture_output=True,
                                      text=True, timeout=TIMEOUT)  # fmt: skip
                assert done.returncode == 0, f"{where}:\n{done.stderr}"
            else:
                pytest.fail(f"{where}: a ```{b.lang} block; use sh, python, toml or text")
    finally:
        for p in servers:
            p.terminate()
            p.wait(timeout=30)


def _serve(b: Block, env: dict, where: str) -> subprocess.Popen:
    """Start a `csql sandbox` block in the background; its first lines must be the README's."""
    proc = subprocess.Popen(["bash", "-c", "exec " + b.code.strip()], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    want = (b.output or "").splitlines()
    got = [proc.stdout.readline().rstrip("\n") for _ in want]
    if got != want:
        proc.terminate()
        pytest.fail(f"{where}: csql sandbox printed {got}, the README shows {want}")
    return proc
