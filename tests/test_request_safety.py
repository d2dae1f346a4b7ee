"""No request outside the catalog: path values are validated, every path is checked against
the endpoint templates before it is sent, and retries follow the catalog's `retry` rules.

Unit tests on the catalog objects (render, Routes, check_integer) and end-to-end tests through
the DB-API against the sandbox, whose request log shows exactly what was sent. Hostile values
come from hypothesis (dot segments, encoded dots, slashes, query and fragment markers, NUL and
control characters, RTL and combining unicode, 100k-character strings, the empty string).
"""

from __future__ import annotations

import asyncio
import itertools
import math
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import csql
from csql.catalog import (
    INT_RANGES,
    MAX_SEGMENT,
    PathValue,
    Retry,
    check_integer,
    default_catalog,
    load_catalog,
)
from csql.client import Client
from csql.errors import CatalogError, OutcomeUnknownError, ProgrammingError
from csql.sandbox import Sandbox

#: a fresh account per mock client: the adaptive rate state is per account, and one
#: test's lost answers must not slow the next one down
_ACCOUNTS = itertools.count()

CATALOG = default_catalog()

#: values that must never reach a path as they are
HOSTILE = [
    ".", "..", "", "%2e", "%2e%2e", "%2E", "/", "a/b", "../lists", "?", "a?b=1", "#", "a#b",
    "\x00", "a\x00b", "\n", "\r\n", "\t", "\x7f", "\u202eabc", "a\u0301", "\u200b", "١٢٣",
    "x" * 100_000, "\\", "..\\..", "%", "%00", "\ufeff", "ａｂ", " . ", "\u2024",
]  # fmt: skip

HOSTILE_INTEGERS = ["1 OR 1=1", "٥٢١", "05", " 5", "5 ", "+5", "1e3", "0x10", "", "5.0", "--1",
                    2**70, -(2**70), float(2**70), 1.5, math.inf, math.nan, True, None]  # fmt: skip


def _path_slots():
    """(owner, endpoint, placeholder) for every placeholder of every endpoint in the catalog."""
    for owner, ep in CATALOG.endpoints():
        for ph in ep.placeholders:
            yield owner, ep, ph


SLOTS = list(_path_slots())


def _valid(rule: PathValue):
    if rule.type in INT_RANGES:
        return 1 if rule.minimum is None else rule.minimum
    return "AU" if rule.pattern else "abc-123"


def _render(ep, ph, value):
    values = {p: _valid(ep.values[p]) for p in ep.placeholders}
    values[ph] = value
    return ep.render(values)


# --- unit: path values ------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:20])
def test_hostile_strings_never_fill_a_path(value):
    ep = CATALOG.procedure("CancelSMS").endpoint
    with pytest.raises(ProgrammingError, match=r"message_id .*nothing was sent"):
        ep.render({"message_id": value})


@pytest.mark.parametrize("value", HOSTILE_INTEGERS, ids=lambda v: repr(v)[:20])
def test_hostile_integers_never_fill_a_path(value):
    ep = CATALOG.procedure("CancelSMSCampaign").endpoint
    with pytest.raises(ProgrammingError, match="sms_campaign_id"):
        ep.render({"sms_campaign_id": value})


def test_good_values_fill_paths():
    ep = CATALOG.procedure("CancelSMSCampaign").endpoint
    assert ep.render({"sms_campaign_id": 42}) == "/sms-campaigns/42/cancel"
    assert ep.render({"sms_campaign_id": "42"}) == "/sms-campaigns/42/cancel"
    assert ep.render({"sms_campaign_id": 2**63 - 1}) == f"/sms-campaigns/{2**63 - 1}/cancel"
    sms = CATALOG.procedure("CancelSMS").endpoint
    uuid = "BF7AD270-0DE2-418B-B606-71D527D9C1AE"
    assert sms.render({"message_id": uuid}) == f"/sms/{uuid}/cancel"
    assert sms.render({"message_id": "a b"}) == "/sms/a%20b/cancel"  # encoded, one segment
    assert sms.render({"message_id": "x" * MAX_SEGMENT}).count("/") == 3


