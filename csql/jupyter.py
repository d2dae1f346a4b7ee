"""csql in Jupyter/IPython: the `%csql` line magic and the `%%csql` cell magic.

    %load_ext csql
    %csql --sandbox                          # the built-in local ClickSend with demo data
    %csql clicksend://USER:KEY@/             # or a URL (the SQLAlchemy one); default: the
                                             # CLICKSEND_USERNAME/_API_KEY/_BASE_URL variables
    df = %csql SELECT list_id, list_name FROM lists

    %%csql -o per_day
    SELECT date_trunc('day', date) AS day, count(*) AS sms
    FROM sms_history WHERE status = :status GROUP BY day ORDER BY day

A query returns a pandas DataFrame (shown as an HTML table); `:name` placeholders are bound
from the notebook's variables of that name; `-o NAME` also stores the result in NAME. A
statement without rows (INSERT, UPDATE, DELETE without RETURNING) prints how many rows it
changed. A cell may hold several statements separated by `;`: the last one's result is shown.

Connection URLs (also what the SQLAlchemy dialect and jupysql's `%sql` take):

    clicksend://                                  credentials from the environment
    clicksend://USER:KEY@/?base_url=URL           explicit credentials and API base URL
    clicksend://USER:KEY@rest.clicksend.com/v3    the same, base URL https://HOST/PATH
    clicksend:///?sandbox=true&seed=0&scale=1     the shared local sandbox of this process
    ...&requests_per_second=5&timeout=60          any csql.connect() option

This module imports IPython only inside `load_ipython_extension`, so `connect_kwargs` and
`shared_sandbox` work anywhere (the SQLAlchemy dialect uses them).
"""

from __future__ import annotations

import atexit
import re
import threading
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import csql
from csql import sqltext
from csql.client import DEFAULTS as CLIENT_DEFAULTS
from csql.dbapi import SESSION_OPTION_TYPES, SESSION_OPTIONS
from csql.errors import Error, InterfaceError, ProgrammingError
from csql.ratelimit import parse_requests_per_second

_USAGE = __doc__

__all__ = ["connect_kwargs", "connect_url", "load_ipython_extension", "shared_sandbox"]

SCHEMES = ("clicksend", "clicksend+csql")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# -- the shared sandbox ---------------------------------------------------------------------

_sandboxes: dict[tuple[int, float], Any] = {}
_sandbox_lock = threading.Lock()


def shared_sandbox(seed: int = 0, scale: float = 1.0):
    """A local ClickSend (csql.sandbox.Sandbox) shared by the whole process, started on first
    use and stopped at exit: every connection to it sees the same data and each other's writes.
    Same seed and scale, same demo data (`csql --sandbox` uses seed 0, scale 1)."""
    from csql.sandbox import Sandbox

    key = (int(seed), float(scale))
    with _sandbox_lock:
        sb = _sandboxes.get(key)
        if sb is None:
            sb = _sandboxes[key] = Sandbox(seed=key[0], scale=key[1]).start()
            atexit.register(sb.stop)
        return sb


# -- connection URLs ------------------------------------------------------------------------


