"""Seeding a person to page, shared by the delivery tests of the engine and of the service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.services import incidents
from tocsin.storage import models


@dataclass
class Bob:
    user_id: int
    incident_id: int
    methods: dict[str, int]  # contact method name → id


def seed_bob(
    sessions: sessionmaker[Session],
    personas: Personas,
    clock: FrozenClock,
    methods: Sequence[tuple[str, str, str, str | None]],
) -> Bob:
    """A P1 incident and Bob's contact methods (name, kind, address, mention), each with a
    rule one minute after the one before it."""
    with sessions() as db:
        user = db.scalars(select(models.User).where(models.User.email == personas.bob.email)).one()
        incident = incidents.declare(db, personas.bob.actor, clock.now(), title="Checkout is down", severity="P1")
        ids: dict[str, int] = {}
        for delay, (name, kind, address, mention) in enumerate(methods):
            method = models.ContactMethod(
                user_id=user.id, name=name, kind=kind, address=address, mention=mention, created_at=clock.now()
            )
            db.add(method)
            db.flush()
            db.add(models.NotificationRule(user_id=user.id, contact_method_id=method.id, delay_s=delay * 60))
            ids[name] = method.id
        db.commit()
        return Bob(user.id, incident.id, ids)
