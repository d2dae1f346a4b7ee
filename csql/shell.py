"""The interactive shell: prompt_toolkit for editing, rich for results.

Statements may span lines and end with ';'. History is kept in ~/.csql_history (or the file
named by CSQL_HISTORY). TAB completes keywords, table names and Skyvia aliases, procedure
names after CALL, and the columns of the tables named in the statement being typed.

Lines starting with '.' are meta commands (`.help` lists them). A statement that costs money,
writes every row of a table, or calls a destructive procedure asks for confirmation first
(csql.safety). Ctrl-C while a statement runs cancels it; Ctrl-C at the prompt clears the
line; Ctrl-D or `.quit` leaves.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from csql import output, safety
from csql.catalog import Catalog
from csql.dbapi import Connection
from csql.errors import Error

HISTORY_ENV = "CSQL_HISTORY"

HELP = """\
Statements end with ';' and may span lines.  Ctrl-C cancels a running statement,
Ctrl-D leaves, TAB completes, Ctrl-R searches the history.

  .tables              list the tables (SHOW TABLES)
  .schema TABLE        the columns of a table (DESCRIBE TABLE)
  .procedures          list the procedures CALL can run
  .explain on|off      show the requests a statement would make instead of running it
  .format FORMAT       table, csv, json or markdown
  .timer on|off        show how long each statement took
  .output [FILE]       write results to FILE; without FILE, back to the screen
  .help                this text
  .quit                leave (also .exit, \\q, Ctrl-D)

