"""Shared fixtures: the catalog, the reference material in ../shared (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csql.catalog import default_catalog

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def catalog():
    return default_catalog()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "clicksend" / "endpoints.json").exists():
        pytest.skip(f"the API reference material is not at {SHARED} (CI puts it there)")
    return SHARED


@pytest.fixture(scope="session")
def reference_endpoints(shared_dir: Path) -> list[dict]:
    return json.loads((shared_dir / "clicksend" / "endpoints.json").read_text())
