"""The SQLAlchemy dialect (`clicksend://`) against the sandbox: URLs, reflection, pandas, DML."""

from __future__ import annotations

import importlib.metadata
from urllib.parse import quote

import pytest

sqlalchemy = pytest.importorskip("sqlalchemy")
pd = pytest.importorskip("pandas")

from sqlalchemy import (  # noqa: E402
    MetaData,
    String,
    Table,
    create_engine,
    exc,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy import types as sqltypes  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402

import csql  # noqa: E402
from csql.jupyter import connect_kwargs, shared_sandbox  # noqa: E402
from csql.sandbox import Sandbox  # noqa: E402
from csql.sqlalchemy import ClickSendDialect, sqlalchemy_type  # noqa: E402


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=2, scale=1) as sandbox:
        yield sandbox


def _url(sb) -> str:
    return f"clicksend://{sb.username}:{sb.api_key}@/?base_url={sb.base_url}"


@pytest.fixture(scope="module")
def engine(sb):
    eng = create_engine(_url(sb))
    yield eng
    eng.dispose()


@pytest.fixture
def scratch():
    """An empty sandbox for writes, so counts are exact."""
    with Sandbox(seed=2, empty=True) as sandbox:
        eng = create_engine(_url(sandbox))
        yield eng
        eng.dispose()


def _dbapi_rows(sb, sql: str) -> list[tuple]:
    with csql.connect(sb.username, sb.api_key, sb.base_url) as conn:
        return conn.execute(sql).fetchall()


# --- registration and URLs -------------------------------------------------------------------


def test_dialect_is_registered_by_entry_point():
    eps = importlib.metadata.entry_points(group="sqlalchemy.dialects")
    names = {ep.name: ep.value for ep in eps}
    assert names.get("clicksend") == "csql.sqlalchemy:ClickSendDialect"
    assert names.get("clicksend.csql") == "csql.sqlalchemy:ClickSendDialect"
    for url in ("clicksend://", "clicksend+csql://"):
        eng = create_engine(url)
        assert isinstance(eng.dialect, ClickSendDialect)
        assert eng.dialect.name == "clicksend" and eng.dialect.driver == "csql"
        assert eng.dialect.dbapi is csql and eng.dialect.paramstyle == "named"


def test_url_forms():
    kw = connect_kwargs("clicksend://me:se%2Fcret@/?base_url=http://127.0.0.1:9/v3")
    assert kw == {"username": "me", "api_key": "se/cret", "base_url": "http://127.0.0.1:9/v3"}
    kw = connect_kwargs("clicksend://me:k@rest.clicksend.com/v3")
    assert kw["base_url"] == "https://rest.clicksend.com/v3"
    assert connect_kwargs("clicksend://me:k@example.test:8443")["base_url"] == (
        "https://example.test:8443/v3"
    )
    assert connect_kwargs("clicksend://") == {"username": None, "api_key": None, "base_url": None}
    kw = connect_kwargs(
        "clicksend://?requests_per_second=5&concurrency=2&allow_unfiltered_writes=true"
    )
    assert kw["requests_per_second"] == 5.0 and kw["concurrency"] == 2
    assert kw["allow_unfiltered_writes"] is True
    with pytest.raises(csql.ProgrammingError, match="number"):
        connect_kwargs("clicksend://?timeout=soon")
    with pytest.raises(csql.InterfaceError, match="clicksend://"):
        connect_kwargs("postgresql://u:p@h/db")


def test_sqlalchemy_url_with_special_characters(sb):
    # create_connect_args gets the key back exactly, whatever URL quoting it needed
    key = "k@y/with:odd&chars?"
    url = f"clicksend://{sb.username}:{quote(key, safe='')}@/?base_url={sb.base_url}"
    eng = create_engine(url)
    _, kwargs = eng.dialect.create_connect_args(eng.url)
    assert kwargs["api_key"] == key and kwargs["username"] == sb.username
    assert key not in repr(eng) and key not in str(eng.url)
    eng.dispose()


def test_unknown_option_names_the_known_ones(sb):
    eng = create_engine(_url(sb) + "&no_such_option=1")
    with pytest.raises(exc.ProgrammingError, match="unknown connection option"):
        eng.connect()
    eng.dispose()


def test_credentials_from_the_environment(sb, monkeypatch):
    monkeypatch.setenv("CLICKSEND_USERNAME", sb.username)
    monkeypatch.setenv("CLICKSEND_API_KEY", sb.api_key)
    monkeypatch.setenv("CLICKSEND_BASE_URL", sb.base_url)
    eng = create_engine("clicksend://")
    with eng.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM lists")).scalar()
    eng.dispose()
    assert n == _dbapi_rows(sb, "SELECT count(*) FROM lists")[0][0] > 0


def test_sandbox_url_uses_the_shared_sandbox():
    eng = create_engine("clicksend:///?sandbox=true&seed=0")
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM lists")).scalar() > 0
    _, kwargs = eng.dialect.create_connect_args(eng.url)
    assert kwargs["base_url"] == shared_sandbox(0).base_url
    eng.dispose()


