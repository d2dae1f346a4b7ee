"""The configuration file: shell settings and named connection profiles.

The file is TOML, found at `$CSQL_CONFIG` if set, else `$XDG_CONFIG_HOME/csql/config.toml`,
else `~/.config/csql/config.toml`. A missing file is no configuration at all::

    [settings]                  # the shell's defaults (each also a dot command)
    format = "table"            # table | csv | json | jsonl | markdown
    timer = true
    expanded = "auto"           # on | off | auto
    headers = true
    nullvalue = "NULL"
    maxrows = 0                 # 0: no limit
    pager = "on"                # on | off | a command such as "less -S"
    profile = "main"            # the profile used when no credentials are given otherwise

    [profiles.main]
    username = "me@example.com"
    api_key_env = "CLICKSEND_MAIN_KEY"   # or api_key = "..." (keep the file private then)
    requests_per_second = 10

    [profiles.shop]              # a subaccount
    username = "shop@example.com"
    api_key_env = "CLICKSEND_SHOP_KEY"
    base_url = "https://rest.clicksend.com/v3"
    concurrency = 4

Every other key of a profile is a csql.connect() option. Where credentials come from, first
match wins: arguments (flags), the named profile (`profile=`, `--profile`, `$CSQL_PROFILE`),
the CLICKSEND_* variables, then the file's default profile.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csql.errors import ProgrammingError

CONFIG_ENV = "CSQL_CONFIG"
PROFILE_ENV = "CSQL_PROFILE"
DEFAULT_BASE_URL = "https://rest.clicksend.com/v3"

#: profile keys that are not connect() options
_CREDENTIAL_KEYS = ("username", "api_key", "api_key_env", "base_url")
#: [settings] keys and the type each takes
SETTING_TYPES: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "timer": bool,
    "expanded": (str, bool),
    "headers": bool,
    "nullvalue": str,
    "maxrows": int,
    "pager": (str, bool),
    "explain": bool,
    "profile": str,
}


class ConfigError(ProgrammingError):
    """The configuration file or a profile is wrong; the message names the file and key."""


@dataclass(frozen=True)
class Profile:
    """One named account (or subaccount): credentials, base URL and connect() options."""

    name: str
    username: str | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    """The file's contents, validated."""

    path: Path | None
    settings: Mapping[str, Any] = field(default_factory=dict)
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def profile(self, name: str) -> Profile:
        """The profile `name`, its API key read from `api_key_env` if it names a variable."""
        raw = self.profiles.get(name)
        if raw is None:
            known = ", ".join(sorted(self.profiles)) or "none"
            where = self.path or config_path()
            raise ConfigError(
                f"no profile {name!r} in {where} (profiles there: {known}); add a "
                f"[profiles.{name}] table with username and api_key_env"
            )
        api_key = raw.get("api_key")
        env = raw.get("api_key_env")
        if env is not None:
            api_key = os.environ.get(env)
            if not api_key:
                raise ConfigError(
                    f"profile {name!r} takes its API key from ${env}, which is not set; "
                    f"export {env}=... (the key is in the ClickSend dashboard -> API Credentials)"
                )
        options = {k: v for k, v in raw.items() if k not in _CREDENTIAL_KEYS}
        return Profile(name, raw.get("username"), api_key, raw.get("base_url"), options)


def config_path() -> Path:
    """Where the configuration file is looked for."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base).expanduser() / "csql" / "config.toml"


def load(path: Path | None = None) -> Config:
    """The configuration at `path` (default config_path()); an empty one if the file is absent."""
    path = path or config_path()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return Config(path)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    unknown = set(data) - {"settings", "profiles"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) {', '.join(sorted(unknown))}; the file has "
            "[settings] and [profiles.NAME]"
        )
    settings = _table(data, "settings", path)
    for key, value in settings.items():
        want = SETTING_TYPES.get(key)
        if want is None:
            raise ConfigError(
                f"{path}: unknown setting {key!r}; known: {', '.join(sorted(SETTING_TYPES))}"
            )
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError(f"{path}: setting {key} = {value!r} has the wrong type")
    profiles = _table(data, "profiles", path)
    for name, body in profiles.items():
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: profiles.{name} must be a table ([profiles.{name}])")
        if "api_key" in body and "api_key_env" in body:
            raise ConfigError(f"{path}: profile {name!r} has both api_key and api_key_env")
        for key in _CREDENTIAL_KEYS:
            if key in body and not isinstance(body[key], str):
                raise ConfigError(f"{path}: profiles.{name}.{key} must be a string")
    return Config(path, settings, profiles)


def _table(data: dict, key: str, path: Path) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key} must be a table ([{key}])")
    return value


def connect_arguments(
    username: str | None,
    api_key: str | None,
    base_url: str | None,
    profile: str | None,
    options: Mapping[str, Any],
) -> tuple[str | None, str | None, str, dict[str, Any]]:
    """(username, api_key, base_url, options) for csql.connect: see the module docstring."""
    env_user = os.environ.get("CLICKSEND_USERNAME")
    env_key = os.environ.get("CLICKSEND_API_KEY")
    chosen: Profile | None = None
    profile = profile or os.environ.get(PROFILE_ENV) or None
    if profile is not None:
        chosen = load().profile(profile)
    elif username is None and api_key is None and not env_user and not env_key:
        cfg = load()
        default = cfg.settings.get("profile")
        if default:
            chosen = cfg.profile(default)
    if chosen is not None:
        username = username if username is not None else chosen.username
        api_key = api_key if api_key is not None else chosen.api_key
        base_url = base_url or chosen.base_url
        options = {**chosen.options, **options}
    username = username if username is not None else env_user
    api_key = api_key if api_key is not None else env_key
    base_url = base_url or os.environ.get("CLICKSEND_BASE_URL") or DEFAULT_BASE_URL
    return username, api_key, base_url, dict(options)


__all__ = [
    "CONFIG_ENV",
    "PROFILE_ENV",
    "Config",
    "ConfigError",
    "Profile",
    "config_path",
    "connect_arguments",
    "load",
]
