"""`csql -c "SELECT ..." --format parquet --output FILE`: a query's rows as a Parquet file.

Parquet is binary, so it goes to a file (--output), never to a terminal; a script exported
this way has exactly one statement that returns rows (other statements, such as a CALL
before it, run first). Inside SQL, `COPY (SELECT ...) TO 'file.parquet' (FORMAT parquet)`
does the same where file access is on (csv and json too).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

EXPORT_FORMATS = ("parquet",)  # binary formats of `--format`, written with --output
EXIT_OK, EXIT_ERROR = 0, 1


def run_export(args: Any, text: str, target: Callable[..., Any]) -> int:
    """Run the script and write its one result set to args.output as Parquet."""
    import pyarrow.parquet as pq

    from csql.errors import Error
    from csql.sqltext import split_statements

    if not args.output:
        print(f"error: --format {args.format} writes a binary file: add --output FILE",
              file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    statements = split_statements(text)
    if not statements:
        return EXIT_OK
    options = {"allow_unfiltered_writes": True} if args.yes else {}
    with target(args, **options) as t:
        if not args.yes:
            from csql.cli import refusals

            refused = refusals(statements, t.conn)
            if refused:
                for reason in refused:
                    print(f"error: refused: {reason}.", file=sys.stderr)
                print("error: nothing was run; add --yes to run it anyway", file=sys.stderr)
                return EXIT_ERROR
        results = []
        cur = t.conn.cursor()
        for i, sql in enumerate(statements, start=1):
            try:
                cur.execute(sql)
            except Error as e:
                where = f" in statement {i}" if len(statements) > 1 else ""
                print(f"error{where}: {e}", file=sys.stderr)
                return EXIT_ERROR
            if cur.description is not None:
                results.append(cur.fetch_arrow_table())
    if len(results) != 1:
        print(f"error: --format {args.format} writes one result set, and the script returned "
              f"{len(results)}; export one SELECT per file", file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    try:
        pq.write_table(results[0], args.output)
    except OSError as e:
        print(f"error: cannot write {args.output}: {e}", file=sys.stderr)
        return EXIT_ERROR
    print(f"{results[0].num_rows} rows written to {args.output}", file=sys.stderr)
    return EXIT_OK
