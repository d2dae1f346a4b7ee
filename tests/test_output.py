"""csql.shell.output and the progress line as plain functions: jsonl and its statement index,
the display settings (headers, NULL text, max rows, expanded), whole values when they fit, the
multi-statement writer, and the progress bar saying DuckDB is at work after the last page."""

from __future__ import annotations

import io
import json

import pyarrow as pa
from rich.console import Console

from csql.shell import output
from csql.shell.output import BatchWriter, Display, Expanded
from csql.shell.terminal import PageProgress

T = pa.table({"id": [1, 2], "name": ["Ann", None]})


def test_jsonl_rows_carry_the_statement_index_and_keep_a_statement_column():
    lines = output.render(T, "jsonl", statement=3).splitlines()
    assert [json.loads(x) for x in lines] == [
        {"statement": 3, "id": 1, "name": "Ann"},
        {"statement": 3, "id": 2, "name": None},
    ]
    clash = output.jsonl(pa.table({"statement": ["x"]}), 1)
    assert json.loads(clash) == {"statement": 1, "statement_": "x"}


def test_display_headers_and_null_text():
    assert output.render(T, "csv", Display(headers=False)) == "1,Ann\n2,\n"
    assert output.render(T, "csv", Display(nullvalue="NA")) == "id,name\n1,Ann\n2,NA\n"
    table = output.render(T, "table", Display(nullvalue="-"))
    assert "| 2  | -    |" in table.replace("|  2 |", "| 2  |")


def test_whole_values_when_they_fit_records_when_they_do_not():
    long = pa.table({"v": ["x" * 150]})
    assert output.layout(long, 200) == "table"  # no cut at 60 characters when there is room
    wide = pa.table({f"c{i}": ["y" * 30] for i in range(12)})
    assert output.layout(wide, 100) == "records"
    assert output.layout(wide, 100, Expanded.OFF) == "cut"
    assert output.layout(T, 200, Expanded.ON) == "records"
    console = Console(file=io.StringIO(), width=200, force_terminal=True, color_system=None)
    output.show(console, long, page=False)
    assert "x" * 150 in console.file.getvalue()


def test_maxrows_leaves_out_rows_and_says_so():
    console = Console(file=io.StringIO(), width=120, color_system=None)
    output.show(console, pa.table({"n": list(range(10))}), display=Display(maxrows=3), page=False)
    text = console.file.getvalue()
    assert "7 more rows not shown" in text
    assert "│ 2 │" in text and "│ 3 │" not in text


def test_batch_writer_shapes():
    buf = io.StringIO()
    w = BatchWriter(buf, "json", several=True)
    w.write(T, 1)
    w.write(pa.table({"x": [1]}), 2)
    w.close()
    assert json.loads(buf.getvalue()) == [T.to_pylist(), [{"x": 1}]]
    buf = io.StringIO()
    w = BatchWriter(buf, "json", several=True)
    w.close()
    assert json.loads(buf.getvalue()) == []


class _Stats:
    progress = None
    pages_done = 0
    pages_expected = 0


def test_progress_says_duckdb_is_computing_after_the_last_page():
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    stats = _Stats()
    with PageProgress(console, stats) as progress:
        progress.timer.cancel()
        progress.update(10, 63)
        progress._reveal()
        assert progress.progress.tasks[0].description == PageProgress.FETCHING
        progress.update(63, 63)
        assert progress.progress.tasks[0].description == PageProgress.COMPUTING
    assert "DuckDB" in PageProgress.COMPUTING
