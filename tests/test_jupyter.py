"""`%load_ext csql`: the %csql / %%csql magics in a real IPython shell (no kernel), and csql
under jupysql's %sql."""

from __future__ import annotations

import pytest

pytest.importorskip("IPython")
pd = pytest.importorskip("pandas")

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

import csql  # noqa: E402
from csql.jupyter import placeholder_names, shared_sandbox  # noqa: E402
from csql.sandbox import Sandbox  # noqa: E402


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=3, scale=1) as sandbox:
        yield sandbox


@pytest.fixture
def ip(sb):
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "csql")
    shell.user_ns["_csql_magic"].close()
    shell.run_line_magic("csql", f"clicksend://{sb.username}:{sb.api_key}@/?base_url={sb.base_url}")
    yield shell
    shell.run_line_magic("csql", "--close")


def run(shell, code: str):
    """Run a cell; its value, or raise what it raised."""
    result = shell.run_cell(code)
    if result.error_before_exec is not None:
        raise result.error_before_exec
    if result.error_in_exec is not None:
        raise result.error_in_exec
    return result.result


def dbapi(sb, sql: str, params=None) -> pd.DataFrame:
    with csql.connect(sb.username, sb.api_key, sb.base_url) as conn:
        return conn.execute(sql, params).fetchdf()


def test_load_ext_registers_line_and_cell_magics(ip):
    magics = ip.magics_manager.magics
    assert "csql" in magics["line"] and "csql" in magics["cell"]
    assert callable(csql.load_ipython_extension)


def test_line_magic_returns_a_dataframe(ip, sb):
    df = run(ip, "%csql SELECT list_id, list_name FROM lists ORDER BY list_id")
    assert isinstance(df, pd.DataFrame)
    pd.testing.assert_frame_equal(
        df, dbapi(sb, "SELECT list_id, list_name FROM lists ORDER BY list_id")
    )
    run(ip, "lists_df = %csql SELECT count(*) AS n FROM lists")
    assert ip.user_ns["lists_df"]["n"].tolist() == [len(df)]


def test_cell_magic_binds_notebook_variables(ip, sb):
    first = int(dbapi(sb, "SELECT min(list_id) AS l FROM lists")["l"][0])
    ip.user_ns["list_id"] = first
    ip.user_ns["prefix"] = "+"
    df = run(ip, "%%csql\nSELECT count(*) AS n\nFROM contacts\n"
                 "WHERE list_id = :list_id AND starts_with(phone_number, :prefix)")  # fmt: skip
    expected = dbapi(sb, "SELECT count(*) AS n FROM contacts WHERE list_id = :l AND "
                         "starts_with(phone_number, '+')", {"l": first})  # fmt: skip
    assert df["n"].tolist() == expected["n"].tolist() and df["n"][0] > 0
    # ':name' inside a string or a '::' cast is not a parameter
    df = run(ip, "%csql SELECT ':list_id' AS s, '7'::INTEGER AS i")
    assert df.iloc[0].tolist() == [":list_id", 7]


def test_missing_variable_is_a_clear_error(ip):
    ip.user_ns.pop("no_such_variable", None)
    with pytest.raises(csql.ProgrammingError, match="no_such_variable"):
        run(ip, "%csql SELECT * FROM sys_tables WHERE table_name = :no_such_variable")


def test_out_option_stores_the_result(ip):
    run(ip, "%%csql -o tables\nSELECT table_name FROM sys_tables ORDER BY table_name")
    assert isinstance(ip.user_ns["tables"], pd.DataFrame)
    assert "contacts" in ip.user_ns["tables"]["table_name"].tolist()


def test_results_render_as_html_tables(ip):
    df = run(ip, "%csql SELECT list_id, list_name FROM lists ORDER BY list_id LIMIT 2")
    formatted, _ = ip.display_formatter.format(df)
    assert "<table" in formatted["text/html"] and "list_name" in formatted["text/html"]


def test_writes_print_rows_affected_and_multiple_statements(ip, capsys):
    assert (
        run(ip, "%csql INSERT INTO sms_templates (template_name, body) VALUES ('jupyter', 'hi')")
        is None
    )
    assert "1 row affected" in capsys.readouterr().out
    df = run(ip, "%%csql\nUPDATE sms_templates SET body = 'changed' WHERE template_name = 'jupyter';\n"
                 "SELECT body FROM sms_templates WHERE template_name = 'jupyter'")  # fmt: skip
    assert df["body"].tolist() == ["changed"]
    run(ip, "%csql DELETE FROM sms_templates WHERE template_name = 'jupyter'")
    assert "1 row affected" in capsys.readouterr().out


