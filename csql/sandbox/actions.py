"""The behaviour that a generic table endpoint cannot express: sends, cancels, contact moves.

Everything here is keyed by ClickSend's paths (stable, from the reference), not by catalog
procedure names, so a renamed procedure keeps its behaviour. Each action takes the request, the
path placeholders and the checked arguments and returns (status, body); routes.App conforms
nothing here, so each action conforms its own body to the spec's shape.
"""

from __future__ import annotations

import csv
import io
import math
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from csql.catalog import Catalog, Endpoint, Table
from csql.sandbox import data, wire
from csql.sandbox.registry import ANY_TABLE, Hook
from csql.sandbox.routes import ApiError, App, Request, conform_row

Action = Callable[["Request", dict[str, str], Any], tuple[int, Any]]

#: numbers, emails and postcodes that the reference says are accepted free of charge
TEST_NUMBERS = {
    "+61411111111",
    "+61422222222",
    "+61433333333",
    "+61444444444",
    "+14055555555",
    "+14055555666",
    "+447777777777",
    "+8615555555555",
    "+61261111111",
    "+61262222222",
    "+61263333333",
}
TEST_EMAILS = {"test1@test.com", "test2@test.com", "test3@test.com"}
TEST_POSTCODES = {"11111", "22222", "33333"}
E164 = re.compile(r"^\+?[1-9]\d{6,14}$")
#: Request.account of a request authenticated with a subaccount's API username and key
SUBACCOUNT_PREFIX = "subaccount:"
#: the reference's "Test Credentials": this account has no credit
NO_CREDIT = "nocredit"

#: price per message part (or page, or letter) by channel, in the account currency
UNIT_PRICE = {
    "sms": 0.077,
    "mms": 0.34,
    "voice": 0.1,
    "fax": 0.12,
    "letter": 1.12,
    "postcard": 0.95,
    "email": 0.01,
}


@dataclass(frozen=True)
class SendRule:
    """How one channel sends, read from the catalog's procedures (never restated here)."""

    send: str  # path of the send procedure
    price: str | None  # path of its price procedure
    channel: str  # sms, mms, voice, fax, letter, postcard, email (the history table's prefix)
    history: str  # the table sent messages appear in
    key: str | None  # `messages` / `recipients`: the body's list of items; None: one item


def send_rules(catalog: Catalog) -> list[SendRule]:
    """Every paid POST procedure whose result rows are a history table is a send."""
    rules = []
    for p in catalog.procedures:
        if (
            p.method != "POST"
            or not p.costs_money
            or not (p.result_table or "").endswith("_history")
        ):
            continue
        price = catalog.procedure(p.price) if p.price else None
        rules.append(
            SendRule(
                send=p.path,
                price=price.path if price else None,
                channel=p.result_table.removesuffix("_history"),
                history=p.result_table,
                key=p.body if p.body in ("messages", "recipients") else None,
            )
        )
    return rules


def campaign_tables(catalog: Catalog) -> dict[str, str]:
    """table -> channel for the tables whose INSERT is a paid send procedure's request
    (INSERT INTO sms_campaigns is POST /sms-campaigns/send)."""
    paid = {p.path: p for p in catalog.procedures if p.method == "POST" and p.costs_money}
    out = {}
    for t in catalog.tables:
        ep = t.endpoints.get("insert")
        if ep is not None and ep.path in paid and paid[ep.path].result_table == t.name:
            out[t.name] = t.name.removesuffix("_campaigns")
    return out


