"""The native JSON -> Arrow path (csql.read.arrow.records_to_arrow) against the exact one
(records_to_arrow_exact) on generated odd pages: the same table, or the same DataError."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csql.catalog import default_catalog
from csql.errors import DataError
from csql.read import arrow

CATALOG = default_catalog()
#: tables that together have every column type (account: all seven; account_usage: path keys)
TABLES = ["sms_history", "contacts", "account", "account_usage", "delivery_issues"]

_ints = st.integers(-(2**31), 2**31 - 1)
_big = st.integers(-(2**53), 2**53)
_finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
_text = st.text(max_size=8)
_odd = st.sampled_from(["", " ", "29.00", "12.5", "abc", "1e3", " 7", "+5", "-0", "yesterday"])

#: shapes a column's values come in, per catalog type (one shape per column, usually)
SHAPES: dict[str, list[st.SearchStrategy]] = {
    "integer": [_ints, _ints.map(str), _odd, st.booleans(), _ints.map(float)],
    "bigint": [_big, _big.map(str), _odd, st.booleans()],
    "double": [_finite, _ints, _finite.map(repr), _odd],
    "decimal": [
        st.decimals(-(10**9), 10**9, places=6, allow_nan=False).map(str),
        st.integers(-(10**9), 10**9),
        st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 4)),
        _odd,
    ],
    "boolean": [
        st.booleans(),
        st.sampled_from([0, 1]),
        st.sampled_from([0, 1, 2]),
        st.sampled_from(["1", "0", "yes", "no", "", "T", "maybe", " true "]),
    ],
    "timestamp": [st.integers(0, 2_000_000_000), st.integers(0, 2_000_000_000).map(str), _odd],
    "varchar": [_text, _ints, st.booleans(), _finite, st.dictionaries(_text, _ints, max_size=2)],
    "json": [  # nested values always take the exact path (they need the original objects)
        _text,
        _ints,
        st.dictionaries(_text, _ints | _text, max_size=3),
        st.lists(_ints, max_size=3),
    ],
}


@st.composite
def page_pair(draw):
    """(table, first page, second page): pages of 1-8 records. Each column keeps one shape,
    mostly a clean one (so that second pages often go native), on both pages; in a third of
    the second pages one column changes shape or mixes two; NULLs and missing keys
    everywhere."""
    table = CATALOG.table(draw(st.sampled_from(TABLES)))
    shapes = {}
    for col in table.columns:
        options = SHAPES[col.type]
        clean = draw(st.integers(0, 9)) < 8
        shapes[col.name] = draw(st.sampled_from(options[:2] if clean else options))

    def page(change: bool) -> list[dict]:
        n = draw(st.integers(1, 8))
        columns = {}
        changed = draw(st.sampled_from(table.columns)).name if change else None
        for col in table.columns:
            values = shapes[col.name]
            if col.name == changed and draw(st.integers(0, 2)) == 0:
                values = draw(st.sampled_from(SHAPES[col.type]))
                if draw(st.booleans()):
                    values = values | shapes[col.name]  # mixed on one page
            values = st.one_of(values, values, values, st.none())  # a NULL in four
            columns[col.name] = draw(st.lists(values, min_size=n, max_size=n))
        records = []
        for i in range(n):
            rec = {name: vals[i] for name, vals in columns.items()}
            if draw(st.integers(0, 7)) == 0:  # a record without some field
                rec.pop(draw(st.sampled_from(sorted(rec))))
            records.append(rec)
        return records

    return table, page(False), page(True)


def _either(fn, *args):
    try:
        return fn(*args)
    except DataError as e:
        return f"DataError: {e}"


def _fixed(table) -> dict:
    return {c.name: 7 for c in table.columns if c.source == "path"}


NATIVE_USED: list[bool] = []


def _check_pair(pages) -> None:
    """After the first page taught the wire types, the second converts natively when it can;
    whichever path it took, the answer is the exact path's (or the same DataError)."""
    table, first, second = pages
    fixed = _fixed(table)
    saved, arrow.WIRE_TYPES = arrow.WIRE_TYPES, arrow.WireTypes()  # nothing learned yet
    try:
        _either(arrow.records_to_arrow, first, table, fixed)  # learns (only if it converted)
        native = _either(arrow.records_to_arrow, second, table, fixed)
        NATIVE_USED.append(arrow._native(second, table, fixed) is not None)
    finally:
        arrow.WIRE_TYPES = saved
    exact = _either(arrow.records_to_arrow_exact, second, table, fixed)
    if isinstance(exact, str) or isinstance(native, str):
        assert native == exact
    else:
        assert native.schema == exact.schema
        assert native.equals(exact), (native.to_pylist(), exact.to_pylist())


_SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}


@settings(max_examples=30, derandomize=True, **_SETTINGS)  # the same pages every run
@given(page_pair())
def _generated(pages):
    _check_pair(pages)


