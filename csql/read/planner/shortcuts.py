"""Shortcuts: answers that need fewer rows than the table holds, and when they are exact.

Every shortcut here changes what DuckDB sees, so each one runs only on a statement the
executor first binds in DuckDB (`Plan.check_sql` over empty views: an unknown column fails
before any request), and only when every clause it relies on is proven exact:

- **empty scans** (`empty_scopes`): a scope whose WHERE has a conjunct that folds to FALSE or
  NULL (`1 = 0`, `false`, `:flag` bound to false) keeps no row of its tables, and a query
  with `LIMIT 0` returns none: their scans send no request. Exact: the rows are discarded
  whatever they are.
- **COUNT(*) from `total`** (`count_rewrite`): `SELECT count(*) FROM t WHERE <exact>` reads one
  `limit=1` page per key combination and sums `total`. Exact when the statement reads one
  table, every WHERE conjunct is EXACT on the server (path keys, key subqueries, folded
  TRUE), and the projection is nothing but `count(*)` (no GROUP BY, HAVING, DISTINCT,
  window). ORDER BY is dropped (one row); LIMIT/OFFSET stay (they act on that one row).
  With `GROUP BY` path keys only (named, by output alias or ordinal, or `GROUP BY ALL` over
  outputs that are path keys), the totals of each key combination are the groups.
- **LIMIT windows** (`limit_window`): `SELECT cols FROM t [ORDER BY k] LIMIT n OFFSET m` fetches
  only the pages holding rows [m, m+n). Exact when every WHERE conjunct is EXACT, there is
  one key combination, no aggregate, DISTINCT, GROUP BY or window, LIMIT and OFFSET are
  plain non-negative integers (not PERCENT, not WITH TIES), and the order is either none or
  one ClickSend sorts exactly as DuckDB does (`order_param`).

>>> import sqlglot
>>> limit_of(sqlglot.parse_one("SELECT 1 FROM t LIMIT 50 PERCENT", read="duckdb"))
>>> limit_of(sqlglot.parse_one("SELECT 1 FROM t LIMIT 5 OFFSET 2", read="duckdb"))
(5, 2)
"""

from __future__ import annotations

from sqlglot import exp

from csql.catalog import Table
from csql.read.plan import MIN_PAGE_SIZE, PAGE_SIZE, Window
from csql.read.planner.literals import ORDERED_TYPES, NoValue, literal_value
from csql.read.planner.references import Ref, unparen


def limit_of(tree: exp.Expression) -> tuple[int, int] | None:
    """(LIMIT, OFFSET) when both are plain non-negative integers (OFFSET 0 if absent)."""
    limit = tree.args.get("limit")
    if not isinstance(limit, exp.Limit):
        return None
    options = limit.args.get("limit_options")
    if options is not None and (options.args.get("percent") or options.args.get("with_ties")):
        return None
    if limit.args.get("offset") is not None or limit.args.get("expressions"):
        return None
    offset = tree.args.get("offset")
    try:
        n = literal_value(limit.expression)
        m = literal_value(offset.expression) if offset is not None else 0
    except NoValue:
        return None
    if type(n) is not int or type(m) is not int or n < 0 or m < 0:
        return None
    return n, m


def limit_zero(node: exp.Expression) -> bool:
    """True for a query that returns no rows because of `LIMIT 0` (whatever its offset).

    Not `LIMIT 0 PERCENT`: DuckDB computes the whole input first (to know 0 % of how many
    rows), so an error in it is raised, and the answer must raise it too."""
    limit = node.args.get("limit")
    if not isinstance(limit, exp.Limit):
        return False
    options = limit.args.get("limit_options")
    if options is not None and (options.args.get("with_ties") or options.args.get("percent")):
        return False
    try:
        return literal_value(limit.expression) == 0 and type(literal_value(limit.expression)) is int
    except NoValue:
        return False


def has_aggregate(select: exp.Select) -> bool:
    """Any aggregate in the projection, HAVING or ORDER BY (a one-row result, not a window)."""
    parts = [*select.expressions, select.args.get("having"), select.args.get("order")]
    for part in parts:
        if part is None:
            continue
        for agg in part.find_all(exp.AggFunc):
            if not agg.find_ancestor(exp.Window, exp.Subquery):
                return True
    return False


def plain_shape(select: exp.Select) -> bool:
    """No clause that needs every row: GROUP BY, HAVING, DISTINCT, QUALIFY, windows, aggregates."""
    if any(select.args.get(k) for k in ("group", "having", "distinct", "qualify")):
        return False
    if select.find(exp.Window):
        return False
    return not has_aggregate(select)


