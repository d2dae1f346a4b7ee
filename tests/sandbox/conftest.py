"""Fixtures for the sandbox tests: one shared read-only sandbox, fresh ones for writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from csql.sandbox import Sandbox

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "clicksend" / "openapi.yaml"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Shared by every test that only reads: never write through it."""
    with Sandbox(seed=7) as sb:
        yield sb


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    """A small sandbox of its own, for tests that write."""
    with Sandbox(seed=11, scale=0.2) as sb:
        yield sb


def _client(sb: Sandbox, **kwargs) -> httpx.Client:
    return httpx.Client(base_url=sb.base_url, auth=(sb.username, sb.api_key), **kwargs)


@pytest.fixture(scope="session")
def client_for():
    """client_for(sandbox) -> an httpx.Client with the sandbox's base URL and credentials."""
    return _client


@pytest.fixture(scope="session")
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with _client(sandbox) as c:
        yield c


@pytest.fixture
def fresh_http(fresh: Sandbox) -> Iterator[httpx.Client]:
    with _client(fresh) as c:
        yield c


@pytest.fixture(scope="session")
def spec_path() -> Path:
    if not SPEC.exists():
        pytest.skip(f"ClickSend's OpenAPI spec is not at {SPEC} (CI puts ../shared there)")
    return SPEC
