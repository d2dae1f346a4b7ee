"""The catalog: complete against the API reference, faithful to Skyvia, and typed correctly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from csql.catalog import load_catalog, placeholders
from csql.errors import CatalogError, DataError
from csql.read.arrow import extract_records, records_to_arrow

# Skyvia's ClickSend connector (seeds/000): object -> its DML operations.
SKYVIA_DML = {
    **dict.fromkeys(
        [
            "ContactLists", "Contacts", "EmailDeliveryReceiptRules", "FaxDeliveryReceiptRules",
            "InboundFaxRules", "InboundSMSRules", "ReturnAddresses", "SMSDeliveryReceiptRules",
            "SMSTemplates", "StrippedStringRules", "Subaccounts", "UserEmailTemplates",
            "VoiceDeliveryReceiptRules",
        ],
        ("INSERT", "UPDATE", "DELETE"),
    ),
    **dict.fromkeys(
        ["EmailCampaigns", "MMSCampaigns", "ResellerAccounts", "SMSCampaigns"], ("INSERT", "UPDATE")
    ),
    "EmailAddresses": ("INSERT", "DELETE"),
    **dict.fromkeys(["Accounts", "DeliveryIssues", "EmailToSMS", "InboundSMS", "SMSReceipts"], ("INSERT",)),
}  # fmt: skip
SKYVIA_SELECT_ONLY = [
    "FaxHistory", "LettersHistory", "MasterEmailTemplates", "PostcardsHistory",
    "TransactionalEmailHistory", "VoiceHistory",
]  # fmt: skip
SKYVIA_PROCEDURES = {
    "SendAccountVerification": ["country", "user_phone", "type"],
    "VerifyAccount": ["activation_token"],
    "ForgotUsername": ["email"],
    "ForgotPassword": ["username"],
    "VerifyForgotPassword": ["subaccount_id", "activation_token", "password"],
    "PurchaseRechargePackage": ["package_id"],
    "CopyContactToList": ["from_list_id", "contact_id", "to_list_id"],
    "TransferContactToList": ["from_list_id", "contact_id", "to_list_id"],
    "RemoveOptedOutContacts": ["list_id", "opt_out_list_id"],
    "SendEmailVerificationToken": ["email_address_id"],
    "VerifyAllowedEmailAddress": ["email_address_id", "activation_token"],
    "CancelEmailCampaign": ["email_campaign_id"],
    "CancelMMSCampaign": ["mms_campaign_id"],
    "PurchaseDedicatedNumber": ["dedicated_number"],
    "CancelScheduledLetter": ["message_id"],
    "CancelScheduledPostcard": ["message_id"],
    "ResellerTransferCredit": ["client_user_id", "balance", "currency"],
    "SendSMS": ["from", "body", "to"],
    "MarkSMSReceiptAsRead": ["date_before"],
    "MarkInboundSMSAsRead": ["date_before"],
    "MarkSpecificInboundSMSAsRead": ["message_id"],
    "CancelSMS": ["message_id"],
    "CancelSMSCampaign": ["sms_campaign_id"],
    "GenerateNewAPIKey": ["subaccount_id"],
    "SendVoiceMessage": ["body", "to", "voice", "custom_string", "country"],
    "CancelVoiceMessage": ["message_id"],
}
CHANNELS = ["SMS", "MMS", "Voice", "Email", "Fax", "Letter", "Postcard"]


def _shape(path: str) -> str:
    """A path with its placeholder names erased, so /a/{id} and /a/{rule_id} compare equal."""
    return re.sub(r"{[^}]+}", "{}", path.rstrip("/"))


# --- Skyvia ------------------------------------------------------------------------------


def test_all_29_skyvia_objects_resolve_case_insensitively(catalog):
    names = [*SKYVIA_DML, *SKYVIA_SELECT_ONLY]
    assert len(names) == 29
    for name in names:
        for spelling in (name, name.lower(), name.upper()):
            assert catalog.table(spelling) is not None, f"{spelling} does not resolve"
    tables = {catalog.table(n).name for n in names}
    assert len(tables) == 29, "two Skyvia objects resolve to the same table"


@pytest.mark.parametrize("name", sorted([*SKYVIA_DML, *SKYVIA_SELECT_ONLY]))
def test_operations_equal_skyvia(catalog, name):
    table = catalog.table(name)
    expected = ("SELECT", *SKYVIA_DML.get(name, ()))
    assert table.operations == expected, f"{name} -> {table.name}: {table.operations}"


def test_skyvia_seed_lists_the_same_dml(shared_dir: Path):
    """Keep SKYVIA_DML honest: re-read the DML table of seeds/000."""
    text = next((shared_dir / "seeds").glob("000_*.txt")).read_text()
    found = {}
    for ops, objects in re.findall(
        r"^((?:INSERT|UPDATE|DELETE)(?:, (?:UPDATE|DELETE))*) \| (.+?) \|$", text, re.M
    ):
        for obj in objects.split(","):
            found[obj.strip()] = tuple(o.strip() for o in ops.split(","))
    assert found == SKYVIA_DML


def test_non_skyvia_writable_tables_say_why(catalog):
    skyvia_tables = {catalog.table(n).name for n in [*SKYVIA_DML, *SKYVIA_SELECT_ONLY]}
    for t in catalog.tables:
        if t.name not in skyvia_tables and t.operations != ("SELECT",):
            assert t.operations_note, f"{t.name} allows {t.operations} without an operations_note"


def test_skyvia_procedures_with_their_parameters(catalog):
    for name, params in SKYVIA_PROCEDURES.items():
        proc = catalog.procedure(name)
        assert proc is not None, f"procedure {name} is missing"
        assert [p.name for p in proc.parameters][: len(params)] == params or {
            p.name for p in proc.parameters
        } >= set(params), f"{name}: {[p.name for p in proc.parameters]}"
        for p in params:
            assert proc.parameter(p) is not None


def test_skyvia_procedure_list_matches_seed(shared_dir: Path):
    text = next((shared_dir / "seeds").glob("000_*.txt")).read_text()
    calls = dict(re.findall(r"call (\w+)\(([^)]*)\)", text))
    seed = {
        n: [a.strip().lstrip(":") for a in args.split(",") if a.strip()]
        for n, args in calls.items()
    }
    assert seed == SKYVIA_PROCEDURES


def test_send_and_price_for_every_channel(catalog):
    for ch in CHANNELS:
        sends = [p for p in catalog.procedures if p.costs_money and ch.lower() in p.name.lower()
                 and p.name.lower().startswith("send")]  # fmt: skip
        assert sends, f"no Send procedure for {ch}"
        for send in sends:
            if send.price:
                assert catalog.procedure(send.price) is not None
        prices = [p for p in catalog.procedures if p.name.lower().startswith("calculate")
                  and ch.lower() in p.name.lower()]  # fmt: skip
        assert prices, f"no CalculatePrice procedure for {ch}"


def test_history_exports_are_procedures(catalog):
    export_paths = {
        _shape(p.path) for p in catalog.procedures if p.name.lower().startswith("export")
    }
    for path in ["/sms/history/export", "/mms/history/export", "/voice/history/export",
                 "/email/history/export"]:  # fmt: skip
        assert path in export_paths, f"no export procedure for {path}"


# --- coverage against the reference -------------------------------------------------------


def _mapped(catalog) -> set[tuple[str, str]]:
    return {(ep.method, _shape(ep.path)) for _, ep in catalog.endpoints()}


def _reference_keys(entry: dict) -> set[tuple[str, str]]:
    """(method, shape) of an entry under both its URL line and its curl sample path."""
    paths = {entry["path"]}
    curl = entry.get("curl") or {}
    if curl.get("url_path"):
        paths.add(curl["url_path"])
    method = entry["method"]
    methods = {method} if method not in ("?", None) else {"GET", "POST", "PUT", "PATCH", "DELETE"}
    return {(m, _shape(p)) for m in methods for p in paths}


def test_every_reference_endpoint_is_mapped_or_excluded(catalog, reference_endpoints):
    mapped = _mapped(catalog)
    excluded = {(e.method, _shape(e.path)) for e in catalog.exclusions}
    missing = []
    for entry in reference_endpoints:
        keys = _reference_keys(entry)
        if not keys & (mapped | excluded):
            missing.append(
                f"{entry['method']} {entry['path']} ({entry['title']}, L{entry['line']})"
            )
    assert not missing, "neither mapped nor excluded:\n" + "\n".join(missing)


def test_every_record_returning_get_is_a_table_endpoint(catalog, reference_endpoints):
    table_eps = {
        (ep.method, _shape(ep.path)) for t in catalog.tables for ep in t.endpoints.values()
    }
    excluded = {(e.method, _shape(e.path)) for e in catalog.exclusions}
    missing = []
    for entry in reference_endpoints:
        if entry["method"] != "GET" or not entry.get("response_fields"):
            continue
        if entry["path"].endswith("/export"):
            continue  # exports return a download URL, not records: they are procedures
        if not _reference_keys(entry) & (table_eps | excluded):
            missing.append(f"GET {entry['path']} ({entry['title']})")
    assert not missing, "record-returning GETs that no table reads:\n" + "\n".join(missing)


def test_exclusions_are_honest(catalog, reference_endpoints):
    mapped = _mapped(catalog)
    reference = set().union(*(_reference_keys(e) for e in reference_endpoints))
    for e in catalog.exclusions:
        key = (e.method, _shape(e.path))
        assert key not in mapped, f"{e.method} {e.path} is excluded but also mapped"
        assert key in reference, f"{e.method} {e.path} is excluded but not in the reference"
        assert len(e.reason) > 15, f"{e.method} {e.path}: give a real reason"


def test_every_table_endpoint_exists_in_the_reference_or_spec(
    catalog, reference_endpoints, shared_dir
):
    import yaml

    known = set().union(*(_reference_keys(e) for e in reference_endpoints))
    for spec_file in ("openapi.yaml", "swagger.yaml"):
        spec = yaml.safe_load((shared_dir / "clicksend" / spec_file).read_text())
        for path, ops in spec["paths"].items():
            for m in ops:
                known.add((m.upper(), _shape(path.removeprefix("/v3"))))
    unknown = [f"{o}: {ep.method} {ep.path}" for o, ep in catalog.endpoints()
               if (ep.method, _shape(ep.path)) not in known]  # fmt: skip
    assert not unknown, "endpoints found in neither the reference nor the spec:\n" + "\n".join(
        unknown
    )


# --- types --------------------------------------------------------------------------------


def _example_cases(catalog, reference_endpoints):
    by_key = {}
    for t in catalog.tables:
        for kind in ("list", "get"):
            ep = t.endpoints.get(kind)
            if ep is not None:
                by_key[(ep.method, _shape(ep.path))] = (t, ep)
    for entry in reference_endpoints:
        if entry["method"] != "GET" or not isinstance(entry.get("response_example"), dict):
            continue
        for key in _reference_keys(entry):
            if key in by_key:
                yield entry, *by_key[key]
                break


def test_every_response_example_parses_into_the_declared_types(catalog, reference_endpoints):
    checked, failures = 0, []
    for entry, table, ep in _example_cases(catalog, reference_endpoints):
        body = entry["response_example"]
        records, _ = extract_records(body, ep.records)
        if not records:
            failures.append(
                f"{table.name}: no records at {ep.records!r} in the example of {entry['path']}"
            )
            continue
        if not isinstance(records[0], dict):
            records = [{table.columns[0].name: r} for r in records]
        fixed = {c.name: 1 for c in table.columns if c.source == "path"}
        try:
            records_to_arrow(records, table, fixed)
        except DataError as e:
            failures.append(f"{entry['path']}: {e}")
        names = {c.name for c in table.columns}
        for r in records:
            extra = set(r) - names
            if extra:
                failures.append(
                    f"{table.name}: fields of the example missing as columns: {sorted(extra)}"
                )
                break
        checked += 1
    assert checked >= 40, f"only {checked} examples were checked"
    assert not failures, "\n".join(failures)


def test_a_type_mismatch_names_table_column_and_value(catalog):
    contacts = catalog.table("contacts")
    with pytest.raises(DataError, match=r"contacts\.date_added.*'yesterday'"):
        records_to_arrow([{"contact_id": 1, "list_id": 2, "date_added": "yesterday"}], contacts)


# --- catalog rules --------------------------------------------------------------------------


def test_catalog_rules(catalog):
    assert len(catalog.tables) >= 50
    for t in catalog.tables:
        assert t.description, t.name
        ep = t.list_endpoint
        assert ep.method == "GET", t.name
        if "get" in t.endpoints:
            get_ph = set(placeholders(t.endpoints["get"].path))
            assert set(t.primary_key) <= get_ph | {c.name for c in t.path_keys}, t.name
    contacts = catalog.table("contacts")
    assert contacts.required_on_insert == (("list_id",), ("phone_number", "fax_number", "email"))
    assert contacts.column("list_id").fanout == "lists.list_id"
    assert catalog.table("available_numbers").required_keys[0].name == "country"


def test_searchable_and_sortable_only_where_documented(catalog):
    subaccounts = catalog.table("subaccounts")
    assert (
        subaccounts.column("first_name").searchable and subaccounts.column("last_name").searchable
    )
    assert subaccounts.column("subaccount_id").sortable
    templates = catalog.table("sms_templates")
    assert {c.name for c in templates.columns if c.searchable} == {
        "template_id",
        "template_name",
        "body",
    }
    history = catalog.table("sms_history")
    assert {"date", "from", "to", "status", "body"} <= {
        c.name for c in history.columns if c.sortable
    }
    assert history.column("date").range_lower == "date_from"
    assert catalog.table("contacts").column("date_updated").range_after == "updated_after"


# --- validation errors --------------------------------------------------------------------

GOOD = """
group: Test
tables:
  things:
    description: Things.
    operations: [SELECT]
    endpoints:
      list: {method: GET, path: /things, paging: page}
    columns:
      thing_id: {type: bigint, primary_key: true}