def _register_table_hooks(app: App) -> None:
    """The per-table behaviour of ClickSend that the generic endpoints cannot express."""
    reg = app.registry

    @reg.table(Hook.LIST, "account_usage")
    def _usage(table: Table, req: Request, params: dict[str, str]) -> Any:
        return account_usage(app, table, params)

    @reg.table(Hook.LIST, "sms_statistics", "voice_statistics")
    def _statistics(table: Table, req: Request, params: dict[str, str]) -> Any:
        return statistics(app, table)

    @reg.table(Hook.ENSURE_SCOPE, ANY_TABLE)
    def _ensure_scope(table: Table, scope: tuple[str, ...]) -> None:
        """Rows of a path key that nothing fans out (numbers for sale in a country) are made
        on first request, deterministically for the key's value."""
        if not scope or all(c.fanout for c in table.path_keys) or table.operations != ("SELECT",):
            return
        ts = app.store[table.name]
        if ts.by_path.get(ts.path_key(dict(zip(ts.path_keys, scope, strict=True)))):
            return
        fixed = dict(zip(ts.path_keys, scope, strict=True))
        stream = f"{table.name}@{'|'.join(scope)}"
        rows = app.gen._generic(table, data.SMALL * 2, fixed, stream)
        for r in data.conform_rows(table, rows):
            ts.put(r)

    @reg.table(Hook.LIST_EXTRAS, "recharge_packages")
    def _currency(table: Table) -> dict:
        return {"_currency": dict(wire.CURRENCY)}

    for name in campaign_tables(app.catalog):

        @reg.table(Hook.INSERT, name)
        def _campaign(table: Table, ep: Endpoint, req: Request, params: dict[str, str]):
            return send_campaign(app, table, ep, req, params, dry_run=False)

    @reg.table(Hook.INSERT, "account")
    def _new_account(table: Table, ep: Endpoint, req: Request, params: dict[str, str]):
        values = req.json_object()
        app.check_required(table, values)
        row = app.new_row(table, values)
        row.pop("password", None)
        body = wire.envelope(row, "Successfully created an account.")
        return 200, wire.conform(body, wire.shape(ep.method, ep.path))

    for t in app.catalog.tables:
        if "bulk_insert" in t.endpoints and t.name not in campaign_tables(app.catalog):

            @reg.table(Hook.INSERT, t.name)
            def _bulk(table: Table, ep: Endpoint, req: Request, params: dict[str, str]):
                if ep is table.endpoints.get("bulk_insert"):
                    return import_contacts(app, req, params, req.json_object())
                return None

    @reg.table(Hook.LIST, "account")
    def _own_account(table: Table, req: Request, params: dict[str, str]) -> Any:
        """The test account `nocredit` reads its own account: no balance (reference, Test
        Credentials: "This account has no credit")."""
        acct = _account_row(app)
        if req.account != NO_CREDIT or acct is None:
            return None
        own = {**acct, "username": NO_CREDIT, "balance": data.price(0.0)}
        ep = table.list_endpoint
        return wire.conform(
            wire.envelope(own, "Here's your account"), wire.shape(ep.method, ep.path)
        )

    @reg.table(Hook.AFTER_INSERT, "email_addresses")
    def _unverified(table: Table, row: dict) -> None:
        """A new allowed address is unverified until VerifyAllowedEmailAddress (reference,
        POST /email/addresses example: "verified": 0)."""
        row["verified"] = 0

    for rule in send_rules(app.catalog):

        @reg.table(Hook.ENSURE_SCOPE, rule.history)
        def _due(table: Table, scope: tuple[str, ...]) -> None:
            deliver_due(app, table.name)

    @reg.table(Hook.LIST, "compliant_sender_types")
    def _compliant(table: Table, req: Request, params: dict[str, str]) -> Any:
        if not req.query.get("filter[product_type]"):  # required: true in the official spec
            raise ApiError(
                400,
                "filter[product_type] is required (SMS): WHERE product_type = 'SMS'.",
                "INVALID_REQUEST",
            )
        countries = [
            v for k, v in sorted(req.query.items()) if k.startswith("filter[country_code]")
        ]
        return _spec_list(table, compliant_sender_types(countries))

    @reg.table(Hook.LIST, "short_url_statistics")
    def _short_url_statistics(table: Table, req: Request, params: dict[str, str]) -> Any:
        return _spec_list(table, short_url_statistics(app, params))

    @reg.table(Hook.AFTER_DELETE, "lists")
    def _list_deleted(table: Table, row: dict) -> None:
        if "contacts" in app.store.tables:
            contacts = app.store["contacts"]
            for r in contacts.scope((row["list_id"],)):
                contacts.remove(r)


def install(app: App) -> None:
    """Register ClickSend's behaviour in the App's registry: table hooks, row decorators and
    the actions of the catalog's procedures (sends and cancels derived from the catalog)."""
    _register_table_hooks(app)
    store = app.store
    senders = app.catalog.table("default_senders")
    if senders is not None and senders.name in store.tables:  # realistic rows, not generic ones
        ts = store[senders.name]
        for row in list(ts.rows.values()):
            ts.remove(row)
        for row in default_senders(app):
            ts.put(conform_row(senders, row))

    if "lists" in store.tables and "contacts" in store.tables:
        contacts = store["contacts"]
        lists = store["lists"]

        def decorate_list(row: dict) -> dict:
            out = dict(row)
            out["_contacts_count"] = len(contacts.by_path.get(str(row["list_id"]), ()))
            return out

        def decorate_contact(row: dict) -> dict:
            out = dict(row)
            lst = lists.rows.get(str(row.get("list_id")))
            out["_list_name"] = lst.get("list_name") if lst else None
            return out

        app.registry.table(Hook.DECORATE, "lists")(decorate_list)
        app.registry.table(Hook.DECORATE, "contacts")(decorate_contact)

    on = app.registry.action

    rules = send_rules(app.catalog)
    by_prefix = {r.send.rsplit("/", 1)[0]: r for r in rules}
    for r in rules:
        on("POST", r.send)(_sender(app, r.channel, r.history, r.key, dry_run=False))
        if r.price:
            on("POST", r.price)(_sender(app, r.channel, r.history, r.key, dry_run=True))
    campaign_paths = set()
    for table_name in campaign_tables(app.catalog):
        table = app.catalog.table(table_name)
        ep = table.endpoints["insert"]
        campaign_paths.add(ep.path.rsplit("/", 1)[0])
        on("POST", ep.path)(_campaign_action(app, table, ep, dry_run=False))
        send = next(p for p in app.catalog.procedures if p.path == ep.path)
        if send.price:
            price = app.catalog.procedure(send.price)
            on("POST", price.path)(_campaign_action(app, table, ep, True))
        on("PUT", f"{ep.path.rsplit('/', 1)[0]}/{{id}}/cancel")(_campaign_cancel(app, table))
    # cancels: PUT <send prefix>/{message_id}/cancel and PUT <send prefix>/cancel-all
    for proc in app.catalog.procedures:
        if proc.method != "PUT":
            continue
        if proc.path.endswith("/{message_id}/cancel"):
            rule = by_prefix.get(proc.path.removesuffix("/{message_id}/cancel"))
            if rule is not None:
                on("PUT", proc.path)(_cancel_one(app, rule.history))
        elif proc.path.endswith("/cancel-all"):
            rule = by_prefix.get(proc.path.removesuffix("/cancel-all"))
            if rule is not None:
                on("PUT", proc.path)(_cancel_all(app, rule.history))

    on("PUT", "/lists/{from_list_id}/contacts/{contact_id}/copy/{to_list_id}")(
        lambda req, params, args: move_contact(app, params, copy=True)
    )
    on("PUT", "/lists/{from_list_id}/contacts/{contact_id}/transfer/{to_list_id}")(
        lambda req, params, args: move_contact(app, params, copy=False)
    )
    on("PUT", "/lists/{list_id}/remove-opted-out-contacts/{opt_out_list_id}")(
        lambda req, params, args: remove_opted_out(app, params)
    )
    on("PUT", "/lists/{list_id}/remove-duplicates")(
        lambda req, params, args: remove_duplicates(app, params, args)
    )
    on("POST", "/lists/{list_id}/import")(
        lambda req, params, args: import_contacts(app, req, params, args)
    )
    on("POST", "/uploads")(lambda req, params, args: upload(app, req, args))
    for path in (
        "/sms/history/export",
        "/mms/history/export",
        "/voice/history/export",
        "/email/history/export",
        "/post/letters/history/export",
        "/post/letters/export",
        "/post/postcards/history/export",
        "/email-campaigns/{id}/history/export",
    ):
        on("GET", path)(_export(path))
    for path, msg in (
        ("/sms/receipts-read", "Receipts has been marked as read."),
        ("/sms/inbound-read", "Inbound messages have been marked as read."),
        ("/sms/inbound-read/{message_id}", "Inbound message has been marked as read."),
    ):
        on("PUT", path)(_done(path, msg))
    on("POST", "/numbers/buy/{dedicated_number}")(lambda r, p, a: buy_number(app, p))
    on("PUT", "/recharge/purchase/{package_id}")(lambda r, p, a: buy_package(app, p))
    on("PUT", "/subaccounts/{subaccount_id}/regen-api-key")(lambda r, p, a: regen_key(app, p))


