"""Catalog-driven routing: every table endpoint and procedure of the catalog becomes a route.

A route is a path template compiled to a regex plus one handler per HTTP method. Tables get the
generic list / get / insert / update / delete handlers below; procedures get the action registered
for their 'METHOD /path' in the App's registry (csql.sandbox.registry), or a generic one that checks the required
parameters and answers in the shape the spec declares. Handlers return (status, body) where
body is a JSON-ready object; the server serialises it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

import orjson

from csql.catalog import Catalog, Endpoint, Procedure, Table
from csql.sandbox import wire
from csql.sandbox.registry import Hook, Registry
from csql.sandbox.store import QueryError, Store, TableStore, parse_list_query

#: page/limit as documented: default 15, min 15, max 100. Out-of-range values are clamped
#: (limit=5 serves 15 rows, limit=500 serves 100, page=0 serves page 1) rather than refused:
#: the reference says "Min 15, Max 100" without an error code, and a clamped per_page in the
#: response tells the client what it got. Non-numbers are a 400.
DEFAULT_LIMIT, MIN_LIMIT, MAX_LIMIT = 15, 15, 100
#: cursor endpoints (alpha-tags, own-numbers): page_size default 10, range [1..500]
CURSOR_DEFAULT, CURSOR_MAX = 10, 500


@dataclass
class Request:
    """One parsed HTTP request, as the handlers see it."""

    method: str
    path: str  # without the /v3 prefix
    query: dict[str, str]
    body: bytes
    base_url: str  # e.g. http://127.0.0.1:8080/v3
    account: str = "sandbox"  # which account authenticated (test accounts behave differently)
    template: str = ""  # the matched route's path template (set by Router.resolve)
    _json: Any = field(default=None, repr=False)

    def json(self) -> Any:
        """The JSON body (None when empty); malformed JSON raises ApiError 400."""
        if self._json is None and self.body.strip():
            try:
                self._json = orjson.loads(self.body)
            except orjson.JSONDecodeError as exc:
                raise ApiError(400, f"Malformed JSON in the request body: {exc}") from None
        return self._json

    def json_object(self) -> dict:
        data = self.json()
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return data


class ApiError(Exception):
    """An error response in ClickSend's envelope."""

    def __init__(self, status: int, msg: str, rc: str | None = None, data: Any = None):
        super().__init__(msg)
        self.status, self.msg, self.rc, self.data = status, msg, rc, data

    def body(self) -> dict:
        return wire.envelope(self.data, self.msg, self.status, self.rc)


Handler = Callable[[Request, dict[str, str]], tuple[int, Any]]


@dataclass
class Route:
    template: str
    regex: re.Pattern
    names: tuple[str, ...]
    literals: int
    handlers: dict[str, Handler] = field(default_factory=dict)


def compile_template(template: str) -> tuple[re.Pattern, tuple[str, ...], int]:
    names: list[str] = []
    parts = []
    literals = 0
    for seg in template.strip("/").split("/"):
        m = re.fullmatch(r"{([^}]+)}", seg)
        if m:
            names.append(m.group(1))
            parts.append("([^/]+)")
        else:
            literals += 1
            parts.append(re.escape(seg))
    return re.compile("^/" + "/".join(parts) + "/?$"), tuple(names), literals


