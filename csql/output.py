"""Render a result (an Arrow table) as text: table, csv, json or markdown; and for a terminal.

`render(table, fmt)` gives plain text (no colours): `csql -c`/`-f`, standard input, and the
shell's `.output FILE` use it. `show(console, table, fmt)` prints to a rich Console: a styled
table that turns into one record per block (psql's expanded display) when it is wider than
the terminal, paged with the system pager when it is taller. `status_line()` is the line
printed after each statement in the shell (`152 rows, 3 requests, 0.41 s`).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import os
from typing import Any

import pyarrow as pa

FORMATS = ("table", "csv", "json", "markdown")

#: cells wider than this are cut with an ellipsis in the terminal (the full value is in
#: csv/json, or `.output FILE`)
MAX_CELL = 60


def _text(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, list | dict):
        return json.dumps(v, default=str)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _cells(table: pa.Table) -> tuple[list[str], list[list[str]]]:
    headers = table.column_names
    cols = [[_text(v) for v in c.to_pylist()] for c in table.columns]
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


def render(table: pa.Table, fmt: str = "table") -> str:
    """The whole table as plain text in one of FORMATS."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(table.column_names)
        for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
            w.writerow(["" if v is None else _text(v) for v in row])
        return buf.getvalue()
    if fmt == "json":
        return json.dumps(table.to_pylist(), default=_json_value, indent=2) + "\n"
    headers, rows = _cells(table)
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

    out = [sep, line(headers, [False] * len(headers)), sep]
    out += [line(r, numeric) for r in rows]
    out.append(sep)
    return "\n".join(out) + "\n"


# -- the terminal ------------------------------------------------------------------------------


def _cut(s: str, width: int = MAX_CELL) -> str:
    s = s.replace("\r", " ").replace("\n", " ")
    return s if len(s) <= width else s[: width - 1] + "…"


#: a text column may be narrowed to this many characters (its text wrapping) to fit a table
#: in the terminal; below that, the result is shown one record per block instead
WRAP_MIN = 16


def _widths(table: pa.Table) -> list[tuple[int, int, bool]]:
    """Per column: (natural width, narrowest width when wrapping, whether it may wrap)."""
    out = []
    for field, col in zip(table.schema, table.columns, strict=True):
        longest = max((len(_cut(_text(v))) for v in col.to_pylist()), default=0)
        natural = max(len(field.name), longest)
        wraps = pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
        narrow = max(len(field.name), min(longest, WRAP_MIN)) if wraps else natural
        out.append((natural, narrow, wraps))
    return out


def natural_width(table: pa.Table) -> int:
    """How wide the styled table is when no cell wraps (cells cut at MAX_CELL)."""
    return 1 + sum(w + 3 for w, _, _ in _widths(table))


def layout(table: pa.Table, width: int) -> str:
    """'table' when it fits as is, 'wrap' when it fits with long text wrapped, else 'records'."""
    widths = _widths(table)
    if 1 + sum(w + 3 for w, _, _ in widths) <= width:
        return "table"
    if 1 + sum(n + 3 for _, n, _ in widths) <= width:
        return "wrap"
    return "records"