def test_integer_rules():
    assert check_integer("-7", "bigint") == -7
    assert check_integer(5.0, "bigint") == 5
    with pytest.raises(ValueError, match="out of range"):
        check_integer(2**31, "integer")
    with pytest.raises(ValueError, match="out of range"):
        check_integer(13, "integer", 1, 12)
    with pytest.raises(ValueError, match="exact"):
        check_integer(float(2**60), "bigint")


def test_declared_pattern_is_enforced():
    ep = CATALOG.table("available_numbers").list_endpoint
    assert ep.render({"country": "AU"}) == "/numbers/search/AU"
    with pytest.raises(ProgrammingError, match="pattern"):
        ep.render({"country": "AUS"})


def test_missing_or_null_key_is_refused():
    ep = CATALOG.table("contacts").endpoints["get"]
    with pytest.raises(ProgrammingError, match="contact_id is NULL"):
        ep.render({"list_id": 1, "contact_id": None})
    with pytest.raises(ProgrammingError, match="list_id is NULL"):
        ep.render({"contact_id": 1})


PLACEHOLDER_VALUES = st.one_of(
    st.sampled_from(HOSTILE + HOSTILE_INTEGERS),
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from("./%?#\\\x00 .2eE"), max_size=8),
    st.integers(),
    st.floats(),
    st.decimals(),
    st.booleans(),
)


def _refuses_or_renders_a_catalog_path(slot, value):
    """For every placeholder of every endpoint and any value, render either refuses with a
    ProgrammingError naming the placeholder, or gives a path that fills that template."""
    owner, ep, ph = slot
    try:
        path = _render(ep, ph, value)
    except ProgrammingError as e:
        assert ph in str(e)
        return
    routes = CATALOG.routes.match(ep.method, path)
    assert any(r.endpoint.path == ep.path for r in routes), (owner, path)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(slot=st.sampled_from(SLOTS), value=PLACEHOLDER_VALUES)
def test_every_placeholder_refuses_or_renders_a_catalog_path(slot, value):
    _refuses_or_renders_a_catalog_path(slot, value)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, derandomize=True)
@given(slot=st.sampled_from(SLOTS), value=PLACEHOLDER_VALUES)
def test_every_placeholder_refuses_or_renders_a_catalog_path_long(slot, value):
    _refuses_or_renders_a_catalog_path(slot, value)


# --- unit: routes -----------------------------------------------------------------------------


def test_every_endpoint_renders_into_its_own_template():
    for owner, ep in CATALOG.endpoints():
        path = (
            _render(ep, ep.placeholders[0], _valid(ep.values[ep.placeholders[0]]))
            if (ep.placeholders)
            else ep.render({})
        )
        assert any(r.endpoint.path == ep.path for r in CATALOG.routes.match(ep.method, path)), owner


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "/sms/inbound-read"[:0] + "/sms/../cancel"),
        ("PUT", "/cancel"),
        ("PUT", "/sms//cancel"),
        ("PUT", "/sms/%2e/cancel"),
        ("PUT", "/sms/%2E%2E/cancel"),
        ("PUT", "/sms/%252e%252e/cancel"),  # double encoding
        ("PUT", "/sms/a%2Fb/cancel"),
        ("PUT", "/sms/abc/cancel?x=1"),
        ("PUT", "/sms/abc/cancel#x"),
        ("PUT", "/sms/abc/cancel/"),
        ("GET", "/numbers/search/.."),
        ("GET", "/lists/1/../../account"),
        ("DELETE", "/sms/templates"),  # a real path, but not with this method
        ("GET", "sms/history"),
        ("GET", "/sms/a%00b/cancel"),
    ],
)
def test_paths_outside_the_catalog_match_no_template(method, path):
    assert CATALOG.routes.match(method, path) == []
    assert CATALOG.routes.retry(method, path) is None


def test_client_refuses_a_path_outside_the_catalog_and_sends_nothing():
    seen = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200))
    client = Client(f"u{next(_ACCOUNTS)}", "key-123456", "https://example.invalid/v3")
    client._ensure()
    client._http = httpx.AsyncClient(base_url=client.base_url, transport=transport)
    for method, path in [("PUT", "/cancel"), ("PUT", "/sms/inbound-read/../x"),
                         ("GET", "/numbers"[:0] + "/etc/passwd")]:  # fmt: skip
        with pytest.raises(ProgrammingError, match="not an endpoint of the catalog"):
            asyncio.run(client.request(method, path))
    assert seen == []
    asyncio.run(client.request("GET", "/sms/history"))
    assert [r.url.path for r in seen] == ["/v3/sms/history"]


