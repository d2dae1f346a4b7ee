"""Deterministic demo data for every catalog table, from a seed and a scale.

Driven by the catalog: each column gets values from its name and type (E.164 numbers for phone
fields, Unix timestamps for dates, decimal strings for prices, ...), a few tables get counts and
relations of their own (contacts point at existing lists, history at existing subaccounts), and
every value is converted to the JSON type the official spec declares for the table's list
endpoint. Each table has its own random stream derived from (seed, table name), so the data of
one table does not depend on which other tables exist. Columns are generated whole (one list per
column) because scale 100 means hundreds of thousands of rows, and per-row Python is too slow.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from typing import Any

from csql.catalog import Catalog, Column, Table
from csql.sandbox import wire

#: a fixed "now" for generated data: the same seed gives the same rows on any day
ANCHOR = 1_761_955_200  # 2025-11-01T00:00:00Z
YEAR = 365 * 86400

#: rows per table at scale 1 (scaled linearly); tables not named get SMALL rows, unscaled
SCALED = {
    "sms_history": 2000,
    "contacts": 1000,
    "mms_history": 200,
    "voice_history": 200,
    "email_history": 200,
    "fax_history": 50,
    "letter_history": 50,
    "postcard_history": 50,
    "sms_receipts": 200,
    "sms_inbound": 200,
    "voice_receipts": 100,
    "fax_receipts": 50,
    "recharge_transactions": 20,
    "email_campaign_history": 200,
    "delivery_issues": 10,
}
FIXED = {"lists": 5, "subaccounts": 3, "sms_campaigns": 12, "email_campaigns": 6}
SMALL = 8

FIRST = [
    "John",
    "Jane",
    "Ellen",
    "Marco",
    "Aiko",
    "Liam",
    "Olivia",
    "Noah",
    "Emma",
    "Ava",
    "Lucas",
    "Mia",
    "Ethan",
    "Sofia",
    "Mateo",
    "Chloe",
    "Oscar",
    "Isla",
    "Leo",
    "Grace",
    "Jack",
    "Ruby",
    "Henry",
    "Zoe",
    "Arjun",
    "Priya",
    "Wei",
    "Mei",
    "Omar",
    "Layla",
    "Tomás",
    "Ana",
]
LAST = [
    "Doe",
    "Smith",
    "Diaz",
    "Rossi",
    "Tanaka",
    "Nguyen",
    "Brown",
    "Wilson",
    "Taylor",
    "Martin",
    "Lee",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Lopez",
    "Hill",
    "Scott",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Perez",
    "Roberts",
    "Turner",
    "Kim",
]
CITIES = [
    ("Melbourne", "VIC", "3000", "AU"),
    ("Sydney", "NSW", "2000", "AU"),
    ("Nashville", "TN", "37214", "US"),
    ("Austin", "TX", "73301", "US"),
    ("Seattle", "WA", "98101", "US"),
    ("London", "", "SW1A 1AA", "GB"),
    ("Manchester", "", "M1 1AE", "GB"),
    ("Auckland", "", "1010", "NZ"),
]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
]
WORDS = [
    "your",
    "order",
    "is",
    "ready",
    "for",
    "pickup",
    "appointment",
    "reminder",
    "tomorrow",
    "at",
    "thanks",
    "for",
    "shopping",
    "with",
    "us",
    "reply",
    "stop",
    "to",
    "opt",
    "out",
    "code",
    "verification",
    "sale",
    "ends",
    "today",
    "delivery",
    "scheduled",
    "between",
    "please",
    "confirm",
    "visit",
    "our",
    "store",
    "new",
    "arrivals",
    "this",
    "week",
]
COUNTRIES = [
    ("AU", "Australia", "Oceania"),
    ("US", "United States", "North America"),
    ("GB", "United Kingdom", "Europe"),
    ("NZ", "New Zealand", "Oceania"),
    ("CA", "Canada", "North America"),
    ("DE", "Germany", "Europe"),
    ("FR", "France", "Europe"),
    ("IE", "Ireland", "Europe"),
    ("SG", "Singapore", "Asia"),
    ("IN", "India", "Asia"),
    ("JP", "Japan", "Asia"),
    ("PH", "Philippines", "Asia"),
    ("ZA", "South Africa", "Africa"),
    ("BR", "Brazil", "South America"),
    ("MX", "Mexico", "North America"),
    ("ES", "Spain", "Europe"),
    ("IT", "Italy", "Europe"),
    ("NL", "Netherlands", "Europe"),
]
TIMEZONES = [
    "Africa/Johannesburg",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Mexico_City",
    "America/New_York",
    "America/Sao_Paulo",
    "America/Toronto",
    "Asia/Kolkata",
    "Asia/Manila",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Melbourne",
    "Australia/Perth",
    "Australia/Sydney",
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/Dublin",
    "Europe/London",
    "Europe/Madrid",
    "Europe/Paris",
    "Europe/Rome",
    "Pacific/Auckland",
    "UTC",
]
VOICE_LANGS = [
    ("en-au", "English, Australia", ["female", "male"]),
    ("en-us", "English, US", ["female", "male"]),
    ("en-gb", "English, UK", ["female", "male"]),
    ("de-de", "German, Germany", ["female", "male"]),
    ("fr-fr", "French, France", ["female", "male"]),
    ("es-es", "Spanish, Spain", ["female", "male"]),
    ("it-it", "Italian, Italy", ["female", "male"]),
    ("ja-jp", "Japanese, Japan", ["female", "male"]),
]
#: per-country dialling prefix and digits after it, for E.164 numbers
DIAL = {"AU": ("+614", 8), "US": ("+1", 10), "GB": ("+447", 9), "NZ": ("+6421", 7)}
HISTORY_STATUS = ["Completed"] * 16 + [
    "Failed",
    "Scheduled",
    "Cancelled",
    "Queued",
    "Sent",
    "WaitApproval",
]
STATUS_TEXT = {
    "Completed": ("201", "Success: Message received on handset.", None, None),
    "Failed": ("301", "Failed: Delivery failure.", "301", "Delivery failure"),
    "Sent": ("200", "Success: Message delivered to carrier.", None, None),
}
STATUS_VALUES = {
    "sms_campaigns": ["Completed", "Completed", "Scheduled", "Cancelled", "Queued"],
    "mms_campaigns": ["Completed", "Scheduled", "Cancelled"],
    "email_campaigns": ["Completed", "Completed", "Scheduled", "Cancelled"],
    "alpha_tags": ["PENDING", "APPROVED", "APPROVED", "REJECTED"],
    "own_numbers": ["VERIFIED", "VERIFIED", "UNVERIFIED"],
    "delivery_issues": ["OPEN", "CLOSED"],
}
CARRIERS = {"AU": "Telstra", "US": "AT&T", "GB": "Vodafone", "NZ": "Spark"}


def rng_for(seed: int, name: str) -> random.Random:
    """A random stream of its own for each table, stable across Python versions."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def uuids(rng: random.Random, n: int) -> list[str]:
    """Version-4-looking UUIDs in upper case, as ClickSend's message ids are."""
    bits = rng.getrandbits
    out = []
    for _ in range(n):
        h = f"{bits(128):032X}"
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-A{h[17:20]}-{h[20:]}")
    return out