def rich_table(table: pa.Table, wrap: bool = False):
    """A rich Table: bold headers, numbers right-aligned, NULL dimmed, long cells cut (or
    wrapped, with `wrap`)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = Table(box=box.ROUNDED, header_style="bold cyan", border_style="bright_black")
    for field, (_, narrow, wraps) in zip(table.schema, _widths(table), strict=True):
        numeric = _is_numeric(field.type)
        if wrap and wraps:
            out.add_column(field.name, min_width=narrow, overflow="fold")
        else:
            out.add_column(
                field.name,
                justify="right" if numeric else "left",
                no_wrap=True,
                overflow="ellipsis",
            )
    for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
        cells = []
        for v in row:
            if v is None:
                cells.append(Text("NULL", style="dim italic"))
            else:
                cells.append(Text(_text(v) if wrap else _cut(_text(v))))
        out.add_row(*cells)
    return out


def rich_records(table: pa.Table):
    """Expanded display (psql's \\x): one block per row, `column | value` per line."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    blocks = []
    for i, row in enumerate(table.to_pylist(), start=1):
        blocks.append(Text(f"-[ RECORD {i} ]" + "-" * 20, style="bright_black"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold cyan", no_wrap=True)
        grid.add_column(style="bright_black", no_wrap=True)
        grid.add_column(overflow="fold")
        for name, v in row.items():
            value = Text("NULL", style="dim italic") if v is None else Text(_text(v))
            grid.add_row(name, "|", value)
        blocks.append(grid)
    return Group(*blocks)


#: beyond this many cells the terminal gets plain box-drawn text: rich lays out about ten
#: thousand cells a second, too slow for a big result
RICH_CELLS = 5000


def box_lines(table: pa.Table) -> list[str]:
    """The table drawn like the rich table (rounded box, numbers right-aligned, long cells cut),
    as plain lines: fast for any size."""
    headers, rows = _cells(table)
    rows = [[_cut(c) for c in r] for r in rows]
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

    out = [rule("╭", "┬", "╮"), line(headers, [False] * len(headers)), rule("├", "┼", "┤")]
    out += [line(r, numeric) for r in rows]
    out.append(rule("╰", "┴", "╯"))
    return out


def record_lines(table: pa.Table) -> list[str]:
    """Expanded display as plain lines (see rich_records)."""
    names = table.column_names
    width = max((len(n) for n in names), default=0)
    out = []
    columns = [[_text(v) for v in c.to_pylist()] for c in table.columns]
    for i in range(table.num_rows):
        out.append(f"-[ RECORD {i + 1} ]" + "-" * 20)
        out += [f"{n.ljust(width)} | {col[i]}" for n, col in zip(names, columns, strict=True)]
    return out


def show(console, table: pa.Table, fmt: str = "table", page: bool = True) -> None:
    """Print a result to a rich Console: as a table that fits the terminal (long text
    wrapped if need be), else one record per block; paged when taller than the terminal."""
    from rich.text import Text

    width, height = console.size
    if fmt == "table" and table.num_columns == 0:
        return
    if fmt == "table" and table.num_rows * table.num_columns > RICH_CELLS:
        fits = natural_width(table) <= width or not console.is_terminal
        if not fits:
            lines = record_lines(table)
        elif console.encoding.lower().startswith("utf"):
            lines = box_lines(table)
        else:  # no box-drawing characters on this terminal
            lines = render(table, "table").splitlines()
        _emit(console, Text("\n".join(lines)), len(lines), page, soft_wrap=True)
        return
    if fmt == "table":
        how = layout(table, width) if console.is_terminal else "table"
        if how == "records":
            renderable = rich_records(table)
            lines = table.num_rows * (table.num_columns + 1)
        else:
            renderable = rich_table(table, wrap=how == "wrap")
            lines = table.num_rows + 4
            if how == "wrap" and lines < height:  # wrapped rows: measure the real height
                with console.capture() as captured:
                    console.print(renderable)
                lines = captured.get().count("\n")
        _emit(console, renderable, lines, page, soft_wrap=False)
    else:
        text = render(table, fmt)
        _emit(console, Text(text.rstrip("\n")), text.count("\n"), page, soft_wrap=True)


def _emit(console, renderable, lines: int, page: bool, soft_wrap: bool) -> None:
    if page and console.is_terminal and lines > console.size.height - 2:
        os.environ.setdefault("LESS", "-RXF")  # colours, keep the screen, quit if it fits
        with console.pager(styles=True):
            console.print(renderable, crop=False, soft_wrap=soft_wrap)
    else:
        console.print(renderable, crop=False, soft_wrap=soft_wrap)


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
