"""`tocsin escalation simulate` against the app in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.cli.test_remote import Cli
from tests.conftest import Personas
from tests.services.test_simulate import counts, seed
from tests.support.inprocess import cli_for
from tocsin.cli.simulate import parse_at
from tocsin.clock import FrozenClock

DST_NIGHT = "2027-03-28 01:30 Europe/Berlin"


@pytest.fixture
def cli(api: TestClient, personas: Personas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    # Charlie only reads: asking "what if" changes nothing, so a read token is enough.
    return cli_for(api, personas.charlie.token, tmp_path, monkeypatch)


@pytest.fixture
def ladder(sessions: sessionmaker[Session], clock: FrozenClock, personas: Personas) -> None:
    seed(sessions, clock)


def rows(stdout: str) -> list[list[str]]:
    """The table's rows as cells."""
    return [[cell.strip() for cell in line.split("│")] for line in stdout.splitlines() if line.startswith("2027-")]


@pytest.mark.usefixtures("ladder")
def test_it_prints_who_is_paged_on_the_dst_night_in_local_time(cli: Cli, sessions: sessionmaker[Session]) -> None:
    before = counts(sessions)
    shown = cli("escalation", "simulate", "--service", "api", "--severity", "P1", "--at", DST_NIGHT).stdout

    assert shown.startswith(
        "What if a P1 incident on api starts at 2027-03-28 01:30 CET (Europe/Berlin)?"
        " Following policy api-ladder until 2027-03-28 04:30 CEST."
    )
    assert "Time (Europe/Berlin)" in shown
    table = rows(shown)
    assert table[0][:5] == ["2027-03-28 01:30 CET", "00:30", "bob@example.com (00:30 UTC for them)", "discord", "1"]
    assert table[0][5].startswith("on call in primary, layer weekly (layer business-hours is empty outside mon/")
    assert [row[0][11:] for row in table] == [
        "01:30 CET", "01:32 CET", "01:35 CET", "01:35 CET", "01:37 CET", "01:40 CET", "01:40 CET", "01:42 CET",
        "01:42 CET",
    ]  # fmt: skip
    [dora] = [row for row in table if row[2] == "dora@example.com"]
    assert dora[3] == "not paged"
    assert dora[5].endswith("held by quiet hours until 07:00 CEST → next target")
    assert "- Acknowledgement is not simulated" in shown
    assert "02:00 CET becomes 03:00 CEST" in shown
    assert counts(sessions) == before


@pytest.mark.usefixtures("ladder")
def test_a_wall_time_in_the_gap_is_read_as_the_first_instant_after_it_and_said_so(cli: Cli) -> None:
    shown = cli("escalation", "simulate", "--service", "api", "--severity", "P1",
                "--at", "2027-03-28 02:30 Europe/Berlin", "--hours", "0.25").stdout  # fmt: skip

    assert shown.startswith(
        "note: 2027-03-28 02:30 does not exist in Europe/Berlin: the clocks jump from 02:00 CET to 03:00 CEST."
        " Simulating from 03:00 CEST (01:00 UTC), the first instant after the gap, as schedules read it.\n"
    )
    assert rows(shown)[0][:3] == ["2027-03-28 03:00 CEST", "01:00", "bob@example.com (01:00 UTC for them)"]


@pytest.mark.usefixtures("ladder")
def test_json_is_the_servers_answer_and_notices_go_to_stderr(cli: Cli) -> None:
    args = ("escalation", "simulate", "--service", "api", "--severity", "P1", "--at", "2027-03-28 02:30 Europe/Berlin")
    data = cli.json(*args)
    assert data["start"] == "2027-03-28T01:00:00Z"
    assert data["pages"][0]["local"] == "2027-03-28T03:00:00+02:00"
    assert "does not exist" in cli(*args, "--json").stderr

    iso = cli.json("escalation", "simulate", "--service", "api", "--severity", "P1", "--at", "2027-03-28T01:58+01:00")
    assert [p["local"][11:16] for p in iso["pages"] if p["channel"] == "discord"] == [
        "01:58",
        "03:03",
        "03:08",
        "03:08",
    ]


@pytest.mark.usefixtures("ladder")
def test_mistakes_are_reported_with_an_exit_code(cli: Cli) -> None:
    base = ("escalation", "simulate", "--service", "api", "--severity", "P1", "--at")
    assert "is not a time" in cli(*base, "tonight", exit_code=2).stderr
    assert "unknown time zone 'Europe/Nowhere'" in cli(*base, "2027-03-28 01:30 Europe/Nowhere", exit_code=2).stderr
    assert (
        "no service 'nope'"
        in cli("escalation", "simulate", "--service", "nope", "--severity", "P1", "--at", DST_NIGHT, exit_code=1).stderr
    )


def test_parse_at_reads_wall_times_gaps_folds_and_iso() -> None:
    assert parse_at(DST_NIGHT).at == datetime(2027, 3, 28, 0, 30, tzinfo=UTC)
    assert parse_at(DST_NIGHT).notice is None
    gap = parse_at("2027-03-28 02:30 Europe/Berlin")
    assert (gap.at, gap.zone) == (datetime(2027, 3, 28, 1, 0, tzinfo=UTC), "Europe/Berlin")
    fold = parse_at("2027-10-31 02:30 Europe/Berlin")
    assert fold.at == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert fold.notice is not None
    assert "happens twice" in fold.notice
    assert "02:30 CEST" in fold.notice
    assert parse_at("2027-03-28T01:30+01:00").at == datetime(2027, 3, 28, 0, 30, tzinfo=UTC)
    assert parse_at("2027-03-28T00:30").zone is None
    with pytest.raises(ValueError, match="is not a date and time"):
        parse_at("2027-03-28 25:00 Europe/Berlin")
