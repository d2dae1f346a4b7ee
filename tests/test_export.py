"""export: COPY (SELECT ...) TO a Parquet, CSV or JSON file where file access is on, and
`csql -c ... --format parquet --output FILE`."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pyarrow.parquet as pq
import pytest

from csql.errors import NotSupportedError
from csql.sandbox import Sandbox
from tests.sync_helpers import connect

QUERY = "SELECT list_id, count(*) AS n FROM contacts GROUP BY list_id ORDER BY list_id"


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=7, scale=0.3) as s:
        yield s


def test_copy_to_parquet_csv_and_json(sb, tmp_path):
    conn = connect(sb, file_access=True)
    expected = conn.execute(QUERY).fetchall()
    for fmt in ("parquet", "csv", "json"):
        path = tmp_path / f"out.{fmt}"
        conn.execute(f"COPY ({QUERY}) TO '{path}' (FORMAT {fmt})")
        reader = {"parquet": "read_parquet", "csv": "read_csv", "json": "read_json"}[fmt]
        got = duckdb.sql(f"SELECT list_id, n FROM {reader}('{path}') ORDER BY list_id").fetchall()
        assert got == expected, fmt
    table = tmp_path / "contacts.parquet"
    conn.execute(f"COPY contacts TO '{table}' (FORMAT parquet)")
    assert pq.read_table(table).num_rows == sum(n for _, n in expected)


def test_copy_needs_file_access(sb, tmp_path):
    conn = connect(sb)
    with pytest.raises(NotSupportedError, match="file_access=True"):
        conn.execute(f"COPY ({QUERY}) TO '{tmp_path / 'x.parquet'}' (FORMAT parquet)")
    assert not (tmp_path / "x.parquet").exists()


def test_cli_format_parquet_output(sb, tmp_path):
    out = tmp_path / "cli.parquet"
    base = [sys.executable, "-m", "csql.cli", "--username", sb.username, "--api-key", sb.api_key,
            "--base-url", sb.base_url]  # fmt: skip
    done = subprocess.run([*base, "-c", QUERY, "--format", "parquet", "--output", str(out)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = connect(sb).execute(QUERY).fetchall()
    assert [tuple(r.values()) for r in pq.read_table(out).to_pylist()] == expected
    missing = subprocess.run([*base, "-c", QUERY, "--format", "parquet"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert missing.returncode == 1 and "--output" in missing.stderr
