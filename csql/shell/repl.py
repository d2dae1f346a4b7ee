"""The csql shell: statements and dot commands, interactively (prompt_toolkit for editing,
rich for results) or from a script (batch mode: -c, -f, standard input, `.read FILE`).

Statements may span lines and end with ';'. History is kept in ~/.csql_history (or the file
named by CSQL_HISTORY). Lines starting with '.' or '\\' are dot commands (`.help` lists them);
they work the same in scripts. A statement that costs money, writes every row of a table, or
calls a destructive procedure is first checked with EXPLAIN (its arguments, the rows it
affects, ClickSend's price quote) and then, interactively, asks for confirmation; a batch run
refuses it without --yes. Ctrl-C while a statement runs cancels it; Ctrl-C at the prompt
clears the line; Ctrl-D or `.quit` leaves.

In batch mode results go to standard output (or --output FILE) in a parseable shape
(csql.shell.output.BatchWriter) and everything else (row counts, timings, errors) goes to
standard error.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TextIO

import pyarrow as pa

from csql.dbapi import Connection
from csql.diagnostics import Where, for_user
from csql.errors import Error
from csql.shell import output, safety
from csql.shell.completion import SqlCompleter
from csql.shell.output import BatchWriter, Display, Expanded, PagerMode
from csql.shell.script import Item, ItemKind, split_script
from csql.shell.terminal import (
    HISTORY_ENV,
    Cancelled,
    PageProgress,
    history_path,
    interrupter,
    sigint_watch,
    statement_complete,
)

EXIT_OK, EXIT_ERROR = 0, 1

HELP = """\
Statements end with ';' and may span lines.  Ctrl-C cancels a running statement,
Ctrl-D leaves, TAB completes, Ctrl-R searches the history.  Dot commands work in scripts too.

  .tables [PATTERN]          list the tables (SHOW TABLES), those matching PATTERN (% and *)
  .schema [TABLE]            the columns of a table (DESCRIBE TABLE); of every table without one
  .procedures                list the procedures CALL can run
  .explain on|off            show the requests a statement would make instead of running it
  .format FORMAT             table, csv, json, jsonl or markdown (also .mode)
  .headers on|off            column names in table, csv and markdown output
  .nullvalue TEXT            how NULL is shown (default NULL; empty in csv)
  .maxrows N                 show at most N rows of a result (0: all)
  .expanded on|off|auto      one record per block: always, never, when too wide (also \\x)
  .pager on|off|COMMAND      page long results (with the system pager or COMMAND)
  .timer on|off              show rows, requests and time after each statement
  .param set NAME VALUE      set :NAME for the statements that follow (also \\set NAME VALUE)
  .param list | unset NAME | clear
  .output [FILE]             write results to FILE; without FILE, back to the screen
  .once FILE                 write the next result to FILE
  .read FILE                 run the statements and commands of FILE
  .connect PROFILE           connect with a profile of the config file (~/.config/csql/config.toml)
  .cache on|off|clear|ttl N  keep fetched pages N seconds (default 60) so repeated reads send nothing
  .help                      this text
  .quit                      leave (also .exit, \\q, Ctrl-D)

