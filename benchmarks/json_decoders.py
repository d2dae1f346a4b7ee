"""JSON page -> Arrow: the decoders issue 12 asked us to try, on one core, per 100-row page.

    python benchmarks/json_decoders.py [--pages 20] [--repeat 7]

Real sms_history pages (bytes as the sandbox sends them, ~61 KiB each) are fetched once;
then, with no network, each way of turning the bytes into an Arrow table with the wire
types is timed (best of --repeat rounds over every page; process CPU, one thread):

- csql: orjson.loads + records_to_arrow (one StructArray per page + casts): what csql does;
- orjson.loads alone, and msgspec's typed decode alone: the parse, before any Arrow exists
  (the floor of any decoder that makes Python objects);
- msgspec typed Structs + one pa.array per column (msgspec only if installed);
- pyarrow.json.read_json with an explicit schema (C++, releases the GIL): one page a call,
  and 20 pages a call;
- DuckDB from_json over 20 pages a call (C++ yyjson);
- pyarrow.Table.from_pylist, types inferred (the naive baseline).

rows/s is 100 rows over the per-page time.
"""

from __future__ import annotations

import argparse
import operator
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
import pyarrow as pa
import pyarrow.json as pj
from _common import fmt_table, machine_notes, sandbox_process
from conversion import fetch_pages

from csql.catalog import default_catalog
from csql.read.arrow import WIRE_TYPES, records_to_arrow


def best_ms(cases: list[tuple[str, object]], pages: int, repeat: int) -> list[tuple[str, float]]:
    """Best per-page CPU milliseconds of each case's fn() (which converts every page once).
    The cases take turns round after round, so a slow spell of the shared machine hits all
    of them alike instead of one."""
    best = {name: float("inf") for name, _ in cases}
    for _ in range(repeat):
        for name, fn in cases:
            t0 = time.process_time()
            fn()  # type: ignore[operator]
            best[name] = min(best[name], time.process_time() - t0)
    return [(name, best[name] / pages * 1000) for name, _ in cases]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    print(machine_notes())
    table = default_catalog().table("sms_history")
    with sandbox_process(20, 0) as (url, _pid, _startup):
        bodies = [b for b, _ in fetch_pages(url, args.pages)["sms_history"]]
    n = len(bodies)
    records = [orjson.loads(b)["data"]["data"] for b in bodies]
    records_to_arrow(records[0], table)  # learn the wire types, as a scan's first page does
    wire = WIRE_TYPES.get(table)
    assert wire is not None
    cases: list[tuple[str, object]] = []

    def csql_path() -> None:
        for b in bodies:
            records_to_arrow(orjson.loads(b)["data"]["data"], table)

    cases.append(("csql: orjson + records_to_arrow (chosen)", csql_path))
    cases.append(("orjson.loads alone (parse floor)", lambda: [orjson.loads(b) for b in bodies]))

    try:
        import msgspec
    except ImportError:
        msgspec = None
    if msgspec is not None:
        py = {pa.string(): str, pa.int64(): int, pa.float64(): float, pa.bool_(): bool}
        fields = [(f.name, py.get(f.type, str) | None, None) for f in wire]
        row = msgspec.defstruct("Row", fields, gc=False)
        body = msgspec.defstruct(
            "Body", [("data", msgspec.defstruct("Inner", [("data", list[row])]))]
        )
        decoder = msgspec.json.Decoder(body)
        getters = [(operator.attrgetter(f.name), f.type) for f in wire]

        def msgspec_columns() -> None:
            for b in bodies:
                recs = decoder.decode(b).data.data
                pa.Table.from_arrays(
                    [pa.array(list(map(g, recs)), type=t) for g, t in getters],
                    schema=pa.schema(wire),
                )

        cases.append(
            (
                "msgspec typed decode alone (parse floor)",
                lambda: [decoder.decode(b) for b in bodies],
            )
        )
        cases.append(("msgspec typed + pa.array per column", msgspec_columns))

    schema = pa.schema([pa.field("data", pa.struct([pa.field("data", pa.list_(wire))]))])
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    read = pj.ReadOptions(use_threads=False, block_size=1 << 24)

    def arrow_json(batch: int) -> None:
        for i in range(0, n, batch):
            t = pj.read_json(pa.py_buffer(b"\n".join(bodies[i : i + batch])), read, parse)
            t.column(0).combine_chunks().field("data").flatten()

    cases.append(("pyarrow.json, 1 page a call", lambda: arrow_json(1)))
    cases.append(("pyarrow.json, 20 pages a call", lambda: arrow_json(20)))

    import duckdb

    con = duckdb.connect()
    cols = ", ".join(
        f'"{f.name}": "{"BIGINT" if f.type == pa.int64() else "VARCHAR"}"' for f in wire
    )
    structure = '{"data": {"data": [{' + cols + "}]}}"

    def duck(batch: int) -> None:
        for i in range(0, n, batch):
            pages = pa.table({"b": pa.array([b.decode() for b in bodies[i : i + batch]])})
            con.register("pages", pages)
            sql = f"SELECT unnest(from_json(b, '{structure}').data.data, recursive := true) FROM pages"
            con.sql(sql).to_arrow_table()

    cases.append(("DuckDB from_json, 20 pages a call", lambda: duck(20)))
    cases.append(
        ("pyarrow Table.from_pylist (naive)",
         lambda: [pa.Table.from_pylist(orjson.loads(b)["data"]["data"]) for b in bodies])
    )  # fmt: skip
    rows = best_ms(cases, n, args.repeat)
    print(f"\n{n} sms_history pages of 100 rows, CPU per page, best of {args.repeat}")
    print(
        fmt_table(
            ["decoder", "ms/page", "rows/s"],
            [[name, f"{ms:.3f}", f"{100 / ms * 1000:,.0f}"] for name, ms in rows],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