SELECT * FROM sys_tables; and SELECT * FROM sys_columns; describe every table.
EXPLAIN before a statement shows its requests without sending anything."""

META_COMMANDS = {
    ".tables": "list the tables",
    ".schema": "the columns of a table",
    ".procedures": "list the procedures",
    ".explain": "on|off: EXPLAIN every statement",
    ".format": "table|csv|json|markdown",
    ".timer": "on|off: time each statement",
    ".output": "FILE: write results to a file",
    ".help": "list the meta commands",
    ".quit": "leave the shell",
    ".exit": "leave the shell",
}

KEYWORDS = (
    "SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "HAVING", "LIMIT", "OFFSET", "JOIN",
    "LEFT JOIN", "RIGHT JOIN", "INNER JOIN", "FULL JOIN", "CROSS JOIN", "ON", "USING", "AS",
    "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "BETWEEN", "EXISTS", "DISTINCT",
    "CASE", "WHEN", "THEN", "ELSE", "END", "UNION", "UNION ALL", "EXCEPT", "INTERSECT", "WITH",
    "ASC", "DESC", "NULLS FIRST", "NULLS LAST", "INSERT INTO", "VALUES", "UPDATE", "SET",
    "DELETE FROM", "RETURNING", "CALL", "EXPLAIN", "DESCRIBE", "SHOW TABLES", "TRUE", "FALSE",
    "CAST", "INTERVAL", "QUALIFY", "OVER", "PARTITION BY", "FILTER", "WINDOW",
)  # fmt: skip

FUNCTIONS = (
    "count", "sum", "avg", "min", "max", "coalesce", "nullif", "lower", "upper", "length",
    "substr", "trim", "replace", "concat", "round", "abs", "date_trunc", "date_part",
    "strftime", "strptime", "to_timestamp", "epoch", "now", "current_date", "age", "regexp_matches",
    "string_agg", "list", "array_agg", "unnest", "json_extract", "json_extract_string",
    "row_number", "rank", "lag", "lead", "first", "last", "any_value", "median", "quantile",
    "count_if", "greatest", "least", "starts_with", "contains",
)  # fmt: skip

#: keywords after which the next word names a table
_TABLE_CONTEXT = {"FROM", "JOIN", "INTO", "UPDATE", "TABLE", "DESCRIBE", "DESC"}
#: words that cannot be a table alias (they follow a table name in a FROM clause)
_NOT_ALIAS = {
    "WHERE", "JOIN", "LEFT", "RIGHT", "INNER", "FULL", "CROSS", "OUTER", "NATURAL", "ON",
    "USING", "GROUP", "ORDER", "LIMIT", "OFFSET", "HAVING", "UNION", "EXCEPT", "INTERSECT",
    "SET", "VALUES", "SELECT", "RETURNING", "WINDOW", "QUALIFY", "AS", "DEFAULT", "LATERAL",
    "POSITIONAL", "ASOF", "ANTI", "SEMI", "BY",
}  # fmt: skip
_TOKEN = re.compile(r'"[^"]*"?|\w+|[^\s\w]')
_WORD_BEFORE = re.compile(r"(?:(\w+)\.)?(\w*)$")
_CALL_ARGS = re.compile(r"\s*CALL\s+\"?(\w+)\"?\s*\([^)]*$", re.I)

#: statements that `.explain on` prefixes with EXPLAIN
_EXPLAINABLE = {"SELECT", "WITH", "FROM", "VALUES", "INSERT", "UPDATE", "DELETE", "CALL", "TABLE"}


# -- completion -----------------------------------------------------------------------------------


def _unquote(token: str) -> str:
    return token.strip('"')


def _current_statement(text: str, cursor: int) -> tuple[str, str]:
    """(the statement around the cursor up to it, the whole statement) split on ';'."""
    start = text.rfind(";", 0, cursor) + 1
    end = text.find(";", cursor)
    end = len(text) if end < 0 else end
    return text[start:cursor], text[start:end]


def tables_in(statement: str, catalog: Catalog, sys_columns: dict[str, tuple[str, ...]]):
    """{alias or name (lower case): (table name, its columns)} for the tables a statement names.

    Works on incomplete SQL: a token walk, not a parse.
    """
    tokens = _TOKEN.findall(statement)
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    i = 0
    while i < len(tokens):
        if tokens[i].upper() not in _TABLE_CONTEXT:
            i += 1
            continue
        clause = tokens[i].upper()
        i += 1
        while i < len(tokens):
            name = _unquote(tokens[i])
            cols: tuple[str, ...] | None = None
            table = catalog.table(name)
            if table is not None:
                canonical, cols = table.name, table.column_names
            elif name.lower() in sys_columns:
                canonical, cols = name.lower(), sys_columns[name.lower()]
            if cols is None:
                break
            found.setdefault(name.lower(), (canonical, cols))
            found.setdefault(canonical, (canonical, cols))
            i += 1
            if i < len(tokens) and tokens[i].upper() == "AS":
                i += 1
            if (
                i < len(tokens)
                and re.fullmatch(r'\w+|"[^"]*"', tokens[i])
                and tokens[i].upper() not in _NOT_ALIAS
            ):
                found[_unquote(tokens[i]).lower()] = (canonical, cols)
                i += 1
            if clause == "FROM" and i < len(tokens) and tokens[i] == ",":
                i += 1
                continue
            break
    return found


@dataclass(frozen=True)
class Candidate:
    text: str
    meta: str
    kind: str  # column, table, keyword, function, procedure, meta


class SqlCompleter:
    """Completions for csql: see the module docstring. `complete()` is pure and testable;
    `completer()` wraps it for prompt_toolkit."""

    def __init__(self, catalog: Catalog) -> None:
        from csql.metadata import all_sys_tables

        self.catalog = catalog
        self.sys_columns = {n: tuple(t.column_names) for n, t in all_sys_tables(catalog).items()}
        tables: list[Candidate] = []
        seen: set[str] = set()
        for t in catalog.tables:
            tables.append(Candidate(t.name, "table", "table"))
            seen.add(t.name.lower())
        for t in catalog.tables:
            for a in t.aliases:
                if a.lower() not in seen:
                    seen.add(a.lower())
                    tables.append(Candidate(a, f"alias of {t.name}", "table"))
        tables += [Candidate(n, "metadata table", "table") for n in self.sys_columns]
        self.tables = tables
        self.procedures = [
            Candidate(p.name, "costs money" if p.costs_money else "procedure", "procedure")
            for p in catalog.procedures
        ]

    def complete(self, text: str, cursor: int | None = None, requested: bool = True):
        """(start offset relative to the cursor, candidates) for `text` with the cursor at
        `cursor`."""
        cursor = len(text) if cursor is None else cursor
        before, statement = _current_statement(text, cursor)
        m = _WORD_BEFORE.search(before)
        qualifier, word = (m.group(1), m.group(2)) if m else (None, "")
        head = before[: len(before) - len(word) - (len(qualifier) + 1 if qualifier else 0)]
        stripped = before.lstrip()
        if stripped.startswith(".") or stripped.startswith("\\"):
            return self._meta(stripped)
        tokens = _TOKEN.findall(head)
        prev = tokens[-1].upper() if tokens else ""
        if qualifier:
            tables = tables_in(statement, self.catalog, self.sys_columns)
            hit = tables.get(qualifier.lower())
            cols = [Candidate(c, f"column of {hit[0]}", "column") for c in hit[1]] if hit else []
            return -len(word), _filter(cols, word)
        if prev == "CALL":
            return -len(word), _filter(self.procedures, word)
        call = _CALL_ARGS.match(head)
        if call and prev in ("(", ","):
            proc = self.catalog.procedure(call.group(1))
            if proc is not None:  # named arguments: CALL SendSMS(to => ..., body => ...)
                params = [
                    Candidate(
                        f"{p.name} => ",
                        f"{p.type}{', required' if p.required else ''}",
                        "parameter",
                    )
                    for p in proc.parameters
                ]
                return -len(word), _filter(params, word)
        if prev in _TABLE_CONTEXT or (prev == "," and _clause(tokens) == "FROM"):
            return -len(word), _filter(self.tables, word)
        if not word and not requested:
            return 0, []
        tables = tables_in(statement, self.catalog, self.sys_columns)
        columns: dict[str, Candidate] = {}
        for canonical, cols in tables.values():
            for c in cols:
                columns.setdefault(c, Candidate(c, f"column of {canonical}", "column"))
        lower = bool(word) and word.islower()
        keywords = [Candidate(k.lower() if lower else k, "keyword", "keyword") for k in KEYWORDS]
        functions = [Candidate(f + "(", "function", "function") for f in FUNCTIONS]
        pool = list(columns.values()) + keywords + functions + self.tables
        return -len(word), _filter(pool, word)

    def _meta(self, stripped: str):
        parts = stripped.split()
        if len(parts) <= 1 and not stripped.endswith(" "):
            word = parts[0] if parts else ""
            pool = [Candidate(c, d, "meta") for c, d in META_COMMANDS.items()]
            return -len(word), _filter(pool, word, fuzzy=False)
        command = parts[0].lower()
        word = "" if stripped.endswith(" ") else parts[-1]
        if command == ".schema":
            return -len(word), _filter(self.tables, word)
        if command == ".format":
            pool = [Candidate(f, "format", "meta") for f in output.FORMATS]
            return -len(word), _filter(pool, word)
        if command in (".explain", ".timer"):
            return -len(word), _filter(
                [Candidate("on", "", "meta"), Candidate("off", "", "meta")], word
            )
        return 0, []

    def completer(self):
        from prompt_toolkit.completion import Completer, Completion

        outer = self

        class _Completer(Completer):
            def get_completions(self, document, complete_event):
                start, found = outer.complete(
                    document.text, document.cursor_position, complete_event.completion_requested
                )
                for c in found:
                    yield Completion(c.text, start_position=start, display_meta=c.meta)

        return _Completer()


def _clause(tokens: list[str]) -> str:
    """The last clause keyword among `tokens` (to tell `FROM a, <here>` from `SELECT a, <here>`)."""
    clauses = {"SELECT", "FROM", "WHERE", "GROUP", "ORDER", "HAVING", "SET", "VALUES", "ON", "BY"}
    for t in reversed(tokens):
        if t.upper() in clauses:
            return t.upper()
        if t.upper() == "JOIN":
            return "FROM"
    return ""


def _filter(pool: Iterable[Candidate], word: str, fuzzy: bool = True) -> list[Candidate]:
    """Prefix matches first, then (for 2+ letters) names containing the word; no duplicates."""
    w = word.lower()
    prefix, inner, seen = [], [], set()
    for c in pool:
        key = c.text.lower()
        if key in seen:
            continue
        if key.startswith(w):
            prefix.append(c)
            seen.add(key)
        elif fuzzy and len(w) >= 2 and w in key:
            inner.append(c)
            seen.add(key)
    return prefix + inner


# -- the shell -------------------------------------------------------------------------------------


def history_path() -> Path:
    return Path(os.environ.get(HISTORY_ENV) or Path.home() / ".csql_history").expanduser()


def statement_complete(text: str) -> bool:
    """True when Enter should run the buffer: it ends with ';' outside quotes and comments,
    or it is a meta command, or it is empty."""
    stripped = text.strip()
    if not stripped or stripped[0] in ".\\" or stripped.lower() in ("quit", "exit", "help"):
        return True
    if ";" not in stripped:
        return False
    import sqlglot.tokens as tk

    from csql.binder import DIALECT

    try:
        tokens = tk.Tokenizer(dialect=DIALECT).tokenize(text)
    except Exception:
        return False  # an unterminated string or comment: keep reading lines
    return bool(tokens) and tokens[-1].token_type == tk.TokenType.SEMICOLON


class _Cancelled(Exception):
    pass


def _interrupter(conn: Connection) -> Callable[[], None] | None:
    """How to stop the statement running on `conn` from another thread.

    `Connection.interrupt()` when the connection has one (as sqlite3's does); otherwise DuckDB's
    own interrupt on the connection's session, which stops a long DuckDB computation (HTTP
    waits need nothing: the Ctrl-C reaches them as KeyboardInterrupt, and csql's runner
    cancels the requests in flight).
    """
    public = getattr(conn, "interrupt", None)
    if callable(public):
        return public
    duck = getattr(getattr(conn, "_session", None), "duck", None)
    return getattr(duck, "interrupt", None)


@contextlib.contextmanager
def _sigint_watch(interrupt: Callable[[], None] | None = None) -> Iterator[list[bool]]:
    """While a statement runs: note a Ctrl-C, and call `interrupt` from a helper thread.

    Python runs a signal handler only between bytecodes of the main thread, so a Ctrl-C
    during a long DuckDB computation would wait for it to finish. The signal's wakeup fd
    wakes a helper thread at once instead, and it interrupts DuckDB, whose error then
    surfaces (noted as a cancel, not reported as an error).
    """
    import socket
    import threading

    hit = [False]
    if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        yield hit  # pragma: no cover
        return

    def handler(signum, frame):
        hit[0] = True
        raise KeyboardInterrupt

    reader, writer = socket.socketpair()
    writer.setblocking(False)

    def watch() -> None:
        while True:
            try:
                data = reader.recv(64)
            except OSError:
                return
            if not data:
                return
            if signal.SIGINT in data:
                hit[0] = True
                if interrupt is not None:
                    with contextlib.suppress(Exception):
                        interrupt()

    old_handler = signal.signal(signal.SIGINT, handler)
    old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    watcher = threading.Thread(target=watch, name="csql-sigint", daemon=True)
    watcher.start()
    try:
        yield hit
    finally:
        signal.set_wakeup_fd(old_fd)
        signal.signal(signal.SIGINT, old_handler)
        writer.close()  # the watcher reads end-of-file and ends
        watcher.join(timeout=1)
        reader.close()


class _PageProgress:
    """A transient progress bar fed by conn.stats.progress (pages done of expected).

    It appears only once a statement has been fetching pages for a moment, so quick
    statements do not flash a bar.
    """

    DELAY = 0.3  # seconds

    def __init__(self, console, stats) -> None:
        import threading

        self.console = console
        self.stats = stats
        self.base = (stats.pages_done, stats.pages_expected)
        self.counts = (0, 0)
        self.progress = None
        self.task = None
        self.closed = False
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def __enter__(self) -> _PageProgress:
        if self.console.is_terminal:
            import threading

            self.stats.progress = self.update
            self.timer = threading.Timer(self.DELAY, self._reveal)
            self.timer.daemon = True
            self.timer.start()
        return self

    def _reveal(self) -> None:
        """Start the bar (from the timer's thread, or a page's after the delay)."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        with self.lock:
            done, expected = self.counts
            if self.closed or self.progress is not None or expected <= 0:
                return
            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("[bright_black]fetching pages"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
                refresh_per_second=10,
            )
            self.task = self.progress.add_task("pages", total=expected, completed=done)
            self.progress.start()

    def update(self, done: int, expected: int) -> None:
        with self.lock:
            self.counts = (done - self.base[0], expected - self.base[1])
            done, expected = self.counts
            if self.progress is not None:
                self.progress.update(self.task, completed=done, total=max(expected, done))
                return
        if self.timer is not None and not self.timer.is_alive():
            self._reveal()  # the delay is over and pages became known only now

    def __exit__(self, *exc: object) -> None:
        self.stats.progress = None
        if self.timer is not None:
            self.timer.cancel()
        with self.lock:
            self.closed = True
            progress, self.progress = self.progress, None
        if progress is not None:
            progress.stop()


