"""The `csql` command: run SQL from -c, -f or standard input, an interactive shell, or the sandbox.

csql --sandbox                    shell against a built-in local ClickSend with demo data
csql -c "SELECT * FROM sys_tables" --format csv
csql -f report.sql
csql sandbox --port 8080          serve the local ClickSend until stopped
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator

from csql import output
from csql.dbapi import Connection, connect
from csql.errors import Error


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="csql",
        description="SQL over ClickSend. Credentials come from CLICKSEND_USERNAME and "
        "CLICKSEND_API_KEY unless given here; `csql sandbox --help` for the local ClickSend.",
    )
    p.add_argument("-c", "--command", help="run one SQL statement and print its result")
    p.add_argument("-f", "--file", help="run the statements of a file (separated by ';')")
    p.add_argument("--format", choices=output.FORMATS, default="table", help="output format")
    p.add_argument(
        "--sandbox", action="store_true", help="use a built-in local ClickSend with demo data"
    )
    p.add_argument("--username", help="ClickSend username (default $CLICKSEND_USERNAME)")
    p.add_argument("--api-key", help="ClickSend API key (default $CLICKSEND_API_KEY)")
    p.add_argument("--base-url", help="API base URL (default $CLICKSEND_BASE_URL or ClickSend's)")
    return p


def split_statements(text: str) -> list[str]:
    """Split SQL text on top-level semicolons (quotes and comments respected)."""
    import sqlglot.tokens as tk

    from csql.binder import DIALECT

    stmts, start = [], 0
    try:
        tokens = tk.Tokenizer(dialect=DIALECT).tokenize(text)
    except Exception:  # an unterminated string: let the parser report it
        return [text.strip()] if text.strip() else []
    for t in tokens:
        if t.token_type == tk.TokenType.SEMICOLON:
            stmts.append(text[start : t.start].strip())
            start = t.end + 1
    stmts.append(text[start:].strip())
    return [s for s in stmts if s]


@contextlib.contextmanager
def _connection(args: argparse.Namespace) -> Iterator[Connection]:
    if args.sandbox:
        from csql.sandbox import Sandbox

        with Sandbox() as sb, connect(sb.username, sb.api_key, sb.base_url) as conn:
            yield conn
        return
    with connect(args.username, args.api_key, args.base_url) as conn:
        yield conn


def run_statements(conn: Connection, statements: list[str], fmt: str) -> int:
    """Execute each statement and print its result; stop at the first error (exit 1)."""
    cur = conn.cursor()
    for sql in statements:
        try:
            cur.execute(sql)
        except Error as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        if cur.description is not None:
            sys.stdout.write(output.render(cur.fetch_arrow_table(), fmt))
        elif cur.rowcount >= 0:
            print(f"{cur.rowcount} rows affected")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sandbox":
        from csql.sandbox import main as sandbox_main

        return sandbox_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command is not None:
        statements = split_statements(args.command)
    elif args.file is not None:
        with open(args.file, encoding="utf-8") as fh:
            statements = split_statements(fh.read())
    elif not sys.stdin.isatty():
        statements = split_statements(sys.stdin.read())
    else:
        statements = None
    try:
        with _connection(args) as conn:
            if statements is None:
                from csql.shell import run_shell

                return run_shell(conn, args.format)
            return run_statements(conn, statements, args.format)
    except Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