class Router:
    """Finds the handler of a request; tells 404 (no such path) from 405 (wrong method)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self._ordered: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, replace: bool = False) -> None:
        key = wire.norm_path(template)
        route = self.routes.get(key)
        if route is None:
            regex, names, literals = compile_template(template)
            route = self.routes[key] = Route(template, regex, names, literals)
            # most literal segments first: /sms/cancel-all before /sms/{message_id}/cancel
            self._ordered = sorted(self.routes.values(), key=lambda r: -r.literals)
        if replace or method not in route.handlers:
            route.handlers[method] = handler

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str], str]:
        """(handler, placeholder values, template) for a request; ApiError 404/405 if none."""
        allowed: set[str] = set()
        for route in self._ordered:
            m = route.regex.match(path)
            if m is None:
                continue
            handler = route.handlers.get(method)
            if handler is not None:
                values = {n: unquote(v) for n, v in zip(route.names, m.groups(), strict=True)}
                return handler, values, route.template
            allowed.update(route.handlers)
        if allowed:
            raise ApiError(
                405,
                f"Method {method} is not allowed on {path}; allowed: {', '.join(sorted(allowed))}.",
                data={"allow": sorted(allowed)},
            )
        raise ApiError(404, f"The URI requested is invalid: {path} does not exist.")


# ---------------------------------------------------------------------------------------------
# building bodies


def place(records: str, value: Any) -> Any:
    """Put `value` at the dotted `records` path of a response body ('data...' = the envelope)."""
    parts = [p for p in records.split(".") if p]
    if not parts:
        return value
    inner = value
    for p in reversed(parts[1:]):
        inner = {p: inner}
    if parts[0] == "data":
        return wire.envelope(inner)
    return {parts[0]: inner}


def page_numbers(query: Mapping[str, str]) -> tuple[int, int]:
    try:
        page = int(query.get("page") or 1)
        limit = int(query.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise ApiError(400, "page and limit must be integers.") from None
    return max(page, 1), min(max(limit, MIN_LIMIT), MAX_LIMIT)


def page_url(req: Request, **changes: Any) -> str:
    q = dict(req.query)
    q.update({k: str(v) for k, v in changes.items()})
    return f"{req.base_url}{req.path}?{urlencode(q)}"


def paged(req: Request, rows: list[dict], records: str, decorate) -> Any:
    """A page of rows in ClickSend's paging envelope, placed at the endpoint's records path."""
    page, limit = page_numbers(req.query)
    total = len(rows)
    last = max(1, math.ceil(total / limit))
    start = (page - 1) * limit
    chunk = rows[start : start + limit]
    if decorate is not None:
        chunk = [decorate(r) for r in chunk]
    parts = [p for p in records.split(".") if p] or ["data"]
    page_obj = {
        "total": total,
        "per_page": limit,
        "current_page": page,
        "last_page": last,
        "next_page_url": page_url(req, page=page + 1, limit=limit) if page < last else None,
        "prev_page_url": page_url(req, page=min(page - 1, last), limit=limit) if page > 1 else None,
        "from": start + 1 if chunk else None,
        "to": start + len(chunk) if chunk else None,
        parts[-1]: chunk,
    }
    return place(".".join(parts[:-1]), page_obj)


def cursor_paged(req: Request, rows: list[dict], ep: Endpoint, ts: TableStore, decorate) -> Any:
    """Cursor paging: offset (the id of the last row seen) and a page size (the endpoint's
    `size_param`: page_size for sender registration, per_page for default senders); the next
    page's URL goes where the endpoint's `next_url` says, null on the last page."""
    param = ep.size_param
    try:
        size = int(req.query.get(param) or req.query.get("limit") or CURSOR_DEFAULT)
    except ValueError:
        raise ApiError(400, f"{param} must be an integer.") from None
    size = min(max(size, 1), CURSOR_MAX)
    start = 0
    offset = req.query.get("offset")
    if offset:
        keys = [ts.row_key(r) for r in rows]
        try:
            start = keys.index(offset.split("#")[-1]) + 1
        except ValueError:
            raise ApiError(400, f"offset: '{offset}' is not a valid cursor.") from None
    chunk = rows[start : start + size]
    more = start + size < len(rows)
    if decorate is not None:
        chunk = [decorate(r) for r in chunk]
    body = place(ep.records, chunk)
    nxt = page_url(req, offset=ts.row_key(chunk[-1]), **{param: size}) if more and chunk else None
    this = page_url(req, **{param: size})
    if ep.next_url == "_metadata.pagination.next":
        body["_metadata"] = {"pagination": {"self": this, "next": nxt, "page_size": size}}
    else:  # beside the records, as GET /senders/default-senders has it
        holder = _holder(body, ep.records)
        holder.update({"per_page": size, "self_page_url": this, "next_page_url": nxt})
    return body


def _holder(body: Any, records: str) -> dict:
    """The object of `body` that holds the records (their parent)."""
    node = body
    for part in [p for p in records.split(".") if p][:-1]:
        node = node[part]
    return node


# ---------------------------------------------------------------------------------------------
# the application


class App:
    """The sandbox's routes over one Store; `handle` turns a Request into (status, body)."""

    def __init__(
        self, catalog: Catalog, store: Store, generator, clock=time.time,
        registry: Registry | None = None,
    ) -> None:  # fmt: skip
        self.catalog = catalog
        self.store = store
        self.gen = generator
        self.clock = clock
        self.router = Router()
        #: the behaviour beyond the generic endpoints (csql.sandbox.registry; actions.install
        #: fills it for the sandbox that build_app makes)
        self.registry = registry or Registry()
        for table in catalog.tables:
            self._add_table(table)
        for proc in catalog.procedures:
            self._add_procedure(proc)

    def now(self) -> int:
        return int(self.clock())

    def handle(self, req: Request) -> tuple[int, Any]:
        """Route and run one request; errors become ClickSend error envelopes."""
        try:
            handler, params, req.template = self.router.resolve(req.method, req.path)
            return handler(req, params)
        except ApiError as exc:
            return exc.status, exc.body()

    # -- tables --------------------------------------------------------------------------------

    def _add_table(self, table: Table) -> None:
        eps = table.endpoints
        self.router.add(eps["list"].method, eps["list"].path, self._list(table))
        for kind, make in (
            ("get", self._get),
            ("insert", self._insert),
            ("update", self._update),
            ("delete", self._delete),
        ):
            if kind in eps:
                self.router.add(eps[kind].method, eps[kind].path, make(table, eps[kind]))

    def _scope_values(self, table: Table, params: Mapping[str, str]) -> tuple[str, ...]:
        ts = self.store[table.name]
        values = tuple(params.get(c, "") for c in ts.path_keys)
        for c in table.path_keys:
            if c.fanout:
                parent, _, col = c.fanout.partition(".")
                pts = self.store.get(parent)
                ptable = self.catalog.table(parent)
                known = pts is not None and ptable is not None and ptable.primary_key == (col,)
                if known and pts.get((params.get(c.name),)) is None:
                    raise ApiError(404, f"{_singular(parent)} #{params.get(c.name)} not found.")
        return values

    def _list(self, table: Table) -> Handler:
        ep = table.list_endpoint

        def handler(req: Request, params: dict[str, str]) -> tuple[int, Any]:
            special = self.registry.call(Hook.LIST, table.name, table, req, params)
            if special is not None:
                return 200, special
            ts = self.store[table.name]
            scope = self._scope_values(table, params)
            try:
                query = parse_list_query(table, req.query)
            except QueryError as exc:
                raise ApiError(400, str(exc)) from None
            with self.store.lock:
                self.registry.call(Hook.ENSURE_SCOPE, table.name, table, scope)
                rows = ts.select(scope, query)
            if table.list_omits:  # as ClickSend's list examples: only the get endpoint has them
                rows = [{k: v for k, v in r.items() if k not in table.list_omits} for r in rows]
            decorate = self.registry.hook(Hook.DECORATE, table.name)
            if ep.paging == "page":
                body = paged(req, rows, ep.records, decorate)
                return 200, _conform_skeleton(body, wire.shape(ep.method, ep.path), ep.records)
            if ep.paging == "cursor":
                body = cursor_paged(req, rows, ep, ts, decorate)
                return 200, _conform_skeleton(body, wire.shape(ep.method, ep.path), ep.records)
            rows = [decorate(r) for r in rows] if decorate else rows
            if table.singleton:
                value: Any = rows[0] if rows else None
            elif len(table.columns) == 1 and table.columns[0].type == "varchar" and ep.records:
                value = [r[table.columns[0].name] for r in rows]  # a list of plain strings
            else:
                value = rows
            body = place(ep.records, value)
            extra = self.registry.call(Hook.LIST_EXTRAS, table.name, table)
            if extra and isinstance(body, dict) and isinstance(body.get("data"), dict):
                body["data"].update(extra)
            return 200, wire.conform(body, wire.shape(ep.method, ep.path))

        return handler

    def find(self, table: Table, ep: Endpoint, params: Mapping[str, str]) -> dict:
        """The row an item endpoint's placeholders name, or ApiError 404."""
        ts = self.store[table.name]
        pk_vals = [params.get(c) for c in ts.pk]
        path_vals = [params[c] for c in ts.path_keys if c in params]
        if any(v is None for v in pk_vals):  # placeholders that are not the primary key
            pk_vals = [params[n] for n in ep.placeholders if n not in ts.path_keys]
        with self.store.lock:
            row = ts.get(pk_vals, path_vals if len(path_vals) == len(ts.path_keys) else ())
        if row is None:
            ident = "/".join(str(v) for v in pk_vals)
            raise ApiError(404, f"{_singular(table.name)} #{ident} not found.")
        return row

    def item_body(self, table: Table, ep: Endpoint, row: dict, msg: str) -> dict:
        decorate = self.registry.hook(Hook.DECORATE, table.name)
        value = decorate(row) if decorate else dict(row)
        body = place(ep.records, value)
        if isinstance(body, dict) and "response_msg" in body:
            body["response_msg"] = msg
        return wire.conform(body, wire.shape(ep.method, ep.path))

    def _get(self, table: Table, ep: Endpoint) -> Handler:
        def handler(req: Request, params: dict[str, str]) -> tuple[int, Any]:
            return 200, self.item_body(
                table, ep, self.find(table, ep, params), "Here are your data."
            )

        return handler

    def check_required(self, table: Table, values: Mapping[str, Any]) -> None:
        missing = [
            " or ".join(group)
            for group in table.required_on_insert
            if all(values.get(c) in (None, "") for c in group)
        ]
        if missing:
            raise ApiError(
                400,
                f"Missing required field(s): {', '.join(missing)}.",
                rc="MISSING_REQUIRED_FIELDS",
            )

    def new_row(self, table: Table, values: Mapping[str, Any]) -> dict:
        """A row for INSERT: read-only columns generated, writable ones from `values`."""
        ts = self.store[table.name]
        seed_row = self.gen.one(table, ts.next_id)
        row: dict[str, Any] = {}
        now = self.now()
        for c in table.columns:
            if c.primary_key and not c.path_key:
                row[c.name] = ts.new_id() if c.type in ("integer", "bigint") else seed_row[c.name]
            elif c.read_only:
                v = seed_row.get(c.name)
                if c.type == "timestamp" or (c.name.startswith("date") and isinstance(v, int)):
                    v = now
                row[c.name] = v
            else:
                row[c.name] = None
        for k, v in values.items():
            c = table.column(k)
            if c is not None and (not c.read_only or c.path_key):
                row[c.name] = v
        return conform_row(table, row)

    def _insert(self, table: Table, ep: Endpoint) -> Handler:
        def handler(req: Request, params: dict[str, str]) -> tuple[int, Any]:
            special = self.registry.call(Hook.INSERT, table.name, table, ep, req, params)
            if special is not None:
                return special
            values = dict(req.json_object())
            values.update(params)
            self.check_required(table, values)
            self._scope_values(table, params)
            row = self.new_row(table, values)
            with self.store.lock:
                self.store[table.name].put(row)
                self.registry.call(Hook.AFTER_INSERT, table.name, table, row)
            msg = f"New {_singular(table.name).lower()} has been created."
            return 200, self.item_body(table, ep, row, msg)

        return handler

    def apply_update(self, table: Table, row: dict, values: Mapping[str, Any]) -> None:
        changes = {}
        for k, v in values.items():
            c = table.column(k)
            if c is not None and c.writable_on_update and not c.primary_key:
                changes[c.name] = v
        for c in table.columns:
            if c.range_after or c.name == "date_updated":
                changes[c.name] = self.now()
        with self.store.lock:
            ts = self.store[table.name]
            moved = any(c in changes for c in ts.path_keys)
            if moved:
                ts.remove(row)
            row.update(conform_row(table, changes))
            ts.put(row) if moved else ts.touch()

    def _update(self, table: Table, ep: Endpoint) -> Handler:
        def handler(req: Request, params: dict[str, str]) -> tuple[int, Any]:
            row = self.find(table, ep, params)
            values = req.json_object()
            self.apply_update(table, row, values)
            msg = (
                f"{_singular(table.name)} #{self.store[table.name].row_key(row)} has been updated."
            )
            return 200, self.item_body(table, ep, row, msg)

        return handler

    def _delete(self, table: Table, ep: Endpoint) -> Handler:
        def handler(req: Request, params: dict[str, str]) -> tuple[int, Any]:
            row = self.find(table, ep, params)
            ts = self.store[table.name]
            with self.store.lock:
                ts.remove(row)
                self.registry.call(Hook.AFTER_DELETE, table.name, table, row)
            msg = f"{_singular(table.name)} #{ts.row_key(row)} has been deleted."
            body: Any = wire.envelope([], msg) if ep.records.startswith("data") else dict(row)
            return 200, wire.conform(body, wire.shape(ep.method, ep.path))

        return handler

    # -- procedures ------------------------------------------------------------------------------

    def _add_procedure(self, proc: Procedure) -> None:
        def handler(req: Request, params: dict[str, str]) -> tuple[int, Any]:
            args = self.procedure_args(proc, req, params)
            action = self.registry.action_for(proc.method, proc.path)
            if action is not None:
                return action(req, params, args)
            return 200, self.generic_result(proc, args)

        self.router.add(proc.method, proc.path, handler)

    def procedure_args(self, proc: Procedure, req: Request, params: dict[str, str]) -> Any:
        """The procedure's arguments; 400 naming any required one that is missing.

        For `messages`/`recipients` bodies each item is checked, and the list is returned.
        """
        body_params = [p for p in proc.parameters if p.location == "body" and p.required]
        query_missing = [
            p.name
            for p in proc.parameters
            if p.location == "query" and p.required and not req.query.get(p.name)
        ]
        if query_missing:
            raise ApiError(400, f"Missing required query parameter(s): {', '.join(query_missing)}.")
        if proc.body in ("messages", "recipients"):
            data = req.json_object()
            items = data.get(proc.body)
            if not isinstance(items, list) or not items:
                raise ApiError(
                    400,
                    f"The body needs a non-empty '{proc.body}' array.",
                    rc="MISSING_REQUIRED_FIELDS",
                )
            root_missing = [
                p.name
                for p in proc.parameters
                if p.location == "root" and p.required and data.get(p.name) in (None, "", [])
            ]
            if root_missing:
                raise ApiError(
                    400,
                    f"Missing required field(s): {', '.join(root_missing)}.",
                    rc="MISSING_REQUIRED_FIELDS",
                )
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ApiError(400, f"{proc.body}[{i}] must be an object.")
                missing = [p.name for p in body_params if item.get(p.name) in (None, "")]
                missing += _unmet_one_of(proc, item)
                if missing:
                    raise ApiError(
                        400,
                        f"{proc.body}[{i}]: missing required field(s): {', '.join(missing)}.",
                        rc="MISSING_REQUIRED_FIELDS",
                    )
            return data
        if proc.body == "none":
            return dict(params)
        data = req.json_object()
        missing = [p.name for p in body_params if data.get(p.name) in (None, "")]
        missing += _unmet_one_of(proc, data)
        if missing:
            raise ApiError(
                400,
                f"Missing required field(s): {', '.join(missing)}.",
                rc="MISSING_REQUIRED_FIELDS",
            )
        return {**data, **params}

    def generic_result(self, proc: Procedure, args: Any) -> Any:
        """A success in the declared shape for procedures without a special action."""
        tree = wire.shape(proc.method, proc.path)
        data_tree = (
            wire.subshape(tree, "data") if isinstance(tree, dict) and "data" in tree else tree
        )
        if isinstance(data_tree, dict) and isinstance(args, dict):
            data: Any = {k: args.get(k) for k in data_tree if k in args}
        else:
            data = []
        if isinstance(tree, dict) and "http_code" not in tree and "data" not in tree:
            return wire.conform(data if isinstance(data, dict) else {}, tree)
        body = wire.envelope(data, f"{proc.description.split('.')[0]}: done.")
        return wire.conform(body, tree)


