"""`tocsin apply` of heartbeats at a terminal: the ping URL of each new one, printed once."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from tests.cli.test_declarative import run, write
from tests.conftest import Personas
from tocsin.services import heartbeats

FILE = """
heartbeats:
  - name: nightly-backup
    service: api
    cron: "0 3 * * *"
    grace: 30m
  - name: queue-worker
    service: api
    period: 1m
    grace: 2m
    uuid: 0b7c8f5e-7a7e-4d0f-9a57-3f1d2e4c5b6a
"""


def test_apply_prints_the_ping_url_of_each_heartbeat_it_makes_and_then_has_nothing_to_do(
    tmp_path: Path, db_url: str, personas: Personas, sessions: sessionmaker[Session]
) -> None:
    path = write(tmp_path, FILE)
    dry = run("apply", "-f", str(path), "--dry-run", db_url=db_url)
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        f"Plan for {path}: 2 to create (dry run)",
        "+ heartbeat nightly-backup",
        "    service: api",
        "    cron: 0 3 * * *",
        "    time_zone: UTC",
        "    grace: 30m",
        "    uuid: (generated; the ping URL is printed once applied)",
        "+ heartbeat queue-worker",
        "    service: api",
        "    period: 1m",
        "    grace: 2m",
        "    uuid: 0b7c8f5e-7a7e-4d0f-9a57-3f1d2e4c5b6a",
    ]
    with sessions() as session:
        assert heartbeats.list_heartbeats(session) == []

    result = run("apply", "-f", str(path), db_url=db_url, TOCSIN_URL="http://tocsin.test:8080")
    assert result.exit_code == 0, result.output
    with sessions() as session:
        made = heartbeats.get(session, "nightly-backup").uuid
    # The fixed uuid is the file's own: only the one apply made is printed.
    assert result.stdout.splitlines()[-3:] == [
        "",
        "Ping URL of new heartbeat nightly-backup:",
        f"  http://tocsin.test:8080/ping/{made}",
    ]
    again = run("apply", "-f", str(path), "--json", db_url=db_url)
    answer = json.loads(again.stdout)
    assert (answer["summary"], answer["keys"]) == ({"create": 0, "update": 0, "delete": 0}, [])


def test_apply_json_carries_a_new_heartbeats_ping_url(tmp_path: Path, db_url: str, personas: Personas) -> None:
    path = write(tmp_path, FILE)
    answer = json.loads(run("apply", "-f", str(path), "--json", db_url=db_url).stdout)
    [issued] = answer["keys"]
    assert (issued["service"], issued["name"], issued["kind"]) == ("api", "nightly-backup", "heartbeat")
    assert issued["url"] == f"$TOCSIN_URL/ping/{issued['key']}"
