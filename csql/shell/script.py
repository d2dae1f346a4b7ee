"""A script (a -c string, a -f file, standard input, a `.read FILE`) as the items it runs.

Scripts mix SQL statements, which end with ';' and may span lines, with dot commands, which
take one line (as in sqlite3's and DuckDB's shells): `.format csv`, `.param set n 5`,
`.read other.sql`. A line is a dot command when it starts with `.` or `\\` and no statement is
being collected; anywhere else the text is SQL.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from csql.shell.terminal import statement_complete
from csql.sqltext import split_statements


class ItemKind(enum.Enum):
    SQL = "sql"
    COMMAND = "command"  # a dot (or backslash) command


@dataclass(frozen=True)
class Item:
    """One thing a script runs, and the line it starts on (for error messages)."""

    kind: ItemKind
    text: str
    line: int


def is_command(line: str) -> bool:
    """A dot or backslash command (`.tables`, `\\x`), not SQL."""
    stripped = line.lstrip()
    return stripped[:1] in (".", "\\") and not stripped[1:2].isdigit()  # `.5` is a number


def split_script(text: str) -> list[Item]:
    """The statements and commands of `text`, in order (see the module docstring)."""
    items: list[Item] = []
    pending: list[str] = []
    start = 1

    def flush() -> None:
        body = "\n".join(pending)
        items.extend(Item(ItemKind.SQL, s, start) for s in split_statements(body))
        pending.clear()

    def collecting() -> bool:  # comments alone are no statement
        return bool("".join(pending).strip()) and bool(split_statements("\n".join(pending)))

    for number, line in enumerate(text.splitlines(), start=1):
        if is_command(line) and not collecting():
            pending.clear()
            items.append(Item(ItemKind.COMMAND, line.strip(), number))
            continue
        if not collecting():
            start = number
        pending.append(line)
        if statement_complete("\n".join(pending)):
            flush()
    if "".join(pending).strip():
        flush()
    return items


def sql_statements(items: list[Item]) -> list[str]:
    return [i.text for i in items if i.kind is ItemKind.SQL]


__all__ = ["Item", "ItemKind", "is_command", "split_script", "sql_statements"]
