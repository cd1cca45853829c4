"""PATCH /api/v1/heartbeats/{ref}: a new name or schedule, the same ping URL, pings and status."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.api.test_heartbeats import create, show
from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.services import heartbeats
from tocsin.storage import models


def edit(client: TestClient, personas: Personas, ref: str, **body: Any) -> dict[str, Any]:
    answer = client.patch(f"/api/v1/heartbeats/{ref}", json=body, headers=personas.bob.headers)
    assert answer.status_code == 200, answer.text
    edited: dict[str, Any] = answer.json()
    return edited


def test_a_period_becomes_a_cron_and_the_ping_url_and_pings_stay(client: TestClient, personas: Personas) -> None:
    code = create(client, personas, description="dump")["uuid"]
    assert client.get(f"/ping/{code}").status_code == 200
    edited = edit(
        client, personas, "nightly-backup", cron="0 3 * * *", time_zone="Europe/Berlin", grace_s=900, max_run_s=7200
    )
    assert (edited["uuid"], edited["period_s"], edited["cron"], edited["time_zone"]) == (
        code, None, "0 3 * * *", "Europe/Berlin",
    )  # fmt: skip
    assert (edited["grace_s"], edited["max_run_s"], edited["description"], edited["pings"]) == (900, 7200, "dump", 1)
    assert edited["status"] == "up"
    # Renamed: the URL still works, and so does the name in the API.
    renamed = edit(client, personas, code, name="db-dump", period_s=600, max_run_s=None)
    assert (renamed["name"], renamed["period_s"], renamed["cron"], renamed["max_run_s"]) == ("db-dump", 600, None, None)
    assert client.get(f"/ping/{code}").status_code == 200
    assert [p["n"] for p in show(client, personas, "db-dump")["recent_pings"]] == [2, 1]


def test_a_shorter_period_is_judged_at_the_next_check_without_losing_pings(
    client: TestClient, personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    code = create(client, personas, period_s=3600, grace_s=600)["uuid"]
    client.get(f"/ping/{code}")
    pinged = clock.now()
    clock.advance(timedelta(minutes=30))
    assert show(client, personas, code)["status"] == "up"
    edited = edit(client, personas, code, period_s=900)
    # 15 min + 10 min grace after the ping: already past, so it reads down and the engine raises it.
    assert edited["next_due_at"] == (pinged + timedelta(minutes=25)).isoformat().replace("+00:00", "Z")
    assert edited["status"] == "down"
    with sessions() as session:
        assert heartbeats.raise_due(session, clock.now()) == 1
        session.commit()
        alert = session.scalars(select(models.Alert).where(models.Alert.dedup_key == f"heartbeat:{code}")).one()
        assert alert.status == "firing"
    # A longer period back: it is not due again until its next ping; that ping resolves the alert.
    edit(client, personas, code, period_s=7200)
    assert show(client, personas, code)["status"] == "down"
    client.get(f"/ping/{code}")
    with sessions() as session:
        alert = session.scalars(select(models.Alert).where(models.Alert.dedup_key == f"heartbeat:{code}")).one()
        assert alert.status == "resolved"
    assert show(client, personas, code)["pings"] == 2


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"period_s": 30}, 422, "period"),
        ({"cron": "nightly"}, 422, "cron"),
        ({"period_s": 60, "cron": "0 3 * * *"}, 422, "period"),  # both
        ({"period_s": None}, 422, "period"),  # neither
        ({"time_zone": "Mars/Olympus"}, 422, "time_zone"),
        ({"min_run_s": 600, "max_run_s": 60}, 422, "min_run"),
        ({"grace_s": 0}, 422, "grace_s"),
        ({"grace_s": None}, 422, "grace_s"),
        ({"name": "Nightly Backup"}, 422, "name"),
        ({"name": "other"}, 409, "name"),
        ({"service": "nope"}, 404, "service"),
        ({"paused": True}, 422, "paused"),
    ],
)
def test_an_edit_that_cannot_work_is_refused_naming_the_field_and_changes_nothing(
    client: TestClient, personas: Personas, body: dict[str, Any], status: int, field: str
) -> None:
    create(client, personas)
    create(client, personas, name="other")
    before = show(client, personas, "nightly-backup")
    # The valid part of the edit is not written either.
    answer = client.patch(
        "/api/v1/heartbeats/nightly-backup", json={"description": "changed", **body}, headers=personas.bob.headers
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == field
    assert show(client, personas, "nightly-backup") == before


def test_only_writers_edit_and_an_unknown_heartbeat_is_404(client: TestClient, personas: Personas) -> None:
    create(client, personas)
    body = {"period_s": 60}
    assert client.patch("/api/v1/heartbeats/nightly-backup", json=body).status_code == 401
    viewer = client.patch("/api/v1/heartbeats/nightly-backup", json=body, headers=personas.charlie.headers)
    assert viewer.status_code == 403
    missing = client.patch("/api/v1/heartbeats/nope", json=body, headers=personas.bob.headers)
    assert (missing.status_code, missing.json()["field"]) == (404, "heartbeat")
    assert show(client, personas, "nightly-backup")["period_s"] == 3600
