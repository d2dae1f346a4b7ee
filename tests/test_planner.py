"""Planner unit tests: SQL in, planned requests out. Pure: nothing is sent."""

from __future__ import annotations

import pytest

from csql import binder
from csql.errors import ProgrammingError
from csql.read.explain import explain_plan
from csql.read.plan import FromScan, Values
from csql.read.planner import _page_window, plan_query


def plan(catalog, sql, params=None):
    tree = binder.parse_with_parameters(sql, params)
    return plan_query(binder.bind(tree, catalog).tree, catalog)


def requests(catalog, sql):
    """(method, path, query) of every planned request stream, in order."""
    p = plan(catalog, sql)
    return [(r["method"], r["path"], r["query"]) for r in explain_plan(p, p.sql).to_pylist()
            if r["role"] != "duckdb"]  # fmt: skip


def scan_of(p, table):
    return next(s for s in p.scans if s.table.name == table and not s.hidden)


# --- path keys ------------------------------------------------------------------------------


def test_path_key_equality(catalog):
    assert requests(catalog, "SELECT * FROM contacts WHERE list_id = 5") == [
        ("GET", "/lists/5/contacts", "page=1..&limit=100")
    ]


def test_path_key_in_list_gives_one_stream_per_key(catalog):
    reqs = requests(catalog, "SELECT * FROM contacts WHERE list_id IN (1, 2, 3)")
    assert [r[1] for r in reqs] == ["/lists/1/contacts", "/lists/2/contacts", "/lists/3/contacts"]


def test_path_key_or_of_equalities(catalog):
    p = plan(catalog, "SELECT * FROM contacts WHERE list_id = 1 OR list_id = 9")
    assert scan_of(p, "contacts").keys["list_id"] == Values((1, 9))


def test_path_key_string_literal_is_coerced(catalog):
    p = plan(catalog, "SELECT * FROM contacts WHERE list_id = '12'")
    assert scan_of(p, "contacts").keys["list_id"] == Values((12,))


def test_contradictory_keys_give_no_stream(catalog):
    p = plan(catalog, "SELECT * FROM contacts WHERE list_id = 1 AND list_id = 2")
    assert scan_of(p, "contacts").keys["list_id"] == Values(())


def test_alias_resolves_and_fans_out_over_the_parent(catalog):
    p = plan(catalog, "SELECT * FROM Contacts")
    contacts = scan_of(p, "contacts")
    parent = next(s for s in p.scans if s.hidden)
    assert parent.table.name == "lists"
    assert contacts.keys["list_id"] == FromScan(parent.id, "list_id")
    assert [s.id for s in p.scans].index(parent.id) < [s.id for s in p.scans].index(contacts.id)


def test_required_key_without_value_names_the_column(catalog):
    with pytest.raises(
        ProgrammingError, match=r"available_numbers\.country is required.*WHERE country = 'AU'"
    ):
        plan(catalog, "SELECT * FROM available_numbers")
    assert (
        requests(catalog, "SELECT * FROM available_numbers WHERE country = 'US'")[0][1]
        == "/numbers/search/US"
    )


def test_parameters_bind_into_keys(catalog):
    p = plan(catalog, "SELECT * FROM contacts WHERE list_id = :l", {"l": 44})
    assert scan_of(p, "contacts").keys["list_id"] == Values((44,))


# --- get by key -------------------------------------------------------------------------------


def test_primary_key_gives_a_get(catalog):
    assert requests(catalog, "SELECT * FROM lists WHERE list_id = 7") == [("GET", "/lists/7", "")]


def test_primary_key_in_list_gives_gets(catalog):
    reqs = requests(catalog, "SELECT * FROM subaccounts WHERE subaccount_id IN (3, 4)")
    assert reqs == [("GET", "/subaccounts/3", ""), ("GET", "/subaccounts/4", "")]
    # sms_history has no get endpoint: the list is read and DuckDB filters
    p = plan(catalog, "SELECT * FROM sms_history WHERE message_id IN ('a', 'b')")
    assert scan_of(p, "sms_history").mode == "list"
    # sms_templates has one (official spec): a GET per key
    p = plan(catalog, "SELECT * FROM sms_templates WHERE template_id IN (3, 4)")
    assert scan_of(p, "sms_templates").mode == "get"