def test_explain_and_call_through_the_magic(ip):
    ip.user_ns.update(sender="csql", text="hello from a notebook", to="+61411111111")
    plan = run(ip, "%csql EXPLAIN CALL SendSMS(:sender, :text, :to)")
    assert plan["method"].tolist() == ["POST", "price quote"]
    plan = run(ip, "%csql EXPLAIN SELECT * FROM contacts WHERE list_id = 1")
    assert "/lists/1/contacts" in plan["path"].tolist()


def test_errors_keep_their_class_and_a_short_traceback(ip):
    result = ip.run_cell("%csql SELECT * FROM no_such_table")
    err = result.error_in_exec
    assert isinstance(err, csql.ProgrammingError) and "no_such_table" in str(err)
    frames = []
    tb = err.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    assert not [f for f in frames if f.endswith(("engine.py", "binder.py"))]
    with pytest.raises(csql.ProgrammingError, match="unknown option"):
        run(ip, "%csql --bogus SELECT 1")


def test_connection_choices(ip, sb, monkeypatch, capsys):
    # an existing csql connection from the notebook
    conn = csql.connect(sb.username, sb.api_key, sb.base_url)
    ip.user_ns["my_conn"] = conn
    run(ip, "%csql --connection my_conn")
    assert ip.user_ns["_csql_magic"].connection is conn
    run(ip, "%csql")  # shows the current connection
    assert sb.base_url in capsys.readouterr().out
    run(ip, "%csql --close")
    assert not conn.closed, "the magic does not close a connection it did not open"
    conn.close()
    # the environment (CLICKSEND_USERNAME / _API_KEY / _BASE_URL) when nothing was chosen
    monkeypatch.setenv("CLICKSEND_USERNAME", sb.username)
    monkeypatch.setenv("CLICKSEND_API_KEY", sb.api_key)
    monkeypatch.setenv("CLICKSEND_BASE_URL", sb.base_url)
    assert run(ip, "%csql SELECT count(*) AS n FROM lists")["n"][0] > 0
    assert ip.user_ns["_csql_magic"].connection.base_url == sb.base_url
    # the built-in sandbox, shared with `clicksend:///?sandbox=true`
    run(ip, "%csql --sandbox")
    assert shared_sandbox(0).base_url in capsys.readouterr().out
    assert run(ip, "%csql SELECT count(*) AS n FROM sms_history")["n"][0] > 0
    with pytest.raises(csql.InterfaceError):
        run(ip, "%csql --connection not_there")


def test_help(ip, capsys):
    run(ip, "%csql --help")
    out = capsys.readouterr().out
    assert "%load_ext csql" in out and "--sandbox" in out and "clicksend://" in out


def test_placeholder_names():
    sql = "SELECT ':a', \"b:c\", x::INT FROM t -- :d\nWHERE y = :e AND z = :f /* :g */ AND w = :e"
    assert placeholder_names(sql) == ["e", "f"]
    assert placeholder_names("CALL SendSMS(:from, :body, :to)") == ["from", "body", "to"]


def test_jupysql_sql_magic(sb, monkeypatch):
    monkeypatch.setenv("PLOOMBER_STATS_ENABLED", "false")  # jupysql's telemetry: no network here
    monkeypatch.setenv("PLOOMBER_VERSION_CHECK_DISABLED", "true")
    pytest.importorskip("sql")
    shell = InteractiveShell.instance()
    run(shell, "%load_ext sql")
    run(shell, '%config SqlMagic.named_parameters = "enabled"')  # :name from the notebook
    url = f"clicksend://{sb.username}:{sb.api_key}@/?base_url={sb.base_url}"
    run(shell, f"%sql {url} --alias clicksend_test")
    shell.user_ns["wanted"] = "Completed"
    result = run(shell, "%sql SELECT status, count(*) AS n FROM sms_history "
                        "WHERE status = :wanted GROUP BY status")  # fmt: skip
    df = result.DataFrame()
    expected = dbapi(sb, "SELECT count(*) AS n FROM sms_history WHERE status = 'Completed'")
    assert df["status"].tolist() == ["Completed"] and df["n"].tolist() == expected["n"].tolist()
    run(shell, "%sql --close clicksend_test")