# ---------------------------------------------------------------------------------------------
# sending


def _shape_body(method: str, path: str, body: Any) -> Any:
    return wire.conform(body, wire.shape(method, path))


def _country_of(number: str) -> str:
    for prefix, country in (("+61", "AU"), ("+1", "US"), ("+44", "GB"), ("+64", "NZ")):
        if number.startswith(prefix):
            return country
    return "AU"


def _account_row(app: App) -> dict | None:
    ts = app.store.get("account")
    return next(iter(ts.rows.values()), None) if ts else None


def _charge(app: App, amount: float) -> bool:
    """Take `amount` from the balance; False (and nothing taken) if it is not there."""
    acct = _account_row(app)
    if acct is None or amount <= 0:
        return True
    balance = float(acct.get("balance") or 0)
    if balance < amount:
        return False
    acct["balance"] = (
        data.price(balance - amount) if isinstance(acct["balance"], str) else (balance - amount)
    )
    return True


def _recipients(app: App, channel: str, item: dict) -> list[dict]:
    """One item per recipient: `to` as given, or every contact of `list_id`."""
    if item.get("to") or channel in ("letter", "postcard") or not item.get("list_id"):
        return [item]
    contacts = app.store.get("contacts")
    if contacts is None:
        return [item]
    field = {"fax": "fax_number", "email": "email"}.get(channel, "phone_number")
    out = []
    for c in contacts.scope((item["list_id"],)):
        if c.get(field):
            out.append({**item, "to": c[field], "contact_id": c.get("contact_id")})
    return out


def _status(app: App, req: Request, channel: str, item: dict, price: float, free: bool) -> str:
    to = str(item.get("to") or "")
    if channel in ("sms", "mms", "voice", "fax") and not E164.match(to.replace(" ", "")):
        return "INVALID_RECIPIENT"
    if channel in ("sms", "mms", "voice") and not str(item.get("body") or "").strip():
        return "EMPTY_MESSAGE"
    if req.account == NO_CREDIT and not free:
        return "INSUFFICIENT_CREDIT"
    return "SUCCESS"