def test_contact_get_needs_both_keys(catalog):
    p = plan(catalog, "SELECT * FROM contacts WHERE list_id = 1 AND contact_id = 2")
    assert requests(catalog, "SELECT * FROM contacts WHERE list_id = 1 AND contact_id = 2") == [
        ("GET", "/lists/1/contacts/2", "")
    ]
    assert scan_of(p, "contacts").mode == "get"
    p = plan(catalog, "SELECT * FROM contacts WHERE contact_id = 2")
    assert scan_of(p, "contacts").mode == "list"  # list_id unknown: fan out, DuckDB filters


def test_too_many_keys_list_instead_of_get(catalog):
    ids = ", ".join(str(i) for i in range(1, 30))
    p = plan(catalog, f"SELECT * FROM lists WHERE list_id IN ({ids})")
    assert scan_of(p, "lists").mode == "list"


# --- q, operator ------------------------------------------------------------------------------


def test_searchable_equality_becomes_q(catalog):
    reqs = requests(catalog, "SELECT * FROM sms_templates WHERE template_name = 'Welcome'")
    assert reqs == [("GET", "/sms/templates", "q=template_name:Welcome&page=1..&limit=100")]


def test_two_searchable_terms_and(catalog):
    p = plan(catalog, "SELECT * FROM subaccounts WHERE first_name = 'Ann' AND last_name = 'Lee'")
    assert scan_of(p, "subaccounts").params == {"q": "first_name:Ann,last_name:Lee"}


def test_or_of_searchable_terms_uses_operator_or(catalog):
    p = plan(catalog, "SELECT * FROM subaccounts WHERE first_name = 'Ann' OR last_name = 'Lee'")
    assert scan_of(p, "subaccounts").params == {
        "q": "first_name:Ann,last_name:Lee",
        "operator": "OR",
    }


def test_in_on_searchable_column_uses_operator_or(catalog):
    p = plan(catalog, "SELECT * FROM sms_history WHERE status IN ('Failed', 'Queued')")
    assert scan_of(p, "sms_history").params == {
        "q": "status:Failed,status:Queued",
        "operator": "OR",
    }


@pytest.mark.parametrize("value", ["a,b", "a:b", "", "   "])
def test_values_that_cannot_be_written_in_q_are_not_pushed(catalog, value):
    p = plan(catalog, "SELECT * FROM sms_templates WHERE template_name = :v", {"v": value})
    assert "q" not in scan_of(p, "sms_templates").params


def test_like_pushes_its_longest_literal_fragment(catalog):
    p = plan(catalog, "SELECT * FROM sms_templates WHERE template_name LIKE '%wel_come back%'")
    assert scan_of(p, "sms_templates").params == {"q": "template_name:come back"}
    p = plan(catalog, "SELECT * FROM sms_templates WHERE template_name ILIKE '%'")
    assert scan_of(p, "sms_templates").params == {}


def test_not_searchable_column_is_not_pushed(catalog):
    p = plan(catalog, "SELECT * FROM contacts WHERE list_id = 1 AND first_name = 'Ann'")
    assert scan_of(p, "contacts").params == {}


def test_mixed_or_is_not_pushed(catalog):
    p = plan(catalog, "SELECT * FROM subaccounts WHERE first_name = 'Ann' OR subaccount_id > 3")
    assert scan_of(p, "subaccounts").params == {}


def test_not_and_null_tests_are_not_pushed(catalog):
    for where in ["NOT (template_name = 'x')", "template_name IS NULL", "template_name <> 'x'"]:
        p = plan(catalog, f"SELECT * FROM sms_templates WHERE {where}")
        assert scan_of(p, "sms_templates").params == {}, where


