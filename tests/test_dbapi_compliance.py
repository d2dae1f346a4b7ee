"""PEP 249 (DB-API 2.0) compliance, in the spirit of the classic dbapi20.py test suite.

dbapi20 creates its own tables; csql cannot (ClickSend has a fixed set of objects), so the
same checks run against an empty sandbox: `sms_templates` (INSERT/UPDATE/DELETE allowed,
starts empty) plays the scratch table, the metadata tables and plain DuckDB expressions give
rows to fetch, and `SendSMS` is the stored procedure for callproc.
"""

from __future__ import annotations

import datetime as dt
import decimal
import threading
import time

import pytest

import csql
from csql.sandbox import Sandbox

TABLE = "sms_templates"
INSERT = f"INSERT INTO {TABLE} (template_name, body) VALUES (:name, :body)"
NAMES = ["dbapi20-a", "dbapi20-b", "dbapi20-c", "dbapi20-d", "dbapi20-e", "dbapi20-f"]


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=5, empty=True) as sandbox:
        yield sandbox


@pytest.fixture
def con(sb):
    c = csql.connect(sb.username, sb.api_key, sb.base_url)
    yield c
    if not c.closed:  # leave the scratch table empty for the next test
        c.execute(f"DELETE FROM {TABLE} WHERE template_id IS NOT NULL")
        c.close()


def _populate(cur) -> None:
    cur.executemany(INSERT, [{"name": n, "body": f"body of {n}"} for n in NAMES])


def _names(cur) -> list[str]:
    cur.execute(f"SELECT template_name FROM {TABLE} ORDER BY template_name")
    return [r[0] for r in cur.fetchall()]


# --- module interface ------------------------------------------------------------------------


def test_module_globals():
    assert csql.apilevel == "2.0"
    assert csql.threadsafety in (0, 1, 2, 3)
    assert csql.paramstyle == "named"
    assert csql.paramstyle in ("qmark", "numeric", "named", "format", "pyformat")


def test_exception_hierarchy():
    assert issubclass(csql.Warning, Exception)
    assert issubclass(csql.Error, Exception)
    for cls in (csql.InterfaceError, csql.DatabaseError):
        assert issubclass(cls, csql.Error)
    for cls in (
        csql.DataError,
        csql.OperationalError,
        csql.IntegrityError,
        csql.InternalError,
        csql.ProgrammingError,
        csql.NotSupportedError,
    ):
        assert issubclass(cls, csql.DatabaseError)
    assert not issubclass(csql.Warning, csql.Error)


def test_exceptions_as_connection_attributes(con):
    # PEP 249 optional extension: lets code written for several drivers catch con.Error
    for name in (
        "Warning",
        "Error",
        "InterfaceError",
        "DatabaseError",
        "DataError",
        "OperationalError",
        "IntegrityError",
        "InternalError",
        "ProgrammingError",
        "NotSupportedError",
    ):
        assert getattr(con, name) is getattr(csql, name), name
    with pytest.raises(con.ProgrammingError):
        con.cursor().execute("SELECT * FROM no_such_table")


def test_constructors_and_type_objects():
    assert csql.Date(2024, 2, 29) == dt.date(2024, 2, 29)
    assert csql.Time(13, 45, 1) == dt.time(13, 45, 1)
    assert csql.Timestamp(2024, 2, 29, 13, 45, 1) == dt.datetime(2024, 2, 29, 13, 45, 1)
    ticks = time.mktime((2024, 2, 29, 13, 45, 1, 0, 0, -1))
    assert csql.DateFromTicks(ticks) == dt.date(2024, 2, 29)
    assert csql.TimeFromTicks(ticks) == dt.time(13, 45, 1)
    assert csql.TimestampFromTicks(ticks) == dt.datetime(2024, 2, 29, 13, 45, 1)
    assert csql.Binary(b"\x00\xff") == b"\x00\xff"
    assert csql.STRING == "VARCHAR" and csql.NUMBER == "BIGINT" and csql.NUMBER == "DOUBLE"
    assert csql.DATETIME == "TIMESTAMP WITH TIME ZONE" and csql.DATETIME == "DATE"
    assert csql.BINARY == "BLOB"
    assert csql.STRING != "BIGINT" and csql.NUMBER != "VARCHAR" and csql.ROWID != "VARCHAR"
    assert len({csql.STRING, csql.BINARY, csql.NUMBER, csql.DATETIME, csql.ROWID}) == 5