def _sender(app: App, channel: str, history: str, key: str | None, dry_run: bool) -> Action:
    def action(req: Request, params: dict[str, str], args: Any) -> tuple[int, Any]:
        now = app.now()
        body = args if isinstance(args, dict) else {}
        items = body.get(key) if key else [body]
        sub = app.store.get("subaccounts")
        sub_row = next(iter(sub.rows.values()), None) if sub else None
        results, total = [], 0.0
        for raw in items or []:
            for item in _recipients(app, channel, raw):
                text = str(item.get("body") or "")
                parts = max(1, math.ceil(len(text) / 160)) if channel == "sms" else 1
                to = str(item.get("to") or "")
                email = _email_of(item)
                free = (
                    to in TEST_NUMBERS
                    or email in TEST_EMAILS
                    or str(item.get("address_postal_code") or "") in TEST_POSTCODES
                )
                unit = 0.0 if free else UNIT_PRICE[channel]
                price = round(unit * parts, 6)
                status = _status(app, req, channel, item, price, free)
                refused = status != "SUCCESS"
                if refused:  # not sent: not charged, and no carrier delivered it
                    price = 0.0
                schedule = int(item.get("schedule") or 0) or now
                msg = {
                    **{
                        k: v for k, v in item.items() if not isinstance(v, dict | list) or k == "to"
                    },
                    "direction": "out",
                    "date": now,
                    "schedule": schedule,
                    "message_id": data.uuids(_rng(app, history), 1)[0],
                    "message_parts": parts,
                    "message_price": data.price(price),
                    "user_id": _account_row(app).get("user_id") if _account_row(app) else 1,
                    "subaccount_id": _subaccount_id(req, sub_row),
                    "country": item.get("country") or _country_of(to),
                    "carrier": "" if refused else data.CARRIERS.get(_country_of(to), ""),
                    "status": status,
                    "custom_string": item.get("custom_string"),
                    "is_shared_system_number": False,
                }
                if channel in ("email", "letter", "postcard"):
                    msg["price"] = data.price(price)
                if status == "SUCCESS":
                    total += price
                results.append(msg)
        queued = [m for m in results if m["status"] == "SUCCESS"]
        if not dry_run and queued:
            with app.store.lock:
                if not _charge(app, total):
                    for m in queued:
                        m["status"] = "INSUFFICIENT_CREDIT"
                    queued, total = [], 0.0
                else:
                    _append_history(app, history, queued, now)
        if channel == "email":
            first = results[0] if results else {}
            out = wire.envelope({**first, "date_added": now}, "Here are your data.")
            return 200, _shape_body("POST", req.path, out)
        payload = {
            "total_price": round(total, 6),
            "total_count": len(results),
            "queued_count": len(queued),
            key or "messages": results,
            "_currency": dict(wire.CURRENCY),
        }
        msg = "Here are your data." if dry_run else "Messages queued for delivery."
        return 200, _shape_body("POST", req.path, wire.envelope(payload, msg))

    return action


def _spec_list(table: Table, rows: list[dict]) -> Any:
    """A `paging: none` list body in the shape the official spec declares."""
    ep = table.list_endpoint
    tree = wire.shape(ep.method, ep.path)
    body: Any = {"data": rows} if ep.records == "data" else wire.envelope({"data": rows})
    return wire.conform(body, tree)


#: the countries the sandbox knows (data.CARRIERS) and the sender types ClickSend names
SENDER_TYPES = ("alpha_tag", "longcode", "tollfree", "10DLC", "own_number")


def default_senders(app: App) -> list[dict]:
    """One enabled default sender per country, deterministic for the sandbox's seed."""
    acct = _account_row(app) or {}
    rng = data.rng_for(app.gen.seed, "default_senders")
    ids = data.uuids(rng, len(data.CARRIERS))
    out = []
    for (country, _), ident in zip(sorted(data.CARRIERS.items()), ids, strict=True):
        kind = "10DLC" if country == "US" else "alpha_tag"
        out.append({
            "id": ident.lower(), "user_id": acct.get("user_id"), "subaccount_id": None,
            "country_code": country, "product_type": "SMS", "status": "ENABLED",
            "default_sender_strategies": [{
                "sender_type": kind, "sender_id": "+12025550123" if kind == "10DLC" else "csql",
                "sender_country_code": country, "priority": 1, "status": "ENABLED", "note": None,
            }],
            "created_timestamp": "2024-01-02T03:04:05Z", "updated_timestamp": "2024-01-02T03:04:05Z",
        })  # fmt: skip
    return out


def compliant_sender_types(countries: list[str]) -> list[dict]:
    """Allowed and blocked sender types per recipient country (the spec's example rules:
    the US needs 10DLC or toll-free, elsewhere alpha tags and long codes)."""
    out = []
    for country in countries or sorted(data.CARRIERS):
        if country.upper() == "US":
            allowed, blocked = ["10DLC", "tollfree"], ["alpha_tag", "own_number"]
        else:
            allowed, blocked = ["alpha_tag", "longcode", "own_number"], ["tollfree", "10DLC"]
        out.append({
            "recipient_country_code": country.upper(),
            "blocked_sender_types": blocked,
            "allowed_sender_types": [
                {"sender_type": t, "allowed_sender_countries": {"global": t == "alpha_tag",
                 "country_codes": None if t == "alpha_tag" else [country.upper()]}}
                for t in allowed
            ],
        })  # fmt: skip
    return out


def short_url_statistics(app: App, params: dict[str, str]) -> list[dict]:
    """Click statistics of the URLs in one message, deterministic for (source, source_id)."""
    rng = data.rng_for(app.gen.seed, f"short_url@{params.get('source')}|{params.get('source_id')}")
    out = []
    for ident in data.uuids(rng, rng.randint(1, 2)):
        total = rng.randint(1, 50)
        unique = rng.randint(0, total)

        def split(labels: tuple[str, ...], n: int = unique) -> list[dict]:
            first = rng.randint(0, n)
            return [{"label": labels[0], "count": first}, {"label": labels[1], "count": n - first}]

        out.append({
            "long_url_id": ident.lower(),
            "links": {"total": total, "opened_unique": unique,
                      "opened_total": unique + rng.randint(0, 20), "unopened": total - unique},
            "device": split(("mobile", "desktop")), "os": split(("iOS", "Android")),
            "browser": split(("Safari", "Chrome")), "country": split(("AU", "US")),
            "region": split(("NSW", "CA")),
        })  # fmt: skip
    return out