def _flag(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ProgrammingError(f"option {name} takes true or false, not {value!r}")


def _option(name: str, value: str) -> Any:
    """A URL query value typed like the csql.connect() option it sets."""
    if name in SESSION_OPTIONS:
        kind = SESSION_OPTION_TYPES[name]
        if kind is bool:
            return _flag(name, value)
        try:
            return kind(value)
        except ValueError:
            raise ProgrammingError(f"option {name} takes a number, not {value!r}") from None
    if name == "requests_per_second":  # no default (None), a number when given
        return parse_requests_per_second(value)
    default = CLIENT_DEFAULTS.get(name)
    if isinstance(default, bool):
        return _flag(name, value)
    if isinstance(default, int | float):
        try:
            return type(default)(value)
        except ValueError:
            raise ProgrammingError(f"option {name} takes a number, not {value!r}") from None
    return value  # unknown names reach csql.connect(), which lists the known ones


def connect_kwargs(url: str) -> dict[str, Any]:
    """The keyword arguments of csql.connect() that a `clicksend://` URL stands for.

    Missing credentials stay None so that csql.connect() takes them from the environment.
    `sandbox=true` starts (or reuses) the shared local sandbox and points at it.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise InterfaceError(
            f"not a csql URL: expected clicksend://USER:API_KEY@/?base_url=..., got "
            f"{parts.scheme or 'no'} scheme"
        )
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    kwargs: dict[str, Any] = {
        "username": unquote(parts.username) if parts.username else None,
        "api_key": unquote(parts.password) if parts.password else None,
        "base_url": query.pop("base_url", None),
    }
    host = parts.hostname
    if host and kwargs["base_url"] is None:
        port = f":{parts.port}" if parts.port else ""
        kwargs["base_url"] = f"https://{host}{port}{parts.path.rstrip('/') or '/v3'}"
    seed, scale = query.pop("seed", "0"), query.pop("scale", "1")
    if _flag("sandbox", query.pop("sandbox", "false")):
        if host or kwargs["base_url"]:
            raise InterfaceError(
                "a sandbox URL takes no host or base_url: clicksend:///?sandbox=true"
            )
        try:
            sb = shared_sandbox(int(seed), float(scale))
        except ValueError:
            raise ProgrammingError("sandbox seed and scale must be numbers") from None
        kwargs.update(username=sb.username, api_key=sb.api_key, base_url=sb.base_url)
    for name, value in query.items():
        kwargs[name] = _option(name, value)
    return kwargs


def connect_url(url: str) -> csql.Connection:
    """csql.connect() for a `clicksend://` URL (see connect_kwargs)."""
    return csql.connect(**connect_kwargs(url))


# -- the magics -----------------------------------------------------------------------------


def placeholder_names(sql: str) -> list[str]:
    """The `:name` parameters of a statement, in order (not in strings, quoted names, comments
    or `::` casts): csql.sqltext reads them exactly as the engine will."""
    try:
        return sqltext.placeholder_names(sql)
    except ProgrammingError:
        return []  # text that does not tokenize: the engine reports it when it runs


def _split(sql: str) -> list[str]:
    return sqltext.split_statements(sql)


_OPTIONS = {"-o": 1, "--out": 1, "--seed": 1, "--scale": 1, "--connection": 1,
            "--sandbox": 0, "--close": 0, "--help": 0, "-h": 0}  # fmt: skip


class CsqlMagic:
    """State of the `%csql` magic in one IPython shell: the current connection."""

    usage = _USAGE

    def __init__(self, shell) -> None:
        self.shell = shell
        self.connection: csql.Connection | None = None
        self._own = False  # whether the magic opened the connection (and so closes it)

    # connection management -------------------------------------------------------------------

    def use(self, conn: csql.Connection, own: bool = True) -> None:
        if self.connection is not None and self._own and self.connection is not conn:
            self.connection.close()
        self.connection, self._own = conn, own

    def current(self) -> csql.Connection:
        if self.connection is None or self.connection.closed:
            self.use(csql.connect())  # CLICKSEND_USERNAME / CLICKSEND_API_KEY / CLICKSEND_BASE_URL
        return self.connection

    def close(self) -> None:
        if self.connection is not None and self._own:
            self.connection.close()
        self.connection = None

    # parsing -----------------------------------------------------------------------------------

    def _options(self, line: str) -> tuple[dict[str, Any], str]:
        """Leading options of the magic's line, and the rest (a URL or SQL)."""
        opts: dict[str, Any] = {}
        rest = line.strip()
        while re.match(r"-\w|--\w", rest):  # `-- comment` is SQL, `--sandbox` an option
            head = rest.split(None, 1)[0]
            arity = _OPTIONS.get(head)
            if arity is None:
                raise csql.ProgrammingError(
                    f"unknown option {head}; %csql takes -o NAME, --sandbox [--seed N] "
                    "[--scale X], --connection VAR, --close, a clicksend:// URL, or SQL"
                )
            tokens = rest.split(None, arity + 1)
            if len(tokens) < arity + 1:
                raise csql.ProgrammingError(f"option {head} needs a value")
            key = {"-o": "out", "-h": "help"}.get(head, head.lstrip("-"))
            opts[key] = tokens[1] if arity else True
            rest = tokens[arity + 1] if len(tokens) > arity + 1 else ""
        return opts, rest

    # running -----------------------------------------------------------------------------------

    def __call__(self, line: str = "", cell: str | None = None):
        try:
            return self._magic(line, cell)
        except Error as e:  # a short traceback: the magic's frames, not csql's internals
            raise e.with_traceback(None) from None

    def _magic(self, line: str, cell: str | None):
        opts, rest = self._options(line)
        if opts.get("help"):
            print(self.usage)
            return None
        if opts.get("close"):
            self.close()
            return None
        connected = self._connect(opts, rest)
        if connected and rest.lower().startswith("clicksend"):
            rest = ""  # the URL was the connection
        sql = "\n".join(s for s in (rest, cell or "") if s.strip())
        if not sql.strip():
            if not connected:
                print(self.connection if self.connection is not None else "no csql connection yet")
            return None
        result = self.run(sql)
        if opts.get("out"):
            self.shell.user_ns[opts["out"]] = result
        return result

    def _connect(self, opts: dict[str, Any], rest: str) -> bool:
        """Switch the current connection as the options or a URL ask; True if it did."""
        if opts.get("sandbox"):
            sb = shared_sandbox(int(opts.get("seed", 0)), float(opts.get("scale", 1)))
            self.use(csql.connect(sb.username, sb.api_key, sb.base_url))
            print(f"csql: connected to the local sandbox at {sb.base_url} (demo data, "
                  f"seed {sb.seed}, scale {sb.scale:g})")  # fmt: skip
            return True
        if opts.get("connection"):
            conn = self.shell.user_ns.get(opts["connection"])
            if not isinstance(conn, csql.Connection):
                raise csql.InterfaceError(f"{opts['connection']} is not a csql connection")
            self.use(conn, own=False)
            return True
        if re.match(r"clicksend(\+csql)?://", rest, re.I):
            if len(rest.split()) > 1:
                raise csql.ProgrammingError(
                    "%csql URL connects; run the SQL in the next %csql (or the cell below %%csql URL)"
                )
            self.use(connect_url(rest))
            print(f"csql: connected to {self.connection.base_url}")
            return True
        return False

    def params(self, sql: str) -> dict[str, Any]:
        ns = self.shell.user_ns
        return {n: ns[n] for n in placeholder_names(sql) if n in ns}

    def run(self, sql: str):
        """Run each statement; the last one's rows as a DataFrame (None if it had none)."""
        conn = self.current()
        statements = _split(sql)
        if not statements:
            return None
        cur = conn.cursor()
        try:
            for stmt in statements:
                cur.execute(stmt, self.params(stmt))
            if cur.description is None:
                print(f"{cur.rowcount} row{'s' if cur.rowcount != 1 else ''} affected")
                return None
            return cur.fetchdf()
        finally:
            cur.close()


def load_ipython_extension(ipython) -> None:
    """`%load_ext csql`: register the `%csql` / `%%csql` magic."""
    magic = CsqlMagic(ipython)
    atexit.register(magic.close)
    ipython.register_magic_function(magic, magic_kind="line_cell", magic_name="csql")
    ipython.user_ns["_csql_magic"] = magic
