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