# --- connection ------------------------------------------------------------------------------


def test_commit_is_a_no_op_and_rollback_is_not_supported(con):
    con.commit()
    with pytest.raises(csql.NotSupportedError, match="no transactions"):
        con.rollback()


def test_closed_connection_raises_interface_error(sb):
    con = csql.connect(sb.username, sb.api_key, sb.base_url)
    cur = con.cursor()
    con.close()
    assert con.closed
    with pytest.raises(csql.InterfaceError):
        con.cursor()
    with pytest.raises(csql.InterfaceError):
        con.commit()
    with pytest.raises(csql.InterfaceError):
        con.rollback()
    with pytest.raises(csql.InterfaceError):
        cur.execute("SELECT 1")
    with pytest.raises(csql.InterfaceError):
        cur.fetchall()
    con.close()  # closing twice is harmless


def test_connection_context_manager_closes(sb):
    with csql.connect(sb.username, sb.api_key, sb.base_url) as con:
        assert con.cursor().execute("SELECT 42").fetchone() == (42,)
    assert con.closed
    with pytest.raises(csql.InterfaceError):
        con.cursor()


def test_repr_never_shows_the_api_key(sb):
    with csql.connect(sb.username, sb.api_key, sb.base_url) as con:
        assert sb.api_key not in repr(con) and sb.api_key not in repr(con.cursor())


# --- cursor ----------------------------------------------------------------------------------


def test_cursor_isolation(con):
    # two cursors of one connection keep their own result sets
    cur1, cur2 = con.cursor(), con.cursor()
    _populate(cur1)
    cur1.execute(f"SELECT template_name FROM {TABLE} ORDER BY template_name")
    cur2.execute("SELECT count(*) FROM sys_tables")
    assert cur1.fetchone() == (NAMES[0],)
    assert cur2.fetchone()[0] > 40
    assert len(cur1.fetchall()) == len(NAMES) - 1


def test_description(con):
    cur = con.cursor()
    assert cur.description is None
    cur.execute(f"SELECT template_id, template_name, body FROM {TABLE}")
    assert len(cur.description) == 3
    for d in cur.description:
        assert len(d) == 7
    assert [d[0] for d in cur.description] == ["template_id", "template_name", "body"]
    assert cur.description[0][1] == csql.NUMBER
    assert cur.description[1][1] == csql.STRING
    cur.execute(INSERT, {"name": NAMES[0], "body": "x"})
    assert cur.description is None, "a statement without a result set has no description"


def test_description_type_codes_for_each_family(con):
    cur = con.cursor()
    cur.execute(
        "SELECT 'a' AS s, 1 AS i, 2.5::DOUBLE AS f, 3.25::DECIMAL(10,2) AS d, true AS b, "
        "DATE '2024-01-02' AS dd, TIMESTAMP '2024-01-02 03:04:05' AS ts, "
        "TIMESTAMPTZ '2024-01-02 03:04:05+00' AS tz, TIME '03:04:05' AS t, '\\x00'::BLOB AS bl"
    )
    codes = {d[0]: d[1] for d in cur.description}
    assert codes["s"] == csql.STRING
    for n in ("i", "f", "d", "b"):
        assert codes[n] == csql.NUMBER, n
    for n in ("dd", "ts", "tz", "t"):
        assert codes[n] == csql.DATETIME, n
    assert codes["bl"] == csql.BINARY
    precision, scale = cur.description[3][4:6]
    assert (precision, scale) == (10, 2)
    row = cur.fetchone()
    assert row[3] == decimal.Decimal("3.25") and row[5] == dt.date(2024, 1, 2)
    assert row[7].tzinfo is not None and row[8] == dt.time(3, 4, 5)


def test_description_of_a_clicksend_table(con):
    cur = con.execute("SELECT contact_id, phone_number, date_added FROM contacts WHERE list_id = 1")
    codes = [d[1] for d in cur.description]
    assert codes[0] == csql.NUMBER and codes[1] == csql.STRING and codes[2] == csql.DATETIME
    assert cur.fetchall() == []


