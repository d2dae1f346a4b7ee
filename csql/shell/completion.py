"""TAB completion for the shell: keywords, tables and Skyvia aliases, procedure names after
CALL and their parameters, the columns of the tables named in the statement being typed, meta
commands and their arguments.

`SqlCompleter.complete()` is pure (text and cursor in, candidates out) so it is tested without
a terminal; `completer()` wraps it for prompt_toolkit, imported only when a prompt exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from csql.catalog import Catalog
from csql.shell import output

META_COMMANDS = {
    ".tables": "[PATTERN]: list the tables",
    ".schema": "TABLE: the columns of a table",
    ".procedures": "list the procedures",
    ".explain": "on|off: EXPLAIN every statement",
    ".format": "table|csv|json|jsonl|markdown",
    ".mode": "table|csv|json|jsonl|markdown",
    ".headers": "on|off: column names",
    ".nullvalue": "TEXT: how NULL is shown",
    ".maxrows": "N: at most N rows shown",
    ".expanded": "on|off|auto: one record per block",
    ".pager": "on|off|COMMAND: page long results",
    ".timer": "on|off: time each statement",
    ".param": "set NAME VALUE | list | unset NAME: :NAME parameters",
    ".output": "FILE: write results to a file",
    ".once": "FILE: write the next result to a file",
    ".read": "FILE: run a script",
    ".connect": "PROFILE: connect with a profile of the config file",
    ".cache": "on|off|clear|ttl N: the read cache",
    ".help": "list the meta commands",
    ".quit": "leave the shell",
    ".exit": "leave the shell",
}

#: the words each dot command takes, for completion
_META_WORDS = {
    ".explain": ("on", "off"),
    ".timer": ("on", "off"),
    ".headers": ("on", "off"),
    ".expanded": ("on", "off", "auto"),
    "\\x": ("on", "off", "auto"),
    ".pager": ("on", "off", "less -S"),
    ".param": ("set", "list", "unset", "clear"),
    ".cache": ("on", "off", "clear", "ttl"),
}

KEYWORDS = (
    "SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "HAVING", "LIMIT", "OFFSET", "JOIN",
    "LEFT JOIN", "RIGHT JOIN", "INNER JOIN", "FULL JOIN", "CROSS JOIN", "ON", "USING", "AS",
    "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "BETWEEN", "EXISTS", "DISTINCT",
    "CASE", "WHEN", "THEN", "ELSE", "END", "UNION", "UNION ALL", "EXCEPT", "INTERSECT", "WITH",
    "ASC", "DESC", "NULLS FIRST", "NULLS LAST", "INSERT INTO", "VALUES", "UPDATE", "SET",
    "DELETE FROM", "RETURNING", "CALL", "EXPLAIN", "DESCRIBE", "SHOW TABLES", "TRUE", "FALSE",
    "CAST", "INTERVAL", "QUALIFY", "OVER", "PARTITION BY", "FILTER", "WINDOW",
)  # fmt: skip

FUNCTIONS = (
    "count", "sum", "avg", "min", "max", "coalesce", "nullif", "lower", "upper", "length",
    "substr", "trim", "replace", "concat", "round", "abs", "date_trunc", "date_part",
    "strftime", "strptime", "to_timestamp", "epoch", "now", "current_date", "age", "regexp_matches",
    "string_agg", "list", "array_agg", "unnest", "json_extract", "json_extract_string",
    "row_number", "rank", "lag", "lead", "first", "last", "any_value", "median", "quantile",
    "count_if", "greatest", "least", "starts_with", "contains",
)  # fmt: skip

#: keywords after which the next word names a table
_TABLE_CONTEXT = {"FROM", "JOIN", "INTO", "UPDATE", "TABLE", "DESCRIBE", "DESC"}
#: words that cannot be a table alias (they follow a table name in a FROM clause)
_NOT_ALIAS = {
    "WHERE", "JOIN", "LEFT", "RIGHT", "INNER", "FULL", "CROSS", "OUTER", "NATURAL", "ON",
    "USING", "GROUP", "ORDER", "LIMIT", "OFFSET", "HAVING", "UNION", "EXCEPT", "INTERSECT",
    "SET", "VALUES", "SELECT", "RETURNING", "WINDOW", "QUALIFY", "AS", "DEFAULT", "LATERAL",
    "POSITIONAL", "ASOF", "ANTI", "SEMI", "BY",
}  # fmt: skip
_TOKEN = re.compile(r'"[^"]*"?|\w+|[^\s\w]')
_WORD_BEFORE = re.compile(r"(?:(\w+)\.)?(\w*)$")
_CALL_ARGS = re.compile(r"\s*CALL\s+\"?(\w+)\"?\s*\([^)]*$", re.I)


def _unquote(token: str) -> str:
    return token.strip('"')


def _current_statement(text: str, cursor: int) -> tuple[str, str]:
    """(the statement around the cursor up to it, the whole statement) split on ';'."""
    start = text.rfind(";", 0, cursor) + 1
    end = text.find(";", cursor)
    end = len(text) if end < 0 else end
    return text[start:cursor], text[start:end]


def tables_in(statement: str, catalog: Catalog, sys_columns: dict[str, tuple[str, ...]]):
    """{alias or name (lower case): (table name, its columns)} for the tables a statement names.

    Works on incomplete SQL: a token walk, not a parse.
    """
    tokens = _TOKEN.findall(statement)
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    i = 0
    while i < len(tokens):
        if tokens[i].upper() not in _TABLE_CONTEXT:
            i += 1
            continue
        clause = tokens[i].upper()
        i += 1
        while i < len(tokens):
            name = _unquote(tokens[i])
            cols: tuple[str, ...] | None = None
            table = catalog.table(name)
            if table is not None:
                canonical, cols = table.name, table.column_names
            elif name.lower() in sys_columns:
                canonical, cols = name.lower(), sys_columns[name.lower()]
            if cols is None:
                break
            found.setdefault(name.lower(), (canonical, cols))
            found.setdefault(canonical, (canonical, cols))
            i += 1
            if i < len(tokens) and tokens[i].upper() == "AS":
                i += 1
            if (
                i < len(tokens)
                and re.fullmatch(r'\w+|"[^"]*"', tokens[i])
                and tokens[i].upper() not in _NOT_ALIAS
            ):
                found[_unquote(tokens[i]).lower()] = (canonical, cols)
                i += 1
            if clause == "FROM" and i < len(tokens) and tokens[i] == ",":
                i += 1
                continue
            break
    return found


@dataclass(frozen=True)
class Candidate:
    text: str
    meta: str
    kind: str  # column, table, keyword, function, procedure, meta


class SqlCompleter:
    """Completions for csql: see the module docstring. `complete()` is pure and testable;
    `completer()` wraps it for prompt_toolkit."""

    def __init__(self, catalog: Catalog) -> None:
        from csql.metadata import all_sys_tables

        self.catalog = catalog
        self.sys_columns = {n: tuple(t.column_names) for n, t in all_sys_tables(catalog).items()}
        tables: list[Candidate] = []
        seen: set[str] = set()
        for t in catalog.tables:
            tables.append(Candidate(t.name, "table", "table"))
            seen.add(t.name.lower())
        for t in catalog.tables:
            for a in t.aliases:
                if a.lower() not in seen:
                    seen.add(a.lower())
                    tables.append(Candidate(a, f"alias of {t.name}", "table"))
        tables += [Candidate(n, "metadata table", "table") for n in self.sys_columns]
        self.tables = tables
        self.procedures = [
            Candidate(p.name, "costs money" if p.costs_money else "procedure", "procedure")
            for p in catalog.procedures
        ]

    def complete(self, text: str, cursor: int | None = None, requested: bool = True):
        """(start offset relative to the cursor, candidates) for `text` with the cursor at
        `cursor`."""
        cursor = len(text) if cursor is None else cursor
        before, statement = _current_statement(text, cursor)
        m = _WORD_BEFORE.search(before)
        qualifier, word = (m.group(1), m.group(2)) if m else (None, "")
        head = before[: len(before) - len(word) - (len(qualifier) + 1 if qualifier else 0)]
        stripped = before.lstrip()
        if stripped.startswith(".") or stripped.startswith("\\"):
            return self._meta(stripped)
        tokens = _TOKEN.findall(head)
        prev = tokens[-1].upper() if tokens else ""
        if qualifier:
            tables = tables_in(statement, self.catalog, self.sys_columns)
            hit = tables.get(qualifier.lower())
            cols = [Candidate(c, f"column of {hit[0]}", "column") for c in hit[1]] if hit else []
            return -len(word), _filter(cols, word)
        if prev == "CALL":
            return -len(word), _filter(self.procedures, word)
        call = _CALL_ARGS.match(head)
        if call and prev in ("(", ","):
            proc = self.catalog.procedure(call.group(1))
            if proc is not None:  # named arguments: CALL SendSMS(to => ..., body => ...)
                params = [
                    Candidate(
                        f"{p.name} => ",
                        f"{p.type}{', required' if p.required else ''}",
                        "parameter",
                    )
                    for p in proc.parameters
                ]
                return -len(word), _filter(params, word)
        if prev in _TABLE_CONTEXT or (prev == "," and _clause(tokens) == "FROM"):
            return -len(word), _filter(self.tables, word)
        if not word and not requested:
            return 0, []
        tables = tables_in(statement, self.catalog, self.sys_columns)
        columns: dict[str, Candidate] = {}
        for canonical, cols in tables.values():
            for c in cols:
                columns.setdefault(c, Candidate(c, f"column of {canonical}", "column"))
        lower = bool(word) and word.islower()
        keywords = [Candidate(k.lower() if lower else k, "keyword", "keyword") for k in KEYWORDS]
        functions = [Candidate(f + "(", "function", "function") for f in FUNCTIONS]
        pool = list(columns.values()) + keywords + functions + self.tables
        return -len(word), _filter(pool, word)

    def _meta(self, stripped: str):
        parts = stripped.split()
        if len(parts) <= 1 and not stripped.endswith(" "):
            word = parts[0] if parts else ""
            pool = [Candidate(c, d, "meta") for c, d in META_COMMANDS.items()]
            return -len(word), _filter(pool, word, fuzzy=False)
        command = parts[0].lower()
        word = "" if stripped.endswith(" ") else parts[-1]
        if command == ".schema":
            return -len(word), _filter(self.tables, word)
        if command in (".format", ".mode"):
            pool = [Candidate(f, "format", "meta") for f in output.FORMATS]
            return -len(word), _filter(pool, word)
        if command in _META_WORDS:
            pool = [Candidate(w, "", "meta") for w in _META_WORDS[command]]
            return -len(word), _filter(pool, word)
        if command in (".connect", "\\c"):
            from csql import config

            try:
                names = sorted(config.load().profiles)
            except Exception:  # a broken file is reported by .connect itself
                names = []
            return -len(word), _filter([Candidate(n, "profile", "meta") for n in names], word)
        return 0, []

    def completer(self):
        from prompt_toolkit.completion import Completer, Completion

        outer = self

        class _Completer(Completer):
            def get_completions(self, document, complete_event):
                start, found = outer.complete(
                    document.text, document.cursor_position, complete_event.completion_requested
                )
                for c in found:
                    yield Completion(c.text, start_position=start, display_meta=c.meta)

        return _Completer()


def _clause(tokens: list[str]) -> str:
    """The last clause keyword among `tokens` (to tell `FROM a, <here>` from `SELECT a, <here>`)."""
    clauses = {"SELECT", "FROM", "WHERE", "GROUP", "ORDER", "HAVING", "SET", "VALUES", "ON", "BY"}
    for t in reversed(tokens):
        if t.upper() in clauses:
            return t.upper()
        if t.upper() == "JOIN":
            return "FROM"
    return ""


def _filter(pool: Iterable[Candidate], word: str, fuzzy: bool = True) -> list[Candidate]:
    """Prefix matches first, then (for 2+ letters) names containing the word; no duplicates."""
    w = word.lower()
    prefix, inner, seen = [], [], set()
    for c in pool:
        key = c.text.lower()
        if key in seen:
            continue
        if key.startswith(w):
            prefix.append(c)
            seen.add(key)
        elif fuzzy and len(w) >= 2 and w in key:
            inner.append(c)
            seen.add(key)
    return prefix + inner