def _subaccount_id(req: Request, default_row: dict | None) -> Any:
    """The subaccount a send is made by: the one whose credentials authenticated the request
    (ClickSend's subaccounts have API keys of their own), else the main one."""
    if req.account.startswith(SUBACCOUNT_PREFIX):
        return int(req.account.removeprefix(SUBACCOUNT_PREFIX))
    return default_row.get("subaccount_id") if default_row else 1


def _email_of(item: dict) -> str:
    to = item.get("to")
    if isinstance(to, list) and to and isinstance(to[0], dict):
        return str(to[0].get("email") or "")
    return str(to or "") if "@" in str(to or "") else ""


def _rng(app: App, stream: str):
    counter = app.store.state.setdefault("rng_counter", {})
    counter[stream] = counter.get(stream, 0) + 1
    return data.rng_for(app.gen.seed, f"{stream}#sent#{counter[stream]}")


def _append_history(app: App, history: str, messages: list[dict], now: int) -> None:
    """Sent messages become history rows (Scheduled when due later, else Completed)."""
    table = app.catalog.table(history)
    ts = app.store.get(history)
    if table is None or ts is None:
        return
    for m in messages:
        row = {c.name: None for c in table.columns}
        for k, v in m.items():
            if k in row:
                row[k] = v
        scheduled = m["schedule"] > now + 1
        row["status"] = "Scheduled" if scheduled else "Completed"
        if scheduled:  # delivered by deliver_due once its time comes
            app.store.state.setdefault("scheduled", {}).setdefault(history, set()).add(
                m["message_id"]
            )
        if "status_code" in row:
            row["status_code"] = None if scheduled else "201"
            row["status_text"] = None if scheduled else "Success: Message received on handset."
        if "to" in row and isinstance(m.get("to"), list):
            row["to"] = _email_of(m)
        if "_api_username" in row:
            row["_api_username"] = app.gen.username
        if "date_added" in row:
            row["date_added"] = now
        ts.put(conform_row(table, row))


def send_campaign(app, table, ep, req, params, dry_run: bool) -> tuple[int, Any]:
    return _campaign_action(app, table, ep, dry_run)(req, params, req.json_object())


def _campaign_action(app: App, table: Table, ep: Endpoint, dry_run: bool) -> Action:
    channel = campaign_tables(app.catalog)[table.name]

    def action(req: Request, params: dict[str, str], args: Any) -> tuple[int, Any]:
        values = dict(args) if isinstance(args, dict) else {}
        app.check_required(table, values)
        contacts = app.store.get("contacts")
        lists = app.store.get("lists")
        list_id = values.get("list_id")
        if lists is not None and lists.get((list_id,)) is None:
            raise ApiError(404, f"List #{list_id} not found.")
        members = contacts.scope((list_id,)) if contacts else []
        field = "email" if channel == "email" else "phone_number"
        members = [c for c in members if c.get(field)]
        unit = UNIT_PRICE[channel] * max(1, math.ceil(len(str(values.get("body") or "")) / 160))
        total = round(unit * len(members), 6)
        if dry_run:
            payload = {
                "total_count": len(members),
                "total_price": total,
                "queued_count": len(members),
                "data": {"messages": []},
                "_currency": dict(wire.CURRENCY),
            }
            return 200, _shape_body("POST", req.path, wire.envelope(payload))
        now = app.now()
        schedule = int(values.get("schedule") or 0)
        row = app.new_row(table, values)
        # read-only fields ClickSend sets: new_row would take them from the generator
        row["status"] = "Scheduled" if schedule > now else "Queued"
        if "_total_count" in row:
            row["_total_count"] = len(members)
        for c in table.columns:
            if c.name == "schedule" and not schedule:
                row[c.name] = now
        with app.store.lock:
            if req.account == NO_CREDIT or not _charge(app, total):
                raise ApiError(
                    400, "You have reached the end of your message credits.", "INSUFFICIENT_CREDIT"
                )
            app.store[table.name].put(row)
            history = {"sms": "sms_history", "mms": "mms_history", "email": "email_history"}
            msgs = []
            rng = _rng(app, table.name)
            for c, mid in zip(members, data.uuids(rng, len(members)), strict=True):
                msgs.append(
                    {
                        "to": c.get(field),
                        "from": values.get("from"),
                        "body": values.get("body"),
                        "subject": values.get("subject"),
                        "direction": "out",
                        "date": now,
                        "schedule": schedule or now,
                        "message_id": mid,
                        "message_parts": 1,
                        "message_price": data.price(unit),
                        "list_id": list_id,
                        "contact_id": c.get("contact_id"),
                        "first_name": c.get("first_name"),
                        "last_name": c.get("last_name"),
                        "user_id": row.get("user_id"),
                        "subaccount_id": row.get("subaccount_id"),
                        "country": _country_of(str(c.get(field) or "")),
                    }
                )
            _append_history(app, history[channel], msgs, now)
        return 200, app.item_body(table, ep, row, "Your campaign has been queued.")

    return action


