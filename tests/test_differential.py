"""Differential tests: every answer equals "fetch every row, then run the SQL in DuckDB".

Each query runs twice against the same sandbox: through csql (with pushdown) and through
tests/reference.py (every page of every table, no pushdown). Results must be equal: as
ordered lists when the query orders its rows, as multisets otherwise. Where pushdown applies,
the exact number of requests csql sent is asserted too.
"""

from __future__ import annotations

import decimal
import re

import httpx
import pytest

import csql
from csql.sandbox import Sandbox
from tests.reference import load_everything, reference_sql

# names that q cannot carry (commas, colons), quotes, unicode, whitespace
TRICKY_TEMPLATES = [
    ("Zoë's welcome", "Grüße, Zoë: 日本語 ✓"),
    ("a,b", "comma, separated"),
    ("key:value", "colon: here"),
    ("  padded  ", "spaces around"),
    ("O'Brien", 'double "quotes"'),
    ("WELCOME", "upper case"),
    ("welcome", "lower case"),
    ("100% off", "percent_and_underscore"),
]


@pytest.fixture(scope="module")
def sb(catalog):
    with Sandbox(seed=11, scale=1) as sandbox:
        with httpx.Client(
            base_url=sandbox.base_url, auth=(sandbox.username, sandbox.api_key)
        ) as http:
            for name, body in TRICKY_TEMPLATES:
                http.post(
                    "/sms/templates", json={"template_name": name, "body": body}
                ).raise_for_status()
        yield sandbox


@pytest.fixture(scope="module")
def ref(sb, catalog):
    duck = load_everything(sb.base_url, sb.username, sb.api_key, catalog)
    yield duck
    duck.close()


@pytest.fixture(scope="module")
def conn(sb):
    # the local sandbox needs no client-side request budget
    c = csql.connect(sb.username, sb.api_key, sb.base_url, requests_per_second=0)
    yield c
    c.close()


def _norm(v):
    if isinstance(v, float):
        return round(v, 9)
    if isinstance(v, decimal.Decimal):
        return v.normalize()
    if isinstance(v, list):
        return tuple(_norm(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _norm(x)) for k, x in v.items()))
    return v


def _rows(table) -> list[tuple]:
    cols = [c.to_pylist() for c in table.columns]
    return [tuple(_norm(v) for v in r) for r in zip(*cols, strict=True)] if cols else []


def _ordered(sql: str) -> bool:
    """True when the outermost query orders its rows (then order matters)."""
    depth, last_order = 0, None
    for m in re.finditer(r"\(|\)|\bORDER\s+BY\b", sql, re.I):
        tok = m.group(0)
        depth += 1 if tok == "(" else -1 if tok == ")" else 0
        if tok.upper().startswith("ORDER") and depth == 0:
            last_order = m.start()
    return last_order is not None


def check(sb, conn, ref, catalog, sql, params=None, requests=None):
    """Run `sql` through csql and through the reference; they must agree."""
    sb.reset_log()
    cur = conn.cursor()
    cur.execute(sql, params)
    got = cur.fetch_arrow_table()
    sent = len(sb.request_log)
    want = ref.sql(reference_sql(sql, catalog, params)).to_arrow_table()
    assert got.column_names == want.column_names, sql
    g, w = _rows(got), _rows(want)
    if not _ordered(sql):
        g, w = sorted(g, key=repr), sorted(w, key=repr)
    assert g == w, f"{sql}\ncsql: {len(g)} rows, reference: {len(w)} rows"
    if requests is not None:
        assert sent == requests, f"{sql}: {sent} requests sent, expected {requests}"
    return got


# --- hand-written queries ------------------------------------------------------------------
# (sql, expected requests or None). Scale 1 with seed 11: 5 lists, list pages of 100 rows.

