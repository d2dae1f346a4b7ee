"""Parse SQL and bind its table names to the catalog.

Pure functions over sqlglot trees: parse one statement in DuckDB's dialect, substitute named
parameters, find the table references that are ClickSend tables (not CTEs, not table
functions, not metadata tables), and rewrite Skyvia aliases to the canonical table names so
DuckDB sees one name per table.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError

from csql import diagnostics, sqltext
from csql.catalog import Catalog, Table
from csql.errors import ProgrammingError
from csql.metadata import SYS_TABLES

DIALECT = sqltext.DIALECT

# sqlglot logs a warning whenever it falls back to exp.Command; we handle those statements.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def leading_keyword(sql: str) -> str:
    """The first keyword of a statement, upper-cased, skipping comments ('' if none)."""
    return sqltext.leading_keyword(sql)


def parse(sql: str) -> exp.Expression:
    """One statement as a sqlglot tree; ProgrammingError with the position on bad SQL.

    Nesting is bounded before sqlglot recurses (sqltext.MAX_NESTING), and a statement that
    still exhausts Python's stack (10,000 chained `+`) is a ProgrammingError, not a crash."""
    sqltext.check_nesting(sqltext.tokens(sql))
    try:
        trees = [t for t in sqlglot.parse(sql, read=DIALECT) if t is not None]
    except (ParseError, TokenError) as e:  # the user's line, a caret, SQL terms (diagnostics)
        raise ProgrammingError(diagnostics.syntax_error(sql, e)) from None
    except SqlglotError as e:
        raise ProgrammingError(f"SQL syntax error: {str(e)[:300]}") from None
    except RecursionError:
        raise ProgrammingError(TOO_DEEP) from None
    if not trees:
        raise ProgrammingError("empty statement: nothing to execute")
    if len(trees) > 1:
        raise ProgrammingError("one statement at a time, please: execute() got several")
    return trees[0]


TOO_DEEP = (
    "the statement is too deeply nested or too long an expression chain for csql to read; "
    "simplify it (a CTE, a join, or IN (list) instead of long chains of OR/AND/+)"
)


def sql_literal(value: Any) -> exp.Expression:
    """A Python value as a SQL literal (the way a driver binds a parameter)."""
    import datetime as dt
    import decimal

    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, float) and not math.isfinite(value):
        return exp.cast(exp.Literal.string(str(value)), "DOUBLE")  # nan, inf, -inf
    if isinstance(value, int | float | decimal.Decimal):
        return exp.Literal.number(value)
    if isinstance(value, dt.datetime):
        return exp.cast(
            exp.Literal.string(value.isoformat()), "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP"
        )
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, dict) or (
        isinstance(value, list | tuple) and any(isinstance(v, dict) for v in value)
    ):
        # JSON text, never a Python repr: a JSON parameter receives it as written
        return exp.Literal.string(json.dumps(value, default=str, ensure_ascii=False))
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[sql_literal(v) for v in value])
    if isinstance(value, bytes):
        return exp.func("from_hex", exp.Literal.string(value.hex()))
    return exp.Literal.string(str(value))


def literal_sql(value: Any) -> str:
    """A Python value as the SQL text of its literal (what a `:name` is replaced by)."""
    return sql_literal(value).sql(dialect=DIALECT)


def substitute_parameters(sql: str, params: Mapping[str, Any] | None) -> str:
    """SQL text with each `:name` given in `params` replaced by its literal.

    Done on the text (at the placeholder tokens sqltext finds, never inside strings, `$$..$$`,
    quoted names or comments) because sqlglot cannot parse a placeholder in every position
    (`SELECT :from`); names not in `params` are left for the caller to report.
    """
    return sqltext.substitute(sql, params, literal_sql)


def parse_with_parameters(
    sql: str, params: Mapping[str, Any] | None, also_accepted: tuple[str, ...] = ()
) -> exp.Expression:
    """Check, substitute, parse and bind: the one way statements with `:name` parameters are
    read. Missing parameters and parameters the statement does not use are ProgrammingErrors
    naming them (`also_accepted`: names a caller uses by other means)."""
    sqltext.check_parameters(sqltext.placeholder_names(sql), params, also_accepted)
    tree = parse(substitute_parameters(sql, params))
    return bind_parameters(tree, params)


def bind_parameters(tree: exp.Expression, params: Mapping[str, Any] | None) -> exp.Expression:
    """Replace `:name` placeholders with literals; a missing parameter is a ProgrammingError."""
    holders = list(tree.find_all(exp.Placeholder))
    if not holders:
        return tree
    params = params or {}
    lower = {str(k).lower(): v for k, v in params.items()}
    positional = any(not h.name or h.name == "?" or h.name.isdigit() for h in holders)  # ? $1
    named = {h.name for h in holders if h.name and h.name != "?" and not h.name.isdigit()}
    missing = sorted(n for n in named if n.lower() not in lower)
    if missing or positional:
        if positional:
            raise ProgrammingError(
                "positional parameters ('?', '$1') are not supported: use :name and a dict, "
                "execute('... WHERE id = :id', {'id': 5})"
            )
        raise ProgrammingError(
            f"missing parameter(s) {', '.join(':' + m for m in missing)}; "
            f"pass them as execute(sql, {{{', '.join(repr(m) + ': ...' for m in missing)}}})"
        )

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            return sql_literal(lower[node.name.lower()])
        return node

    return tree.transform(swap, copy=True)


@dataclass(frozen=True)
class Bound:
    """A statement whose table names point at the catalog."""

    tree: exp.Expression
    tables: tuple[Table, ...]  # distinct ClickSend tables referenced
    sys_tables: tuple[str, ...]  # metadata tables referenced


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}


def table_references(tree: exp.Expression) -> list[exp.Table]:
    """Plain named table references (no table functions, no CTE names)."""
    from csql.read.planner.references import names_cte

    refs = []
    for t in tree.find_all(exp.Table):
        if not isinstance(t.this, exp.Identifier):
            continue  # read_csv(...), a subquery or another table function
        if t.args.get("db") or t.args.get("catalog"):
            continue  # schema-qualified: a DuckDB object, not ours
        if names_cte(t):
            continue  # a CTE visible where it stands (in its own body, the name is the table)
        refs.append(t)
    return refs


def resolve_table(catalog: Catalog, name: str) -> Table:
    """The catalog table for a name or alias; ProgrammingError with close matches if none."""
    table = catalog.table(name)
    if table is None:
        hints = catalog.suggest_table(name)
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise ProgrammingError(f"unknown table {name!r}{hint} (SHOW TABLES lists them all)")
    return table


def bind(tree: exp.Expression, catalog: Catalog) -> Bound:
    """Resolve table names (aliases too, case-insensitively) and rewrite them to canonical names.

    Unknown names raise ProgrammingError with close matches.
    """
    tree = tree.copy()
    found: dict[str, Table] = {}
    sys_found: list[str] = []
    for ref in table_references(tree):
        name = ref.name
        if name.lower() in SYS_TABLES:
            sys_found.append(name.lower())
            ref.set("this", exp.to_identifier(name.lower()))
            continue
        table = resolve_table(catalog, name)
        if not ref.alias and name != table.name:
            # keep the user's spelling usable as a qualifier: FROM Contacts -> FROM contacts AS Contacts
            ref.set("alias", exp.TableAlias(this=exp.to_identifier(name, quoted=True)))
        ref.set("this", exp.to_identifier(table.name))
        found.setdefault(table.name, table)
    return Bound(
        tree=tree, tables=tuple(found.values()), sys_tables=tuple(dict.fromkeys(sys_found))
    )
