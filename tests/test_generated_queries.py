"""Generated queries against three oracles: pushdown must never change an answer.

tests/querygen.py draws queries over the sandbox's tables (seeded with edge data through its
HTTP API); each runs through csql's DB-API, so it is planned and pushed as a user's would be.

- differential: csql's answer equals the reference (every page of every table in DuckDB, then
  the same SQL); an error on one side only is a bug too.
- TLP (ternary logic partitioning): Q == Q WHERE p ∪ Q WHERE NOT p ∪ Q WHERE p IS NULL, each
  of the four run by csql on its own, so each is planned and pushed separately.
- NoREC: count(*) ... WHERE p (which csql may answer from `total` or with q/ranges) equals
  sum(CASE WHEN p THEN 1 ELSE 0 END) (which it cannot push).

Deterministic (derandomize), so CI sees the same queries every run; hypothesis shrinks a
failure to a minimal query. Found cases live in tests/test_regressions_generated.py. The
default run executes at least 500 generated queries, `pytest -m slow` at least 5,000.
"""

from __future__ import annotations

import collections
import decimal
import math

import duckdb
import httpx
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import csql
from csql.read.arrow import extract_records, records_to_arrow
from csql.sandbox import Sandbox
from tests import querygen
from tests.reference import load_everything

#: generated statements run through csql, per oracle (asserted at the end of the module)
EXECUTED: collections.Counter = collections.Counter()
DEFAULT_MINIMUM, SLOW_MINIMUM = 500, 5000

# examples per oracle: default run, slow run
DIFFERENTIAL, TLP, NOREC = 320, 90, 90
SLOW_FACTOR = 10


def _settings(examples: int):
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        print_blob=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# --- fixtures: one seeded sandbox, the reference loaded once ---------------------------------


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=11, scale=1) as sandbox:
        querygen.seed_edge_data(sandbox.base_url, sandbox.username, sandbox.api_key)
        yield sandbox


class TablesOf:
    """The catalog restricted to the grammar's tables: the reference loads only what the
    generated queries read (faster, and independent of unrelated endpoints)."""

    def __init__(self, catalog, names) -> None:
        self.tables = [t for t in catalog.tables if t.name in names]
        self.table = catalog.table


def load_reference(sb, catalog):
    duck = load_everything(
        sb.base_url, sb.username, sb.api_key, TablesOf(catalog, querygen.TABLE_COLUMNS)
    )
    fill_omitted(duck, sb, catalog, querygen.TABLE_COLUMNS)
    return duck


def fill_omitted(duck, sb, catalog, names) -> None:
    """Rows of tables whose list response omits columns (list_omits) are read again with the
    get endpoint, one GET per row, as "every row as ClickSend has it" needs them."""
    with httpx.Client(base_url=sb.base_url, auth=(sb.username, sb.api_key), timeout=30) as http:
        for name in names:
            table = catalog.table(name)
            if not table.list_omits:
                continue
            get = table.endpoints["get"]
            keys = [k for k in table.primary_key]
            rows = duck.execute(f'SELECT {", ".join(keys)} FROM "{name}"').fetchall()
            records = []
            for row in rows:
                body = http.get(get.render(dict(zip(keys, row, strict=True)))).raise_for_status()
                got, _ = extract_records(body.json(), get.records)
                records += got
            duck.register(f"{name}__raw", records_to_arrow(records, table, {}))


@pytest.fixture(scope="module")
def ref(sb, catalog):
    duck = load_reference(sb, catalog)
    yield duck
    duck.close()


@pytest.fixture(scope="module")
def conn(sb):
    c = csql.connect(sb.username, sb.api_key, sb.base_url, requests_per_second=0)
    yield c
    c.close()


@pytest.fixture(scope="module")
def model(ref, catalog):
    return querygen.Model.from_reference(ref, catalog)


# --- running and comparing -------------------------------------------------------------------


