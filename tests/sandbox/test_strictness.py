"""The sandbox is as strict and as loose as ClickSend's reference and official spec say.

Each test names the source of the rule it checks: `from` is optional (official spec:
send_sms_request_messages_inner requires only `body`), a message needs `to` or `list_id`
(reference: list_id "can be used instead of 'to'"), refused messages cost nothing and carry no
carrier, the `nocredit` test account has no credit (reference, Test Credentials), subaccounts
authenticate with their own API key (POST /subaccounts returns it), new email addresses are
unverified (POST /email/addresses example), list endpoints show the fields of the reference's
list examples, a malformed body is a 400, and behaviour is registered by name.
"""

from __future__ import annotations

import time

import pytest

from csql.sandbox.registry import Hook, Registry

TEST_KEY = "D83DED51-9E35-4D42-9BB9-0E34B7CA85AE"  # the reference's test credentials


def _sdk(sb, username=None, key=None):
    clicksend = pytest.importorskip("clicksend", reason="clicksend-client not installed")
    cfg = clicksend.Configuration(
        host=sb.base_url.removesuffix("/v3"),
        username=username or sb.username,
        password=key or sb.api_key,
    )
    return clicksend, clicksend.ApiClient(cfg)


def test_official_sdk_sends_sms_without_from(fresh):
    clicksend, api = _sdk(fresh)
    from clicksend.models import SendSmsRequest, SendSmsRequestMessagesInner

    res = clicksend.SmsApi(api).send_sms(
        send_sms_request=SendSmsRequest(
            messages=[SendSmsRequestMessagesInner(to="+61411111111", body="no sender id")]
        )
    )
    assert res.http_code == 200 and res.data.queued_count == 1
    assert res.data.messages[0].status == "SUCCESS"


def test_official_sdk_sends_mms_and_prices_voice_without_from(fresh):
    clicksend, api = _sdk(fresh)
    from clicksend.models import (
        CalculateVoicePriceRequest,
        CalculateVoicePriceRequestMessagesInner,
        SendMmsRequest,
        SendMmsRequestMessagesInner,
    )

    mms = clicksend.MmsApi(api).send_mms(
        send_mms_request=SendMmsRequest(
            media_file="https://example.test/a.jpg",
            messages=[SendMmsRequestMessagesInner(to="+61411111111", body="hi", subject="s")],
        )
    )
    assert mms.http_code == 200
    voice = clicksend.VoiceMessagingApi(api).calculate_voice_price(
        calculate_voice_price_request=CalculateVoicePriceRequest(
            messages=[CalculateVoicePriceRequestMessagesInner(to="+61411111111", body="hi")]
        )
    )
    assert voice.http_code == 200


def test_a_message_needs_to_or_list_id(fresh_http):
    r = fresh_http.post("/sms/send", json={"messages": [{"body": "nobody to send to"}]})
    assert r.status_code == 400
    assert r.json()["response_code"] == "MISSING_REQUIRED_FIELDS"
    assert "to or list_id" in r.json()["response_msg"]