def at_most_one_row(query: exp.Expression) -> bool:
    """True when a query cannot return two rows: an aggregate with no GROUP BY (exactly one
    row), or LIMIT 0/1.

    >>> import sqlglot
    >>> at_most_one_row(sqlglot.parse_one("SELECT min(x) FROM t")), at_most_one_row(sqlglot.parse_one("SELECT x FROM t"))
    (True, False)
    """
    if not isinstance(query, exp.Select):
        return False
    bounds = limit_of(query)
    if bounds is not None and bounds[0] <= 1:
        return True
    if query.args.get("group") or query.args.get("qualify") or query.find(exp.Window):
        return False
    return (
        bool(query.expressions)
        and all(
            any(
                not a.find_ancestor(exp.Subquery) or a.find_ancestor(exp.Subquery) is query.parent
                for a in e.find_all(exp.AggFunc)
            )
            for e in query.expressions
        )
        and not any(e.find(exp.Column) and not e.find(exp.AggFunc) for e in query.expressions)
    )


def is_count_star(node: exp.Expression) -> bool:
    """`count(*)` itself (not count(x), not count(DISTINCT ...), not count(*) FILTER ...)."""
    return (
        isinstance(node, exp.Count)
        and isinstance(node.this, exp.Star)
        and not node.args.get("distinct")
        and not isinstance(node.parent, exp.Filter)
    )


def group_columns(select: exp.Select, ref: Ref) -> list[str] | None:
    """The path-key columns of `ref` a GROUP BY names (by column, output alias or ordinal);
    None if a GROUP BY item is anything else."""
    group = select.args.get("group")
    if group is None:
        return []
    if group.args.get("rollup") or group.args.get("cube") or group.args.get("grouping_sets"):
        return None
    out: list[str] = []
    if group.args.get("all"):  # GROUP BY ALL: every output item without an aggregate
        items = [s.this if isinstance(s, exp.Alias) else s for s in select.expressions]
        for node in items:
            if node.find(exp.AggFunc):
                continue
            col = _column_of(node, ref)
            if col is None or not col.path_key:
                return None
            out.append(col.name)
        return list(dict.fromkeys(out))
    for item in group.expressions:
        col = _resolve_output(select, item, ref, alias_first=False)
        if col is None or not col.path_key:
            return None
        out.append(col.name)
    return list(dict.fromkeys(out))


def count_projection(select: exp.Select, ref: Ref, groups: list[str]) -> bool:
    """Every output column is `count(*)` or a grouped key column."""
    for sel in select.expressions:
        node = sel.this if isinstance(sel, exp.Alias) else sel
        if is_count_star(node):
            continue
        col = _column_of(node, ref)
        if col is None or col.name not in groups:
            return False
    having = select.args.get("having")
    for part in [having] if having is not None else []:
        for agg in part.find_all(exp.AggFunc):
            if not is_count_star(agg):
                return False
        for c in part.find_all(exp.Column):
            col = _column_of(c, ref)
            if (col is None or col.name not in groups) and not _is_output_alias(select, c):
                return False
    order = select.args.get("order")
    if order is not None and groups:
        for agg in order.find_all(exp.AggFunc):
            if not is_count_star(agg):
                return False
    return bool(select.expressions)


def _replace_count_star(select: exp.Select, value: exp.Expression) -> None:
    """Every count(*) of the projection, HAVING and ORDER BY becomes `value`; an unaliased
    one keeps DuckDB's name for it (`count_star()`)."""
    new_exprs = []
    for sel in select.expressions:
        node = sel.this if isinstance(sel, exp.Alias) else sel
        if is_count_star(node):
            name = sel.alias if isinstance(sel, exp.Alias) else "count_star()"
            new_exprs.append(exp.alias_(value.copy(), name, quoted=True))
        else:
            new_exprs.append(sel)
    select.set("expressions", new_exprs)
    for key in ("having", "order"):
        part = select.args.get(key)
        if part is not None:
            select.set(key, part.transform(lambda n: value.copy() if is_count_star(n) else n))


