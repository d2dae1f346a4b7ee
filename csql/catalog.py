"""Load and validate the catalog (schema/*.yaml) into immutable objects.

The catalog is data; this module only reads it, checks it and answers look-ups. Everything
else (planner, sandbox, client, metadata tables) reads these objects, never the YAML. A broken
file raises CatalogError naming the file, the table (or procedure) and the key, so whoever
edits the YAML knows where to look. The format is documented in schema/README.md.
"""

from __future__ import annotations

import decimal
import difflib
import enum
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, unquote

import yaml

from csql.errors import CatalogError, ProgrammingError

TYPES = ("integer", "bigint", "double", "decimal", "varchar", "boolean", "timestamp", "json")
OPERATIONS = ("SELECT", "INSERT", "UPDATE", "DELETE")
ENDPOINT_KINDS = ("list", "get", "insert", "bulk_insert", "update", "delete")
PAGING = ("page", "cursor", "none")
BODY_STYLES = ("object", "messages", "recipients", "none", "import")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PLACEHOLDER = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)}")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

#: which endpoint each write operation needs
OPERATION_ENDPOINT = {"INSERT": "insert", "UPDATE": "update", "DELETE": "delete"}


def placeholders(path: str) -> tuple[str, ...]:
    """The `{name}` placeholders of a path, in order."""
    return tuple(_PLACEHOLDER.findall(path))


class Retry(enum.StrEnum):
    """Whether a request may be sent again when its first attempt's outcome is unknown.

    A timeout, a dropped connection or a 5xx after the request was written leaves open whether
    ClickSend acted. Sending it again is harmless only for idempotent calls; for an action
    (a send, a purchase, a create, a cancel, a copy) it could happen twice.
    """

    SAFE = "safe"  # idempotent: twice has the effect of once (reads, updates, deletes)
    NEVER = "never"  # an action: at most once; a lost answer is an unknown outcome


#: the values an integer path or procedure parameter may take when the catalog declares no range
INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}
#: longest value that fills one path segment (a 100k-character key is refused, not sent)
MAX_SEGMENT = 256
#: characters a string path value may hold: printable ASCII except the delimiters that end or
#: escape a segment (it is percent-encoded when rendered; non-ASCII has no place in an id)
_SEGMENT_FORBIDDEN = "/?#%\\"
_CANONICAL_INT = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)
_DOT_SEGMENTS = (".", "..")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _char(c: str) -> str:
    """A character for an error message, readable even when it is a control character."""
    name = f"U+{ord(c):04X}"
    return f"a control character ({name})" if not c.isprintable() else f"{c!r} ({name})"


