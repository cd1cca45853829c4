"""Who is making a change: a user through a token or session, or the engine."""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.domain.access import Scope


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str
    scope: Scope

    @classmethod
    def system(cls, name: str = "tocsin") -> Actor:
        return cls(user_id=None, name=name, scope=Scope.ADMIN)


ENGINE = Actor.system("engine")
