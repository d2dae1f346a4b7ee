"""A result's rows as Python tuples, one Arrow record batch at a time.

The DB-API cursor hands out rows with fetchone/fetchmany/iteration. Turning a whole result
into tuples first costs several times the result's Arrow size (a Python object per value),
so only the batch being read is ever converted: memory stays flat however large the result
is when it is read in batches. `rest()` gives what is left as Arrow, without tuples at all.

The source is any iterator of record batches: a finished `pa.Table` (split into zero-copy
slices) or a `pa.RecordBatchReader` that is still producing them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

BATCH_ROWS = 1024  # rows turned into tuples at a time: small next to any result worth streaming


class RowStream:
    """Rows of one result, converted to tuples batch by batch as they are read."""

    def __init__(
        self, source: pa.Table | pa.RecordBatchReader, batch_rows: int = BATCH_ROWS
    ) -> None:
        self.schema = source.schema
        if isinstance(source, pa.Table):
            self._batches: Iterator[pa.RecordBatch] = iter(source.to_batches(batch_rows))
        else:
            self._batches = iter(source)
        self._batch_rows = batch_rows
        self._batch: pa.RecordBatch | None = None  # the batch being read (Arrow)
        self._rows: list[tuple] = []  # ... and the part of it converted to tuples
        self._offset = 0  # rows of `_batch` handed out
        self._start = 0  # the row of `_batch` that `_rows[0]` is
        self.consumed = 0  # rows handed out in all

    def _fill(self) -> bool:
        """Make sure the row at `_offset` is converted; False at the end of the result."""
        while self._batch is None or self._offset >= self._batch.num_rows:
            batch = next(self._batches, None)
            if batch is None:
                self._batch, self._rows, self._offset, self._start = None, [], 0, 0
                return False
            self._batch, self._rows, self._offset, self._start = batch, [], 0, 0
        if not self._start <= self._offset < self._start + len(self._rows):
            # a reader's batches can be large: convert a slice of `batch_rows` at a time
            chunk = self._batch.slice(self._offset, self._batch_rows)
            columns = [c.to_pylist() for c in chunk.columns]
            self._rows = list(zip(*columns, strict=True)) if columns else [()] * chunk.num_rows
            self._start = self._offset
        return True

    def next(self) -> tuple | None:
        """The next row, or None after the last."""
        if not self._fill():
            return None
        row = self._rows[self._offset - self._start]
        self._offset += 1
        self.consumed += 1
        return row

    def take(self, n: int) -> list[tuple]:
        """Up to `n` rows (fewer only at the end)."""
        out: list[tuple] = []
        while len(out) < n and self._fill():
            i = self._offset - self._start
            part = self._rows[i : i + (n - len(out))]
            out.extend(part)
            self._offset += len(part)
            self.consumed += len(part)
        return out

    def all(self) -> list[tuple]:
        """Every row not handed out yet."""
        out: list[tuple] = []
        while self._fill():
            i = self._offset - self._start
            part = self._rows[i:]
            out.extend(part)
            self._offset += len(part)
            self.consumed += len(part)
        return out

    def rest(self) -> pa.Table:
        """Every row not handed out yet, as Arrow (no tuples made)."""
        batches = []
        if self._batch is not None and self._offset < self._batch.num_rows:
            batches.append(self._batch.slice(self._offset))
        batches.extend(self._batches)
        self._batch, self._rows, self._offset = None, [], 0
        rest = pa.Table.from_batches(batches, schema=self.schema)
        self.consumed += rest.num_rows
        return rest