def check_integer(value: Any, type_: str, minimum: int | None = None,
                  maximum: int | None = None) -> int:  # fmt: skip
    """`value` as an int if it is exactly one in range, else ValueError saying why.

    Accepted: an int, an integral float/Decimal (DuckDB computes some literals as those), or a
    canonical string of ASCII digits (`'42'`, `'-7'`; never `' 42'`, `'042'`, `'٤٢'`,
    `'1 OR 1=1'`). A float beyond 2**53 is not exact and is refused (2**70 would be sent as
    `1.18e+21`)."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, got a boolean")
    if isinstance(value, str):
        if not _CANONICAL_INT.fullmatch(value):
            raise ValueError(
                f"must be an integer written with ASCII digits only, got {_short(value)}"
            )
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float | decimal.Decimal):
        finite = math.isfinite(value) if isinstance(value, float) else value.is_finite()
        if not finite or value != int(value):
            raise ValueError(f"must be an integer, got {_short(value)}")
        if isinstance(value, float) and abs(value) > 2**53:
            raise ValueError(f"{value!r} is too large to be an exact integer; give it as an int")
        number = int(value)
    else:
        raise ValueError(f"must be an integer, got {type(value).__name__} {_short(value)}")
    low, high = INT_RANGES.get(type_, INT_RANGES["bigint"])
    low = low if minimum is None else minimum
    high = high if maximum is None else maximum
    if not low <= number <= high:
        raise ValueError(f"{number} is out of range ({low}..{high})")
    return number


@dataclass(frozen=True)
class PathValue:
    """What a value must look like to fill one `{placeholder}` of a path template.

    Paths are built only from validated values, so that no value can move a request to
    another endpoint: integers are exact and in range, strings are non-empty, at most
    MAX_SEGMENT printable ASCII characters other than `/ ? # % \\` (percent-encoded when
    rendered), never a dot segment (`.`,
    `..`: HTTP stacks collapse them, `/sms/../cancel` becomes `/cancel`), and match the
    catalog's `pattern` when it declares one.
    """

    name: str
    type: str = "varchar"
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None

    def segment(self, value: Any) -> str:
        """The value as the text of one path segment; ValueError saying why it cannot be."""
        if value is None:
            raise ValueError("is NULL")
        if self.type in INT_RANGES:
            text = str(check_integer(value, self.type, self.minimum, self.maximum))
        else:
            text = _string_segment(value)
        if self.pattern and not re.fullmatch(self.pattern, text):
            raise ValueError(f"does not match the pattern {self.pattern} that the catalog declares")
        return text


def _string_segment(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    text = str(value)
    if not text:
        raise ValueError("is empty")
    if len(text) > MAX_SEGMENT:
        raise ValueError(f"is {len(text)} characters long (at most {MAX_SEGMENT} fit in a path)")
    if text in _DOT_SEGMENTS:
        raise ValueError(f"is {text!r}, a dot segment that would change the path")
    if text != text.strip():  # servers that trim would see another value (' .. ' -> '..')
        raise ValueError("starts or ends with white space")
    bad = next((c for c in text if not _segment_char(c)), None)
    if bad is not None:
        raise ValueError(
            f"contains {_char(bad)}; a path value may hold only printable ASCII characters "
            f"other than {' '.join(_SEGMENT_FORBIDDEN)}"
        )
    return text


def _segment_char(c: str) -> bool:
    return " " <= c <= "~" and c not in _SEGMENT_FORBIDDEN


@dataclass(frozen=True)
class Endpoint:
    """One HTTP endpoint: method, path template, and how its response is read or its body built.

    `retry` says whether a request whose outcome is unknown may be sent again (catalog key
    `retry`); `values` holds the rule of each placeholder, which `render` enforces.
    """

    method: str
    path: str
    paging: str = "none"
    records: str = "data"
    body: str = "object"
    costs_money: bool = False
    upload: str | None = None  # body "import": the procedure that uploads the rows as a file
    retry: Retry = Retry.NEVER
    values: Mapping[str, PathValue] = field(default_factory=dict, compare=False, repr=False)
    # paging: cursor: the query parameter of the page size, and where the next page's URL
    # sits in the body (its `offset` parameter is the cursor)
    size_param: str = "page_size"
    next_url: str = "_metadata.pagination.next"

    @property
    def placeholders(self) -> tuple[str, ...]:
        return placeholders(self.path)

    @property
    def idempotent(self) -> bool:
        """Whether sending it twice has the effect of sending it once (`retry: safe`)."""
        return self.retry is Retry.SAFE

    def render(self, values: Mapping[str, Any]) -> str:
        """The path with its placeholders filled in; ProgrammingError (nothing is sent) when a
        value does not fit its placeholder's rule (see PathValue)."""

        def fill(m: re.Match) -> str:
            name = m.group(1)
            rule = self.values.get(name) or PathValue(name)
            try:
                return quote(rule.segment(values.get(name)), safe="")
            except ValueError as e:
                raise ProgrammingError(
                    f"{self.method} {self.path}: {name} {e}; nothing was sent"
                ) from None

        return _PLACEHOLDER.sub(fill, self.path)


@dataclass(frozen=True)
class Route:
    """An endpoint template split into segments (None: a placeholder), for `Routes.match`."""

    owner: str
    endpoint: Endpoint
    segments: tuple[str | None, ...]


class Routes:
    """Every endpoint template of the catalog: the last check of a path before it is sent.

    The client asks `match(method, path)` for every request; a path that matches no template
    (segment by segment: literals equal, placeholders canonical, non-empty, never a dot
    segment) is outside the catalog and is not sent.
    """

    def __init__(self, endpoints: Iterable[tuple[str, Endpoint]]) -> None:
        # by method, segment count and first segment (None: a template starting with a
        # placeholder), so that a path meets only the few templates it could fill
        self._index: dict[tuple[str, int, str | None], list[Route]] = {}
        for owner, ep in endpoints:
            segs = tuple(None if _PLACEHOLDER.fullmatch(s) else s for s in ep.path.split("/")[1:])
            key = (ep.method, len(segs), segs[0] if segs else None)
            self._index.setdefault(key, []).append(Route(owner, ep, segs))

    def match(self, method: str, path: str) -> list[Route]:
        """The routes whose template `path` fills; empty when it fills none."""
        if not path.startswith("/") or any(c in path for c in "?#\\"):
            return []
        parts = path.split("/")[1:]
        method, n = method.upper(), len(parts)
        candidates = self._index.get((method, n, parts[0]), []) + self._index.get(
            (method, n, None), []
        )
        return [r for r in candidates if _fills(r.segments, parts)]

    def retry(self, method: str, path: str) -> Retry | None:
        """Retry.SAFE only when every template the path fills is declared safe; None when the
        path is outside the catalog."""
        routes = self.match(method, path)
        if not routes:
            return None
        return Retry.SAFE if all(r.endpoint.retry is Retry.SAFE for r in routes) else Retry.NEVER


