"""Streaming results: the cursor makes Python tuples one record batch at a time
(csql.read.rows.RowStream), so reading a large result in batches keeps memory flat."""

from __future__ import annotations

import gc
import tracemalloc

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import csql
from csql.engine import Result
from csql.read.rows import BATCH_ROWS, RowStream
from csql.sandbox import Sandbox


def _table(n: int) -> pa.Table:
    return pa.table({
        "i": pa.array(range(n), pa.int64()),
        "s": pa.array([f"row {i}" for i in range(n)]),
        "f": pa.array([i / 2 if i % 7 else None for i in range(n)]),
    })  # fmt: skip


def _rows(t: pa.Table) -> list[tuple]:
    return list(zip(*(c.to_pylist() for c in t.columns), strict=True))


# -- RowStream --------------------------------------------------------------------------------

OPS = st.lists(
    st.one_of(
        st.just(("one",)),
        st.tuples(st.just("many"), st.integers(0, 2500)),
        st.just(("all",)),
        st.just(("rest",)),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 3000), batch=st.sampled_from([1, 7, 100, 1024]), ops=OPS,
       reader=st.booleans())  # fmt: skip
def test_any_sequence_of_fetches_reads_the_rows_in_order(n, batch, ops, reader):
    """next/take/all/rest in any order give exactly the rows a list would, once each."""
    table = _table(n)
    source = (
        pa.RecordBatchReader.from_batches(table.schema, table.to_batches(333)) if reader else table
    )
    stream = RowStream(source, batch_rows=batch)
    expected, pos = _rows(table), 0
    for op in ops:
        if op[0] == "one":
            row = stream.next()
            assert row == (expected[pos] if pos < n else None)
            pos += row is not None
        elif op[0] == "many":
            got = stream.take(op[1])
            assert got == expected[pos : pos + op[1]]
            pos += len(got)
        elif op[0] == "all":
            got = stream.all()
            assert got == expected[pos:]
            pos = n
        else:
            got = stream.rest()
            assert got.schema == table.schema and _rows(got) == expected[pos:]
            pos = n
        assert stream.consumed == pos


def test_only_one_batch_is_ever_tuples():
    stream = RowStream(_table(10_000), batch_rows=BATCH_ROWS)
    while rows := stream.take(1000):
        assert len(stream._rows) <= BATCH_ROWS
        assert len(rows) <= 1000


def test_a_reader_is_pulled_only_as_rows_are_read():
    table = _table(5000)
    pulled = []

    def batches():
        for b in table.to_batches(500):
            pulled.append(b.num_rows)
            yield b

    stream = RowStream(pa.RecordBatchReader.from_batches(table.schema, batches()))
    stream.take(10)
    assert len(pulled) == 1  # not the whole result
    assert _rows(stream.rest()) == _rows(table)[10:]
    assert len(pulled) == 10


# -- the cursor -----------------------------------------------------------------------------


def _cursor_over(table: pa.Table) -> csql.Cursor:
    conn = csql.connect("u", "k", "http://127.0.0.1:9/v3")
    cur = conn.cursor()
    cur._set(Result(table))
    return cur


def _peak_while(fn) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_in_batches_keeps_memory_flat():
    """fetchmany(1000) over 60k rows holds one batch of tuples at a time: its peak is a
    small fraction of fetchall's, which must hold every row."""
    table = _table(60_000)

    def in_batches():
        cur = _cursor_over(table)
        n = 0
        while rows := cur.fetchmany(1000):
            n += len(rows)
        assert n == 60_000

    def at_once():
        cur = _cursor_over(table)
        assert len(cur.fetchall()) == 60_000

    streamed, whole = _peak_while(in_batches), _peak_while(at_once)
    assert streamed < whole / 5, (streamed, whole)


def test_iteration_streams_too():
    table = _table(50_000)
    cur = _cursor_over(table)
    seen = 0
    for row in cur:
        assert len(cur._rows._rows) <= BATCH_ROWS
        seen += 1
        assert row[0] == seen - 1
    assert seen == 50_000 and cur.fetchone() is None


def test_fetch_methods_mix_and_arrow_takes_the_rest():
    table = _table(3000)
    cur = _cursor_over(table)
    assert cur.fetchone() == (0, "row 0", None)
    assert [r[0] for r in cur.fetchmany(2)] == [1, 2]
    cur.arraysize = 5
    assert [r[0] for r in cur.fetchmany()] == [3, 4, 5, 6, 7]
    rest = cur.fetch_arrow_table()
    assert rest.num_rows == 3000 - 8 and rest.column("i")[0].as_py() == 8
    assert cur.fetchall() == [] and cur.fetchone() is None and cur.rowcount == 3000
    with pytest.raises(csql.ProgrammingError, match="row count"):
        cur.fetchmany(-1)


def test_streamed_rows_match_fetchall_against_the_sandbox():
    with Sandbox(seed=2, scale=1) as sb:
        conn = csql.connect(sb.username, sb.api_key, sb.base_url)
        sql = "SELECT * FROM sms_history ORDER BY message_id"
        whole = conn.execute(sql).fetchall()
        cur = conn.execute(sql)
        batches = []
        while rows := cur.fetchmany(333):
            batches.extend(rows)
        assert batches == whole and len(whole) >= 1000
        assert list(conn.execute(sql)) == whole
        df = conn.execute(sql).fetchdf()
        assert len(df) == len(whole)
        conn.close()