def _unmet_one_of(proc: Procedure, item: Mapping[str, Any]) -> list[str]:
    """The catalog's `one_of` rule of a procedure, as ClickSend states a missing field:
    `[\"to or list_id\"]` when no group is given in full, else []."""
    if not proc.one_of:
        return []
    given = {k for k, v in item.items() if v not in (None, "")}
    if any(set(group) <= given for group in proc.one_of):
        return []
    return [" or ".join("+".join(g) for g in proc.one_of)]


def _conform_skeleton(body: Any, tree: Any, records: str) -> Any:
    """Conform a paged body except its rows (they are stored in the list shape already)."""
    if tree is None or not isinstance(body, dict):
        return body
    parts = [p for p in records.split(".") if p]
    holder = body
    for p in parts[:-1]:
        holder = holder.get(p) if isinstance(holder, dict) else None
    if not isinstance(holder, dict):
        return body
    rows = holder.get(parts[-1])
    holder[parts[-1]] = []
    out = wire.conform(body, tree)
    target = out
    for p in parts[:-1]:
        target = target[p]
    target[parts[-1]] = rows
    return out


def conform_row(table: Table, row: dict) -> dict:
    """One row in the JSON types of the table's list endpoint (how rows are stored)."""
    ep = table.list_endpoint
    item = wire.subshape(wire.shape(ep.method, ep.path), ep.records)
    return wire.conform(row, item) if isinstance(item, dict) else row


def _singular(name: str) -> str:
    words = name.replace("_", " ").strip().split()
    if words and words[-1].endswith("ies"):
        words[-1] = words[-1][:-3] + "y"
    elif words and words[-1].endswith("s") and not words[-1].endswith("ss"):
        words[-1] = words[-1][:-1]
    return " ".join(words).capitalize()
