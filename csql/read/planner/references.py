"""References: which ClickSend table each FROM/JOIN names, and which predicates may narrow it.

A predicate may narrow what is fetched for a reference only where removing the rows it
rejects cannot change the statement's answer. This pass decides that per join kind, so the
pushdown pass never has to think about joins:

============================  =========================================================
where the conjunct is         it narrows
============================  =========================================================
WHERE / inner ON / CROSS      the one reference it mentions; on a reference that an outer
                              join may null-extend, only null-rejecting ("strict")
                              conjuncts (`x = 5` rejects the null-extended row as the
                              fetched-away row would have been rejected)
LEFT JOIN t ON ...            t, by conjuncts on t only; conjuncts on the left side only
                              narrow the *keys* t is fetched for, never the left side
RIGHT JOIN t ON ...           the single left reference, mirrored; t never
FULL JOIN t ON ...            nothing
SEMI JOIN t ON ...            t, and the left side (a left row that fails has no match)
ANTI JOIN t ON ...            t only (a left row that fails is *kept*)
ASOF JOIN t ON ...            t by its key equalities only: a filter would change which
                              row is nearest; WHERE never narrows t
POSITIONAL JOIN               nothing in the whole scope: rows pair by position
a parenthesised join, LATERAL their own scopes; the ON is treated as WHERE would be
============================  =========================================================

Example: in ``lists l ANTI JOIN contacts c ON c.list_id = l.list_id AND l.list_id = 5``,
`l.list_id = 5` narrows nothing (the lists that fail it are exactly the ones kept), and
`c` is fetched only for the lists `l` holds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from csql.catalog import Catalog, Table


class JoinKind(enum.Enum):
    """How a join treats the reference it adds (see the module docstring)."""

    INNER = "inner"
    LEFT = "left"
    RIGHT = "right"
    FULL = "full"
    SEMI = "semi"
    ANTI = "anti"
    ASOF = "asof"
    ASOF_LEFT = "asof_left"
    POSITIONAL = "positional"


def join_kind(join: exp.Join) -> JoinKind:
    """The kind of one sqlglot Join node, as DuckDB evaluates it."""
    method = (join.args.get("method") or "").upper()
    side = (join.side or "").upper()
    kind = (join.kind or "").upper()
    if method == "POSITIONAL":
        return JoinKind.POSITIONAL
    if method == "ASOF":
        return JoinKind.ASOF_LEFT if side == "LEFT" else JoinKind.ASOF
    if kind == "SEMI":
        return JoinKind.SEMI
    if kind == "ANTI":
        return JoinKind.ANTI
    if side == "LEFT":
        return JoinKind.LEFT
    if side == "RIGHT":
        return JoinKind.RIGHT
    if side == "FULL":
        return JoinKind.FULL
    return JoinKind.INNER


@dataclass
class Ref:
    """One ClickSend table reference inside one scope."""

    node: exp.Table
    table: Table
    alias: str
    scope: Scope | None
    scan_id: int
    nullable: bool = False  # an outer join may null-extend it: only strict conjuncts narrow it
    frozen: bool = False  # nothing may narrow it (POSITIONAL, the right side of ASOF)
    conjuncts: list[exp.Expression] = field(default_factory=list)  # narrow its own scan
    # narrow only the keys this ref gets from another: (source ref, conjuncts on the source)
    key_filters: list[tuple[Ref, exp.Expression]] = field(default_factory=list)


@dataclass(frozen=True)
class KeyEquality:
    """`dependent.column = source.other_column`, in a place where it narrows `dependent`."""

    dependent: Ref
    column: str
    source: Ref
    source_column: str


@dataclass
class ScopeRefs:
    """The references of one scope and what the join analysis found."""

    scope: Scope | None
    refs: dict[str, Ref]
    equalities: list[KeyEquality] = field(default_factory=list)
    # WHERE conjuncts no reference took (column-free, several tables, subqueries)
    unassigned: list[exp.Expression] = field(default_factory=list)
    opaque: bool = False  # POSITIONAL: nothing in the scope is narrowed


def conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    """The AND-ed parts of a predicate (parentheses around the whole dropped)."""
    if node is None:
        return []
    node = unparen(node)
    return [unparen(c) for c in node.flatten()] if isinstance(node, exp.And) else [node]


def unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


_STRICT_NODES = (
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Like, exp.ILike,
    exp.Between, exp.Not, exp.Or, exp.And, exp.Paren, exp.Column, exp.Literal, exp.Neg,
    exp.Identifier, exp.Tuple, exp.Add, exp.Sub, exp.Mul, exp.Div,
)  # fmt: skip


def strict(node: exp.Expression) -> bool:
    """True when the predicate is NULL or FALSE whenever its columns are all NULL.

    Such a predicate rejects a null-extended row, so it may narrow the nullable side of an
    outer join. Conservative: only comparisons, IN, LIKE and BETWEEN over columns and
    literals, combined with AND/OR/NOT, each comparison mentioning a column (no IS NULL, no
    COALESCE, no CASE, no casts or functions).
    """
    if any(not isinstance(n, _STRICT_NODES) for n in node.walk()):
        return False
    node = unparen(node)
    if isinstance(node, exp.Not):
        return strict(node.this)
    if isinstance(node, exp.Or):
        return all(strict(unparen(d)) for d in node.flatten())
    if isinstance(node, exp.And):
        return any(strict(unparen(d)) for d in node.flatten())
    if isinstance(node, exp.Between):
        return node.this.find(exp.Column) is not None
    return node.find(exp.Column) is not None


class Resolver:
    """Which reference of a scope a column belongs to (None when it cannot be told)."""

    def __init__(self, scope: Scope | None, refs: dict[str, Ref]) -> None:
        self.refs = refs
        self.derived_columns: set[str] | None = set()
        sources = scope.selected_sources.values() if scope is not None else []
        for selected in sources:  # what FROM/JOIN name, not every CTE
            source = selected[1] if isinstance(selected, tuple) else selected
            if isinstance(source, Scope):
                expr = source.expression
                if isinstance(expr, exp.Query) and not expr.is_star:
                    self.derived_columns.update(n.lower() for n in expr.named_selects)  # type: ignore[union-attr]
                else:
                    self.derived_columns = None  # SELECT * somewhere: unqualified names are unknown
                    break
        # names a subquery, VALUES or table function in FROM provides: they shadow nothing
        # we can see, so an unqualified column is ours only when no such source exists
        self.other_sources = scope is not None and any(
            not isinstance(s[0] if isinstance(s, tuple) else s, exp.Table)
            or (s[0] if isinstance(s, tuple) else s).alias_or_name.lower() not in refs
            for s in scope.selected_sources.values()
            if not isinstance(s[1] if isinstance(s, tuple) else s, Scope)
        )

    def ref_of(self, col: exp.Column) -> Ref | None:
        if col.args.get("db") or col.args.get("catalog"):
            return None
        if col.table:
            ref = self.refs.get(col.table.lower())
            if ref is None or ref.table.column(col.name) is None:
                return None
            return ref
        owners = [r for r in self.refs.values() if r.table.column(col.name) is not None]
        if len(owners) != 1 or self.other_sources:
            return None
        if self.derived_columns is None or col.name.lower() in self.derived_columns:
            return None
        return owners[0]

    def only_ref(self, node: exp.Expression) -> Ref | None:
        """The single reference every column of `node` belongs to (None if several/unknown)."""
        if node.find(exp.Subquery, exp.Select, exp.Window, exp.AggFunc, exp.Placeholder):
            return None
        cols = list(node.find_all(exp.Column))
        if not cols:
            return None
        first = self.ref_of(cols[0])
        if first is None or any(self.ref_of(c) is not first for c in cols[1:]):
            return None
        return first

    def refs_in(self, node: exp.Expression) -> set[int] | None:
        """ids of the references `node` mentions; None if one of its columns is not placed."""
        out: set[int] = set()
        for c in node.find_all(exp.Column):
            ref = self.ref_of(c)
            if ref is None:
                return None
            out.add(id(ref))
        return out


def scope_refs(scope: Scope, catalog: Catalog, new_id) -> dict[str, Ref]:
    """The ClickSend tables a scope selects from, keyed by alias (lower case)."""
    refs: dict[str, Ref] = {}
    pairs = [(a, s[0] if isinstance(s, tuple) else s) for a, s in scope.selected_sources.items()]
    # sqlglot leaves SEMI/ANTI joined tables out of selected_sources (their columns are not
    # visible above the join), but they are read all the same
    seen = {id(node) for _, node in pairs}
    for join in scope.expression.args.get("joins") or []:
        if isinstance(join.this, exp.Table) and id(join.this) not in seen:
            pairs.append((join.this.alias_or_name, join.this))
    for alias, node in pairs:
        if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
            continue
        if node.args.get("db") or node.args.get("catalog"):
            continue
        table = catalog.table(node.name)
        if table is None or node.name != table.name or names_cte(node):
            continue  # metadata tables, DuckDB objects and CTEs
        refs[alias.lower()] = Ref(node, table, node.alias_or_name, scope, new_id())
    return refs


def analyze_scope(scope: Scope, refs: dict[str, Ref]) -> ScopeRefs:
    """Assign the scope's WHERE and ON conjuncts to the references they may narrow."""
    out = ScopeRefs(scope, refs)
    select = scope.expression
    if not isinstance(select, exp.Select):
        return out
    resolver = Resolver(scope, refs)
    by_node = {id(r.node): r for r in refs.values()}
    from_ = select.args.get("from_")
    left: list[Ref] = []  # references joined so far (the left operand of the next join)
    first = by_node.get(id(from_.this)) if from_ is not None else None
    if first is not None:
        left.append(first)
    where_like: list[exp.Expression] = []  # conjuncts that filter the joined rows
    joins = select.args.get("joins") or []
    every = conjuncts(select.args["where"].this if select.args.get("where") else None)
    for j in joins:
        every += conjuncts(j.args.get("on"))
    if any(join_kind(j) is JoinKind.POSITIONAL for j in joins) or (
        len(refs) > 1 and any(may_raise_on_rows(c, resolver) for c in every)
    ):
        out.opaque = True
        for r in refs.values():
            r.frozen = True
        return out
    for join in joins:
        kind = join_kind(join)
        target = by_node.get(id(join.this))
        on = conjuncts(join.args.get("on"))
        on += _using_equalities(join, target, left)
        _join(kind, target, left, on, resolver, out, where_like)
        if target is not None:
            left.append(target)
    where = select.args.get("where")
    where_like += conjuncts(where.this if where else None)
    for conj in where_like:
        _filter(conj, resolver, out)
    return out


