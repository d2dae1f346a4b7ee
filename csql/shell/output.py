"""Render a result (an Arrow table) as text: table, csv, json, jsonl or markdown; and for a
terminal.

`render(table, fmt, display)` gives plain text (no colours): `csql -c`/`-f`, standard input,
and the shell's `.output FILE` use it. `show(console, table, fmt, display=...)` prints to a
rich Console: a styled table, whole values when they fit, long text wrapped when that makes
it fit, else one record per block (psql's expanded display, `.expanded auto`); paged when it
is taller than the terminal (`.pager`). `Display` holds what the dot commands change
(`.headers`, `.nullvalue`, `.maxrows`, `.expanded`, `.pager`). `status_line()` is the line
printed after each statement (`152 rows, 3 requests, 0.41 s`).

Several result sets in one batch run (see `BatchWriter`) keep a shape a program can read:

- `jsonl`: one JSON object per row, `{"statement": 1, "column": value, ...}`; the index counts
  the script's SQL statements from 1 (a result column named `statement` comes out as
  `statement_`).
- `json`: one statement gives its array of rows; several give one array with one element per
  statement that returns rows, each that statement's array of rows.
- `csv`: each result set starts with its header row; result sets are separated by one empty
  line (csv readers see an empty row there).
- `table` and `markdown`: an empty line between tables.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import enum
import io
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import pyarrow as pa

FORMATS = ("table", "csv", "json", "jsonl", "markdown")

#: when a table does not fit the terminal, cells wider than this are cut with an ellipsis
#: (whole values when there is room; the full value is always in csv/json or `.output FILE`)
MAX_CELL = 60


class Expanded(enum.Enum):
    """`.expanded`: one record per block always, never, or when the table is too wide."""

    ON = "on"
    OFF = "off"
    AUTO = "auto"


class PagerMode(enum.Enum):
    """`.pager`: page results taller than the terminal, never, or through a command."""

    ON = "on"
    OFF = "off"
    COMMAND = "command"


@dataclass
class Display:
    """How results are drawn; the shell's dot commands and the config file's [settings]."""

    headers: bool = True
    nullvalue: str | None = None  # None: "NULL" in tables, empty in csv
    maxrows: int = 0  # 0: every row
    expanded: Expanded = Expanded.AUTO
    pager: PagerMode = PagerMode.ON
    pager_command: str | None = None

    def null(self, fmt: str) -> str:
        if self.nullvalue is not None:
            return self.nullvalue
        return "" if fmt == "csv" else "NULL"


PLAIN = Display()


def _text(v: Any, null: str = "NULL") -> str:
    if v is None:
        return null
    if isinstance(v, list | dict):
        return json.dumps(v, default=str)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _cells(table: pa.Table, null: str = "NULL") -> tuple[list[str], list[list[str]]]:
    headers = table.column_names
    cols = [[_text(v, null) for v in c.to_pylist()] for c in table.columns]
    rows = [list(r) for r in zip(*cols, strict=True)] if cols else []
    return headers, rows


def _json_value(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def jsonl(table: pa.Table, statement: int) -> str:
    """JSON Lines: one object per row, the statement's index first (see the module docstring)."""
    names = ["statement_" if n == "statement" else n for n in table.column_names]
    out = []
    for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
        record = {"statement": statement, **dict(zip(names, row, strict=True))}
        out.append(json.dumps(record, default=_json_value, ensure_ascii=False) + "\n")
    return "".join(out)


