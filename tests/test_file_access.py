"""Local files are off by default for csql.connect() and SQLAlchemy (DuckDB's
enable_external_access), on with file_access=True / ?file_access=true and in the CLI; plus
the statement bounds: statement_timeout and interrupt() stop DuckDB work."""

from __future__ import annotations

import threading
import time

import pytest

import csql
from csql.sandbox import Sandbox

NOWHERE = "http://127.0.0.1:9/v3"
#: minutes of DuckDB work if nothing stops it
LONG = "SELECT count(*) FROM range(100000000) a, range(1000000) b WHERE a.range + b.range = 7"


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=5, scale=1) as sandbox:
        yield sandbox


@pytest.fixture()
def csv_file(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("name\nfrom csv 1\nfrom csv 2\n")
    return path


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('{path}')",
        "SELECT * FROM read_text('{path}')",
        "SELECT * FROM glob('{dir}/*')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY (SELECT 1 AS x) TO '{dir}/out.csv'",
        "COPY contacts TO '{dir}/out.csv'",
    ],
)
def test_files_are_off_by_default(sql, csv_file):
    conn = csql.connect("u", "k", NOWHERE)
    with pytest.raises(csql.NotSupportedError, match="file access is off") as e:
        conn.execute(sql.format(path=csv_file, dir=csv_file.parent))
    assert "file_access=True" in str(e.value)
    assert not (csv_file.parent / "out.csv").exists()


def test_metadata_and_plain_duckdb_work_with_files_off():
    conn = csql.connect("u", "k", NOWHERE)
    assert conn.execute("SELECT count(*) > 0 FROM sys_tables").fetchone() == (True,)
    assert conn.execute("""SELECT '{"a": 1}'::JSON->>'a'""").fetchone() == ("1",)


def test_file_access_cannot_be_switched_on_from_sql():
    conn = csql.connect("u", "k", NOWHERE)
    for sql in ("SET enable_external_access = true", "ATTACH '/tmp/x.db'", "INSTALL httpfs"):
        with pytest.raises(csql.Error):
            conn.execute(sql)
    with pytest.raises(csql.NotSupportedError, match="file access is off"):
        conn.execute("SELECT * FROM read_csv('/etc/passwd')")


def test_file_access_option_turns_it_on(csv_file):
    conn = csql.connect("u", "k", NOWHERE, file_access=True)
    rows = conn.execute(f"SELECT name FROM read_csv('{csv_file}') ORDER BY 1").fetchall()
    assert rows == [("from csv 1",), ("from csv 2",)]


def test_insert_select_from_read_csv_with_file_access(sb, csv_file):
    conn = csql.connect(sb.username, sb.api_key, sb.base_url, file_access=True)
    cur = conn.execute(
        f"INSERT INTO sms_templates (template_name, body) "
        f"SELECT name, 'from a file' FROM read_csv('{csv_file}')"
    )
    assert cur.rowcount == 2
    got = conn.execute(
        "SELECT template_name FROM sms_templates WHERE body = 'from a file' ORDER BY 1"
    ).fetchall()
    assert got == [("from csv 1",), ("from csv 2",)]
    # and without file access the same INSERT sends nothing
    off = csql.connect(sb.username, sb.api_key, sb.base_url)
    sb.reset_log()
    with pytest.raises(csql.NotSupportedError, match="file access is off"):
        off.execute(
            f"INSERT INTO sms_templates (template_name, body) "
            f"SELECT name, 'x' FROM read_csv('{csv_file}')"
        )
    assert not [r for r in sb.request_log if r[0] == "POST"]


def test_copy_to_a_file_with_file_access(sb, tmp_path):
    conn = csql.connect(sb.username, sb.api_key, sb.base_url, file_access=True)
    out = tmp_path / "templates.csv"
    cur = conn.execute(f"COPY (SELECT template_id, body FROM sms_templates) TO '{out}' (HEADER)")
    n = conn.execute("SELECT count(*) FROM sms_templates").fetchone()[0]
    assert cur.rowcount == n
    assert out.read_text().splitlines()[0] == "template_id,body"
    assert len(out.read_text().splitlines()) == n + 1
    with pytest.raises(csql.NotSupportedError, match="INSERT INTO"):
        conn.execute(f"COPY sms_templates FROM '{out}'")


def test_sqlalchemy_url_option():
    pytest.importorskip("sqlalchemy")
    from sqlalchemy import create_engine, text

    off = create_engine("clicksend://u:k@/?base_url=http://127.0.0.1:9/v3")
    with off.connect() as c, pytest.raises(Exception, match="file access is off"):
        c.execute(text("SELECT * FROM read_csv('/etc/passwd')"))
    on = create_engine("clicksend://u:k@/?base_url=http://127.0.0.1:9/v3&file_access=true")
    with on.connect() as c:
        assert c.execute(text("SELECT count(*) > 0 FROM read_csv('/etc/passwd')")).scalar()


def test_cli_has_file_access(tmp_path, csv_file, capsys):
    cli = pytest.importorskip("csql.cli")
    code = cli.main(["--base-url", NOWHERE, "-c", f"SELECT count(*) AS n FROM read_csv('{csv_file}')",
                     "--format", "csv"])  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2"


def test_bad_option_values():
    with pytest.raises(csql.ProgrammingError, match="file_access takes True or False"):
        csql.connect("u", "k", NOWHERE, file_access="yes")
    with pytest.raises(csql.ProgrammingError, match="statement_timeout"):
        csql.connect("u", "k", NOWHERE, statement_timeout="soon")


# -- bounds: timeout and interrupt ----------------------------------------------------------------


def test_statement_timeout_stops_duckdb():
    conn = csql.connect("u", "k", NOWHERE, statement_timeout=0.3)
    start = time.monotonic()
    with pytest.raises(csql.OperationalError, match="statement_timeout"):
        conn.execute(LONG)
    assert time.monotonic() - start < 10
    assert conn.execute("SELECT 42").fetchone() == (42,)  # the connection is still usable


def test_statement_timeout_stops_pending_fetches():
    with Sandbox(seed=5, scale=1, latency_ms=3000) as slow:
        conn = csql.connect(slow.username, slow.api_key, slow.base_url, statement_timeout=0.3)
        start = time.monotonic()
        with pytest.raises(csql.OperationalError, match="statement_timeout"):
            conn.execute("SELECT * FROM contacts")
        assert time.monotonic() - start < 2.5


def test_interrupt_stops_duckdb_work():
    conn = csql.connect("u", "k", NOWHERE)
    threading.Timer(0.3, conn.interrupt).start()
    start = time.monotonic()
    with pytest.raises(csql.OperationalError, match="interrupted"):
        conn.execute(LONG)
    assert time.monotonic() - start < 10
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_url_options_are_typed():
    from csql.jupyter import connect_kwargs

    kw = connect_kwargs(
        "clicksend://u:k@/?base_url=http://127.0.0.1:9/v3&file_access=true"
        "&statement_timeout=2.5&bulk_import_threshold=100"
    )
    assert kw["file_access"] is True
    assert kw["statement_timeout"] == 2.5
    assert kw["bulk_import_threshold"] == 100
    with pytest.raises(csql.ProgrammingError, match="statement_timeout takes a number"):
        connect_kwargs("clicksend://u:k@/?statement_timeout=soon")