QUERIES = [
    # path keys, fan-out, gets
    ("SELECT * FROM lists", 1),
    ("SELECT * FROM ContactLists ORDER BY list_id", 1),
    ("SELECT * FROM contacts", None),
    (
        "SELECT contact_id, first_name FROM contacts WHERE list_id = (SELECT min(list_id) FROM lists)",
        None,
    ),
    ("SELECT * FROM lists WHERE list_id = (SELECT max(list_id) FROM lists)", None),
    ("SELECT * FROM lists WHERE list_name = 'VIP'", 1),
    ("SELECT * FROM lists WHERE list_name <> 'VIP' ORDER BY list_id DESC", 1),
    ("SELECT * FROM lists WHERE list_id = -1", 1),
    ("SELECT * FROM lists WHERE list_id IN (-1, -2)", 2),
    ("SELECT * FROM contacts WHERE list_id = -5", 1),
    ("SELECT * FROM contacts WHERE list_id = 1.5", None),
    ("SELECT * FROM contacts WHERE list_id IS NULL", None),
    ("SELECT * FROM contacts WHERE contact_id = 1", None),
    ("SELECT * FROM contacts WHERE first_name IS NULL OR email IS NULL", None),
    ("SELECT * FROM contacts WHERE NOT (first_name LIKE 'A%')", None),
    (
        "SELECT first_name, last_name FROM contacts WHERE first_name ILIKE 'a%' AND last_name LIKE '%e%'",
        None,
    ),
    ("SELECT * FROM contacts WHERE date_updated > '2020-01-01'", None),
    ("SELECT * FROM contacts WHERE date_updated >= TIMESTAMP '2024-06-01 00:00:00'", None),
    ("SELECT * FROM contacts WHERE date_added BETWEEN '2023-01-01' AND '2025-01-01'", None),
    # q pushdown
    ("SELECT * FROM sms_history WHERE status = 'Failed'", None),
    ("SELECT * FROM sms_history WHERE status = 'failed'", None),
    ("SELECT * FROM sms_history WHERE status = 'Fail'", None),
    ("SELECT * FROM sms_history WHERE status IN ('Failed', 'Cancelled')", None),
    ("SELECT * FROM sms_history WHERE status = 'Failed' OR status = 'Queued'", None),
    ("SELECT * FROM sms_history WHERE status = 'Failed' OR body LIKE '%a%'", None),
    ("SELECT * FROM sms_history WHERE status = 'Failed' AND country = 'AU'", None),
    ("SELECT * FROM sms_history WHERE NOT status = 'Failed'", None),
    ("SELECT * FROM sms_history WHERE status IS NULL", None),
    ("SELECT * FROM sms_history WHERE \"from\" = '+61411111111'", None),
    ("SELECT * FROM sms_history WHERE \"to\" LIKE '+61%'", None),
    (
        "SELECT * FROM sms_history WHERE message_id = (SELECT min(message_id) FROM sms_history)",
        None,
    ),
    ("SELECT * FROM sms_templates WHERE template_name = 'a,b'", None),
    ("SELECT * FROM sms_templates WHERE template_name = 'key:value'", None),
    ("SELECT * FROM sms_templates WHERE template_name = 'O''Brien'", None),
    ("SELECT * FROM sms_templates WHERE template_name = 'Zoë''s welcome'", None),
    ("SELECT * FROM sms_templates WHERE body LIKE '%日本%'", None),
    ("SELECT * FROM sms_templates WHERE template_name = 'welcome'", None),
    ("SELECT * FROM sms_templates WHERE template_name = 'Welcome'", None),
    ("SELECT * FROM sms_templates WHERE template_name ILIKE 'WELCOME'", None),
    ("SELECT * FROM sms_templates WHERE template_name = '  padded  '", None),
    ("SELECT * FROM sms_templates WHERE template_name = 'padded'", None),
    ("SELECT * FROM sms_templates WHERE template_name LIKE '100\\% off' ESCAPE '\\'", None),
    ("SELECT * FROM sms_templates WHERE template_name LIKE '%\\_%' ESCAPE '\\'", None),
    ("SELECT * FROM sms_templates WHERE body = 'double \"quotes\"'", None),
    ("SELECT * FROM subaccounts WHERE first_name = 'Ann' OR last_name = 'Smith'", None),
    # ranges on timestamps
    ("SELECT * FROM sms_history WHERE date >= '2024-06-01' AND date < '2024-07-01'", 1),
    ("SELECT * FROM sms_history WHERE date > '2099-01-01'", 1),
    ("SELECT * FROM sms_history WHERE date BETWEEN '2024-01-01' AND '2024-03-31 23:59:59'", None),
    ("SELECT * FROM sms_history WHERE date < '2024-01-01' OR date > '2025-01-01'", None),
    ("SELECT count(*) FROM sms_history WHERE date >= now() - INTERVAL 10000 DAY", None),
    # LIMIT / OFFSET / ORDER BY
    ("SELECT * FROM sms_history LIMIT 10", 1),
    ("SELECT * FROM sms_history LIMIT 10 OFFSET 250", 1),
    ("SELECT * FROM sms_history LIMIT 150 OFFSET 90", 3),
    ("SELECT * FROM sms_history LIMIT 0", None),
    ("SELECT * FROM sms_history OFFSET 1990", None),
    ("SELECT * FROM sms_history ORDER BY date DESC, message_id LIMIT 5", None),
    ("SELECT message_id FROM sms_history ORDER BY message_id LIMIT 7 OFFSET 3", None),
    ("SELECT * FROM sms_templates ORDER BY template_id DESC LIMIT 3", 1),
    ("SELECT * FROM sms_templates ORDER BY template_id LIMIT 2 OFFSET 1", 1),
    ("SELECT * FROM sms_templates ORDER BY template_name LIMIT 3", None),
    ("SELECT * FROM sms_history WHERE status = 'Failed' LIMIT 3", None),
    ("SELECT * FROM contacts WHERE list_id = (SELECT min(list_id) FROM lists) LIMIT 5", None),
    # COUNT(*)
    ("SELECT count(*) FROM sms_history", 1),
    ("SELECT count(*) AS n FROM lists", 1),
    ("SELECT count(*) FROM contacts", 6),
    (
        "SELECT count(*) FROM contacts WHERE list_id IN (SELECT list_id FROM lists WHERE list_name = 'VIP')",
        2,
    ),
    ("SELECT count(*) FROM contacts WHERE list_id = (SELECT min(list_id) FROM lists)", 2),
    (
        "SELECT count(*) FROM contacts WHERE list_id IN (SELECT list_id FROM lists) AND first_name LIKE 'A%'",
        None,
    ),
    (
        "SELECT count(*), (SELECT count(*) FROM lists) FROM contacts WHERE list_id = (SELECT min(list_id) FROM lists)",
        None,
    ),
    ("SELECT count(*), count(*) AS again FROM contacts", 6),
    ("SELECT count(*) FROM sms_history WHERE status = 'Failed'", None),
    ("SELECT count(first_name) FROM contacts", None),
    ("SELECT count(DISTINCT list_id) FROM contacts", None),
    # joins
    (
        "SELECT c.first_name, l.list_name FROM contacts c JOIN lists l USING (list_id) WHERE l.list_name = 'VIP'",
        None,
    ),
    (
        "SELECT c.first_name, l.list_name FROM lists l JOIN contacts c ON c.list_id = l.list_id WHERE l.list_name LIKE 'N%'",
        None,
    ),
    (
        "SELECT l.list_name, count(c.contact_id) FROM lists l LEFT JOIN contacts c USING (list_id) GROUP BY ALL ORDER BY 1",
        None,
    ),
    (
        "SELECT c.contact_id, l.list_name FROM contacts c LEFT JOIN lists l ON l.list_id = c.list_id AND l.list_name = 'VIP'",
        None,
    ),
    (
        "SELECT * FROM lists l WHERE EXISTS (SELECT 1 FROM contacts c WHERE c.list_id = l.list_id AND c.first_name LIKE 'A%')",
        None,
    ),
    (
        "SELECT * FROM lists WHERE list_id IN (SELECT list_id FROM contacts WHERE last_name LIKE 'S%')",
        None,
    ),
    (
        'SELECT h.message_id, c.first_name, l.list_name FROM sms_history h JOIN contacts c ON c.phone_number = h."to" JOIN lists l ON l.list_id = c.list_id',
        None,
    ),
    (
        "SELECT a.list_id, b.list_name FROM lists a JOIN lists b ON a.list_id = b.list_id WHERE a.list_name = 'VIP'",
        None,
    ),
    (
        "SELECT s.first_name, count(*) FROM sms_history h JOIN subaccounts s USING (subaccount_id) GROUP BY 1",
        None,
    ),
    (
        "SELECT * FROM lists l FULL OUTER JOIN contacts c ON c.list_id = l.list_id AND c.first_name = 'zzz'",
        None,
    ),
    ("SELECT * FROM contacts c RIGHT JOIN lists l USING (list_id)", None),
    ("SELECT * FROM lists CROSS JOIN sms_templates WHERE template_name = 'a,b'", None),
    # aggregates, windows, CTEs, subqueries, unions
    (
        "SELECT status, count(*), sum(message_price) FROM sms_history GROUP BY status ORDER BY status",
        None,
    ),
    (
        "SELECT country, avg(message_parts) FROM sms_history GROUP BY ALL HAVING count(*) > 5 ORDER BY 1",
        None,
    ),
    (
        "SELECT date_trunc('month', date) AS m, count(*) FROM sms_history GROUP BY 1 ORDER BY 1",
        None,
    ),
    (
        "SELECT message_id, row_number() OVER (PARTITION BY status ORDER BY date, message_id) FROM sms_history",
        None,
    ),
    (
        "SELECT list_id, first_name, rank() OVER (PARTITION BY list_id ORDER BY contact_id) r FROM contacts QUALIFY r <= 2",
        None,
    ),
    (
        "WITH vip AS (SELECT list_id FROM lists WHERE list_name = 'VIP') SELECT count(*) FROM contacts WHERE list_id IN (SELECT list_id FROM vip)",
        None,
    ),
    (
        "WITH x AS (SELECT * FROM sms_history WHERE status = 'Failed') SELECT a.message_id FROM x a JOIN x b USING (message_id)",
        None,
    ),
    (
        "SELECT * FROM (SELECT * FROM contacts WHERE first_name LIKE 'J%') t WHERE t.last_name IS NOT NULL",
        None,
    ),
    ("SELECT list_name FROM lists UNION SELECT template_name FROM sms_templates ORDER BY 1", None),
    ("SELECT list_id FROM lists UNION ALL SELECT list_id FROM contacts", None),
    (
        "SELECT list_id FROM lists EXCEPT SELECT list_id FROM contacts WHERE first_name = 'nobody'",
        None,
    ),
    (
        "SELECT (SELECT count(*) FROM lists) AS n_lists, (SELECT count(*) FROM sms_templates) AS n_templates",
        None,
    ),
    ("SELECT DISTINCT status FROM sms_history ORDER BY 1", None),
    (
        "SELECT * FROM sms_history h WHERE h.message_price > (SELECT avg(message_price) FROM sms_history)",
        None,
    ),
    ("SELECT max(date), min(date) FROM sms_history WHERE date > '2024-01-01'", None),
    # other tables, singletons, json
    ("SELECT * FROM account", 1),
    ("SELECT * FROM Accounts", 1),
    ("SELECT * FROM email_history", None),
    ("SELECT * FROM voice_history WHERE date_added > '2024-01-01'", None),
    ("SELECT * FROM timezones WHERE timezone LIKE 'Australia/%'", None),
    ("SELECT * FROM countries ORDER BY code", None),
    ("SELECT * FROM alpha_tags", None),
    ("SELECT * FROM recharge_packages", None),
    ("SELECT * FROM sms_campaigns WHERE name = 'x'", None),
    ("SELECT * FROM mms_campaigns", None),
    ("SELECT * FROM delivery_issues", None),
]


