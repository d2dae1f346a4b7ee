"""ClickSend's OpenAPI spec, patched where it is itself wrong (see tests/sandbox/test_openapi.py
for the list and the reasons), shared by the sandbox's and the client's spec tests."""

from __future__ import annotations

import copy


def fix_spec(spec: dict) -> dict:
    spec = copy.deepcopy(spec)
    spec["info"].setdefault("version", "1.0.0")  # fix 1
    schemas = spec["components"]["schemas"]

    def walk(node):
        if isinstance(node, dict):
            if "allOf" in node:  # fix 3
                parts = node["allOf"]
                arrays = [p for p in parts if isinstance(p, dict) and p.get("type") == "array"]
                if arrays and len(arrays) < len(parts):
                    rest = [p for p in parts if p not in arrays]
                    node["allOf"] = [*rest, {"type": "object", "properties": {"data": arrays[0]}}]
            props = node.get("properties")
            if isinstance(props, dict):  # fix 2
                for prop in props.values():
                    if isinstance(prop, dict) and "$ref" not in prop:
                        prop["nullable"] = True
                    elif isinstance(prop, dict):  # a nullable $ref must be inlined in 3.0
                        target = copy.deepcopy(schemas[prop.pop("$ref").rsplit("/", 1)[-1]])
                        prop.update(target, nullable=True)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schemas)
    walk(spec["paths"])
    for path in [p for p in spec["paths"] if p.endswith("/") and p != "/"]:  # fix 4
        spec["paths"][path.rstrip("/")] = spec["paths"].pop(path)
    return spec
