"""SQL -> Plan: for every ClickSend table reference, a Scan with what the API can do. Pure.

The statement is handed to DuckDB unchanged except for table names (each reference reads
its own scan's view), so every predicate is applied again: pushdown may only narrow what is
fetched, never decide the answer. The planner runs small passes, each in its own module
with the rule that makes it exact:

1. references (`references.py`): the ClickSend tables of every scope, and which WHERE/ON
   conjuncts may narrow each one, by join kind;
2. literals (`literals.py`): constants read as key values, q text, folded truth values;
3. empty scans (`shortcuts.empty_scopes` rule): WHERE false, LIMIT 0 -> no request;
4. pushdown (`pushdown.py`): per conjunct, path keys / q / ranges, rated EXACT, SUPERSET
   or NONE;
5. graph (`graph.py`): keys from joins, subqueries and parent fan-outs; scans that one
   fetch serves are merged;
6. shortcuts (`shortcuts.py`): COUNT(*) and grouped counts from `total`, LIMIT windows and
   order_by, only when every clause they rely on is EXACT; the executor binds
   `Plan.check_sql` in DuckDB before any request, so a shortcut never hides an error.

>>> import sqlglot
>>> from csql.catalog import default_catalog
>>> tree = sqlglot.parse_one("SELECT count(*) FROM lists WHERE 1 = 0", read="duckdb")
>>> [s.mode.value for s in plan_query(tree, default_catalog()).scans]
['empty']
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from csql.catalog import Catalog, Column
from csql.errors import ProgrammingError
from csql.read.plan import (
    FromQuery,
    FromScan,
    KeySource,
    Plan,
    Scan,
    ScanMode,
    Values,
    count_table,
    view_name,
)
from csql.read.planner import graph, omitted, shortcuts
from csql.read.planner.literals import Truth, constant_truth
from csql.read.planner.pushdown import Exactness, Pushdown
from csql.read.planner.references import (
    JoinKind,
    KeyEquality,
    Ref,
    ScopeRefs,
    analyze_scope,
    conjuncts,
    join_kind,
    names_cte,
    scope_refs,
    unparen,
)

MAX_GETS = 20  # above this many key combinations, listing beats one GET per key
#: above this many key values written in the query, the parent table is listed once and its
#: rows filtered instead of one request stream per value (`list_id IN (<10,000 ids>)`)
MAX_KEY_VALUES = 50
#: the most request streams one scan may open from values written in the query
MAX_STREAMS = 1000

__all__ = ["MAX_GETS", "MAX_KEY_VALUES", "Exactness", "Planner", "plan_query"]


def _page_window(offset: int, count: int):  # kept for callers of the old module
    return shortcuts.page_window(offset, count)


class Planner:
    """Plans one bound query. Create one per statement."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.scans: dict[int, Scan] = {}
        self.next_id = 1
        self.scopes: list[ScopeRefs] = []
        self.refs: list[Ref] = []
        self.pushdowns: dict[int, Pushdown] = {}
        self.exact_keys: dict[int, bool] = {}  # scan id -> its key sources are exact
        # (scan id, column) -> the uncorrelated subquery that gives a path key its values
        self.subquery_keys: dict[tuple[int, str], exp.Subquery] = {}
        self.key_conjuncts: dict[int, list[exp.Expression]] = {}  # scan id -> IN (subquery)
        self.pending: list[tuple[int, str, exp.Subquery]] = []
        self.empty: set[int] = set()  # scan ids whose rows no answer can use
        self.tree: exp.Expression | None = None

    def new_id(self) -> int:
        i = self.next_id
        self.next_id += 1
        return i

    # -- the passes, in order ------------------------------------------------------------------

    def plan(self, tree: exp.Expression) -> Plan:
        tree = tree.copy()
        self.tree = tree
        scopes = traverse_scope(tree)
        self._references(tree, scopes)
        self._empty_scans(tree)
        for sr in self.scopes:
            self._key_subqueries(sr)
        for ref in self.refs:
            self._plan_ref(ref)
        for ref in self.refs:  # columns only the get endpoint has (catalog list_omits)
            omitted.get_each(self, ref)
        root = next((sr for sr in self.scopes if sr.scope is not None
                     and sr.scope.expression is tree), None)  # fmt: skip
        shortcut = self._shortcut(tree, root)
        for ref in self.refs:  # each reference reads its scan's view
            ref.node.set("this", exp.to_identifier(self.scans[ref.scan_id].view))
            ref.node.set("alias", exp.TableAlias(this=exp.to_identifier(ref.alias, quoted=True)))
        self._resolve_subquery_keys(tree)
        self._share_scans(tree)
        check_sql = tree.sql(dialect="duckdb")
        count_scan, count_keys = None, ()
        if shortcut is not None:
            count_scan, count_keys = shortcut(tree)
        return Plan(
            scans=graph.topological(self.scans),
            sql=tree.sql(dialect="duckdb"),
            count_scan=count_scan,
            check_sql=check_sql,
            count_keys=count_keys,
        )

    # 1. references -----------------------------------------------------------------------------

    def _references(self, tree: exp.Expression, scopes: list[Scope]) -> None:
        for scope in scopes:
            refs = scope_refs(scope, self.catalog, self.new_id)
            if refs:
                self.scopes.append(analyze_scope(scope, refs))
        self.refs = [r for sr in self.scopes for r in sr.refs.values()]
        # tables in places scopes do not reach (a subquery inside VALUES): plain full scans
        seen = {id(r.node) for r in self.refs}
        for node in list(tree.find_all(exp.Table)):
            if id(node) in seen or not isinstance(node.this, exp.Identifier):
                continue
            if node.args.get("db") or node.args.get("catalog"):
                continue
            table = self.catalog.table(node.name)
            if table is None or node.name != table.name or names_cte(node):
                continue
            ref = Ref(node, table, node.alias_or_name, None, self.new_id(), frozen=True)
            self.refs.append(ref)
            self.scopes.append(ScopeRefs(None, {ref.alias.lower(): ref}, opaque=True))

    # 3. empty scans ------------------------------------------------------------------------------

    def _empty_scans(self, tree: exp.Expression) -> None:
        """Scans whose rows cannot reach the answer (see shortcuts' module docstring)."""
        for sr in self.scopes:
            if sr.scope is None:
                continue
            where = sr.scope.expression.args.get("where")
            if any(
                constant_truth(c) is Truth.FALSE for c in conjuncts(where.this if where else None)
            ):
                self.empty.update(r.scan_id for r in sr.refs.values())
        for node in tree.find_all(exp.Select, exp.SetOperation):
            if shortcuts.limit_zero(node):
                inside = {id(t) for t in node.find_all(exp.Table)}
                self.empty.update(r.scan_id for r in self.refs if id(r.node) in inside)

    # 4. pushdown, per reference -------------------------------------------------------------

    def _plan_ref(self, ref: Ref) -> None:
        push = Pushdown(ref.table)
        if not ref.frozen:
            for conj in ref.conjuncts:
                push.add(conj)
        self.pushdowns[ref.scan_id] = push
        table = ref.table
        if ref.scan_id in self.empty:
            self.scans[ref.scan_id] = Scan(ref.scan_id, table, view_name(ref.scan_id, table.name),
                                           mode=ScanMode.EMPTY)  # fmt: skip
            self.exact_keys[ref.scan_id] = True
            return
        keys: dict[str, KeySource] = {}
        pk_values: dict[str, list[Any]] = {}
        for name, vals in push.keys.items():
            col = table.column(name)
            if col is not None and col.path_key:
                keys[name] = Values(tuple(vals))
            else:
                pk_values[name] = vals
        mode = ScanMode.LIST
        get = table.endpoints.get("get")
        if get is not None and pk_values:
            needed = set(get.placeholders)
            fixed = {**{k: list(v.values) for k, v in keys.items() if isinstance(v, Values)},
                     **pk_values}  # fmt: skip
            combos = math.prod(len(fixed[n]) for n in needed) if needed <= set(fixed) else 0
            if needed and needed <= set(fixed) and combos <= MAX_GETS:
                mode = ScanMode.GET
                keys = {n: Values(tuple(fixed[n])) for n in needed}
        exact_keys = True
        if mode is ScanMode.LIST:
            exact_keys = self._list_keys(ref, keys)
        self.exact_keys[ref.scan_id] = exact_keys
        params = {} if mode is ScanMode.GET else {
            **push.q_params(), **{k: str(v) for k, v in push.params.items()}}  # fmt: skip
        pushed = tuple(push.pushed)
        if mode is ScanMode.LIST:
            pushed += tuple(f"{k}={v}" for k, v in push.q_params().items())
        self.scans[ref.scan_id] = Scan(
            id=ref.scan_id,
            table=table,
            view=view_name(ref.scan_id, table.name),
            mode=mode,
            keys=keys,
            params=params,
            pushed=pushed,
        )

    def _list_keys(self, ref: Ref, keys: dict[str, KeySource]) -> bool:
        """Fill every path key of a listed reference; True when the keys are exact (the
        server returns precisely the rows with those key values)."""
        exact = True
        equalities = self._equalities_of(ref)
        for col in ref.table.path_keys:
            if col.name in keys:
                values = keys[col.name]
                if isinstance(values, Values) and len(values.values) > MAX_KEY_VALUES:
                    keys[col.name] = self._bounded(ref, col, values)
                continue
            eq = equalities.get(col.name)
            if eq is not None and ref.scan_id not in graph.ancestors(self.scans, eq.source.scan_id):
                keys[col.name] = FromScan(eq.source.scan_id, eq.source_column,
                                          self._key_filter(eq), eq.source.alias)  # fmt: skip
                exact = False
                continue
            sub = self.subquery_keys.get((ref.scan_id, col.name))
            scans = self._subquery_scans(sub) if sub is not None else None
            if (
                scans is not None
                and ref.scan_id not in scans
                and not any(ref.scan_id in graph.ancestors(self.scans, s) for s in scans)
            ):
                keys[col.name] = FromQuery("", scans)  # SQL written once views are named
                self.pending.append((ref.scan_id, col.name, sub))
                continue
            keys[col.name] = self._fanout(ref, col)
        return exact

    def _bounded(self, ref: Ref, col: Column, values: Values) -> KeySource:
        """Many key values: list the parent once and keep its rows with those values."""
        if col.fanout is None:
            if len(values.values) > MAX_STREAMS:
                raise ProgrammingError(
                    f"{ref.table.name}.{col.name}: {len(values.values)} values would need as many "
                    f"requests (at most {MAX_STREAMS}); narrow the IN list"
                )
            return values
        source = self._fanout(ref, col)
        assert isinstance(source, FromScan)
        literals = ", ".join(exp.convert(v).sql(dialect="duckdb") for v in values.values)
        column = exp.to_identifier(source.column, quoted=True).sql(dialect="duckdb")
        return replace(source, filter_sql=f"{column} IN ({literals})")

    def _equalities_of(self, ref: Ref) -> dict[str, KeyEquality]:
        out: dict[str, KeyEquality] = {}
        for sr in self.scopes:
            for eq in sr.equalities:
                col = ref.table.column(eq.column)
                if eq.dependent is ref and col is not None and col.path_key:
                    out.setdefault(col.name, eq)
        return out

    @staticmethod
    def _key_filter(eq: KeyEquality) -> str | None:
        """The source's own conjuncts, and the ON conjuncts on it that only decide which of the
        dependent's rows can match: DuckDB keeps the source's key values that pass them."""
        parts = [*eq.source.conjuncts]
        parts += [c for src, c in eq.dependent.key_filters if src is eq.source]
        if not parts:
            return None
        return " AND ".join(f"({c.sql(dialect='duckdb')})" for c in parts)

    def _fanout(self, ref: Ref | None, col: Column) -> KeySource:
        """Key values for a path key that nothing fixes: every row of the parent table."""
        if col.fanout is None:
            table = ref.table if ref else None
            example = col.example if col.example is not None else 1
            lit = f"'{example}'" if isinstance(example, str) else str(example)
            name = table.name if table else ""
            raise ProgrammingError(
                f"{name}.{col.name} is required: ClickSend's "
                f"{table.list_endpoint.path if table else ''} needs it and it cannot be fanned "
                f"out; add it to WHERE, e.g. SELECT * FROM {name} WHERE {col.name} = {lit}"
            )
        parent_name, _, parent_col = col.fanout.partition(".")
        parent = self.catalog.table(parent_name)
        assert parent is not None  # the catalog validated it
        pid = self.new_id()
        pkeys = {c.name: self._fanout(None, c) for c in parent.path_keys}
        self.scans[pid] = Scan(pid, parent, view_name(pid, parent.name), keys=pkeys, hidden=True)
        self.exact_keys[pid] = True
        return FromScan(pid, parent_col)

    # 5. graph: keys from subqueries ----------------------------------------------------------

    def _key_subqueries(self, sr: ScopeRefs) -> None:
        """`key IN (SELECT ...)` with an uncorrelated subquery gives a path key its values."""
        if sr.scope is None or sr.opaque:
            return
        from csql.read.planner.references import Resolver

        resolver = Resolver(sr.scope, sr.refs)
        for conj in sr.unassigned:
            node = unparen(conj)
            exact = True
            if isinstance(node, exp.In) and isinstance(node.args.get("query"), exp.Subquery):
                sub, col = node.args["query"], unparen(node.this)
            elif isinstance(node, exp.EQ) and isinstance(node.expression, exp.Subquery):
                # `= (SELECT ...)`: DuckDB fails when it returns several rows, which a sum of
                # totals would hide, so it is exact only when it cannot return several
                sub, col = node.expression, unparen(node.this)
                exact = shortcuts.at_most_one_row(sub.this)
            elif isinstance(node, exp.EQ) and isinstance(node.this, exp.Subquery):
                sub, col = node.this, unparen(node.expression)
                exact = shortcuts.at_most_one_row(sub.this)
            else:
                continue
            if not isinstance(col, exp.Column) or not self._uncorrelated(sub):
                continue
            ref = resolver.ref_of(col)
            if ref is None or ref.frozen:
                continue
            column = ref.table.column(col.name)
            if column is not None and column.path_key:
                self.subquery_keys.setdefault((ref.scan_id, column.name), sub)
                if exact:
                    self.key_conjuncts.setdefault(ref.scan_id, []).append(conj)

    def _uncorrelated(self, sub: exp.Subquery) -> bool:
        """True when every column of the subquery belongs to a table inside it.

        (sqlglot's scopes cannot tell without a schema, so the catalog is the schema here;
        a column we cannot place makes the subquery count as correlated: no pushdown.)
        """
        ctes = (
            {c.alias_or_name.lower(): c for c in self.tree.find_all(exp.CTE)} if self.tree else {}
        )
        aliases, columns, anything = set(), set(), False
        for t in sub.find_all(exp.Table):
            aliases.add(t.alias_or_name.lower())
            table = self.catalog.table(t.name)
            if table is not None and t.name == table.name and not names_cte(t):
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
        """Scans a subquery reads (CTEs it names included)."""
        tables = {id(t) for t in sub.find_all(exp.Table)}
        names = {t.name.lower() for t in sub.find_all(exp.Table)}
        for cte in self.tree.find_all(exp.CTE) if self.tree is not None else []:
            if cte.alias_or_name.lower() in names:
                tables |= {id(t) for t in cte.find_all(exp.Table)}
        return tuple(r.scan_id for r in self.refs if id(r.node) in tables)

    def _resolve_subquery_keys(self, tree: exp.Expression) -> None:
        """Now that table names point at views, write the SQL of subquery-derived keys."""
        with_ = tree.args.get("with_")
        for scan_id, column, sub in self.pending:
            scan = self.scans.get(scan_id)
            if scan is None or not isinstance(scan.keys.get(column), FromQuery):
                continue
            inner = exp.Subquery(this=sub.this.copy(), alias=exp.TableAlias(
                this=exp.to_identifier("__k"), columns=[exp.to_identifier("__v")]))  # fmt: skip
            query = exp.select("__v").distinct().from_(inner).where(
                exp.column("__v").is_(exp.null()).not_())  # fmt: skip
            if with_ is not None:
                query.set("with_", with_.copy())
            old = scan.keys[column]
            keys = {**scan.keys, column: FromQuery(query.sql(dialect="duckdb"), old.scans)}
            self.scans[scan_id] = replace(scan, keys=keys)

    def _share_scans(self, tree: exp.Expression) -> None:
        """One fetch per distinct scan (graph.merge); references read the surviving view."""
        views = {r.scan_id: self.scans[r.scan_id].view for r in self.refs}
        served = graph.merge(self.scans, views)
        if not served:
            return
        for ref in self.refs:
            if ref.scan_id in served:
                ref.node.set("this", exp.to_identifier(views[ref.scan_id]))
                ref.scan_id = served[ref.scan_id]

    # 6. shortcuts --------------------------------------------------------------------------------

    def _shortcut(self, tree: exp.Expression, root: ScopeRefs | None):
        """The single-table shortcuts (see shortcuts.py); returns the rewrite to apply once
        the views are named, or None."""
        ref = self._single_exact_table(tree, root)
        if ref is None:
            return self._count_over_join(tree, root)
        scan = self.scans[ref.scan_id]
        select: exp.Select = tree  # type: ignore[assignment]
        if scan.mode is ScanMode.EMPTY:
            return None
        exact = self._all_exact(ref, root)
        if exact and scan.mode is ScanMode.LIST and shortcuts.count_endpoint_ok(ref.table):
            groups = shortcuts.group_columns(select, ref)
            counting = (
                groups is not None
                and not any(select.args.get(k) for k in ("distinct", "qualify"))
                and not select.find(exp.Window)
                and (groups or not select.args.get("having"))
                and shortcuts.count_projection(select, ref, groups)
                and (not groups or all(self._group_key_ok(scan, g) for g in groups))
            )
            if counting:
                self.scans[ref.scan_id] = replace(scan, mode=ScanMode.COUNT)

                def rewrite(t: exp.Expression, ref=ref, groups=groups):
                    shortcuts.count_rewrite(t, ref, count_table(ref.scan_id), groups)
                    return ref.scan_id, tuple(groups)

                return rewrite
        self._window(select, ref, exact)
        return None

    def _count_over_join(self, tree: exp.Expression, root: ScopeRefs | None):
        """count(*) over a join whose fan-out table is seen only through its path keys.

        `SELECT l.list_name, count(*) FROM contacts c JOIN lists l USING (list_id) GROUP BY 1`
        reads lists, then one `limit=1` request per list: c becomes the table of totals per
        key combination, and count(*) the sum of the totals of the joined rows. Exact when
        every column of c the statement names is a path key (so every contact of one list
        joins exactly as its list's row of totals does), c's own conjuncts are EXACT, every
        join is inner, count(*) is the only aggregate, and there is no DISTINCT, window,
        star, NATURAL join, CTE or subquery (other than c's key subqueries).
        """
        if not isinstance(tree, exp.Select) or root is None or root.scope is None or root.opaque:
            return None
        if any(tree.args.get(k) for k in ("with_", "distinct", "qualify")) or tree.find(exp.Window):
            return None
        aggregates = list(tree.find_all(exp.AggFunc))
        if not aggregates or not all(shortcuts.is_count_star(a) for a in aggregates):
            return None
        stars = [s for s in tree.find_all(exp.Star) if not isinstance(s.parent, exp.Count)]
        if stars or any(j.args.get("method") for j in tree.args.get("joins") or []):
            return None
        if not all(join_kind(j) is JoinKind.INNER for j in tree.args.get("joins") or []):
            return None
        from csql.read.planner.references import Resolver

        resolver = Resolver(root.scope, root.refs)
        for ref in root.refs.values():
            if self._countable(tree, ref, root, resolver):
                scan = self.scans[ref.scan_id]
                self.scans[ref.scan_id] = replace(scan, mode=ScanMode.COUNT)
                keys = tuple(scan.keys)

                def rewrite(t: exp.Expression, ref=ref, keys=keys):
                    shortcuts.count_join_rewrite(t, ref, count_table(ref.scan_id), keys)
                    return ref.scan_id, keys

                return rewrite
        return None

    def _countable(self, tree: exp.Expression, ref: Ref, root: ScopeRefs, resolver) -> bool:
        scan = self.scans[ref.scan_id]
        if scan.mode is not ScanMode.LIST or not scan.keys or ref.nullable or ref.frozen:
            return False
        if not shortcuts.count_endpoint_ok(ref.table) or scan.params or scan.hidden:
            return False
        if not self.pushdowns[ref.scan_id].exact:
            return False
        if any(ref.scan_id in s.depends_on for s in self.scans.values()):
            return False  # its rows give another scan its keys: they must be fetched
        allowed = [sub for sid, _, sub in self.pending if sid == ref.scan_id]
        inside = {id(n) for sub in allowed for n in sub.walk()}
        if any(id(sq) not in inside for sq in tree.find_all(exp.Subquery)):
            return False
        for join in tree.args.get("joins") or []:  # USING (k) compares k of both sides
            for ident in join.args.get("using") or []:
                named = ref.table.column(ident.name)
                if named is not None and not named.path_key:
                    return False
        for col in tree.find_all(exp.Column):
            if id(col) in inside:
                continue
            owner = resolver.ref_of(col)
            named = ref.table.column(col.name)
            mine = owner is ref or (
                owner is None
                and named is not None
                and (not col.table or col.table.lower() == ref.alias.lower())
            )
            if mine and (named is None or not named.path_key):
                return False
        return True

    @staticmethod
    def _group_key_ok(scan: Scan, column: str) -> bool:
        return column in scan.keys

    def _single_exact_table(self, tree: exp.Expression, root: ScopeRefs | None) -> Ref | None:
        """The reference of a query that reads one ClickSend table (and key subqueries)."""
        if not isinstance(tree, exp.Select) or root is None or root.scope is None:
            return None
        if len(root.refs) != 1 or len(root.scope.sources) != 1 or tree.args.get("joins"):
            return None
        if tree.args.get("with_"):
            return None
        ref = next(iter(root.refs.values()))
        allowed = [sub for sid, _, sub in self.pending if sid == ref.scan_id]
        inside = {id(n) for sub in allowed for n in sub.walk()}
        if any(id(sq) not in inside for sq in tree.find_all(exp.Subquery)):
            return None
        if not all(r is ref or id(r.node) in inside for r in self.refs):
            return None
        return ref

    def _all_exact(self, ref: Ref, root: ScopeRefs) -> bool:
        """Every WHERE conjunct of the query is applied exactly by the server."""
        if not self.pushdowns[ref.scan_id].exact or not self.exact_keys.get(ref.scan_id, False):
            return False
        keyed = {id(c) for c in self.key_conjuncts.get(ref.scan_id, [])}
        for conj in root.unassigned:
            if id(conj) in keyed:
                continue
            if constant_truth(conj) is not Truth.TRUE:
                return False
        return True

    def _window(self, select: exp.Select, ref: Ref, exact: bool) -> None:
        """LIMIT/OFFSET: fetch only the pages that hold the wanted rows, or stream."""
        scan = self.scans[ref.scan_id]
        if select.args.get("limit") is None or scan.mode is not ScanMode.LIST:
            return
        if not shortcuts.plain_shape(select):
            return  # DuckDB needs every row (aggregates, DISTINCT, GROUP BY, windows)
        bounds = shortcuts.limit_of(select)
        order = select.args.get("order")
        order_param = shortcuts.order_param(select, ref) if order is not None else None
        single = all(isinstance(k, Values) and len(k.values) == 1 for k in scan.keys.values())
        paging = ref.table.list_endpoint.paging
        if (bounds is not None and exact and single and paging == "page" and bounds[0] > 0
                and (order is None or order_param is not None)):  # fmt: skip
            n, m = bounds
            params = dict(scan.params)
            if order_param:
                params["order_by"] = order_param
            window = shortcuts.page_window(m, n)
            self.scans[ref.scan_id] = replace(scan, window=window, params=params)
            if window.skip_in_first:
                select.set(
                    "offset", exp.Offset(expression=exp.Literal.number(window.skip_in_first))
                )
            else:
                select.set("offset", None)
        elif order is None:
            self.scans[ref.scan_id] = replace(scan, stream=True)


def plan_query(tree: exp.Expression, catalog: Catalog) -> Plan:
    """Plan a bound query (table names already canonical): scans + DuckDB SQL. No I/O."""
    try:
        return Planner(catalog).plan(tree)
    except RecursionError:
        raise ProgrammingError(
            "statement nested too deeply to plan; simplify it (fewer nested subqueries)"
        ) from None