def _norm(v):
    """Values that are equal answers compare equal (float noise, decimal scale, -0.0)."""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return round(v, 9) + 0.0
    if isinstance(v, decimal.Decimal):
        return v.normalize()
    if isinstance(v, list):
        return tuple(_norm(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _norm(x)) for k, x in v.items()))
    return v


def rows_of(table: pa.Table) -> list[tuple]:
    cols = [c.to_pylist() for c in table.columns]
    return [tuple(_norm(v) for v in r) for r in zip(*cols, strict=True)] if cols else []


def multiset(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=repr)


class Outcome:
    """The answer (rows and column names) or the error of one statement on one side."""

    def __init__(self, table: pa.Table | None = None, error: BaseException | None = None):
        self.error = error
        self.names = table.column_names if table is not None else None
        self.rows = rows_of(table) if table is not None else None

    def __repr__(self) -> str:
        if self.error is not None:
            return f"error {type(self.error).__name__}: {str(self.error).splitlines()[0][:200]}"
        return f"{len(self.rows)} rows {self.rows[:5]!r}{'...' if len(self.rows) > 5 else ''}"


def run_csql(conn, sql: str, params: dict) -> Outcome:
    """csql through the DB-API; only csql.Error counts as an error a user can act on."""
    EXECUTED["csql"] += 1
    cur = conn.cursor()
    try:
        cur.execute(sql, querygen.used_params(sql, params) or None)
        return Outcome(cur.fetch_arrow_table())
    except csql.Error as e:
        return Outcome(error=e)
    finally:
        cur.close()


def run_reference(duck, sql: str, params: dict) -> Outcome:
    used = querygen.used_params(sql, params)
    try:
        return Outcome(duck.sql(querygen.reference_form(sql), params=used or None).to_arrow_table())
    except duckdb.Error as e:
        return Outcome(error=e)


def tie_groups(rows: list[tuple], keys: tuple[int, ...]) -> list[tuple[tuple, list[tuple]]]:
    """Consecutive runs of rows with equal sort keys, each run as a multiset."""
    groups: list[tuple[tuple, list[tuple]]] = []
    for row in rows:
        key = tuple(row[k] for k in keys)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(row)
        else:
            groups.append((key, [row]))
    return [(k, multiset(g)) for k, g in groups]


def assert_same(
    sql: str,
    params: dict,
    got: Outcome,
    want: Outcome,
    ordered: bool,
    tie_keys: tuple[int, ...] | None = None,
) -> None:
    """Equal answers: lists when ordered; with tie_keys (an ORDER BY over those output columns
    only) the key sequences must be equal and the rows equal as multisets within each run of
    ties, except the first and last runs of a LIMIT/OFFSET window, which may hold any of the
    tied rows."""
    where = f"\n  query: {sql}\n  params: {params}\n  csql: {got}\n  reference: {want}"
    if want.error is not None or got.error is not None:
        assert (want.error is None) == (got.error is None), "an error on one side only" + where
        return
    assert got.names == want.names, "different column names" + where
    if tie_keys is not None:
        assert len(got.rows) == len(want.rows), "different number of rows" + where
        g, w = tie_groups(got.rows, tie_keys), tie_groups(want.rows, tie_keys)
        assert [k for k, _ in g] == [k for k, _ in w], "different order of the sort keys" + where
        windowed = " LIMIT " in sql.upper() or " OFFSET " in sql.upper()
        inner = slice(1, -1) if windowed else slice(None)
        assert [r for _, r in g[inner]] == [r for _, r in w[inner]], "different rows" + where
        return
    g, w = (got.rows, want.rows) if ordered else (multiset(got.rows), multiset(want.rows))
    assert g == w, "different rows" + where


def check_differential(conn, ref, case: querygen.Generated) -> None:
    EXECUTED["differential"] += 1
    want = run_reference(ref, case.sql, case.params)
    got = run_csql(conn, case.sql, case.params)
    assert_same(case.sql, case.params, got, want, case.ordered, case.tie_keys)


