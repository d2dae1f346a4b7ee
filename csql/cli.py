"""The `csql` command: an interactive shell, or a script from -c, -f or standard input, or a
subcommand (`csql sandbox`, ...).

csql --sandbox                    the shell against a built-in local ClickSend with demo data
csql                              the shell against your account (flags, CLICKSEND_* variables,
                                  or a profile of ~/.config/csql/config.toml: --profile NAME)
csql -c "SELECT * FROM sys_tables" --format csv
csql -f report.sql --format jsonl --output report.jsonl
echo "SHOW TABLES;" | csql
csql sandbox --port 8080          serve the local ClickSend until stopped

Scripts hold statements and dot commands (`.format csv`, `.param set n 5`, `.read f.sql`).
Results go to standard output (or --output FILE) in a shape scripts can parse (see
csql.shell.output); row counts, timings (--timer) and errors go to standard error. A script
stops at its first error: exit status 1. Statements that cost money, write every row of a
table (UPDATE/DELETE without WHERE) or call a destructive procedure run only with --yes;
without it nothing of the script runs.

This module only reads arguments and opens connections; the shell (csql.shell) runs
everything, so the two do not import each other in a cycle.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from csql.dbapi import Connection
    from csql.shell.repl import Settings

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130

#: `csql NAME ARGS...` hands ARGS to another command's main(argv) -> exit status; each entry
#: is "module:function", imported only when that subcommand runs
SUBCOMMANDS: dict[str, str] = {
    "sandbox": "csql.sandbox:main",
    "replicate": "csql.sync.cli:replicate_main",  # a local copy: DuckDB, Parquet, Delta
    "watch": "csql.sync.cli:watch_main",  # changed rows as JSON lines
}

FORMATS = ("table", "csv", "json", "jsonl", "markdown")  # csql.shell.output.FORMATS
EXPORT_FORMATS = ("parquet",)  # binary, to --output FILE (csql.sync.export)


def split_statements(text: str) -> list[str]:
    """Split SQL text on top-level semicolons (quotes and comments respected)."""
    from csql.sqltext import split_statements as split

    return split(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="csql",
        description="SQL over ClickSend. Without -c or -f (and with a terminal on standard "
        "input) csql opens an interactive shell. Credentials: --username/--api-key, else "
        "--profile NAME (a profile of ~/.config/csql/config.toml), else CLICKSEND_USERNAME and "
        "CLICKSEND_API_KEY. Subcommands: "
        + ", ".join(f"`csql {n} --help`" for n in SUBCOMMANDS)
        + ".",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("-c", "--command", metavar="SQL", help="run SQL (statements and dot commands)")
    src.add_argument("-f", "--file", help="run the statements of a file ('-': standard input)")
    p.add_argument(
        "--format",
        choices=FORMATS + EXPORT_FORMATS,
        default=None,
        help="output format (default table, or the config file's); jsonl: one JSON object per "
        'row, {"statement": N, ...columns}',
    )
    p.add_argument("-o", "--output", metavar="FILE", help="write results to FILE, not stdout")
    p.add_argument(
        "--timer",
        action="store_true",
        help="after each statement, `N rows, N requests, T s` on standard error",
    )
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
    p.add_argument("--profile", help="a profile of the config file (default $CSQL_PROFILE)")
    p.add_argument("--username", help="ClickSend username (default $CLICKSEND_USERNAME)")
    p.add_argument("--api-key", help="ClickSend API key (default $CLICKSEND_API_KEY)")
    p.add_argument("--base-url", help="API base URL (default $CLICKSEND_BASE_URL or ClickSend's)")
    p.add_argument("--config", metavar="FILE", help="the config file (default $CSQL_CONFIG or "
                   "$XDG_CONFIG_HOME/csql/config.toml)")  # fmt: skip
    p.add_argument("--version", action="version", version=f"csql {_version()}")
    return p


def _version() -> str:
    from csql import __version__

    return __version__


# -- connections ---------------------------------------------------------------------------------


@dataclass
class Target:
    """Where statements go: an open connection, how to open another one, and a description."""

    conn: Connection
    open: Callable[..., Connection]
    description: str


def _connect(**kwargs: Any) -> Connection:
    from csql.dbapi import connect

    # the shell and the CLI are the user at their own machine: read_csv('file') works there
    return connect(file_access=True, **kwargs)


@contextlib.contextmanager
def _target(args: argparse.Namespace, **options: Any) -> Iterator[Target]:
    if args.sandbox:
        from csql.sandbox import Sandbox

        with Sandbox() as sb:

            def opener(**more: Any) -> Connection:
                return _connect(
                    username=sb.username,
                    api_key=sb.api_key,
                    base_url=sb.base_url,
                    **{**options, **more},
                )

            with opener() as conn:
                yield Target(conn, opener, f"the built-in sandbox (demo data) at {sb.base_url}")
        return

    def opener(**more: Any) -> Connection:
        return _connect(
            username=args.username,
            api_key=args.api_key,
            base_url=args.base_url,
            profile=args.profile,
            **{**options, **more},
        )

    with opener() as conn:
        yield Target(conn, opener, describe(conn, args.profile))


def describe(conn: Connection, profile: str | None = None) -> str:
    who = f"{conn.username} at {conn.base_url}" if conn.username else conn.base_url
    return f"{who} (profile {profile})" if profile else who


def _profile_connector(options: dict[str, Any]):
    """`.connect NAME` in the shell: a connection for a profile of the config file."""

    def connect_profile(name: str):
        def opener(**more: Any) -> Connection:
            return _connect(profile=name, **{**options, **more})

        conn = opener()
        return conn, opener, describe(conn, name)

    return connect_profile


# -- settings ------------------------------------------------------------------------------------


def _settings(args: argparse.Namespace, interactive: bool) -> tuple[Settings, str]:
    """The shell's settings: the config file's [settings], then the command line's flags."""
    from csql import config
    from csql.shell.repl import Settings

    settings = Settings()
    values = config.load().settings
    fmt = args.format or values.get("format", "table")
    if fmt not in FORMATS:
        raise config.ConfigError(
            f"{config.config_path()}: format {fmt!r} is not one of {', '.join(FORMATS)}"
        )
    display = settings.display
    from csql.shell.output import Expanded, PagerMode

    try:
        if "expanded" in values:
            e = values["expanded"]
            display.expanded = Expanded(("on" if e else "off") if isinstance(e, bool) else e)
        if "pager" in values:
            pager = values["pager"]
            if isinstance(pager, bool) or pager in ("on", "off"):
                display.pager = PagerMode("on" if pager in (True, "on") else "off")
            else:
                display.pager, display.pager_command = PagerMode.COMMAND, pager
    except ValueError as e:
        raise config.ConfigError(f"{config.config_path()}: {e}") from None
    display.headers = values.get("headers", display.headers)
    display.nullvalue = values.get("nullvalue", display.nullvalue)
    display.maxrows = values.get("maxrows", display.maxrows)
    settings.explain = values.get("explain", False) if interactive else False
    # batch: timings only with --timer, so standard error stays quiet by default
    settings.timer = values.get("timer", True) if interactive else args.timer
    if args.timer:
        settings.timer = True
    return settings, fmt


