"""Pushdown: what ClickSend can do with one reference's conjuncts, each rated by an Exactness.

Every conjunct is applied again by DuckDB, so a pushed conjunct only has to make the
server return a *superset* of the rows DuckDB keeps. Shortcuts that skip DuckDB's filtering
(COUNT from `total`, LIMIT windows, order_by) need more: that the server's rows are exactly
the rows DuckDB would keep, i.e. every conjunct is EXACT.

- EXACT: path-key values (`list_id = 5`, `list_id IN (1, 2)`, `list_id = 1 OR list_id = 2`):
  the rows under `/lists/5/contacts` are exactly the contacts whose list_id is 5.
- SUPERSET: `q=field:value` (ClickSend's search is loose), ranges widened by a second
  (either reading of a bound's inclusiveness fetches a superset), filter parameters, ids
  used for a GET.
- NONE: everything else (DuckDB alone filters).

>>> import sqlglot
>>> from csql.catalog import default_catalog
>>> p = Pushdown(default_catalog().table("sms_history"))
>>> p.add(sqlglot.parse_one("status = 'Sent'", read="duckdb"))
<Exactness.SUPERSET: 'superset'>
>>> p.add(sqlglot.parse_one("status NOT LIKE 'S%'", read="duckdb"))
<Exactness.NONE: 'none'>
>>> p.q_params()
{'q': 'status:Sent'}
>>> c = Pushdown(default_catalog().table("contacts"))
>>> c.add(sqlglot.parse_one("list_id IN (5, 6)", read="duckdb")), c.keys
(<Exactness.EXACT: 'exact'>, {'list_id': [5, 6]})
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from csql.catalog import Column, Table
from csql.read.planner.literals import (
    NoValue,
    Truth,
    constant_truth,
    key_value,
    like_fragment,
    literal_value,
    q_text,
    unix_seconds,
)
from csql.read.planner.references import unparen

#: an OR of more q terms than this is not pushed (the URL would be long for little gain)
MAX_Q_TERMS = 50


class Exactness(enum.Enum):
    """How exactly the server applies one pushed conjunct."""

    EXACT = "exact"  # the server returns exactly the rows DuckDB keeps
    SUPERSET = "superset"  # the server returns more; DuckDB finishes
    NONE = "none"  # not pushed

    def __and__(self, other: Exactness) -> Exactness:
        order = (Exactness.NONE, Exactness.SUPERSET, Exactness.EXACT)
        return min(self, other, key=order.index)


def _negated(node: exp.Expression) -> bool:
    """True for a predicate that sqlglot marks as negated in place (x NOT LIKE 'a')."""
    return bool(node.args.get("negate"))


def _prune(node: exp.Expression) -> exp.Expression | bool:
    """An OR without its constant-false disjuncts; True when a disjunct is constant-true.

    Exact by boolean algebra (NULL OR TRUE is TRUE; FALSE and NULL disjuncts never make a
    row pass): `1 = 1 OR list_id = 5` filters nothing, `1 = 0 OR list_id = 5` is `list_id = 5`.
    """
    if not isinstance(node, exp.Or):
        return node
    kept = []
    for d in node.flatten():
        d = unparen(d)
        truth = constant_truth(d)
        if truth is Truth.TRUE:
            return True
        if truth is not Truth.FALSE:
            kept.append(d)
    if len(kept) == len(list(node.flatten())):
        return node
    if not kept:
        return exp.false()
    return kept[0] if len(kept) == 1 else exp.or_(*kept, copy=False)


def _fits_path(value: Any, col: Column) -> bool:
    try:
        col.path_value.segment(value)
    except ValueError:
        return False
    return True


@dataclass
class Pushdown:
    """What the conjuncts of one reference allow, conjunct by conjunct."""

    table: Table
    keys: dict[str, list[Any]] = field(default_factory=dict)  # path keys and primary keys
    q_and: list[tuple[str, str]] = field(default_factory=list)
    q_or: list[tuple[str, str]] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    pushed: list[str] = field(default_factory=list)
    results: list[Exactness] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        """Every conjunct so far is applied exactly by the server."""
        return all(r is Exactness.EXACT for r in self.results)

    def add(self, conj: exp.Expression) -> Exactness:
        node = _prune(unparen(conj))
        if node is True:
            self.results.append(Exactness.EXACT)  # always true: nothing to filter
            return Exactness.EXACT
        result = Exactness.NONE
        if not _negated(node):  # NOT LIKE / NOT ILIKE: sqlglot keeps them as Like(negate=True)
            for rule in (self._equality, self._in, self._or, self._range, self._like):
                found = rule(node)
                if found is not None:
                    result = found
                    break
        self.results.append(result)
        return result

    # each rule returns an Exactness when the node is its kind, None otherwise

    def _column(self, node: exp.Expression) -> Column | None:
        node = unparen(node)
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
                    return col, literal_value(unparen(right))
                except NoValue:
                    return None
        return None

    def _key(self, col: Column, values: list[Any]) -> bool:
        """Record key values (intersected with earlier ones); False if one is no key value.

        A value that is a key value for DuckDB but can never be one in a path (an integer
        beyond the key's range, `'..'`, an empty string) equals no row: it is dropped, so a
        key with no value left sends no request and finds no row, as DuckDB would.
        """
        try:
            typed = [key_value(v, col) for v in values if v is not None]
        except NoValue:
            return False
        vals = list(dict.fromkeys(v for v in typed if _fits_path(v, col)))
        current = self.keys.get(col.name)
        self.keys[col.name] = vals if current is None else [v for v in current if v in vals]
        self.pushed.append(f"{col.name} IN ({', '.join(map(repr, vals))})")
        return True

    def _equality(self, node: exp.Expression) -> Exactness | None:
        if not isinstance(node, exp.EQ):
            return None
        found = self._col_literal(node)
        if found is None:
            return Exactness.NONE
        col, value = found
        if col.path_key:
            return Exactness.EXACT if self._key(col, [value]) else Exactness.NONE
        result = Exactness.NONE
        if col.primary_key and self._key(col, [value]):
            result = Exactness.SUPERSET  # a GET by id, if the table has one
        if col.filter_param and value is not None and col.name not in self.params:
            try:
                self.params[col.filter_param] = key_value(value, col)
            except NoValue:
                return result
            self.pushed.append(f"{col.filter_param}={value}")
            return Exactness.SUPERSET
        if col.searchable:
            text = q_text(value, col)
            if text is not None:
                self.q_and.append((col.name, text))
                return Exactness.SUPERSET
        return result

    def _in(self, node: exp.Expression) -> Exactness | None:
        if not isinstance(node, exp.In):
            return None
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            return Exactness.NONE
        col = self._column(node.this)
        if col is None:
            return Exactness.NONE
        try:
            values = [literal_value(unparen(e)) for e in node.expressions]
        except NoValue:
            return Exactness.NONE
        if col.path_key:
            return Exactness.EXACT if self._key(col, values) else Exactness.NONE
        result = Exactness.NONE
        if col.primary_key and self._key(col, values):
            result = Exactness.SUPERSET
        if col.searchable and self.q_or is None:
            texts = [q_text(v, col) for v in values if v is not None]
            if texts and None not in texts and len(texts) <= MAX_Q_TERMS:
                self.q_or = [(col.name, t) for t in dict.fromkeys(texts)]  # type: ignore[misc]
                return Exactness.SUPERSET
        return result

    def _or(self, node: exp.Expression) -> Exactness | None:
        if not isinstance(node, exp.Or):
            return None
        disjuncts = [unparen(d) for d in node.flatten()]
        pairs = [self._col_literal(d) if isinstance(d, exp.EQ) else None for d in disjuncts]
        if all(p is not None for p in pairs):
            cols = {p[0].name for p in pairs}  # type: ignore[index]
            col = pairs[0][0]  # type: ignore[index]
            if len(cols) == 1 and col.path_key:
                ok = self._key(col, [p[1] for p in pairs])  # type: ignore[index]
                return Exactness.EXACT if ok else Exactness.NONE
        terms: list[tuple[str, str]] = []
        for d in disjuncts:
            term = self._q_term(d)
            if term is None:
                return Exactness.NONE
            terms.append(term)
        if self.q_or is not None or len(terms) > MAX_Q_TERMS:
            return Exactness.NONE
        self.q_or = list(dict.fromkeys(terms))
        return Exactness.SUPERSET

    def _q_term(self, node: exp.Expression) -> tuple[str, str] | None:
        if _negated(node):
            return None
        if isinstance(node, exp.EQ):
            found = self._col_literal(node)
            if found and found[0].searchable:
                text = q_text(found[1], found[0])
                return (found[0].name, text) if text is not None else None
        if isinstance(node, exp.Like | exp.ILike):
            col = self._column(node.this)
            if col is None or not col.searchable or col.type != "varchar":
                return None
            try:
                pattern = literal_value(unparen(node.expression))
            except NoValue:
                return None
            if isinstance(pattern, str):
                frag = like_fragment(pattern, case_insensitive=isinstance(node, exp.ILike))
                return (col.name, frag) if frag else None
        return None

    def _like(self, node: exp.Expression) -> Exactness | None:
        if isinstance(node, exp.Escape):
            return Exactness.NONE  # LIKE ... ESCAPE: the fragments would need unescaping
        if not isinstance(node, exp.Like | exp.ILike):
            return None
        term = self._q_term(node)
        if term is None:
            return Exactness.NONE
        self.q_and.append(term)
        return Exactness.SUPERSET

    def _range(self, node: exp.Expression) -> Exactness | None:
        if isinstance(node, exp.Between):
            col = self._column(node.this)
            if col is None or not col.range_filterable or node.args.get("symmetric"):
                return Exactness.NONE
            try:
                low = literal_value(unparen(node.args["low"]))
                high = literal_value(unparen(node.args["high"]))
            except NoValue:
                return Exactness.NONE
            ok_low = self._bound(col, ">=", low)
            ok_high = self._bound(col, "<=", high)
            return Exactness.SUPERSET if ok_low or ok_high else Exactness.NONE
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
            return Exactness.NONE
        try:
            value = literal_value(unparen(other))
        except NoValue:
            return Exactness.NONE
        return Exactness.SUPERSET if self._bound(col, op, value) else Exactness.NONE

    def _bound(self, col: Column, op: str, value: Any) -> bool:
        seconds = unix_seconds(value) if col.type == "timestamp" else None
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
        """`q` (and `operator=OR`) as sent: the AND terms if any, else one OR group."""
        if self.q_and:
            return {"q": ",".join(f"{c}:{v}" for c, v in self.q_and)}
        if self.q_or:
            out = {"q": ",".join(f"{c}:{v}" for c, v in self.q_or)}
            if len(self.q_or) > 1:
                out["operator"] = "OR"
            return out
        return {}