def _fills(template: tuple[str | None, ...], parts: list[str]) -> bool:
    """Literals equal (checked first: cheap), placeholders canonical and valid."""
    for t, p in zip(template, parts, strict=True):
        if t is not None and t != p:
            return False
    return all(_placeholder_fits(p) for t, p in zip(template, parts, strict=True) if t is None)


@lru_cache(maxsize=4096)
def _placeholder_fits(part: str) -> bool:
    """Whether a rendered segment is one csql would have produced from a valid value."""
    value = unquote(part)
    return (
        bool(value)
        and value == value.strip()
        and all(map(_segment_char, value))
        and value not in _DOT_SEGMENTS
        and len(value) <= MAX_SEGMENT
        and quote(value, safe="") == part  # canonical: no %2e, no double encoding
    )


@dataclass(frozen=True)
class Column:
    """A column of a table: the API's JSON field, its SQL type and what the API can do with it."""

    name: str
    type: str
    description: str = ""
    nullable: bool = True
    primary_key: bool = False
    path_key: bool = False
    fanout: str | None = None
    example: Any = None
    source: str = "response"
    filter_param: str | None = None
    searchable: bool = False
    sortable: bool = False
    range_lower: str | None = None
    range_upper: str | None = None
    range_after: str | None = None
    read_only: bool = False
    writable_on_update: bool = True
    #: a value never shown (EXPLAIN, errors, logs): a password, a card number, a token
    secret: bool = False
    pattern: str | None = None  # a path key's values must match this (catalog key `pattern`)
    minimum: int | None = None  # integer path keys: the declared range (`minimum`/`maximum`)
    maximum: int | None = None

    @property
    def range_filterable(self) -> bool:
        return bool(self.range_lower or self.range_upper or self.range_after)

    @property
    def path_value(self) -> PathValue:
        """The rule a value must meet to fill this column's placeholder in a path."""
        return PathValue(self.name, self.type, self.pattern, self.minimum, self.maximum)


@dataclass(frozen=True, eq=False)
class Table:
    """A ClickSend object exposed as a SQL table."""

    name: str
    group: str
    file: str
    description: str
    aliases: tuple[str, ...]
    operations: tuple[str, ...]
    endpoints: Mapping[str, Endpoint]
    columns: tuple[Column, ...]
    required_on_insert: tuple[tuple[str, ...], ...] = ()
    operations_note: str | None = None
    singleton: bool = False
    #: columns the list endpoint does not return (ClickSend's list examples): only the get
    #: endpoint has them, so reading them means a GET per row
    list_omits: tuple[str, ...] = ()
    #: tables whose rows a write to this one changes (contacts -> lists' counts): the read
    #: cache drops them too (csql.sync.cache)
    invalidates: tuple[str, ...] = ()
    #: `parent.column` holding how many rows of this table each fan-out parent has
    #: (lists._contacts_count): replicate compares it to find lists with deleted contacts
    count_per_parent: str | None = None
    _by_name: Mapping[str, Column] = field(default_factory=dict, repr=False, compare=False)

    def column(self, name: str) -> Column | None:
        return self._by_name.get(name.lower())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.primary_key)

    @property
    def path_keys(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.path_key)

    @property
    def required_keys(self) -> tuple[Column, ...]:
        """Path keys that WHERE must fix, because nothing can fan them out."""
        return tuple(c for c in self.path_keys if c.fanout is None)

    @property
    def list_endpoint(self) -> Endpoint:
        return self.endpoints["list"]

    def allows(self, operation: str) -> bool:
        return operation.upper() in self.operations

    def required_on_insert_columns(self) -> set[str]:
        return {c for group in self.required_on_insert for c in group}


@dataclass(frozen=True)
class Parameter:
    """A parameter of a procedure and where it goes in the request."""

    name: str
    type: str
    required: bool = False
    location: str = "body"
    description: str = ""
    default: Any = None
    #: why `required` differs from one of ClickSend's sources (the loosest of reference and spec wins)
    required_note: str | None = None
    #: a value never shown (EXPLAIN, errors, logs): an activation token, a password, a card
    secret: bool = False
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None

    @property
    def path_value(self) -> PathValue:
        return PathValue(self.name, self.type, self.pattern, self.minimum, self.maximum)

    def check(self, value: Any, owner: str = "") -> Any:
        """The value, checked against the parameter's type where a wrong one would change the
        request: integers must be exact, in range and (as strings) canonical ASCII digits; a
        path parameter must also fit a path segment. ProgrammingError names the parameter."""
        try:
            if self.location == "path":
                self.path_value.segment(value)
            if self.type in INT_RANGES and value is not None:
                return check_integer(value, self.type, self.minimum, self.maximum)
        except ValueError as e:
            where = f"{owner}: " if owner else ""
            raise ProgrammingError(f"{where}parameter {self.name} {e}; nothing was sent") from None
        return value


