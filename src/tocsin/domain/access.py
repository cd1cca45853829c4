"""API token scopes: each includes the ones below it."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}


def scope_allows(held: Scope, needed: Scope) -> bool:
    return _RANK[held] >= _RANK[needed]


# What a web user's role may do, in API scopes: a viewer reads, a responder acts on
# incidents, an admin changes the setup.
_ROLE_SCOPE = {"viewer": Scope.READ, "responder": Scope.WRITE, "admin": Scope.ADMIN}


def scope_for_role(role: str) -> Scope:
    """The scope of a user's web role; an unknown role reads only."""
    return _ROLE_SCOPE.get(role, Scope.READ)


MIN_PASSWORD_LENGTH = 10


def password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 1024:
        return "a password may have at most 1024 characters"
    return None