@dataclass
class Settings:
    fmt: str = "table"
    timer: bool = True
    explain: bool = False
    output_path: str | None = None
    output_file: TextIO | None = field(default=None, repr=False)


Opener = Callable[..., Connection]


class Shell:
    """One interactive session over a connection.

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
    ) -> None:
        from rich.console import Console

        self.conn = conn
        self.open_connection = open_connection
        self.settings = Settings(fmt=fmt)
        self.banner = banner
        self.console = console or Console(highlight=False)
        self.err = err_console or Console(stderr=True, highlight=False)
        self.completer = SqlCompleter(conn.catalog)
        self._unfiltered: Connection | None = None
        self._session = None

    # -- prompt_toolkit ----------------------------------------------------------------------

    def _prompt_session(self):
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

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
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
                    return 0
                try:
                    if not self.handle(text):
                        return 0
                except KeyboardInterrupt:  # while a result was being drawn
                    self.console.print("[yellow]cancelled", highlight=False)
        finally:
            self.close()

    def close(self) -> None:
        self._set_output(None, quiet=True)
        if self._unfiltered is not None:
            with contextlib.suppress(Exception):
                self._unfiltered.close()
            self._unfiltered = None

    def handle(self, text: str) -> bool:
        """Run what was typed; False when the shell should end."""
        stripped = text.strip()
        if not stripped:
            return True
        if stripped[0] in ".\\" or stripped.lower() in ("quit", "exit", "help"):
            return self.meta(stripped.rstrip(";").strip())
        from csql.cli import split_statements

        for sql in split_statements(text):
            if not self.execute(sql):
                break
        return True

    # -- meta commands ---------------------------------------------------------------------

    def meta(self, line: str) -> bool:
        parts = line.split(None, 1)
        command, arg = parts[0].lower(), (parts[1].strip() if len(parts) > 1 else "")
        if command in (".quit", ".exit", "\\q", "quit", "exit", ".q"):
            return False
        if command in (".help", "\\?", "help", ".h"):
            self.console.print(HELP, highlight=False, markup=False)
        elif command == ".tables":
            self.execute("SHOW TABLES", explain=False)
        elif command == ".schema":
            if not arg:
                self._error("usage: .schema TABLE (for every column: SELECT * FROM sys_columns;)")
            else:
                self._run(self.conn, f"DESCRIBE {_ident(arg)}", transform=compact_schema)
        elif command == ".procedures":
            self._run(
                self.conn,
                "SELECT procedure_name, signature, concat_ws(', ', "
                "CASE WHEN costs_money THEN 'costs money' END, "
                "CASE WHEN destructive THEN 'destructive' END) AS note, description "
                "FROM sys_procedures ORDER BY procedure_name",
            )
        elif command in (".explain", ".timer"):
            name = command[1:]
            if arg.lower() not in ("on", "off"):
                state = "on" if getattr(self.settings, name) else "off"
                self._error(f"usage: {command} on|off (now {state})")
            else:
                setattr(self.settings, name, arg.lower() == "on")
                self._note(f"{name} {arg.lower()}")
        elif command == ".format":
            if arg.lower() not in output.FORMATS:
                self._error(f"usage: .format {'|'.join(output.FORMATS)} (now {self.settings.fmt})")
            else:
                self.settings.fmt = arg.lower()
                self._note(f"format {self.settings.fmt}")
        elif command == ".output":
            self._set_output(arg or None)
        else:
            self._error(f"unknown command {command}; .help lists the commands")
        return True

    def _set_output(self, path: str | None, quiet: bool = False) -> None:
        s = self.settings
        if s.output_file is not None:
            s.output_file.close()
            s.output_file, s.output_path = None, None
        if path is None:
            if not quiet:
                self._note("results go to the screen")
            return
        try:
            s.output_file = open(Path(path).expanduser(), "w", encoding="utf-8")  # noqa: SIM115
        except OSError as e:
            self._error(f"cannot write {path}: {e.strerror}")
            return
        s.output_path = path
        self._note(f"results go to {path} (.output alone: back to the screen)")

    # -- statements ---------------------------------------------------------------------------

    def execute(self, sql: str, explain: bool | None = None) -> bool:
        """Run one statement and show its result; False if it failed or was cancelled."""
        explain = self.settings.explain if explain is None else explain
        if explain and safety.leading_keyword(sql) in _EXPLAINABLE:
            sql = "EXPLAIN " + sql
        verdict = safety.assess(sql, self.conn.catalog)
        conn = self.conn
        if verdict.needs_confirmation:
            if not self._confirm(verdict):
                self._note("not run")
                return False
            if verdict.unfiltered_write:
                conn = self._unfiltered_connection()
                if conn is None:
                    return False
        return self._run(conn, sql)

    def _confirm(self, verdict: safety.Assessment) -> bool:
        from prompt_toolkit import prompt
        from prompt_toolkit.formatted_text import HTML

        for reason in verdict.reasons:
            self.console.print(f"[bold yellow]warning:[/] {reason}.", highlight=False)
        try:
            answer = prompt(HTML("<b>Run it?</b> [y/N] "))
        except (KeyboardInterrupt, EOFError):
            return False
        return answer.strip().lower() in ("y", "yes")

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
    ) -> bool:
        stats = conn.stats
        requests0, retries0 = stats.snapshot()
        keyword = safety.leading_keyword(sql)
        started = time.perf_counter()
        table: pa.Table | None = None
        try:
            with (
                _sigint_watch(_interrupter(conn)) as interrupted,
                _PageProgress(self.err, stats),
            ):
                try:
                    cur = conn.cursor()
                    cur.execute(sql)
                    table = cur.fetch_arrow_table() if cur.description is not None else None
                    rowcount = cur.rowcount
                except Exception as e:
                    if interrupted[0]:  # DuckDB's or csql's error for the interruption
                        raise _Cancelled from None
                    if not isinstance(e, Error):
                        raise
                    self._error(str(e))
                    return False
        except (KeyboardInterrupt, _Cancelled):
            note = "cancelled"
            if keyword in ("INSERT", "UPDATE", "DELETE", "CALL"):
                note += " (rows written before Ctrl-C stay written)"
            self.console.print(f"[yellow]{note}", highlight=False)
            return False
        except Exception as e:  # a bug, not the user's fault: report it and keep the shell
            self._error(f"internal error: {type(e).__name__}: {e}")
            return False
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
        self.console.print(f"[bright_black]{line}", highlight=False)
        return True

    def _show(self, table: pa.Table) -> None:
        s = self.settings
        if s.output_file is not None:
            s.output_file.write(output.render(table, s.fmt))
            s.output_file.flush()
            return
        output.show(self.console, table, s.fmt)

    def _error(self, message: str) -> None:
        self.console.print(f"[bold red]error:[/] {_escape(message)}", highlight=False)

    def _note(self, message: str) -> None:
        self.console.print(f"[bright_black]{_escape(message)}", highlight=False)


def compact_schema(described: pa.Table) -> pa.Table:
    """DESCRIBE's result narrowed for a terminal: its yes/no columns folded into `flags`."""
    rows = described.to_pylist()
    if not rows or "searchable" not in rows[0]:
        return described  # a metadata table's DESCRIBE (DuckDB's own shape)
    flags = []
    for r in rows:
        f = [
            name
            for name, on in (
                ("not null", r["null"] == "NO"),
                ("required on insert", r["required_on_insert"]),
                ("read-only", r["read_only"]),
                ("searchable", r["searchable"]),
                ("sortable", r["sortable"]),
            )
            if on
        ]
        if r["range_filter"]:
            f.append(f"range: {r['range_filter']}")
        flags.append(", ".join(f))
    return pa.table(
        {
            "column_name": described["column_name"],
            "column_type": described["column_type"],
            "key": pa.array([r["key"] or "" for r in rows], pa.string()),
            "flags": pa.array(flags, pa.string()),
            "description": described["description"],
        }
    )


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
) -> int:
    """Run the interactive shell on `conn` until .quit or Ctrl-D; the exit status."""
    return Shell(conn, fmt, open_connection, banner).run()


__all__ = ["Shell", "SqlCompleter", "run_shell", "statement_complete", "tables_in"]