def render(
    table: pa.Table, fmt: str = "table", display: Display = PLAIN, statement: int = 1
) -> str:
    """The whole table as plain text in one of FORMATS."""
    null = display.null(fmt)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        if display.headers:
            w.writerow(table.column_names)
        for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
            w.writerow([_text(v, null) for v in row])
        return buf.getvalue()
    if fmt == "json":
        return json.dumps(table.to_pylist(), default=_json_value, indent=2) + "\n"
    if fmt == "jsonl":
        return jsonl(table, statement)
    headers, rows = _cells(table, null)
    if fmt == "markdown":
        numeric = [_is_numeric(f.type) for f in table.schema]
        esc = [[c.replace("|", "\\|").replace("\n", " ") for c in r] for r in [headers, *rows]]
        lines = [
            "| " + " | ".join(esc[0]) + " |",
            "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
        return "\n".join(lines) + "\n"
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    numeric = [_is_numeric(f.type) for f in table.schema]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def line(cells: list[str], align: list[bool]) -> str:
        parts = [
            c.rjust(w) if right else c.ljust(w)
            for c, w, right in zip(cells, widths, align, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    out = [sep, line(headers, [False] * len(headers)), sep] if display.headers else [sep]
    out += [line(r, numeric) for r in rows]
    out.append(sep)
    return "\n".join(out) + "\n"


# -- the terminal ------------------------------------------------------------------------------


def _cut(s: str, width: int | None = MAX_CELL) -> str:
    s = s.replace("\r", " ").replace("\n", " ")
    return s if width is None or len(s) <= width else s[: width - 1] + "…"


#: a text column may be narrowed to this many characters (its text wrapping) to fit a table
#: in the terminal; below that, the result is shown one record per block instead
WRAP_MIN = 16


def _widths(table: pa.Table, cut: int | None = None) -> list[tuple[int, int, bool]]:
    """Per column: (natural width, narrowest width when wrapping, whether it may wrap)."""
    out = []
    for fld, col in zip(table.schema, table.columns, strict=True):
        longest = max((len(_cut(_text(v), cut)) for v in col.to_pylist()), default=0)
        natural = max(len(fld.name), longest)
        wraps = pa.types.is_string(fld.type) or pa.types.is_large_string(fld.type)
        narrow = max(len(fld.name), min(longest, WRAP_MIN)) if wraps else natural
        out.append((natural, narrow, wraps))
    return out


def natural_width(table: pa.Table, cut: int | None = None) -> int:
    """How wide the styled table is when no cell wraps (cells cut at `cut` if given)."""
    return 1 + sum(w + 3 for w, _, _ in _widths(table, cut))


def layout(table: pa.Table, width: int, expanded: Expanded = Expanded.AUTO) -> str:
    """'table' when whole values fit, 'wrap' when they fit with long text wrapped, 'cut' when
    only cut values fit (.expanded off), else 'records'."""
    if expanded is Expanded.ON:
        return "records"
    widths = _widths(table)
    if 1 + sum(w + 3 for w, _, _ in widths) <= width:
        return "table"
    if 1 + sum(n + 3 for _, n, _ in widths) <= width:
        return "wrap"
    return "cut" if expanded is Expanded.OFF else "records"


def rich_table(table: pa.Table, wrap: bool = False, display: Display = PLAIN, cut: bool = False):
    """A rich Table: bold headers, numbers right-aligned, NULL dimmed; whole values, long text
    wrapped (`wrap`) or cut with an ellipsis (`cut`)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = Table(
        box=box.ROUNDED,
        header_style="bold cyan",
        border_style="bright_black",
        show_header=display.headers,
    )
    for fld, (_, narrow, wraps) in zip(table.schema, _widths(table), strict=True):
        numeric = _is_numeric(fld.type)
        if wrap and wraps:
            out.add_column(fld.name, min_width=narrow, overflow="fold")
        else:
            out.add_column(
                fld.name,
                justify="right" if numeric else "left",
                no_wrap=True,
                overflow="ellipsis",
            )
    null = display.null("table")
    for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
        cells = []
        for v in row:
            if v is None:
                cells.append(Text(null, style="dim italic"))
            else:
                cells.append(Text(_cut(_text(v)) if cut else _text(v)))
        out.add_row(*cells)
    return out


def rich_records(table: pa.Table, display: Display = PLAIN):
    """Expanded display (psql's \\x): one block per row, `column | value` per line."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    blocks = []
    null = display.null("table")
    for i, row in enumerate(table.to_pylist(), start=1):
        blocks.append(Text(f"-[ RECORD {i} ]" + "-" * 20, style="bright_black"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold cyan", no_wrap=True)
        grid.add_column(style="bright_black", no_wrap=True)
        grid.add_column(overflow="fold")
        for name, v in row.items():
            value = Text(null, style="dim italic") if v is None else Text(_text(v))
            grid.add_row(name, "|", value)
        blocks.append(grid)
    return Group(*blocks)


#: beyond this many cells the terminal gets plain box-drawn text: rich lays out about ten
#: thousand cells a second, too slow for a big result
RICH_CELLS = 5000


def box_lines(table: pa.Table, display: Display = PLAIN, cut: int | None = None) -> list[str]:
    """The table drawn like the rich table (rounded box, numbers right-aligned, cells cut at
    `cut` if given), as plain lines: fast for any size."""
    headers, rows = _cells(table, display.null("table"))
    rows = [[_cut(c, cut) for c in r] for r in rows]
    numeric = [_is_numeric(f.type) for f in table.schema]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def rule(left: str, mid: str, right: str) -> str:
        return left + mid.join("─" * (w + 2) for w in widths) + right

    def line(cells: list[str], align: list[bool]) -> str:
        parts = [
            c.rjust(w) if right else c.ljust(w)
            for c, w, right in zip(cells, widths, align, strict=True)
        ]
        return "│ " + " │ ".join(parts) + " │"

    out = [rule("╭", "┬", "╮")]
    if display.headers:
        out += [line(headers, [False] * len(headers)), rule("├", "┼", "┤")]
    out += [line(r, numeric) for r in rows]
    out.append(rule("╰", "┴", "╯"))
    return out


def record_lines(table: pa.Table, display: Display = PLAIN) -> list[str]:
    """Expanded display as plain lines (see rich_records)."""
    names = table.column_names
    width = max((len(n) for n in names), default=0)
    out = []
    null = display.null("table")
    columns = [[_text(v, null) for v in c.to_pylist()] for c in table.columns]
    for i in range(table.num_rows):
        out.append(f"-[ RECORD {i + 1} ]" + "-" * 20)
        out += [f"{n.ljust(width)} | {col[i]}" for n, col in zip(names, columns, strict=True)]
    return out


def limit_rows(table: pa.Table, display: Display) -> tuple[pa.Table, int]:
    """The rows `.maxrows` lets through and how many were left out."""
    if display.maxrows and table.num_rows > display.maxrows:
        return table.slice(0, display.maxrows), table.num_rows - display.maxrows
    return table, 0


def show(
    console,
    table: pa.Table,
    fmt: str = "table",
    page: bool = True,
    display: Display = PLAIN,
    statement: int = 1,
) -> None:
    """Print a result to a rich Console: as a table that fits the terminal (whole values when
    there is room, long text wrapped if need be), else one record per block; paged when
    taller than the terminal; at most `.maxrows` rows."""
    from rich.text import Text

    width, height = console.size
    table, left_out = limit_rows(table, display)
    page = page and display.pager is not PagerMode.OFF
    if fmt == "table" and table.num_columns == 0:
        return
    if fmt == "table" and table.num_rows * table.num_columns > RICH_CELLS:
        how = layout(table, width, display.expanded) if console.is_terminal else "table"
        if how == "records":
            lines = record_lines(table, display)
        elif console.encoding.lower().startswith("utf"):
            lines = box_lines(table, display, None if how == "table" else MAX_CELL)
        else:  # no box-drawing characters on this terminal
            lines = render(table, "table", display).splitlines()
        _emit(console, Text("\n".join(lines)), len(lines), page, True, display)
    elif fmt == "table":
        how = layout(table, width, display.expanded) if console.is_terminal else "table"
        if how == "records":
            renderable = rich_records(table, display)
            lines = table.num_rows * (table.num_columns + 1)
        else:
            renderable = rich_table(table, how == "wrap", display, cut=how == "cut")
            lines = table.num_rows + 4
            if how == "wrap" and lines < height:  # wrapped rows: measure the real height
                with console.capture() as captured:
                    console.print(renderable)
                lines = captured.get().count("\n")
        _emit(console, renderable, lines, page, False, display)
    else:
        text = render(table, fmt, display, statement)
        _emit(console, Text(text.rstrip("\n")), text.count("\n"), page, True, display)
    if left_out:
        console.print(
            f"[bright_black]... {plural(left_out, 'more row')} not shown (.maxrows 0 shows all)",
            highlight=False,
        )


class CommandPager:
    """A rich Pager that pipes the text through a shell command (`.pager less -S`)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def show(self, content: str) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            subprocess.run(self.command, shell=True, input=content, text=True, check=False)


def _emit(console, renderable, lines: int, page: bool, soft_wrap: bool, display: Display) -> None:
    if page and console.is_terminal and lines > console.size.height - 2:
        os.environ.setdefault("LESS", "-RXF")  # colours, keep the screen, quit if it fits
        pager = None
        if display.pager is PagerMode.COMMAND and display.pager_command:
            pager = CommandPager(display.pager_command)
        with console.pager(pager=pager, styles=True):
            console.print(renderable, crop=False, soft_wrap=soft_wrap)
    else:
        console.print(renderable, crop=False, soft_wrap=soft_wrap)


# -- batch output ----------------------------------------------------------------------------------


class BatchWriter:
    """Result sets of a batch run written to a text stream in a parseable shape (module
    docstring). `several` says whether the script has more than one SQL statement, which
    decides the shape of `json`."""

    def __init__(
        self,
        stream: TextIO,
        fmt: str,
        display: Display = PLAIN,
        several: bool = False,
        terminal: Callable[[pa.Table], None] | None = None,
    ) -> None:
        self.stream = stream
        self.fmt = fmt
        self.display = display
        self.several = several
        self.terminal = terminal  # draws a table on a terminal instead of plain text
        self.shown = 0

    def write(self, table: pa.Table, statement: int) -> None:
        fmt, s = self.fmt, self.stream
        if fmt == "json" and self.several:
            body = json.dumps(table.to_pylist(), default=_json_value, indent=2)
            s.write(("[\n" if not self.shown else ",\n") + body)
        else:
            if self.shown and fmt in ("table", "markdown", "csv"):
                s.write("\n")  # an empty line between two result sets
            if fmt == "table" and self.terminal is not None:
                s.flush()
                self.terminal(table)
            else:
                s.write(render(limit_rows(table, self.display)[0], fmt, self.display, statement))
        s.flush()
        self.shown += 1

    def close(self) -> None:
        """Finish the document (the closing bracket of a multi-statement json array)."""
        if self.fmt == "json" and self.several:
            self.stream.write("\n]\n" if self.shown else "[]\n")
            self.stream.flush()


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def status_line(
    rows: int | None,
    requests: int,
    seconds: float | None = None,
    *,
    affected: bool = False,
    retries: int = 0,
) -> str:
    """`152 rows, 3 requests, 0.41 s` (rows affected for writes; time only when given)."""
    parts = []
    if rows is not None and rows >= 0:
        parts.append(plural(rows, "row") + (" affected" if affected else ""))
    else:
        parts.append("OK")
    parts.append(plural(requests, "request"))
    if retries:
        parts.append(plural(retries, "retry").replace("retrys", "retries"))
    if seconds is not None:
        parts.append(f"{seconds:.2f} s")
    return ", ".join(parts)
