from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from tocsin.clock import FrozenClock
from tocsin.services import bootstrap, tokens
from tocsin.storage.models import SeverityScheme
from tocsin.storage.repositories import severities


def test_first_start_creates_one_admin_then_nothing(session: Session, clock: FrozenClock) -> None:
    started = bootstrap.first_start(session, clock.now(), "root@example.com")
    assert started is not None
    assert tokens.authenticate(session, started.token, clock.now()).scope == "admin"
    assert bootstrap.first_start(session, clock.now(), "root@example.com") is None


def test_defaults_are_created_once_and_edits_survive(session: Session) -> None:
    scheme = severities.scheme_by_name(session, "P")
    assert scheme is not None
    scheme.levels[0].description = "Everything is on fire"
    session.flush()
    bootstrap.ensure_defaults(session)
    again = severities.scheme_by_name(session, "P")
    assert again is not None
    assert again.levels[0].description == "Everything is on fire"
    assert [s.name for s in severities.list_schemes(session)] == ["P", "SEV"]


def test_the_shipped_schemes_mark_their_most_severe_level_as_the_emergency(session: Session) -> None:
    session.execute(delete(SeverityScheme))
    bootstrap.ensure_defaults(session)
    marked = {s.name: [lv.name for lv in s.levels if lv.emergency] for s in severities.list_schemes(session)}
    assert marked == {"P": ["P0"], "SEV": ["SEV1"]}
    session.rollback()
