"""CALL Procedure(args): parse the call and build the request of a ClickSend action. Pure.

Arguments are positional (in the procedure's parameter order), `:name` placeholders bound
from the execute() parameters (Skyvia's style: `CALL SendSMS(:from, :body, :to)`), or named
with `name => value`. Their values are computed by DuckDB (so `now() + INTERVAL 1 HOUR` works)
and converted to what ClickSend's JSON expects.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from csql import binder, sqltext
from csql.catalog import Catalog, Procedure
from csql.errors import DataError, ProgrammingError
from csql.write.dml import WriteRequest, json_value

MAX_MESSAGES = 1000  # ClickSend takes up to 1000 messages in one send


@dataclass(frozen=True)
class Call:
    """A parsed CALL: the procedure and one SQL expression per parameter it was given."""

    procedure: Procedure
    args: dict[str, exp.Expression]


def parse_call(sql: str, catalog: Catalog, params: dict[str, Any] | None) -> Call:
    """The procedure and argument expressions of `CALL name(args)` (read by csql.sqltext).

    Parameters given in `params` but neither written as `:name` nor named like one of the
    procedure's parameters are a ProgrammingError: a misspelled `schedule` must not send now.
    """
    proc = _procedure(catalog, sqltext.call_target(sql))
    names = [p.name for p in proc.parameters]
    sqltext.check_parameters(sqltext.placeholder_names(sql), params, also_accepted=names)
    text = sqltext.substitute(sql, params, binder.literal_sql)
    args: dict[str, exp.Expression] = {}
    positional = True
    for i, arg in enumerate(sqltext.parse_call(text).arguments):
        value = binder.bind_parameters(arg.value, params)
        if arg.name is not None:
            positional = False
            p = proc.parameter(arg.name)
            if p is None:
                raise ProgrammingError(
                    f"{proc.name} has no parameter {arg.name!r}; its signature: {signature(proc)}"
                )
            if p.name in args:
                raise ProgrammingError(f"{proc.name}: argument {p.name!r} is given twice")
            args[p.name] = value
        else:
            if not positional:
                raise ProgrammingError("positional arguments cannot follow named ones")
            if i >= len(names):
                raise ProgrammingError(
                    f"{proc.name} takes {len(names)} arguments: {signature(proc)}"
                )
            args[names[i]] = value
    # parameters named like the procedure's parameters but not written in the call
    lower = {str(k).lower(): v for k, v in (params or {}).items()}
    for p in proc.parameters:
        if p.name not in args and p.name.lower() in lower:
            args[p.name] = binder.sql_literal(lower[p.name.lower()])
    return Call(proc, args)


def _procedure(catalog: Catalog, name: str) -> Procedure:
    proc = catalog.procedure(name)
    if proc is None:
        hints = catalog.suggest_procedure(name)
        hint = f"; did you mean {', '.join(hints)}?" if hints else ""
        raise ProgrammingError(
            f"unknown procedure {name!r}{hint} (SELECT * FROM sys_procedures lists them)"
        )
    return proc


def signature(proc: Procedure) -> str:
    parts = [f":{p.name}" + ("" if p.required else "?") for p in proc.parameters]
    return f"{proc.name}({', '.join(parts)})"


def check_required(proc: Procedure, values: dict[str, Any]) -> None:
    missing = [p.name for p in proc.parameters if p.required and values.get(p.name) is None]
    if missing:
        raise ProgrammingError(
            f"{proc.name}: missing required argument(s) {', '.join(':' + m for m in missing)}; "
            f"signature: {signature(proc)} (? marks optional)"
        )


def check_rules(proc: Procedure, values: dict[str, Any]) -> None:
    """The catalog's rules across parameters (`one_of`), before anything is sent: a message
    needs `to` or `list_id`."""
    if not proc.one_of:
        return
    given = {n for n, v in values.items() if v is not None}
    if any(set(group) <= given for group in proc.one_of):
        return
    choices = " or ".join("(" + ", ".join(":" + n for n in g) + ")" for g in proc.one_of)
    raise ProgrammingError(
        f"{proc.name} needs {choices}: give one of them, e.g. "
        f"{proc.one_of[0][0]} => ... (signature: {signature(proc)}); nothing was sent"
    )


def json_argument(proc: Procedure, name: str, value: Any) -> Any:
    """A `json` parameter's value as the JSON ClickSend expects: a SQL list/struct or a Python
    list/dict as it is, JSON text parsed; nested values made JSON-native (never a repr)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise DataError(
                f"{proc.name}: :{name} takes JSON (a list or an object), got the text "
                f"{value[:60]!r}; write a SQL list/struct such as [{{'email': 'a@b.com'}}], "
                'JSON text such as \'[{"email": "a@b.com"}]\', or bind a Python list/dict'
            ) from None
    return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date):
        return json_value(value, "timestamp")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def build_request(proc: Procedure, values: dict[str, Any], row: int = 1) -> WriteRequest:
    """The request for one call with computed argument values."""
    check_required(proc, values)
    check_rules(proc, values)
    path_values, query, item, root = {}, {}, {}, {}
    for p in proc.parameters:
        v = values.get(p.name, p.default)
        if v is None:
            continue
        v = p.check(v, proc.name)  # typed: no '1 OR 1=1', no 1.18e+21
        jv = json_argument(proc, p.name, v) if p.type == "json" else json_value(v, p.type)
        if p.location == "path":
            path_values[p.name] = jv
        elif p.location == "query":
            query[p.name] = str(jv)
        elif p.location == "root":
            root[p.name] = jv
        else:
            item[p.name] = jv
    endpoint = proc.endpoint
    if proc.body == "messages":
        body: Any = {**root, "messages": [item]}
    elif proc.body == "recipients":
        body = {**root, "recipients": [item]}
    elif proc.body == "none":
        body = None
    else:
        body = {**root, **item}
    secrets = tuple(
        str(values[p.name]) for p in proc.parameters if p.secret and values.get(p.name) is not None
    )
    return WriteRequest(
        proc.method, endpoint.render(path_values), body, row, path_values, query, secrets=secrets
    )


def batch(requests: list[WriteRequest]) -> list[WriteRequest]:
    """Sends to one endpoint with the same root fields: up to 1000 messages per request."""
    out: list[WriteRequest] = []
    for r in requests:
        last = out[-1] if out else None
        list_key = _list_key(r.body)
        if (
            last is not None and list_key and last.path == r.path and last.query == r.query
            and _list_key(last.body) == list_key
            and {k: v for k, v in last.body.items() if k != list_key}
            == {k: v for k, v in r.body.items() if k != list_key}
            and len(last.body[list_key]) < MAX_MESSAGES
        ):  # fmt: skip
            merged = {**last.body, list_key: [*last.body[list_key], *r.body[list_key]]}
            out[-1] = WriteRequest(last.method, last.path, merged, last.row, last.keys, last.query,
                                   secrets=tuple(dict.fromkeys(last.secrets + r.secrets)))  # fmt: skip
        else:
            out.append(r)
    return out


def _list_key(body: Any) -> str | None:
    if isinstance(body, dict):
        for k in ("messages", "recipients"):
            if isinstance(body.get(k), list):
                return k
    return None