# --- reflection --------------------------------------------------------------------------------


def test_table_names_come_from_the_catalog_without_http(engine, sb):
    sb.reset_log()
    insp = inspect(engine)
    names = insp.get_table_names()
    assert {"contacts", "lists", "sms_history", "sms_templates", "sys_tables"} <= set(names)
    assert len(names) == len(_dbapi_rows(sb, "SHOW TABLES"))
    assert insp.get_view_names() == [] and insp.get_schema_names() == ["main"]
    assert insp.default_schema_name == "main"
    insp.get_columns("contacts")
    assert len(sb.request_log) == 0, "reflection sent HTTP requests"


def test_get_columns_maps_types(engine):
    insp = inspect(engine)
    cols = {c["name"]: c for c in insp.get_columns("contacts")}
    assert isinstance(cols["contact_id"]["type"], sqltypes.BigInteger)
    assert isinstance(cols["phone_number"]["type"], sqltypes.String)
    assert isinstance(cols["date_added"]["type"], sqltypes.DateTime)
    assert cols["date_added"]["type"].timezone is True
    assert cols["contact_id"]["nullable"] is False and cols["first_name"]["nullable"] is True
    assert cols["contact_id"]["autoincrement"] is True
    assert cols["phone_number"]["comment"] == "E.164 phone number"
    history = {c["name"]: c["type"] for c in insp.get_columns("sms_history")}
    price = history["message_price"]
    assert isinstance(price, sqltypes.Numeric) and (price.precision, price.scale) == (18, 6)
    account = {c["name"]: c["type"] for c in insp.get_columns("account")}
    assert isinstance(account["_currency"], sqltypes.JSON)
    sys_cols = {c["name"]: c["type"] for c in insp.get_columns("sys_tables")}
    assert isinstance(sys_cols["aliases"], sqltypes.ARRAY)


def test_every_table_reflects_with_known_types(engine):
    md = MetaData()
    md.reflect(engine)  # would warn on an unmapped type
    assert len(md.tables) == len(inspect(engine).get_table_names())
    for table in md.tables.values():
        for col in table.columns:
            assert not isinstance(col.type, sqltypes.NullType), (table.name, col.name)


def test_has_table_and_aliases(engine):
    insp = inspect(engine)
    assert insp.has_table("contacts") and insp.has_table("Contacts")
    assert insp.has_table("SMSTemplates") and insp.has_table("sys_columns")
    assert not insp.has_table("no_such_table")
    assert not insp.has_table("contacts", schema="other")

    def shape(name):
        return [(c["name"], repr(c["type"])) for c in insp.get_columns(name)]

    assert shape("ContactLists") == shape("lists")


def test_constraints_indexes_and_comments(engine):
    insp = inspect(engine)
    assert insp.get_pk_constraint("contacts")["constrained_columns"] == ["contact_id"]
    assert insp.get_pk_constraint("sys_tables")["constrained_columns"] == []
    assert insp.get_foreign_keys("contacts") == []
    assert insp.get_indexes("contacts") == []
    assert insp.get_unique_constraints("contacts") == []
    assert insp.get_table_comment("lists")["text"]
    with pytest.raises(exc.NoSuchTableError):
        insp.get_columns("no_such_table")
    with pytest.raises(exc.NoSuchTableError):
        Table("no_such_table", MetaData(), autoload_with=engine)


def test_sqlalchemy_type_names():
    assert isinstance(sqlalchemy_type("BIGINT"), sqltypes.BigInteger)
    assert isinstance(sqlalchemy_type("varchar"), sqltypes.String)
    assert isinstance(sqlalchemy_type("DOUBLE"), sqltypes.Float)
    assert isinstance(sqlalchemy_type("BOOLEAN"), sqltypes.Boolean)
    assert isinstance(sqlalchemy_type("DATE"), sqltypes.Date)
    assert sqlalchemy_type("TIMESTAMP").timezone is False
    assert sqlalchemy_type("DECIMAL(10,2)").scale == 2
    assert isinstance(sqlalchemy_type("INTEGER[]").item_type, sqltypes.Integer)
    assert isinstance(sqlalchemy_type("STRUCT(a INTEGER)"), sqltypes.JSON)
    with pytest.warns(exc.SAWarning, match="no SQLAlchemy type"):
        assert isinstance(sqlalchemy_type("GEOMETRY"), sqltypes.NullType)


# --- queries and pandas ----------------------------------------------------------------------


def test_text_query_with_parameters(engine, sb):
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT list_id, list_name FROM lists WHERE list_id >= :low ORDER BY list_id"),
            {"low": 0},
        ).all()
    assert [tuple(r) for r in rows] == _dbapi_rows(
        sb, "SELECT list_id, list_name FROM lists ORDER BY list_id"
    )