# --- ranges -----------------------------------------------------------------------------------


def test_date_range_is_widened_by_a_second(catalog):
    p = plan(
        catalog, "SELECT * FROM sms_history WHERE date >= '2024-01-01' AND date < '2024-02-01'"
    )
    assert scan_of(p, "sms_history").params == {"date_from": "1704067199", "date_to": "1706745601"}


def test_between_and_timestamps_with_zone(catalog):
    p = plan(
        catalog,
        "SELECT * FROM sms_history WHERE date BETWEEN TIMESTAMPTZ '2024-01-01 10:00:00+02' AND '2024-01-02'",
    )
    assert scan_of(p, "sms_history").params == {"date_from": "1704095999", "date_to": "1704153601"}
    p = plan(catalog, "SELECT * FROM sms_history WHERE '2024-01-01' <= date")
    assert scan_of(p, "sms_history").params == {"date_from": "1704067199"}


def test_updated_after(catalog):
    p = plan(catalog, "SELECT * FROM contacts WHERE list_id = 1 AND date_updated > '2024-01-01'")
    assert scan_of(p, "contacts").params == {"updated_after": "1704067199"}


def test_tightest_bound_wins(catalog):
    p = plan(catalog, "SELECT * FROM sms_history WHERE date > '2024-01-01' AND date > '2024-03-01'")
    assert scan_of(p, "sms_history").params == {"date_from": "1709251199"}


# --- joins ------------------------------------------------------------------------------------


def test_join_gives_a_dependent_scan(catalog):
    p = plan(catalog, "SELECT c.first_name, l.list_name FROM contacts c JOIN lists l USING (list_id) "
                      "WHERE l.list_name = 'VIP'")  # fmt: skip
    contacts, lists = scan_of(p, "contacts"), scan_of(p, "lists")
    assert contacts.keys["list_id"].scan == lists.id
    assert "list_name = 'VIP'" in contacts.keys["list_id"].filter_sql
    assert not any(s.hidden for s in p.scans)
    assert [s.id for s in p.scans] == [lists.id, contacts.id]


def test_left_join_preserved_side_is_not_restricted(catalog):
    p = plan(catalog, "SELECT * FROM contacts c LEFT JOIN lists l ON l.list_id = c.list_id")
    contacts, lists = scan_of(p, "contacts"), scan_of(p, "lists")
    # contacts fan out over every list: and the lists scan is reused for it (fetched once)
    assert contacts.keys["list_id"] == FromScan(lists.id, "list_id")
    assert len(p.scans) == 2


def test_left_join_nullable_side_is_restricted(catalog):
    p = plan(catalog, "SELECT * FROM lists l LEFT JOIN contacts c ON c.list_id = l.list_id AND c.first_name = 'x' "
                      "WHERE l.list_id IN (1, 2)")  # fmt: skip
    contacts = scan_of(p, "contacts")
    assert isinstance(contacts.keys["list_id"], FromScan)


def test_three_table_join(catalog):
    p = plan(catalog, "SELECT * FROM lists l JOIN contacts c USING (list_id) "
                      "JOIN sms_history h ON h.to = c.phone_number WHERE l.list_id = 3")  # fmt: skip
    assert scan_of(p, "lists").mode == "get"
    assert isinstance(scan_of(p, "contacts").keys["list_id"], FromScan)


def test_where_inside_cte_and_subquery(catalog):
    p = plan(catalog, "WITH x AS (SELECT * FROM contacts WHERE list_id = 3) SELECT count(*) FROM x")
    assert scan_of(p, "contacts").keys["list_id"] == Values((3,))
    p = plan(catalog, "SELECT * FROM (SELECT * FROM contacts WHERE list_id = 4) t")
    assert scan_of(p, "contacts").keys["list_id"] == Values((4,))


