"""The interactive shell: read statements ending with ';', run them, print the results.

A plain line-based shell; statements may span lines. `.quit` or end of input leaves it.
"""

from __future__ import annotations

import sys

from csql.cli import run_statements, split_statements
from csql.dbapi import Connection

BANNER = "csql: SQL over ClickSend. End statements with ';'. SHOW TABLES; lists the tables. .quit to leave."


def run_shell(conn: Connection, fmt: str = "table") -> int:
    print(BANNER)
    buffer: list[str] = []
    while True:
        try:
            line = input("csql> " if not buffer else "  ..> ")
        except EOFError:
            print()
            return 0
        except KeyboardInterrupt:
            print()
            buffer.clear()
            continue
        if not buffer and line.strip() in (".quit", ".exit", "\\q"):
            return 0
        buffer.append(line)
        text = "\n".join(buffer)
        if not text.rstrip().endswith(";"):
            continue
        buffer.clear()
        run_statements(conn, split_statements(text), fmt)
        sys.stdout.flush()


__all__ = ["run_shell"]