@pytest.mark.parametrize(("sql", "requests"), QUERIES, ids=[q[0][:70] for q in QUERIES])
def test_query_equals_reference(sb, conn, ref, catalog, sql, requests):
    check(sb, conn, ref, catalog, sql, requests=requests)


# --- generated: every searchable column, with case, whitespace, unicode and syntax variants --------


def _searchable(catalog):
    out = []
    for t in catalog.tables:
        if any(k.fanout is None for k in t.path_keys):
            continue
        for c in t.columns:
            if c.searchable:
                out.append((t.name, c.name))
    return out


def _variants(value: str) -> list[str]:
    """WHERE clauses on a column ({c}) derived from one of its real values."""
    v = value.replace("'", "''")
    mid = v[1:-1] if len(v) > 2 else v
    return [
        f"{{c}} = '{v}'",
        f"{{c}} = '{v.upper()}'",
        f"{{c}} = '{v.lower()}'",
        f"{{c}} = ' {v} '",
        f"{{c}} LIKE '%{mid}%'",
        f"{{c}} ILIKE '{v.swapcase()}'",
        f"{{c}} IN ('{v}', 'no such value')",
        f"{{c}} <> '{v}'",
        f"{{c}} = '{v},x'",
        f"{{c}} = '{v}:x'",
        f"{{c}} = 'Zoë {v}'",
        "{c} IS NULL",
        f"({{c}} = '{v}' OR {{c}} IS NULL)",
    ]


