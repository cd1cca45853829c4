"""Settings → users and teams, and one's own profile: who sees what, who changes what, and
what a change does to people's sessions."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import START, Personas
from tests.web.conftest import PASSWORD, LogIn
from tocsin.errors import ValidationFailed
from tocsin.services import directory
from tocsin.services.actor import Actor
from tocsin.storage.models import AuditEvent, Team, TeamMember, User, WebSession
from tocsin.web.auth import COOKIE

NEW_PASSWORD = "a much longer passphrase"


def user_id(sessions: sessionmaker[Session], email: str) -> int:
    with sessions() as db:
        found = db.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return found


def can_log_in(client: TestClient, email: str, password: str) -> bool:
    fresh = TestClient(client.app)
    response = fresh.post("/login", data={"email": email, "password": password}, follow_redirects=False)
    return bool(response.status_code == 303)


def audited(sessions: sessionmaker[Session], action: str, key: str) -> list[AuditEvent]:
    with sessions() as db:
        query = (
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.object_key == key).order_by(AuditEvent.id)
        )
        return list(db.scalars(query).all())


def shown_once(html: str) -> str:
    found = re.search(r'<code class="secret" id="new-password">([^<]+)</code>', html)
    assert found is not None, html
    return found.group(1)


# ---- users -------------------------------------------------------------------------------


def test_everyone_sees_the_users_with_their_role_and_time_zone(client: TestClient, log_in: LogIn) -> None:
    log_in(client, "charlie@example.com")
    page = client.get("/settings/users")
    assert page.status_code == 200
    for shown in ("Alice Admin", "bob@example.com", "responder", "viewer", "UTC", "active"):
        assert shown in page.text
    # A viewer sees no way to change anyone.
    assert "New user" not in page.text
    assert "/settings/users/" not in page.text
    assert client.get("/settings/users/new").status_code == 403


def test_an_admin_creates_a_user_who_can_then_log_in(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    csrf = log_in(client, "alice@example.com")
    form = client.get("/settings/users/new")
    assert 'name="csrf_token"' in form.text

    created = client.post(
        "/settings/users",
        data={
            "csrf_token": csrf,
            "name": "Dana Oncall",
            "email": "dana@example.com",
            "role": "responder",
            "time_zone": "Europe/Berlin",
            "password": NEW_PASSWORD,
        },
    )
    assert created.status_code == 201
    assert "Created Dana Oncall" in created.text
    assert NEW_PASSWORD not in created.text  # the admin typed it: never echoed
    with sessions() as db:
        dana = db.scalar(select(User).where(User.email == "dana@example.com"))
        assert dana is not None
        assert (dana.role, dana.time_zone, dana.active) == ("responder", "Europe/Berlin", True)
    assert can_log_in(client, "dana@example.com", NEW_PASSWORD)
    assert audited(sessions, "create", "dana@example.com")
    assert "Dana Oncall" in client.get("/settings/users").text


def test_a_generated_password_is_shown_once_and_works(client: TestClient, log_in: LogIn) -> None:
    csrf = log_in(client, "alice@example.com")
    created = client.post(
        "/settings/users",
        data={"csrf_token": csrf, "name": "Erin", "email": "erin@example.com", "role": "viewer", "generate": "true"},
    )
    assert created.status_code == 201
    password = shown_once(created.text)
    assert "shown only now" in created.text
    assert can_log_in(client, "erin@example.com", password)
    assert password not in client.get("/settings/users").text


def test_a_responder_cannot_create_users(client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]) -> None:
    csrf = log_in(client, "bob@example.com")
    refused = client.post(
        "/settings/users", data={"csrf_token": csrf, "name": "Mallory", "email": "m@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 403
    assert "this needs the admin role" in refused.text
    with sessions() as db:
        assert db.scalar(select(User).where(User.email == "m@example.com")) is None


def test_a_form_without_its_security_token_is_refused(client: TestClient, log_in: LogIn) -> None:
    log_in(client, "alice@example.com")
    refused = client.post("/settings/users", data={"name": "X", "email": "x@example.com", "password": PASSWORD})
    assert refused.status_code == 403


REFUSED_USERS = [
    ("email", "not-an-address", 422, "is not an e-mail address"),
    ("email", "bob@example.com", 409, "a user with e-mail &#39;bob@example.com&#39; exists"),
    ("time_zone", "Mars/Olympus", 422, "unknown time zone"),
    ("password", "short", 422, "a password needs at least 10 characters"),
]


def test_a_refused_new_user_shows_why_next_to_the_field(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    csrf = log_in(client, "alice@example.com")
    data = {"csrf_token": csrf, "name": "Frank", "email": "frank@example.com", "time_zone": "UTC", "password": PASSWORD}
    for field, value, status, message in REFUSED_USERS:
        answer = client.post("/settings/users", data={**data, field: value})
        assert answer.status_code == status, field
        assert f'id="{field}-error"' in answer.text
        assert message in answer.text
        assert 'value="Frank"' in answer.text  # what was typed is kept
    with sessions() as db:  # nothing half-made: not even the user without a password
        assert db.scalar(select(func.count()).select_from(User)) == 3


def test_an_admin_changes_a_role_and_a_time_zone(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    csrf = log_in(client, "alice@example.com")
    bob = user_id(sessions, "bob@example.com")
    page = client.get(f"/settings/users/{bob}")
    assert "Bob Responder" in page.text
    assert client.get("/settings/users/999").status_code == 404
    assert client.get(f"/settings/users/{2**64}").status_code == 422  # not a database error

    saved = client.post(
        f"/settings/users/{bob}",
        data={"csrf_token": csrf, "name": "Bob R.", "role": "admin", "time_zone": "America/New_York"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    with sessions() as db:
        row = db.get(User, bob)
        assert row is not None
        assert (row.name, row.role, row.time_zone) == ("Bob R.", "admin", "America/New_York")
    [event] = audited(sessions, "update", "bob@example.com")
    assert event.detail["role"] == {"from": "responder", "to": "admin"}
    assert "Saved." in client.get(saved.headers["location"]).text


def test_the_last_admin_can_be_neither_demoted_nor_deactivated(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    csrf = log_in(client, "alice@example.com")
    alice = user_id(sessions, "alice@example.com")
    demoted = client.post(
        f"/settings/users/{alice}", data={"csrf_token": csrf, "name": "Alice", "role": "viewer", "time_zone": "UTC"}
    )
    assert demoted.status_code == 422
    assert "the last active admin" in demoted.text
    deactivated = client.post(f"/settings/users/{alice}/active", data={"csrf_token": csrf})
    assert deactivated.status_code == 422
    with sessions() as db:  # the service refuses it too, whoever asks
        with pytest.raises(ValidationFailed, match="the last active admin"):
            directory.update_user(db, Actor.system("tests"), START, "alice@example.com", active=False)
        db.rollback()
    with sessions() as db:
        row = db.get(User, alice)
        assert row is not None
        assert (row.role, row.active) == ("admin", True)


def test_an_admin_cannot_deactivate_themselves(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    csrf = log_in(client, "alice@example.com")
    bob = user_id(sessions, "bob@example.com")
    client.post(f"/settings/users/{bob}", data={"csrf_token": csrf, "name": "Bob", "role": "admin", "time_zone": "UTC"})
    alice = user_id(sessions, "alice@example.com")
    refused = client.post(f"/settings/users/{alice}/active", data={"csrf_token": csrf})
    assert refused.status_code == 422
    assert "you cannot deactivate yourself" in refused.text
    assert client.get("/settings/users").status_code == 200


def test_deactivating_a_user_logs_them_out_and_reactivating_lets_them_back(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    bobs_browser = TestClient(client.app)
    log_in(bobs_browser, "bob@example.com")
    assert bobs_browser.get("/settings/users").status_code == 200

    csrf = log_in(client, "alice@example.com")
    bob = user_id(sessions, "bob@example.com")
    done = client.post(f"/settings/users/{bob}/active", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert "Deactivated" in client.get(done.headers["location"]).text
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == bob)) == 0
    # Bob's open page now asks him to log in, and his password no longer works.
    assert bobs_browser.get("/settings/users", follow_redirects=False).headers["location"].startswith("/login")
    assert not can_log_in(client, "bob@example.com", PASSWORD)
    assert "deactivated" in client.get("/settings/users").text
    assert audited(sessions, "deactivate", "bob@example.com")

    client.post(f"/settings/users/{bob}/active", data={"csrf_token": csrf, "active": "true"})
    assert can_log_in(client, "bob@example.com", PASSWORD)
    assert audited(sessions, "reactivate", "bob@example.com")


def test_resetting_a_password_ends_their_sessions_and_shows_the_new_one_once(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    bobs_browser = TestClient(client.app)
    log_in(bobs_browser, "bob@example.com")
    csrf = log_in(client, "alice@example.com")
    bob = user_id(sessions, "bob@example.com")

    reset = client.post(f"/settings/users/{bob}/password", data={"csrf_token": csrf})
    assert reset.status_code == 200
    password = shown_once(reset.text)
    assert bobs_browser.get("/settings/users", follow_redirects=False).status_code == 303
    assert not can_log_in(client, "bob@example.com", PASSWORD)
    assert can_log_in(client, "bob@example.com", password)
    assert audited(sessions, "set-password", "bob@example.com")


def test_an_admin_resets_their_own_password_on_their_profile_only(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    csrf = log_in(client, "alice@example.com")
    alice = user_id(sessions, "alice@example.com")
    refused = client.post(f"/settings/users/{alice}/password", data={"csrf_token": csrf})
    assert refused.status_code == 422
    assert "your profile page" in refused.text
    assert can_log_in(client, "alice@example.com", PASSWORD)


# ---- my profile --------------------------------------------------------------------------


def test_a_user_changes_their_password_and_stays_logged_in_while_other_browsers_are_not(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]
) -> None:
    phone = TestClient(client.app)
    log_in(phone, "charlie@example.com")
    csrf = log_in(client, "charlie@example.com")
    page = client.get("/profile")
    assert "charlie@example.com" in page.text

    changed = client.post(
        "/profile/password",
        data={
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert client.cookies.get(COOKIE)
    after = client.get(changed.headers["location"], follow_redirects=False)
    assert after.status_code == 200
    assert "Your password is changed" in after.text
    assert phone.get("/profile", follow_redirects=False).status_code == 303
    assert can_log_in(client, "charlie@example.com", NEW_PASSWORD)
    assert not can_log_in(client, "charlie@example.com", PASSWORD)


REFUSED_CHANGES = [
    ("wrong password!", NEW_PASSWORD, NEW_PASSWORD, "current_password", "that is not your current password"),
    (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "confirm_password", "the two new passwords differ"),
    (PASSWORD, "short", "short", "new_password", "at least 10 characters"),
]


def test_a_refused_password_change_says_why_and_changes_nothing(client: TestClient, log_in: LogIn) -> None:
    csrf = log_in(client, "bob@example.com")
    for current, new, confirm, field, message in REFUSED_CHANGES:
        data = {"csrf_token": csrf, "current_password": current, "new_password": new, "confirm_password": confirm}
        refused = client.post("/profile/password", data=data)
        assert refused.status_code == 422, field
        assert f'id="{field}-error"' in refused.text
        assert message in refused.text
    assert client.get("/profile", follow_redirects=False).status_code == 200  # still logged in
    assert can_log_in(client, "bob@example.com", PASSWORD)


def test_a_viewer_sets_their_own_time_zone(client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]) -> None:
    csrf = log_in(client, "charlie@example.com")
    bad = client.post("/profile", data={"csrf_token": csrf, "name": "Charlie", "time_zone": "Nowhere/Land"})
    assert bad.status_code == 422
    assert "unknown time zone" in bad.text
    good = client.post("/profile", data={"csrf_token": csrf, "name": "Charlie V.", "time_zone": "Asia/Tokyo"})
    assert good.status_code == 200
    assert "Saved." in good.text
    with sessions() as db:
        row = db.scalar(select(User).where(User.email == "charlie@example.com"))
        assert row is not None
        assert (row.name, row.time_zone, row.role) == ("Charlie V.", "Asia/Tokyo", "viewer")


# ---- teams -------------------------------------------------------------------------------


def team_members(sessions: sessionmaker[Session], key: str) -> set[str]:
    with sessions() as db:
        query = (
            select(User.email)
            .join(TeamMember, TeamMember.user_id == User.id)
            .join(Team, Team.id == TeamMember.team_id)
            .where(Team.key == key)
        )
        return set(db.scalars(query).all())


def test_everyone_sees_the_teams_and_their_members(client: TestClient, log_in: LogIn) -> None:
    log_in(client, "charlie@example.com")
    page = client.get("/settings/teams")
    assert page.status_code == 200
    assert "Platform" in page.text
    assert "Alice Admin, Bob Responder" in page.text
    assert "New team" not in page.text
    assert client.get("/settings/teams/platform").status_code == 403


def test_an_admin_creates_a_team_and_changes_its_members(
    client: TestClient, log_in: LogIn, sessions: sessionmaker[Session], personas: Personas
) -> None:
    csrf = log_in(client, "alice@example.com")
    form = client.get("/settings/teams/new")
    assert 'value="charlie@example.com"' in form.text  # a checkbox per person

    created = client.post(
        "/settings/teams",
        data={"csrf_token": csrf, "key": "payments", "name": "Payments", "members": [personas.bob.email]},
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert team_members(sessions, "payments") == {"bob@example.com"}

    edit = client.get("/settings/teams/payments")
    assert re.search(r'value="bob@example.com" checked', edit.text)
    client.post(
        "/settings/teams/payments",
        data={"csrf_token": csrf, "name": "Payments", "members": ["charlie@example.com", "alice@example.com"]},
    )
    assert team_members(sessions, "payments") == {"alice@example.com", "charlie@example.com"}
    [event] = audited(sessions, "update", "payments")
    assert event.detail["members"] == {
        "added": ["charlie@example.com", "alice@example.com"],
        "removed": ["bob@example.com"],
    }
    assert "Alice Admin, Charlie Viewer" in client.get("/settings/teams").text or "Charlie Viewer, Alice Admin" in (
        client.get("/settings/teams").text
    )


def test_a_refused_team_says_why(client: TestClient, log_in: LogIn) -> None:
    csrf = log_in(client, "alice@example.com")
    taken = client.post("/settings/teams", data={"csrf_token": csrf, "key": "platform", "name": "Again"})
    assert taken.status_code == 409
    assert 'id="key-error"' in taken.text
    bad = client.post("/settings/teams", data={"csrf_token": csrf, "key": "Not A Key!", "name": "X"})
    assert bad.status_code == 422
    assert 'id="key-error"' in bad.text


def test_a_responder_cannot_change_a_team(client: TestClient, log_in: LogIn, sessions: sessionmaker[Session]) -> None:
    csrf = log_in(client, "bob@example.com")
    refused = client.post("/settings/teams/platform", data={"csrf_token": csrf, "name": "Mine", "members": []})
    assert refused.status_code == 403
    assert team_members(sessions, "platform") == {"alice@example.com", "bob@example.com"}


def test_the_settings_index_links_every_section(client: TestClient, log_in: LogIn) -> None:
    log_in(client, "charlie@example.com")
    page = client.get("/settings")
    assert page.status_code == 200
    for href in ("/settings/users", "/settings/teams", "/settings/integrations", "/settings/channels", "/profile"):
        assert f'href="{href}"' in page.text
    assert 'aria-current="page">Settings' in page.text