@dataclass(frozen=True, eq=False)
class Procedure:
    """A ClickSend action callable with CALL (send, cancel, copy, verify, purchase, ...)."""

    name: str
    group: str
    file: str
    description: str
    method: str
    path: str
    parameters: tuple[Parameter, ...]
    body: str = "object"
    result: str = "data"
    costs_money: bool = False
    destructive: bool = False
    price: str | None = None
    result_table: str | None = None  # the result's fields take this table's column types
    #: rules across parameters: at least one of these groups must be given in full (a message
    #: needs `to` or `list_id`), checked before anything is sent
    one_of: tuple[tuple[str, ...], ...] = ()
    retry: Retry = Retry.NEVER  # catalog key `retry`: safe only for calls with no effect

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(
            method=self.method,
            path=self.path,
            body=self.body,
            records=self.result,
            costs_money=self.costs_money,
            retry=self.retry,
            values=MappingProxyType(
                {p.name: p.path_value for p in self.parameters if p.location == "path"}
            ),
        )

    @property
    def idempotent(self) -> bool:
        """Whether a call may be sent again after a lost answer (`retry: safe`)."""
        return self.retry is Retry.SAFE

    def parameter(self, name: str) -> Parameter | None:
        lname = name.lower()
        return next((p for p in self.parameters if p.name.lower() == lname), None)


@dataclass(frozen=True)
class Exclusion:
    """An endpoint of the reference that the catalog leaves out on purpose, and why."""

    method: str
    path: str
    reason: str
    file: str


@dataclass(frozen=True, eq=False)
class Catalog:
    """Every table, procedure and exclusion, with case-insensitive look-ups by name or alias."""

    tables: tuple[Table, ...]
    procedures: tuple[Procedure, ...]
    exclusions: tuple[Exclusion, ...]
    _names: Mapping[str, Table] = field(repr=False, compare=False)
    _procs: Mapping[str, Procedure] = field(repr=False, compare=False)

    def table(self, name: str) -> Table | None:
        """The table named `name` or aliased so, case-insensitively; None if there is none."""
        return self._names.get(name.lower())

    def procedure(self, name: str) -> Procedure | None:
        return self._procs.get(name.lower())

    def suggest_table(self, name: str) -> list[str]:
        """Tables whose name or an alias is close to `name`, for 'did you mean' messages."""
        spellings = [t.name for t in self.tables] + [a for t in self.tables for a in t.aliases]
        return list(dict.fromkeys(self._names[m.lower()].name for m in _close(name, spellings)))

    def suggest_procedure(self, name: str) -> list[str]:
        return _close(name, [p.name for p in self.procedures])

    def endpoints(self) -> Iterator[tuple[str, Endpoint]]:
        """(owner, endpoint) for every endpoint of every table and procedure."""
        for t in self.tables:
            for ep in t.endpoints.values():
                yield t.name, ep
        for p in self.procedures:
            yield p.name, p.endpoint

    @cached_property
    def routes(self) -> Routes:
        """Every endpoint template, for the client's check of each path before it is sent."""
        return Routes(self.endpoints())


def _close(name: str, candidates: list[str]) -> list[str]:
    lower = {c.lower(): c for c in candidates}
    return [lower[m] for m in difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.6)]