def test_rowcount(con):
    cur = con.cursor()
    assert cur.rowcount == -1
    cur.execute(INSERT, {"name": NAMES[0], "body": "x"})
    assert cur.rowcount == 1
    cur.executemany(INSERT, [{"name": n, "body": "x"} for n in NAMES[1:4]])
    assert cur.rowcount == 3
    cur.execute(f"SELECT template_name FROM {TABLE}")
    assert cur.rowcount == 4
    cur.execute(f"UPDATE {TABLE} SET body = 'changed' WHERE template_name IN (:a, :b)",
                {"a": NAMES[0], "b": NAMES[1]})  # fmt: skip
    assert cur.rowcount == 2
    cur.execute(f"UPDATE {TABLE} SET body = 'none' WHERE template_name = 'no such name'")
    assert cur.rowcount == 0
    cur.execute(f"DELETE FROM {TABLE} WHERE template_name = :n", {"n": NAMES[3]})
    assert cur.rowcount == 1
    assert _names(cur) == NAMES[:3]


def test_failed_execute_leaves_no_stale_result(con):
    cur = con.cursor()
    cur.execute("SELECT 1")
    with pytest.raises(csql.ProgrammingError):
        cur.execute("SELECT * FROM no_such_table")
    assert cur.description is None and cur.rowcount == -1
    with pytest.raises(csql.Error):
        cur.fetchone()


def test_closed_cursor_raises_interface_error(con):
    cur = con.cursor()
    cur.execute("SELECT 1")
    cur.close()
    for call in (
        lambda: cur.execute("SELECT 1"),
        lambda: cur.executemany(INSERT, []),
        cur.fetchone,
        cur.fetchmany,
        cur.fetchall,
        cur.fetch_arrow_table,
        lambda: cur.setinputsizes([None]),
        lambda: cur.setoutputsize(10),
    ):
        with pytest.raises(csql.InterfaceError):
            call()
    cur.close()  # closing twice is harmless
    assert not con.closed, "closing a cursor leaves its connection open"


def test_cursor_context_manager(con):
    with con.cursor() as cur:
        cur.execute("SELECT 1")
    with pytest.raises(csql.InterfaceError):
        cur.fetchone()


def test_execute_with_named_parameters(con):
    cur = con.cursor()
    cur.execute(INSERT, {"name": "it's quoted", "body": "semi; colon :not_a_param"})
    cur.execute(f"SELECT template_name, body FROM {TABLE} WHERE template_name = :name",
                {"name": "it's quoted"})  # fmt: skip
    assert cur.fetchall() == [("it's quoted", "semi; colon :not_a_param")]
    cur.execute("SELECT CAST(:n AS INTEGER) + 1 AS x, upper(:s) AS y", {"n": 41, "s": "ok"})
    assert cur.fetchone() == (42, "OK")
    cur.execute("SELECT :n AS n, :s AS s", {"n": 7, "s": "first in the select list"})
    assert cur.fetchone() == (7, "first in the select list")


def test_parameter_errors_are_programming_errors(con, sb):
    cur = con.cursor()
    sb.reset_log()
    with pytest.raises(csql.ProgrammingError, match=":body"):
        cur.execute(INSERT, {"name": "x"})
    with pytest.raises(csql.ProgrammingError, match="mapping"):
        cur.execute(INSERT, ("x", "y"))
    with pytest.raises(csql.ProgrammingError, match="parameter"):
        cur.execute("SELECT * FROM sys_tables WHERE table_name = ?", {"x": 1})
    assert not [r for r in sb.request_log if r[0] != "GET"], "nothing was written"


def test_executemany(con):
    cur = con.cursor()
    _populate(cur)
    assert cur.rowcount == len(NAMES)
    assert _names(cur) == NAMES
    cur.executemany(f"UPDATE {TABLE} SET body = :body WHERE template_name = :name",
                    [{"name": NAMES[0], "body": "one"}, {"name": NAMES[1], "body": "two"}])  # fmt: skip
    assert cur.rowcount == 2
    cur.execute(f"SELECT body FROM {TABLE} WHERE template_name IN (:a, :b) ORDER BY body",
                {"a": NAMES[0], "b": NAMES[1]})  # fmt: skip
    assert cur.fetchall() == [("one",), ("two",)]
    cur.executemany(INSERT, [])
    assert cur.rowcount in (-1, 0)


