"""SQL -> Plan: for every ClickSend table reference, a Scan with what the API can do. Pure.

The statement itself is handed to DuckDB unchanged except for table names (each reference
reads its own scan's view), so every predicate is applied again by DuckDB: pushdown may only
narrow what is fetched, never decide the answer. The exceptions, COUNT(*) from `total` and
a LIMIT that fetches only some pages, are used only when every predicate is exact on the
server, and they rewrite the SQL so it stays equivalent.

What is pushed, per reference (see `_Pushdown`):
- path keys from `=`, `IN`, OR of `=`, or a join to another scan (dependent scan);
  otherwise fanned out over the parent table, or a ProgrammingError for required keys;
- a GET per key when the primary key (and the get path's other keys) are fixed;
- `q=field:value` for `=`, `IN` and LIKE fragments on searchable columns (`operator=OR` when the
  conjunct is an OR of such terms); values with `,` or `:` cannot be written in q, so not pushed;
- range parameters (date_from/date_to, updated_after), widened by a second so that either
  reading of their inclusiveness fetches a superset;
- order_by, LIMIT/OFFSET, COUNT(*), only for single-table queries where they are exact.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from csql.catalog import Catalog, Column, Table
from csql.errors import ProgrammingError
from csql.read.plan import (
    MIN_PAGE_SIZE,
    PAGE_SIZE,
    FromQuery,
    FromScan,
    KeySource,
    Plan,
    Scan,
    Values,
    Window,
    view_name,
)

MAX_GETS = 20  # above this many key combinations, listing beats one GET per key
_UNSAFE_IN_Q = re.compile(r"[,:]")
_INTEGER_TYPES = ("integer", "bigint")
_ORDERED_TYPES = ("integer", "bigint", "double", "decimal", "timestamp")

# ---------------------------------------------------------------------------------------------
# literals


class _NoValue(Exception):
    """The expression is not a constant the planner can read."""


def literal_value(node: exp.Expression) -> Any:
    """The Python value of a SQL constant: 5, 'x', -1.5, TRUE, CAST('2024-01-01' AS DATE)."""
    if isinstance(node, exp.Paren):
        return literal_value(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        try:
            return int(text)
        except ValueError:
            return Decimal(text)
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Neg):
        v = literal_value(node.this)
        if isinstance(v, int | Decimal | float) and not isinstance(v, bool):
            return -v
        raise _NoValue
    if isinstance(node, exp.Cast):
        inner = literal_value(node.this)
        target = node.to.this if isinstance(node.to, exp.DataType) else None
        if target in exp.DataType.TEMPORAL_TYPES and isinstance(inner, str):
            return _parse_time(inner)
        if target in exp.DataType.TEXT_TYPES:
            return str(inner)
        return inner
    raise _NoValue


def _parse_time(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise _NoValue from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _unix(value: Any) -> int | None:
    """Unix seconds of a literal compared with a timestamp column (None if unreadable)."""
    if isinstance(value, str):
        try:
            value = _parse_time(value)
        except _NoValue:
            return None
    if isinstance(value, dt.datetime):
        return math.floor(value.timestamp())
    if isinstance(value, dt.date):
        return math.floor(
            dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
        )
    return None


def _key_value(value: Any, column: Column) -> Any:
    """A literal as a path-key value, or _NoValue if it cannot be one (5.5 for an id)."""
    if value is None or isinstance(value, bool):
        raise _NoValue
    if column.type in _INTEGER_TYPES:
        if isinstance(value, str):
            value = value.strip()
            if not re.fullmatch(r"[+-]?\d+", value):
                raise _NoValue
            return int(value)
        if isinstance(value, int | Decimal | float) and value == int(value):
            return int(value)
        raise _NoValue
    if isinstance(value, dt.datetime | dt.date):
        raise _NoValue
    return str(value)


def _q_text(value: Any, column: Column) -> str | None:
    """How a value is written in `q` (None if it cannot be written safely)."""
    if value is None or isinstance(value, bool | dt.date | dt.datetime):
        return None
    if column.type in _INTEGER_TYPES:
        try:
            return str(_key_value(value, column))
        except _NoValue:
            return None
    if column.type != "varchar":
        return None
    text = str(value).strip()
    if not text or _UNSAFE_IN_Q.search(text):
        return None
    return text


def _like_fragment(pattern: str) -> str | None:
    """The longest literal run of a LIKE pattern: every match contains it (case aside)."""
    pieces = [p for p in re.split(r"[%_]", pattern) if p.strip()]
    if not pieces:
        return None
    return max(pieces, key=len)


# ---------------------------------------------------------------------------------------------
# references and predicates


@dataclass
class _Ref:
    """One table reference inside one scope."""

    node: exp.Table
    table: Table
    alias: str
    scope: Scope
    scan_id: int
    nullable_side: bool = False  # right side of a LEFT JOIN (its ON conjuncts may be pushed)
    preserved_outer: bool = False  # left/preserved side of an outer join
    conjuncts: list[exp.Expression] = field(default_factory=list)


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    return list(node.flatten()) if isinstance(node, exp.And) else [node]


def _negated(node: exp.Expression) -> bool:
    """True for a predicate that sqlglot marks as negated in place (x NOT LIKE 'a')."""
    return bool(node.args.get("negate"))


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


class _Resolver:
    """Which table reference of a scope a column belongs to."""

    def __init__(self, scope: Scope, refs: dict[str, _Ref]) -> None:
        self.refs = refs
        self.derived_columns: set[str] | None = set()
        for selected in scope.selected_sources.values():  # what FROM/JOIN name, not every CTE
            source = selected[1] if isinstance(selected, tuple) else selected
            if isinstance(source, Scope):
                expr = source.expression
                if isinstance(expr, exp.Query) and not expr.is_star:
                    self.derived_columns.update(n.lower() for n in expr.named_selects)  # type: ignore[union-attr]
                else:
                    self.derived_columns = None  # SELECT * somewhere: unqualified names are unknown
                    break

    def ref_of(self, col: exp.Column) -> _Ref | None:
        if col.table:
            ref = self.refs.get(col.table.lower())
            if ref is None or ref.table.column(col.name) is None:
                return None
            return ref
        owners = [r for r in self.refs.values() if r.table.column(col.name) is not None]
        if len(owners) != 1:
            return None
        if self.derived_columns is None or col.name.lower() in self.derived_columns:
            return None
        return owners[0]

    def only_ref(self, node: exp.Expression) -> _Ref | None:
        """The single reference all columns of `node` belong to (None if several or unknown)."""
        if node.find(exp.Subquery, exp.Select, exp.Window, exp.AggFunc):
            return None
        refs = {id(r): r for c in node.find_all(exp.Column) if (r := self.ref_of(c)) is not None}
        cols = list(node.find_all(exp.Column))
        if not cols or len(refs) != 1:
            return None
        ref = next(iter(refs.values()))
        if any(self.ref_of(c) is not ref for c in cols):
            return None
        return ref


# ---------------------------------------------------------------------------------------------
# pushdown of one reference's conjuncts


@dataclass
class _Pushdown:
    """What the conjuncts of one reference allow; `exact` when the server filters exactly."""

    table: Table
    keys: dict[str, list[Any]] = field(default_factory=dict)
    q_and: list[tuple[str, str]] = field(default_factory=list)
    q_or: list[tuple[str, str]] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    pushed: list[str] = field(default_factory=list)
    exact: bool = True

    def add(self, conj: exp.Expression) -> None:
        node = _unparen(conj)
        if _negated(node):  # NOT LIKE / NOT ILIKE: sqlglot keeps them as Like(negate=True)
            self.exact = False
            return
        handled = (
            self._equality(node)
            or self._in(node)
            or self._or(node)
            or self._range(node)
            or self._like(node)
        )
        if handled != "exact":
            self.exact = False

    # each returns "exact", "loose" (pushed, DuckDB finishes) or None (not pushed)

    def _column(self, node: exp.Expression) -> Column | None:
        node = _unparen(node)
        if isinstance(node, exp.Column):
            return self.table.column(node.name)
        return None

    def _col_literal(self, node: exp.Expression) -> tuple[Column, Any] | None:
        if not isinstance(node, exp.Binary):
            return None
        for left, right in ((node.this, node.expression), (node.expression, node.this)):
            col = self._column(left)
            if col is not None:
                try:
                    return col, literal_value(_unparen(right))
                except _NoValue:
                    return None
        return None

    def _key(self, col: Column, values: list[Any]) -> str | None:
        try:
            vals = list(dict.fromkeys(_key_value(v, col) for v in values))
        except _NoValue:
            return None
        current = self.keys.get(col.name)
        self.keys[col.name] = vals if current is None else [v for v in current if v in vals]
        self.pushed.append(f"{col.name} IN ({', '.join(map(repr, vals))})")
        return "exact" if col.path_key else "loose"

    def _equality(self, node: exp.Expression) -> str | None:
        if not isinstance(node, exp.EQ):
            return None
        found = self._col_literal(node)
        if found is None:
            return None
        col, value = found
        if col.path_key or col.primary_key:
            result = self._key(col, [value])
            if result and col.path_key:
                return result
        if col.filter_param and value is not None:
            self.params[col.filter_param] = (
                _key_value(value, col) if col.type != "varchar" else value
            )
            self.pushed.append(f"{col.filter_param}={value}")
            return "loose"
        if col.searchable:
            text = _q_text(value, col)
            if text is not None:
                self.q_and.append((col.name, text))
                return "loose"
        return "loose" if col.primary_key and col.name in self.keys else None

    def _in(self, node: exp.Expression) -> str | None:
        if not isinstance(node, exp.In) or node.args.get("query") or node.args.get("unnest"):
            return None
        if node.args.get("field"):
            return None
        col = self._column(node.this)
        if col is None:
            return None
        try:
            values = [literal_value(_unparen(e)) for e in node.expressions]
        except _NoValue:
            return None
        if col.path_key or col.primary_key:
            result = self._key(col, values)
            if result and col.path_key:
                return result
            if result:
                return "loose"
        if col.searchable:
            texts = [_q_text(v, col) for v in values]
            if texts and None not in texts and self.q_or is None:
                self.q_or = [(col.name, t) for t in texts]  # type: ignore[misc]
                return "loose"
        return None

    def _or(self, node: exp.Expression) -> str | None:
        if not isinstance(node, exp.Or):
            return None
        disjuncts = [_unparen(d) for d in node.flatten()]
        pairs = [self._col_literal(d) if isinstance(d, exp.EQ) else None for d in disjuncts]
        if all(p is not None for p in pairs):
            cols = {p[0].name for p in pairs}  # type: ignore[index]
            if len(cols) == 1:
                col = pairs[0][0]  # type: ignore[index]
                if col.path_key or col.primary_key:
                    return self._key(col, [p[1] for p in pairs])  # type: ignore[index]
        terms: list[tuple[str, str]] = []
        for d in disjuncts:
            term = self._q_term(d)
            if term is None:
                return None
            terms.append(term)
        if self.q_or is not None:
            return None
        self.q_or = terms
        return "loose"

    def _q_term(self, node: exp.Expression) -> tuple[str, str] | None:
        if _negated(node):
            return None
        if isinstance(node, exp.EQ):
            found = self._col_literal(node)
            if found and found[0].searchable:
                text = _q_text(found[1], found[0])
                return (found[0].name, text) if text is not None else None
        if isinstance(node, exp.Like | exp.ILike):
            col = self._column(node.this)
            if col is not None and col.searchable and col.type == "varchar":
                try:
                    pattern = literal_value(_unparen(node.expression))
                except _NoValue:
                    return None
                if isinstance(pattern, str) and not node.args.get("escape"):
                    frag = _like_fragment(pattern)
                    text = _q_text(frag, col) if frag else None
                    return (col.name, text) if text else None
        return None

    def _like(self, node: exp.Expression) -> str | None:
        if isinstance(node, exp.Escape):
            return None
        term = self._q_term(node) if isinstance(node, exp.Like | exp.ILike) else None
        if term is None:
            return None
        self.q_and.append(term)
        return "loose"

    def _range(self, node: exp.Expression) -> str | None:
        if isinstance(node, exp.Between):
            col = self._column(node.this)
            if col is None or not col.range_filterable:
                return None
            try:
                low = literal_value(_unparen(node.args["low"]))
                high = literal_value(_unparen(node.args["high"]))
            except _NoValue:
                return None
            ok_low = self._bound(col, ">=", low)
            ok_high = self._bound(col, "<=", high)
            return "loose" if ok_low or ok_high else None
        ops = {exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
        flipped = {">": "<", ">=": "<=", "<": ">", "<=": ">="}
        op = ops.get(type(node))
        if op is None:
            return None
        col = self._column(node.this)
        other = node.expression
        if col is None:
            col, other, op = self._column(node.expression), node.this, flipped[op]
        if col is None or not col.range_filterable:
            return None
        try:
            value = literal_value(_unparen(other))
        except _NoValue:
            return None
        return "loose" if self._bound(col, op, value) else None

    def _bound(self, col: Column, op: str, value: Any) -> bool:
        seconds = _unix(value) if col.type == "timestamp" else None
        if seconds is None:
            return False
        # widen by one second: whether ClickSend's bound is inclusive or not, we get a superset
        if op in (">", ">=") and (col.range_lower or col.range_after):
            param = col.range_lower or col.range_after
            bound = seconds - 1
            self.params[param] = max(self.params.get(param, bound), bound)
        elif op in ("<", "<=") and col.range_upper:
            bound = seconds + 1
            self.params[col.range_upper] = min(self.params.get(col.range_upper, bound), bound)
        else:
            return False
        self.pushed.append(f"{col.name} {op} {value}")
        return True

    def q_params(self) -> dict[str, str]:
        if self.q_and:
            return {"q": ",".join(f"{c}:{v}" for c, v in self.q_and)}
        if self.q_or:
            out = {"q": ",".join(f"{c}:{v}" for c, v in self.q_or)}
            if len(self.q_or) > 1:
                out["operator"] = "OR"
            return out
        return {}


# ---------------------------------------------------------------------------------------------
# the planner


class Planner:
    """Plans one bound query. Create one per statement."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.scans: dict[int, Scan] = {}
        self.next_id = 1
        self._join_keys: dict[int, dict[str, tuple[_Ref, str]]] = {}
        self._exact: dict[int, bool] = {}  # every predicate of the scan is exact on the server
        # path key = / IN an uncorrelated subquery: (scan id, column) -> subquery node
        self._subquery_keys: dict[tuple[int, str], exp.Subquery] = {}
        self._pending: list[tuple[int, str, exp.Subquery]] = []
        self._all_refs: list[_Ref] = []
        self._tree: exp.Expression | None = None

    def _new_id(self) -> int:
        i = self.next_id
        self.next_id += 1
        return i

    def plan(self, tree: exp.Expression) -> Plan:
        tree = tree.copy()
        self._tree = tree
        scopes = traverse_scope(tree)
        refs_by_scope: list[tuple[Scope, dict[str, _Ref]]] = []
        for scope in scopes:
            refs = self._refs(scope)
            if refs:
                refs_by_scope.append((scope, refs))
        all_refs = [r for _, refs in refs_by_scope for r in refs.values()]
        # tables in places scopes do not reach (a subquery inside VALUES): plain full scans
        seen = {id(r.node) for r in all_refs}
        ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
        for node in list(tree.find_all(exp.Table)):
            if id(node) in seen or not isinstance(node.this, exp.Identifier):
                continue
            table = self.catalog.table(node.name)
            if table is None or node.name != table.name or node.name.lower() in ctes:
                continue
            ref = _Ref(
                node=node, table=table, alias=node.alias_or_name, scope=None, scan_id=self._new_id()
            )  # type: ignore[arg-type]
            all_refs.append(ref)
            refs_by_scope.append((None, {ref.alias.lower(): ref}))  # type: ignore[arg-type]
        self._all_refs = all_refs
        for scope, refs in refs_by_scope:
            if scope is not None:
                self._assign_conjuncts(scope, refs)
        root = scopes[-1] if scopes else None
        simple = self._simple_single_table(tree, root, refs_by_scope)
        for _scope, refs in refs_by_scope:
            for ref in refs.values():
                self._plan_ref(ref)
        count_scan = None
        if simple is not None and not self._key_subqueries_only(tree, simple):
            simple = None
        if simple is not None:
            count_scan = self._count(tree, simple)
            if count_scan is None:
                self._window(tree, simple)
        for ref in all_refs:
            alias = exp.TableAlias(this=exp.to_identifier(ref.alias, quoted=True))
            if ref.scan_id != count_scan:  # the counted table is no longer in the SQL
                ref.node.set("this", exp.to_identifier(self.scans[ref.scan_id].view))
                ref.node.set("alias", alias)
        self._resolve_subquery_keys(tree)
        self._reuse_full_scans()
        ordered = _topological(self.scans)
        return Plan(scans=ordered, sql=tree.sql(dialect="duckdb"), count_scan=count_scan)

    # -- references ------------------------------------------------------------------------

    def _refs(self, scope: Scope) -> dict[str, _Ref]:
        refs: dict[str, _Ref] = {}
        for alias, source in scope.selected_sources.items():
            node = source[0] if isinstance(source, tuple) else source
            if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
                continue
            table = self.catalog.table(node.name)
            if table is None or node.name != table.name:
                continue  # metadata tables and DuckDB objects
            ref = _Ref(node=node, table=table, alias=node.alias_or_name, scope=scope,
                       scan_id=self._new_id())  # fmt: skip
            refs[alias.lower()] = ref
        return refs

    def _assign_conjuncts(self, scope: Scope, refs: dict[str, _Ref]) -> None:
        select = scope.expression
        if not isinstance(select, exp.Select):
            return
        resolver = _Resolver(scope, refs)
        where = select.args.get("where")
        candidates = _conjuncts(where.this if where else None)
        joins = select.args.get("joins") or []
        by_node = {id(r.node): r for r in refs.values()}
        for join in joins:
            side = (join.side or "").upper()
            target = by_node.get(id(join.this))
            if side in ("RIGHT", "FULL"):
                from_ref = (
                    by_node.get(id(select.args["from_"].this)) if select.args.get("from_") else None
                )
                if from_ref is not None:
                    from_ref.preserved_outer = True
                continue
            if side == "LEFT":
                if target is not None:
                    target.nullable_side = True
                    target.conjuncts += [c for c in _conjuncts(join.args.get("on"))
                                         if resolver.only_ref(c) is target]  # fmt: skip
                continue
            candidates += _conjuncts(join.args.get("on"))
        for conj in candidates:
            ref = resolver.only_ref(conj)
            if ref is not None:
                ref.conjuncts.append(conj)
            else:
                self._subquery_key(conj, resolver)
        for ref in refs.values():
            self._join_keys[ref.scan_id] = self._join_equalities(select, ref, refs, resolver)

    def _subquery_key(self, conj: exp.Expression, resolver: _Resolver) -> None:
        """Remember `key IN (SELECT ...)` / `key = (SELECT ...)` with an uncorrelated subquery."""
        node = _unparen(conj)
        col, sub = None, None
        if isinstance(node, exp.In) and isinstance(node.args.get("query"), exp.Subquery):
            col, sub = node.this, node.args["query"]
        elif isinstance(node, exp.EQ):
            for a, b in ((node.this, node.expression), (node.expression, node.this)):
                if isinstance(_unparen(a), exp.Column) and isinstance(b, exp.Subquery):
                    col, sub = _unparen(a), b
        if not isinstance(col, exp.Column) or sub is None or not self._uncorrelated(sub):
            return
        ref = resolver.ref_of(col)
        if ref is not None and ref.table.column(col.name).path_key:
            self._subquery_keys.setdefault((ref.scan_id, ref.table.column(col.name).name), sub)

    def _uncorrelated(self, sub: exp.Subquery) -> bool:
        """True when every column of the subquery belongs to a table inside it.

        (sqlglot's scopes cannot tell without a schema, so the catalog is the schema here;
        a column we cannot place makes the subquery count as correlated: no pushdown.)
        """
        ctes = (
            {c.alias_or_name.lower(): c for c in self._tree.find_all(exp.CTE)} if self._tree else {}
        )
        aliases, columns, anything = set(), set(), False
        for t in sub.find_all(exp.Table):
            aliases.add(t.alias_or_name.lower())
            table = self.catalog.table(t.name)
            if table is not None and t.name == table.name:
                columns |= {c.lower() for c in table.column_names}
            elif t.name.lower() in ctes and not ctes[t.name.lower()].this.is_star:
                columns |= {n.lower() for n in ctes[t.name.lower()].this.named_selects}
            else:
                anything = True  # a table function or DuckDB table: its columns are unknown
        for select in sub.find_all(exp.Select):
            columns |= {n.lower() for n in select.named_selects}  # aliases used in ORDER BY etc.
        for col in sub.find_all(exp.Column):
            if col.table:
                if col.table.lower() not in aliases:
                    return False
            elif col.name.lower() not in columns and not anything:
                return False
        return True

    def _subquery_scans(self, sub: exp.Subquery) -> tuple[int, ...] | None:
        """Scans a subquery reads (CTEs it names included); None if it reads no ClickSend table."""
        tables = {id(t) for t in sub.find_all(exp.Table)}
        names = {t.name.lower() for t in sub.find_all(exp.Table)}
        for cte in self._tree.find_all(exp.CTE) if self._tree is not None else []:
            if cte.alias_or_name.lower() in names:
                tables |= {id(t) for t in cte.find_all(exp.Table)}
        return tuple(r.scan_id for r in self._all_refs if id(r.node) in tables)

    def _resolve_subquery_keys(self, tree: exp.Expression) -> None:
        """Now that table names point at views, write the SQL of subquery-derived keys."""
        with_ = tree.args.get("with_")
        for scan_id, column, sub in self._pending:
            select = sub.this.copy()
            inner = exp.Subquery(this=select, alias=exp.TableAlias(
                this=exp.to_identifier("__k"), columns=[exp.to_identifier("__v")]))  # fmt: skip
            query = (
                exp.select("__v")
                .distinct()
                .from_(inner)
                .where(exp.column("__v").is_(exp.null()).not_())
            )
            if with_ is not None:
                query.set("with_", with_.copy())
            scan = self.scans[scan_id]
            old = scan.keys[column]
            assert isinstance(old, FromQuery)
            keys = {**scan.keys, column: FromQuery(query.sql(dialect="duckdb"), old.scans)}
            self.scans[scan_id] = _replace(scan, keys=keys)

    def _join_equalities(
        self, select: exp.Select, ref: _Ref, refs: dict[str, _Ref], resolver: _Resolver
    ) -> dict[str, tuple[_Ref, str]]:
        """Path keys of `ref` equal to a column of another reference, where that restricts `ref`."""
        out: dict[str, tuple[_Ref, str]] = {}
        where = select.args.get("where")
        pool = _conjuncts(where.this if where else None)
        for join in select.args.get("joins") or []:
            side = (join.side or "").upper()
            if side in ("RIGHT", "FULL"):
                continue
            if side == "LEFT" and join.this is not ref.node:
                continue  # a LEFT join's ON restricts only its right side
            pool += _conjuncts(join.args.get("on"))
            right = next((r for r in refs.values() if r.node is join.this), None)
            for ident in join.args.get("using") or []:
                name = ident.name
                if ref.table.column(name) is None or right is None:
                    continue
                if right is ref:  # the joined table: equal to an earlier table's column
                    other = next((r for r in refs.values() if r is not ref
                                  and r.table.column(name) is not None), None)  # fmt: skip
                elif side != "LEFT":  # an earlier table, restricted by an inner join
                    other = right if right.table.column(name) is not None else None
                else:
                    other = None
                if other is not None:
                    out.setdefault(name, (other, name))
        if ref.preserved_outer:
            return {}
        for conj in pool:
            node = _unparen(conj)
            if not isinstance(node, exp.EQ):
                continue
            left, right = _unparen(node.this), _unparen(node.expression)
            if not (isinstance(left, exp.Column) and isinstance(right, exp.Column)):
                continue
            for mine, theirs in ((left, right), (right, left)):
                if resolver.ref_of(mine) is ref:
                    other = resolver.ref_of(theirs)
                    if other is not None and other is not ref:
                        col = ref.table.column(mine.name)
                        if col is not None and col.path_key:
                            out.setdefault(col.name, (other, theirs.name))
        return out

    # -- one reference ---------------------------------------------------------------------

    def _plan_ref(self, ref: _Ref) -> None:
        push = _Pushdown(ref.table)
        for conj in ref.conjuncts:
            push.add(conj)
        table = ref.table
        keys: dict[str, KeySource] = {}
        pk_values: dict[str, list[Any]] = {}
        for name, vals in push.keys.items():
            col = table.column(name)
            if col is not None and col.path_key:
                keys[name] = Values(tuple(vals))
            else:
                pk_values[name] = vals
        mode = "list"
        get = table.endpoints.get("get")
        if get is not None and pk_values:
            needed = set(get.placeholders)
            fixed = {
                **{k: list(v.values) for k, v in keys.items() if isinstance(v, Values)},
                **pk_values,
            }
            if needed <= set(fixed) and needed:
                combos = math.prod(len(fixed[n]) for n in needed)
                if combos <= MAX_GETS:
                    mode = "get"
                    keys = {n: Values(tuple(fixed[n])) for n in needed}
        if mode == "list":
            joined = self._join_keys.get(ref.scan_id, {})
            for col in table.path_keys:
                if col.name in keys:
                    continue
                if col.name in joined:
                    other, other_col = joined[col.name]
                    if ref.scan_id not in _ancestors(self.scans, other.scan_id):
                        keys[col.name] = FromScan(
                            other.scan_id, other_col, _filter_sql(other), other.alias
                        )
                        push.exact = False
                        continue
                sub = self._subquery_keys.get((ref.scan_id, col.name))
                scans = self._subquery_scans(sub) if sub is not None else None
                if (
                    scans
                    and ref.scan_id not in scans
                    and not any(ref.scan_id in _ancestors(self.scans, s) for s in scans)
                ):
                    # exact: the server returns precisely the rows of those key values
                    keys[col.name] = FromQuery("", scans)  # SQL written once views are named
                    self._pending.append((ref.scan_id, col.name, sub))
                    continue
                keys[col.name] = self._fanout(ref, col)
                push.exact = push.exact and isinstance(keys[col.name], FromScan)
        params = (
            {}
            if mode == "get"
            else {**push.q_params(), **{k: str(v) for k, v in push.params.items()}}
        )
        self._exact[ref.scan_id] = push.exact and not params and mode == "list"
        pushed = tuple(push.pushed) + tuple(f"{k}={v}" for k, v in push.q_params().items())
        self.scans[ref.scan_id] = Scan(
            id=ref.scan_id,
            table=table,
            view=view_name(ref.scan_id, table.name),
            mode=mode,
            keys=keys,
            params=params,
            pushed=pushed if mode == "list" else tuple(push.pushed),
        )

    def _fanout(self, ref: _Ref | None, col: Column) -> KeySource:
        """Key values for a path key that WHERE does not fix: every row of the parent table."""
        if col.fanout is None:
            table = ref.table if ref else None
            example = col.example if col.example is not None else 1
            lit = f"'{example}'" if isinstance(example, str) else str(example)
            raise ProgrammingError(
                f"{table.name if table else ''}.{col.name} is required: ClickSend's "
                f"{table.list_endpoint.path if table else ''} needs it and it cannot be fanned "
                f"out; add it to WHERE, e.g. SELECT * FROM {table.name if table else ''} "
                f"WHERE {col.name} = {lit}"
            )
        parent_name, _, parent_col = col.fanout.partition(".")
        parent = self.catalog.table(parent_name)
        assert parent is not None  # the catalog validated it
        pid = self._new_id()
        pkeys = {c.name: self._fanout(None, c) for c in parent.path_keys}
        self.scans[pid] = Scan(
            id=pid,
            table=parent,
            view=view_name(pid, parent.name),
            keys=pkeys,
            hidden=True,
        )
        return FromScan(pid, parent_col)

    def _reuse_full_scans(self) -> None:
        """A fan-out parent that the query reads in full anyway is fetched once, not twice."""
        for hidden in [s for s in self.scans.values() if s.hidden]:
            twin = next(
                (s for s in self.scans.values()
                 if not s.hidden and s.table is hidden.table and s.mode == "list"
                 and not s.params and s.window is None and s.keys == hidden.keys),
                None,
            )  # fmt: skip
            if twin is None:
                continue
            for sid, scan in list(self.scans.items()):
                keys = {k: _replace_source(v, hidden.id, twin.id) for k, v in scan.keys.items()}
                if keys != scan.keys:
                    if twin.id in _ancestors(self.scans, sid) or sid == twin.id:
                        continue
                    self.scans[sid] = _replace(scan, keys=keys)
            if not any(hidden.id in s.depends_on for s in self.scans.values()):
                del self.scans[hidden.id]
                self.scans[twin.id] = _replace(self.scans[twin.id], stream=False)

    # -- single-table shortcuts ------------------------------------------------------------

    def _simple_single_table(self, tree, root, refs_by_scope) -> _Ref | None:
        """The reference of a query that reads one ClickSend table and nothing else."""
        if not isinstance(tree, exp.Select) or root is None or root.expression is not tree:
            return None
        root_refs = [refs for scope, refs in refs_by_scope if scope is root]
        if len(root_refs) != 1 or len(root_refs[0]) != 1:
            return None
        if len(root.sources) != 1 or tree.args.get("joins"):
            return None
        if any(tree.args.get(k) for k in ("group", "having", "distinct", "qualify", "with_")):
            return None
        if tree.find(exp.Window):
            return None
        # subqueries (and the tables in them) only where they supply this table's keys;
        # checked again by _key_subqueries_only once the keys are planned
        return next(iter(root_refs[0].values()))

    def _key_subqueries_only(self, tree: exp.Expression, ref: _Ref) -> bool:
        """True when every subquery of the query is one that gives `ref` its key values."""
        allowed = [sub for sid, _, sub in self._pending if sid == ref.scan_id]
        inside = {id(n) for sub in allowed for n in sub.walk()}
        if any(id(sq) not in inside for sq in tree.find_all(exp.Subquery)):
            return False
        return all(r is ref or id(r.node) in inside for r in self._all_refs)

    def _count(self, tree: exp.Select, ref: _Ref) -> int | None:
        """COUNT(*) from `total`: one request per key stream instead of every page."""
        scan = self.scans[ref.scan_id]
        if (
            scan.mode != "list"
            or ref.table.list_endpoint.paging != "page"
            or not self._exact[ref.scan_id]
        ):
            return None
        if tree.args.get("order") or tree.args.get("limit") or tree.args.get("offset"):
            return None
        counts = []
        for sel in tree.expressions:
            node = sel.this if isinstance(sel, exp.Alias) else sel
            if not isinstance(node, exp.Count) or not isinstance(node.this, exp.Star):
                return None
            counts.append(sel)
        if not counts:
            return None
        new_exprs = []
        for sel in tree.expressions:
            name = sel.alias if isinstance(sel, exp.Alias) else "count_star()"
            new_exprs.append(exp.alias_(exp.column("total"), name, quoted=True))
        tree.set("expressions", new_exprs)
        tree.set("where", None)
        tree.set("from_", exp.From(this=exp.to_table(f"__csql_count_{ref.scan_id}")))
        self.scans[ref.scan_id] = _replace(scan, mode="count")
        return ref.scan_id

    def _window(self, tree: exp.Select, ref: _Ref) -> None:
        """LIMIT/OFFSET: fetch only the pages that hold the wanted rows, or stream."""
        scan = self.scans[ref.scan_id]
        limit = tree.args.get("limit")
        if limit is None or scan.mode != "list":
            return
        try:
            n = literal_value(limit.expression)
            offset_node = tree.args.get("offset")
            m = literal_value(offset_node.expression) if offset_node is not None else 0
        except _NoValue:
            return
        if not isinstance(n, int) or not isinstance(m, int) or n < 0 or m < 0:
            return
        order = tree.args.get("order")
        order_param = None
        if order is not None:
            order_param = self._order_param(order, ref)
            if order_param is None:
                return  # DuckDB must see every row to sort them
        single_stream = all(
            isinstance(k, Values) and len(k.values) == 1 for k in scan.keys.values()
        )
        paging = ref.table.list_endpoint.paging
        if self._exact[ref.scan_id] and single_stream and paging == "page":
            params = dict(scan.params)
            if order_param:
                params["order_by"] = order_param
            if n == 0:
                return
            window = _page_window(m, n)
            self.scans[ref.scan_id] = _replace(scan, window=window, params=params)
            new_offset = window.skip_in_first
            if new_offset:
                tree.set("offset", exp.Offset(expression=exp.Literal.number(new_offset)))
            else:
                tree.set("offset", None)
        elif order is None:
            self.scans[ref.scan_id] = _replace(scan, stream=True)

    def _order_param(self, order: exp.Order, ref: _Ref) -> str | None:
        """order_by=col:dir when the server's order is the one DuckDB would produce."""
        if len(order.expressions) != 1:
            return None
        ordered = order.expressions[0]
        col_node = _unparen(ordered.this)
        if not isinstance(col_node, exp.Column):
            return None
        col = ref.table.column(col_node.name)
        # strings may collate differently on the server, and NULLs sort differently: only
        # non-null numbers and times are pushed
        if col is None or not col.sortable or col.type not in _ORDERED_TYPES or col.nullable:
            return None
        desc = bool(ordered.args.get("desc"))
        return f"{col.name}:{'desc' if desc else 'asc'}"


