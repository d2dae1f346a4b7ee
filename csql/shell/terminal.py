"""What the shell needs from the terminal and the process: the history file, when Enter runs
the buffer, Ctrl-C while a statement runs, and the transient progress/status line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from csql.dbapi import Connection

HISTORY_ENV = "CSQL_HISTORY"


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
    from sqlglot.tokens import TokenType

    from csql import sqltext
    from csql.errors import Error

    try:  # read as the engine reads it: `$$a;b$$`, quoted names and comments included
        tokens = sqltext.tokens(text)
    except Error:
        return False  # an unterminated string or comment: keep reading lines
    return bool(tokens) and tokens[-1].token_type == TokenType.SEMICOLON


class Cancelled(Exception):
    """The statement was stopped by Ctrl-C."""

    pass


def interrupter(conn: Connection) -> Callable[[], None] | None:
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
def sigint_watch(interrupt: Callable[[], None] | None = None) -> Iterator[list[bool]]:
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


class PageProgress:
    """A transient progress bar fed by conn.stats.progress (pages done of expected), which
    says when the last page is in and DuckDB is computing.

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

    def __enter__(self) -> PageProgress:
        if self.console is not None and self.console.is_terminal:
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
                TextColumn("[bright_black]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
                refresh_per_second=10,
            )
            self.task = self.progress.add_task(
                self._stage(done, expected), total=expected, completed=done
            )
            self.progress.start()

    FETCHING = "fetching pages"
    COMPUTING = "all pages in; DuckDB is computing the result"

    @classmethod
    def _stage(cls, done: int, expected: int) -> str:
        """What is happening: pages still coming, or DuckDB at work after the last page (a
        bar at 63/63 that does not move otherwise looks stuck)."""
        return cls.COMPUTING if expected > 0 and done >= expected else cls.FETCHING

    def update(self, done: int, expected: int) -> None:
        with self.lock:
            self.counts = (done - self.base[0], expected - self.base[1])
            done, expected = self.counts
            if self.progress is not None:
                self.progress.update(
                    self.task,
                    completed=done,
                    total=max(expected, done),
                    description=self._stage(done, expected),
                )
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