#: comparisons whose operands DuckDB casts to one type
_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.NullSafeEQ, exp.NullSafeNEQ)
_TEXT_TYPES = ("varchar", "json")


def may_raise_on_rows(conj: exp.Expression, resolver: Resolver) -> bool:
    """Whether `conj` can fail on some rows and not others: a text column compared with a
    number (DuckDB casts the column, and `'ß'` is no INT32), or CAST of a text column.

    Which rows DuckDB evaluates it on decides whether the statement fails, so a scope with
    such a conjunct and several references is not narrowed at all: narrowing one reference
    by another's conjunct (contacts by the lists a WHERE on lists keeps) would evaluate it on
    fewer rows than "fetch everything, then run the SQL" does, and answer where that fails.
    A single-table scope keeps its narrowing: there the pages are narrowed by a conjunct of the
    same filter, which DuckDB (over all rows) evaluates before the cast in every generated
    case so far; that is an observation about DuckDB's filter order, not a guarantee.

    >>> import sqlglot
    >>> from csql.catalog import default_catalog
    >>> q = sqlglot.parse_one("SELECT 1 FROM contacts c WHERE c.first_name = 123", read="duckdb")
    >>> t = default_catalog().table("contacts")
    >>> refs = {"c": Ref(q.args["from_"].this, t, "c", None, 0)}
    >>> may_raise_on_rows(q.args["where"].this, Resolver(None, refs))
    True
    """
    for node in conj.walk():
        if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast):
            if _text_column(node.this, resolver) and not node.to.is_type(*exp.DataType.TEXT_TYPES):
                return True
            continue
        if isinstance(node, _COMPARISONS):
            sides = [node.this, node.expression]
        elif isinstance(node, exp.Between):
            sides = [node.this, node.args.get("low"), node.args.get("high")]
        elif isinstance(node, exp.In):
            sides = [node.this, *node.expressions]
        else:
            continue
        if any(_text_column(x, resolver) for x in sides) and any(_number(x) for x in sides):
            return True
    return False


