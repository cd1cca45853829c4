"""Logging in, sessions, roles and CSRF, on a page of each role made for these tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.web.conftest import PASSWORD, LogIn
from tocsin.clock import FrozenClock
from tocsin.services import bootstrap, passwords
from tocsin.services.actor import Actor
from tocsin.services.tokens import hash_token
from tocsin.storage.models import WebSession
from tocsin.web.auth import COOKIE, Responder, Viewer, WebAdmin, mark_web

pages = APIRouter(dependencies=[Depends(mark_web)])


@pages.get("/t/read")
def read_page(user: Viewer) -> PlainTextResponse:
    return PlainTextResponse(f"hello {user.name}")


@pages.post("/t/act")
def act(user: Responder) -> PlainTextResponse:
    return PlainTextResponse(f"acted as {user.role}")


@pages.post("/t/admin")
def administer(user: WebAdmin) -> PlainTextResponse:
    return PlainTextResponse("administered")


@pytest.fixture
def web(client: TestClient) -> TestClient:
    app = client.app
    app.include_router(pages)  # type: ignore[attr-defined]
    return client


def test_a_page_without_a_session_sends_the_browser_to_log_in(web: TestClient) -> None:
    response = web.get("/t/read?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/t/read%3Fx%3D1"


def test_an_htmx_request_without_a_session_is_redirected_by_htmx(web: TestClient) -> None:
    response = web.get("/t/read", headers={"HX-Request": "true", "HX-Current-URL": "http://x/incidents/5"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/login?next=/incidents/5"


def test_logging_in_sets_an_http_only_cookie_whose_secret_is_stored_hashed(
    web: TestClient, web_personas: Personas, sessions: sessionmaker[Session]
) -> None:
    response = web.post(
        "/login",
        data={"email": "bob@example.com", "password": PASSWORD, "next": "/t/read"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/t/read"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    secret = web.cookies[COOKIE]
    with sessions() as db:
        row = db.scalar(select(WebSession))
        assert row is not None
        assert row.token_hash == hash_token(secret)
        assert secret not in (row.token_hash, row.csrf_token)
    assert web.get("/t/read").text == "hello Bob Responder"


@pytest.mark.parametrize(
    ("email", "password"), [("bob@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)]
)
def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    web: TestClient, web_personas: Personas, email: str, password: str
) -> None:
    response = web.post("/login", data={"email": email, "password": password}, follow_redirects=False)
    assert response.status_code == 401
    assert "wrong e-mail or password" in response.text
    assert COOKIE not in web.cookies


def test_a_login_never_redirects_off_the_server(web: TestClient, web_personas: Personas) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = web.post(
            "/login", data={"email": "bob@example.com", "password": PASSWORD, "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/"


def test_a_state_change_needs_the_sessions_csrf_token(web: TestClient, log_in: LogIn) -> None:
    token = log_in(web, "bob@example.com")
    refused = web.post("/t/act")
    assert refused.status_code == 403
    assert "security token" in refused.text
    assert web.post("/t/act", headers={"X-CSRF-Token": "not-" + token}).status_code == 403
    assert web.post("/t/act", headers={"X-CSRF-Token": token}).text == "acted as responder"
    assert web.post("/t/act", data={"csrf_token": token}).text == "acted as responder"


def test_roles_decide_what_a_user_may_do(web: TestClient, log_in: LogIn) -> None:
    token = log_in(web, "charlie@example.com")
    assert web.get("/t/read").status_code == 200
    refused = web.post("/t/act", headers={"X-CSRF-Token": token})
    assert refused.status_code == 403
    assert "responder role" in refused.text
    assert "text/html" in refused.headers["content-type"]  # a page, not problem+json

    token = log_in(web, "bob@example.com")
    assert web.post("/t/admin", headers={"X-CSRF-Token": token}).status_code == 403
    token = log_in(web, "alice@example.com")
    assert web.post("/t/admin", headers={"X-CSRF-Token": token}).text == "administered"


def test_logging_out_ends_the_session(web: TestClient, log_in: LogIn) -> None:
    token = log_in(web, "bob@example.com")
    secret = web.cookies[COOKIE]
    response = web.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    web.cookies.set(COOKIE, secret)  # a stolen copy of the cookie no longer works either
    assert web.get("/t/read", follow_redirects=False).status_code == 303


def test_a_session_ends_after_twelve_idle_hours_but_not_while_used(
    web: TestClient, log_in: LogIn, clock: FrozenClock
) -> None:
    log_in(web, "bob@example.com")
    for _ in range(3):  # used every 11 hours: still in
        clock.advance(timedelta(hours=11))
        assert web.get("/t/read", follow_redirects=False).status_code == 200
    clock.advance(timedelta(hours=12, seconds=1))
    response = web.get("/t/read", follow_redirects=False)
    assert response.status_code == 303
    assert "reason=" in response.headers["location"]


def test_a_new_password_logs_every_browser_out(
    web: TestClient, log_in: LogIn, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    log_in(web, "bob@example.com")
    with sessions() as db:
        passwords.set_password(db, Actor.system("tests"), clock.now(), "bob@example.com", "another long password")
        db.commit()
    assert web.get("/t/read", follow_redirects=False).status_code == 303


def test_a_short_password_is_refused_naming_the_field(
    personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    from tocsin.errors import ValidationFailed

    with sessions() as db, pytest.raises(ValidationFailed) as refused:
        passwords.set_password(db, Actor.system("tests"), clock.now(), "bob@example.com", "short")
    assert refused.value.field == "password"


def test_a_deactivated_user_cannot_log_in(
    web: TestClient, web_personas: Personas, sessions: sessionmaker[Session]
) -> None:
    from tocsin.storage.repositories import directory

    with sessions() as db:
        user = directory.user_by_email(db, "bob@example.com")
        assert user is not None
        user.active = False
        db.commit()
    response = web.post("/login", data={"email": "bob@example.com", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 401


def test_the_first_start_admin_logs_in_with_the_printed_password(
    web: TestClient, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    with sessions() as db:
        started = bootstrap.first_start(db, clock.now(), "root@example.com")
        db.commit()
    assert started is not None
    assert len(started.password) >= 16
    response = web.post(
        "/login", data={"email": "root@example.com", "password": started.password}, follow_redirects=False
    )
    assert response.status_code == 303
