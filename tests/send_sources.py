"""What ClickSend's sources document for the parameters of a send, price or campaign endpoint.

Three sources, read independently of the catalog:
- the API reference (`endpoints.json`): the parameter table ("properties") and the keys of the
  curl sample's body (top level and inside `messages`/`recipients`);
- the official OpenAPI 3 spec (`openapi.yaml`), where it describes the request body;
- the older official Swagger 2 spec (`swagger.yaml`), only for endpoints the OpenAPI spec does
  not describe (fax, letters, postcards: the OpenAPI spec has none of them).

`required` is the loosest of the sources that describe the endpoint: a parameter is required
only if every one of them requires it (ClickSend accepts what its loosest description allows).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from tests.openapi_spec import fix_spec

LIST_KEYS = ("messages", "recipients")


@dataclass(frozen=True)
class Documented:
    """One parameter as the sources describe it."""

    name: str
    in_reference: bool
    reference_required: bool
    in_spec: bool
    spec_required: bool | None  # None: no spec describes the endpoint's body
    loosest_required: bool


@cache
def _load(shared: Path) -> tuple[list[dict], dict, dict]:
    ref = json.loads((shared / "clicksend" / "endpoints.json").read_text())
    spec = fix_spec(yaml.safe_load((shared / "clicksend" / "openapi.yaml").read_text()))
    swagger = yaml.safe_load((shared / "clicksend" / "swagger.yaml").read_text())
    return ref, spec, swagger


def _flatten(schema: dict, defs: dict) -> tuple[dict[str, dict], set[str]]:
    """Properties and required names of a schema, through $ref and allOf."""
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    props: dict[str, dict] = {}
    required = set(schema.get("required") or [])
    for part in schema.get("allOf") or []:
        p, r = _flatten(part, defs)
        props.update(p)
        required |= r
    props.update(schema.get("properties") or {})
    return props, required


def _items(schema: dict, defs: dict) -> dict[str, bool] | None:
    """name -> required for a body schema; items of messages/recipients count as parameters."""
    props, required = _flatten(schema, defs)
    if not props:
        return None
    out: dict[str, bool] = {}
    for name, prop in props.items():
        while "$ref" in prop:
            prop = defs[prop["$ref"].rsplit("/", 1)[-1]]
        if name in LIST_KEYS and prop.get("type") == "array":
            inner, inner_req = _flatten(prop["items"], defs)
            out.update({n: n in inner_req for n in inner})
        else:
            out[name] = name in required
    return out


def spec_body(shared: Path, method: str, path: str) -> dict[str, bool] | None:
    """The official spec's request body (OpenAPI 3, else Swagger 2) as name -> required."""
    _, spec, swagger = _load(shared)
    op = spec["paths"].get("/v3" + path, {}).get(method.lower())
    if op is not None:
        content = (op.get("requestBody") or {}).get("content") or {}
        schema = (content.get("application/json") or {}).get("schema")
        found = _items(schema, spec["components"]["schemas"]) if schema else None
        if found is not None:
            return found
    op = swagger["paths"].get(path, {}).get(method.lower())
    if op is None:
        return None
    for param in op.get("parameters") or []:
        if param.get("in") == "body" and param.get("schema"):
            return _items(param["schema"], swagger["definitions"])
    return None


def reference_section(shared: Path, method: str, path: str) -> dict | None:
    ref, _, _ = _load(shared)
    return next((e for e in ref if e["method"] == method and e["path"] == path), None)


def documented(shared: Path, method: str, path: str) -> dict[str, Documented]:
    """Every parameter any source documents for the endpoint, with the loosest `required`."""
    section = reference_section(shared, method, path) or {}
    table = {
        p["name"]: bool(p["required"])
        for p in section.get("params") or []
        if p.get("table") == "properties"
    }
    sample: set[str] = set()
    example = section.get("body_example")
    if isinstance(example, dict):
        for key, value in example.items():
            if key in LIST_KEYS and isinstance(value, list):
                for item in value:
                    sample |= set(item) if isinstance(item, dict) else set()
            else:
                sample.add(key)
    spec = spec_body(shared, method, path)
    out = {}
    for name in sorted(set(table) | sample | set(spec or {})):
        ref_req = table.get(name, False)
        spec_req = None if spec is None else spec.get(name, False)
        loosest = ref_req and (spec_req is None or spec_req)
        out[name] = Documented(
            name=name,
            in_reference=name in table or name in sample,
            reference_required=ref_req,
            in_spec=spec is not None and name in spec,
            spec_required=spec_req,
            loosest_required=loosest,
        )
    return out