def test_native_equals_exact_on_generated_pages():
    NATIVE_USED.clear()
    _generated()
    # not vacuous: a good share of the second pages took the native path
    assert sum(NATIVE_USED) >= len(NATIVE_USED) // 10, (sum(NATIVE_USED), len(NATIVE_USED))


@pytest.mark.slow
@settings(max_examples=500, **_SETTINGS)
@given(page_pair())
def test_native_equals_exact_on_many_generated_pages(pages):
    _check_pair(pages)


def _reset(monkeypatch) -> None:
    monkeypatch.setattr(arrow, "WIRE_TYPES", arrow.WireTypes())


SMS = {
    "message_id": "A-1", "direction": "out", "date": 1732313225, "to": "+61400000000",
    "body": "hi", "status": "Completed", "from": "csql", "schedule": "1732313225",
    "status_code": "201", "status_text": None, "error_code": None, "error_text": None,
    "message_parts": 2, "message_price": "0.077000", "from_email": None, "list_id": "756",
    "custom_string": None, "contact_id": "2583", "user_id": 97393, "subaccount_id": 132,
    "country": "AU", "carrier": "Telstra", "first_name": "Ava", "last_name": "Scott",
    "_api_username": "sandbox",
}  # fmt: skip


def test_a_page_of_a_known_shape_takes_the_native_path(monkeypatch):
    _reset(monkeypatch)
    table = CATALOG.table("sms_history")
    page = [dict(SMS, message_id=f"A-{i}") for i in range(50)]
    assert arrow._native(page, table, {}) is None  # nothing learned yet
    first = arrow.records_to_arrow(page, table)
    native = arrow._native(page, table, {})
    assert native is not None and native.equals(first)
    assert native.equals(arrow.records_to_arrow_exact(page, table))
    row = native.to_pylist()[0]
    assert row["list_id"] == 756 and row["contact_id"] == 2583  # numbers as strings
    assert str(row["message_price"]) == "0.077000"
    assert row["schedule"] == row["date"]  # seconds as a string and as a number


def test_odd_shapes_fall_back_and_keep_their_rules(monkeypatch):
    """'' is NULL, '29.00' a whole number, 0/1 flags, nested objects as JSON text: all take
    the exact path after the native one declined, and the next clean page is native again."""
    _reset(monkeypatch)
    table = CATALOG.table("sms_history")
    clean = [dict(SMS) for _ in range(3)]
    arrow.records_to_arrow(clean, table)
    odd = [dict(SMS, list_id=""), dict(SMS, list_id="29.00"), dict(SMS, list_id=None)]
    out = arrow.records_to_arrow(odd, table)
    assert out.column("list_id").to_pylist() == [None, 29, None]
    with pytest.raises(DataError, match=r"sms_history\.list_id.*'29\.5'"):
        arrow.records_to_arrow([dict(SMS, list_id="29.5")], table)
    account = CATALOG.table("account")
    flags = [c.name for c in account.columns if c.type == "boolean"]
    nested = [c.name for c in account.columns if c.type == "json"]
    recs = [{flags[0]: 1, nested[0]: {"a": [1, 2]}}, {flags[0]: 0, nested[0]: None}]
    arrow.records_to_arrow(recs, account)
    out = arrow.records_to_arrow(recs, account)
    assert out.column(flags[0]).to_pylist() == [True, False]
    assert out.column(nested[0]).to_pylist() == ['{"a":[1,2]}', None]


def test_int_strings_beyond_double_precision_stay_exact(monkeypatch):
    _reset(monkeypatch)
    table = CATALOG.table("sms_history")
    big = str(2**53 + 1)
    out = arrow.records_to_arrow([dict(SMS, contact_id=big)], table)
    assert out.column("contact_id").to_pylist() == [2**53 + 1]


def test_path_values_fill_their_columns_natively(monkeypatch):
    _reset(monkeypatch)
    table = CATALOG.table("account_usage")
    cols = [c for c in table.columns if c.source != "path"]
    rec = {c.name: (1 if c.type == "integer" else None) for c in cols}
    fixed = {"year": 2024, "month": 5}
    arrow.records_to_arrow([rec, rec], table, fixed)
    native = arrow._native([rec, rec], table, fixed)
    assert native is not None
    assert native.column("year").to_pylist() == [2024, 2024]
    assert native.equals(arrow.records_to_arrow_exact([rec, rec], table, fixed))


def test_wire_types_remember_columns_that_were_all_null(monkeypatch):
    _reset(monkeypatch)
    table = CATALOG.table("sms_history")
    arrow.records_to_arrow([dict(SMS)], table)
    arrow.records_to_arrow([dict(SMS, list_id=None)], table)  # native; nothing relearned
    wire = arrow.WIRE_TYPES.get(table)
    assert wire.field("list_id").type == pa.string()