def count_rewrite(select: exp.Select, ref: Ref, table_name: str, groups: list[str]) -> None:
    """Rewrite in place: count(*) -> the totals of the count table (see the module docstring)."""
    total: exp.Expression = exp.column("total")
    if groups:
        total = exp.cast(exp.func("sum", exp.column("total")), "BIGINT")
    _replace_count_star(select, total)
    if not groups:
        select.set("order", None)  # one row: nothing to order
    source = exp.to_table(table_name).as_(ref.alias, quoted=True)
    select.set("from_", exp.From(this=source))
    where = exp.column("total").neq(0) if groups else None
    select.set("where", exp.Where(this=where) if where is not None else None)


def count_join_rewrite(
    select: exp.Select, ref: Ref, table_name: str, keys: tuple[str, ...]
) -> None:
    """Rewrite in place: `ref` reads its totals per key combination, count(*) sums them."""
    total = "__csql_total"
    rows = (
        exp.select(
            *[exp.column(k, quoted=True) for k in keys], exp.column("total").as_(total, quoted=True)
        )
        .from_(table_name)
        .where(exp.column("total").neq(0))
    )
    ref.node.replace(
        exp.Subquery(
            this=rows, alias=exp.TableAlias(this=exp.to_identifier(ref.alias, quoted=True))
        )
    )
    weight = exp.cast(
        exp.func(
            "sum", exp.column(total, table=exp.to_identifier(ref.alias, quoted=True), quoted=True)
        ),
        "BIGINT",
    )
    if not select.args.get("group"):
        weight = exp.func("coalesce", weight, exp.Literal.number(0))
    _replace_count_star(select, weight)


def order_param(select: exp.Select, ref: Ref) -> str | None:
    """`order_by=col:dir` when ClickSend orders rows exactly as DuckDB would.

    Exact for one sortable, non-null number or time column: strings may collate differently
    on the server and NULLs sort differently. The ORDER BY item is resolved as DuckDB does: an
    ordinal or an output alias first (`SELECT date AS list_id ... ORDER BY list_id` orders by
    date), then a column.
    """
    order = select.args.get("order")
    if order is None or len(order.expressions) != 1:
        return None
    ordered = order.expressions[0]
    col = _resolve_output(select, ordered.this, ref)
    if col is None or not col.sortable or col.type not in ORDERED_TYPES or col.nullable:
        return None
    desc = bool(ordered.args.get("desc"))
    return f"{col.name}:{'desc' if desc else 'asc'}"


def page_window(offset: int, count: int) -> Window:
    """The pages that hold rows [offset, offset + count): one page if a page size fits."""
    end = offset + count
    if end <= PAGE_SIZE:
        return Window(max(MIN_PAGE_SIZE, end), 1, 1, offset)
    first = offset // PAGE_SIZE + 1
    last = (end - 1) // PAGE_SIZE + 1
    return Window(PAGE_SIZE, first, last, offset - (first - 1) * PAGE_SIZE)


# -- resolving an ORDER BY / GROUP BY item --------------------------------------------------


def _column_of(node: exp.Expression, ref: Ref):
    node = unparen(node)
    if not isinstance(node, exp.Column):
        return None
    if node.table and node.table.lower() != ref.alias.lower():
        return None
    return ref.table.column(node.name)


def _is_output_alias(select: exp.Select, col: exp.Column) -> bool:
    return not col.table and any(
        isinstance(s, exp.Alias) and s.alias.lower() == col.name.lower() for s in select.expressions
    )


def _resolve_output(select: exp.Select, item: exp.Expression, ref: Ref, alias_first: bool = True):
    """The column of `ref` an ORDER BY / GROUP BY item means, or None if it is not one.

    DuckDB reads an unqualified name in ORDER BY as an output alias first, and in GROUP BY
    as a column first (`alias_first=False`)."""
    item = unparen(item)
    if isinstance(item, exp.Literal) and not item.is_string:
        try:
            position = int(item.this)
        except ValueError:
            return None
        if not 1 <= position <= len(select.expressions):
            return None
        target = select.expressions[position - 1]
        return _column_of(target.this if isinstance(target, exp.Alias) else target, ref)
    if not isinstance(item, exp.Column):
        return None
    if not item.table and (alias_first or ref.table.column(item.name) is None):
        aliased = [
            s for s in select.expressions
            if isinstance(s, exp.Alias) and s.alias.lower() == item.name.lower()
        ]  # fmt: skip
        if len(aliased) > 1:
            return None
        if aliased:  # an output alias wins over a column of the same name
            return _column_of(aliased[0].this, ref)
    return _column_of(item, ref)


def count_endpoint_ok(table: Table) -> bool:
    """Totals come with page/limit paging only."""
    return table.list_endpoint.paging == "page"
