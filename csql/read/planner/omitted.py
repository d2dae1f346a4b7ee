"""Columns a list endpoint does not return: list the keys, then GET each row (pure).

ClickSend's list endpoints leave some fields out (GET /email/templates has no `body`: the
catalog says so with `list_omits`). A query that reads such a column must get every row by its
key, as a client of ClickSend would have to: the reference's scan becomes a hidden list scan
(same pushdown, it finds the keys) and a GET scan keyed by it, which reads the same view.
Conservative by design: any mention of an omitted column's name, or `*`, in the reference's
scope counts as reading it, since a needless GET costs requests but never changes the answer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlglot import exp

from csql.read.plan import FromScan, Scan, ScanMode, view_name
from csql.read.planner.references import Ref

if TYPE_CHECKING:
    from csql.read.planner import Planner


def reads_omitted(ref: Ref, tree: exp.Expression) -> bool:
    """Whether the statement may read a column that the ref's list endpoint omits."""
    omitted = {c.lower() for c in ref.table.list_omits}
    if not omitted:
        return False
    where = ref.scope.expression if ref.scope is not None else tree
    alias = ref.alias.lower()
    for node in where.find_all(exp.Column, exp.Star):
        if isinstance(node, exp.Star):
            if isinstance(node.parent, exp.Count):  # count(*) reads no column
                continue
            return True
        if isinstance(node.this, exp.Star):
            if not node.table or node.table.lower() == alias:
                return True
            continue
        if node.name.lower() in omitted and (not node.table or node.table.lower() == alias):
            return True
    # an outer scope may read the column through this one (SELECT * FROM (SELECT ...))
    return any(not isinstance(s.parent, exp.Count) for s in tree.find_all(exp.Star))


def get_each(planner: Planner, ref: Ref) -> None:
    """Turn the ref's list scan into list-the-keys + GET-each when it reads omitted columns."""
    scan = planner.scans.get(ref.scan_id)
    table = ref.table
    get = table.endpoints.get("get")
    if (
        scan is None or scan.mode is not ScanMode.LIST or scan.hidden or get is None
        or table.path_keys or not reads_omitted(ref, planner.tree)
    ):  # fmt: skip
        return
    hidden_id = planner.new_id()
    planner.scans[hidden_id] = replace(
        scan, id=hidden_id, view=view_name(hidden_id, table.name), hidden=True
    )
    planner.exact_keys[hidden_id] = planner.exact_keys.get(ref.scan_id, True)
    keys = {name: FromScan(hidden_id, name) for name in get.placeholders}
    planner.scans[ref.scan_id] = Scan(
        id=scan.id,
        table=table,
        view=scan.view,
        mode=ScanMode.GET,
        keys=keys,
        pushed=(*scan.pushed, f"{', '.join(table.list_omits)}: not in the list, GET each row"),
    )