def test_correlated_outer_column_is_not_pushed(catalog):
    p = plan(
        catalog,
        "SELECT * FROM lists l WHERE EXISTS (SELECT 1 FROM contacts c WHERE c.list_id = l.list_id)",
    )
    source = scan_of(p, "contacts").keys["list_id"]
    # the correlation is not a join of the subquery's scope: contacts fan out over all lists,
    # reusing the outer full scan of lists rather than fetching /lists twice
    assert source == FromScan(scan_of(p, "lists").id, "list_id")
    assert len(p.scans) == 2


def test_self_join_has_two_scans(catalog):
    p = plan(
        catalog, "SELECT * FROM lists a JOIN lists b ON a.list_id = b.list_id WHERE a.list_id = 1"
    )
    assert len([s for s in p.scans if s.table.name == "lists"]) == 2


# --- order_by, LIMIT, COUNT -------------------------------------------------------------------


def test_count_star_uses_total(catalog):
    p = plan(catalog, "SELECT COUNT(*) FROM contacts WHERE list_id = 5")
    assert p.count_scan is not None
    assert requests(catalog, "SELECT COUNT(*) FROM contacts WHERE list_id = 5") == [
        ("GET", "/lists/5/contacts", "page=1&limit=15")
    ]
    assert '"count_star()"' in p.sql


def test_count_with_loose_filter_is_not_from_total(catalog):
    p = plan(catalog, "SELECT COUNT(*) FROM sms_history WHERE status = 'Failed'")
    assert p.count_scan is None
    p = plan(catalog, "SELECT COUNT(DISTINCT status) FROM sms_history")
    assert p.count_scan is None
    p = plan(catalog, "SELECT COUNT(*) FROM sms_history GROUP BY status")
    assert p.count_scan is None


def test_limit_without_filter_fetches_one_page(catalog):
    assert requests(catalog, "SELECT * FROM sms_history LIMIT 10") == [
        ("GET", "/sms/history", "limit=15&page=1")
    ]


def test_limit_offset_fetches_the_pages_that_hold_the_rows(catalog):
    p = plan(catalog, "SELECT * FROM sms_history LIMIT 10 OFFSET 250")
    assert requests(catalog, "SELECT * FROM sms_history LIMIT 10 OFFSET 250") == [
        ("GET", "/sms/history", "limit=100&page=3")
    ]
    assert p.sql.endswith("LIMIT 10 OFFSET 50")


def test_limit_spanning_pages(catalog):
    p = plan(catalog, "SELECT * FROM sms_history LIMIT 150 OFFSET 90")
    w = scan_of(p, "sms_history").window
    assert (w.page_size, w.first_page, w.last_page, w.skip_in_first) == (100, 1, 3, 90)


def test_order_by_sortable_number_with_limit_is_pushed(catalog):
    reqs = requests(catalog, "SELECT * FROM sms_templates ORDER BY template_id DESC LIMIT 3")
    assert reqs == [("GET", "/sms/templates", "order_by=template_id:desc&limit=15&page=1")]


def test_order_by_string_or_unsortable_is_not_pushed(catalog):
    p = plan(catalog, "SELECT * FROM sms_templates ORDER BY template_name LIMIT 3")
    s = scan_of(p, "sms_templates")
    assert "order_by" not in s.params and s.window is None and not s.stream


def test_limit_with_loose_filter_streams(catalog):
    p = plan(catalog, "SELECT * FROM sms_history WHERE status = 'Failed' LIMIT 5")
    s = scan_of(p, "sms_history")
    assert s.stream and s.window is None and s.params == {"q": "status:Failed"}


def test_limit_with_join_does_not_window(catalog):
    p = plan(catalog, "SELECT * FROM lists l JOIN contacts c USING (list_id) LIMIT 5")
    assert all(s.window is None and not s.stream for s in p.scans)


