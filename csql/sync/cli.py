"""`csql replicate` and `csql watch`: the subcommands of csql.sync.

csql replicate replica.duckdb                       every table listable without a key
csql replicate lake/ contacts lists --format parquet
csql replicate replica.duckdb sms_history --lookback 7d
csql watch sms_inbound --once                       new inbound SMS since the last run, as JSON lines
csql watch contacts --where "list_id = 5" --interval 30

Credentials as for `csql`: --username/--api-key/--base-url or CLICKSEND_USERNAME,
CLICKSEND_API_KEY, CLICKSEND_BASE_URL; --sandbox runs against a built-in sandbox (demo data).
Exit status: 0 done, 1 an error (a message on standard error), 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130


def _connection_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--username", help="ClickSend username (default $CLICKSEND_USERNAME)")
    p.add_argument("--api-key", help="ClickSend API key (default $CLICKSEND_API_KEY)")
    p.add_argument("--base-url", help="API base URL (default $CLICKSEND_BASE_URL or ClickSend's)")
    p.add_argument(
        "--sandbox", action="store_true", help="use a built-in local ClickSend with demo data"
    )


@contextlib.contextmanager
def _connect(args: argparse.Namespace) -> Iterator[Any]:
    import csql

    if args.sandbox:
        from csql.sandbox import Sandbox

        with Sandbox() as sb, csql.connect(sb.username, sb.api_key, sb.base_url) as conn:
            yield conn
        return
    with csql.connect(args.username, args.api_key, args.base_url) as conn:
        yield conn


def _replicate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="csql replicate",
        description="Copy ClickSend tables into a DuckDB file (default), a hive-partitioned "
        "Parquet lake (TARGET/<table>/account=.../month=.../*.parquet) or Delta tables. The "
        "first run loads everything; later runs read only what changed (updated_after for "
        "contacts, date_from minus --lookback for message histories) and re-read small tables.",
    )
    p.add_argument(
        "target", metavar="TARGET", help="a DuckDB file, or a directory for parquet/delta"
    )
    p.add_argument("tables", metavar="TABLE", nargs="*",
                   help="tables to copy (default: every table listable without a key)")  # fmt: skip
    p.add_argument("--full", action="store_true", help="re-read everything (deletes included)")
    p.add_argument("--lookback", metavar="DURATION", default=None,
                   help="how far before the last run message histories are re-read, for status "
                   "changes (default 3d; 12h, 90m, 1w)")  # fmt: skip
    p.add_argument("--format", choices=("duckdb", "parquet", "delta"), default=None,
                   help="default: duckdb, or what an existing TARGET directory holds")  # fmt: skip
    p.add_argument(
        "--quiet", "-q", action="store_true", help="no per-table lines on standard error"
    )
    _connection_args(p)
    return p


def _report_line(r: Any) -> str:
    if r.status == "skipped":
        return f"{r.table}: skipped ({r.error}); name it with its filter in a query instead"
    if r.status != "ok":
        return f"{r.table}: FAILED after {r.requests} requests: {r.error}"
    return (f"{r.table}: {r.mode}, +{r.inserted} ~{r.updated} -{r.deleted} "
            f"({r.rows} rows), {r.requests} requests, {r.duration:.2f} s")  # fmt: skip


def replicate_main(argv: list[str]) -> int:
    """`csql replicate TARGET [TABLE ...] [--full] [--lookback D] [--format F]`."""
    args = _replicate_parser().parse_args(argv)
    from csql.errors import Error
    from csql.sync.replicate import ReplicationError, SessionReader, replicate

    def progress(report: Any) -> None:
        if not args.quiet:
            print(_report_line(report), file=sys.stderr, flush=True)

    try:
        with _connect(args) as conn:
            reports = replicate(SessionReader(conn._live()), conn.catalog, args.target,
                                args.tables or None, args.full, args.lookback, args.format,
                                progress=progress)  # fmt: skip
    except ReplicationError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except Error as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted: the tables already committed are kept; run again to continue",
              file=sys.stderr)  # fmt: skip
        return EXIT_INTERRUPTED
    total = sum(r.requests for r in reports.values())
    changed = sum(r.inserted + r.updated + r.deleted for r in reports.values())
    print(f"replicated {len(reports)} table(s) into {args.target}: {changed} row change(s), "
          f"{total} requests", file=sys.stderr)  # fmt: skip
    return EXIT_OK


def _watch_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="csql watch",
        description="Print one JSON object per line for each row of TABLE that appeared, "
        'changed or disappeared: {"event_id", "op": insert|update|delete, "table", "key", '
        '"row", "observed_at"}. The first run with no state starts from now (prints nothing) '
        "unless --since; the state advances only after the events were printed (at-least-once; "
        "event_id is stable, de-duplicate on it). `csql watch sms_inbound` is a trigger for "
        "new inbound SMS.",
    )
    p.add_argument("table", metavar="TABLE")
    p.add_argument("--where", metavar="SQL", help="only rows matching this condition")
    p.add_argument("--state", metavar="PATH", help="the state file (a small DuckDB replica; "
                   "default under $XDG_STATE_HOME/csql/watch)")  # fmt: skip
    p.add_argument("--interval", metavar="SECONDS", type=float, default=60.0,
                   help="seconds between polls (default 60)")  # fmt: skip
    p.add_argument("--once", action="store_true", help="poll once and exit 0")
    p.add_argument("--since", metavar="all|TIMESTAMP",
                   help="first run only: emit existing rows (all, or those at/after TIMESTAMP)")  # fmt: skip
    _connection_args(p)
    return p


def watch_main(argv: list[str]) -> int:
    """`csql watch TABLE [--where SQL] [--state PATH] [--interval S] [--once] [--since X]`."""
    args = _watch_parser().parse_args(argv)
    from csql.errors import Error
    from csql.sync.watch import default_state_path, watch

    try:
        with _connect(args) as conn:
            path = args.state
            if path is None:
                path = str(default_state_path(conn.username or "anonymous", args.table.lower(),
                                              args.where))  # fmt: skip
            events = watch(conn._live(), args.table, where=args.where, state=path,
                           interval=args.interval, once=args.once, since=args.since)  # fmt: skip
            for event in events:
                sys.stdout.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
                sys.stdout.flush()
    except Error as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the consumer went away: its last events will come again
        return EXIT_ERROR
    return EXIT_OK