def _campaign_cancel(app: App, table: Table) -> Action:
    def action(req: Request, params: dict[str, str], args: Any) -> tuple[int, Any]:
        ts = app.store[table.name]
        ident = next(iter(params.values()))
        row = ts.get((ident,))
        if row is None:
            raise ApiError(404, f"{table.name[:-1].replace('_', ' ').title()} #{ident} not found.")
        with app.store.lock:
            row["status"] = "Cancelled"
            ts.touch()
        body = wire.envelope(dict(row), "Campaign has been cancelled.")
        return 200, _shape_body(req.method, req.template, body)

    return action


def _cancel_one(app: App, history: str) -> Action:
    def action(req: Request, params: dict[str, str], args: Any) -> tuple[int, Any]:
        mid = params.get("message_id", "")
        ts = app.store.get(history)
        row = ts.get((mid,)) if ts else None
        if row is None:
            raise ApiError(404, f"Message {mid} not found.")
        deliver_due(app, history)
        if row.get("status") not in ("Scheduled", "WaitApproval", "Queued"):
            raise ApiError(400, f"Message {mid} is {row.get('status')} and cannot be cancelled.")
        with app.store.lock:
            row["status"] = "Cancelled"
            ts.touch()
        body = wire.envelope([], f"Message {mid} has been cancelled.")
        return 200, _shape_body(req.method, req.template, body)

    return action


def deliver_due(app: App, history: str) -> None:
    """Scheduled messages whose time has come are sent (Completed): they can be cancelled
    only until then, as ClickSend says ("Cancel a scheduled SMS")."""
    ts = app.store.get(history)
    pending = app.store.state.get("scheduled", {}).get(history)
    if ts is None or not pending:  # only what the sandbox queued: generated rows stay as made
        return
    now = app.now()
    with app.store.lock:
        changed = False
        for mid in list(pending):
            row = ts.get((mid,))
            when = _int(row.get("schedule")) if row else None
            if row is None or row.get("status") != "Scheduled":
                pending.discard(mid)
                continue
            if when is not None and when <= now:
                pending.discard(mid)
                row["status"] = "Completed"
                if "status_code" in row:
                    row["status_code"] = "201"
                    row["status_text"] = "Success: Message received on handset."
                changed = True
        if changed:
            ts.touch()


def _cancel_all(app: App, history: str) -> Action:
    def action(req: Request, params: dict[str, str], args: Any) -> tuple[int, Any]:
        deliver_due(app, history)
        ts = app.store.get(history)
        count = 0
        if ts is not None:
            with app.store.lock:
                for row in ts.rows.values():
                    if row.get("status") == "Scheduled":
                        row["status"] = "Cancelled"
                        count += 1
                ts.touch()
        body = wire.envelope({"count": count}, f"{count} messages has been cancelled.")
        return 200, _shape_body(req.method, req.template, body)

    return action


# ---------------------------------------------------------------------------------------------
# contacts


def _contact(app: App, list_id: str, contact_id: str) -> dict:

    contacts = app.store["contacts"]
    row = contacts.get((contact_id,), (list_id,))
    if row is None:
        raise ApiError(404, f"Contact #{contact_id} not found in list #{list_id}.")
    return row


def _list_exists(app: App, list_id: Any) -> None:

    if app.store["lists"].get((list_id,)) is None:
        raise ApiError(404, f"List #{list_id} not found.")


def move_contact(app: App, params: dict[str, str], copy: bool) -> tuple[int, Any]:
    table = app.catalog.table("contacts")
    src = _contact(app, params["from_list_id"], params["contact_id"])
    _list_exists(app, params["to_list_id"])
    contacts = app.store["contacts"]
    with app.store.lock:
        if copy:
            row = dict(src)
            row["contact_id"] = contacts.new_id()
            row["list_id"] = params["to_list_id"]
            row["date_added"] = row["date_updated"] = app.now()
            row = conform_row(table, row)
            contacts.put(row)
        else:
            contacts.remove(src)
            src["list_id"] = params["to_list_id"]
            src["date_updated"] = app.now()
            row = conform_row(table, src)
            contacts.put(row)
    verb = "copied" if copy else "transferred"
    msg = f"Contact #{params['contact_id']} has been {verb} to List #{params['to_list_id']}"
    ep = Endpoint("PUT", f"/lists/{{}}/contacts/{{}}/{'copy' if copy else 'transfer'}/{{}}")
    return 200, app.item_body(table, ep, row, msg)


def remove_opted_out(app: App, params: dict[str, str]) -> tuple[int, Any]:
    _list_exists(app, params["list_id"])
    _list_exists(app, params["opt_out_list_id"])
    contacts = app.store["contacts"]
    with app.store.lock:
        opted = {c.get("phone_number") for c in contacts.scope((params["opt_out_list_id"],))}
        gone = [c for c in contacts.scope((params["list_id"],)) if c.get("phone_number") in opted]
        for c in gone:
            contacts.remove(c)
    body = wire.envelope({"deleted": len(gone)}, f"{len(gone)} contacts have been removed.")
    return 200, _shape_body("PUT", "/lists/{}/remove-opted-out-contacts/{}", body)


