"""The sandbox's HTTP behaviour: envelopes, paging, search and sort, errors, auth, knobs."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import pytest

from csql.sandbox import Sandbox, build_app
from csql.sandbox.server import TEST_KEY


def test_envelope_and_paging_defaults(http):
    body = http.get("/sms/history").json()
    assert body["http_code"] == 200 and body["response_code"] == "SUCCESS"
    page = body["data"]
    assert page["per_page"] == 15 and page["current_page"] == 1
    assert page["from"] == 1 and page["to"] == 15 and len(page["data"]) == 15
    assert page["last_page"] == -(-page["total"] // 15)
    assert page["prev_page_url"] is None and "page=2" in page["next_page_url"]


def test_paging_walks_every_row_once(http):
    total = http.get("/lists").json()["data"]["total"]
    list_id = http.get("/lists").json()["data"]["data"][0]["list_id"]
    first = http.get(f"/lists/{list_id}/contacts", params={"limit": 100}).json()["data"]
    seen, url = [], None
    url = f"/lists/{list_id}/contacts?limit=100"
    while url:
        page = http.get(url).json()["data"]
        seen += [r["contact_id"] for r in page["data"]]
        url = page["next_page_url"]
    assert len(seen) == len(set(seen)) == first["total"] and total >= 1


@pytest.mark.parametrize(("limit", "served"), [("5", 15), ("15", 15), ("60", 60), ("1000", 100)])
def test_limit_is_clamped_to_documented_range(http, limit, served):
    page = http.get("/sms/history", params={"limit": limit}).json()["data"]
    assert page["per_page"] == served == len(page["data"])


def test_page_past_the_end_is_empty(http):
    page = http.get("/sms/history", params={"page": 100000}).json()["data"]
    assert page["data"] == [] and page["from"] is None and page["next_page_url"] is None


def test_bad_paging_values(http):
    r = http.get("/sms/history", params={"page": "two"})
    assert r.status_code == 400 and r.json()["response_code"] == "BAD_REQUEST"


def test_search_is_case_insensitive_substring(http):
    rows = http.get("/sms/history", params={"q": "status:COMPLE", "limit": 100}).json()["data"]
    assert rows["total"] > 0 and all(r["status"] == "Completed" for r in rows["data"])


def test_search_and_or(http):
    def total(**params):
        return http.get("/sms/history", params=params).json()["data"]["total"]

    completed, failed = total(q="status:completed"), total(q="status:failed")
    assert total(q="status:completed,status:failed") == 0  # AND by default
    both = total(q="status:completed,status:failed", operator="OR")
    assert both == completed + failed
    assert total(q="status:completed,status:failed", operator="and") == 0


def test_search_on_undeclared_field_is_400(http):
    r = http.get("/sms/history", params={"q": "carrier:telstra"})
    assert r.status_code == 400 and "carrier" in r.json()["response_msg"]
    r = http.get("/sms/history", params={"order_by": "carrier:asc"})
    assert r.status_code == 400 and "carrier" in r.json()["response_msg"]
    r = http.get("/sms/history", params={"order_by": "date:sideways"})
    assert r.status_code == 400
    r = http.get("/lists", params={"updated_after": 1})
    assert r.status_code == 400 and "updated_after" in r.json()["response_msg"]


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_order_by(http, direction):
    rows = http.get(
        "/sms/history", params={"order_by": f"date:{direction}", "limit": 100, "page": 3}
    ).json()["data"]["data"]
    dates = [r["date"] for r in rows]
    assert dates == sorted(dates, reverse=direction == "desc")


def test_date_range_is_inclusive(http):
    rows = http.get("/sms/history", params={"limit": 100}).json()["data"]["data"]
    lo, hi = rows[10]["date"], rows[40]["date"]
    got = http.get("/sms/history", params={"date_from": lo, "date_to": hi, "limit": 100}).json()[
        "data"
    ]
    assert got["total"] >= 31 and all(lo <= r["date"] <= hi for r in got["data"])


def test_updated_after(http):
    list_id = http.get("/lists").json()["data"]["data"][0]["list_id"]
    rows = http.get(f"/lists/{list_id}/contacts", params={"limit": 100}).json()["data"]["data"]
    pivot = sorted(r["date_updated"] for r in rows)[len(rows) // 2]
    got = http.get(
        f"/lists/{list_id}/contacts", params={"updated_after": pivot, "limit": 100}
    ).json()["data"]
    assert got["total"] > 0 and all(r["date_updated"] >= pivot for r in got["data"])


def test_get_by_key_and_404(http):
    lst = http.get("/lists").json()["data"]["data"][0]
    got = http.get(f"/lists/{lst['list_id']}").json()
    assert got["data"]["list_id"] == lst["list_id"]
    r = http.get("/lists/999999999")
    assert r.status_code == 404 and r.json()["response_code"] == "NOT_FOUND"
    assert http.get("/lists/999999999/contacts").status_code == 404
    assert http.get("/no/such/thing").status_code == 404
    assert httpx.get(http.base_url.copy_with(path="/v2/lists"), auth=http.auth).status_code == 404


def test_wrong_method_is_405(http):
    r = http.delete("/sms/history")
    assert r.status_code == 405 and r.json()["response_code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in r.headers["Allow"]


def test_malformed_json_and_missing_fields_are_400(fresh_http):
    r = fresh_http.post(
        "/lists", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and "JSON" in r.json()["response_msg"]
    r = fresh_http.post("/lists", json={})
    assert r.status_code == 400 and "list_name" in r.json()["response_msg"]
    r = fresh_http.post("/sms/send", json={"messages": [{"to": "+61411111111"}]})
    assert r.status_code == 400 and "body" in r.json()["response_msg"]


def test_auth(sandbox):
    assert httpx.get(f"{sandbox.base_url}/account").status_code == 401
    r = httpx.get(f"{sandbox.base_url}/account", auth=(sandbox.username, "wrong"))
    assert r.status_code == 401 and r.json()["response_code"] == "INVALID_CREDENTIALS"
    r = httpx.get(f"{sandbox.base_url}/account", auth=(sandbox.username, sandbox.api_key))
    assert r.status_code == 200 and r.json()["data"]["username"] == sandbox.username


def test_documented_test_accounts(sandbox):
    url = f"{sandbox.base_url}/account"
    assert httpx.get(url, auth=("notactive", TEST_KEY)).json()["response_code"] == (
        "ACCOUNT_NOT_ACTIVATED"
    )
    assert httpx.get(url, auth=("banned", TEST_KEY)).status_code == 403
    assert httpx.get(url, auth=("nocredit", TEST_KEY)).status_code == 200
    sent = httpx.post(
        f"{sandbox.base_url}/sms/price",  # price: nothing is written to the shared sandbox
        auth=("nocredit", TEST_KEY),
        json={"messages": [{"to": "+61499999999", "body": "hi", "from": "x"}]},
    ).json()["data"]
    assert sent["messages"][0]["status"] == "INSUFFICIENT_CREDIT" and sent["queued_count"] == 0


def test_request_log(sandbox, client_for):
    sandbox.reset_log()
    with client_for(sandbox) as c:
        c.get("/lists", params={"page": 2})
        c.get("/sms/history")
    log = sandbox.request_log
    assert len(log) == 2 and log[0].path == "/v3/lists" and log[0].query == {"page": "2"}
    assert log.count("GET", "/sms/history") == 1


def test_rate_limit_gives_429_with_retry_after(client_for):
    with Sandbox(seed=1, scale=0.05, rate_limit=5) as sb, client_for(sb) as c:
        codes = [c.get("/lists") for _ in range(12)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited and codes[0].status_code == 200
        assert limited[0].json()["response_code"] == "TOO_MANY_REQUESTS"
        assert int(limited[0].headers["Retry-After"]) >= 1


def test_fail_rate_injects_500s_and_drops_deterministically(client_for):
    def outcomes(seed):
        out = []
        with Sandbox(seed=seed, scale=0.05, fail_rate=0.5) as sb:
            for _ in range(30):
                with client_for(sb) as c:  # a new connection each time: drops close it
                    try:
                        out.append(c.get("/lists").status_code)
                    except httpx.TransportError:
                        out.append("drop")
        return out

    first = outcomes(3)
    assert 500 in first and "drop" in first and 200 in first
    assert first == outcomes(3)


def test_latency_overlaps_across_connections():
    # generous bounds: this machine is shared, so only "overlapping vs queued" is judged
    with Sandbox(seed=1, scale=0.05, latency_ms=400) as sb:
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: httpx.get(f"{sb.base_url}/lists",
                                                      auth=(sb.username, sb.api_key)).status_code,
                                  range(8)))  # fmt: skip
        elapsed = time.perf_counter() - started
    assert codes == [200] * 8
    assert 0.4 <= elapsed < 2.9  # 8 x 400 ms would take 3.2 s if they queued (loaded CI: slack)


def test_keep_alive(sandbox, client_for):
    with client_for(sandbox) as c:
        for _ in range(5):
            assert c.get("/lists").status_code == 200
    assert httpx.get(f"{sandbox.base_url}/lists", auth=(sandbox.username, sandbox.api_key)
                     ).headers.get("connection", "keep-alive") != "close"  # fmt: skip


def test_same_seed_same_data(catalog):
    def snapshot(seed):
        app = build_app(catalog, seed=seed, scale=0.3)
        return {name: list(ts.rows.values()) for name, ts in app.store.tables.items()}

    a, b, c = snapshot(5), snapshot(5), snapshot(6)
    assert a == b
    assert a["sms_history"] != c["sms_history"]


def test_scale_and_empty(catalog):
    app = build_app(catalog, seed=1, scale=1)
    assert len(app.store["sms_history"].rows) >= 2000 and len(app.store["lists"].rows) >= 5
    empty = build_app(catalog, seed=1, empty=True)
    assert not empty.store["contacts"].rows and not empty.store["sms_history"].rows
    assert empty.store["account"].rows  # the account itself exists


@pytest.mark.slow
def test_scale_100_is_big_and_quick(catalog):
    started = time.perf_counter()
    app = build_app(catalog, seed=1, scale=100)
    assert time.perf_counter() - started < 20
    assert len(app.store["sms_history"].rows) >= 100_000
    assert len(app.store["contacts"].rows) >= 100_000
