"""Moved to csql.shell.safety (kept so `from csql.safety import assess` goes on working)."""

from csql.shell.safety import *  # noqa: F403
