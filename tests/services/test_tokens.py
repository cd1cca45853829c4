from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.access import Scope
from tocsin.errors import NotFound, Unauthenticated, ValidationFailed
from tocsin.services import tokens
from tocsin.services.actor import Actor
from tocsin.storage.models import ApiToken, AuditEvent


def test_only_the_hash_of_a_token_is_stored(session: Session, personas: Personas, clock: FrozenClock) -> None:
    issued = tokens.create(
        session, personas.alice.actor, clock.now(), user_email=personas.bob.email, name="ci", scope="read"
    )
    session.commit()
    stored = session.scalars(select(ApiToken).where(ApiToken.id == issued.row.id)).one()
    assert stored.token_hash == tokens.hash_token(issued.secret)
    assert issued.secret not in (stored.token_hash, stored.prefix, stored.name)
    actor = tokens.authenticate(session, issued.secret, clock.now())
    assert (actor.name, actor.scope) == (personas.bob.email, Scope.READ)


def test_expired_and_revoked_tokens_are_refused(session: Session, personas: Personas, clock: FrozenClock) -> None:
    issued = tokens.create(
        session,
        personas.alice.actor,
        clock.now(),
        user_email=personas.bob.email,
        name="short",
        scope="write",
        expires_at=clock.now() + timedelta(hours=1),
    )
    tokens.authenticate(session, issued.secret, clock.now())
    clock.advance(timedelta(hours=1))
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.authenticate(session, issued.secret, clock.now())
    tokens.revoke(session, personas.alice.actor, clock.now(), issued.row.id)
    with pytest.raises(Unauthenticated, match="unknown or revoked"):
        tokens.authenticate(session, issued.secret, clock.now() - timedelta(hours=1))


def test_a_deactivated_users_tokens_stop_working(session: Session, personas: Personas, clock: FrozenClock) -> None:
    from tocsin.storage.repositories.directory import user_by_email

    user = user_by_email(session, personas.bob.email)
    assert user is not None
    user.active = False
    session.flush()
    with pytest.raises(Unauthenticated, match="deactivated"):
        tokens.authenticate(session, personas.bob.token, clock.now())


def test_creating_a_token_is_audited_with_its_actor(session: Session, personas: Personas, clock: FrozenClock) -> None:
    tokens.create(session, personas.alice.actor, clock.now(), user_email=personas.bob.email, name="ci", scope="admin")
    event = session.scalars(select(AuditEvent).where(AuditEvent.object_type == "token").order_by(AuditEvent.id)).all()[
        -1
    ]
    assert (event.actor_name, event.action, event.object_key, event.detail) == (
        personas.alice.email,
        "create",
        f"{personas.bob.email}/ci",
        {"scope": "admin"},
    )


def test_bad_scope_and_unknown_user(session: Session, personas: Personas, clock: FrozenClock) -> None:
    system = Actor.system()
    with pytest.raises(ValidationFailed) as caught:
        tokens.create(session, system, clock.now(), user_email=personas.bob.email, name="x", scope="owner")
    assert caught.value.field == "scope"
    with pytest.raises(NotFound):
        tokens.create(session, system, clock.now(), user_email="nobody@example.com", name="x", scope="read")
