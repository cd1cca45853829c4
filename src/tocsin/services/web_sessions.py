"""Logging in to the web app: a session per browser, its secret in a cookie.

The cookie carries 256 random bits and the row keeps only their SHA-256 (as API
tokens do). A session ends 12 hours after its last use, or 30 days after login,
whichever comes first; a password change or deactivation ends all of a user's."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tocsin.domain.access import scope_for_role
from tocsin.errors import Unauthenticated
from tocsin.services import audit, passwords
from tocsin.services.actor import Actor
from tocsin.services.tokens import hash_token
from tocsin.storage import models
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import web_sessions as repo

IDLE_TIMEOUT = timedelta(hours=12)
MAX_AGE = timedelta(days=30)
# last_seen_at is written at most this often: one small write a minute, not one a page.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Opened:
    row: models.WebSession
    secret: str


def log_in(session: Session, now: datetime, email: str, password: str, user_agent: str = "") -> Opened:
    # One answer for an unknown e-mail, a wrong password and a deactivated user: the
    # login form must not tell which addresses have accounts.
    user = directory.user_by_email(session, email.strip())
    ok = passwords.verify(user.password_hash if user is not None else None, password)
    if user is None or not ok or not user.active:
        raise Unauthenticated("wrong e-mail or password")
    secret = secrets.token_urlsafe(32)
    row = models.WebSession(
        token_hash=hash_token(secret),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=min(now + IDLE_TIMEOUT, now + MAX_AGE),
        user_agent=user_agent[:300],
    )
    row.user = user
    session.add(row)
    audit.record(session, Actor(user.id, user.name, scope_for_role(user.role)), now, "login", "user", user.email, {})
    session.flush()
    return Opened(row, secret)


def authenticate(session: Session, secret: str, now: datetime) -> models.WebSession:
    row = repo.session_by_hash(session, hash_token(secret))
    if row is None or row.expires_at <= now:
        raise Unauthenticated("your session has ended; log in again")
    if not row.user.active:
        raise Unauthenticated("this user is deactivated")
    if now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
        row.expires_at = min(now + IDLE_TIMEOUT, row.created_at + MAX_AGE)
    return row


def log_out(session: Session, secret: str) -> None:
    repo.delete_by_hash(session, hash_token(secret))
    session.flush()


def prune(session: Session, now: datetime) -> int:
    """Forget ended sessions (the engine's housekeeping)."""
    return repo.delete_expired(session, now)
