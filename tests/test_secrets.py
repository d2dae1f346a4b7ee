"""Secrets never leave: the API key (any length), base64(user:key) in every encoding, URL
userinfo and catalog-marked secret values are scanned for in errors, tracebacks, reprs,
DEBUG logs of every logger, EXPLAIN output and `csql -c` output, against a server that
echoes the Authorization header into its error bodies (as some proxies and APIs do)."""

from __future__ import annotations

import base64
import json
import logging
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

import csql
from csql.sandbox import Sandbox
from csql.secrets import Secrets, split_userinfo

USER = "echo-user"
KEYS = ["k9", "Zx7Qp", "0D5F2A0B-77C4-4C1E-9E3A-6B1D2C3E4F5A"]
TOKEN = "739182"
PLACES = {"scanned": 0}


def forms(user: str, key: str) -> list[str]:
    """What a leak of the key looks like."""
    pair = f"{user}:{key}".encode()
    std, url = base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()
    return [key, std, std.rstrip("="), url, url.rstrip("="), quote(key, safe="")]


def assert_clean(text: str, secrets: list[str], where: str) -> None:
    PLACES["scanned"] += 1
    for s in secrets:
        assert s not in text, f"{where} shows {s!r}: {text[:500]}"


class Echo(BaseHTTPRequestHandler):
    """Answers every request with an error whose body repeats the request's headers."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        auth = self.headers.get("Authorization", "")
        status = {"/v3/contacts": 400, "/v3/lists": 500, "/v3/sms/history": 401}.get(
            self.path.split("?")[0], 422
        )
        if status == 500:  # not JSON: the raw text goes into the message
            payload = f"upstream failed for {auth} path {self.path} body {body}".encode()
            ctype = "text/plain"
        else:
            payload = json.dumps({
                "http_code": status, "response_code": "BAD_REQUEST",
                "response_msg": f"Rejected. Authorization: {auth}; path {self.path}; {body}",
                "data": {"headers": dict(self.headers), "echo": auth.split()[-1]},
            }).replace("/", "\\/").encode()  # fmt: skip
            ctype = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def echo():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3"
    server.shutdown()


STATEMENTS = [
    "SELECT * FROM contacts",  # 400 JSON echo
    "SELECT * FROM lists",  # 500 text echo
    "SELECT * FROM sms_history",  # 401
    f"CALL VerifyAccount('{TOKEN}')",  # a secret path parameter
    "INSERT INTO sms_templates (template_name, body) VALUES ('a', 'b')",
]


@pytest.mark.parametrize("key", KEYS)
def test_errors_tracebacks_reprs_and_logs(echo, key, caplog):
    secrets = [*forms(USER, key), TOKEN]
    caplog.set_level(logging.DEBUG)  # the root logger: httpx, httpcore, csql and the rest
    conn = csql.connect(USER, key, echo, max_retries=0)
    for sql in STATEMENTS:
        with pytest.raises(csql.Error) as info:
            conn.execute(sql)
        e = info.value
        assert_clean(str(e), secrets, f"error of {sql}")
        assert_clean(repr(e), secrets, f"repr of the error of {sql}")
        assert_clean(repr(getattr(e, "body", None)), secrets, f"body of the error of {sql}")
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        assert_clean(tb, secrets, f"traceback of {sql}")
    for obj in (conn, conn.cursor(), conn._client, conn._client.secrets):
        assert_clean(repr(obj), secrets, f"repr of {type(obj).__name__}")
    assert caplog.records, "httpx logs its requests"
    for record in caplog.records:
        assert_clean(record.getMessage(), secrets, f"log record of {record.name}")
    assert_clean(caplog.text, secrets, "formatted log")


def test_explain_masks_secret_parameters_and_columns():
    with Sandbox(seed=4, scale=0.2) as sb:
        conn = csql.connect(sb.username, sb.api_key, sb.base_url)
        rows = conn.execute(f"EXPLAIN CALL VerifyAccount('{TOKEN}')").fetchall()
        assert rows[0][2] == "/account-verify/verify/***"
        rows = conn.execute(
            "EXPLAIN CALL VerifyForgotPassword(subaccount_id => 1, "
            f"activation_token => '{TOKEN}', password => 'hunter2secret')"
        ).fetchall()
        text = repr(rows)
        assert TOKEN not in text and "hunter2secret" not in text
        rows = conn.execute(
            "EXPLAIN INSERT INTO subaccounts (api_username, password, email, phone_number, "
            "first_name, last_name) VALUES ('x', 'hunter2secret', 'a@b.c', '+61411111111', 'a', 'b')"
        ).fetchall()
        assert "hunter2secret" not in repr(rows) and '"password": "***"' in rows[0][4]
        assert_clean(repr(rows), [*forms(sb.username, sb.api_key), TOKEN], "EXPLAIN")


def test_the_catalog_marks_secrets(catalog):
    assert catalog.procedure("VerifyAccount").parameter("activation_token").secret
    assert catalog.table("subaccounts").column("password").secret
    assert not catalog.table("contacts").column("first_name").secret


def test_userinfo_in_the_base_url_becomes_the_credentials():
    conn = csql.connect(base_url="https://u:TOPSECRETKEY@host.example/v3")
    assert "TOPSECRETKEY" not in repr(conn) and "TOPSECRETKEY" not in conn.base_url
    assert conn.username == "u" and conn.base_url == "https://host.example/v3"
    assert split_userinfo(None, None, "http://a:b%40c@127.0.0.1:8080/v3") == (
        "a", "b@c", "http://127.0.0.1:8080/v3"
    )  # fmt: skip
    with pytest.raises(csql.ProgrammingError, match="differ"):
        csql.connect("u", "other", "https://u:TOPSECRETKEY@host.example/v3")
    with pytest.raises(csql.Error) as info:
        csql.connect(base_url="http://u:TOPSECRETKEY@127.0.0.1:9/v3", max_retries=0).execute(
            "SELECT * FROM contacts"
        )
    assert "TOPSECRETKEY" not in str(info.value)


def test_masking_is_longest_first_and_any_length():
    s = Secrets("user", "ab")
    assert s.mask("key ab, pair user:ab") == "key ***, pair ***"
    assert s.mask(base64.b64encode(b"user:ab").decode()) == "***"


def test_cli_output(echo, capsys):
    cli = pytest.importorskip("csql.cli")
    key = "Cli9Key"
    code = cli.main(["--username", USER, "--api-key", key, "--base-url", echo,
                     "-c", "SELECT * FROM sms_templates"])  # fmt: skip
    out = capsys.readouterr()
    assert code != 0
    assert "ClickSend answered" in out.err  # the server's message is shown...
    assert_clean(out.out + out.err, forms(USER, key), "csql -c output")  # ...without the key


def test_short_keys_are_masked_as_whole_tokens_only():
    s = Secrets("u", "k")
    assert (
        s.mask("could not reach ClickSend; key=k, 'k'")
        == "could not reach ClickSend; key=***, '***'"
    )
    assert s.mask(base64.b64encode(b"u:k").decode()) == "***"
    conn = csql.connect("u", "k", "http://127.0.0.1:9/v3", max_retries=0)
    with pytest.raises(csql.OperationalError, match="could not reach ClickSend"):
        conn.execute("SELECT * FROM lists")


def test_cli_explain_masks_secret_parameters(capsys):
    cli = pytest.importorskip("csql.cli")
    code = cli.main(
        ["--sandbox", "-c", f"EXPLAIN CALL VerifyAccount('{TOKEN}')", "--format", "csv"]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "/account-verify/verify/***" in out.out
    assert_clean(out.out + out.err, [TOKEN], "csql -c EXPLAIN output")
