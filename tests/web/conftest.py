"""The web app's personas: Alice (admin), Bob (responder) and Charlie (viewer) with
passwords, and a way to log a test client in as one of them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.services import passwords
from tocsin.services.actor import Actor
from tocsin.storage.models import User, WebSession

PASSWORD = "correct horse battery"

LogIn = Callable[[TestClient, str], str]


@pytest.fixture
def web_personas(personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock) -> Personas:
    """The personas, each with the password PASSWORD."""
    with sessions() as db:
        for persona in (personas.alice, personas.bob, personas.charlie):
            passwords.set_password(db, Actor.system("tests"), clock.now(), persona.email, PASSWORD)
        db.commit()
    return personas


@pytest.fixture
def log_in(web_personas: Personas, sessions: sessionmaker[Session]) -> LogIn:
    """Log a client in through the form; returns the session's CSRF token (which the
    pages carry, in the body's hx-headers and in every form)."""

    def run(client: TestClient, email: str) -> str:
        response = client.post(
            "/login", data={"email": email, "password": PASSWORD, "next": "/"}, follow_redirects=False
        )
        assert response.status_code == 303, response.text
        with sessions() as db:
            token = db.scalar(
                select(WebSession.csrf_token)
                .join(User, User.id == WebSession.user_id)
                .where(User.email == email)
                .order_by(WebSession.id.desc())
                .limit(1)
            )
        assert token is not None
        return token

    return run