def test_reflected_table_select(engine, sb):
    contacts = Table("contacts", MetaData(), autoload_with=engine)
    lists = Table("lists", MetaData(), autoload_with=engine)
    first = _dbapi_rows(sb, "SELECT min(list_id) FROM lists")[0][0]
    q = (
        select(contacts.c.contact_id, contacts.c.phone_number)
        .where(contacts.c.list_id == first)
        .order_by(contacts.c.contact_id)
        .limit(5)
    )
    per_list = (
        select(lists.c.list_name, func.count().label("n"))
        .select_from(contacts.join(lists, contacts.c.list_id == lists.c.list_id))
        .group_by(lists.c.list_name)
        .order_by(lists.c.list_name)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
        grouped = conn.execute(per_list).all()
    expected = _dbapi_rows(sb, f"SELECT contact_id, phone_number FROM contacts "
                               f"WHERE list_id = {first} ORDER BY contact_id LIMIT 5")  # fmt: skip
    assert [tuple(r) for r in rows] == expected and len(rows) == 5
    assert [tuple(r) for r in grouped] == _dbapi_rows(
        sb,
        "SELECT l.list_name, count(*) FROM contacts c JOIN lists l ON c.list_id = l.list_id "
        "GROUP BY l.list_name ORDER BY l.list_name",
    )


def test_pandas_read_sql(engine, sb):
    df = pd.read_sql(
        text("SELECT status, count(*) AS n FROM sms_history WHERE status = :s GROUP BY status"),
        engine,
        params={"s": "Completed"},
    )
    assert list(df.columns) == ["status", "n"] and df["status"].tolist() == ["Completed"]
    lists = Table("lists", MetaData(), autoload_with=engine)
    df2 = pd.read_sql(select(lists).order_by(lists.c.list_id), engine)
    assert list(df2.columns) == [c.name for c in lists.columns]
    assert df2["list_id"].tolist() == [
        r[0] for r in _dbapi_rows(sb, "SELECT list_id FROM lists ORDER BY 1")
    ]
    df3 = pd.read_sql_table("sms_templates", engine)
    assert len(df3) == _dbapi_rows(sb, "SELECT count(*) FROM sms_templates")[0][0]
    df4 = pd.read_sql("lists", engine)  # a table name: pandas reflects it
    assert len(df4) == len(df2)
    history = pd.read_sql(text("SELECT date, message_price FROM sms_history LIMIT 5"), engine)
    assert str(history["date"].dtype).startswith("datetime64") and len(history) == 5


def test_errors_are_wrapped_with_the_csql_original(engine):
    with engine.connect() as conn, pytest.raises(exc.ProgrammingError) as e:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert isinstance(e.value.orig, csql.ProgrammingError)
    with engine.connect() as conn, pytest.raises(exc.NotSupportedError):
        conn.execute(text("INSERT INTO sms_history (body) VALUES ('x')"))


# --- writes --------------------------------------------------------------------------------------


def test_core_insert_update_delete(scratch):
    templates = Table("sms_templates", MetaData(), autoload_with=scratch)
    with scratch.connect() as conn:
        result = conn.execute(templates.insert().values(template_name="sa", body="hello"))
        assert result.rowcount == 1
        (new_id,) = result.inserted_primary_key
        assert isinstance(new_id, int)
        many = conn.execute(
            templates.insert(), [{"template_name": f"m{i}", "body": "x"} for i in range(3)]
        )
        assert many.rowcount == 3
        upd = conn.execute(
            templates.update().where(templates.c.template_name.like("m%")).values(body="y")
        )
        assert upd.rowcount == 3
        returned = conn.execute(
            templates.delete()
            .where(templates.c.template_id == new_id)
            .returning(templates.c.template_id)
        ).all()
        assert [tuple(r) for r in returned] == [(new_id,)]
        conn.rollback()  # no transactions: nothing is undone, and nothing fails
        names = conn.execute(select(templates.c.template_name, templates.c.body)
                             .order_by(templates.c.template_name)).all()  # fmt: skip
    assert [tuple(r) for r in names] == [("m0", "y"), ("m1", "y"), ("m2", "y")]


def test_pandas_to_sql_appends_rows(scratch):
    df = pd.DataFrame({"template_name": ["p1", "p2"], "body": ["first", "second"]})
    assert df.to_sql("sms_templates", scratch, if_exists="append", index=False) == 2
    back = pd.read_sql(text("SELECT template_name, body FROM sms_templates ORDER BY 1"), scratch)
    assert back.to_dict("records") == df.to_dict("records")
    with pytest.raises(exc.DatabaseError):  # no CREATE TABLE in ClickSend
        df.to_sql("new_table", scratch, if_exists="append", index=False)


def test_orm_round_trip(scratch):
    class Base(DeclarativeBase):
        pass

    class Template(Base):
        __tablename__ = "sms_templates"
        template_id: Mapped[int] = mapped_column(primary_key=True)
        template_name: Mapped[str] = mapped_column(String)
        body: Mapped[str] = mapped_column(String)

    with Session(scratch) as session:
        t = Template(template_name="orm", body="hello")
        session.add(t)
        session.commit()
        assert t.template_id is not None
        t.body = "changed"
        session.commit()
        stmt = select(Template).where(Template.template_name == "orm")
        assert session.scalars(stmt).one().body == "changed"
        session.delete(t)
        session.commit()
        assert session.scalars(stmt).first() is None
