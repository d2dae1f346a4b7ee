"""Moved to csql.shell.output (kept so `from csql import output` goes on working)."""

from csql.shell.output import *  # noqa: F403
from csql.shell.output import __doc__ as _doc  # noqa: F401