def _answer_or_skip(conn, ref, sql: str, params: dict) -> Outcome | None:
    """csql's answer; None when the statement is an error on both sides (no oracle applies)."""
    got = run_csql(conn, sql, params)
    if got.error is None:
        return got
    want = run_reference(ref, sql, params)
    assert want.error is not None, (
        f"an error on one side only\n  query: {sql}\n  params: {params}\n"
        f"  csql: {got}\n  reference: {want}"
    )
    return None


def check_tlp(conn, ref, case: querygen.Partitioned) -> None:
    EXECUTED["tlp"] += 1
    whole = _answer_or_skip(conn, ref, case.whole(), case.params)
    parts = [
        _answer_or_skip(conn, ref, case.part(h), case.params) for h in ("true", "false", "null")
    ]
    if whole is None or any(p is None for p in parts):
        return
    where = (
        f"\n  Q: {case.whole()}\n  p: {case.predicate}\n  params: {case.params}"
        f"\n  Q: {whole}\n  parts: {parts}"
    )
    if case.mode == "count":
        total = sum(p.rows[0][0] for p in parts)
        assert whole.rows[0][0] == total, "TLP: count(Q) != sum of the partitions' counts" + where
        return
    if case.mode == "max":
        values = [p.rows[0][0] for p in parts if p.rows[0][0] is not None]
        assert whole.rows[0][0] == (max(values) if values else None), "TLP: max differs" + where
        return
    union = [r for p in parts for r in p.rows]
    if case.mode == "distinct":
        assert set(whole.rows) == set(union), "TLP: DISTINCT Q != the partitions' union" + where
        return
    assert multiset(whole.rows) == multiset(union), "TLP: Q != the partitions' union all" + where


def check_norec(conn, ref, case: querygen.NoRec) -> None:
    EXECUTED["norec"] += 1
    counted = _answer_or_skip(conn, ref, case.counted(), case.params)
    summed = _answer_or_skip(conn, ref, case.summed(), case.params)
    if counted is None or summed is None:
        return
    n, s = counted.rows[0][0], summed.rows[0][0] or 0
    assert n == s, (
        f"NoREC: count(*) WHERE p = {n}, sum(CASE WHEN p ...) = {s}"
        f"\n  count: {case.counted()}\n  sum:   {case.summed()}\n  params: {case.params}"
    )


# --- the generated tests ---------------------------------------------------------------------


@_settings(DIFFERENTIAL)
@given(data=st.data())
def test_differential(conn, ref, model, data):
    check_differential(conn, ref, data.draw(querygen.query(model), label="query"))


#: join counts drawn, and how many were answered from totals (fewer requests than contacts' pages)
JOIN_COUNTS: collections.Counter = collections.Counter()


@_settings(60)
@given(data=st.data())
def test_count_over_join(conn, ref, model, lists_plus_one, data):
    """count(*) over contacts JOIN lists: the totals shortcut and its near misses agree with
    the reference (the shortcut's own coverage is asserted by the test after this one)."""
    case = data.draw(querygen.join_count(model, querygen.Params()), label="query")
    before = conn.stats.requests
    check_differential(conn, ref, case)
    JOIN_COUNTS["drawn"] += 1
    if conn.stats.requests - before <= lists_plus_one:
        JOIN_COUNTS["from totals"] += 1


@pytest.fixture(scope="module")
def lists_plus_one(conn) -> int:
    """lists + 1 requests: what a count over the join costs from totals (one limit=1 request
    per list, plus the lists); reading contacts' pages costs more."""
    (n,) = conn.execute("SELECT count(*) FROM lists").fetchone()
    return n + 1


def test_count_over_join_took_the_shortcut():
    """Not every drawn join count may take the shortcut, but some must: otherwise the test
    above would not be testing it."""
    if not JOIN_COUNTS["drawn"]:
        pytest.skip("test_count_over_join did not run")
    assert JOIN_COUNTS["from totals"] >= 5, JOIN_COUNTS
    assert JOIN_COUNTS["from totals"] < JOIN_COUNTS["drawn"], JOIN_COUNTS  # near misses too


