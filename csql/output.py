"""Render a result (an Arrow table) as text: table, csv, json or markdown.

Used by `csql -c`, `csql -f` and the shell. Values are rendered the way DuckDB prints them.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pyarrow as pa

FORMATS = ("table", "csv", "json", "markdown")


def _text(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, list | dict):
        return json.dumps(v, default=str)
    return str(v)


def _cells(table: pa.Table) -> tuple[list[str], list[list[str]]]:
    headers = table.column_names
    cols = [[_text(v) for v in c.to_pylist()] for c in table.columns]
    rows = [list(r) for r in zip(*cols, strict=True)] if cols else []
    return headers, rows


def render(table: pa.Table, fmt: str = "table") -> str:
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(table.column_names)
        for row in zip(*(c.to_pylist() for c in table.columns), strict=True):
            w.writerow(["" if v is None else _text(v) for v in row])
        return buf.getvalue()
    if fmt == "json":
        return json.dumps(table.to_pylist(), default=str, indent=2) + "\n"
    headers, rows = _cells(table)
    if fmt == "markdown":
        esc = [[c.replace("|", "\\|") for c in r] for r in [headers, *rows]]
        lines = ["| " + " | ".join(esc[0]) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
        return "\n".join(lines) + "\n"
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    sep = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [
        sep,
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        sep,
    ]
    for r in rows:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    out.append(sep)
    return "\n".join(out) + "\n"
