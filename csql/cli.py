"""The `csql` command: an interactive shell, or SQL from -c, -f or standard input, or the sandbox.

csql --sandbox                    the shell against a built-in local ClickSend with demo data
csql                              the shell against your account (CLICKSEND_USERNAME, ..._API_KEY)
csql -c "SELECT * FROM sys_tables" --format csv
csql -f report.sql
echo "SHOW TABLES;" | csql
csql sandbox --port 8080          serve the local ClickSend until stopped

Batch runs (-c, -f, standard input) stop at the first error: exit status 1, the error on
standard error. Statements that cost money, write every row of a table (UPDATE/DELETE without
WHERE) or call a destructive procedure run only with --yes; without it nothing of the batch
runs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from csql import output, safety
from csql.dbapi import Connection, connect
from csql.errors import Error
from csql.sqltext import split_statements  # also importable as csql.cli.split_statements

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="csql",
        description="SQL over ClickSend. Without -c or -f (and with a terminal on standard "
        "input) csql opens an interactive shell. Credentials come from CLICKSEND_USERNAME and "
        "CLICKSEND_API_KEY unless given here; `csql sandbox --help` for the local ClickSend.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("-c", "--command", metavar="SQL", help="run SQL (one or more statements)")
    src.add_argument("-f", "--file", help="run the statements of a file (separated by ';')")
    p.add_argument("--format", choices=output.FORMATS, default="table", help="output format")
    p.add_argument(
        "--sandbox", action="store_true", help="use a built-in local ClickSend with demo data"
    )
    p.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="batch runs: allow statements that cost money (sends), UPDATE/DELETE without "
        "WHERE and destructive procedures",
    )
    p.add_argument("--username", help="ClickSend username (default $CLICKSEND_USERNAME)")
    p.add_argument("--api-key", help="ClickSend API key (default $CLICKSEND_API_KEY)")
    p.add_argument("--base-url", help="API base URL (default $CLICKSEND_BASE_URL or ClickSend's)")
    p.add_argument("--version", action="version", version=f"csql {_version()}")
    return p


def _version() -> str:
    from csql import __version__

    return __version__


@dataclass
class Target:
    """Where statements go: an open connection, how to open another one, and a description."""

    conn: Connection
    open: Callable[..., Connection]
    description: str


@contextlib.contextmanager
def _target(args: argparse.Namespace, **options) -> Iterator[Target]:
    if args.sandbox:
        from csql.sandbox import Sandbox

        with Sandbox() as sb:

            def opener(**more) -> Connection:
                return connect(sb.username, sb.api_key, sb.base_url, **{**options, **more})

            with opener() as conn:
                yield Target(conn, opener, f"the built-in sandbox (demo data) at {sb.base_url}")
        return

    def opener(**more) -> Connection:
        return connect(args.username, args.api_key, args.base_url, **{**options, **more})

    with opener() as conn:
        who = f"{conn.username} at {conn.base_url}" if conn.username else conn.base_url
        yield Target(conn, opener, who)


def _print_result(table, fmt: str) -> None:
    if fmt == "table" and sys.stdout.isatty():
        from rich.console import Console

        output.show(Console(highlight=False), table, fmt, page=False)
    else:
        sys.stdout.write(output.render(table, fmt))
    sys.stdout.flush()


def refusals(statements: list[str], conn: Connection) -> list[str]:
    """Why each statement that needs --yes needs it (empty when none does)."""
    out = []
    for i, sql in enumerate(statements, start=1):
        verdict = safety.assess(sql, conn.catalog)
        if verdict.needs_confirmation:
            where = f"statement {i}: " if len(statements) > 1 else ""
            out.append(f"{where}{verdict.message}")
    return out


def run_statements(conn: Connection, statements: list[str], fmt: str) -> int:
    """Execute each statement and print its result; stop at the first error (exit 1)."""
    cur = conn.cursor()
    shown = 0
    for i, sql in enumerate(statements, start=1):
        try:
            cur.execute(sql)
            table = cur.fetch_arrow_table() if cur.description is not None else None
        except Error as e:
            where = f" in statement {i}" if len(statements) > 1 else ""
            print(f"error{where}: {e}", file=sys.stderr)
            return EXIT_ERROR
        if table is not None:
            if shown and fmt in ("table", "markdown"):
                print()  # a blank line between two tables
            _print_result(table, fmt)
            shown += 1
        elif cur.rowcount >= 0:
            print(f"{output.plural(cur.rowcount, 'row')} affected", flush=True)
    return EXIT_OK


def _read_statements(args: argparse.Namespace) -> list[str] | None:
    """The batch's statements, or None for the interactive shell."""
    if args.command is not None:
        return split_statements(args.command)
    if args.file is not None:
        if args.file == "-":
            return split_statements(sys.stdin.read())
        with open(args.file, encoding="utf-8") as fh:
            return split_statements(fh.read())
    if not sys.stdin.isatty():
        return split_statements(sys.stdin.read())
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("replicate", "watch"):  # csql.sync's subcommands
        from csql.sync import cli as sync_cli

        return getattr(sync_cli, f"{argv[0]}_main")(argv[1:])
    if argv and argv[0] == "sandbox":
        from csql.sandbox import main as sandbox_main

        return sandbox_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        statements = _read_statements(args)
    except OSError as e:
        print(f"error: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return EXIT_ERROR
    except UnicodeDecodeError as e:
        print(f"error: {args.file or 'standard input'} is not UTF-8 text: {e}", file=sys.stderr)
        return EXIT_ERROR
    try:
        if statements is None:
            return _interactive(args)
        if not statements:
            return EXIT_OK
        # --yes also lets UPDATE/DELETE without WHERE through the engine's own guard
        options = {"allow_unfiltered_writes": True} if args.yes else {}
        with _target(args, **options) as target:
            refused = [] if args.yes else refusals(statements, target.conn)
            if refused:
                for reason in refused:
                    print(f"error: refused: {reason}.", file=sys.stderr)
                print(
                    "error: nothing was run; add --yes to run it anyway "
                    "(EXPLAIN <statement> shows what it would send)",
                    file=sys.stderr,
                )
                return EXIT_ERROR
            return run_statements(target.conn, statements, args.format)
    except Error as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _interactive(args: argparse.Namespace) -> int:
    from csql.shell import run_shell

    with _target(args) as target:
        banner = (
            f"[bold]csql {_version()}[/]: SQL over ClickSend, on {target.description}\n"
            "End statements with ';'.  [bold].help[/] for help, [bold].tables[/] lists the "
            "tables, [bold].quit[/] leaves."
        )
        if target.conn.username is None and not args.sandbox:
            banner += (
                "\n[yellow]No credentials: set CLICKSEND_USERNAME and CLICKSEND_API_KEY "
                "(or try csql --sandbox). Metadata queries work without them."
            )
        return run_shell(target.conn, args.format, target.open, banner)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
