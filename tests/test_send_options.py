"""Every send option ClickSend documents is a procedure parameter, and sends behave like it.

- The parameters of every send, price and campaign procedure are compared with the API
  reference and the official spec (tests/send_sources.py): none may go missing, `required` is
  the loosest of the sources, and every disagreement is explained in the catalog.
- Cross-parameter rules (`one_of`), JSON arguments, batches that mix options, messages that
  ClickSend refuses one by one (status, rowcount, csql.Warning on cursor/connection.messages),
  and a scheduled SMS with a custom_string from send to cancel, against the sandbox.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest

import csql
from csql.catalog import default_catalog
from csql.errors import DataError, ProgrammingError
from csql.sandbox import Sandbox
from csql.write.procedures import build_request, json_argument
from tests import send_sources

CATALOG = default_catalog()

#: documented names that are not parameters of their own, with the reason
NOT_PARAMETERS = {
    ("/email/send", "name"): "field of an item of to/cc/bcc ({email, name}), not of the email",
    ("/email/send", "email"): "field of an item of to/cc/bcc",
    ("/email/send", "content"): "field of an item of attachments",
    ("/email/send", "type"): "field of an item of attachments",
    ("/email/send", "filename"): "field of an item of attachments",
    ("/email/send", "disposition"): "field of an item of attachments",
    ("/email/send", "content_id"): "field of an item of attachments",
    ("/voice/price", "asdasd"): "a placeholder left in the official spec (VoicePriceRequest)",
}
for _name in ("name", "email", "content", "type", "filename", "disposition", "content_id"):
    NOT_PARAMETERS[("/email/price", _name)] = NOT_PARAMETERS[("/email/send", _name)]

#: parameters beyond what the send tables document, with the source that justifies each
ALSO_PARAMETERS = {
    ("/mms/send", "country"): "the official Swagger spec's MmsMessage has it",
    ("/mms/price", "schedule"): "the send's spec has it; a SendMMS call quotes as it is",
    ("/post/letters/send", "custom_string"): "letter_history rows carry it (reference)",
    ("/post/letters/price", "custom_string"): "as for /post/letters/send",
    ("/post/postcards/send", "custom_string"): "postcard_history rows carry it (reference)",
    ("/post/postcards/price", "custom_string"): "as for /post/postcards/send",
}


def _send_procedures():
    return [
        pytest.param(p, id=p.name)
        for p in CATALOG.procedures
        if p.method == "POST" and p.path.rsplit("/", 1)[-1] in ("send", "price")
    ]


def test_every_send_price_and_campaign_endpoint_is_covered():
    paths = {p.path for p in CATALOG.procedures}
    for path in (
        "/sms/send",
        "/sms/price",
        "/mms/send",
        "/mms/price",
        "/voice/send",
        "/voice/price",
        "/email/send",
        "/email/price",
        "/fax/send",
        "/fax/price",
        "/post/letters/send",
        "/post/letters/price",
        "/post/postcards/send",
        "/post/postcards/price",
        "/sms-campaigns/send",
        "/sms-campaigns/price",
        "/mms-campaigns/send",
        "/mms-campaigns/price",
        "/email-campaigns/send",
        "/email-campaigns/price",
    ):
        assert path in paths, f"no procedure for POST {path}"


@pytest.mark.parametrize("proc", _send_procedures())
def test_parameters_match_the_reference_and_the_spec(shared_dir, proc):
    documented = send_sources.documented(shared_dir, proc.method, proc.path)
    assert documented, f"the reference has no section for {proc.method} {proc.path}"
    have = {p.name: p for p in proc.parameters}
    missing = [n for n in documented if n not in have and (proc.path, n) not in NOT_PARAMETERS]
    assert not missing, f"{proc.name}: documented but not a parameter: {missing}"
    extra = [n for n in have if n not in documented and (proc.path, n) not in ALSO_PARAMETERS]
    assert not extra, f"{proc.name}: parameters no source documents: {extra}"
    for name, doc in documented.items():
        p = have.get(name)
        if p is None:
            continue
        assert not (p.required and not doc.loosest_required), (
            f"{proc.name}.{name} is required but a source says it is not: {doc}"
        )
        if doc.loosest_required and not p.required:
            assert p.required_note and any(name in g for g in proc.one_of), (
                f"{proc.name}.{name}: looser than every source; only a one_of rule with a "
                f"required_note may make it so ({doc})"
            )
        if doc.reference_required and not p.required:  # the sources disagree: say why
            assert p.required_note, f"{proc.name}.{name}: say why in required_note ({doc})"


def test_sms_parameters_are_the_issue_s_list():
    send = CATALOG.procedure("SendSMS")
    names = [p.name for p in send.parameters]
    assert names[:3] == ["from", "body", "to"]  # positional CALL SendSMS(:from, :body, :to)
    for n in ("list_id", "schedule", "custom_string", "country", "source", "from_email"):
        assert n in names
    assert not send.parameter("from").required and send.parameter("body").required
    assert send.one_of == (("to",), ("list_id",))
    voice = {p.name for p in CATALOG.procedure("SendVoiceMessage").parameters}
    assert {
        "lang",
        "voice",
        "schedule",
        "require_input",
        "machine_detection",
        "custom_string",
        "country",
        "list_id",
    } <= voice
    mms = {p.name for p in CATALOG.procedure("SendMMS").parameters}
    assert {"media_file", "subject", "schedule", "custom_string"} <= mms


@pytest.mark.parametrize("table_name", ["sms_campaigns", "mms_campaigns", "email_campaigns"])
def test_campaign_inserts_take_their_documented_options(shared_dir, table_name):
    table = CATALOG.table(table_name)
    ep = table.endpoints["insert"]
    documented = send_sources.documented(shared_dir, ep.method, ep.path)
    writable = {c.name for c in table.columns if not c.read_only}
    missing = [n for n in documented if n not in writable]
    assert not missing, f"INSERT INTO {table_name} cannot set {missing}"


# -- rules across parameters, before anything is sent ---------------------------------------


@pytest.mark.parametrize("name", ["SendSMS", "CalculateSMSPrice", "SendVoiceMessage", "SendFax"])
def test_one_of_names_the_alternatives(name):
    proc = CATALOG.procedure(name)
    values = {p.name: "x" for p in proc.parameters if p.required}
    with pytest.raises(ProgrammingError, match=r"\(:to\) or \(:list_id\)"):
        build_request(proc, values)
    assert build_request(proc, {**values, "list_id": 5})
    assert build_request(proc, {**values, "to": "+61411111111"})


def test_catalog_rejects_a_one_of_naming_no_parameter(tmp_path):
    from csql.catalog import load_catalog
    from csql.errors import CatalogError

    (tmp_path / "x.yaml").write_text(
        "group: X\ntables: {}\nprocedures:\n  P:\n    description: d\n    method: POST\n"
        "    path: /x\n    one_of: [[to], [nope]]\n    parameters:\n      to: {type: varchar}\n"
    )
    with pytest.raises(CatalogError, match="nope"):
        load_catalog(tmp_path)


# -- JSON arguments --------------------------------------------------------------------------


def test_json_arguments_in_every_form_become_the_same_json():
    proc = CATALOG.procedure("SendEmail")
    want = [{"email": "a@b.com", "name": "A"}]
    for value in (want, json.dumps(want), tuple(want)):
        assert json_argument(proc, "to", value) == want
    nested = {
        "n": decimal.Decimal("2"),
        "p": decimal.Decimal("1.5"),
        "at": dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        "raw": b"hi",
    }
    assert json_argument(proc, "x", nested) == {"n": 2, "p": 1.5, "at": 1893456000, "raw": "aGk="}
    with pytest.raises(DataError, match=r":to takes JSON"):
        json_argument(proc, "to", "a@b.com")


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(seed=23, scale=0.2) as sb:
        yield sb


@pytest.fixture
def conn(sandbox):
    c = csql.connect(sandbox.username, sandbox.api_key, sandbox.base_url, requests_per_second=0)
    yield c
    c.close()


def _explained_body(conn, sql, params=None) -> dict:
    rows = [r for r in conn.execute(sql, params).fetchall() if r[1] != "price quote"]
    assert len(rows) == 1
    return json.loads(rows[0][4])


def test_json_arguments_from_sql_text_and_python_are_sent_alike(conn):
    address = conn.execute("SELECT email_address_id FROM email_addresses LIMIT 1").fetchone()[0]
    sql_form = _explained_body(
        conn,
        "EXPLAIN CALL SendEmail(to => [{'email': 'a@b.com', 'name': 'A'}], "
        f"\"from\" => {{'email_address_id': {address}, 'name': 'csql'}}, body => 'hi')",
    )
    text_form = _explained_body(
        conn,
        "EXPLAIN CALL SendEmail(to => :to, \"from\" => :f, body => 'hi')",
        {
            "to": '[{"email": "a@b.com", "name": "A"}]',
            "f": json.dumps({"email_address_id": address, "name": "csql"}),
        },
    )
    python_form = _explained_body(
        conn,
        "EXPLAIN CALL SendEmail(to => :to, \"from\" => :f, body => 'hi')",
        {
            "to": [{"email": "a@b.com", "name": "A"}],
            "f": {"email_address_id": address, "name": "csql"},
        },
    )
    assert sql_form == text_form == python_form
    assert sql_form["to"] == [{"email": "a@b.com", "name": "A"}]
    postcard = _explained_body(
        conn,
        "EXPLAIN CALL SendPostcard(file_urls => ['https://x.test/a.pdf', 'https://x.test/b.pdf'],"
        " address_name => 'A', address_line_1 => 'B', address_city => 'C',"
        " address_state => 'D', address_postal_code => '11111', address_country => 'AU',"
        " return_address_id => 1)",
    )
    assert postcard["file_urls"] == ["https://x.test/a.pdf", "https://x.test/b.pdf"]


# -- batches that mix options ----------------------------------------------------------------


def test_executemany_with_per_message_options_is_one_request(sandbox, conn):
    later = int(dt.datetime.now(dt.UTC).timestamp()) + 86400
    rows = [
        {
            "from": "csql",
            "body": "one",
            "to": "+61411111111",
            "schedule": later,
            "custom_string": "batch-1",
        },
        {
            "from": None,
            "body": "two",
            "to": "+61422222222",
            "schedule": None,
            "custom_string": "batch-2",
        },
        {
            "from": "Other",
            "body": "three",
            "to": "+61433333333",
            "schedule": later + 60,
            "custom_string": None,
        },
    ]
    sandbox.reset_log()
    cur = conn.cursor()
    cur.executemany(
        "CALL SendSMS(:from, :body, :to, schedule => :schedule, custom_string => :custom_string)",
        rows,
    )
    assert sandbox.request_log.count("POST", "/v3/sms/send") == 1
    assert cur.rowcount == 3 and cur.messages == []
    got = {r["body"]: r for r in _dicts(cur)}
    assert got["one"]["custom_string"] == "batch-1" and got["one"]["from"] == "csql"
    assert int(got["one"]["schedule"].timestamp()) == later
    assert got["two"]["custom_string"] == "batch-2"
    assert got["three"]["from"] == "Other" and got["three"]["custom_string"] is None


@pytest.mark.slow
def test_executemany_of_1001_messages_is_two_requests(sandbox, conn):
    rows = [{"body": f"m{i}", "to": "+61411111111"} for i in range(1001)]
    sandbox.reset_log()
    cur = conn.cursor()
    cur.executemany("CALL SendSMS(body => :body, to => :to)", rows)
    assert sandbox.request_log.count("POST", "/v3/sms/send") == 2
    assert cur.rowcount == 1001


def _dicts(cur) -> list[dict]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# -- refused messages ------------------------------------------------------------------------


def test_refused_messages_keep_their_status_and_are_warned_about(conn):
    cur = conn.cursor()
    cur.executemany(
        "CALL SendSMS(body => :body, to => :to)",
        [
            {"body": "ok", "to": "+61411111111"},
            {"body": "bad", "to": "not-a-number"},
            {"body": "bad too", "to": "12"},
        ],
    )
    statuses = {r["body"]: r["status"] for r in _dicts(cur)}
    assert statuses == {"ok": "SUCCESS", "bad": "INVALID_RECIPIENT", "bad too": "INVALID_RECIPIENT"}
    assert cur.rowcount == 1
    assert len(cur.messages) == 1
    kind, text = cur.messages[0]
    assert kind is csql.Warning and issubclass(kind, Exception)
    assert "refused 2 of 3" in text and "INVALID_RECIPIENT" in text
    assert conn.messages == cur.messages
    cur.execute("SELECT 1")
    assert cur.messages == []  # cleared when the next statement starts


def test_a_send_that_was_fully_accepted_has_no_warning(conn):
    cur = conn.execute("CALL SendSMS(body => 'fine', to => '+61411111111')")
    assert cur.rowcount == 1 and cur.messages == [] and conn.messages == []


# -- scheduled SMS: sent, visible with its schedule and custom_string, cancellable ------------


def test_scheduled_sms_with_custom_string_is_visible_and_cancellable(conn):
    when = int(dt.datetime.now(dt.UTC).timestamp()) + 3600
    cur = conn.execute(
        "CALL SendSMS(body => 'see you', to => '+61444444444', schedule => :when,"
        " custom_string => 'order-42')",
        {"when": when},
    )
    (sent,) = _dicts(cur)
    assert sent["status"] == "SUCCESS"
    mid = sent["message_id"]
    row = conn.execute(
        "SELECT status, schedule, custom_string FROM sms_history WHERE message_id = :m", {"m": mid}
    ).fetchone()
    assert row[0] == "Scheduled" and int(row[1].timestamp()) == when and row[2] == "order-42"
    conn.execute("CALL CancelSMS(:m)", {"m": mid})
    status = conn.execute(
        "SELECT status FROM sms_history WHERE message_id = :m", {"m": mid}
    ).fetchone()[0]
    assert status == "Cancelled"
    with pytest.raises(csql.Error, match="cannot be cancelled"):
        conn.execute("CALL CancelSMS(:m)", {"m": mid})


def test_the_shell_prints_the_refusal_warning(sandbox, capsys):
    from csql.cli import main

    creds = ["--base-url", sandbox.base_url, "--username", sandbox.username,
             "--api-key", sandbox.api_key]  # fmt: skip
    sql = "CALL SendSMS(body => 'x', to => 'not-a-number')"
    code = main(["--yes", "--format", "csv", "-c", sql, *creds])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "INVALID_RECIPIENT" in out
    assert "warning: CALL SendSMS: ClickSend refused 1 of 1 message(s)" in err


def test_campaign_inserts_and_procedures_take_their_options(conn):
    list_id = conn.execute("SELECT min(list_id) FROM lists").fetchone()[0]
    when = int(dt.datetime.now(dt.UTC).timestamp()) + 7200
    cur = conn.execute(
        'INSERT INTO sms_campaigns (list_id, name, body, "from", schedule, source,'
        " url_to_shorten) VALUES (:l, 'spring', 'Sale https://x.test/s', 'csql', to_timestamp(:w), 'csql',"
        " 'https://x.test/s') RETURNING name, schedule, source, status",
        {"l": list_id, "w": when},
    )
    name, schedule, source, status = cur.fetchone()
    assert (name, int(schedule.timestamp()), source, status) == (
        "spring",
        when,
        "csql",
        "Scheduled",
    )
    body = _explained_body(
        conn,
        "EXPLAIN CALL SendSMSCampaign(list_id => :l, name => 'n', body => 'b', \"from\" => 'f',"
        " senders => ['csql'], url_to_shorten => 'https://x.test/s')",
        {"l": list_id},
    )
    assert body["senders"] == ["csql"] and body["url_to_shorten"] == "https://x.test/s"


def test_email_price_quotes_sum_the_quoted_prices(conn):
    from csql.engine import price_quote

    page = {"total": 2, "data": [{"price": "0.0822"}, {"price": "0.0100"}]}  # the reference
    assert price_quote(page) == {"total_price": "0.0922", "total_count": 2}
    assert price_quote({"total_price": 1, "total_count": 2, "x": 3}) == {
        "total_price": 1,
        "total_count": 2,
    }
    address = conn.execute("SELECT email_address_id FROM email_addresses LIMIT 1").fetchone()[0]
    rows = conn.execute(
        "EXPLAIN CALL SendEmail(to => [{'email': 'a@b.com'}],"
        f" \"from\" => {{'email_address_id': {address}}}, body => 'hi')"
    ).fetchall()
    quote = json.loads(next(r for r in rows if r[1] == "price quote")[4])
    assert quote["total_count"] == 1 and float(quote["total_price"]) > 0
