"""Which statements deserve a confirmation before they run.

`assess(sql, catalog)` is a pure function (no I/O, no connection): it reads one statement and
says whether running it costs money (a CALL of a procedure whose catalog entry has
`costs_money`, or an INSERT into a table whose insert endpoint has `costs_money`), whether it
is an UPDATE/DELETE without a WHERE (or with a WHERE that names no column, such as
`WHERE 1 = 1`, which also matches every row), and whether it calls a destructive procedure
(cancel all, remove duplicates, a new API key). The shell asks before running such a
statement; `csql -c/-f` refuses them unless `--yes` is given.

EXPLAIN of anything is safe: it sends nothing that changes the account.
Statements that do not parse are reported as safe: the engine rejects them with a better
message than this module could.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from csql import sqltext
from csql.catalog import Catalog
from csql.errors import Error


@dataclass(frozen=True)
class Assessment:
    """What a statement would do that a person should agree to first."""

    costs_money: bool = False
    unfiltered_write: bool = False  # UPDATE/DELETE that changes every row of its table
    destructive: bool = False  # a procedure the catalog marks destructive (cancel all, ...)
    reasons: tuple[str, ...] = ()  # one sentence per finding, for the prompt or the error

    @property
    def needs_confirmation(self) -> bool:
        return self.costs_money or self.unfiltered_write or self.destructive

    @property
    def message(self) -> str:
        return "; ".join(self.reasons)


SAFE = Assessment()


def leading_keyword(sql: str) -> str:
    """The first word of a statement, upper-cased, comments skipped ('' if none): read by
    csql.sqltext, as the engine reads it, so what is confirmed is what runs."""
    return sqltext.leading_keyword(sql)


def assess(sql: str, catalog: Catalog) -> Assessment:
    """Say whether `sql` (one statement) costs money, writes every row, or is destructive."""
    keyword = leading_keyword(sql)
    if keyword == "CALL":
        return _assess_call(sql, catalog)
    if keyword not in ("INSERT", "UPDATE", "DELETE", "WITH"):
        return SAFE  # SELECT, EXPLAIN, SHOW, DESCRIBE, ...: nothing is changed or sent
    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except SqlglotError:
        return SAFE
    if len(trees) != 1:
        return SAFE
    tree = trees[0]
    if isinstance(tree, exp.Insert):
        return _assess_insert(tree, catalog)
    if isinstance(tree, exp.Update | exp.Delete):
        return _assess_filter(tree, catalog)
    return SAFE


def target_table(sql: str, catalog: Catalog) -> str | None:
    """The catalog name of the table an INSERT/UPDATE/DELETE writes (None for others)."""
    if leading_keyword(sql) not in ("INSERT", "UPDATE", "DELETE"):
        return None
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError:
        return None
    name = _target_name(tree) if isinstance(tree, exp.Insert | exp.Update | exp.Delete) else None
    table = catalog.table(name) if name else None
    return table.name if table is not None else None


def _assess_call(sql: str, catalog: Catalog) -> Assessment:
    try:
        name = sqltext.call_target(sql)  # quoted names and comments as the engine reads them
    except Error:
        return SAFE  # not a CALL the engine would run: it reports the syntax error
    proc = catalog.procedure(name)
    if proc is None:
        return SAFE
    reasons = []
    if proc.costs_money:
        reasons.append(
            f"CALL {proc.name} is charged to your ClickSend account "
            f"(EXPLAIN CALL {proc.name}(...) shows the price without sending)"
        )
    if proc.destructive:
        reasons.append(f"CALL {proc.name} is destructive and cannot be undone")
    return Assessment(
        costs_money=proc.costs_money, destructive=proc.destructive, reasons=tuple(reasons)
    )


def _target_name(tree: exp.Expression) -> str | None:
    target = tree.this
    if isinstance(target, exp.Schema):  # INSERT INTO t (a, b)
        target = target.this
    if isinstance(target, exp.Table) and isinstance(target.this, exp.Identifier):
        return target.name
    return None


def _assess_insert(tree: exp.Insert, catalog: Catalog) -> Assessment:
    name = _target_name(tree)
    table = catalog.table(name) if name else None
    endpoint = table.endpoints.get("insert") if table is not None else None
    if endpoint is None or not endpoint.costs_money:
        return SAFE
    return Assessment(
        costs_money=True,
        reasons=(f"INSERT INTO {table.name} is charged to your ClickSend account",),
    )


def _assess_filter(tree: exp.Update | exp.Delete, catalog: Catalog) -> Assessment:
    name = _target_name(tree)
    table = catalog.table(name) if name else None
    if table is None:
        return SAFE  # an unknown table: the engine says so
    kind = "UPDATE" if isinstance(tree, exp.Update) else "DELETE"
    verb = "changes" if kind == "UPDATE" else "deletes"
    where = tree.args.get("where")
    if where is None:
        why = f"{kind} without WHERE {verb} every row of {table.name}"
    elif not any(True for _ in where.find_all(exp.Column)) and not _is_false(where.this):
        why = f"{kind} whose WHERE names no column {verb} every row of {table.name}"
    else:
        return SAFE
    return Assessment(unfiltered_write=True, reasons=(why,))


def _is_false(cond: exp.Expression) -> bool:
    """WHERE false / WHERE 1 = 0: matches nothing, so there is nothing to confirm."""
    if isinstance(cond, exp.Boolean):
        return not cond.this
    if isinstance(cond, exp.EQ) and all(
        isinstance(s, exp.Literal) for s in (cond.this, cond.expression)
    ):
        return cond.this.this != cond.expression.this
    return False


__all__ = ["Assessment", "assess", "leading_keyword", "target_table"]
