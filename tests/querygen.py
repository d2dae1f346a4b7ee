"""A grammar of SQL queries over the sandbox's tables, as hypothesis strategies.

Why: hand-written differential queries only cover the shortcuts someone thought of. This
grammar combines every clause that changes what the planner may push (WHERE trees, joins of
every kind, aggregates, GROUP BY, DISTINCT, ORDER BY, LIMIT/OFFSET/PERCENT, subqueries, CTEs,
set operations, parameters) with values taken from the data itself plus hostile ones (unicode
case pairs, separators that `q` cannot carry, whitespace, numbers as text), so that the oracles
in tests/test_generated_queries.py can look for an answer that pushdown changed. Hypothesis
shrinks a failing query to a minimal one.

A generated query is a `Generated`: the SQL for csql (`:name` parameters), the same SQL for the
reference DuckDB (`$name` parameters), the parameters, and whether the outermost query orders
its rows totally (then results compare as lists, otherwise as multisets).

>>> model = Model(tables=(Tab("lists", (Col("list_id", Family.INT, (1, 2)),)),), edges=())
>>> isinstance(model.table("lists"), Tab)
True
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
from hypothesis import strategies as st

# --- hostile values -------------------------------------------------------------------------

#: unicode case pairs that fold differently under Python, DuckDB and MySQL collations
CASE_PAIRS = [
    "ß",
    "ẞ",
    "SS",
    "ss",
    "Straße",
    "STRASSE",
    "İstanbul",
    "istanbul",
    "ı",
    "I",
    "ΣΊΣΥΦΟΣ",
    "σίσυφος",
    "ς",
    "σ",
    "Σ",
    "\u212a",  # KELVIN SIGN, lower() is k
    "K",
    "k",
    "\u212b",  # ANGSTROM SIGN, lower() is å
    "Å",
    "å",
    "é",
    "É",
    "e\u0301",  # e + combining acute
    "Zoë",
    "ZOË",
]
#: characters that q cannot carry, LIKE metacharacters, whitespace, numbers as text
SYNTAX_VALUES = [
    "a,b",
    "key:value",
    "100%",
    "a+b",
    "under_score",
    "back\\slash",
    "  padded  ",
    " ",
    "",
    "123",
    "007",
    "٥٢١",
    "99999999999999999999",
    "O'Brien",
    "%",
    "_",
    "+61411111111",
]
HOSTILE = CASE_PAIRS + SYNTAX_VALUES


def seed_edge_data(base_url: str, username: str, api_key: str) -> None:
    """Create rows that exercise folding, separators, NULL/empty fields and ties in sort keys.

    Only the sandbox's HTTP API is used (POST lists, contacts, templates, subaccounts, sends),
    so the rows go through the same code a real account's data would.
    """
    with httpx.Client(base_url=base_url, auth=(username, api_key), timeout=30) as http:

        def post(path: str, body: dict) -> dict:
            return http.post(path, json=body).raise_for_status().json()["data"]

        names = ["ß", "ẞ", "ΣΊΣΥΦΟΣ", "a,b", "  padded  "]
        list_ids = [post("/lists", {"list_name": n})["list_id"] for n in names]
        post("/lists", {"list_name": "VIP"})  # a tie with a generated list's name
        hostile_pairs = list(zip(HOSTILE, reversed(HOSTILE), strict=True))
        for i, (first, last) in enumerate(hostile_pairs):
            list_id = list_ids[i % 3]
            body: dict = {"phone_number": f"+6140000{i:04d}", "first_name": first}
            if i % 4:
                body["last_name"] = last
            if i % 5 == 0:
                body["custom_1"] = ""  # empty, not NULL
            if i % 7 == 0:
                body["email"] = f"{first}@example.com"
            post(f"/lists/{list_id}/contacts", body)
        post(f"/lists/{list_ids[0]}/contacts", {"email": "only@example.com"})  # NULL names
        post(f"/lists/{list_ids[1]}/contacts", {"phone_number": "٥٢١", "first_name": "٥٢١"})
        for name in ["ß", "SS", "σίσυφος", "ΣΊΣΥΦΟΣ", "key:value", "a+b", "_", "e\u0301", "é"]:
            post("/sms/templates", {"template_name": name, "body": f"{name} , : % _ body"})
        post("/sms/templates", {"template_name": "tie", "body": "same"})
        post("/sms/templates", {"template_name": "tie", "body": "same"})
        for name in ["İ", "ı", "\u212b", "Å", "a,b"]:
            post("/email/templates", {"template_name": name, "template_id_master": 1})
        for i, (first, last) in enumerate([("İ", "ı"), ("ß", "SS"), ("Σ", "ς")]):
            post(
                "/subaccounts",
                {
                    "api_username": f"edge_{i}",
                    "password": "edge-password-1",
                    "email": f"edge{i}@example.com",
                    "phone_number": f"+6141000000{i}",
                    "first_name": first,
                    "last_name": last,
                },
            )
        messages = [
            {"to": "+61411111111", "body": body, "from": sender}
            for body, sender in zip(
                [
                    "ß , : % _ \\",
                    "ΣΊΣΥΦΟΣ",
                    "  padded  ",
                    "100% off",
                    "a,b",
                    "٥٢١",
                    "KELVIN \u212a",
                ],
                ["İ", "ẞ", "a,b", "key:value", "+61411111111", "٥٢١", "Zoë"],
                strict=True,
            )
        ]
        http.post("/sms/send", json={"messages": messages}).raise_for_status()


# --- the model: tables, columns, values -----------------------------------------------------


class Family(enum.Enum):
    """Type families: which columns can be compared, joined and aggregated together."""

    INT = "int"
    NUM = "num"
    TEXT = "text"
    TIME = "time"


_FAMILY = {
    "integer": Family.INT,
    "bigint": Family.INT,
    "double": Family.NUM,
    "decimal": Family.NUM,
    "varchar": Family.TEXT,
    "timestamp": Family.TIME,
}

#: the tables with pushdown (path keys, fan-out, q, order_by, ranges, gets) and the columns used
TABLE_COLUMNS = {
    "lists": ["list_id", "list_name", "_contacts_count"],
    "contacts": [
        "contact_id",
        "list_id",
        "first_name",
        "last_name",
        "phone_number",
        "custom_1",
        "email",
        "date_updated",
    ],
    "sms_history": [
        "message_id",
        "date",
        "to",
        "from",
        "body",
        "status",
        "subaccount_id",
        "list_id",
        "contact_id",
        "message_price",
    ],
    "sms_templates": ["template_id", "template_name", "body"],
    # template_id_master and body are not in the list response (list_omits): a GET per row
    "email_templates": ["template_id", "template_name", "template_id_master", "body"],
    "email_campaigns": ["email_campaign_id", "name", "list_id", "body"],
    "subaccounts": ["subaccount_id", "first_name", "last_name", "api_username"],
    "sms_campaigns": [
        "sms_campaign_id",
        "name",
        "list_id",
        "status",
        "from",
        "schedule",
        "date_added",
    ],
    "numbers": ["dedicated_number", "country", "type", "number_type", "price"],
    "fax_history": ["message_id", "status", "status_code", "to", "date", "message_price"],
}


#: join conditions worth generating: (table, column, other table, other column)
EDGES = [
    ("contacts", "list_id", "lists", "list_id"),
    ("sms_history", "list_id", "lists", "list_id"),
    ("sms_history", "contact_id", "contacts", "contact_id"),
    ("sms_history", "to", "contacts", "phone_number"),
    ("sms_history", "subaccount_id", "subaccounts", "subaccount_id"),
    ("sms_campaigns", "list_id", "lists", "list_id"),
    ("email_campaigns", "list_id", "lists", "list_id"),
    ("sms_templates", "template_name", "lists", "list_name"),
    ("email_templates", "template_name", "sms_templates", "template_name"),
    ("subaccounts", "first_name", "contacts", "first_name"),
]

#: tables small enough (one page) for POSITIONAL joins and cross joins
SMALL = ["lists", "sms_templates", "email_templates", "subaccounts", "sms_campaigns", "numbers"]

#: how often each table is drawn: a full scan of sms_history is 20 pages and of contacts one
#: page per list, the others one page; the big ones still come up in one query in five
WEIGHTS = {"sms_history": 2, "contacts": 1}

_RESERVED = {"from", "to", "date", "body", "status", "name"}


def quote(name: str) -> str:
    """Identifiers that are keywords (or look like them) are quoted, others stay readable."""
    return f'"{name}"' if name in _RESERVED or not re.fullmatch(r"[a-z_][a-z0-9_]*", name) else name


@dataclass(frozen=True)
class Col:
    name: str
    family: Family
    samples: tuple = ()


@dataclass(frozen=True)
class Tab:
    name: str
    cols: tuple[Col, ...]
    sortable: tuple[str, ...] = ()  # what order_by can push: top-n queries prefer these
    # read one scope (path key value) at a time: without ORDER BY, the order of its rows
    # depends on the order the scopes are read in, which SQL leaves open
    scoped: bool = False

    def col(self, name: str) -> Col:
        return next(c for c in self.cols if c.name == name)


@dataclass(frozen=True)
class Model:
    """What the grammar knows: the tables, their columns and values sampled from the data."""

    tables: tuple[Tab, ...]
    edges: tuple[tuple[str, str, str, str], ...]

    def table(self, name: str) -> Tab:
        return next(t for t in self.tables if t.name == name)

    @classmethod
    def from_reference(cls, duck, catalog) -> Model:
        """Sample up to 6 distinct values of every column (most frequent first, then extremes)."""
        tables = []
        for name, columns in TABLE_COLUMNS.items():
            table = catalog.table(name)
            cols = []
            for cname in columns:
                column = table.column(cname)
                family = _FAMILY.get(column.type) if column else None
                if family is None:
                    continue
                q = f'"{cname}"'
                rows = duck.execute(
                    f'SELECT {q} FROM "{name}" WHERE {q} IS NOT NULL GROUP BY 1 '
                    f"ORDER BY count(*) DESC, 1 LIMIT 4"
                ).fetchall()
                ends = duck.execute(f'SELECT min({q}), max({q}) FROM "{name}"').fetchall()[0]
                values = list(dict.fromkeys([r[0] for r in rows] + [v for v in ends if v]))
                cols.append(Col(cname, family, tuple(values[:6])))
            sortable = tuple(c.name for c in cols if table.column(c.name).sortable)
            tables.append(Tab(name, tuple(cols), sortable, scoped=bool(table.path_keys)))
        names = {t.name for t in tables}
        edges = tuple(e for e in EDGES if e[0] in names and e[2] in names)
        return cls(tuple(tables), edges)


# --- the generated query ---------------------------------------------------------------------


@dataclass
class Generated:
    """One generated statement, in the two forms the oracles run."""

    sql: str
    params: dict = field(default_factory=dict)
    ordered: bool = False  # the outermost ORDER BY is total: compare as lists
    # the outermost ORDER BY sorts by these output columns only (ties possible): compare the
    # key sequence, and rows as multisets within each tie group (see test_generated_queries)
    tie_keys: tuple[int, ...] | None = None

    @property
    def reference_sql(self) -> str:
        """DuckDB spells named parameters `$name`."""
        return re.sub(r":(prm\d+)\b", r"$\1", self.sql)

    def __repr__(self) -> str:
        return (
            f"Generated({self.sql!r}, params={self.params!r}, ordered={self.ordered}, "
            f"tie_keys={self.tie_keys})"
        )


class Params:
    """Collects the parameters of one statement as it is drawn."""

    def __init__(self) -> None:
        self.values: dict = {}

    def add(self, value) -> str:
        name = f"prm{len(self.values)}"
        self.values[name] = value
        return f":{name}"


@dataclass(frozen=True)
class Source:
    """A table reference in a FROM clause: what it reads, the alias, and its columns."""

    name: str  # a table or a CTE name
    alias: str
    tab: Tab

    def ref(self, col: Col, qualify: bool = True) -> str:
        return f"{self.alias}.{quote(col.name)}" if qualify else quote(col.name)


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _timestamp_text(value) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


# --- literals --------------------------------------------------------------------------------


@st.composite
def text_value(draw, col: Col) -> str:
    """A string from the data (as is, case-changed, a fragment, padded) or a hostile one."""
    base = [str(v) for v in col.samples] or ["x"]
    kind = draw(st.sampled_from(["data", "data", "case", "fragment", "hostile", "hostile"]))
    if kind == "hostile":
        return draw(st.sampled_from(HOSTILE))
    value = draw(st.sampled_from(base))
    if kind == "case":
        how = draw(st.sampled_from(["upper", "lower", "swapcase", "pad"]))
        return f" {value} " if how == "pad" else getattr(value, how)()
    if kind == "fragment" and len(value) > 2:
        start = draw(st.integers(0, len(value) - 2))
        return value[start : draw(st.integers(start + 1, len(value)))]
    return value


@st.composite
def literal(draw, col: Col, params: Params | None = None) -> str:
    """A constant that compares with `col`; sometimes a parameter, sometimes off-type."""
    fam = col.family
    if fam is Family.TEXT:
        value = draw(text_value(col))
        if params is not None and draw(st.integers(0, 5)) == 0:
            return params.add(value)
        digits = value.lstrip("+")
        if digits.isascii() and digits.isdigit() and draw(st.booleans()):
            return draw(st.sampled_from([digits, f"{digits}.0"]))  # a number vs a varchar
        return sql_string(value)
    if fam in (Family.INT, Family.NUM):
        samples = [v for v in col.samples if v is not None] or [1]
        v = draw(st.sampled_from(samples))
        kind = draw(
            st.sampled_from(["data", "data", "data", "float", "off", "edge", "text", "param"])
        )
        if kind == "float":
            return f"{float(v)!r}"
        if kind == "off":
            return str(v + draw(st.sampled_from([-1, 1])))
        if kind == "edge":
            return draw(
                st.sampled_from(
                    ["0", "-1", "1.5", "99999999999999999999", "9223372036854775808", "1e30"]
                )
            )
        if kind == "text":
            return draw(st.sampled_from([sql_string(str(v)), "'٥٢١'", "' 1'"]))
        if kind == "param" and params is not None:
            return params.add(int(v) if fam is Family.INT else v)
        return str(v)
    # timestamps: data values exactly (bounds are where range pushdown goes wrong), or dates
    samples = [v for v in col.samples if v is not None]
    kind = draw(
        st.sampled_from(["data", "data", "date", "literal", "far", "fraction", "zone", "param"])
    )
    if kind == "far" or not samples:
        return draw(st.sampled_from(["'2000-01-01'", "'2099-12-31'", "TIMESTAMP '1970-01-01'"]))
    value = draw(st.sampled_from(samples))
    text = _timestamp_text(value)
    if kind == "date":
        return f"DATE '{text[:10]}'"
    if kind == "literal":
        return f"TIMESTAMP '{text}'"
    if kind == "fraction":  # between two whole seconds: the API's bounds are whole seconds
        return sql_string(text + draw(st.sampled_from([".5", ".001", ".999999"])))
    if kind == "zone":  # the same instant or one hour off, written with an offset
        return f"TIMESTAMPTZ {sql_string(text + draw(st.sampled_from(['+00', '+01', '-05:30'])))}"
    if kind == "param" and params is not None and isinstance(value, dt.datetime):
        return params.add(value)
    return sql_string(text)


@st.composite
def like_pattern(draw, col: Col) -> str:
    """LIKE patterns from real values: %, _, and escaped metacharacters."""
    value = draw(text_value(col))
    kind = draw(st.sampled_from(["prefix", "infix", "suffix", "underscore", "escape", "exact"]))
    if kind == "escape":
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{sql_string('%' + escaped + '%')} ESCAPE '\\'"
    if kind == "underscore" and value:
        i = draw(st.integers(0, len(value) - 1))
        value = value[:i] + "_" + value[i + 1 :]
        return sql_string(value + "%")
    return sql_string(
        {"prefix": f"{value}%", "infix": f"%{value}%", "suffix": f"%{value}"}.get(kind, value)
    )


# --- predicates ------------------------------------------------------------------------------

CONSTANTS = [
    "1 = 0",
    "1 = 1",
    "true",
    "false",
    "NULL",
    "NOT NULL",
    "current_date < DATE '2000-01-01'",
    "current_date > DATE '2000-01-01'",
    "NULL IS NULL",
]


@st.composite
def atom(draw, sources: list[Source], params: Params | None, qualify: bool) -> str:
    """One comparison on a column of `sources` (or a constant)."""
    kind = draw(
        st.sampled_from(
            ["cmp", "cmp", "cmp", "in", "between", "like", "null", "const"]
            + (["param_flag"] if params is not None else [])
        )
    )
    if kind == "const":
        if draw(st.integers(0, 9)) == 0:  # both sides must report it (ProgrammingError)
            return draw(st.sampled_from(["nosuchcolumn = 1", "t9.list_id = 1"]))
        return draw(st.sampled_from(CONSTANTS))
    if kind == "param_flag":
        return params.add(draw(st.sampled_from([True, False, None])))
    src = draw(st.sampled_from(sources))
    col = draw(st.sampled_from(src.tab.cols))
    ref = src.ref(col, qualify)
    if kind == "null":
        return f"{ref} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
    if kind == "like":
        if col.family is not Family.TEXT:
            ref = f"CAST({ref} AS VARCHAR)"
        op = draw(st.sampled_from(["LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"]))
        return f"{ref} {op} {draw(like_pattern(col))}"
    if kind == "in":
        items = draw(st.lists(literal(col, params), min_size=1, max_size=3))
        if draw(st.integers(0, 3)) == 0:
            items.append("NULL")
        neg = draw(st.sampled_from(["", "NOT "]))
        return f"{ref} {neg}IN ({', '.join(items)})"
    if kind == "between":
        low, high = draw(literal(col)), draw(literal(col))
        return f"{ref} {draw(st.sampled_from(['', 'NOT ']))}BETWEEN {low} AND {high}"
    op = draw(
        st.sampled_from(
            ["=", "=", "<>", "<", "<=", ">", ">=", "IS DISTINCT FROM", "IS NOT DISTINCT FROM"]
        )
    )
    value = draw(literal(col, params))
    if col.family is Family.TEXT and draw(st.integers(0, 7)) == 0:
        # a collation or a string function: DuckDB's folding, not the server's
        how = draw(st.sampled_from(["nocase", "noaccent", "starts_with", "contains", "glob"]))
        if how in ("nocase", "noaccent"):
            return f"{ref} COLLATE {how} {op} {value}"
        if how == "glob":
            return f"{ref} GLOB {value}"
        return f"{how}({ref}, {value})"
    return f"{ref} {op} {value}"


def predicate(
    sources: list[Source],
    params: Params | None = None,
    qualify: bool = True,
    depth: int = 2,
    subqueries: Model | None = None,
) -> st.SearchStrategy[str]:
    """A WHERE tree: AND/OR/NOT over atoms, and (with a model) subqueries."""
    leaf = atom(sources, params, qualify)
    if subqueries is not None:
        leaf = st.one_of(leaf, leaf, subquery_predicate(subqueries, sources, params, qualify))
    if depth == 0:
        return leaf

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            inner.map(lambda p: f"NOT ({p})"),
        )

    return st.recursive(leaf, extend, max_leaves=depth + 2)


@st.composite
def subquery_predicate(
    draw, model: Model, sources: list[Source], params: Params | None, qualify: bool
) -> str:
    """IN / NOT IN / EXISTS / scalar subqueries, correlated or not, keys cast or not."""
    src = draw(st.sampled_from(sources))
    col = draw(st.sampled_from(src.tab.cols))
    outer = src.ref(col, qualify)
    inner_tab = draw(st.sampled_from(model.tables))
    same = [c for c in inner_tab.cols if c.family == col.family] or [
        c for c in inner_tab.cols if {c.family, col.family} <= {Family.INT, Family.NUM}
    ]
    inner_src = Source(inner_tab.name, "s", inner_tab)
    where = ""
    if draw(st.booleans()):
        where = f" WHERE {draw(atom([inner_src], params, True))}"
    kind = draw(st.sampled_from(["in", "not_in", "exists", "scalar"]))
    if kind == "exists" or not same:
        corr = ""
        if same:
            corr = f"s.{quote(draw(st.sampled_from(same)).name)} = {outer}"
        cond = " AND ".join(x for x in [corr, where.removeprefix(" WHERE ")] if x)
        neg = draw(st.sampled_from(["", "NOT "]))
        return f"{neg}EXISTS (SELECT 1 FROM {inner_tab.name} s{' WHERE ' + cond if cond else ''})"
    inner = draw(st.sampled_from(same))
    key = f"s.{quote(inner.name)}"
    if col.family is Family.INT and draw(st.integers(0, 3)) == 0:
        key = draw(st.sampled_from([f"CAST({key} AS DOUBLE)", f"{key} + 0.0"]))
    if kind == "scalar":
        agg = draw(st.sampled_from(["min", "max"]))
        op = draw(st.sampled_from(["=", "<", ">="]))
        return f"{outer} {op} (SELECT {agg}({key}) FROM {inner_tab.name} s{where})"
    limit = ""
    if draw(st.integers(0, 3)) == 0:
        limit = f" ORDER BY 1 LIMIT {draw(st.sampled_from([1, 2, 3]))}"
    neg = "NOT " if kind == "not_in" else ""
    return f"{outer} {neg}IN (SELECT {key} FROM {inner_tab.name} s{where}{limit})"


# --- FROM clauses ----------------------------------------------------------------------------


class JoinKind(enum.Enum):
    INNER = "JOIN"
    LEFT = "LEFT JOIN"
    RIGHT = "RIGHT JOIN"
    FULL = "FULL OUTER JOIN"
    SEMI = "SEMI JOIN"
    ANTI = "ANTI JOIN"
    ASOF = "ASOF JOIN"
    CROSS = "CROSS JOIN"
    POSITIONAL = "POSITIONAL JOIN"
    NATURAL = "NATURAL JOIN"
    USING = "JOIN USING"
    LATERAL = "LATERAL"
    NESTED = "NESTED"


#: join kinds whose result keeps only the left side's columns
LEFT_ONLY = {JoinKind.SEMI, JoinKind.ANTI}


@dataclass(frozen=True)
class From:
    """A FROM clause and the table references whose columns are visible after it."""

    sql: str
    sources: tuple[Source, ...]


def _source(tab: Tab, alias: str, name: str | None = None) -> Source:
    return Source(name or tab.name, alias, tab)


def _render(src: Source) -> str:
    return f"{src.name} {src.alias}"


@st.composite
def join_on(draw, a: Source, b: Source, params: Params | None, edges) -> str | None:
    """An equality between a and b along an edge, plus maybe conjuncts on either side."""
    keys = [(x, y) for (t1, x, t2, y) in edges if t1 == a.tab.name and t2 == b.tab.name]
    keys += [(y, x) for (t1, x, t2, y) in edges if t2 == a.tab.name and t1 == b.tab.name]
    if a.tab.name == b.tab.name:
        keys.append((a.tab.cols[0].name, a.tab.cols[0].name))
    if not keys:
        return None
    x, y = draw(st.sampled_from(keys))
    parts = [f"{a.ref(a.tab.col(x))} = {b.ref(b.tab.col(y))}"]
    for _ in range(draw(st.integers(0, 2))):
        side = draw(st.sampled_from([a, b]))
        parts.append(draw(atom([side], params, True)))
    return " AND ".join(parts)


def _pairs(model: Model) -> list[tuple[str, str]]:
    pairs = [(t1, t2) for (t1, _, t2, _) in model.edges]
    pairs += [(t2, t1) for (t1, _, t2, _) in model.edges]
    pairs += [(t, t) for t in ("lists", "sms_templates", "contacts")]
    return pairs


@st.composite
def from_clause(
    draw, model: Model, params: Params | None, allow_joins: bool = True, ctes: tuple = ()
) -> From:
    """One table (most often), or two or three joined by any join kind DuckDB parses."""
    bases = [(t.name, t) for t in model.tables for _ in range(WEIGHTS.get(t.name, 2))]
    bases += list(ctes) * 4
    if not allow_joins or draw(st.integers(0, 9)) < 7:
        name, tab = draw(st.sampled_from(bases))
        src = _source(tab, "t0", name)
        return From(_render(src), (src,))
    kind = draw(st.sampled_from(list(JoinKind)))
    if kind in (JoinKind.CROSS, JoinKind.POSITIONAL):
        t1, t2 = draw(st.sampled_from(SMALL)), draw(st.sampled_from(SMALL))
        a, b = _source(model.table(t1), "t0"), _source(model.table(t2), "t1")
        return From(f"{_render(a)} {kind.value} {_render(b)}", (a, b))
    t1, t2 = draw(st.sampled_from(_pairs(model)))
    a, b = _source(model.table(t1), "t0"), _source(model.table(t2), "t1")
    if kind in (JoinKind.USING, JoinKind.NATURAL):
        common = [c.name for c in a.tab.cols if c.name in {d.name for d in b.tab.cols}]
        if not common:
            kind = JoinKind.INNER
        elif kind is JoinKind.NATURAL:
            # NATURAL joins every common column of the real tables (not only the modelled ones)
            return From(f"{_render(a)} NATURAL JOIN {_render(b)}", (a,))
        else:
            used = draw(st.sampled_from(common))
            return From(f"{_render(a)} JOIN {_render(b)} USING ({quote(used)})", (a, b))
    on = draw(join_on(a, b, params, model.edges))
    if on is None:
        return From(f"{_render(a)} CROSS JOIN {_render(b)}", (a, b))
    if kind is JoinKind.LATERAL:
        inner = f"SELECT count(*) AS n FROM {b.tab.name} t1 WHERE {on}"
        lat = Source("lat", "lat", Tab("lat", (Col("n", Family.INT, (0, 1)),)))
        return From(f"{_render(a)}, LATERAL ({inner}) lat", (a, lat))
    if kind is JoinKind.ASOF:
        # the inequality is on b's primary key (its first column), so the row ASOF picks is
        # unique: on a column with ties DuckDB may pick any of them and answers would differ
        pk = b.tab.cols[0]
        order = [c for c in a.tab.cols if c.family == pk.family]
        if not order:
            kind = JoinKind.LEFT
        else:
            ineq = draw(st.sampled_from([">=", ">", "<=", "<"]))
            key = on.split(" AND ")[0]
            cond = f"{key} AND {a.ref(draw(st.sampled_from(order)))} {ineq} {b.ref(pk)}"
            return From(f"{_render(a)} ASOF JOIN {_render(b)} ON {cond}", (a, b))
    if kind is JoinKind.NESTED:
        # a third table joined inside parentheses: a JOIN (b JOIN c ON ..) ON ..
        nxt = [p for p in _pairs(model) if p[0] == t2 and p[1] != t1]
        if nxt:
            t3 = draw(st.sampled_from(nxt))[1]
            c = _source(model.table(t3), "t2")
            inner_on = draw(join_on(b, c, params, model.edges))
            inner_kind = draw(st.sampled_from(["JOIN", "LEFT JOIN"]))
            outer_kind = draw(st.sampled_from(["JOIN", "LEFT JOIN", "RIGHT JOIN"]))
            sql = (
                f"{_render(a)} {outer_kind} ({_render(b)} {inner_kind} {_render(c)} "
                f"ON {inner_on}) ON {on}"
            )
            return From(sql, (a, b, c))
        kind = JoinKind.INNER
    sources = (a,) if kind in LEFT_ONLY else (a, b)
    return From(f"{_render(a)} {kind.value} {_render(b)} ON {on}", sources)


# --- SELECT ----------------------------------------------------------------------------------


@st.composite
def expression(draw, src: Source, qualify: bool) -> tuple[str, Family]:
    """A column or an expression over one, with the family of its value."""
    col = draw(st.sampled_from(src.tab.cols))
    ref = src.ref(col, qualify)
    if col.family is Family.TEXT:
        return draw(
            st.sampled_from(
                [
                    (ref, Family.TEXT),
                    (f"lower({ref})", Family.TEXT),
                    (f"upper({ref})", Family.TEXT),
                    (f"{ref} || '!'", Family.TEXT),
                    (f"length({ref})", Family.INT),
                    (f"coalesce({ref}, '-')", Family.TEXT),
                ]
            )
        )
    if col.family in (Family.INT, Family.NUM):
        return draw(st.sampled_from([(ref, col.family), (f"{ref} + 1", col.family)]))
    return draw(st.sampled_from([(ref, Family.TIME), (f"date_trunc('day', {ref})", Family.TIME)]))


@dataclass
class Select:
    """A drawn SELECT list: the SQL items, the output names, and whether it is aggregated."""

    items: list[str]
    width: int
    aggregated: bool = False
    group_by: list[str] = field(default_factory=list)


@st.composite
def projection(draw, frm: From, qualify: bool) -> Select:
    """`*`, columns, expressions, aliases (some shadowing a column of the table)."""
    kind = draw(st.sampled_from(["star", "cols", "cols", "cols"]))
    if kind == "star" and all(s.tab.name != "lat" for s in frm.sources):
        return Select(["*"], 0)  # width unknown: no ordinals
    items = []
    names = [c.name for s in frm.sources for c in s.tab.cols]
    for i in range(draw(st.integers(1, 4))):
        src = draw(st.sampled_from(frm.sources))
        expr, _ = draw(expression(src, qualify))
        alias = draw(st.sampled_from([None, None, f"c{i}", draw(st.sampled_from(names))]))
        items.append(f"{expr} AS {quote(alias)}" if alias else expr)
    return Select(items, len(items))


@st.composite
def aggregate_projection(draw, frm: From, qualify: bool, grouped: bool) -> Select:
    """count(*), count(col), sum, min, max; with GROUP BY keys in front when grouped."""
    group_by: list[str] = []
    items: list[str] = []
    if grouped:
        for _ in range(draw(st.integers(1, 2))):
            src = draw(st.sampled_from(frm.sources))
            expr, _ = draw(expression(src, qualify))
            if expr not in group_by:
                group_by.append(expr)
        items += group_by
    for i in range(draw(st.integers(1, 3))):
        src = draw(st.sampled_from(frm.sources))
        col = draw(st.sampled_from(src.tab.cols))
        ref = src.ref(col, qualify)
        fns = ["count(*)", f"count({ref})", f"min({ref})", f"max({ref})", f"count(DISTINCT {ref})"]
        if col.family in (Family.INT, Family.NUM):
            fns.append(f"sum({ref})")
        fn = draw(st.sampled_from(fns))
        items.append(draw(st.sampled_from([fn, f"{fn} AS a{i}"])))
    return Select(items, len(items), aggregated=True, group_by=group_by)


@st.composite
def limit_clause(draw, ordered: bool) -> str:
    """LIMIT/OFFSET around page boundaries (100 rows a page), LIMIT 0 and LIMIT n PERCENT."""
    n = draw(st.sampled_from([0, 1, 2, 3, 7, 99, 100, 101, 150]))
    off = draw(st.sampled_from([0, 0, 1, 5, 99, 100, 250]))
    kind = draw(st.sampled_from(["limit", "limit", "offset", "both", "percent"]))
    if kind == "percent":
        return f" LIMIT {draw(st.sampled_from([0, 10, 50, 100]))} PERCENT"
    if kind == "offset":
        return f" OFFSET {off}"
    if kind == "both":
        return f" LIMIT {n} OFFSET {off}"
    return f" LIMIT {n}"


@st.composite
def order_by(draw, sel: Select, frm: From, qualify: bool, only_outputs: bool = False) -> str:
    """ORDER BY keys (columns, aliases, expressions, ordinals, NULLS FIRST/LAST), then every
    output column as a tie-breaker so that the order (and a LIMIT window) is deterministic."""
    keys = []
    for _ in range(draw(st.integers(1, 2))):
        if sel.aggregated or only_outputs or (sel.width and draw(st.booleans())):
            if not sel.width:
                break
            keys.append(str(draw(st.integers(1, sel.width))))
        elif sel.items[0] != "*" and draw(st.booleans()):
            aliases = [i.rsplit(" AS ", 1)[1] for i in sel.items if " AS " in i]
            if not aliases:
                continue
            keys.append(draw(st.sampled_from(aliases)))
        else:
            src = draw(st.sampled_from(frm.sources))
            keys.append(draw(expression(src, qualify))[0])
    rendered = [
        k
        + draw(st.sampled_from(["", " ASC", " DESC"]))
        + draw(st.sampled_from(["", "", " NULLS FIRST", " NULLS LAST"]))
        for k in keys
    ]
    rendered.append("ALL" if not sel.width else ", ".join(str(i + 1) for i in range(sel.width)))
    if rendered[-1] == "ALL":
        # ORDER BY ALL cannot follow other keys: sort the star output by all of its columns
        return " ORDER BY ALL" + draw(st.sampled_from(["", " DESC"]))
    return " ORDER BY " + ", ".join(rendered)


@st.composite
def select_core(
    draw,
    model: Model,
    params: Params,
    allow_joins: bool = True,
    ctes: tuple = (),
    subqueries: bool = True,
) -> Generated:
    """SELECT [DISTINCT] ... FROM ... [WHERE] [GROUP BY/HAVING] [ORDER BY] [LIMIT]."""
    frm = draw(from_clause(model, params, allow_joins, ctes))
    qualify = len(frm.sources) > 1 or draw(st.booleans())
    shape = draw(st.sampled_from(["rows", "rows", "rows", "agg", "group"]))
    if shape == "rows":
        sel = draw(projection(frm, qualify))
    else:
        sel = draw(aggregate_projection(frm, qualify, grouped=shape == "group"))
    distinct = shape != "agg" and draw(st.integers(0, 4)) == 0
    sql = f"SELECT {'DISTINCT ' if distinct else ''}{', '.join(sel.items)} FROM {frm.sql}"
    if draw(st.integers(0, 4)):
        sub = model if subqueries and draw(st.integers(0, 3)) == 0 else None
        sql += f" WHERE {draw(predicate(list(frm.sources), params, qualify, subqueries=sub))}"
    if sel.group_by:
        sql += f" GROUP BY {', '.join(sel.group_by)}"
        if draw(st.booleans()):
            sql += f" HAVING count(*) {draw(st.sampled_from(['>', '<', '=']))} {draw(st.sampled_from([0, 1, 2, 5]))}"
    ordered = False
    # a window without ORDER BY is deterministic only over one plain scan (API order)
    plain = (
        len(frm.sources) == 1
        and shape == "rows"
        and not distinct
        and not ctes
        and not frm.sources[0].tab.scoped
    )
    want_order = draw(st.integers(0, 2)) == 0
    want_limit = draw(st.integers(0, 2)) == 0
    if shape == "agg" and not sel.group_by:
        want_order = False  # one row: LIMIT/OFFSET windows over it are deterministic
    elif want_limit and not plain:
        want_order = True
    if want_order:
        sql += draw(order_by(sel, frm, qualify, only_outputs=distinct))
        ordered = True
    if want_limit:
        sql += draw(limit_clause(ordered))
    return Generated(sql, params.values, ordered)


@st.composite
def query(draw, model: Model) -> Generated:
    """The top of the grammar: a SELECT, a set operation, or a SELECT under CTEs."""
    params = Params()
    kind = draw(
        st.sampled_from(
            ["core"] * 6
            + ["topn"] * 2
            + ["setop", "cte", "cte_shadow", "grouped", "scalar", "join_count"]
        )
    )
    if kind == "topn":
        return draw(top_n(model, params))
    if kind == "grouped":
        return draw(grouped_count(model, params))
    if kind == "join_count":
        return draw(join_count(model, params))
    if kind == "scalar":
        return draw(scalar_projection(model, params))
    if kind == "setop":
        return draw(set_operation(model, params))
    if kind in ("cte", "cte_shadow"):
        return draw(with_cte(model, params, shadow=kind == "cte_shadow"))
    return draw(select_core(model, params))


@st.composite
def top_n(draw, model: Model, params: Params) -> Generated:
    """ORDER BY one key (a column the server can sort by, most often) LIMIT n [OFFSET m].

    No tie-breakers: this is the shape that `order_by` + page windows can answer, and where
    the server's sort (case-insensitive, numbers in text sorted as numbers, NULLs last) may
    disagree with DuckDB's. The key is an output column so ties can be compared as groups.
    """
    tab = draw(st.sampled_from([t for t in model.tables for _ in range(2 if t.sortable else 1)]))
    src = Source(tab.name, "t0", tab)
    qualify = draw(st.booleans())
    names = tab.sortable if tab.sortable and draw(st.integers(0, 3)) else [c.name for c in tab.cols]
    key = tab.col(draw(st.sampled_from(list(names))))
    others = draw(st.lists(st.sampled_from(tab.cols), max_size=2))
    position = draw(st.integers(0, len(others)))
    cols = [*others[:position], key, *others[position:]]
    items = [src.ref(c, qualify) for c in cols]
    how = draw(st.sampled_from(["name", "name", "ordinal", "alias"]))
    if how == "alias":
        # an alias, sometimes the name of another column of the table (it shadows it)
        taken = {key.name} | {c.name for c in others}
        alias = draw(st.sampled_from(["k", *[c.name for c in tab.cols if c.name not in taken]]))
        items[position] += f" AS {quote(alias)}"
        ref = quote(alias)
    else:
        ref = str(position + 1) if how == "ordinal" else src.ref(key, qualify)
    sql = f"SELECT {', '.join(items)} FROM {tab.name} t0"
    if draw(st.booleans()):
        sql += f" WHERE {draw(predicate([src], params, qualify, depth=1))}"
    direction = draw(st.sampled_from(["", " ASC", " DESC"]))
    nulls = draw(st.sampled_from(["", "", " NULLS FIRST", " NULLS LAST"]))
    sql += f" ORDER BY {ref}{direction}{nulls}"
    sql += draw(
        st.sampled_from(["", " LIMIT 1", " LIMIT 3", " LIMIT 10", " LIMIT 100", " LIMIT 101"])
    )
    if draw(st.booleans()):
        sql += f" OFFSET {draw(st.sampled_from([1, 2, 99, 100]))}"
    return Generated(sql, params.values, ordered=True, tie_keys=(position,))


@st.composite
def grouped_count(draw, model: Model, params: Params) -> Generated:
    """count(*) per path key (csql may answer it from each scope's `total`), with WHERE and
    HAVING on the key, on other columns or on constants."""
    tab = model.table(draw(st.sampled_from(["contacts", "contacts", "sms_history"])))
    src = Source(tab.name, "t0", tab)
    key = draw(st.sampled_from(["list_id", "list_id", "contact_id"]))
    aggs = draw(st.sampled_from(["count(*)", "count(*) AS n", "count(*), count(list_id)"]))
    sql = f"SELECT t0.{key}, {aggs} FROM {tab.name} t0"
    if draw(st.booleans()):
        sql += f" WHERE {draw(predicate([src], params, True, depth=1))}"
    sql += " GROUP BY " + draw(st.sampled_from([f"t0.{key}", f"t0.{key}", "1", "ALL"]))
    if draw(st.booleans()):
        sql += f" HAVING count(*) {draw(st.sampled_from(['>', '=', '<']))} {draw(st.sampled_from([0, 1, 100]))}"
    return Generated(sql + " ORDER BY 1", params.values, ordered=True)


@st.composite
def join_count(draw, model: Model, params: Params) -> Generated:
    """count(*) over contacts joined to lists (csql may sum each list's `total`), grouped by
    a column of lists or not, with WHERE on either side; also the near misses that must
    not take that shortcut: outer joins, a contacts column named, count(col), DISTINCT."""
    c, lst = _source(model.table("contacts"), "c"), _source(model.table("lists"), "l")
    kind = draw(st.sampled_from(["JOIN", "JOIN", "INNER JOIN", "LEFT JOIN", "RIGHT JOIN"]))
    using = draw(st.booleans())
    join = "USING (list_id)" if using else "ON c.list_id = l.list_id"
    frm = f"contacts c {kind} lists l {join}"
    if draw(st.integers(0, 4)) == 0:  # a third reference: lists joined twice
        frm += " JOIN lists l2 ON l2.list_id = l.list_id"
    group = draw(st.sampled_from([None, "list_name", "list_id", "_contacts_count"]))
    agg = draw(
        st.sampled_from(
            ["count(*)"] * 4 + ["count(*) AS n", "count(c.first_name)", "count(DISTINCT l.list_id)"]
        )
    )
    head = f"l.{quote(group)}, " if group else ""
    sql = f"SELECT {head}{agg} FROM {frm}"
    where = []
    for side in draw(st.lists(st.sampled_from([lst, lst, c]), max_size=2)):
        where.append(draw(predicate([side], params, True, depth=1)))
    if where:
        sql += " WHERE " + " AND ".join(f"({w})" for w in where)
    if group:
        sql += f" GROUP BY l.{quote(group)}"
        if draw(st.booleans()):
            sql += f" HAVING count(*) {draw(st.sampled_from(['>', '=', '<']))} {draw(st.sampled_from([0, 1, 50]))}"
        return Generated(sql + " ORDER BY 1 NULLS FIRST, 2", params.values, ordered=True)
    return Generated(sql, params.values)


@st.composite
def scalar_projection(draw, model: Model, params: Params) -> Generated:
    """A correlated scalar subquery in the SELECT list, over a derived table sometimes."""
    outer, inner = draw(st.sampled_from(_pairs(model)))
    a, b = _source(model.table(outer), "t0"), _source(model.table(inner), "t1")
    on = draw(join_on(b, a, params, model.edges))
    agg = draw(st.sampled_from(["count(*)", f"max({b.ref(b.tab.cols[0])})"]))
    sub = f"(SELECT {agg} FROM {inner} t1 WHERE {on})" if on else f"(SELECT {agg} FROM {inner} t1)"
    col = draw(st.sampled_from(a.tab.cols))
    source = f"{outer} t0"
    if draw(st.booleans()):
        # a derived table: the outer rows come from a subquery with its own WHERE and LIMIT
        inner_where = draw(predicate([Source(outer, "d", a.tab)], params, True, depth=1))
        source = f"(SELECT * FROM {outer} d WHERE {inner_where}) t0"
    sql = f"SELECT {a.ref(col)}, {sub} AS s FROM {source}"
    if draw(st.booleans()):
        sql += f" WHERE {draw(predicate([a], params, True, depth=1))}"
    return Generated(sql, params.values)


@st.composite
def set_operation(draw, model: Model, params: Params) -> Generated:
    """UNION [ALL] / INTERSECT [ALL] / EXCEPT [ALL] of two single-column selects."""
    fam = draw(st.sampled_from([Family.TEXT, Family.INT]))
    parts = []
    for i in range(2):
        tab = draw(
            st.sampled_from([t for t in model.tables if any(c.family == fam for c in t.cols)])
        )
        col = draw(st.sampled_from([c for c in tab.cols if c.family == fam]))
        src = Source(tab.name, f"u{i}", tab)
        part = f"SELECT {src.ref(col)} FROM {tab.name} u{i}"
        if draw(st.booleans()):
            part += f" WHERE {draw(predicate([src], params, True, depth=1))}"
        parts.append(part)
    op = draw(
        st.sampled_from(
            ["UNION", "UNION ALL", "INTERSECT", "EXCEPT", "INTERSECT ALL", "EXCEPT ALL"]
        )
    )
    sql = f"{parts[0]} {op} {parts[1]}"
    ordered = draw(st.booleans())
    if ordered:
        sql += f" ORDER BY 1{draw(st.sampled_from(['', ' DESC', ' NULLS FIRST']))}"
        if draw(st.booleans()):
            sql += draw(limit_clause(True))
    return Generated(sql, params.values, ordered)


@st.composite
def with_cte(draw, model: Model, params: Params, shadow: bool) -> Generated:
    """WITH w AS (SELECT * FROM t WHERE p) SELECT ...; with shadow the CTE is named like t."""
    tab = draw(st.sampled_from(model.tables))
    src = Source(tab.name, "t0", tab)
    body = f"SELECT * FROM {tab.name} t0"
    if draw(st.integers(0, 3)):
        body += f" WHERE {draw(predicate([src], params, True, depth=1))}"
    if draw(st.integers(0, 4)) == 0:
        body += f" ORDER BY ALL LIMIT {draw(st.sampled_from([1, 3, 100]))}"
    name = tab.name if shadow else "w"
    cte = (name, Tab(name, tab.cols))
    core = draw(select_core(model, params, allow_joins=False, ctes=(cte,), subqueries=False))
    if draw(st.booleans()) or name not in core.sql:
        # make sure the CTE is read: the outer query reads it (joined with itself sometimes)
        alias_src = Source(name, "t0", cte[1])
        col = draw(st.sampled_from(tab.cols))
        other = f"SELECT t0.{quote(col.name)} FROM {name} t0"
        if draw(st.booleans()):
            other += (
                f" JOIN {name} t1 ON t0.{quote(tab.cols[0].name)} = t1.{quote(tab.cols[0].name)}"
            )
        if draw(st.booleans()):
            other += f" WHERE {draw(predicate([alias_src], params, True, depth=1))}"
        core = Generated(other, params.values, False)
    return Generated(f"WITH {name} AS ({body}) {core.sql}", params.values, core.ordered)


# --- TLP and NoREC inputs --------------------------------------------------------------------


@dataclass
class Partitioned:
    """For TLP: a query without WHERE, the predicate to partition by, and the mode."""

    select: str  # SELECT ... FROM ... (no WHERE)
    base_where: str | None
    predicate: str
    mode: str  # rows | distinct | count | max
    params: dict

    def whole(self) -> str:
        return self.select + (f" WHERE {self.base_where}" if self.base_where else "")

    def part(self, how: str) -> str:
        cond = {"true": f"({self.predicate})", "false": f"NOT ({self.predicate})"}.get(
            how, f"({self.predicate}) IS NULL"
        )
        if self.base_where:
            cond = f"({self.base_where}) AND {cond}"
        return f"{self.select} WHERE {cond}"


@st.composite
def tlp_case(draw, model: Model) -> Partitioned:
    params = Params()
    frm = draw(from_clause(model, params))
    qualify = len(frm.sources) > 1 or draw(st.booleans())
    mode = draw(st.sampled_from(["rows", "rows", "distinct", "count", "max"]))
    src = draw(st.sampled_from(frm.sources))
    col = draw(st.sampled_from(src.tab.cols))
    if mode == "count":
        items = "count(*)"
    elif mode == "max":
        items = f"max({src.ref(col, qualify)})"
    else:
        sel = draw(projection(frm, qualify))
        items = ("DISTINCT " if mode == "distinct" else "") + ", ".join(sel.items)
    base = None
    if draw(st.integers(0, 3)) == 0:
        base = draw(predicate(list(frm.sources), params, qualify, depth=0))
    sub = model if draw(st.integers(0, 4)) == 0 else None
    pred = draw(predicate(list(frm.sources), params, qualify, subqueries=sub))
    return Partitioned(f"SELECT {items} FROM {frm.sql}", base, pred, mode, params.values)


@dataclass
class NoRec:
    """For NoREC: the optimisable count and the unoptimisable sum over the same rows."""

    from_sql: str
    predicate: str
    params: dict

    def counted(self) -> str:
        return f"SELECT count(*) FROM {self.from_sql} WHERE {self.predicate}"

    def summed(self) -> str:
        return f"SELECT sum(CASE WHEN {self.predicate} THEN 1 ELSE 0 END) FROM {self.from_sql}"


@st.composite
def norec_case(draw, model: Model) -> NoRec:
    params = Params()
    frm = draw(from_clause(model, params))
    qualify = len(frm.sources) > 1 or draw(st.booleans())
    sub = model if draw(st.integers(0, 4)) == 0 else None
    pred = draw(predicate(list(frm.sources), params, qualify, subqueries=sub))
    return NoRec(frm.sql, pred, params.values)


def reference_form(sql: str) -> str:
    """`:prmN` placeholders as DuckDB's `$prmN`."""
    return re.sub(r":(prm\d+)\b", r"$\1", sql)


def used_params(sql: str, params: dict) -> dict:
    """Only the parameters a statement names (csql rejects unused ones)."""
    names = set(re.findall(r":(prm\d+)\b", sql))
    return {k: v for k, v in params.items() if k in names}


def all_values(model: Model) -> Iterable:
    for t in model.tables:
        for c in t.cols:
            yield from c.samples
