"""`POST /api/v1/escalation/simulate`: the what-if simulator over HTTP, which never keeps what it wrote."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.services.test_simulate import counts, seed
from tocsin.app import create_app
from tocsin.clock import FrozenClock
from tocsin.config import Settings

PATH = "/api/v1/escalation/simulate"
PROBLEM = "application/problem+json"


@pytest.fixture
def api(settings: Settings, clock: FrozenClock, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock, sessions)) as test_client:
        yield test_client


def ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_reader_asks_who_is_paged_on_the_dst_night(
    api: TestClient, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    seed(sessions, clock)
    before = counts(sessions)
    body = {"service": "api", "severity": "P1", "at": "2027-03-28T01:58:00+01:00", "horizon_minutes": 30}
    answer = ok(api.post(PATH, json=body, headers=personas.charlie.headers))

    assert (answer["policy"], answer["time_zone"]) == ("api-ladder", "Europe/Berlin")
    assert answer["start"] == "2027-03-28T00:58:00Z"
    discord = [(p["local"], p["user"], p["level"]) for p in answer["pages"] if p["channel"] == "discord"]
    assert discord == [
        ("2027-03-28T01:58:00+01:00", "bob@example.com", 1),
        ("2027-03-28T03:03:00+02:00", "alice@example.com", 2),
        ("2027-03-28T03:08:00+02:00", "alice@example.com", 3),
        ("2027-03-28T03:08:00+02:00", "bob@example.com", 3),
    ]
    [dora] = [p for p in answer["pages"] if not p["paged"]]
    assert dora["channel"] is None
    assert "held by quiet hours until 07:00 CEST" in dora["why"]
    assert any("02:00 CET becomes 03:00 CEST" in note for note in answer["notes"])
    assert counts(sessions) == before


def test_local_times_can_be_asked_for_in_another_zone(
    api: TestClient, personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    seed(sessions, clock)
    body = {"service": "api", "severity": "P1", "at": "2027-03-28T00:30:00Z", "time_zone": "America/New_York"}
    answer = ok(api.post(PATH, json=body, headers=personas.charlie.headers))

    assert answer["time_zone"] == "America/New_York"
    assert answer["pages"][0]["local"] == "2027-03-27T20:30:00-04:00"


@pytest.mark.usefixtures("personas")
def test_it_needs_a_token(api: TestClient) -> None:
    answer = api.post(PATH, json={"service": "api", "severity": "P1", "at": "2027-03-28T00:30:00Z"})
    assert answer.status_code == 401


def test_bad_input_is_refused_naming_the_field(api: TestClient, personas: Personas) -> None:
    headers = personas.charlie.headers
    naive = api.post(PATH, json={"service": "api", "severity": "P1", "at": "2027-03-28T01:30:00"}, headers=headers)
    assert naive.status_code == 422, naive.text
    assert naive.headers["content-type"] == PROBLEM
    assert naive.json()["field"] == "at"

    unknown = api.post(PATH, json={"service": "nope", "severity": "P1", "at": "2027-03-28T01:30Z"}, headers=headers)
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["field"] == "service"

    zone = {"service": "api", "severity": "P1", "at": "2027-03-28T01:30Z", "time_zone": "Mars/Olympus"}
    refused = api.post(PATH, json=zone, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "time_zone"

    long = {"service": "api", "severity": "P1", "at": "2027-03-28T01:30Z", "horizon_minutes": 60 * 24 * 8}
    assert api.post(PATH, json=long, headers=headers).json()["field"] == "horizon_minutes"
