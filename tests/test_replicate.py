"""replicate: full load, incremental runs after changes made outside csql, faults and
interruptions, the Parquet lake and Delta tables, the REPLICATE statement and the CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import duckdb
import pytest

from csql.errors import NotSupportedError, ProgrammingError
from csql.sandbox import Sandbox
from csql.sync.replicate import ReplicationError, SessionReader, parse_duration, replicate
from csql.sync.strategy import Cursor, default_tables, resolve_tables, strategy_for
from tests.sync_helpers import api, assert_replica_equal, change_contacts, connect, direct

CORE = ["contacts", "lists", "sms_history", "sms_templates"]


@pytest.fixture
def sb():
    with Sandbox(seed=3, scale=1) as s:
        yield s


# -- strategy and arguments (no network) -------------------------------------------------------


def test_strategies_come_from_the_catalog(catalog):
    contacts = strategy_for(catalog.table("contacts"))
    assert contacts.cursor is Cursor.UPDATED_AFTER and contacts.column.name == "date_updated"
    assert contacts.parent == "lists" and contacts.parent_count == "_contacts_count"
    history = strategy_for(catalog.table("sms_history"))
    assert history.cursor is Cursor.DATE_FROM and history.column.name == "date"
    assert strategy_for(catalog.table("lists")).cursor is Cursor.NONE
    assert not strategy_for(catalog.table("sms_statistics")).incremental  # no key: replaced


def test_default_tables_need_no_key(catalog):
    names = {t.name for t in default_tables(catalog)}
    assert {"contacts", "lists", "sms_history"} <= names
    assert "available_numbers" not in names and "account_usage" not in names


def test_table_arguments_are_checked(catalog):
    assert [t.name for t in resolve_tables(catalog, ["Contacts", "ContactLists"])] == [
        "contacts",
        "lists",
    ]
    with pytest.raises(ProgrammingError, match=r"unknown table 'contcts'.*contacts"):
        resolve_tables(catalog, ["contcts"])
    with pytest.raises(ProgrammingError, match="needs country"):
        resolve_tables(catalog, ["available_numbers"])


def test_durations():
    assert parse_duration("3d") == dt.timedelta(days=3)
    assert parse_duration("12h") == dt.timedelta(hours=12)
    assert parse_duration(90) == dt.timedelta(seconds=90)
    assert parse_duration(None) == dt.timedelta(days=3)
    with pytest.raises(ProgrammingError, match="not a duration"):
        parse_duration("soon")


# -- DuckDB replica ----------------------------------------------------------------------------


@pytest.mark.slow
def test_full_replicate_of_every_default_table_equals_a_direct_read(sb, tmp_path, catalog):
    conn = connect(sb)
    target = str(tmp_path / "replica.duckdb")
    reports = conn.replicate(target)
    assert set(reports) == {t.name for t in default_tables(catalog)}
    # a table ClickSend lists only with a filter the catalog cannot supply is skipped, not failed
    skipped = {r.table for r in reports.values() if r.status == "skipped"}
    assert all(
        r.status == "ok" and r.mode == "full" for r in reports.values() if r.table not in skipped
    )
    assert len(skipped) <= 2, skipped
    tables = [t for t in default_tables(catalog) if t.name not in skipped]
    with duckdb.connect(target) as d:
        assert_replica_equal(conn, d, tables)
        cols = [r[0] for r in d.execute("DESCRIBE contacts").fetchall()]
        assert cols == [c.name for c in catalog.table("contacts").columns] + ["_csql_synced_at"]
        types = dict(d.execute("SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_name = 'sms_history'").fetchall())  # fmt: skip
        assert types["date"] == "TIMESTAMP WITH TIME ZONE" and types["message_price"].startswith(
            "DECIMAL"
        )
        runs = d.execute("SELECT count(*), count(DISTINCT run_id) FROM _csql_runs").fetchall()[0]
        assert runs == (len(reports), 1)


def test_incremental_run_after_api_changes_is_equal_with_far_fewer_requests(sb, tmp_path, catalog):
    conn = connect(sb)
    target = str(tmp_path / "replica.duckdb")
    first = conn.replicate(target, CORE)
    changed = change_contacts(sb, conn)
    with api(sb) as http:  # a new message, and a template renamed
        http.post(
            "/sms/send", json={"messages": [{"to": "+61411000111", "body": "hi", "source": "t"}]}
        ).raise_for_status()
        template = conn.execute("SELECT min(template_id) FROM sms_templates").fetchall()[0][0]
        http.put(
            f"/sms/templates/{template}", json={"template_name": "renamed", "body": "b"}
        ).raise_for_status()
    second = conn.replicate(target, CORE)
    c = second["contacts"]
    assert c.mode == "incremental"
    assert (c.inserted, c.updated, c.deleted) == (1, 1, 1)
    assert changed["list_id"] in c.reconciled  # its count disagreed: only it was re-read
    assert second["sms_history"].mode == "incremental" and second["sms_history"].inserted == 1
    assert second["sms_templates"].updated == 1
    full_requests = sum(r.requests for r in first.values())
    incremental = sum(r.requests for r in second.values())
    assert incremental * 2 < full_requests, (full_requests, incremental)
    with duckdb.connect(target) as d:
        assert_replica_equal(conn, d, [catalog.table(t) for t in CORE])
        per_list = d.execute("SELECT count(*) FROM _csql_state WHERE table_name = 'contacts' "
                             "AND scope LIKE 'list_id=%'").fetchall()[0][0]  # fmt: skip
        assert per_list == conn.execute("SELECT count(*) FROM lists").fetchall()[0][0]
    third = conn.replicate(target, CORE)
    assert all(r.inserted == r.updated == r.deleted == 0 for r in third.values())


def test_a_deleted_list_takes_its_contacts_out_of_the_replica(sb, tmp_path, catalog):
    conn = connect(sb)
    target = str(tmp_path / "replica.duckdb")
    conn.replicate(target, ["contacts", "lists"])
    lid = conn.execute("SELECT max(list_id) FROM lists").fetchall()[0][0]
    with api(sb) as http:
        http.delete(f"/lists/{lid}").raise_for_status()
    reports = conn.replicate(target, ["contacts", "lists"])
    assert reports["contacts"].deleted > 0 and reports["lists"].deleted == 1
    with duckdb.connect(target) as d:
        assert_replica_equal(conn, d, [catalog.table("contacts"), catalog.table("lists")])


def test_full_flag_rereads_and_another_account_is_refused(sb, tmp_path):
    conn = connect(sb)
    target = str(tmp_path / "replica.duckdb")
    conn.replicate(target, ["contacts"])
    assert conn.replicate(target, ["contacts"], full=True)["contacts"].mode == "full"
    with (
        Sandbox(username="someone_else", scale=0.1) as other,
        pytest.raises(ProgrammingError, match="replica of account 'sandbox'"),
    ):
        connect(other).replicate(target, ["lists"])


def test_faults_converge_without_duplicates(tmp_path, catalog):
    tables = ["contacts", "lists", "sms_templates"]
    with Sandbox(seed=5, scale=0.5, fail_rate=0.15) as sb:
        conn = connect(sb, max_retries=0)  # every fault fails its table's listing
        target = str(tmp_path / "replica.duckdb")
        failures = 0
        for _ in range(30):
            try:
                conn.replicate(target, tables)
                break
            except ReplicationError as e:
                failures += 1
                assert any(r.status == "failed" for r in e.reports.values())
        else:
            pytest.fail("replicate never completed under faults")
        assert failures > 0  # the faults did hit a run
        # the same server without faults: read everything directly and compare
        sb._server.options = sb._server.options._replace(fail_rate=0.0)
        clean = connect(sb)
        with duckdb.connect(target) as d:
            assert_replica_equal(clean, d, [catalog.table(t) for t in tables])
            dupes = d.execute(
                "SELECT count(*) - count(DISTINCT contact_id) FROM contacts"
            ).fetchall()[0][0]
            assert dupes == 0
            failed = d.execute(
                "SELECT count(*) FROM _csql_runs WHERE status = 'failed'"
            ).fetchall()[0][0]
            assert failed >= failures


def test_an_interrupted_run_keeps_what_was_committed_and_converges(sb, tmp_path, catalog):
    conn = connect(sb)
    target = str(tmp_path / "replica.duckdb")
    reader = SessionReader(conn._live())
    calls = {"n": 0}
    real = reader.read

    def dying_read(sql):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the run
        return real(sql)

    reader.read = dying_read
    with pytest.raises(KeyboardInterrupt):
        replicate(reader, catalog, target, CORE)
    with duckdb.connect(target) as d:  # the tables before the interruption are there
        done = {r[0] for r in d.execute("SELECT table_name FROM _csql_state").fetchall()}
        assert "contacts" in done and "sms_history" not in done
    change_contacts(sb, conn)
    conn.replicate(target, CORE)
    with duckdb.connect(target) as d:
        assert_replica_equal(conn, d, [catalog.table(t) for t in CORE])


# -- lakes -------------------------------------------------------------------------------------


def _lake(root, table: str) -> str:
    return f"read_parquet('{root}/{table}/**/*.parquet', hive_partitioning = true)"


def test_parquet_lake_reads_back_equal_with_hive_partitioning(sb, tmp_path, catalog):
    conn = connect(sb)
    root = tmp_path / "lake"
    conn.replicate(str(root), CORE, format="parquet")
    months = list((root / "sms_history" / "account=sandbox").glob("month=*/*.parquet"))
    assert len(months) > 1
    assert list((root / "lists" / "account=sandbox").glob("*.parquet"))
    change_contacts(sb, conn)
    second = conn.replicate(str(root), CORE)  # the format is found from the directory
    assert second["contacts"].mode == "incremental" and second["contacts"].deleted == 1
    d = duckdb.connect()
    assert_replica_equal(conn, d, [catalog.table(t) for t in CORE], lambda t: _lake(root, t.name))
    parts = d.execute(f"SELECT DISTINCT account FROM {_lake(root, 'contacts')}").fetchall()
    assert parts == [("sandbox",)]


def test_delta_tables_read_back_equal_with_deltalake(sb, tmp_path, catalog):
    deltalake = pytest.importorskip(
        "deltalake", reason="the delta format needs pip install 'csql[delta]'"
    )
    conn = connect(sb)
    root = tmp_path / "delta"
    conn.replicate(str(root), ["contacts", "lists"], format="delta")
    change_contacts(sb, conn)
    second = conn.replicate(str(root), ["contacts", "lists"], format="delta")
    assert (
        second["contacts"].inserted,
        second["contacts"].updated,
        second["contacts"].deleted,
    ) == (1, 1, 1)
    d = duckdb.connect()
    for name in ("contacts", "lists"):
        data = deltalake.DeltaTable(str(root / name)).to_pyarrow_table()
        assert set(data.column_names) >= {"account", "_csql_synced_at"}
        d.register(f"delta_{name}", data)
    assert_replica_equal(conn, d, [catalog.table("contacts"), catalog.table("lists")],
                         lambda t: f"delta_{t.name}")  # fmt: skip


# -- SQL and CLI -------------------------------------------------------------------------------


def test_replicate_statement_through_the_dbapi(sb, tmp_path, catalog):
    conn = connect(sb, file_access=True)
    target = tmp_path / "replica.duckdb"
    cur = conn.execute(f"REPLICATE contacts, lists TO '{target}'")
    rows = {r[0]: r for r in cur.fetchall()}
    assert set(rows) == {"contacts", "lists"}
    assert [d[0] for d in cur.description][:6] == [
        "table_name",
        "mode",
        "inserted",
        "updated",
        "deleted",
        "requests",
    ]
    again = conn.execute(
        f"REPLICATE contacts TO '{target}' (LOOKBACK '1d', FORMAT duckdb)"
    ).fetchall()
    assert again[0][1] == "incremental"
    with duckdb.connect(str(target)) as d:
        assert_replica_equal(conn, d, [catalog.table("contacts"), catalog.table("lists")])


def test_replicate_statement_needs_file_access_and_correct_syntax(sb, tmp_path):
    conn = connect(sb)
    with pytest.raises(NotSupportedError, match="file_access=True"):
        conn.execute(f"REPLICATE lists TO '{tmp_path / 'r.duckdb'}'")
    open_conn = connect(sb, file_access=True)
    with pytest.raises(ProgrammingError, match="TO 'target'"):
        open_conn.execute("REPLICATE lists")
    with pytest.raises(ProgrammingError, match="unknown option"):
        open_conn.execute(f"REPLICATE lists TO '{tmp_path / 'r.duckdb'}' (FASTER)")
    assert not (tmp_path / "r.duckdb").exists()


def test_cli_replicate(sb, tmp_path):
    target = tmp_path / "cli.duckdb"
    args = [sys.executable, "-m", "csql.cli", "replicate", str(target), "lists", "sms_templates",
            "--username", sb.username, "--api-key", sb.api_key, "--base-url", sb.base_url]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "lists: full" in done.stderr and "requests" in done.stderr
    assert sb.api_key not in done.stderr + done.stdout
    bad = subprocess.run([*args[:5], "nope", *args[7:]], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "unknown table 'nope'" in bad.stderr
    with duckdb.connect(str(target)) as d:
        assert d.execute("SELECT count(*) FROM lists").fetchall()[0][0] == len(
            direct(connect(sb), "lists")
        )


def test_a_replica_gains_the_columns_the_catalog_gained(sb, tmp_path, catalog):
    conn = connect(sb)
    target = str(tmp_path / "replica.duckdb")
    conn.replicate(target, ["sms_templates"])
    with duckdb.connect(target) as d:  # as if made by an older csql without this column
        d.execute('ALTER TABLE sms_templates DROP COLUMN "body"')
    conn.replicate(target, ["sms_templates"], full=True)
    with duckdb.connect(target) as d:
        assert_replica_equal(conn, d, [catalog.table("sms_templates")])
