"""The `csql` shell: the interactive REPL and batch scripts (repl), TAB completion
(completion), the terminal and the process (terminal), rendering results (output), scripts
of statements and dot commands (script), which statements need confirmation (safety) and
what they would do (confirm).

Names are imported on first use, so `csql -c` does not pay for prompt_toolkit or rich.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Shell": "csql.shell.repl",
    "Settings": "csql.shell.repl",
    "run_shell": "csql.shell.repl",
    "SqlCompleter": "csql.shell.completion",
    "tables_in": "csql.shell.completion",
    "statement_complete": "csql.shell.terminal",
    "split_script": "csql.shell.script",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'csql.shell' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = sorted(_EXPORTS)
