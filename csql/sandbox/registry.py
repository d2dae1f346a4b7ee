"""The one registry of the sandbox's behaviour beyond the generic, catalog-driven endpoints.

routes.App serves every table and procedure of the catalog generically (list, get, insert,
update, delete, a checked procedure call). What ClickSend does beyond that (a send charges the
account and writes history, a cancel changes a status, a list endpoint omits fields) is
registered here by name, in the manner of datasette's hookspecs: each hook point below has a
name, a signature and a documented moment when routes.App calls it; an implementation is
registered for a table name (or `ANY_TABLE`) or, for actions, for a 'METHOD /path' of the
catalog. routes.py knows only this module; actions.py registers into it (routes never imports
actions, so the two no longer import each other).

| hook | registered for | signature | called | returns |
|---|---|---|---|---|
| `LIST` | table | `(table, req, params)` | before a list is served | a body, or None for the generic list |
| `LIST_EXTRAS` | table | `(table)` | after a `paging: none` list is built | fields merged into `data` |
| `ENSURE_SCOPE` | table or ANY_TABLE | `(table, scope)` | before a list with path keys is read | None |
| `DECORATE` | table | `(row)` | on every row a list or get serves | the row as served |
| `INSERT` | table | `(table, ep, req, params)` | instead of the generic insert | (status, body), or None for the generic insert |
| `AFTER_INSERT` | table | `(table, row)` | after the generic insert stored a row | None |
| `AFTER_DELETE` | table | `(table, row)` | after the generic delete removed a row | None |
| action | 'METHOD /path' | `(req, params, args)` | instead of the generic procedure result | (status, body) |
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from csql.sandbox import wire

#: a table hook registered for ANY_TABLE runs for every table (after the table's own, if any)
ANY_TABLE = "*"


class Hook(Enum):
    """The points where routes.App lets registered behaviour take over (see the module doc)."""

    LIST = "list"
    LIST_EXTRAS = "list_extras"
    ENSURE_SCOPE = "ensure_scope"
    DECORATE = "decorate"
    INSERT = "insert"
    AFTER_INSERT = "after_insert"
    AFTER_DELETE = "after_delete"


Action = Callable[..., tuple[int, Any]]


class Registry:
    """Behaviour by name: table hooks by (Hook, table name), actions by 'METHOD /path'."""

    def __init__(self) -> None:
        self._hooks: dict[tuple[Hook, str], Callable[..., Any]] = {}
        self._actions: dict[str, Action] = {}

    # -- registering -----------------------------------------------------------------------

    def table(self, hook: Hook, *names: str) -> Callable[[Callable], Callable]:
        """Decorator: `fn` implements `hook` for each of the table `names`."""

        def register(fn: Callable) -> Callable:
            for name in names:
                key = (hook, name)
                if key in self._hooks:
                    raise ValueError(f"{hook.value} is already registered for {name}")
                self._hooks[key] = fn
            return fn

        return register

    def action(self, method: str, path: str) -> Callable[[Action], Action]:
        """Decorator: `fn` is the behaviour of the procedure at METHOD path."""

        def register(fn: Action) -> Action:
            key = _action_key(method, path)
            if key in self._actions:
                raise ValueError(f"an action is already registered for {key}")
            self._actions[key] = fn
            return fn

        return register

    # -- looking up ------------------------------------------------------------------------

    def hook(self, hook: Hook, table_name: str) -> Callable[..., Any] | None:
        return self._hooks.get((hook, table_name))

    def call(self, hook: Hook, table_name: str, *args: Any) -> Any:
        """Run the table's implementation of `hook`, then ANY_TABLE's; the first non-None
        result wins (None when nothing is registered)."""
        for name in (table_name, ANY_TABLE):
            fn = self._hooks.get((hook, name))
            if fn is not None:
                result = fn(*args)
                if result is not None:
                    return result
        return None

    def action_for(self, method: str, path: str) -> Action | None:
        return self._actions.get(_action_key(method, path))

    def names(self) -> dict[str, list[str]]:
        """What is registered, for documentation and tests: hook -> table names, and actions."""
        out: dict[str, list[str]] = {}
        for hook, name in self._hooks:
            out.setdefault(hook.value, []).append(name)
        out["action"] = sorted(self._actions)
        return out


def _action_key(method: str, path: str) -> str:
    return f"{method.upper()} {wire.norm_path(path)}"
