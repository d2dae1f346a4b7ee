"""The PEP 249 exception tree, shared by every layer.

Every error a user can meet is one of these classes, so scripts can catch them the way they
catch any DB-API driver's errors. Messages say what went wrong and what to do next.
"""

from __future__ import annotations


class Warning(Exception):
    """Important warnings, e.g. data truncation."""


class Error(Exception):
    """Base class of every csql error."""


class InterfaceError(Error):
    """Misuse of the DB-API interface itself (closed cursor or connection)."""


class DatabaseError(Error):
    """Errors related to ClickSend or the data."""


class DataError(DatabaseError):
    """Bad values: a type that does not fit a column, a value out of range."""


class OperationalError(DatabaseError):
    """Errors of the service: authentication, network, rate limit, server errors."""


class OutcomeUnknownError(OperationalError):
    """A request that changes something may have reached ClickSend, but no answer came back.

    A timeout, a dropped connection or a 5xx after the request was written: ClickSend may or
    may not have acted (sent, bought, created, cancelled). csql never resends such a request.
    `method` and `path` name it; a write statement's error also carries `report` (its
    `unknown` rows). Check ClickSend (the table, or the history) before running it again.
    """

    def __init__(self, message: str, method: str = "", path: str = "",
                 status: int | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.method, self.path, self.status = method, path, status


#: the same class under the other names the issue uses
UnknownOutcomeError = UnknownOutcome = OutcomeUnknownError


class IntegrityError(DatabaseError):
    """A write that ClickSend refused because of the data (missing required field, duplicate)."""


class InternalError(DatabaseError):
    """An inconsistency inside csql; please report it."""


class ProgrammingError(DatabaseError):
    """Bad SQL: syntax, unknown table or column, a required key that is missing."""


class NotSupportedError(DatabaseError):
    """An operation the object or csql does not support."""


class CatalogError(InternalError):
    """The catalog in schema/ is broken; the message names the file, the table and the key."""


__all__ = [
    "CatalogError",
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "OutcomeUnknownError",
    "ProgrammingError",
    "UnknownOutcome",
    "UnknownOutcomeError",
    "Warning",
]
