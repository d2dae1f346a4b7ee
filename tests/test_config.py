"""The configuration file (csql.config): where it is found, named profiles with the API key in
an environment variable, the order credentials are taken in, and profiles through
csql.connect(profile=...), `clicksend://...?profile=NAME`, `csql --profile` and `.connect`."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import csql
from csql import config
from csql.sandbox import Sandbox


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=5) as sandbox:
        yield sandbox


def write_config(path: Path, sb, default: str | None = None, extra: str = "") -> Path:
    default_line = f'profile = "{default}"' if default else ""
    path.write_text(
        textwrap.dedent(
            f"""
            [settings]
            {default_line}
            format = "csv"

            [profiles.demo]
            username = "{sb.username}"
            api_key_env = "CSQL_TEST_DEMO_KEY"
            base_url = "{sb.base_url}"
            requests_per_second = 50
            concurrency = 4

            [profiles.broken]
            username = "nobody"
            api_key_env = "CSQL_TEST_UNSET_KEY"
            {extra}
            """
        )
    )
    return path


@pytest.fixture
def env(sb, tmp_path, monkeypatch):
    """A config file with a `demo` profile pointing at the sandbox; no CLICKSEND_* set."""
    for name in ("CLICKSEND_USERNAME", "CLICKSEND_API_KEY", "CLICKSEND_BASE_URL", "CSQL_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("CSQL_TEST_UNSET_KEY", raising=False)
    monkeypatch.setenv("CSQL_TEST_DEMO_KEY", sb.api_key)
    path = write_config(tmp_path / "config.toml", sb)
    monkeypatch.setenv("CSQL_CONFIG", str(path))
    return path


def test_config_path_honours_csql_config_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("CSQL_CONFIG", str(tmp_path / "a.toml"))
    assert config.config_path() == tmp_path / "a.toml"
    monkeypatch.delenv("CSQL_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config.config_path() == tmp_path / "xdg" / "csql" / "config.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config.config_path() == tmp_path / "home" / ".config" / "csql" / "config.toml"


def test_a_missing_file_is_no_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("CSQL_CONFIG", str(tmp_path / "absent.toml"))
    cfg = config.load()
    assert cfg.settings == {} and cfg.profiles == {}


def test_profile_reads_its_key_from_the_named_variable(env, sb):
    profile = config.load().profile("demo")
    assert profile.username == sb.username and profile.api_key == sb.api_key
    assert profile.options == {"requests_per_second": 50, "concurrency": 4}
    assert sb.api_key not in repr(profile)  # the key never shows


def test_connect_with_a_profile_runs_queries(env, sb):
    with csql.connect(profile="demo") as conn:
        assert conn.username == sb.username and conn.base_url == sb.base_url
        assert conn.execute("SELECT count(*) FROM lists").fetchone()[0] == 5


def test_explicit_arguments_beat_the_profile(env, sb):
    with csql.connect(username="someone-else", profile="demo") as conn:
        assert conn.username == "someone-else" and conn.base_url == sb.base_url


def test_default_profile_only_without_other_credentials(sb, tmp_path, monkeypatch, env):
    write_config(env, sb, default="demo")
    with csql.connect() as conn:
        assert conn.username == sb.username
    monkeypatch.setenv("CLICKSEND_USERNAME", "from-env")
    monkeypatch.setenv("CLICKSEND_API_KEY", "k")
    with csql.connect() as conn:
        assert conn.username == "from-env"  # variables set in this shell win over the default


def test_unknown_profile_and_unset_key_variable_say_what_to_do(env):
    with pytest.raises(
        csql.ProgrammingError, match=r"no profile .nope. .*profiles there: broken, demo"
    ):
        csql.connect(profile="nope")
    with pytest.raises(csql.ProgrammingError, match=r"\$CSQL_TEST_UNSET_KEY, which is not set"):
        csql.connect(profile="broken")


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("[settings]\nformat = 3\n", "wrong type"),
        ("[settings]\ncolour = true\n", "unknown setting 'colour'"),
        ("[profile.x]\nusername = 'a'\n", "unknown section"),
        ("[profiles.x]\napi_key = 'a'\napi_key_env = 'B'\n", "both api_key and api_key_env"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_broken_files_name_the_file_and_the_key(tmp_path, monkeypatch, body, match):
    path = tmp_path / "c.toml"
    path.write_text(body)
    monkeypatch.setenv("CSQL_CONFIG", str(path))
    with pytest.raises(config.ConfigError, match=match) as info:
        config.load()
    assert str(path) in str(info.value)


def test_sqlalchemy_url_with_a_profile(env, sb):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine("clicksend:///?profile=demo")
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM lists").scalar() == 5


def _cli(*args: str, env_extra: dict, stdin: str | None = None):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKSEND_")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "csql.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_cli_profile_flag_and_config_settings(env, sb):
    extra = {"CSQL_CONFIG": str(env), "CSQL_TEST_DEMO_KEY": sb.api_key}
    done = _cli(
        "--profile",
        "demo",
        "-c",
        "SELECT list_name FROM lists ORDER BY list_id LIMIT 2",
        env_extra=extra,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "list_name\nCustomers\nVIP\n"  # format = "csv" from [settings]


def test_cli_without_credentials_names_flags_variables_and_profiles(tmp_path):
    extra = {"CSQL_CONFIG": str(tmp_path / "none.toml")}
    done = _cli("-c", "SELECT * FROM lists", env_extra=extra)
    assert done.returncode == 1
    for hint in ("--username", "--api-key", "--profile", "CLICKSEND_USERNAME", "API Credentials"):
        assert hint in done.stderr
    assert "csql.connect(" not in done.stderr


def test_cli_wrong_key_names_the_cli_remedies(sb, tmp_path):
    extra = {"CSQL_CONFIG": str(tmp_path / "none.toml")}
    args = ["--base-url", sb.base_url, "--username", sb.username, "--api-key", "wrong"]
    done = _cli(*args, "-c", "SELECT * FROM lists", env_extra=extra)
    assert done.returncode == 1
    assert "401" in done.stderr and "--api-key" in done.stderr and "wrong" not in done.stderr
