"""`.cache on|off|clear|ttl N` in the shell (the shell's dot command calls `cache_command`).

The interactive shell connects with a short cache TTL (csql.sync.cache.SHELL_TTL) so that
exploring (the same table queried, narrowed, joined) does not re-fetch it; `.cache` shows
the state, `.cache off` reads fresh every time, `.cache clear` forgets this account's pages.
"""

from __future__ import annotations

from typing import Any

from csql.sync.cache import CACHE, SHELL_TTL, CachedFetch, account_key, clear_account

USAGE = ".cache [on|off|clear|ttl SECONDS]"


def _fetcher(session: Any, create: bool) -> CachedFetch | None:
    if session.cache is None and create:
        session.cache = CachedFetch(session.catalog, session.client, SHELL_TTL)
    return session.cache


def status(session: Any) -> str:
    cache = session.cache
    if cache is None or not cache.enabled or cache.ttl <= 0:
        return "cache off: every statement reads fresh pages (.cache on to keep them)"
    account = account_key(session.client)
    entries = [e for k, e in CACHE._entries.items() if k[0] == account]
    size = sum(e.nbytes for e in entries) / 1e6
    return (f"cache on: pages are kept {cache.ttl:g} s; {len(entries)} cached streams "
            f"({size:.1f} MB) for this account, {cache.hits} answered from the cache")  # fmt: skip


def cache_command(session: Any, arg: str) -> tuple[bool, str]:
    """(ok, message) for `.cache ARG`."""
    words = arg.split()
    if not words:
        return True, status(session)
    verb = words[0].lower()
    if verb == "on" and len(words) == 1:
        cache = _fetcher(session, create=True)
        cache.enabled = True
        if cache.ttl <= 0:
            cache.ttl = SHELL_TTL
        return True, status(session)
    if verb == "off" and len(words) == 1:
        if session.cache is not None:
            session.cache.enabled = False
        return True, status(session)
    if verb == "clear" and len(words) == 1:
        n = clear_account(session.client)
        return True, f"cache cleared ({n} cached streams dropped)"
    if verb == "ttl" and len(words) == 2:
        try:
            ttl = float(words[1])
        except ValueError:
            return False, f"{words[1]!r} is not a number of seconds; {USAGE}"
        if ttl < 0:
            return False, f"the TTL is a number of seconds >= 0; {USAGE}"
        cache = _fetcher(session, create=True)
        cache.ttl, cache.enabled = ttl, ttl > 0
        return True, status(session)
    return False, f"usage: {USAGE}"