def test_fetchone(con):
    cur = con.cursor()
    with pytest.raises(csql.Error):
        cur.fetchone()  # nothing executed yet
    cur.execute(INSERT, {"name": NAMES[0], "body": "x"})
    with pytest.raises(csql.Error):
        cur.fetchone()  # an INSERT has no result set
    cur.execute(f"SELECT template_name FROM {TABLE} WHERE template_name = 'missing'")
    assert cur.fetchone() is None
    assert cur.rowcount == 0
    cur.execute(f"SELECT template_name FROM {TABLE}")
    assert cur.fetchone() == (NAMES[0],)
    assert cur.fetchone() is None


def test_fetchmany(con):
    cur = con.cursor()
    with pytest.raises(csql.Error):
        cur.fetchmany(4)
    _populate(cur)
    with pytest.raises(csql.Error):
        cur.fetchmany()
    cur.execute(f"SELECT template_name FROM {TABLE} ORDER BY template_name")
    assert cur.arraysize == 1
    assert cur.fetchmany() == [(NAMES[0],)]
    cur.arraysize = 2
    assert cur.fetchmany() == [(NAMES[1],), (NAMES[2],)]
    assert cur.fetchmany(10) == [(n,) for n in NAMES[3:]]
    assert cur.fetchmany() == []
    cur.execute(f"SELECT template_name FROM {TABLE} ORDER BY template_name")
    assert len(cur.fetchmany(4)) == 4 and len(cur.fetchmany(4)) == 2 and cur.fetchmany(4) == []
    cur.execute(f"SELECT template_name FROM {TABLE} WHERE template_name = 'missing'")
    assert cur.fetchmany() == []


def test_fetchall(con):
    cur = con.cursor()
    with pytest.raises(csql.Error):
        cur.fetchall()
    _populate(cur)
    with pytest.raises(csql.Error):
        cur.fetchall()
    cur.execute(f"SELECT template_name FROM {TABLE}")
    rows = cur.fetchall()
    assert cur.rowcount in (-1, len(NAMES))
    assert sorted(r[0] for r in rows) == NAMES
    assert all(isinstance(r, tuple) for r in rows)
    assert cur.fetchall() == []
    cur.execute(f"SELECT template_name FROM {TABLE} WHERE template_name = 'missing'")
    assert cur.fetchall() == [] and cur.rowcount in (-1, 0)


def test_mixed_fetch(con):
    cur = con.cursor()
    _populate(cur)
    cur.execute(f"SELECT template_name FROM {TABLE} ORDER BY template_name")
    got = [cur.fetchone()]
    got += cur.fetchmany(2)
    got += cur.fetchmany()
    got += cur.fetchall()
    assert [r[0] for r in got] == NAMES


def test_iteration(con):
    cur = con.cursor()
    cur.execute("SELECT x FROM (VALUES (1), (2), (3)) AS t(x) ORDER BY x")
    assert cur.fetchone() == (1,)
    assert list(cur) == [(2,), (3,)]
    assert [r[0] for r in con.execute("SELECT x FROM range(4) AS t(x)")] == [0, 1, 2, 3]


def test_arrow_and_pandas_take_the_rest(con):
    cur = con.execute("SELECT x FROM range(5) AS t(x) ORDER BY x")
    cur.fetchone()
    table = cur.fetch_arrow_table()
    assert table.column("x").to_pylist() == [1, 2, 3, 4]
    assert cur.fetchall() == []
    pd = pytest.importorskip("pandas")
    df = con.execute("SELECT x, x * 2 AS y FROM range(3) AS t(x)").fetchdf()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["x", "y"] and len(df) == 3


def test_arraysize_setinputsizes_setoutputsize(con):
    cur = con.cursor()
    assert cur.arraysize == 1
    cur.arraysize = 7
    assert cur.arraysize == 7
    cur.setinputsizes({"name": 25, "body": None})
    cur.setoutputsize(1000)
    cur.setoutputsize(2000, 0)
    cur.execute(INSERT, {"name": NAMES[0], "body": "x"})  # the sizes change nothing
    assert cur.rowcount == 1


def test_none_round_trips_as_null(con):
    cur = con.execute("SELECT CAST(:v AS VARCHAR) AS v, :v IS NULL AS is_null", {"v": None})
    assert cur.fetchall() == [(None, True)]
    cur = con.execute("SELECT template_name FROM sms_templates WHERE template_name IS NULL")
    assert cur.fetchall() == []