@pytest.mark.parametrize(
    ("offset", "count"), [(0, 1), (0, 15), (0, 100), (5, 95), (99, 2), (250, 10), (1000, 300)]
)
def test_page_window_covers_exactly(offset, count):
    w = _page_window(offset, count)
    start = (w.first_page - 1) * w.page_size
    end = w.last_page * w.page_size
    assert 15 <= w.page_size <= 100
    assert start <= offset and end >= offset + count
    assert w.skip_in_first == offset - start
    assert end - start < count + 2 * w.page_size


# --- metadata and errors ----------------------------------------------------------------------


def test_metadata_tables_are_not_scans(catalog):
    p = plan(catalog, "SELECT * FROM sys_tables t JOIN lists l ON l.list_name = t.table_name")
    assert [s.table.name for s in p.scans] == ["lists"]


def test_sql_keeps_user_aliases(catalog):
    p = plan(catalog, "SELECT Contacts.first_name FROM Contacts WHERE list_id = 1")
    assert 'AS "Contacts"' in p.sql


# --- keys from uncorrelated subqueries ------------------------------------------------------


def test_in_subquery_gives_dependent_keys(catalog):
    from csql.read.plan import FromQuery

    p = plan(
        catalog,
        "SELECT * FROM contacts WHERE list_id IN (SELECT list_id FROM lists WHERE list_name = 'VIP')",
    )
    source = scan_of(p, "contacts").keys["list_id"]
    assert isinstance(source, FromQuery)
    assert source.scans == (scan_of(p, "lists").id,)
    assert "__csql_scan_" in source.sql and "'VIP'" in source.sql
    assert not any(s.hidden for s in p.scans)


def test_scalar_subquery_and_cte_give_dependent_keys(catalog):
    from csql.read.plan import FromQuery

    p = plan(
        catalog, "SELECT count(*) FROM contacts WHERE list_id = (SELECT min(list_id) FROM lists)"
    )
    assert isinstance(scan_of(p, "contacts").keys["list_id"], FromQuery)
    p = plan(catalog, "WITH vip AS (SELECT list_id FROM lists WHERE list_name = 'VIP') "
                      "SELECT * FROM contacts WHERE list_id IN (SELECT list_id FROM vip)")  # fmt: skip
    source = scan_of(p, "contacts").keys["list_id"]
    assert isinstance(source, FromQuery) and source.sql.startswith("WITH vip AS")


def test_correlated_subquery_gives_no_keys(catalog):
    from csql.read.plan import FromQuery

    p = plan(catalog, "SELECT * FROM lists l WHERE l.list_id IN "
                      "(SELECT c.list_id FROM contacts c WHERE c.first_name = l.list_name)")  # fmt: skip
    assert not any(isinstance(k, FromQuery) for s in p.scans for k in s.keys.values())
    p = plan(
        catalog,
        "SELECT * FROM contacts c WHERE c.list_id IN (SELECT list_id FROM lists WHERE list_name = c.first_name)",
    )
    assert not isinstance(scan_of(p, "contacts").keys["list_id"], FromQuery)


def test_count_with_keys_from_a_subquery_uses_total(catalog):
    p = plan(
        catalog,
        "SELECT count(*) FROM contacts WHERE list_id IN (SELECT list_id FROM lists WHERE list_name = 'VIP')",
    )
    assert p.count_scan == scan_of(p, "contacts").id
    assert scan_of(p, "contacts").mode == "count"
    p = plan(
        catalog, "SELECT count(*), (SELECT count(*) FROM lists) FROM contacts WHERE list_id = 3"
    )
    assert p.count_scan is None  # another subquery: the SQL must stay as written


@pytest.mark.parametrize("where", ["template_name NOT LIKE '%a%'", "template_name NOT ILIKE 'a'",
                                   "template_name NOT IN ('a', 'b')", "NOT template_name = 'a'",
                                   "(template_name NOT LIKE 'x' OR body = 'y')"])  # fmt: skip
def test_negations_are_never_pushed(catalog, where):
    p = plan(catalog, f"SELECT * FROM sms_templates WHERE {where}")
    assert scan_of(p, "sms_templates").params == {}