# --- unit: retry is catalog data --------------------------------------------------------------


def test_every_endpoint_declares_a_retry_rule():
    for owner, ep in CATALOG.endpoints():
        assert isinstance(ep.retry, Retry), owner
        if ep.method == "GET":
            assert ep.retry is Retry.SAFE, owner


def test_table_defaults_reads_updates_deletes_safe_inserts_never():
    for t in CATALOG.tables:
        for kind, ep in t.endpoints.items():
            expected = Retry.NEVER if kind in ("insert", "bulk_insert") else Retry.SAFE
            assert ep.retry is expected, (t.name, kind)


def test_actions_are_never_retried():
    for p in CATALOG.procedures:
        if (
            p.method in ("PUT", "PATCH", "DELETE")
            or p.costs_money
            or p.name.startswith(
                ("Send", "Purchase", "Cancel", "Copy", "Transfer", "Mark", "Verify", "Remove")
            )
        ):
            assert p.retry is Retry.NEVER, p.name
    for name in ("PurchaseRechargePackage", "CopyContactToList", "CancelSMS", "SendSMS",
                 "MarkSpecificInboundSMSAsRead", "TransferContactToList"):  # fmt: skip
        assert CATALOG.procedure(name).retry is Retry.NEVER
    assert CATALOG.routes.retry("PUT", "/recharge/purchase/5") is Retry.NEVER
    assert CATALOG.routes.retry("PUT", "/lists/1/contacts/2") is Retry.SAFE  # table UPDATE
    assert CATALOG.routes.retry("DELETE", "/lists/1") is Retry.SAFE


def test_retry_rules_read_as_strings_and_flags():
    purchase = CATALOG.procedure("PurchaseRechargePackage")
    assert purchase.retry == "never" and not purchase.idempotent
    assert not purchase.endpoint.idempotent
    assert CATALOG.table("lists").endpoints["delete"].idempotent
    assert CATALOG.table("lists").endpoints["update"].retry == "safe"


def test_price_quotes_are_declared_safe():
    quotes = [p for p in CATALOG.procedures if p.name.startswith("Calculate")]
    assert quotes and all(p.retry is Retry.SAFE for p in quotes)


_MINI = """
group: Test
tables:
  things:
    description: Things.
    operations: [SELECT, DELETE]
    endpoints:
      list:   {method: GET, path: /things, paging: page}
      delete: {method: DELETE, path: "/things/{thing_id}"TABLE_RETRY}
    columns:
      thing_id: {type: bigint, primary_key: true}
procedures:
  CancelThing:
    description: Cancel a thing.
    method: PUT
    path: "/things/{thing_id}/cancel"
    body: none
    PROC_RETRY
    parameters:
      thing_id: {type: TYPE, required: true RULE}
"""