"""


def _load(tmp_path: Path, text: str):
    (tmp_path / "things.yaml").write_text(text)
    return load_catalog(tmp_path)


def test_a_good_file_loads(tmp_path):
    cat = _load(tmp_path, GOOD)
    assert cat.table("THINGS").column("thing_id").primary_key


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (GOOD.replace("type: bigint", "type: bignum"), r"things\.yaml: table things: columns\.thing_id\.type"),
        (GOOD.replace("operations: [SELECT]", "operations: [SELECT, UPDATE]"),
         r"things\.yaml: table things: operations: UPDATE is allowed but there is no 'update'"),
        (GOOD.replace("path: /things,", 'path: "/things/{owner_id}",'),
         r"things\.yaml: table things: endpoints\.list\.path: placeholder \{owner_id\}"),
        (GOOD.replace("    description: Things.\n", ""), r"things\.yaml: table things: description: missing"),
        (GOOD.replace("paging: page", "paging: pages"), r"endpoints\.list\.paging"),
        (GOOD.replace("primary_key: true", "primary_key: true, colour: red"), r"columns\.thing_id: unknown key"),
        (GOOD + "      thing_id: {type: varchar}\n", r"things\.yaml: not valid YAML: .*duplicate key"),
        (GOOD.replace("{type: bigint, primary_key: true}", "{type: bigint, primary_key: yes please}"),
         r"columns\.thing_id\.primary_key: expected bool"),
        (GOOD.replace("list: {method: GET", "list: {method: FETCH"), r"endpoints\.list\.method"),
    ],
)  # fmt: skip
def test_broken_files_name_file_table_and_key(tmp_path, broken, message):
    with pytest.raises(CatalogError, match=message):
        _load(tmp_path, broken)


def test_duplicate_alias_across_files(tmp_path):
    (tmp_path / "a.yaml").write_text(
        GOOD.replace("operations:", "aliases: [Stuff]\n    operations:")
    )
    (tmp_path / "b.yaml").write_text(GOOD.replace("things:", "stuff:").replace("/things", "/stuff"))
    with pytest.raises(
        CatalogError, match=r"b\.yaml: table stuff: name or alias 'stuff' is already used"
    ):
        load_catalog(tmp_path)