def phones(rng: random.Random, n: int, countries: list[str] | None = None) -> list[str]:
    r = rng.random
    out = []
    for i in range(n):
        prefix, digits = DIAL.get(countries[i] if countries else "AU", DIAL["AU"])
        low = 10 ** (digits - 1)
        out.append(f"{prefix}{low + int(r() * 9 * low)}")
    return out


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(5, 14))).capitalize() + "."


def sentences(rng: random.Random, n: int) -> list[str]:
    """n message bodies drawn from a pool (generating each one is the slow part)."""
    pool = [sentence(rng) for _ in range(min(n, 400))]
    return rng.choices(pool, k=n)


def ints(rng: random.Random, low: int, high: int, n: int) -> list[int]:
    """n integers in [low, high): random.randrange is several times slower."""
    r, span = rng.random, high - low
    return [low + int(r() * span) for _ in range(n)]


def price(x: float) -> str:
    return f"{x:.6f}"


def from_shape(tree: Any, rng: random.Random, depth: int = 0) -> Any:
    """A plausible value for a nested JSON field, built from the spec's shape of it."""
    if isinstance(tree, dict):
        if depth >= 4:
            return {}
        out = {k: from_shape(v, rng, depth + 1) for k, v in tree.items()}
        for k, v in tree.items():
            if v == "s" and "email" in k:
                out[k] = f"{rng.choice(FIRST).lower()}@example.com"
            elif v == "s" and ("phone" in k or "number" in k):
                out[k] = phones(rng, 1)[0]
        return out
    if isinstance(tree, list):
        return [from_shape(tree[0], rng, depth + 1)] if tree and depth < 4 else []
    if tree == "i":
        return rng.randrange(1, 100)
    if tree == "n":
        return round(rng.random(), 4)
    if tree == "b":
        return False
    if tree == "t":
        return wire.iso(ANCHOR)
    return rng.choice(WORDS) if tree == "s" else None