def _mini(tmp_path: Path, table_retry="", proc_retry="", type_="bigint", rule=""):
    """A one-file catalog with a table and a procedure, with the keys under test filled in."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    text = (_MINI.replace("TABLE_RETRY", table_retry).replace("PROC_RETRY", proc_retry)
            .replace("TYPE", type_).replace(" RULE", rule))  # fmt: skip
    (tmp_path / "test.yaml").write_text(text)
    return load_catalog(tmp_path)


def test_bad_catalog_keys_are_reported(tmp_path):
    with pytest.raises(
        CatalogError, match=r"test.yaml: procedure CancelThing: .*retry 'sometimes'"
    ):
        _mini(tmp_path / "a", proc_retry="retry: sometimes")
    with pytest.raises(CatalogError, match=r"table things: endpoints.delete.retry"):
        _mini(tmp_path / "b", table_retry=", retry: maybe")
    with pytest.raises(CatalogError, match="minimum needs an integer type"):
        _mini(tmp_path / "c", type_="varchar", rule=", minimum: 1")
    with pytest.raises(CatalogError, match="not a regular expression"):
        _mini(tmp_path / "d", type_="varchar", rule=", pattern: '[a-'")
    with pytest.raises(CatalogError, match="minimum is above maximum"):
        _mini(tmp_path / "e", rule=", minimum: 5, maximum: 1")


def test_declared_retry_and_range_are_loaded(tmp_path):
    cat = _mini(tmp_path / "a", rule=", minimum: 1, maximum: 99")
    ep = cat.procedure("CancelThing").endpoint
    assert ep.retry is Retry.NEVER  # a PUT procedure: an action, by default
    assert cat.table("things").endpoints["delete"].retry is Retry.SAFE
    assert ep.render({"thing_id": 99}) == "/things/99/cancel"
    with pytest.raises(ProgrammingError, match=r"100 is out of range \(1\.\.99\)"):
        ep.render({"thing_id": 100})
    cat = _mini(tmp_path / "b", table_retry=", retry: never", proc_retry="retry: safe",
                type_="varchar", rule=", pattern: '[a-z]+'")  # fmt: skip
    assert cat.procedure("CancelThing").retry is Retry.SAFE
    assert cat.table("things").endpoints["delete"].retry is Retry.NEVER
    assert cat.routes.retry("DELETE", "/things/5") is Retry.NEVER
    with pytest.raises(ProgrammingError, match="pattern"):
        cat.procedure("CancelThing").endpoint.render({"thing_id": "abc1"})


# --- end to end: nothing is sent --------------------------------------------------------------


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=3, scale=0.05) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def conn(sb):
    c = csql.connect(sb.username, sb.api_key, sb.base_url, backoff=0.01)
    yield c
    c.close()


@pytest.mark.parametrize(
    "sql,name",
    [
        ("CALL MarkSpecificInboundSMSAsRead('.')", "message_id"),
        ("CALL CancelSMS('..')", "message_id"),
        ("CALL CancelSMS('')", "message_id"),
        ("CALL CancelSMS('a/b')", "message_id"),
        ("CALL CancelSMSCampaign('1 OR 1=1')", "sms_campaign_id"),
        ("CALL CancelSMSCampaign(2**70)", "sms_campaign_id"),
        ("CALL CancelSMSCampaign(1.5)", "sms_campaign_id"),
        ("CALL PurchaseRechargePackage('٥')", "package_id"),
        ("CALL CopyContactToList('..', 1, 2)", "from_list_id"),
    ],
)
def test_bad_values_are_refused_with_nothing_sent(conn, sb, sql, name):
    sb.reset_log()
    with pytest.raises(csql.Error) as info:
        conn.execute(sql)
    assert isinstance(info.value, csql.ProgrammingError | csql.DataError), info.value
    assert name in str(info.value)
    assert len(sb.request_log) == 0, sb.request_log.snapshot()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM available_numbers WHERE country = '..'",
        "SELECT * FROM available_numbers WHERE country = '%2e%2e'",
        "SELECT * FROM available_numbers WHERE country = ''",
        "SELECT * FROM fax_receipts WHERE message_id = '..'",
        "SELECT * FROM alpha_tags WHERE id = '.'",
        "SELECT * FROM contacts WHERE list_id = 1 AND contact_id = 99999999999999999999999",
        "DELETE FROM alpha_tags WHERE id = '..'",
    ],
)
def test_reads_with_keys_no_path_can_hold_send_nothing(conn, sb, sql):
    """A key value that cannot fill its path can match no row: the read answers no rows (or
    0) without a request, as DuckDB would answer over every row (the planner's rule); it never
    reads another endpoint (`GET /numbers` for country '..')."""
    sb.reset_log()
    try:
        rows = conn.execute(sql).fetchall()
    except csql.Error as e:
        assert isinstance(e, csql.ProgrammingError | csql.DataError), e
    else:
        assert rows in ([], [(0,)]), rows
    assert len(sb.request_log) == 0, sb.request_log.snapshot()


def test_integer_body_parameters_are_typed(conn, sb):
    sb.reset_log()
    with pytest.raises(csql.ProgrammingError, match="to_list_id"):
        conn.execute("CALL CopyContactToList(1, 2, '3; DROP')")
    assert len(sb.request_log) == 0


def _sent_paths_fill_templates(sb) -> int:
    n = 0
    for r in sb.request_log.snapshot():
        path = r.path[3:] if r.path.startswith("/v3") else r.path
        assert CATALOG.routes.match(r.method, path), (r.method, r.path)
        n += 1
    return n


def _read_slots():
    """(table, column, SQL with :v and the other keys fixed) for every key that reaches a path."""
    out = []
    for t in CATALOG.tables:
        cols = {ph for ep in t.endpoints.values() for ph in ep.placeholders if ep.method == "GET"}
        for c in sorted(cols):
            others = [k for k in t.required_keys if k.name != c]
            fixed = " AND ".join(f'"{k.name}" = {_valid(k.path_value)!r}' for k in others)
            out.append((t.name, c, f'SELECT * FROM {t.name} WHERE "{c}" = :v'
                        + (f" AND {fixed}" if fixed else "")))  # fmt: skip
    return out


READ_SLOTS = _read_slots()


def _call_slots():
    out = []
    for p in CATALOG.procedures:
        for param in p.parameters:
            if param.location == "path":
                others = {q.name: _valid(q.path_value) for q in p.parameters
                          if q.location == "path" and q.name != param.name}  # fmt: skip
                out.append((p, param.name, others))
    return out


CALL_SLOTS = _call_slots()

VALUES = st.one_of(
    st.sampled_from(HOSTILE + [v for v in HOSTILE_INTEGERS if isinstance(v, str | int)]),
    st.text(alphabet=st.sampled_from("./%?#\\\x00\u202e\u0301a1"), max_size=6),
)


def _read_sends_only_catalog_paths(conn, sb, slot, value):
    _table, column, sql = slot
    sb.reset_log()
    try:
        conn.execute(sql, {"v": value}).fetchall()
    except csql.Error as e:
        if isinstance(e, csql.ProgrammingError) and column in str(e):
            assert len(sb.request_log) == 0, (sql, value)
    _sent_paths_fill_templates(sb)


def _call_sends_only_catalog_paths(conn, sb, slot, value):
    proc, name, others = slot
    args = {**others, name: value}
    required = {q.name: "x" for q in proc.parameters if q.required and q.name not in args}
    args.update({k: 1 if proc.parameter(k).type in INT_RANGES else v for k, v in required.items()})
    call = f"CALL {proc.name}({', '.join(f'{k} => :{k}' for k in args)})"
    sb.reset_log()
    try:
        conn.execute(call, args).fetchall()
    except csql.Error as e:
        if isinstance(e, csql.ProgrammingError) and f"parameter {name} " in str(e):
            assert len(sb.request_log) == 0, (call, value)
    _sent_paths_fill_templates(sb)


E2E = {"deadline": None, "derandomize": True,
       "suppress_health_check": [HealthCheck.function_scoped_fixture]}  # fmt: skip


@settings(max_examples=60, **E2E)
@given(slot=st.sampled_from(READ_SLOTS), value=VALUES)
def test_hostile_keys_in_reads_send_only_catalog_paths(conn, sb, slot, value):
    _read_sends_only_catalog_paths(conn, sb, slot, value)


@settings(max_examples=60, **E2E)
@given(slot=st.sampled_from(CALL_SLOTS), value=VALUES)
def test_hostile_procedure_path_parameters_send_only_catalog_paths(conn, sb, slot, value):
    _call_sends_only_catalog_paths(conn, sb, slot, value)


@pytest.mark.slow
@settings(max_examples=1000, **E2E)
@given(slot=st.sampled_from(READ_SLOTS), value=VALUES)
def test_hostile_keys_in_reads_send_only_catalog_paths_long(conn, sb, slot, value):
    _read_sends_only_catalog_paths(conn, sb, slot, value)


@pytest.mark.slow
@settings(max_examples=1000, **E2E)
@given(slot=st.sampled_from(CALL_SLOTS), value=VALUES)
def test_hostile_procedure_path_parameters_send_only_catalog_paths_long(conn, sb, slot, value):
    _call_sends_only_catalog_paths(conn, sb, slot, value)


def test_unknown_outcome_is_an_operational_error():
    assert issubclass(OutcomeUnknownError, csql.OperationalError)
    assert csql.OutcomeUnknownError is OutcomeUnknownError