def _text_column(node: exp.Expression | None, resolver: Resolver) -> bool:
    while isinstance(node, exp.Paren | exp.Collate):
        node = node.this
    if not isinstance(node, exp.Column):
        return False
    ref = resolver.ref_of(node)
    col = ref.table.column(node.name) if ref is not None else None
    return col is not None and col.type in _TEXT_TYPES


def _number(node: exp.Expression | None) -> bool:
    while isinstance(node, exp.Paren | exp.Neg):
        node = node.this
    return isinstance(node, exp.Literal) and not node.is_string


def _using_equalities(join: exp.Join, target: Ref | None, left: list[Ref]) -> list[exp.EQ]:
    """`USING (k)` as the equalities it means, between the joined table and the one on the
    left that has the column (when exactly one has it)."""
    out: list[exp.EQ] = []
    if target is None:
        return out
    for ident in join.args.get("using") or []:
        name = ident.name
        owners = [r for r in left if r.table.column(name) is not None]
        if target.table.column(name) is None or len(owners) != 1:
            continue
        out.append(
            exp.EQ(
                this=exp.column(name, table=exp.to_identifier(target.alias, quoted=True)),
                expression=exp.column(name, table=exp.to_identifier(owners[0].alias, quoted=True)),
            )
        )
    return out