class Generator:
    """Builds every table's rows for one (seed, scale)."""

    def __init__(self, catalog: Catalog, seed: int = 0, scale: float = 1.0, username: str = ""):
        self.catalog = catalog
        self.seed = seed
        self.scale = scale
        self.username = username or "sandbox"
        self.tables: dict[str, list[dict]] = {}
        r = rng_for(seed, "account")
        self.user_id = r.randrange(10_000, 99_999)

    def count(self, table: Table) -> int:
        if table.name in SCALED:
            return max(1, round(SCALED[table.name] * self.scale))
        return FIXED.get(table.name, SMALL)

    # -- relations -----------------------------------------------------------------------------

    def ids(self, table_name: str, column: str) -> list[Any]:
        table = self.catalog.table(table_name)
        if table is None or table.column(column) is None:
            return []
        rows = self.rows(table)
        return [r[column] for r in rows if r.get(column) is not None]

    def rows(self, table: Table) -> list[dict]:
        """The rows of a table, generated on first use (parents before children)."""
        if table.name not in self.tables:
            self.tables[table.name] = []  # guards against cycles
            self.tables[table.name] = self._generate(table)
        return self.tables[table.name]

    def all(self) -> dict[str, list[dict]]:
        for t in self.catalog.tables:
            self.rows(t)
        return self.tables

    # -- generation ------------------------------------------------------------------------------

    def _generate(self, table: Table) -> list[dict]:
        special = getattr(self, f"_table_{table.name}", None)
        rows = special(table) if special is not None else self._generic(table)
        return conform_rows(table, rows)

    def one(self, table: Table, salt: Any, fixed: dict | None = None) -> dict:
        """One more row of a table (defaults for an INSERT), seeded by the table and `salt`."""
        return conform_rows(table, self._generic(table, 1, fixed, f"{table.name}#{salt}"))[0]

    def _generic(
        self, table: Table, n: int | None = None, fixed: dict | None = None, stream: str = ""
    ) -> list[dict]:
        rng = rng_for(self.seed, stream or table.name)
        n = self.count(table) if n is None else n
        fixed = dict(fixed or {})
        # path keys: rows spread over the parent's keys (fanout) or fixed by the caller
        for c in table.path_keys:
            if c.name in fixed:
                continue
            if c.fanout:
                parent, _, col = c.fanout.partition(".")
                fixed[c.name] = self.ids(parent, col) or [1]
            else:
                fixed[c.name] = [c.example if c.example is not None else "AU"]
        ctx = _Ctx(self, table, rng, n)
        columns: dict[str, list[Any]] = {}
        for c in table.columns:
            if c.name in fixed:
                v = fixed[c.name]
                columns[c.name] = rng.choices(v, k=n) if isinstance(v, list) else [v] * n
            else:
                columns[c.name] = ctx.column(c)
        names = list(columns)
        return [dict(zip(names, vals, strict=True)) for vals in zip(*columns.values(), strict=True)]

    # -- tables with a shape or relations of their own ---------------------------------------------

    def _table_lists(self, table: Table) -> list[dict]:
        rng = rng_for(self.seed, table.name)
        n = FIXED["lists"] + int(self.scale // 5)
        names = ["Customers", "VIP", "Newsletter", "Staff", "Opt-out"]
        rows = self._generic(table, n)
        base = rng.randrange(400, 900)
        for i, r in enumerate(rows):
            r["list_id"] = base + i
            r["list_name"] = names[i] if i < len(names) else f"Segment {i - len(names) + 1}"
            r["list_email_id"] = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", k=10))
            r["_contacts_count"] = 0  # computed when served
            r["_import_in_progress"] = 0
            r["_optout_in_progress"] = 0
        return rows

    def _table_contacts(self, table: Table) -> list[dict]:
        rng = rng_for(self.seed, table.name)
        lists = self.ids("lists", "list_id") or [1]
        n = self.count(table)
        # skewed: the first lists are the big ones, like a real account
        weights = [1.0 / (i + 1) for i in range(len(lists))]
        rows = self._generic(table, n, {"list_id": lists})
        chosen = rng.choices(lists, weights=weights, k=n)
        base = rng.randrange(500_000, 600_000)
        for i, r in enumerate(rows):
            r["contact_id"] = base + i
            r["list_id"] = chosen[i]
            r["_list_name"] = None  # filled in when served
        return rows

    #: share of history rows that belong to a contact (the rest went to numbers not saved)
    CONTACT_SHARE = 0.85

    def _table_sms_history(self, table: Table) -> list[dict]:
        """Messages to (or, inbound, from) the account's contacts: contact_id, list_id, the
        names and the phone number match a row of `contacts`, so the first join a new user
        tries (`JOIN contacts USING (contact_id)`, even NATURAL JOIN) returns rows."""
        rows = self._generic(table)
        contacts = [c for c in self.rows(self.catalog.table("contacts")) if c.get("phone_number")]
        if not contacts:
            return rows
        rng = rng_for(self.seed, "sms_history/contacts")
        for r in rows:
            if rng.random() >= self.CONTACT_SHARE:
                r["contact_id"] = r["list_id"] = r["first_name"] = r["last_name"] = None
                continue
            c = rng.choice(contacts)
            r["contact_id"], r["list_id"] = c["contact_id"], c["list_id"]
            r["first_name"], r["last_name"] = c.get("first_name"), c.get("last_name")
            r["from" if r.get("direction") == "in" else "to"] = c["phone_number"]
        return rows

    def _table_timezones(self, table: Table) -> list[dict]:
        col = table.columns[0].name
        return [{col: tz} for tz in TIMEZONES]

    def _table_countries(self, table: Table) -> list[dict]:
        return [{"code": c, "value": name} for c, name, _ in COUNTRIES]

    def _table_country_list(self, table: Table) -> list[dict]:
        return [
            {"id": i + 1, "name": name, "code": c, "region": region}
            for i, (c, name, region) in enumerate(COUNTRIES)
        ]

    def _table_user_countries(self, table: Table) -> list[dict]:
        rows = self._generic(table, 3)
        for i, r in enumerate(rows):
            c, name, region = COUNTRIES[i]
            r.update(id=i + 1, name=name, code=c, region=region, agreed_at=ANCHOR - 86400 * 30)
            r["registration_entity"] = None
            r["registration_status"] = {"id": 1, "name": "NOT_INITIATED"}
        return rows

    def _table_voice_languages(self, table: Table) -> list[dict]:
        return [{"code": c, "country": name, "gender": g} for c, name, g in VOICE_LANGS]

    def _table_account(self, table: Table) -> list[dict]:
        rows = self._generic(table, 1)
        r = rows[0]
        r.update(
            user_id=self.user_id,
            username=self.username,
            password=None,
            active=1,
            banned=0,
            balance=price(250 + rng_for(self.seed, "balance").randrange(0, 500)),
            country="AU",
            default_country_sms="AU",
            timezone="Australia/Melbourne",
            auto_recharge=0,
            auto_recharge_amount="20.00",
            low_credit_amount="0.00",
            account=0,
        )
        for c in table.columns:
            if c.name == "_currency":
                r[c.name] = dict(wire.CURRENCY)
            elif c.name.startswith("setting_") or c.name in ("old_dashboard", "private_uploads"):
                r[c.name] = 0
        return rows

    def _table_alpha_tags(self, table: Table) -> list[dict]:
        rows = self._generic(table)
        for r in rows:
            if "alpha_tag" in r:
                r["alpha_tag"] = (r.get("alpha_tag") or "Tag").split("-")[0][:11].capitalize()
            if "countries" in r:
                r["countries"] = ["AU"]
        return rows

    def _table_subaccounts(self, table: Table) -> list[dict]:
        rng = rng_for(self.seed, table.name)
        rows = self._generic(table, FIXED["subaccounts"] + int(self.scale // 10))
        base = rng.randrange(100, 900)
        for i, r in enumerate(rows):
            r["subaccount_id"] = base + i
            if "api_username" in r:
                r["api_username"] = self.username if i == 0 else f"{self.username}_{i}"
        return rows


class _Ctx:
    """Column generators for one table: picked by column name first, then by type."""

    def __init__(self, gen: Generator, table: Table, rng: random.Random, n: int) -> None:
        self.gen, self.table, self.rng, self.n = gen, table, rng, n
        self.history = table.name.endswith(("_history", "_receipts", "_inbound"))
        self.countries = rng.choices(["AU", "US", "GB", "NZ"], weights=[5, 4, 2, 1], k=n)
        self.names = table.column_names
        ep = table.list_endpoint
        item = wire.subshape(wire.shape(ep.method, ep.path), ep.records)
        self.shape = item if isinstance(item, dict) else {}
        if self.history:
            # history is dated over the past year, oldest first (ClickSend's default order)
            self.dates = sorted(ints(rng, ANCHOR - YEAR, ANCHOR, n))
        else:
            self.dates = ints(rng, ANCHOR - 2 * YEAR, ANCHOR, n)
        self.statuses = (
            rng.choices(HISTORY_STATUS, k=n)
            if self.history
            else rng.choices(STATUS_VALUES.get(table.name, ["Completed"]), k=n)
        )

    def column(self, c: Column) -> list[Any]:
        n, rng, name = self.n, self.rng, c.name
        fn: Callable[[Column], list[Any]] | None = getattr(self, f"c_{name.lstrip('_')}", None)
        if fn is not None:
            return fn(c)
        cursor = self.table.list_endpoint.paging == "cursor"
        if c.type == "boolean":  # flags are 0/1 on the wire, whatever the spec's type
            return rng.choices((0, 1), weights=(1, 3), k=n)
        if self.shape.get(name) == "i" and c.type not in ("integer", "bigint", "timestamp"):
            return ints(rng, 0, 100, n)  # the spec wants a number where the catalog has text
        if c.primary_key and c.type in ("integer", "bigint"):
            base = rng.randrange(1, 900) * 1000
            return list(range(base, base + n))
        if "price" in name or "amount" in name or "balance" in name or c.type == "decimal":
            if c.type in ("integer", "bigint"):
                return ints(rng, 1, 100, n)
            if c.type == "double":
                return rng.choices((0.07, 0.077, 0.091, 0.0385, 0.154), k=n)
            return rng.choices([price(x) for x in (0.07, 0.077, 0.091, 0.0385, 0.154)], k=n)
        if "quantity" in name or name.endswith("_count"):
            return ints(rng, 1, 5000, n)
        if c.type == "varchar" and (name == "id" or (cursor and name.endswith("_id"))):
            return [u.lower() for u in uuids(rng, n)]
        if name.endswith("_id") and c.type in ("integer", "bigint"):
            return self.reference(name)
        phone_like = "phone" in name or "mobile" in name or name.endswith("_number")
        if c.type == "varchar" and (phone_like or name in ("to", "from")):
            return phones(rng, n, self.countries)
        if c.primary_key and c.type == "varchar":
            return uuids(rng, n)
        if "email" in name and c.type == "varchar":
            return [f"{f.lower()}.{ln.lower()}@example.com" for f, ln in self.people()]
        dated = name.startswith(("date", "timestamp")) or name.endswith(
            ("_date", "_timestamp", "_at")
        )
        if dated or c.type == "timestamp":
            return [wire.iso(d) for d in self.dates] if cursor else list(self.dates)
        if name.endswith("name") and c.type == "varchar":
            pool = [f"{a} {b.capitalize()}" for a in COMPANIES for b in WORDS[:12]]
            return rng.choices(pool, k=n)
        if c.type in ("integer", "bigint"):
            return ints(rng, 0, 100, n)
        if c.type == "double":
            return [round(0.01 + x * 0.99, 4) for x in (rng.random() for _ in range(n))]
        if c.type == "boolean":
            return rng.choices((0, 1), k=n)
        if c.type == "json":
            tree = self.shape.get(name)
            return [from_shape(tree, rng) for _ in range(n)] if tree else [None] * n
        if c.type in ("integer", "boolean") and (
            name in ("active", "banned", "enabled", "verified")
            or name.startswith(("setting_", "is_"))
        ):
            return rng.choices((0, 1), weights=(1, 3), k=n)
        if "country" in name:
            return list(self.countries)
        if name in ("body", "message", "content", "text") or "body" in name:
            return sentences(rng, n)
        if "url" in name:
            return [f"https://example.com/{w}/{i}" for i, w in enumerate(rng.choices(WORDS, k=n))]
        pool = [f"{w}-{i}" for w in WORDS for i in range(0, 1000, 37)]
        return rng.choices(pool, k=n)

    def people(self) -> list[tuple[str, str]]:
        if not hasattr(self, "_people"):
            self._people = list(
                zip(
                    self.rng.choices(FIRST, k=self.n), self.rng.choices(LAST, k=self.n), strict=True
                )
            )
        return self._people

    def reference(self, name: str) -> list[Any]:
        """Values of a foreign-key-like column: existing ids where the catalog has the parent."""
        n, rng = self.n, self.rng
        if name == "user_id":
            return [self.gen.user_id] * n
        parents = {
            "subaccount_id": ("subaccounts", "subaccount_id"),
            "list_id": ("lists", "list_id"),
            "return_address_id": ("return_addresses", "return_address_id"),
            "email_address_id": ("email_addresses", "email_address_id"),
            "from_email_address_id": ("email_addresses", "email_address_id"),
        }
        if name in parents and parents[name][0] != self.table.name:
            ids = self.gen.ids(*parents[name])
            if ids:
                return rng.choices(ids, k=n)
        return ints(rng, 1, 10_000, n)

    # -- columns by name -----------------------------------------------------------------------

    def c_first_name(self, c: Column) -> list[Any]:
        return [f for f, _ in self.people()]

    def c_last_name(self, c: Column) -> list[Any]:
        return [ln for _, ln in self.people()]

    c_user_first_name = c_first_name
    c_user_last_name = c_last_name

    def c_status(self, c: Column) -> list[Any]:
        if c.type == "json":
            return [None] * self.n
        return list(self.statuses)

    def c_status_code(self, c: Column) -> list[Any]:
        return [STATUS_TEXT.get(s, (None,) * 4)[0] for s in self.statuses]

    def c_status_text(self, c: Column) -> list[Any]:
        return [STATUS_TEXT.get(s, (None,) * 4)[1] for s in self.statuses]

    def c_error_code(self, c: Column) -> list[Any]:
        return [STATUS_TEXT.get(s, (None,) * 4)[2] for s in self.statuses]

    def c_error_text(self, c: Column) -> list[Any]:
        return [STATUS_TEXT.get(s, (None,) * 4)[3] for s in self.statuses]

    def c_direction(self, c: Column) -> list[Any]:
        return self.rng.choices(("in", "out"), weights=(1, 9), k=self.n)

    def c_country(self, c: Column) -> list[Any]:
        return list(self.countries)

    c_address_country = c_country

    def c_carrier(self, c: Column) -> list[Any]:
        return [CARRIERS.get(x, "") for x in self.countries]

    def c_from(self, c: Column) -> list[Any]:
        senders = ["sendlist", "ClickSend", "+61411111111", "Acme"]
        return self.rng.choices(senders, k=self.n)

    def c_message_parts(self, c: Column) -> list[Any]:
        return self.rng.choices([1, 1, 1, 1, 2, 3], k=self.n)

    def c_schedule(self, c: Column) -> list[Any]:
        # scheduled messages are due after the data's "now", so that they can be cancelled
        return [
            ANCHOR + 3600 * (i % 240 + 1) if s == "Scheduled" else d
            for i, (d, s) in enumerate(zip(self.dates, self.statuses, strict=True))
        ]

    def c_custom_string(self, c: Column) -> list[Any]:
        return self.rng.choices((None, "", "order-update", "promo"), k=self.n)

    def c_api_username(self, c: Column) -> list[Any]:
        return [self.gen.username] * self.n

    def c_username(self, c: Column) -> list[Any]:
        return [f"{f.lower()}{ln.lower()}{i}" for i, (f, ln) in enumerate(self.people())]

    def c_organization_name(self, c: Column) -> list[Any]:
        return [f"{c} Pty Ltd" for c in self.rng.choices(COMPANIES, k=self.n)]

    c_account_name = c_organization_name

    def c_address_line_1(self, c: Column) -> list[Any]:
        nums = ints(self.rng, 1, 999, self.n)
        return [f"{a} {b} St" for a, b in zip(nums, self.rng.choices(LAST, k=self.n), strict=True)]

    def c_address_line_2(self, c: Column) -> list[Any]:
        return [None] * self.n

    def c_address_city(self, c: Column) -> list[Any]:
        return [self._city(i)[0] for i in range(self.n)]

    def c_address_state(self, c: Column) -> list[Any]:
        return [self._city(i)[1] for i in range(self.n)]

    def c_address_postal_code(self, c: Column) -> list[Any]:
        return [self._city(i)[2] for i in range(self.n)]

    def _city(self, i: int) -> tuple[str, str, str, str]:
        if not hasattr(self, "_by_country"):
            self._by_country = {c: [x for x in CITIES if x[3] == c] or CITIES for c in DIAL}
        matching = self._by_country.get(self.countries[i], CITIES)
        return matching[i % len(matching)]

    def c_custom_1(self, c: Column) -> list[Any]:
        return self.rng.choices(["gold", "silver", "bronze", ""], k=self.n)

    def c_custom_2(self, c: Column) -> list[Any]:
        return [str(x) for x in ints(self.rng, 18, 80, self.n)]

    def c_custom_3(self, c: Column) -> list[Any]:
        return [""] * self.n

    c_custom_4 = c_custom_3

    def c_fax_number(self, c: Column) -> list[Any]:
        r = self.rng.random
        return [f"+61{2 + int(r() * 7)}{int(r() * 9e7) + 10_000_000}" if r() < 0.1 else None
                for _ in range(self.n)]  # fmt: skip

    def c_template_name(self, c: Column) -> list[Any]:
        return [f"Template {i + 1}: {w}" for i, w in enumerate(self.rng.choices(WORDS, k=self.n))]

    def c_list_name(self, c: Column) -> list[Any]:
        return [None] * self.n

    def c_currency(self, c: Column) -> list[Any]:
        if c.type == "json":
            return [dict(wire.CURRENCY) for _ in range(self.n)]
        return ["USD"] * self.n

    def c_enabled(self, c: Column) -> list[Any]:
        return [1] * self.n


def conform_rows(table: Table, rows: list[dict]) -> list[dict]:
    """Convert generated rows, column by column, to the list endpoint's declared JSON types."""
    if not rows:
        return rows
    ep = table.list_endpoint
    item = wire.subshape(wire.shape(ep.method, ep.path), ep.records)
    if not isinstance(item, dict):
        return rows
    # one converter per column, skipped when the generated values already have the right type
    natural = {"i": int, "s": str, "n": float, "b": bool}
    fast = {("s", int): str}
    for name, code in item.items():
        if code is None or name not in rows[0]:
            continue
        sample = next((r[name] for r in rows if r.get(name) is not None), None)
        if sample is None or (isinstance(code, str) and type(sample) is natural.get(code)):
            continue
        conv = fast.get((code, type(sample))) if isinstance(code, str) else None
        if conv is None:
            conv = lambda v, code=code: wire.conform(v, code)  # noqa: E731
        for r in rows:
            v = r.get(name)
            if v is not None:
                r[name] = conv(v)
    return rows
