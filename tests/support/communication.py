"""Seeding people to remind, shared by the communication tests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tocsin.clock import FrozenClock
from tocsin.services import contacts
from tocsin.services.actor import Actor
from tocsin.storage import models

SYSTEM = Actor.system("tests")


def reachable(sessions: sessionmaker[Session], clock: FrozenClock, *emails: str) -> None:
    """Give each person a verified e-mail contact method and a rule for it."""
    with sessions() as db:
        for email in emails:
            contacts.add_contact_method(
                db, SYSTEM, clock.now(), email, name="mail", kind="email", address=email, verified=True
            )
            contacts.add_rule(db, SYSTEM, clock.now(), email, contact_method="mail")
        db.commit()


def reminders_to(session: Session, incident_id: int) -> list[tuple[str, str]]:
    """(user e-mail, payload title) of every reminder notification of the incident."""
    session.expire_all()
    rows = session.execute(
        select(models.User.email, models.Notification.payload)
        .join(models.User, models.User.id == models.Notification.user_id)
        .where(models.Notification.incident_id == incident_id, models.Notification.kind == "reminder")
        .order_by(models.Notification.id)
    ).all()
    session.commit()
    return [(email, str(payload["title"])) for email, payload in rows]


def notes(session: Session, incident_id: int, event: str) -> list[models.TimelineEntry]:
    session.expire_all()
    entries = list(
        session.scalars(
            select(models.TimelineEntry)
            .where(models.TimelineEntry.incident_id == incident_id)
            .order_by(models.TimelineEntry.id)
        )
    )
    session.commit()
    return [e for e in entries if e.data.get("event") == event]