@pytest.mark.parametrize(("table", "column"), [pytest.param(t, c, id=f"{t}.{c}") for t, c in
                         _searchable(__import__("csql.catalog").catalog.default_catalog())])  # fmt: skip
def test_searchable_column_variants(sb, conn, ref, catalog, table, column):
    col = catalog.table(table).column(column)
    q = f'"{column}"'
    values = [r[0] for r in ref.execute(
        f'SELECT CAST({q} AS VARCHAR) FROM "{table}" WHERE {q} IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 2'
    ).fetchall()]  # fmt: skip
    if not values:
        values = ["nothing"]
    failures = []
    for value in values:
        for clause in _variants(value):
            where = clause.format(c=q)
            if col.type != "varchar":
                where = where.replace(q, f"CAST({q} AS VARCHAR)", 1) if "LIKE" in where else where
            sql = f'SELECT * FROM "{table}" WHERE {where}'
            try:
                check(sb, conn, ref, catalog, sql)
            except AssertionError as e:
                failures.append(str(e).splitlines()[0])
            except csql.Error as e:
                if col.type == "varchar":
                    failures.append(f"{sql}: {type(e).__name__}: {e}")
    assert not failures, "\n".join(failures)


# --- property-based: random predicates over a big table ----------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TEXT = [
    "Failed",
    "failed",
    "Completed",
    "Queued",
    "+61411111111",
    "a,b",
    "x:y",
    "Zoë",
    "O''Brien",
    " ",
    "%",
    "e",
]
_COLUMNS = {
    "status": _TEXT,
    '"from"': _TEXT,
    '"to"': _TEXT,
    "body": _TEXT,
    "message_id": _TEXT,
    "country": ["AU", "US", "au", "GB"],
}
_DATES = [
    "'2024-01-01'",
    "'2024-06-15 12:00:00'",
    "TIMESTAMP '2025-01-01'",
    "'2023-12-31T23:59:59Z'",
]