@_settings(TLP)
@given(data=st.data())
def test_ternary_logic_partitioning(conn, ref, model, data):
    check_tlp(conn, ref, data.draw(querygen.tlp_case(model), label="tlp"))


@_settings(NOREC)
@given(data=st.data())
def test_norec(conn, ref, model, data):
    check_norec(conn, ref, data.draw(querygen.norec_case(model), label="norec"))


@pytest.mark.slow
@_settings(DIFFERENTIAL * SLOW_FACTOR)
@given(data=st.data())
def test_differential_slow(conn, ref, model, data):
    check_differential(conn, ref, data.draw(querygen.query(model), label="query"))


@pytest.mark.slow
@_settings(TLP * SLOW_FACTOR)
@given(data=st.data())
def test_ternary_logic_partitioning_slow(conn, ref, model, data):
    check_tlp(conn, ref, data.draw(querygen.tlp_case(model), label="tlp"))


@pytest.mark.slow
@_settings(NOREC * SLOW_FACTOR)
@given(data=st.data())
def test_norec_slow(conn, ref, model, data):
    check_norec(conn, ref, data.draw(querygen.norec_case(model), label="norec"))


# --- the oracles themselves can fail ---------------------------------------------------------


def test_oracles_detect_a_wrong_answer():
    """assert_same and the TLP/NoREC arithmetic reject answers that differ."""
    one, two = pa.table({"x": [1]}), pa.table({"x": [1, 1]})
    with pytest.raises(AssertionError, match="different rows"):
        assert_same("q", {}, Outcome(one), Outcome(two), ordered=False)
    with pytest.raises(AssertionError, match="one side only"):
        assert_same("q", {}, Outcome(one), Outcome(error=duckdb.Error("x")), ordered=False)
    with pytest.raises(AssertionError, match="different rows"):
        ab, ba = pa.table({"x": [1, 2]}), pa.table({"x": [2, 1]})
        assert_same("q", {}, Outcome(ab), Outcome(ba), ordered=True)
    assert_same("q", {}, Outcome(pa.table({"x": [2, 1]})), Outcome(pa.table({"x": [1, 2]})), False)


def test_generated_query_counts():
    """Runs last in the module: the generators ran as many statements as promised."""
    if not EXECUTED["differential"]:
        pytest.skip("the generated tests did not run in this session")
    generated = EXECUTED["differential"] + EXECUTED["tlp"] + EXECUTED["norec"]
    assert generated >= DEFAULT_MINIMUM, EXECUTED
    # each TLP case runs 4 statements through csql, each NoREC case 2
    assert EXECUTED["csql"] >= generated, EXECUTED


@pytest.mark.slow
def test_generated_query_counts_slow():
    if not EXECUTED["differential"] > DIFFERENTIAL:
        pytest.skip("the slow generated tests did not run in this session")
    generated = EXECUTED["differential"] + EXECUTED["tlp"] + EXECUTED["norec"]
    assert generated >= SLOW_MINIMUM, EXECUTED


# --- the grammar covers what it promises (no sandbox needed) ---------------------------------

#: every construct the grammar promises, as it appears in the SQL text
CONSTRUCTS = [
    " AND ", " OR ", "NOT (", " = ", " <> ", " < ", " <= ", " > ", " >= ", " IN (", " NOT IN (",
    " BETWEEN ", " LIKE ", " ILIKE ", " ESCAPE ", " IS NULL", " IS NOT NULL", "1 = 0", "true",
    "IS DISTINCT FROM", "COLLATE ", ":prm", " JOIN ", " LEFT JOIN ", " RIGHT JOIN ",
    " FULL OUTER JOIN ", " CROSS JOIN ", " SEMI JOIN ", " ANTI JOIN ", " ASOF JOIN ",
    " POSITIONAL JOIN ", ", LATERAL (", " USING (", " NATURAL JOIN ", ") ON ", " GROUP BY ",
    " HAVING ", "count(*)", "count(", "sum(", "min(", "max(", "SELECT DISTINCT ", " ORDER BY ",
    " DESC", " NULLS FIRST", " NULLS LAST", " LIMIT ", " OFFSET ", " PERCENT", " LIMIT 0",
    "EXISTS (SELECT", " IN (SELECT", "(SELECT min(", "WITH ", " UNION ", " UNION ALL ",
    " INTERSECT ", " EXCEPT ", "SELECT *", "ß", "%", "٥٢١", "99999999999999999999",
]  # fmt: skip


