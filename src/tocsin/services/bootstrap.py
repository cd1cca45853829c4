"""First start: the shipped defaults and an admin who can log in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.services import directory, passwords, severities, tokens
from tocsin.services.actor import Actor
from tocsin.storage.repositories import directory as directory_repo


@dataclass(frozen=True)
class FirstStart:
    admin_email: str
    token: str
    password: str


def ensure_defaults(session: Session) -> None:
    severities.ensure_defaults(session)


def first_start(session: Session, now: datetime, admin_email: str) -> FirstStart | None:
    """Create the admin, its API token and its web password when the database has no
    users yet; None afterwards."""
    ensure_defaults(session)
    if directory_repo.count_users(session) > 0:
        return None
    system = Actor.system("first-start")
    admin = directory.create_user(session, system, now, email=admin_email, name="Administrator", role="admin")
    password = passwords.generate()
    admin.password_hash = passwords.hash_password(password)
    issued = tokens.create(session, system, now, user_email=admin_email, name="first-start", scope="admin")
    return FirstStart(admin_email, issued.secret, password)
