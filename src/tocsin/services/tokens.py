"""API tokens: shown once, stored as a SHA-256 hash.

Tokens carry 256 random bits, so a fast hash is enough (unlike passwords,
which get argon2): nothing can be guessed, and lookup stays an index hit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.domain.access import Scope
from tocsin.errors import NotFound, Unauthenticated, ValidationFailed
from tocsin.services import audit
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import tokens as repo

TOKEN_PREFIX = "tcn_"  # noqa: S105 - a marker that makes leaked tokens greppable, not a secret


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    row: models.ApiToken
    secret: str


def create(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    user_email: str,
    name: str,
    scope: str,
    expires_at: datetime | None = None,
) -> IssuedToken:
    user = directory.user_by_email(session, user_email)
    if user is None or not user.active:
        raise NotFound(f"no user {user_email!r}", field="user")
    try:
        parsed = Scope(scope)
    except ValueError:
        raise ValidationFailed(f"scope must be read, write or admin, not {scope!r}", field="scope") from None
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = models.ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:10],
        token_hash=hash_token(secret),
        scope=parsed.value,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    audit.record(session, actor, now, "create", "token", f"{user.email}/{name}", {"scope": parsed.value})
    session.flush()
    return IssuedToken(row, secret)


def authenticate(session: Session, secret: str, now: datetime) -> Actor:
    row = repo.token_by_hash(session, hash_token(secret))
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("unknown or revoked token")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("token expired")
    if not row.user.active:
        raise Unauthenticated("the token's user is deactivated")
    # Coarse last-used stamp: one write a minute per token, not one per request.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
    return Actor(user_id=row.user_id, name=row.user.email, scope=Scope(row.scope))


def revoke(session: Session, actor: Actor, now: datetime, token_id: int) -> None:
    row = session.get(models.ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}", field="token")
    row.revoked_at = now
    audit.record(session, actor, now, "revoke", "token", str(token_id))
    session.flush()
