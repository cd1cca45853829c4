"""Errors that cross layers.

    TocsinError
    ├── NotFound            the named object does not exist
    ├── Conflict            the request clashes with the current state
    │   └── InvalidTransition   a status move the state machine refuses
    ├── ValidationFailed    input is well-formed but not acceptable (names the field)
    ├── Unauthenticated     no credentials, or unknown ones
    ├── Forbidden           credentials lack the scope
    └── Unavailable         a part of the server is restarting: nothing was done, retry

Only `tocsin.api.problems` turns these into HTTP status codes.
"""

from __future__ import annotations


class TocsinError(Exception):
    title = "Error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(TocsinError):
    title = "Not found"


class Conflict(TocsinError):
    title = "Conflict"


class InvalidTransition(Conflict):
    title = "Invalid status change"


class ValidationFailed(TocsinError):
    title = "Invalid input"


class Unauthenticated(TocsinError):
    title = "Unauthenticated"


class Forbidden(TocsinError):
    title = "Forbidden"


class Unavailable(TocsinError):
    title = "Service unavailable"
