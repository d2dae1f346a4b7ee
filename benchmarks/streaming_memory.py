"""Streaming results: Python objects alive while a 200k-row result is read, before and after.

    python benchmarks/streaming_memory.py [--copies 25]

Fetches SMS history at scale 4 (8000 rows) from a sandbox in its own process once, repeats
it --copies times into a 200k-row Arrow result, and measures with tracemalloc (the peak of
Python allocations, independent of the machine's load and of what the Arrow result itself
takes):

- streamed: a csql cursor over that result read with fetchmany(1000) (issue 12: one
  1024-row batch of tuples at a time);
- before: what the first fetch did before issue 12, every row a tuple first
  (`list(zip(*[col.to_pylist() for col in table.columns]))`), then read 1000 at a time.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pyarrow as pa
from _common import connect, machine_notes, sandbox_process

import csql
from csql.engine import Result


def peak_mb(fn) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=25)
    args = ap.parse_args(argv)
    print(machine_notes())
    with sandbox_process(4, 0) as (url, _pid, _startup):
        conn = connect(url)
        page = conn.execute("SELECT * FROM sms_history").fetch_arrow_table()
        conn.close()
    big = pa.concat_tables([page] * args.copies)

    def streamed() -> None:
        cur = csql.connect("u", "k", "http://127.0.0.1:9/v3").cursor()
        cur._set(Result(big))
        while cur.fetchmany(1000):
            pass

    def before() -> None:
        rows = list(zip(*[col.to_pylist() for col in big.columns], strict=True))
        for i in range(0, len(rows), 1000):
            rows[i : i + 1000]

    s, b = peak_mb(streamed), peak_mb(before)
    print(f"{big.num_rows:,} rows, Arrow {big.nbytes / 2**20:.0f} MB")
    print(f"| read with fetchmany(1000) | peak Python objects |\n|---|---|\n"
          f"| before (every row a tuple first) | {b:.1f} MB |\n| streamed | {s:.1f} MB |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
