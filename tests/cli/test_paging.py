"""`tocsin oncall`, `schedule`, `policy` and `readiness` against the app, on SQLite and PostgreSQL.

The app runs in-process behind an httpx transport, so the commands speak real
HTTP to the same routes a server has.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.test_paging import ROTATION
from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.support.inprocess import cli_for

ALICE, BOB = "alice@example.com", "bob@example.com"


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_for(api, personas.bob.token, tmp_path, monkeypatch)


@pytest.fixture
def rotation(api: TestClient, personas: Personas) -> None:
    answer = api.post("/api/v1/schedules", json=ROTATION, headers=personas.bob.headers)
    assert answer.status_code == 201, answer.text


@pytest.mark.usefixtures("rotation")
def test_oncall_shows_everyone_on_call_now_or_at_a_given_time(cli: Cli) -> None:
    now = cli("oncall").stdout
    assert "primary" in now
    assert f"Alice Admin <{ALICE}>" in now
    assert "weekly" in now
    assert "2026-11-23 17:00 UTC" in now
    evening = cli("oncall", "--at", "2026-11-23T20:00").stdout  # no offset: UTC
    assert "charlie@example.com" in evening
    assert "backup" in evening
    [row] = cli.json("oncall", "--at", "2026-11-30T10:00Z")
    assert (row["schedule"], row["user"]) == ("primary", BOB)
    assert "not a time" in cli("oncall", "--at", "tomorrow", exit_code=2).stderr


@pytest.mark.usefixtures("rotation")
def test_schedule_list_show_and_override(cli: Cli) -> None:
    listing = cli("schedule", "list").stdout
    assert "Primary on-call" in listing
    assert "backup (every day), weekly (every week)" in listing
    assert [s["key"] for s in cli.json("schedule", "list")] == ["primary"]

    added = cli(
        "schedule", "override", "primary", "--user", BOB, "--start", "2026-11-24T08:00Z", "--end", "2026-11-24T17:00Z"
    ).stdout
    assert added == f"{BOB} covers primary from 2026-11-24 08:00 UTC to 2026-11-24 17:00 UTC (override 1).\n"

    shown = cli("schedule", "show", "primary", "--days", "2").stdout
    assert "Primary on-call (Europe/Berlin)" in shown
    assert "2026-11-23 09:00 Europe/Berlin" in shown
    assert "mon/tue/wed/thu/fri 09:00-18:00" in shown
    lines = [line for line in shown.splitlines() if "2026-11-24 08:00 UTC" in line and "override" in line]
    assert lines, shown
    assert BOB in lines[0]
    assert "No gaps in the next 2 days." in shown
    data = cli.json("schedule", "show", "primary", "--days", "2")
    assert data["key"] == "primary"
    assert [s["user"] for s in data["final"]["shifts"]][:3] == [ALICE, "charlie@example.com", BOB]

    refused = cli("schedule", "override", "primary", "--user", BOB, "--start", "2026-11-25T08:00Z",
                  "--end", "2026-11-24T08:00Z", exit_code=1).stderr  # fmt: skip
    assert "end" in refused
    assert "no schedule 'nope'" in cli("schedule", "show", "nope", exit_code=1).stderr


@pytest.mark.usefixtures("rotation")
def test_policy_list_and_show(cli: Cli, api: TestClient, personas: Personas) -> None:
    assert cli("policy", "list").stdout == "No escalation policies yet.\n"
    policy = {
        "key": "api-default",
        "name": "API default",
        "levels": [
            {"delay_s": 300, "targets": [{"kind": "schedule", "key": "primary"}]},
            {"delay_s": 300, "targets": [{"kind": "user", "key": ALICE}]},
            {"delay_s": 300, "targets": [{"kind": "team", "key": "platform"}]},
        ],
        "variants": {"P0": {"kind": "all_at_once"}},
    }
    assert api.post("/api/v1/escalation-policies", json=policy, headers=personas.bob.headers).status_code == 201
    listing = cli("policy", "list").stdout
    assert f"schedule primary → user {ALICE} → team platform" in listing
    shown = cli("policy", "show", "api-default").stdout
    assert "api-default  API default · runs once" in shown
    assert "+10m" in shown
    assert "P0: all at once" in shown
    assert cli.json("policy", "show", "api-default")["levels"][1]["targets"] == [{"kind": "user", "key": ALICE}]


@pytest.mark.usefixtures("rotation")
def test_readiness_lists_who_cannot_be_woken(cli: Cli, api: TestClient, personas: Personas) -> None:
    shown = cli("readiness").stdout
    assert f"Alice Admin <{ALICE}>" in shown
    assert "no verified high-urgency contact method" in shown
    assert [w["user"] for w in cli.json("readiness")] == [ALICE, "charlie@example.com"]
    phone = {"name": "phone", "kind": "sms", "address": "+4915112345678", "verified": True, "high_urgency": True}
    for email in (ALICE, "charlie@example.com"):
        added = api.post(f"/api/v1/users/{email}/contact-methods", json=phone, headers=personas.bob.headers)
        assert added.status_code == 201, added.text
    assert cli("readiness").stdout.startswith("Everyone on call in the next 24 hours has a verified")