def test_date_time_timestamp_parameters_round_trip(con):
    d, t, ts = csql.Date(2024, 2, 29), csql.Time(13, 45, 1), csql.Timestamp(2024, 2, 29, 13, 45, 1)
    cur = con.execute(
        "SELECT CAST(:d AS DATE), CAST(:t AS TIME), CAST(:ts AS TIMESTAMP)",
        {"d": d, "t": t, "ts": ts},
    )
    assert cur.fetchone() == (d, t, ts)
    aware = dt.datetime(2024, 2, 29, 13, 45, 1, tzinfo=dt.UTC)
    assert con.execute("SELECT CAST(:ts AS TIMESTAMPTZ)", {"ts": aware}).fetchone() == (aware,)


def test_binary_parameters_round_trip(con):
    value = csql.Binary(b"\x00\x01\xfe\xff")
    assert con.execute("SELECT CAST(:b AS BLOB)", {"b": value}).fetchone() == (value,)


def test_callproc(con, sb):
    cur = con.cursor()
    sb.reset_log()
    args = ["csql", "callproc test", "+61411111111"]
    assert cur.callproc("SendSMS", args) == args
    assert cur.description is not None and cur.rowcount == 1
    row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    assert row["body"] == "callproc test" and row["to"] == "+61411111111"
    named = {"to": "+61411111112", "body": "named", "from": "csql"}
    assert cur.callproc("SendSMS", named) == named
    assert cur.fetchone() is not None
    assert len([r for r in sb.request_log if r[1].endswith("/sms/send")]) == 2
    with pytest.raises(csql.ProgrammingError, match="not a procedure name"):
        cur.callproc("SendSMS(); DROP", [])
    with pytest.raises(csql.ProgrammingError, match="unknown procedure"):
        cur.callproc("NoSuchProcedure", [])


# --- errors map to the PEP 249 classes -------------------------------------------------------


def test_tables_cannot_be_created_or_dropped(con, sb):
    sb.reset_log()
    with pytest.raises(csql.DatabaseError):
        con.execute("CREATE TABLE dbapi20test (name VARCHAR(20))")
    with pytest.raises(csql.NotSupportedError):
        con.execute(f"DROP TABLE {TABLE}")
    assert con.execute("SELECT count(*) FROM sys_tables WHERE table_name = 'dbapi20test'"
                       ).fetchone() == (0,)  # fmt: skip
    assert len(sb.request_log) == 0


def test_error_classes(con, sb):
    with pytest.raises(csql.ProgrammingError, match="syntax"):
        con.execute("SELEC 1")
    with pytest.raises(csql.ProgrammingError, match="unknown table"):
        con.execute("SELECT * FROM no_such_table")
    with pytest.raises(csql.NotSupportedError, match="not allowed"):
        con.execute("INSERT INTO sms_history (body) VALUES ('x')")
    with pytest.raises(csql.IntegrityError, match="body is required"):
        con.execute(INSERT, {"name": "x", "body": None})
    with pytest.raises(csql.DataError):
        con.execute("SELECT CAST('not a number' AS INTEGER)")
    bad = csql.connect(sb.username, "wrong-key", sb.base_url)
    with pytest.raises(csql.OperationalError) as e:
        bad.execute(f"SELECT * FROM {TABLE}")
    assert "wrong-key" not in str(e.value)
    bad.close()
    assert con.execute(f"SELECT count(*) FROM {TABLE}").fetchone() == (0,)


def test_metadata_reads_send_no_request(con, sb):
    sb.reset_log()
    cur = con.cursor()
    for sql in ("SHOW TABLES", f"DESCRIBE {TABLE}", "SELECT * FROM sys_columns",
                "SELECT * FROM sys_procedures", "SELECT * FROM sys_tables"):  # fmt: skip
        cur.execute(sql)
        assert cur.description is not None and cur.fetchall()
    assert len(sb.request_log) == 0


def test_threadsafety_one_connection_per_thread(sb):
    # threadsafety = 1: threads share the module; each uses its own connection
    assert csql.threadsafety >= 1
    results, errors = {}, []

    def work(i: int) -> None:
        try:
            with csql.connect(sb.username, sb.api_key, sb.base_url) as c:
                results[i] = c.execute("SELECT count(*) FROM sms_templates").fetchone()[0]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and results == {0: 0, 1: 0, 2: 0, 3: 0}