def test_a_malformed_body_is_a_400(fresh_http):
    for content in (b"{not json", b"[1, 2]", b'{"messages": "x"}', b'{"messages": [1]}'):
        r = fresh_http.post(
            "/sms/send", content=content, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 400, content


def test_invalid_recipients_are_not_charged_and_have_no_carrier(fresh_http):
    before = fresh_http.get("/account").json()["data"]["balance"]
    r = fresh_http.post(
        "/sms/send",
        json={
            "messages": [{"body": "x", "to": "not-a-number"}, {"body": "y", "to": "+61499999999"}]
        },
    )
    msgs = {m["to"]: m for m in r.json()["data"]["messages"]}
    bad, good = msgs["not-a-number"], msgs["+61499999999"]
    assert bad["status"] == "INVALID_RECIPIENT"
    assert float(bad["message_price"]) == 0 and not bad["carrier"]
    assert good["status"] == "SUCCESS" and good["carrier"]
    assert r.json()["data"]["total_price"] == pytest.approx(float(good["message_price"]))
    after = fresh_http.get("/account").json()["data"]["balance"]
    assert float(before) - float(after) == pytest.approx(float(good["message_price"]), abs=1e-6)


def test_nocredit_reads_its_own_account_and_cannot_send_to_paid_numbers(fresh, client_for):
    with client_for(fresh) as http:
        http.auth = ("nocredit", TEST_KEY)
        acct = http.get("/account").json()["data"]
        assert acct["username"] == "nocredit" and float(acct["balance"]) == 0
        r = http.post(
            "/sms/send",
            json={
                "messages": [
                    {"body": "x", "to": "+61499999999"},
                    {"body": "y", "to": "+61411111111"},
                ]
            },
        )
        statuses = {m["to"]: m["status"] for m in r.json()["data"]["messages"]}
        # a paid number is refused as documented; a test number is free, so it is accepted
        assert statuses == {"+61499999999": "INSUFFICIENT_CREDIT", "+61411111111": "SUCCESS"}


def test_subaccount_credentials_authenticate_as_the_subaccount(fresh, fresh_http):
    created = fresh_http.post(
        "/subaccounts",
        json={
            "api_username": "csqlsub",
            "password": "pw-12345678",
            "email": "s@example.com",
            "phone_number": "+61411111111",
            "first_name": "S",
            "last_name": "B",
        },
    ).json()["data"]
    with _client(fresh, created["api_username"], created["api_key"]) as sub:
        assert sub.get("/account").status_code == 200
        sent = sub.post("/sms/send", json={"messages": [{"body": "x", "to": "+61411111111"}]})
        assert sent.status_code == 200
        assert sent.json()["data"]["messages"][0]["subaccount_id"] == created["subaccount_id"]
    with _client(fresh, created["api_username"], "wrong-key") as bad:
        assert bad.get("/account").status_code == 401


def _client(sb, user, key):
    import httpx

    return httpx.Client(base_url=sb.base_url, auth=(user, key))


def test_new_email_addresses_start_unverified(fresh_http):
    r = fresh_http.post("/email/addresses", json={"email_address": "new@example.com"})
    row = r.json()["data"]
    assert row["verified"] == 0
    listed = fresh_http.get("/email/addresses", params={"limit": 100}).json()["data"]["data"]
    assert (
        next(a for a in listed if a["email_address_id"] == row["email_address_id"])["verified"] == 0
    )


def test_list_endpoints_omit_what_the_reference_list_examples_omit(catalog, http):
    table = catalog.table("email_templates")
    assert "body" in table.list_omits
    rows = http.get("/email/templates").json()["data"]["data"]
    assert rows and all("body" not in r for r in rows)
    one = http.get(f"/email/templates/{rows[0]['template_id']}").json()["data"]
    assert "body" in one


def test_scheduled_sms_shows_its_schedule_and_is_cancellable_until_sent(fresh_http):
    when = int(time.time()) + 3600
    sent = fresh_http.post(
        "/sms/send",
        json={
            "messages": [
                {"body": "later", "to": "+61411111111", "schedule": when, "custom_string": "ref-9"}
            ]
        },
    ).json()["data"]["messages"][0]
    history = fresh_http.get("/sms/history", params={"limit": 100, "order_by": "date:desc"})
    row = next(m for m in history.json()["data"]["data"] if m["message_id"] == sent["message_id"])
    assert row["status"] == "Scheduled" and int(row["schedule"]) == when
    assert row["custom_string"] == "ref-9"
    assert fresh_http.put(f"/sms/{sent['message_id']}/cancel").status_code == 200
    again = fresh_http.put(f"/sms/{sent['message_id']}/cancel")
    assert again.status_code == 400  # cancelled: nothing left to cancel


# -- the registry ----------------------------------------------------------------------------


def test_behaviour_is_registered_by_name(fresh):
    names = fresh.app.registry.names()
    assert "account_usage" in names[Hook.LIST.value]
    assert "POST /sms/send" in names["action"] and "POST /sms/price" in names["action"]
    # sends are derived from the catalog's procedures: every paid send has an action
    for proc in fresh.catalog.procedures:
        if proc.costs_money and (proc.result_table or "").endswith("_history"):
            assert fresh.app.registry.action_for(proc.method, proc.path) is not None, proc.name


def test_registry_refuses_a_second_implementation():
    reg = Registry()
    reg.table(Hook.LIST, "t")(lambda *a: None)
    with pytest.raises(ValueError, match="already registered"):
        reg.table(Hook.LIST, "t")(lambda *a: None)
    reg.action("POST", "/x/{id}")(lambda *a: (200, {}))
    with pytest.raises(ValueError, match="already registered"):
        reg.action("POST", "/x/{other}")(lambda *a: (200, {}))


def test_routes_does_not_import_actions():
    from pathlib import Path

    import csql.sandbox.routes as routes

    source = Path(routes.__file__).read_text(encoding="utf-8")
    assert "sandbox.actions" not in source and "import actions" not in source


def test_columns_the_list_omits_are_read_by_get(sandbox, http):
    import csql

    listed = http.get("/email/templates", params={"limit": 100}).json()["data"]["data"]
    want = {
        r["template_id"]: http.get(f"/email/templates/{r['template_id']}").json()["data"]["body"]
        for r in listed
    }
    with csql.connect(sandbox.username, sandbox.api_key, sandbox.base_url) as conn:
        sandbox.reset_log()
        got = dict(conn.execute("SELECT template_id, body FROM email_templates").fetchall())
        assert got == want and all(want.values())
        assert len(sandbox.request_log) == 1 + len(want)  # the list, then one GET per row
        sandbox.reset_log()
        conn.execute("SELECT count(*), min(template_name) FROM email_templates").fetchall()
        assert len(sandbox.request_log) == 1  # no omitted column read: the list only


def test_a_scheduled_sms_cannot_be_cancelled_once_its_time_has_come(fresh, fresh_http):
    soon = int(time.time()) + 2
    sent = fresh_http.post(
        "/sms/send",
        json={"messages": [{"body": "soon", "to": "+61411111111", "schedule": soon}]},
    ).json()["data"]["messages"][0]
    clock = fresh.app.clock
    fresh.app.clock = lambda: clock() + 60  # a minute later: the message has gone out
    try:
        r = fresh_http.put(f"/sms/{sent['message_id']}/cancel")
        assert r.status_code == 400 and "Completed" in r.json()["response_msg"]
        history = fresh_http.get("/sms/history", params={"limit": 100, "order_by": "date:desc"})
        row = next(
            m for m in history.json()["data"]["data"] if m["message_id"] == sent["message_id"]
        )
        assert row["status"] == "Completed"
    finally:
        fresh.app.clock = clock


def test_the_reference_answer_reads_omitted_columns_too(sandbox):
    """tests/reference.py (fetch every row, then DuckDB) reads what the list omits, so csql's
    GET-per-row answer is compared with a complete reference."""
    import csql
    from csql.catalog import default_catalog
    from tests.reference import load_everything

    duck = load_everything(sandbox.base_url, sandbox.username, sandbox.api_key, default_catalog())
    want = duck.execute("SELECT template_id, body FROM email_templates ORDER BY 1").fetchall()
    with csql.connect(sandbox.username, sandbox.api_key, sandbox.base_url) as conn:
        got = conn.execute("SELECT template_id, body FROM email_templates ORDER BY 1").fetchall()
    assert got == want and all(b for _, b in want)
