"""What goes on the wire: ClickSend's envelopes and the JSON type of every field.

ClickSend's reference and its official spec disagree on field types (timestamps as "1436932432"
or 1436932432, ids as text or numbers); the official SDK's models follow the spec strictly. So
every response is conformed to the shape the spec declares for its endpoint (shapes.py, generated
from the spec), and values the spec does not describe keep the catalog's natural type.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from csql.sandbox.shapes import SHAPES

_PLACEHOLDER = re.compile(r"{[^}]*}")

#: the response_code that goes with each HTTP status (reference, "Status Codes")
STATUS_CODES = {
    200: "SUCCESS",
    201: "CREATED",
    204: "NO_CONTENT",
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR",
}

CURRENCY = {
    "currency_name_short": "USD",
    "currency_prefix_d": "$",
    "currency_prefix_c": "¢",
    "currency_name_long": "US Dollars",
}


def envelope(data: Any, msg: str = "Here are your data.", code: int = 200, rc: str | None = None):
    """ClickSend's standard response object."""
    return {
        "http_code": code,
        "response_code": rc or STATUS_CODES.get(code, "SUCCESS"),
        "response_msg": msg,
        "data": data,
    }


def norm_path(path: str) -> str:
    """A path template with placeholder names erased and no trailing slash: the SHAPES key."""
    return _PLACEHOLDER.sub("{}", path.rstrip("/") or "/")


def shape(method: str, path: str) -> Any:
    """The declared shape of the whole response body of an endpoint (None if unknown)."""
    return SHAPES.get(f"{method} {norm_path(path)}")


def subshape(tree: Any, dotted: str) -> Any:
    """The shape at a dotted path of a response body; for an array, its item's shape."""
    for part in [p for p in dotted.split(".") if p]:
        while isinstance(tree, list):
            tree = tree[0] if tree else None
        if not isinstance(tree, dict):
            return None
        tree = tree.get(part)
    while isinstance(tree, list):
        tree = tree[0] if tree else None
    return tree


def iso(ts: int) -> str:
    return _dt.datetime.fromtimestamp(int(ts), _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def conform(value: Any, tree: Any) -> Any:
    """`value` converted to the JSON types that `tree` (a SHAPES entry) declares."""
    if tree is None or value is None:
        return value
    if isinstance(tree, dict):
        if isinstance(value, dict):
            return {k: conform(v, tree.get(k)) for k, v in value.items()}
        if value == []:  # PHP's empty array is {} where the spec wants an object
            return {}
        return value
    if isinstance(tree, list):
        if isinstance(value, list):
            item = tree[0] if tree else None
            return [conform(v, item) for v in value] if item is not None else value
        return value
    return _scalar(value, tree)


def _scalar(value: Any, code: str) -> Any:
    if isinstance(value, dict | list):
        return True if code == "b" else value
    try:
        if code == "i":
            if isinstance(value, bool):
                return int(value)
            if isinstance(value, int):
                return value
            if isinstance(value, float):
                return int(value)
            return int(float(value)) if str(value).strip() else None
        if code == "s":
            if isinstance(value, str):
                return value
            if isinstance(value, bool):
                return "1" if value else "0"
            return str(value)
        if code == "n":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
            return float(value)
        if code == "b":
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes")
            return bool(value)
        if code == "t":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return iso(int(value))
            if isinstance(value, str) and value.isdigit():
                return iso(int(value))
            return value
    except (TypeError, ValueError):
        return value
    return value


def row_conformer(tree: Any):
    """A fast converter for many rows of one item shape (the hot path of loading data)."""
    if not isinstance(tree, dict):
        return lambda row: row
    items = tuple(tree.items())

    def convert(row: dict) -> dict:
        for k, t in items:
            v = row.get(k)
            if v is not None and t is not None:
                row[k] = conform(v, t)
        return row

    return convert