def _join(kind: JoinKind, target: Ref | None, left: list[Ref], on: list[exp.Expression],
          resolver: Resolver, out: ScopeRefs, where_like: list[exp.Expression]) -> None:  # fmt: skip
    """Apply one join's rules (see the module docstring) to its ON conjuncts."""
    if target is None:  # a parenthesised join or LATERAL: its tables live in another scope
        if kind in (JoinKind.INNER, JoinKind.SEMI):
            where_like.extend(on)
        elif kind in (JoinKind.RIGHT, JoinKind.FULL):
            for r in left:
                r.nullable = True
        return
    if kind is JoinKind.INNER:
        where_like.extend(on)
        return
    if kind is JoinKind.FULL:
        for r in [*left, target]:
            r.nullable = True
        return
    left_ids = {id(r) for r in left}
    if kind is JoinKind.RIGHT:
        for r in left:
            r.nullable = True
        if len(left) == 1:  # mirrored LEFT JOIN: the single left reference is the nullable one
            _outer_on(left[0], [target], on, resolver, out)
        return
    if kind in (JoinKind.ASOF, JoinKind.ASOF_LEFT):
        target.frozen = True
        target.nullable = target.nullable or kind is JoinKind.ASOF_LEFT
        for conj in on:
            _equality(conj, target, left_ids, resolver, out)
        return
    if kind is JoinKind.LEFT:
        target.nullable = True
        _outer_on(target, left, on, resolver, out)
        return
    # SEMI / ANTI: the target is not in the output; its rows only decide which left rows stay
    for conj in on:
        refs = resolver.refs_in(conj)
        only = resolver.only_ref(conj)
        if only is target:
            target.conjuncts.append(conj)
        elif refs is not None and refs and refs <= left_ids:
            if kind is JoinKind.SEMI:
                where_like.append(conj)
            elif only is not None:
                target.key_filters.append((only, conj))
        else:
            _equality(conj, target, left_ids, resolver, out)
            if kind is JoinKind.SEMI:
                for source in left:
                    _equality(conj, source, {id(target)}, resolver, out)