def remove_duplicates(app: App, params: dict[str, str], args: Any) -> tuple[int, Any]:
    _list_exists(app, params["list_id"])
    fields = (args or {}).get("fields") if isinstance(args, dict) else None
    if isinstance(fields, dict):
        fields = fields.get("fields")
    if not isinstance(fields, list) or not fields:
        fields = ["phone_number"]
    contacts = app.store["contacts"]
    seen: set[tuple] = set()
    gone = []
    with app.store.lock:
        for c in contacts.scope((params["list_id"],)):
            k = tuple(str(c.get(f) or "").lower() for f in fields)
            if k in seen:
                gone.append(c)
            seen.add(k)
        for c in gone:
            contacts.remove(c)
    body = wire.envelope({"deleted": len(gone)}, f"{len(gone)} duplicate contacts removed.")
    return 200, _shape_body("PUT", "/lists/{}/remove-duplicates", body)


def upload(app: App, req: Request, args: Any) -> tuple[int, Any]:
    """Keep an uploaded file (base64 `content`) and give its URL, as ClickSend does; an import
    of that URL reads it back. Files are kept for the life of the sandbox."""
    import base64
    import binascii

    content = args.get("content") if isinstance(args, dict) else None
    if not content:
        raise ApiError(400, "Missing required field(s): content.", "MISSING_REQUIRED_FIELDS")
    try:
        raw = base64.b64decode(str(content), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "content is not valid base64.", "BAD_REQUEST") from None
    kind = req.query.get("convert") or "csv"
    with app.store.lock:
        files = app.store.state.setdefault("uploads", {})
        upload_id = len(files) + 1
        name = f"upload-{upload_id}.{'csv' if kind == 'csv' else 'pdf'}"
        files[name] = raw
    now = int(time.time())
    data_ = {
        "upload_id": upload_id,
        "file_name": name,
        "date_added": now,
        "date_delete": now + 600,
        "user_id": 1,
        "_url": f"{req.base_url}/uploads/{name}",
    }
    return 200, _shape_body("POST", "/uploads", wire.envelope(data_, "File uploaded."))


def _uploaded(app: App, req: Request, url: str) -> bytes | None:
    prefix = f"{req.base_url}/uploads/"
    if not url.startswith(prefix):
        return None
    return app.store.state.get("uploads", {}).get(url[len(prefix) :])


def import_contacts(app: App, req: Request, params: dict[str, str], args: Any) -> tuple[int, Any]:
    """Import a CSV file into a list. A file uploaded to this sandbox (POST /uploads) or a
    `data:` URL is imported at once (the sandbox reaches no other host); any other URL is
    accepted and queued, and imports nothing."""

    list_id = params["list_id"]
    _list_exists(app, list_id)
    args = args if isinstance(args, dict) else {}
    url = str(args.get("file_url") or "")
    order = args.get("field_order")
    if not url or not isinstance(order, list) or not order:
        raise ApiError(
            400, "Missing required field(s): file_url, field_order.", "MISSING_REQUIRED_FIELDS"
        )
    table = app.catalog.table("contacts")
    alias = {"phone": "phone_number", "fax": "fax_number", "mobile": "phone_number"}
    names = [alias.get(str(f), str(f)) for f in order]
    imported: list[int] = []
    uploaded = _uploaded(app, req, url)
    if url.startswith("data:") or uploaded is not None:
        header, _, payload = url.partition(",")
        if uploaded is not None:
            text = uploaded.decode("utf-8-sig")
        elif ";base64" not in header:
            text = urllib.parse.unquote_to_bytes(payload).decode()
        else:
            text = __import__("base64").b64decode(payload).decode()
        contacts = app.store["contacts"]
        with app.store.lock:
            for record in csv.reader(io.StringIO(text)):
                values = {
                    n: v for n, v in zip(names, record, strict=False) if table.column(n) is not None
                }
                if not any(values.get(c) for c in ("phone_number", "fax_number", "email")):
                    continue
                row = app.new_row(table, {**values, "list_id": list_id})
                contacts.put(conform_row(table, row))
                imported.append(row["contact_id"])
    job = str(data.rng_for(app.gen.seed, f"import#{url}").getrandbits(62))
    body = wire.envelope(
        {"msg": "Messages put on queue.", "ids": [job], "id": job}, "Your file is now queued."
    )
    return 200, _shape_body("POST", "/lists/{}/import", body)


# ---------------------------------------------------------------------------------------------
# the rest


def _export(path: str) -> Action:
    def action(req: Request, params: dict[str, str], args: Any) -> tuple[int, Any]:
        name = req.query.get("filename") or "export"
        url = f"{req.base_url}/exports/{urllib.parse.quote(name)}.csv"
        return 200, _shape_body("GET", path, wire.envelope({"url": url}))

    return action


def _done(path: str, msg: str) -> Action:
    def action(req: Request, params: dict[str, str], args: Any) -> tuple[int, Any]:
        return 200, _shape_body("PUT", path, wire.envelope([], msg))

    return action


def buy_number(app: App, params: dict[str, str]) -> tuple[int, Any]:
    number = params["dedicated_number"]
    table = app.catalog.table("numbers")
    if table is not None:
        row = app.new_row(table, {})
        row["dedicated_number"] = number
        row["country"] = _country_of(number)
        with app.store.lock:
            app.store["numbers"].put(conform_row(table, row))
    body = wire.envelope({"dedicated_number": number, "country": _country_of(number)})
    return 200, _shape_body("POST", "/numbers/buy/{}", body)


