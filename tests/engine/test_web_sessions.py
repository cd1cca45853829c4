"""Ended web sessions are forgotten by the engine, every ten minutes at most."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.engine.web_sessions import WebSessionPruning
from tocsin.services import passwords, web_sessions
from tocsin.services.actor import Actor
from tocsin.storage.models import WebSession


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count()).select_from(WebSession)) or 0)


def test_it_forgets_ended_sessions_and_keeps_live_ones(
    personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        for email in ("alice@example.com", "bob@example.com"):
            passwords.set_password(db, Actor.system("tests"), clock.now(), email, "a long enough password")
        web_sessions.log_in(db, clock.now(), "alice@example.com", "a long enough password")
        db.commit()
    clock.advance(timedelta(hours=11))
    with sessions() as db:
        web_sessions.log_in(db, clock.now(), "bob@example.com", "a long enough password")
        db.commit()
    module = WebSessionPruning()
    with sessions() as db:
        assert module.run(db, clock) == 0  # both still live
        db.commit()

    clock.advance(timedelta(hours=1, minutes=5))  # Alice's ended an hour after Bob logged in
    with sessions() as db:
        assert module.run(db, clock) == 1
        db.commit()
    assert _count(sessions) == 1

    clock.advance(timedelta(hours=10, minutes=53))  # 22:58 after Alice's login; Bob's ends at 23:00
    with sessions() as db:
        assert module.run(db, clock) == 0
        db.commit()
    clock.advance(timedelta(minutes=4))  # Bob's has ended, but ten minutes have not passed
    with sessions() as db:
        assert module.run(db, clock) == 0
        db.commit()
    assert _count(sessions) == 1
    clock.advance(timedelta(minutes=6))
    with sessions() as db:
        assert module.run(db, clock) == 1
        db.commit()
    assert _count(sessions) == 0
