"""Web passwords: argon2id hashes (slow on purpose, unlike API tokens' SHA-256)."""

from __future__ import annotations

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from tocsin.domain.access import password_problem
from tocsin.errors import NotFound, ValidationFailed
from tocsin.services import audit
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import web_sessions as sessions_repo

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a wrong e-mail costs as long as a
# wrong password and the answer's timing does not tell which users exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def generate() -> str:
    """A password for a first start or a reset: 16 random URL-safe characters."""
    return secrets.token_urlsafe(12)


def set_password(session: Session, actor: Actor, now: datetime, email: str, password: str) -> models.User:
    """Set a user's password and end their web sessions (a reset logs every browser out)."""
    problem = password_problem(password)
    if problem:
        raise ValidationFailed(problem, field="password")
    user = directory.user_by_email(session, email)
    if user is None:
        raise NotFound(f"no user {email!r}", field="user")
    user.password_hash = hash_password(password)
    sessions_repo.delete_for_user(session, user.id)
    audit.record(session, actor, now, "set-password", "user", email, {})
    session.flush()
    return user