def _filter_sql(ref: _Ref) -> str | None:
    """A reference's own predicates as SQL, to narrow the keys it gives a dependent scan."""
    if not ref.conjuncts:
        return None
    return " AND ".join(f"({c.sql(dialect='duckdb')})" for c in ref.conjuncts)


def _page_window(offset: int, count: int) -> Window:
    """The pages that hold rows [offset, offset + count): one page if a page size fits."""
    end = offset + count
    if end <= PAGE_SIZE:
        return Window(max(MIN_PAGE_SIZE, end), 1, 1, offset)
    first = offset // PAGE_SIZE + 1
    last = (end - 1) // PAGE_SIZE + 1
    return Window(PAGE_SIZE, first, last, offset - (first - 1) * PAGE_SIZE)


def _replace(scan: Scan, **changes: Any) -> Scan:
    from dataclasses import replace

    return replace(scan, **changes)


def _ancestors(scans: dict[int, Scan], scan_id: int) -> set[int]:
    seen: set[int] = set()
    stack = [scan_id]
    while stack:
        s = scans.get(stack.pop())
        if s is None:
            continue
        for d in s.depends_on:
            if d not in seen:
                seen.add(d)
                stack.append(d)
    return seen


def _topological(scans: dict[int, Scan]) -> tuple[Scan, ...]:
    done: list[Scan] = []
    placed: set[int] = set()

    def visit(s: Scan) -> None:
        if s.id in placed:
            return
        placed.add(s.id)
        for d in s.depends_on:
            visit(scans[d])
        done.append(s)

    for s in sorted(scans.values(), key=lambda s: s.id):
        visit(s)
    return tuple(done)


def plan_query(tree: exp.Expression, catalog: Catalog) -> Plan:
    """Plan a bound query (table names already canonical): scans + DuckDB SQL. No I/O."""
    return Planner(catalog).plan(tree)


def _replace_source(source: KeySource, old: int, new: int) -> KeySource:
    if isinstance(source, FromScan) and source.scan == old:
        return FromScan(new, source.column)
    return source