def _outer_on(nullable: Ref, preserved: list[Ref], on: list[exp.Expression],
              resolver: Resolver, out: ScopeRefs) -> None:  # fmt: skip
    """ON of an outer join: narrows the null-extended side and the keys it is fetched for."""
    preserved_ids = {id(r) for r in preserved}
    for conj in on:
        only = resolver.only_ref(conj)
        if only is nullable:
            nullable.conjuncts.append(conj)
        elif only is not None and id(only) in preserved_ids:
            nullable.key_filters.append((only, conj))
        else:
            _equality(conj, nullable, preserved_ids, resolver, out)


def _equality(conj: exp.Expression, dependent: Ref, sources: set[int], resolver: Resolver,
              out: ScopeRefs) -> None:  # fmt: skip
    """Record `dependent.k = source.c` (a source among `sources`) as a key equality."""
    node = unparen(conj)
    if not isinstance(node, exp.EQ):
        return
    a, b = unparen(node.this), unparen(node.expression)
    if not (isinstance(a, exp.Column) and isinstance(b, exp.Column)):
        return
    for mine, theirs in ((a, b), (b, a)):
        if resolver.ref_of(mine) is not dependent:
            continue
        source = resolver.ref_of(theirs)
        if source is None or source is dependent or id(source) not in sources:
            continue
        col = dependent.table.column(mine.name)
        other = source.table.column(theirs.name)
        if col is not None and other is not None:
            out.equalities.append(KeyEquality(dependent, col.name, source, other.name))


def _filter(conj: exp.Expression, resolver: Resolver, out: ScopeRefs) -> None:
    """A conjunct that filters the scope's joined rows (WHERE, inner ON)."""
    ref = resolver.only_ref(conj)
    if ref is None:
        out.unassigned.append(conj)
        every = {id(r): r for r in out.refs.values()}
        refs = resolver.refs_in(conj)
        if refs and len(refs) == 2:  # a join equality between two references
            a, b = (every[i] for i in refs)
            for dependent, source in ((a, b), (b, a)):
                if not dependent.frozen and (not dependent.nullable or strict(conj)):
                    _equality(conj, dependent, {id(source)}, resolver, out)
        return
    if ref.frozen or (ref.nullable and not strict(conj)):
        out.unassigned.append(conj)
        return
    ref.conjuncts.append(conj)


def names_cte(node: exp.Table) -> bool:
    """True when `node` names a CTE visible where it stands (WITH lists AS (...) ... lists).

    As DuckDB resolves names: a CTE is visible in the query it belongs to and in the CTEs
    after it, but not in its own body (there, `lists` is the table), unless WITH RECURSIVE.

    >>> import sqlglot
    >>> tree = sqlglot.parse_one("WITH lists AS (SELECT * FROM lists) SELECT * FROM lists")
    >>> [names_cte(t) for t in tree.find_all(exp.Table)]
    [True, False]
    """
    if node.args.get("db") or node.args.get("catalog"):
        return False
    name = node.name.lower()
    child: exp.Expression = node
    via: exp.CTE | None = None  # the CTE whose body we are climbing out of
    while child.parent is not None:
        parent = child.parent
        if isinstance(child, exp.CTE):
            via = child
        with_ = parent.args.get("with_") if isinstance(parent, exp.Query) else None
        if isinstance(with_, exp.With):
            ctes = list(with_.expressions)
            visible = ctes
            if child is with_ and via in ctes and not with_.args.get("recursive"):
                visible = ctes[: ctes.index(via)]
            if any(c.alias_or_name.lower() == name for c in visible):
                return True
        child = parent
    return False