# ---------------------------------------------------------------------------------------------
# loading


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """A SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one); libyaml's
    parser when PyYAML has it (the catalog loads ~10x faster: csql's startup)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class _Ctx:
    """Where we are in the YAML, so that every error names file, table and key."""

    def __init__(self, file: str, owner: str = "", key: str = "") -> None:
        self.file, self.owner, self.key = file, owner, key

    def at(self, owner: str | None = None, key: str | None = None) -> _Ctx:
        return _Ctx(self.file, self.owner if owner is None else owner, key or self.key)

    def error(self, msg: str, key: str | None = None) -> CatalogError:
        where = [self.file]
        if self.owner:
            where.append(self.owner)
        k = key or self.key
        if k:
            where.append(k)
        return CatalogError(f"{': '.join(where)}: {msg}")


def _expect(value: Any, kind: type | tuple[type, ...], ctx: _Ctx, key: str) -> Any:
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ctx.error(f"expected {names}, got {type(value).__name__} ({value!r})", key)
    return value


def _known_keys(data: Mapping[str, Any], allowed: set[str], ctx: _Ctx, key: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ctx.error(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}", key)


_ENDPOINT_KEYS = {
    "method", "path", "paging", "records", "body", "costs_money", "upload", "retry", "cursor",
}  # fmt: skip
_CURSOR_KEYS = {"size_param", "next_url"}
#: endpoint kinds whose requests are idempotent unless the catalog says otherwise
_SAFE_KINDS = ("list", "get", "update", "delete")


def _retry(data: Mapping[str, Any], ctx: _Ctx, key: str, kind: str, method: str) -> Retry:
    """The `retry` key, or its default: reads, table updates and deletes are safe to send
    again; inserts and every procedure that is not a GET (an action) are not."""
    if "retry" not in data:
        safe = kind in _SAFE_KINDS if kind != "call" else method == "GET"
        return Retry.SAFE if safe else Retry.NEVER
    try:
        return Retry(data["retry"])
    except ValueError:
        choices = ", ".join(r.value for r in Retry)
        raise ctx.error(
            f"retry {data['retry']!r} is not one of {choices}", f"{key}.retry"
        ) from None


def _endpoint(data: Any, ctx: _Ctx, key: str, kind: str) -> Endpoint:
    _expect(data, dict, ctx, key)
    _known_keys(data, _ENDPOINT_KEYS, ctx, key)
    for req in ("method", "path"):
        if req not in data:
            raise ctx.error(f"missing '{req}'", key)
    method = str(data["method"]).upper()
    if method not in METHODS:
        raise ctx.error(f"method {method!r} is not one of {METHODS}", f"{key}.method")
    path = _expect(data["path"], str, ctx, f"{key}.path")
    if not path.startswith("/"):
        raise ctx.error(f"path {path!r} must start with '/' (relative to /v3)", f"{key}.path")
    paging = data.get("paging", "none")
    if paging not in PAGING:
        raise ctx.error(f"paging {paging!r} is not one of {PAGING}", f"{key}.paging")
    if kind != "list" and paging != "none":
        raise ctx.error("only the list endpoint pages", f"{key}.paging")
    default_records = "data.data" if paging == "page" else "data"
    records = _expect(data.get("records", default_records), str, ctx, f"{key}.records")
    body = data.get("body", "object")
    if body not in BODY_STYLES:
        raise ctx.error(f"body {body!r} is not one of {BODY_STYLES}", f"{key}.body")
    costs = _expect(data.get("costs_money", False), bool, ctx, f"{key}.costs_money")
    cursor = _expect(data.get("cursor", {}), dict, ctx, f"{key}.cursor")
    _known_keys(cursor, _CURSOR_KEYS, ctx, f"{key}.cursor")
    if cursor and paging != "cursor":
        raise ctx.error("cursor settings need paging: cursor", f"{key}.cursor")
    cursor_args = {k: _expect(v, str, ctx, f"{key}.cursor.{k}") for k, v in cursor.items()}
    upload = data.get("upload")
    if (body == "import") != (upload is not None):
        raise ctx.error("body: import and upload: <procedure> go together", f"{key}.upload")
    return Endpoint(
        retry=_retry(data, ctx, key, kind, method),
        method=method,
        path=path,
        paging=paging,
        records=records,
        body=body,
        costs_money=costs,
        upload=upload,
        **cursor_args,
    )


_COLUMN_KEYS = {
    "type", "description", "nullable", "primary_key", "path_key", "fanout", "example", "source",
    "filter_param", "searchable", "sortable", "range", "read_only", "writable_on_update",
    "pattern", "minimum", "maximum", "secret",
}  # fmt: skip
_VALUE_RULE_KEYS = ("pattern", "minimum", "maximum")


def _value_rule(data: Mapping[str, Any], type_: str, ctx: _Ctx, key: str) -> dict[str, Any]:
    """The `pattern` / `minimum` / `maximum` of a column or parameter, checked: a pattern must
    compile, a range needs an integer type and must not be empty."""
    rule = {k: data[k] for k in _VALUE_RULE_KEYS if data.get(k) is not None}
    if "pattern" in rule:
        _expect(rule["pattern"], str, ctx, f"{key}.pattern")
        try:
            re.compile(rule["pattern"])
        except re.error as e:
            raise ctx.error(f"pattern {rule['pattern']!r} is not a regular expression: {e}",
                            f"{key}.pattern") from None  # fmt: skip
    for bound in ("minimum", "maximum"):
        if bound in rule:
            if type_ not in INT_RANGES:
                raise ctx.error(f"{bound} needs an integer type, not {type_}", f"{key}.{bound}")
            if isinstance(rule[bound], bool) or not isinstance(rule[bound], int):
                raise ctx.error(f"{bound} must be an integer", f"{key}.{bound}")
    if rule.get("minimum", 0) > rule.get("maximum", rule.get("minimum", 0)):
        raise ctx.error("minimum is above maximum", f"{key}.minimum")
    return rule


_BOOL_KEYS = ("nullable", "primary_key", "path_key", "searchable", "sortable", "read_only",
              "secret")  # fmt: skip


def _column(name: str, data: Any, ctx: _Ctx) -> Column:
    key = f"columns.{name}"
    if isinstance(data, str):  # shorthand: `name: varchar`
        data = {"type": data}
    _expect(data, dict, ctx, key)
    _known_keys(data, _COLUMN_KEYS, ctx, key)
    if "type" not in data:
        raise ctx.error("missing 'type'", key)
    if data["type"] not in TYPES:
        raise ctx.error(f"type {data['type']!r} is not one of {TYPES}", f"{key}.type")
    for b in (*_BOOL_KEYS, "writable_on_update"):
        if b in data:
            _expect(data[b], bool, ctx, f"{key}.{b}")
    rng = data.get("range") or {}
    _expect(rng, dict, ctx, f"{key}.range")
    _known_keys(rng, {"lower", "upper", "after"}, ctx, f"{key}.range")
    source = data.get("source", "response")
    if source not in ("response", "path"):
        raise ctx.error(f"source {source!r} is not 'response' or 'path'", f"{key}.source")
    if source == "path" and not (data.get("path_key") or data.get("filter_param")):
        raise ctx.error("source: path needs path_key: true or a filter_param", f"{key}.source")
    if data.get("fanout") and not data.get("path_key"):
        raise ctx.error("fanout needs path_key: true", f"{key}.fanout")
    read_only = data.get("read_only", False)
    primary = data.get("primary_key", False)
    return Column(
        **_value_rule(data, data["type"], ctx, key),
        name=name,
        type=data["type"],
        description=str(data.get("description") or ""),
        nullable=data.get("nullable", not primary),
        primary_key=primary,
        path_key=data.get("path_key", False),
        fanout=data.get("fanout"),
        example=data.get("example"),
        source=source,
        filter_param=data.get("filter_param"),
        searchable=data.get("searchable", False),
        sortable=data.get("sortable", False),
        range_lower=rng.get("lower"),
        range_upper=rng.get("upper"),
        range_after=rng.get("after"),
        read_only=read_only,
        writable_on_update=data.get(
            "writable_on_update", not (read_only or primary or data.get("path_key", False))
        ),
        secret=data.get("secret", False),
    )


_TABLE_KEYS = {
    "description", "aliases", "operations", "operations_note", "singleton", "endpoints",
    "required_on_insert", "columns", "invalidates", "count_per_parent", "list_omits",
}  # fmt: skip


def _table(name: str, data: Any, group: str, ctx: _Ctx) -> Table:
    ctx = ctx.at(owner=f"table {name}")
    if not _IDENT.match(name):
        raise ctx.error("table names are snake_case identifiers")
    _expect(data, dict, ctx, "")
    _known_keys(data, _TABLE_KEYS, ctx, "")
    for req in ("description", "operations", "endpoints", "columns"):
        if req not in data:
            raise ctx.error(f"missing '{req}'", req)
    aliases = tuple(_expect(data.get("aliases") or [], list, ctx, "aliases"))
    ops = tuple(str(o).upper() for o in _expect(data["operations"], list, ctx, "operations"))
    bad = [o for o in ops if o not in OPERATIONS]
    if bad:
        raise ctx.error(f"unknown operation(s) {bad}; allowed: {OPERATIONS}", "operations")
    if "SELECT" not in ops:
        raise ctx.error("every table allows SELECT", "operations")
    eps_raw = _expect(data["endpoints"], dict, ctx, "endpoints")
    _known_keys(eps_raw, set(ENDPOINT_KINDS), ctx, "endpoints")
    if "list" not in eps_raw:
        raise ctx.error("missing the list endpoint", "endpoints")
    endpoints = {k: _endpoint(v, ctx, f"endpoints.{k}", k) for k, v in eps_raw.items()}
    cols_raw = _expect(data["columns"], dict, ctx, "columns")
    if not cols_raw:
        raise ctx.error("a table needs at least one column", "columns")
    columns = tuple(_column(str(n), v, ctx) for n, v in cols_raw.items())
    by_name = {c.name.lower(): c for c in columns}
    if len(by_name) != len(columns):
        raise ctx.error("column names differ only by case", "columns")
    for op in ops:
        if op in OPERATION_ENDPOINT and OPERATION_ENDPOINT[op] not in endpoints:
            raise ctx.error(f"{op} is allowed but there is no '{OPERATION_ENDPOINT[op]}' endpoint",
                            "operations")  # fmt: skip
    for kind, ep in endpoints.items():
        for ph in ep.placeholders:
            if ph.lower() not in by_name:
                raise ctx.error(f"placeholder {{{ph}}} is not a column", f"endpoints.{kind}.path")
    list_ph = set(endpoints["list"].placeholders)
    for c in columns:
        if c.path_key and c.name not in list_ph:
            raise ctx.error("path_key but not a placeholder of the list path", f"columns.{c.name}")
        if c.name in list_ph and not c.path_key:
            raise ctx.error("a placeholder of the list path must be path_key", f"columns.{c.name}")
    req_raw = _expect(data.get("required_on_insert") or [], list, ctx, "required_on_insert")
    required = []
    for grp in req_raw:
        grp = tuple(grp) if isinstance(grp, list) else (grp,)
        for col in grp:
            if str(col).lower() not in by_name:
                raise ctx.error(f"{col!r} is not a column", "required_on_insert")
        required.append(tuple(grp))
    singleton = data.get("singleton", False)
    endpoints = {k: _with_path_values(ep, by_name) for k, ep in endpoints.items()}
    return Table(
        name=name,
        group=group,
        file=ctx.file,
        description=str(data["description"]).strip(),
        aliases=tuple(str(a) for a in aliases),
        operations=tuple(o for o in OPERATIONS if o in ops),
        endpoints=MappingProxyType(endpoints),
        columns=columns,
        required_on_insert=tuple(required),
        operations_note=data.get("operations_note"),
        singleton=_expect(singleton, bool, ctx, "singleton"),
        list_omits=_list_omits(data.get("list_omits"), by_name, endpoints, ctx),
        invalidates=tuple(
            str(t) for t in _expect(data.get("invalidates") or [], list, ctx, "invalidates")
        ),
        count_per_parent=data.get("count_per_parent"),
        _by_name=MappingProxyType(by_name),
    )


def _list_omits(raw: Any, by_name: Mapping[str, Column], endpoints: Mapping[str, Endpoint],
                ctx: _Ctx) -> tuple[str, ...]:  # fmt: skip
    """`list_omits: [body]`: real columns, and only on a table with a get endpoint to read them."""
    names = tuple(str(n) for n in _expect(raw or [], list, ctx, "list_omits"))
    for n in names:
        if n.lower() not in by_name:
            raise ctx.error(f"{n!r} is not a column", "list_omits")
    if names and "get" not in endpoints:
        raise ctx.error("needs a get endpoint to read the omitted columns", "list_omits")
    return names


_PROC_KEYS = {
    "description", "method", "path", "parameters", "body", "result", "costs_money", "destructive",
    "price", "result_table", "one_of", "retry",
}  # fmt: skip


def _flag(data: Mapping[str, Any], name: str, ctx: _Ctx, key: str) -> bool:
    value = data.get(name, False)
    _expect(value, bool, ctx, f"{key}.{name}")
    return value


_PARAM_KEYS = {"type", "required", "in", "description", "default", "required_note",
               "pattern", "minimum", "maximum", "secret"}  # fmt: skip


def _with_path_values(ep: Endpoint, columns: Mapping[str, Column]) -> Endpoint:
    """The endpoint with the rule of each placeholder, from the column it names."""
    rules = {ph: columns[ph.lower()].path_value for ph in ep.placeholders}
    named = {ph: replace(rule, name=ph) for ph, rule in rules.items()}
    return replace(ep, values=MappingProxyType(named))


def _procedure(name: str, data: Any, group: str, ctx: _Ctx) -> Procedure:
    ctx = ctx.at(owner=f"procedure {name}")
    _expect(data, dict, ctx, "")
    _known_keys(data, _PROC_KEYS, ctx, "")
    for req in ("description", "method", "path"):
        if req not in data:
            raise ctx.error(f"missing '{req}'", req)
    ep = _endpoint(
        {k: v for k, v in data.items() if k in ("method", "path", "body", "retry")},
        ctx,
        "endpoint",
        "call",
    )
    params_raw = _expect(data.get("parameters") or {}, dict, ctx, "parameters")
    params = []
    for pname, p in params_raw.items():
        key = f"parameters.{pname}"
        if isinstance(p, str):
            p = {"type": p}
        _expect(p, dict, ctx, key)
        _known_keys(p, _PARAM_KEYS, ctx, key)
        if p.get("type") not in TYPES:
            raise ctx.error(f"type {p.get('type')!r} is not one of {TYPES}", f"{key}.type")
        where = p.get("in", "path" if pname in ep.placeholders else "body")
        if where not in ("path", "query", "body", "root"):
            raise ctx.error(f"in {where!r} is not path/query/body/root", f"{key}.in")
        params.append(
            Parameter(
                name=str(pname),
                type=p["type"],
                required=bool(p.get("required", where == "path")),
                location=where,
                description=str(p.get("description") or ""),
                default=p.get("default"),
                required_note=p.get("required_note"),
                secret=_flag(p, "secret", ctx, key),
                **_value_rule(p, p["type"], ctx, key),
            )
        )
    names = {p.name for p in params}
    for ph in ep.placeholders:
        if ph not in names:
            raise ctx.error(f"placeholder {{{ph}}} is not a parameter", "path")
    one_of = _one_of(data.get("one_of"), names, ctx)
    return Procedure(
        name=name,
        group=group,
        file=ctx.file,
        description=str(data["description"]).strip(),
        method=ep.method,
        path=ep.path,
        parameters=tuple(params),
        body=ep.body,
        result=str(data.get("result", "data")),
        costs_money=bool(data.get("costs_money", False)),
        destructive=bool(data.get("destructive", False)),
        price=data.get("price"),
        result_table=data.get("result_table"),
        one_of=one_of,
        retry=ep.retry,
    )


def _one_of(raw: Any, names: set[str], ctx: _Ctx) -> tuple[tuple[str, ...], ...]:
    """`one_of: [[to], [list_id]]`: groups of parameter names, each naming real parameters."""
    groups = _expect(raw or [], list, ctx, "one_of")
    out = []
    for i, group in enumerate(groups):
        _expect(group, list, ctx, f"one_of[{i}]")
        if not group:
            raise ctx.error("a group cannot be empty", f"one_of[{i}]")
        for n in group:
            if n not in names:
                raise ctx.error(f"{n!r} is not a parameter", f"one_of[{i}]")
        out.append(tuple(str(n) for n in group))
    if len(out) == 1:
        raise ctx.error("needs at least two groups to choose from", "one_of")
    return tuple(out)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path.name}: not valid YAML: {exc}") from exc


def _exclusions(path: Path) -> list[Exclusion]:
    ctx = _Ctx(path.name)
    data = _read_yaml(path) or []
    _expect(data, list, ctx, "")
    out = []
    for i, item in enumerate(data):
        key = f"[{i}]"
        _expect(item, dict, ctx, key)
        _known_keys(item, {"method", "path", "reason"}, ctx, key)
        for req in ("method", "path", "reason"):
            if not item.get(req):
                raise ctx.error(f"missing '{req}'", key)
        out.append(Exclusion(str(item["method"]).upper(), item["path"], item["reason"], path.name))
    return out


def schema_dir() -> Path:
    """Where the catalog lives: csql/schema in an installed wheel, schema/ in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "schema", here.parent / "schema"):
        if any(candidate.glob("*.yaml")):
            return candidate
    raise CatalogError(f"no catalog found in {here / 'schema'} or {here.parent / 'schema'}")