def _synthetic_model(catalog) -> querygen.Model:
    """The grammar's tables with made-up samples: enough to draw queries without a sandbox."""
    samples = {
        querygen.Family.INT: (788, 1),
        querygen.Family.NUM: (decimal.Decimal("0.5"),),
        querygen.Family.TEXT: ("Failed", "a,b"),
        querygen.Family.TIME: (),
    }
    tables = []
    for name, columns in querygen.TABLE_COLUMNS.items():
        table = catalog.table(name)
        cols = tuple(
            querygen.Col(c, fam, samples[fam])
            for c in columns
            if (fam := querygen._FAMILY.get(table.column(c).type))
        )
        sortable = tuple(c.name for c in cols if table.column(c.name).sortable)
        tables.append(querygen.Tab(name, cols, sortable, scoped=bool(table.path_keys)))
    return querygen.Model(tuple(tables), tuple(querygen.EDGES))


def test_grammar_covers_every_construct(catalog):
    model = _synthetic_model(catalog)
    seen: list[str] = []

    sources = [querygen.Source("lists", "t0", model.table("lists"))]
    parts = {
        "queries": querygen.query(model),
        "from clauses": querygen.from_clause(model, querygen.Params()).map(lambda f: f.sql),
        "subqueries": querygen.subquery_predicate(model, sources, querygen.Params(), True),
        "set operations": querygen.set_operation(model, querygen.Params()),
    }
    for name, strategy in parts.items():

        @_settings(600 if name == "queries" else 300)
        @given(case=strategy)
        def draw(case):
            seen.append(case if isinstance(case, str) else case.sql)

        draw()
    text = "\n".join(seen)
    missing = [c for c in CONSTRUCTS if c not in text]
    assert not missing, f"the grammar never produced {missing}"
    # a CTE named like the table it reads
    assert any(f"WITH {t} AS (SELECT * FROM {t} " in text for t in querygen.TABLE_COLUMNS)


def test_parameters_are_renamed_for_duckdb():
    case = querygen.Generated("SELECT * FROM lists WHERE list_id = :prm0 AND ':prm1' = 'x'")
    assert case.reference_sql == "SELECT * FROM lists WHERE list_id = $prm0 AND '$prm1' = 'x'"
    assert querygen.used_params("x = :prm1", {"prm0": 1, "prm1": 2}) == {"prm1": 2}


def test_tie_groups_compare_within_ties():
    """Rows tied on the sort key may come in any order; different keys in order may not."""
    names = pa.table({"k": [1, 1, 2], "v": ["a", "b", "c"]})
    swapped = pa.table({"k": [1, 1, 2], "v": ["b", "a", "c"]})
    assert_same("q", {}, Outcome(names), Outcome(swapped), ordered=True, tie_keys=(0,))
    with pytest.raises(AssertionError, match="different rows"):
        assert_same("q", {}, Outcome(names), Outcome(swapped), ordered=True)
    other = pa.table({"k": [1, 1, 2], "v": ["a", "x", "c"]})
    with pytest.raises(AssertionError, match="different rows"):
        assert_same("q", {}, Outcome(names), Outcome(other), ordered=True, tie_keys=(0,))
    # in a LIMIT window the tie group at the edge may hold any of the tied rows
    assert_same("q LIMIT 3", {}, Outcome(names), Outcome(other), ordered=True, tie_keys=(0,))
    reordered = pa.table({"k": [2, 1, 1], "v": ["c", "a", "b"]})
    with pytest.raises(AssertionError, match="order of the sort keys"):
        assert_same("q", {}, Outcome(names), Outcome(reordered), ordered=True, tie_keys=(0,))