SELECT * FROM sys_tables; and SELECT * FROM sys_columns; describe every table.
EXPLAIN before a statement shows its requests without sending anything."""

#: statements that `.explain on` prefixes with EXPLAIN
_EXPLAINABLE = {"SELECT", "WITH", "FROM", "VALUES", "INSERT", "UPDATE", "DELETE", "CALL", "TABLE"}
_ON_OFF = ("on", "off")
_MAX_READ_DEPTH = 16  # .read inside .read: enough for any real use, stops a loop


@dataclass
class Settings:
    """What the dot commands change (the config file's [settings] give the defaults)."""

    fmt: str = "table"
    timer: bool = True
    explain: bool = False
    display: Display = field(default_factory=Display)
    params: dict[str, Any] = field(default_factory=dict)
    output_path: str | None = None
    output_file: TextIO | None = field(default=None, repr=False)
    once_path: str | None = None


@dataclass
class Batch:
    """A script run: where results go and what the user allowed on the command line."""

    writer: BatchWriter
    yes: bool = False
    several: bool = False  # more than one SQL statement: errors name the statement


Opener = Callable[..., Connection]
#: `.connect NAME`: (connection, opener of more like it, description) for a profile
ProfileConnector = Callable[[str], tuple[Connection, Opener, str]]


class Shell:
    """One session over a connection, interactive (`run`) or a script (`run_script`).

    `open_connection(**options)` opens another connection to the same account; the shell
    uses it, after a 'y', for an UPDATE/DELETE without WHERE
    (`allow_unfiltered_writes=True`), so the main connection keeps refusing them.
    """

    def __init__(
        self,
        conn: Connection,
        fmt: str = "table",
        open_connection: Opener | None = None,
        banner: str | None = None,
        console=None,
        err_console=None,
        *,
        batch: Batch | None = None,
        settings: Settings | None = None,
        connect_profile: ProfileConnector | None = None,
    ) -> None:
        self.conn = conn
        self.open_connection = open_connection
        self.settings = settings or Settings()
        self.settings.fmt = fmt
        self.banner = banner
        self.batch = batch
        self.connect_profile = connect_profile
        self._console = console
        self._err = err_console
        self._completer: SqlCompleter | None = None
        self._unfiltered: Connection | None = None
        self._session = None
        self._statement = 0  # index of the SQL statement running (batch: from 1)
        self._read_depth = 0

    # -- consoles (rich is imported only when something is drawn) -----------------------------

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False)
        return self._console

    @property
    def err(self):
        if self._err is None:
            from rich.console import Console

            self._err = Console(stderr=True, highlight=False)
        return self._err

    @property
    def completer(self) -> SqlCompleter:
        if self._completer is None:
            self._completer = SqlCompleter(self.conn.catalog)
        return self._completer

    # -- prompt_toolkit ----------------------------------------------------------------------

    def _prompt_session(self):
        import os

        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.filters import Condition, completion_is_selected
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.lexers import PygmentsLexer
        from pygments.lexers.sql import SqlLexer

        path = history_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # private to the user, like psql's; fails on a directory or a read-only file
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
            history = FileHistory(str(path))
        except OSError as e:
            self.err.print(
                f"[yellow]history not kept: cannot write {_escape(str(path))} ({e.strerror}); "
                f"set {HISTORY_ENV} to another file",
                highlight=False,
            )
            history = InMemoryHistory()

        kb = KeyBindings()

        @kb.add("enter", filter=completion_is_selected)
        def _(event):  # Enter on a completion takes it and closes the menu (pgcli's way)
            event.current_buffer.complete_state = None

        session: Any = None

        def multiline() -> bool:
            return session is not None and not statement_complete(session.default_buffer.text)

        session = PromptSession(
            history=history,
            lexer=PygmentsLexer(SqlLexer),
            completer=self.completer.completer(),
            complete_while_typing=True,
            auto_suggest=AutoSuggestFromHistory(),
            multiline=Condition(multiline),
            key_bindings=kb,
            prompt_continuation=lambda width, line, soft: (
                " " * width if soft else "...> ".rjust(width)
            ),
            enable_history_search=False,
            complete_in_thread=False,
        )
        return session

    def _prompt_text(self) -> Any:
        from html import escape

        from prompt_toolkit.formatted_text import HTML

        path = self.settings.output_path
        flags = "".join(
            [
                " <i>explain</i>" if self.settings.explain else "",
                f" <i>→{escape(path)}</i>" if path else "",
            ]
        )
        return HTML(f"<ansigreen><b>csql</b></ansigreen>{flags}> ")

    # -- the loops ----------------------------------------------------------------------------

    def run(self) -> int:
        """The interactive loop, until .quit or Ctrl-D."""
        if self.banner:
            self.console.print(self.banner, highlight=False)
        self._session = self._prompt_session()
        try:
            while True:
                try:
                    text = self._session.prompt(self._prompt_text())
                except KeyboardInterrupt:
                    continue  # Ctrl-C at the prompt clears the line
                except EOFError:
                    return EXIT_OK
                try:
                    if not self.handle(text):
                        return EXIT_OK
                except KeyboardInterrupt:  # while a result was being drawn
                    self.console.print("[yellow]cancelled", highlight=False)
        finally:
            self.close()

    def run_script(self, text: str) -> int:
        """Batch mode: every item of a script in order; stop at the first error (exit 1)."""
        try:
            return EXIT_OK if self._run_items(split_script(text)) else EXIT_ERROR
        finally:
            if self.batch is not None:
                self.batch.writer.close()
            self.close()

    def close(self) -> None:
        self._set_output(None, quiet=True)
        if self._unfiltered is not None:
            with contextlib.suppress(Exception):
                self._unfiltered.close()
            self._unfiltered = None

    def handle(self, text: str) -> bool:
        """Run what was typed (statements and dot commands); False when the shell should end."""
        stripped = text.strip()
        if not stripped:
            return True
        if stripped.lower().rstrip(";") in ("quit", "exit", "help"):
            return self.meta(stripped.rstrip(";"))
        return self._run_items(split_script(text), stop_on_error=False) is not None

    def _run_items(self, items: list[Item], stop_on_error: bool = True) -> bool | None:
        """True when every item succeeded, False at the first failure (batch stops there),
        None when a command asked to leave."""
        ok = True
        for item in items:
            if item.kind is ItemKind.COMMAND:
                result = self.meta(item.text)
                if result is None:
                    return None
                done = result
            else:
                self._statement += 1
                done = self.execute(item.text)
            if not done:
                ok = False
                if stop_on_error or self.batch is None:
                    return False
        return ok

    # -- dot commands -------------------------------------------------------------------------

    def meta(self, line: str) -> bool | None:
        """Run one dot command: True when it worked, False on a usage error, None to leave."""
        parts = line.rstrip(";").strip().split(None, 1)
        command, arg = parts[0].lower(), (parts[1].strip() if len(parts) > 1 else "")
        if command in (".quit", ".exit", "\\q", "quit", "exit", ".q"):
            return None
        handler = self._COMMANDS.get(command)
        if handler is None:
            return self._error(f"unknown command {command}; .help lists the commands")
        return handler(self, arg)

    def _help(self, arg: str) -> bool:
        self._info(HELP)
        return True

    def _tables(self, arg: str) -> bool:
        """`.tables [PATTERN]`: SHOW TABLES, narrowed to names matching a LIKE/glob pattern."""
        if not arg:
            return self.execute("SHOW TABLES", explain=False, counted=False)
        pattern = arg.strip("'\"").lower().replace("%", "*")
        if not any(c in pattern for c in "*?_"):
            pattern = f"*{pattern}*"
        glob = pattern.replace("_", "?")

        def narrow(table: pa.Table) -> pa.Table:
            keep = [fnmatch.fnmatchcase(n.lower(), glob) for n in table["name"].to_pylist()]
            return table.filter(pa.array(keep, pa.bool_()))

        return self._run(self.conn, "SHOW TABLES", transform=narrow)

    def _schema(self, arg: str) -> bool:
        """`.schema TABLE` is DESCRIBE TABLE (the same rows); alone, every table's columns."""
        if not arg:
            return self._run(
                self.conn,
                "SELECT table_name, column_name, data_type, required_on_insert, read_only "
                "FROM sys_columns ORDER BY table_name, ordinal_position",
            )
        return self._run(self.conn, f"DESCRIBE {_ident(arg)}")

    def _procedures(self, arg: str) -> bool:
        return self._run(
            self.conn,
            "SELECT procedure_name, signature, concat_ws(', ', "
            "CASE WHEN costs_money THEN 'costs money' END, "
            "CASE WHEN destructive THEN 'destructive' END) AS note, description "
            "FROM sys_procedures ORDER BY procedure_name",
        )

    def _switch(self, arg: str, name: str) -> bool:
        if arg.lower() not in _ON_OFF:
            state = "on" if getattr(self.settings, name) else "off"
            return self._error(f"usage: .{name} on|off (now {state})")
        setattr(self.settings, name, arg.lower() == "on")
        return self._note(f"{name} {arg.lower()}")

    def _format(self, arg: str) -> bool:
        fmt = arg.lower()
        if fmt not in output.FORMATS:
            return self._error(
                f"usage: .format {'|'.join(output.FORMATS)} (now {self.settings.fmt})"
            )
        self.settings.fmt = fmt
        if self.batch is not None:
            self.batch.writer.fmt = fmt
        return self._note(f"format {fmt}")

    def _headers(self, arg: str) -> bool:
        if arg.lower() not in _ON_OFF:
            state = "on" if self.settings.display.headers else "off"
            return self._error(f"usage: .headers on|off (now {state})")
        self.settings.display.headers = arg.lower() == "on"
        return self._note(f"headers {arg.lower()}")

    def _nullvalue(self, arg: str) -> bool:
        text = arg[1:-1] if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "'\"" else arg
        self.settings.display.nullvalue = text
        return self._note(f"NULL is shown as {text!r}")

    def _maxrows(self, arg: str) -> bool:
        if not arg.isdigit():
            now = self.settings.display.maxrows or "0, all"
            return self._error(f"usage: .maxrows N (0 shows every row; now {now})")
        self.settings.display.maxrows = int(arg)
        return self._note(f"at most {arg} rows shown" if int(arg) else "every row shown")

    def _expanded(self, arg: str, toggle: bool = False) -> bool:
        display = self.settings.display
        if not arg and toggle:  # \x alone flips between on and off, like psql
            display.expanded = Expanded.OFF if display.expanded is Expanded.ON else Expanded.ON
        else:
            try:
                display.expanded = Expanded(arg.lower())
            except ValueError:
                now = display.expanded.value
                return self._error(f"usage: .expanded on|off|auto (now {now})")
        return self._note(f"expanded display {display.expanded.value}")

    def _pager(self, arg: str) -> bool:
        display = self.settings.display
        if not arg:
            now = display.pager_command or display.pager.value
            return self._error(f"usage: .pager on|off|COMMAND (now {now})")
        if arg.lower() in _ON_OFF:
            display.pager, display.pager_command = PagerMode(arg.lower()), None
        else:
            display.pager, display.pager_command = PagerMode.COMMAND, arg
        return self._note(f"pager {display.pager_command or display.pager.value}")

    def _param(self, arg: str) -> bool:
        """`.param set NAME VALUE | list | unset NAME | clear` (sqlite3's, and psql's \\set)."""
        parts = arg.split(None, 2)
        action = parts[0].lower() if parts else "list"
        params = self.settings.params
        if action == "list":
            if not params:
                return self._note("no parameters; .param set NAME VALUE sets :NAME")
            table = pa.table(
                {
                    "name": [f":{n}" for n in params],
                    "value": [_sql_text(v) for v in params.values()],
                }
            )
            self._show(table)
            return self._note(output.plural(len(params), "parameter"))
        if action == "set" and len(parts) == 3:
            name = parts[1].lstrip(":$@")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                return self._error(f"{parts[1]} is not a parameter name (letters, digits, _)")
            params[name] = self._value(parts[2])
            return self._note(f":{name} = {_sql_text(params[name])}")
        if action == "unset" and len(parts) == 2:
            name = parts[1].lstrip(":$@")
            if params.pop(name, _MISSING) is _MISSING:
                return self._error(f"no parameter :{name} (.param list shows them)")
            return self._note(f":{name} unset")
        if action == "clear":
            params.clear()
            return self._note("parameters cleared")
        return self._error(
            "usage: .param set NAME VALUE | .param list | .param unset NAME | .param clear"
        )

    def _backslash_set(self, arg: str) -> bool:
        return self._param(f"set {arg}" if arg else "list")

    def _backslash_unset(self, arg: str) -> bool:
        return self._param(f"unset {arg}")

    def _value(self, text: str) -> Any:
        """A `.param set` value: a SQL literal or expression ('VIP', 42, DATE '2024-01-31'),
        evaluated by DuckDB; a bare word that is no expression is taken as text."""
        try:
            cur = self.conn.cursor()
            cur.execute(f"SELECT {text}")
            row = cur.fetchone()
            if row is not None and len(row) == 1:
                return row[0]
        except Error:
            pass
        return text

    def _output(self, arg: str) -> bool:
        return self._set_output(arg or None)

    def _once(self, arg: str) -> bool:
        if not arg:
            return self._error("usage: .once FILE (the next result goes to FILE)")
        self.settings.once_path = arg
        return self._note(f"the next result goes to {arg}")

    def _read(self, arg: str) -> bool:
        if not arg:
            return self._error("usage: .read FILE")
        path = Path(arg.strip("'\"")).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            return self._error(f"cannot read {arg}: {e.strerror}")
        except UnicodeDecodeError:
            return self._error(f"{arg} is not UTF-8 text")
        if self._read_depth >= _MAX_READ_DEPTH:
            return self._error(
                f".read nested more than {_MAX_READ_DEPTH} deep (a file reading itself?)"
            )
        self._read_depth += 1
        try:
            result = self._run_items(split_script(text), stop_on_error=self.batch is not None)
        finally:
            self._read_depth -= 1
        return bool(result)

    def _connect(self, arg: str) -> bool:
        """`.connect PROFILE`: the next statements go to another account or subaccount."""
        if not arg:
            return self._error(
                "usage: .connect PROFILE (profiles are in ~/.config/csql/config.toml)"
            )
        if self.connect_profile is None:
            return self._error("this shell cannot open other connections")
        try:
            conn, opener, description = self.connect_profile(arg)
        except Error as e:
            return self._error(str(e))
        old, self.conn, self.open_connection = self.conn, conn, opener
        for stale in (old, self._unfiltered):
            if stale is not None:
                with contextlib.suppress(Exception):
                    stale.close()
        self._unfiltered = None
        return self._note(f"connected to {description}")

    _COMMANDS: ClassVar[dict[str, Callable[[Shell, str], bool]]] = {
        ".help": _help,
        ".h": _help,
        "\\?": _help,
        "help": _help,
        ".tables": _tables,
        "\\dt": _tables,
        ".schema": _schema,
        "\\d": _schema,
        ".procedures": _procedures,
        ".explain": lambda self, arg: self._switch(arg, "explain"),
        ".timer": lambda self, arg: self._switch(arg, "timer"),
        "\\timing": lambda self, arg: self._switch(arg or ("off" if self.settings.timer else "on"), "timer"),
        ".format": _format,
        ".mode": _format,
        ".headers": _headers,
        ".nullvalue": _nullvalue,
        ".maxrows": _maxrows,
        ".expanded": _expanded,
        "\\x": lambda self, arg: self._expanded(arg, toggle=True),
        ".pager": _pager,
        ".param": _param,
        ".parameter": _param,
        "\\set": _backslash_set,
        "\\unset": _backslash_unset,
        ".output": _output,
        "\\o": _output,
        ".once": _once,
        ".read": _read,
        "\\i": _read,
        ".connect": _connect,
        "\\c": _connect,
        ".cache": lambda self, arg: self._cache(arg),  # csql.sync.shell_cache
    }  # fmt: skip

    def _cache(self, arg: str) -> bool:
        """`.cache on|off|clear|ttl N`: the read cache of this connection (csql.sync)."""
        from csql.sync.shell_cache import cache_command

        ok, message = cache_command(self.conn._live(), arg)
        if not ok:
            return self._error(message)
        if self.batch is None:
            self._info(message)
        return True

    def _set_output(self, path: str | None, quiet: bool = False) -> bool:
        s = self.settings
        if s.output_file is not None:
            s.output_file.close()
            s.output_file, s.output_path = None, None
        if path is None:
            return True if quiet else self._note("results go to the screen")
        try:
            s.output_file = open(Path(path).expanduser(), "w", encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            return self._error(f"cannot write {path}: {e.strerror}")
        s.output_path = path
        return self._note(f"results go to {path} (.output alone: back to the screen)")

    # -- statements ---------------------------------------------------------------------------

    def _params_for(self, sql: str) -> dict[str, Any] | None:
        """The `.param` values the statement uses (only those: unused ones are an error)."""
        if not self.settings.params:
            return None
        from csql.sqltext import placeholder_names

        lower = {k.lower(): v for k, v in self.settings.params.items()}
        used = {n: lower[n.lower()] for n in placeholder_names(sql) if n.lower() in lower}
        return used or None

    def execute(self, sql: str, explain: bool | None = None, counted: bool = True) -> bool:
        """Run one statement and show its result; False if it failed, was refused or cancelled."""
        explain = self.settings.explain if explain is None else explain
        if explain and safety.leading_keyword(sql) in _EXPLAINABLE:
            sql = "EXPLAIN " + sql
        params = self._params_for(sql)
        verdict = safety.assess(sql, self.conn.catalog)
        conn = self.conn
        if verdict.needs_confirmation:
            if self.batch is not None and not self.batch.yes:
                return self._error(
                    f"refused: {verdict.message}; add --yes to run it "
                    "(EXPLAIN <statement> shows what it would send)"
                )
            if verdict.unfiltered_write and self.batch is None:
                conn = self._unfiltered_connection()
                if conn is None:
                    return False
            if self.batch is None and not self._confirm(conn, sql, params, verdict):
                return False
        return self._run(conn, sql, params=params, counted=counted)

    def _confirm(
        self, conn: Connection, sql: str, params: dict | None, verdict: safety.Assessment
    ) -> bool:
        """Check the statement with EXPLAIN, say what it would do, then ask."""
        from prompt_toolkit import prompt
        from prompt_toolkit.formatted_text import HTML

        from csql.shell.confirm import preview

        try:
            found = preview(conn, sql, params)
        except Error as e:  # wrong arguments, unknown columns: say so before asking anything
            return self._error(for_user(e, Where.CLI))
        for reason in verdict.reasons:
            self.console.print(f"[bold yellow]warning:[/] {_escape(reason)}.", highlight=False)
        for line in found.lines(safety.target_table(sql, conn.catalog)):
            self.console.print(f"[bold]{_escape(line)}.", highlight=False)
        try:
            answer = prompt(HTML("<b>Run it?</b> [y/N] "))
        except (KeyboardInterrupt, EOFError):
            answer = ""
        if answer.strip().lower() in ("y", "yes"):
            return True
        self._note("not run")
        return False

    def _unfiltered_connection(self) -> Connection | None:
        if self._unfiltered is None:
            if self.open_connection is None:
                self._error("this shell cannot open a connection that allows unfiltered writes")
                return None
            try:
                self._unfiltered = self.open_connection(allow_unfiltered_writes=True)
            except Error as e:
                self._error(str(e))
                return None
        return self._unfiltered

    def _run(
        self,
        conn: Connection,
        sql: str,
        transform: Callable[[pa.Table], pa.Table] | None = None,
        params: dict | None = None,
        counted: bool = False,
    ) -> bool:
        stats = conn.stats
        requests0, retries0 = stats.snapshot()
        keyword = safety.leading_keyword(sql)
        started = time.perf_counter()
        table: pa.Table | None = None
        progress_console = (
            self.console
            if self.batch is None
            else (
                self.err if sys.stderr.isatty() else None  # no bar in a pipe (and no rich import)
            )
        )
        try:
            with (
                sigint_watch(interrupter(conn)) as interrupted,
                PageProgress(progress_console, stats),
            ):
                try:
                    cur = conn.cursor()
                    cur.execute(sql, params)
                    table = cur.fetch_arrow_table() if cur.description is not None else None
                    rowcount = cur.rowcount
                except Exception as e:
                    if interrupted[0]:  # DuckDB's or csql's error for the interruption
                        raise Cancelled from None
                    if not isinstance(e, Error):
                        raise
                    return self._error(for_user(e, Where.CLI), statement=counted)
        except (KeyboardInterrupt, Cancelled):
            note = "cancelled"
            if keyword in ("INSERT", "UPDATE", "DELETE", "CALL"):
                note += " (rows written before Ctrl-C stay written)"
            self._status(note, "yellow")
            return False
        except Exception as e:  # a bug, not the user's fault: report it and keep the shell
            return self._error(f"internal error: {type(e).__name__}: {e}")
        elapsed = time.perf_counter() - started
        if table is not None:
            self._show(transform(table) if transform else table)
        requests, retries = stats.snapshot()
        writes = keyword in ("INSERT", "UPDATE", "DELETE")
        rows = rowcount if (writes or table is None) else table.num_rows
        line = output.status_line(
            rows,
            requests - requests0,
            elapsed if self.settings.timer else None,
            affected=writes,
            retries=retries - retries0,
        )
        if self.batch is None or self.settings.timer:
            self._status(line)
        elif table is None and rowcount >= 0:  # batch: the count of a write, on stderr
            self._status(f"{output.plural(rowcount, 'row')} affected")
        self._warnings(cur.messages)
        return True

    def _warnings(self, messages: list) -> None:
        """The statement's csql.Warning (cursor.messages: messages of a send that ClickSend
        refused), after its status line: the screen interactively, standard error in batch."""
        for _, text in messages:
            self._status(f"warning: {text}", "yellow")

    def _show(self, table: pa.Table) -> None:
        s = self.settings
        if s.once_path is not None:
            path, s.once_path = s.once_path, None
            try:
                with open(Path(path).expanduser(), "w", encoding="utf-8") as fh:
                    fh.write(output.render(table, s.fmt, s.display, max(self._statement, 1)))
            except OSError as e:
                self._error(f"cannot write {path}: {e.strerror}")
            return
        if s.output_file is not None:
            text = output.render(table, s.fmt, s.display, max(self._statement, 1))
            s.output_file.write(text)
            s.output_file.flush()
            return
        if self.batch is not None:
            self.batch.writer.write(table, max(self._statement, 1))
            return
        output.show(
            self.console, table, s.fmt, display=s.display, statement=max(self._statement, 1)
        )

    # -- messages -----------------------------------------------------------------------------

    def _error(self, message: str, statement: bool = False) -> bool:
        """Report an error (batch: on standard error, naming the statement); always False."""
        if self.batch is not None:
            where = f" in statement {self._statement}" if statement and self.batch.several else ""
            print(f"error{where}: {message}", file=sys.stderr, flush=True)
        else:
            self.console.print(f"[bold red]error:[/] {_escape(message)}", highlight=False)
        return False

    def _note(self, message: str) -> bool:
        """A confirmation of a dot command (batch: silent, as in sqlite3); always True."""
        if self.batch is None:
            self.console.print(f"[bright_black]{_escape(message)}", highlight=False)
        return True

    def _info(self, text: str) -> None:
        if self.batch is not None:
            print(text, file=sys.stderr)
        else:
            self.console.print(text, highlight=False, markup=False)

    def _status(self, text: str, style: str = "bright_black") -> None:
        """The line after a statement: the screen interactively, standard error in batch."""
        if self.batch is not None:
            print(text, file=sys.stderr, flush=True)
        else:
            self.console.print(f"[{style}]{_escape(text)}", highlight=False)


_MISSING = object()


def _sql_text(value: Any) -> str:
    """A parameter's value as the SQL literal it stands for."""
    from csql.binder import DIALECT, sql_literal

    return sql_literal(value).sql(dialect=DIALECT)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _ident(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or re.fullmatch(r'"[^"]+"', name):
        return name
    return '"' + name.replace('"', '""') + '"'


def run_shell(
    conn: Connection,
    fmt: str = "table",
    open_connection: Opener | None = None,
    banner: str | None = None,
    **kwargs: Any,
) -> int:
    """Run the interactive shell on `conn` until .quit or Ctrl-D; the exit status."""
    return Shell(conn, fmt, open_connection, banner, **kwargs).run()


__all__ = ["Batch", "Settings", "Shell", "run_shell"]