def buy_package(app: App, params: dict[str, str]) -> tuple[int, Any]:

    pkgs = app.store.get("recharge_packages")
    pkg = pkgs.get((params["package_id"],)) if pkgs else None
    if pkgs is not None and pkg is None:
        raise ApiError(404, f"Package #{params['package_id']} not found.")
    amount = float((pkg or {}).get("package_price") or 20)
    acct = _account_row(app)
    now = app.now()
    with app.store.lock:
        if acct is not None:
            acct["balance"] = data.price(float(acct.get("balance") or 0) + amount)
        tx = app.store.get("recharge_transactions")
        if tx is not None:
            table = app.catalog.table("recharge_transactions")
            row = app.new_row(table, {})
            row.update(amount=data.price(amount), currency="USD", date=now)
            tx.put(row)
    payload = {
        "user_id": (acct or {}).get("user_id"),
        "amount": data.price(amount),
        "currency": "USD",
        "amount_aud": data.price(amount * 1.5),
        "date": now,
    }
    return 200, _shape_body("PUT", "/recharge/purchase/{}", wire.envelope(payload))


def regen_key(app: App, params: dict[str, str]) -> tuple[int, Any]:

    ts = app.store.get("subaccounts")
    row = ts.get((params["subaccount_id"],)) if ts else None
    if row is None:
        raise ApiError(404, f"Subaccount #{params['subaccount_id']} not found.")
    key = data.uuids(_rng(app, "api_key"), 1)[0]
    with app.store.lock:
        row["api_key"] = key
        ts.touch()
    body = wire.envelope({"api_key": key}, "New API key has been generated.")
    return 200, _shape_body("PUT", "/subaccounts/{}/regen-api-key", body)


def account_usage(app: App, table: Table, params: dict[str, str]) -> Any:
    """Usage per channel and subaccount for one month, counted from the history tables."""
    import datetime as dt

    try:
        year, month = int(params["year"]), int(params["month"])
        start = int(dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp())
        end = int(dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=dt.UTC).timestamp())
    except (KeyError, ValueError):
        raise ApiError(400, "year and month must be a valid year and month (1-12).") from None
    subs = app.store.get("subaccounts")
    names = (
        {str(s["subaccount_id"]): s.get("api_username") for s in subs.rows.values()} if subs else {}
    )
    result: dict[str, Any] = {}
    for channel, history in (
        ("sms", "sms_history"),
        ("mms", "mms_history"),
        ("voice", "voice_history"),
        ("fax", "fax_history"),
        ("post", "letter_history"),
        ("postcards", "postcard_history"),
        ("email", "email_history"),
    ):
        ts = app.store.get(history)
        per: dict[str, list[float]] = {}
        if ts is not None:
            for r in ts.rows.values():
                d = _int(r.get("date") or r.get("date_added"))
                if d is not None and start <= d < end:
                    acc = per.setdefault(str(r.get("subaccount_id")), [0, 0.0])
                    acc[0] += 1
                    acc[1] += float(r.get("message_price") or r.get("price") or 0)
        result[channel] = [
            {
                "subaccount_id": sid,
                "username": names.get(sid, app.gen.username),
                "total_count": c,
                "total_price": round(p, 4),
            }
            for sid, (c, p) in sorted(per.items())
        ]
        result[f"{channel}_total"] = {
            "count": sum(int(v[0]) for v in per.values()),
            "price": round(sum(v[1] for v in per.values()), 4),
        }
    result["_currency"] = dict(wire.CURRENCY)
    known = {c.name for c in table.columns}
    data_obj = {k: v for k, v in result.items() if k in known or k == "_currency"}
    ep = table.list_endpoint
    return wire.conform(wire.envelope(data_obj), wire.shape(ep.method, ep.path))


def statistics(app: App, table: Table) -> Any:
    """Outbound/inbound/bounced counts and prices per day over the last 30 days of history."""
    history = "sms_history" if table.name.startswith("sms") else "voice_history"
    ts = app.store.get(history)
    rows = list(ts.rows.values()) if ts else []
    latest = max((_int(r.get("date")) or 0 for r in rows), default=app.now())
    since = latest - 30 * 86400
    days: dict[int, dict] = {}
    total = {"outbound": {"count": 0, "price": 0.0}, "inbound": {"count": 0, "price": 0.0},
             "bounced": {"count": 0, "price": 0.0}}  # fmt: skip
    for r in rows:
        d = _int(r.get("date"))
        if d is None or d < since:
            continue
        kind = "inbound" if r.get("direction") == "in" else "outbound"
        if r.get("status") == "Failed":
            kind = "bounced"
        day = days.setdefault(d - d % 86400, {k: {"count": 0, "price": 0.0} for k in total})
        p = float(r.get("message_price") or 0)
        for bucket in (day[kind], total[kind]):
            bucket["count"] += 1
            bucket["price"] = round(bucket["price"] + p, 4)
    stats = [{"date": d, **v} for d, v in sorted(days.items())]
    data_obj = {"total": total, "stats": stats, "_currency": dict(wire.CURRENCY)}
    if table.column("stat") is not None:
        data_obj["stat"] = stats
    ep = table.list_endpoint
    return wire.conform(wire.envelope(data_obj), wire.shape(ep.method, ep.path))


def _int(v: Any) -> int | None:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return None