@st.composite
def _predicate(draw, depth=0):
    kind = draw(
        st.sampled_from(
            ["cmp", "cmp", "date", "in", "like", "null"]
            + (["and", "or", "not"] if depth < 2 else [])
        )
    )
    if kind in ("and", "or"):
        left, right = draw(_predicate(depth + 1)), draw(_predicate(depth + 1))
        return f"({left} {kind.upper()} {right})"
    if kind == "not":
        return f"NOT ({draw(_predicate(depth + 1))})"
    if kind == "date":
        op = draw(st.sampled_from([">", ">=", "<", "<=", "="]))
        return f"date {op} {draw(st.sampled_from(_DATES))}"
    col = draw(st.sampled_from(sorted(_COLUMNS)))
    value = draw(st.sampled_from(_COLUMNS[col]))
    if kind == "cmp":
        return f"{col} {draw(st.sampled_from(['=', '<>']))} '{value}'"
    if kind == "in":
        other = draw(st.sampled_from(_COLUMNS[col]))
        return f"{col} IN ('{value}', '{other}')"
    if kind == "like":
        op = draw(st.sampled_from(["LIKE", "ILIKE", "NOT LIKE"]))
        return f"{col} {op} '%{value.strip() or 'a'}%'"
    return f"{col} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    where=_predicate(),
    tail=st.sampled_from(
        ["", " ORDER BY message_id LIMIT 7", " ORDER BY date DESC, message_id LIMIT 3 OFFSET 2"]
    ),
)
def test_random_predicates_equal_reference(sb, conn, ref, catalog, where, tail):
    check(
        sb,
        conn,
        ref,
        catalog,
        f"SELECT message_id, status, date FROM sms_history WHERE {where}{tail}",
    )