# -- running -------------------------------------------------------------------------------------


def refusals(statements: list[str], conn: Connection) -> list[str]:
    """Why each statement that needs --yes needs it (empty when none does)."""
    from csql.shell import safety

    out = []
    for i, sql in enumerate(statements, start=1):
        verdict = safety.assess(sql, conn.catalog)
        if verdict.needs_confirmation:
            where = f"statement {i}: " if len(statements) > 1 else ""
            out.append(f"{where}{verdict.message}")
    return out


def _read_script(args: argparse.Namespace) -> str | None:
    """The batch's text, or None for the interactive shell."""
    if args.command is not None:
        return args.command
    if args.file is not None:
        if args.file == "-":
            return sys.stdin.read()
        with open(args.file, encoding="utf-8") as fh:
            return fh.read()
    if not sys.stdin.isatty():
        return sys.stdin.read()
    return None


def _run_subcommand(name: str, argv: list[str]) -> int:
    module, _, function = SUBCOMMANDS[name].partition(":")
    return getattr(importlib.import_module(module), function)(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return _run_subcommand(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    if args.config:
        import os

        os.environ["CSQL_CONFIG"] = args.config
    try:
        text = _read_script(args)
    except OSError as e:
        print(f"error: cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return EXIT_ERROR
    except UnicodeDecodeError as e:
        print(f"error: {args.file or 'standard input'} is not UTF-8 text: {e}", file=sys.stderr)
        return EXIT_ERROR
    from csql.diagnostics import Where, for_user
    from csql.errors import Error

    try:
        if text is None:
            return _interactive(args)
        if args.format in EXPORT_FORMATS:
            from csql.sync.export import run_export

            return run_export(args, text, _target)
        return _batch(args, text)
    except Error as e:
        print(f"error: {for_user(e, Where.CLI)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _batch(args: argparse.Namespace, text: str) -> int:
    from csql.shell.output import BatchWriter
    from csql.shell.repl import Batch, Shell
    from csql.shell.script import ItemKind, split_script, sql_statements

    items = split_script(text)
    if not items:
        return EXIT_OK
    statements = sql_statements(items)
    settings, fmt = _settings(args, interactive=False)
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
        several = len(statements) > 1 or any(
            i.kind is ItemKind.COMMAND and i.text.lower().startswith((".read", "\\i"))
            for i in items
        )
        with _stdout(args.output) as (stream, terminal):
            draw = _terminal_table(settings) if terminal and fmt == "table" else None
            writer = BatchWriter(stream, fmt, settings.display, several, draw)
            shell = Shell(
                target.conn,
                fmt,
                target.open,
                batch=Batch(writer, yes=args.yes, several=len(statements) > 1),
                settings=settings,
                connect_profile=_profile_connector(options),
            )
            return shell.run_script(text)


@contextlib.contextmanager
def _stdout(path: str | None):
    """(the stream results go to, whether it is a terminal)."""
    if path is None:
        yield sys.stdout, sys.stdout.isatty()
        return
    try:
        fh = open(path, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as e:
        from csql.errors import InterfaceError

        raise InterfaceError(f"cannot write {path}: {e.strerror}") from None
    with fh:
        yield fh, False


def _terminal_table(settings: Settings):
    """Draw a table result on a terminal like the shell does (batch output to a terminal)."""

    def draw(table) -> None:
        from rich.console import Console

        from csql.shell import output

        output.show(Console(highlight=False), table, "table", page=False, display=settings.display)

    return draw


def _interactive(args: argparse.Namespace) -> int:
    from csql.shell.repl import Shell

    settings, fmt = _settings(args, interactive=True)
    from csql.sync.cache import SHELL_TTL

    with _target(args, cache_ttl=SHELL_TTL) as target:  # exploring re-reads little (.cache)
        banner = (
            f"[bold]csql {_version()}[/]: SQL over ClickSend, on {target.description}\n"
            "End statements with ';'.  [bold].help[/] for help, [bold].tables[/] lists the "
            "tables, [bold].quit[/] leaves."
        )
        if target.conn.username is None and not args.sandbox:
            banner += (
                "\n[yellow]No credentials: start csql with --username and --api-key, or "
                "--profile NAME, or set CLICKSEND_USERNAME and CLICKSEND_API_KEY (the key is in "
                "the ClickSend dashboard -> API Credentials); or try csql --sandbox. Metadata "
                "queries work without them."
            )
        shell = Shell(
            target.conn,
            fmt,
            target.open,
            banner,
            settings=settings,
            connect_profile=_profile_connector({}),
        )
        if args.output:
            shell.meta(f".output {args.output}")
        return shell.run()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