def load_catalog(directory: str | Path | None = None) -> Catalog:
    """Read and validate every schema file; raises CatalogError on the first problem found."""
    root = Path(directory) if directory is not None else schema_dir()
    files = sorted(root.glob("*.yaml"))
    if not files:
        raise CatalogError(f"{root}: no catalog files (*.yaml) found")
    tables: list[Table] = []
    procedures: list[Procedure] = []
    exclusions: list[Exclusion] = []
    for path in files:
        if path.name.startswith("_exclusions"):
            exclusions.extend(_exclusions(path))
            continue
        ctx = _Ctx(path.name)
        data = _read_yaml(path)
        _expect(data, dict, ctx, "")
        _known_keys(data, {"group", "tables", "procedures"}, ctx, "")
        group = str(data.get("group") or path.stem)
        for name, t in (_expect(data.get("tables") or {}, dict, ctx, "tables")).items():
            tables.append(_table(str(name), t, group, ctx))
        for name, p in (_expect(data.get("procedures") or {}, dict, ctx, "procedures")).items():
            procedures.append(_procedure(str(name), p, group, ctx))
    return _assemble(tables, procedures, exclusions)


def _assemble(tables: list[Table], procedures: list[Procedure], exclusions: list[Exclusion]):
    names: dict[str, Table] = {}
    for t in tables:
        for n in dict.fromkeys(x.lower() for x in (t.name, *t.aliases)):
            other = names.get(n)
            if other is not None:
                raise CatalogError(
                    f"{t.file}: table {t.name}: name or alias {n!r} is already used by "
                    f"table {other.name} ({other.file})"
                )
            names[n] = t
    procs: dict[str, Procedure] = {}
    for p in procedures:
        if p.name.lower() in procs:
            raise CatalogError(f"{p.file}: procedure {p.name}: defined twice")
        procs[p.name.lower()] = p
    for t in tables:
        for c in t.columns:
            if c.fanout:
                tname, _, cname = c.fanout.partition(".")
                parent = names.get(tname.lower())
                if parent is None or parent.column(cname) is None:
                    raise CatalogError(
                        f"{t.file}: table {t.name}: columns.{c.name}.fanout: "
                        f"{c.fanout!r} is not a table.column of the catalog"
                    )
    for t in tables:
        for kind, ep in t.endpoints.items():
            if ep.upload and ep.upload.lower() not in procs:
                raise CatalogError(
                    f"{t.file}: table {t.name}: endpoints.{kind}.upload: no procedure {ep.upload!r}"
                )
    for p in procedures:
        if p.result_table and p.result_table.lower() not in names:
            raise CatalogError(
                f"{p.file}: procedure {p.name}: result_table: no table {p.result_table!r}"
            )
        if p.price and p.price.lower() not in procs:
            raise CatalogError(f"{p.file}: procedure {p.name}: price: no procedure {p.price!r}")
    return Catalog(
        tables=tuple(tables),
        procedures=tuple(procedures),
        exclusions=tuple(exclusions),
        _names=MappingProxyType(names),
        _procs=MappingProxyType(procs),
    )


@cache
def default_catalog() -> Catalog:
    """The catalog shipped with csql, loaded once per process."""
    return load_catalog()
