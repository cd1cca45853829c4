"""The on-call pages: schedules with their two-week timeline, taking a shift, overrides, and
escalation policies. Bob and Alice take turns weekly, Monday 09:00 UTC; the clock starts on
Monday 2026-11-23 09:00 UTC, the start of Bob's week."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.services import policies, schedules
from tocsin.services.actor import Actor
from tocsin.storage.models import ScheduleOverride, User

SYSTEM = Actor.system("tests")


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def primary(web_personas: Personas, sessions: sessionmaker[Session], clock: FrozenClock) -> str:
    with sessions() as db:
        schedules.create_schedule(
            db,
            SYSTEM,
            clock.now(),
            key="primary",
            name="Primary",
            layers=[
                schedules.LayerSpec(
                    name="weekly",
                    participants=["alice@example.com", "bob@example.com"],
                    start=datetime(2026, 11, 16, 9, 0),
                )
            ],
        )
        db.commit()
    return "primary"


def add_override(sessions: sessionmaker[Session], clock: FrozenClock, user: str, start: datetime, end: datetime) -> int:
    with sessions() as db:
        override = schedules.add_override(db, SYSTEM, clock.now(), "primary", user=user, start=start, end=end)
        db.commit()
        return override.id


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def shift_rows(html: str) -> list[list[str]]:
    """The shifts table as the cells' text: from, to, who, why."""
    table = html.split('<table class="shifts">', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[text_of(cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)][:4] for row in rows]


def take_forms(html: str) -> list[tuple[str, str]]:
    return re.findall(r'name="start" value="([^"]+)">\s*<input type="hidden" name="end" value="([^"]+)"', html)


def test_the_schedules_list_shows_who_is_on_call_now_and_next(
    client: TestClient, log_in: LogIn, primary: str, clock: FrozenClock
) -> None:
    log_in(client, "charlie@example.com")
    page = text_of(client.get("/schedules").text)
    assert "Primary" in page
    assert "Bob Responder until Mon 30 Nov 09:00" in page
    assert "Alice Admin from Mon 30 Nov 09:00" in page

    clock.advance(timedelta(days=7))
    log_in(client, "charlie@example.com")  # the session has expired
    page = text_of(client.get("/schedules").text)
    assert "Alice Admin until Mon 07 Dec 09:00" in page
    assert "Bob Responder from Mon 07 Dec 09:00" in page


def test_the_schedule_page_shows_the_right_person_for_the_next_two_weeks(
    client: TestClient, log_in: LogIn, primary: str, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    add_override(sessions, clock, "alice@example.com", utc(2026, 11, 25, 12), utc(2026, 11, 25, 18))
    log_in(client, "charlie@example.com")
    html = client.get("/schedules/primary").text
    assert shift_rows(html) == [
        ["Mon 23 Nov 00:00", "Mon 23 Nov 09:00", "Alice Admin", "rotation"],
        ["Mon 23 Nov 09:00", "Wed 25 Nov 12:00", "Bob Responder", "rotation"],
        ["Wed 25 Nov 12:00", "Wed 25 Nov 18:00", "Alice Admin", "override"],
        ["Wed 25 Nov 18:00", "Mon 30 Nov 09:00", "Bob Responder", "rotation"],
        ["Mon 30 Nov 09:00", "Mon 07 Dec 00:00", "Alice Admin", "rotation"],
    ]
    # The picture has the layer, the overrides and the final schedule, the override drawn apart.
    assert re.findall(r'<span class="tl-name">(\w+)', html) == ["weekly", "Overrides", "Final"]
    assert len(re.findall(r'class="tl-bar override', html)) == 2  # on its own track and in the final one

    clock.advance(timedelta(days=7))
    log_in(client, "charlie@example.com")
    html = client.get("/schedules/primary").text
    assert shift_rows(html)[1] == ["Mon 30 Nov 09:00", "Mon 07 Dec 09:00", "Alice Admin", "rotation"]
    assert shift_rows(html)[2] == ["Mon 07 Dec 09:00", "Mon 14 Dec 00:00", "Bob Responder", "rotation"]
    assert "Alice Admin" in text_of(html.split("<h2>On call now</h2>", 1)[1].split("</div>", 1)[0])


def test_times_are_in_the_readers_time_zone(
    client: TestClient, log_in: LogIn, primary: str, sessions: sessionmaker[Session]
) -> None:
    with sessions() as db:
        charlie = db.scalars(select(User).where(User.email == "charlie@example.com")).one()
        charlie.time_zone = "Europe/Berlin"
        db.commit()
    log_in(client, "charlie@example.com")
    rows = shift_rows(client.get("/schedules/primary").text)
    # The Berlin day starts at 23:00 UTC the evening before; the hand-off is 10:00 in Berlin.
    assert rows[0] == ["Mon 23 Nov 00:00", "Mon 23 Nov 10:00", "Alice Admin", "rotation"]


def test_taking_a_shift_puts_the_responder_on_call(
    client: TestClient, log_in: LogIn, primary: str, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "alice@example.com")
    html = client.get("/schedules/primary").text
    # Alice can take Bob's shifts, not her own.
    start, end = take_forms(html)[0]
    assert (start, end) == ("2026-11-23T09:00:00Z", "2026-11-30T09:00:00Z")
    assert len(take_forms(html)) == 1
    assert 'aria-label="Take Bob Responder\'s shift from Mon 23 Nov 09:00 to Mon 30 Nov 09:00"' in html

    response = client.post(
        "/schedules/primary/take", data={"csrf_token": token, "start": start, "end": end}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/schedules/primary"

    with sessions() as db:
        assert schedules.who_is_on_call(db, "primary", clock.now() + timedelta(days=3)).user == "alice@example.com"  # type: ignore[union-attr]
        [override] = db.scalars(select(ScheduleOverride)).all()
        assert (override.starts_at, override.ends_at) == (utc(2026, 11, 23, 9), utc(2026, 11, 30, 9))
        assert override.created_by == "Alice Admin"
    page = text_of(client.get("/schedules").text)
    assert "Alice Admin until Mon 07 Dec 09:00" in page


def test_a_shift_under_way_is_taken_from_now(
    client: TestClient, log_in: LogIn, primary: str, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    clock.advance(timedelta(hours=5))
    token = log_in(client, "alice@example.com")
    data = {"csrf_token": token, "start": "2026-11-23T09:00:00Z", "end": "2026-11-30T09:00:00Z"}
    assert client.post("/schedules/primary/take", data=data, follow_redirects=False).status_code == 303
    with sessions() as db:
        [override] = db.scalars(select(ScheduleOverride)).all()
        assert override.starts_at == utc(2026, 11, 23, 14)


def test_a_shift_that_is_over_cannot_be_taken(client: TestClient, log_in: LogIn, primary: str) -> None:
    token = log_in(client, "alice@example.com")
    data = {"csrf_token": token, "start": "2026-11-20T09:00:00Z", "end": "2026-11-23T08:00:00Z"}
    response = client.post("/schedules/primary/take", data=data)
    assert response.status_code == 422
    assert "that shift is over" in response.text
    assert "<table" in response.text  # the page again, with the message


def test_a_viewer_cannot_take_a_shift(
    client: TestClient, log_in: LogIn, primary: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "charlie@example.com")
    html = client.get("/schedules/primary").text
    assert "Take this shift" not in html
    data = {"csrf_token": token, "start": "2026-11-23T09:00:00Z", "end": "2026-11-30T09:00:00Z"}
    response = client.post("/schedules/primary/take", data=data)
    assert response.status_code == 403
    with sessions() as db:
        assert db.scalars(select(ScheduleOverride)).all() == []


def test_a_responder_deletes_an_override(
    client: TestClient, log_in: LogIn, primary: str, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    override_id = add_override(sessions, clock, "alice@example.com", utc(2026, 11, 25, 12), utc(2026, 11, 25, 18))
    token = log_in(client, "bob@example.com")
    html = client.get("/schedules/primary").text
    assert f"/schedules/primary/overrides/{override_id}/delete" in html
    response = client.post(
        f"/schedules/primary/overrides/{override_id}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    with sessions() as db:
        assert db.scalars(select(ScheduleOverride)).all() == []
    assert "No current or coming overrides." in client.get("/schedules/primary").text


def test_gaps_are_highlighted_and_can_be_covered(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    with sessions() as db:
        schedules.create_schedule(
            db,
            SYSTEM,
            clock.now(),
            key="office",
            name="Office hours",
            layers=[
                schedules.LayerSpec(
                    name="days",
                    participants=["bob@example.com"],
                    start=datetime(2026, 11, 16, 9, 0),
                    restrictions=[schedules.RestrictionSpec(["mon", "tue", "wed", "thu", "fri"], "09:00", "17:00")],
                )
            ],
        )
        db.commit()
    token = log_in(client, "alice@example.com")
    html = client.get("/schedules/office").text
    rows = shift_rows(html)
    assert rows[0] == ["Mon 23 Nov 00:00", "Mon 23 Nov 09:00", "Nobody on call", "gap"]
    assert rows[1] == ["Mon 23 Nov 09:00", "Mon 23 Nov 17:00", "Bob Responder", "rotation"]
    assert rows[2] == ["Mon 23 Nov 17:00", "Tue 24 Nov 09:00", "Nobody on call", "gap"]
    assert 'class="tl-bar gap' in html
    assert "Cover this gap" in html

    data = {"csrf_token": token, "start": "2026-11-23T17:00:00Z", "end": "2026-11-24T09:00:00Z"}
    assert client.post("/schedules/office/take", data=data, follow_redirects=False).status_code == 303
    rows = shift_rows(client.get("/schedules/office").text)
    assert rows[2] == ["Mon 23 Nov 17:00", "Tue 24 Nov 09:00", "Alice Admin", "override"]


def test_an_unknown_schedule_is_a_404_page(client: TestClient, log_in: LogIn) -> None:
    log_in(client, "charlie@example.com")
    response = client.get("/schedules/nope")
    assert response.status_code == 404
    assert "no schedule" in response.text


def test_the_policy_pages_show_levels_targets_and_who_is_on_call(
    client: TestClient, log_in: LogIn, primary: str, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    with sessions() as db:
        policies.create_policy(
            db,
            SYSTEM,
            clock.now(),
            key="default",
            name="Default paging",
            levels=[
                policies.LevelSpec(300, [policies.TargetSpec("schedule", "primary")]),
                policies.LevelSpec(
                    900, [policies.TargetSpec("user", "alice@example.com"), policies.TargetSpec("team", "platform")]
                ),
            ],
            repeat=2,
            variants={"P0": policies.VariantSpec("all_at_once"), "P3": policies.VariantSpec("record_only")},
        )
        policies.set_service_policy(db, SYSTEM, clock.now(), "api", "default")
        db.commit()
    log_in(client, "charlie@example.com")
    listing = text_of(client.get("/policies").text)
    assert "Default paging Primary 2 2 Public API" in listing

    page = text_of(client.get("/policies/default").text)
    assert "Level 1 schedule Primary · on call now: Bob Responder" in page
    assert "Unacknowledged after 5m: level 2." in page
    assert "user Alice Admin" in page
    assert "team Platform · Alice Admin, Bob Responder" in page
    assert "After 15m, back to level 1." in page
    assert "Repeats 2 more times (20m a round)." in page
    assert "P0 every level at once" in page
    assert "P3 nobody is paged (recorded only)" in page
    assert "Public API" in page

    clock.advance(timedelta(days=7))
    log_in(client, "charlie@example.com")
    assert "on call now: Alice Admin" in text_of(client.get("/policies/default").text)


def test_one_person_on_call_by_two_layers_back_to_back_is_one_shift(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    with sessions() as db:
        schedules.create_schedule(
            db,
            SYSTEM,
            clock.now(),
            key="split",
            name="Split",
            layers=[
                schedules.LayerSpec(
                    name=name,
                    participants=["bob@example.com"],
                    start=datetime(2026, 11, 16, 9, 0),
                    restrictions=[schedules.RestrictionSpec(weekdays, opens, closes)],
                )
                for name, opens, closes in (("days", "09:00", "17:00"), ("evenings", "17:00", "24:00"))
            ],
        )
        db.commit()
    log_in(client, "charlie@example.com")
    rows = shift_rows(client.get("/schedules/split").text)
    assert rows[1] == ["Mon 23 Nov 09:00", "Tue 24 Nov 00:00", "Bob Responder", "rotation"]


def test_a_responder_adds_an_override_for_someone_in_their_own_time_zone(
    client: TestClient, log_in: LogIn, primary: str, sessions: sessionmaker[Session]
) -> None:
    with sessions() as db:
        bob = db.scalars(select(User).where(User.email == "bob@example.com")).one()
        bob.time_zone = "Europe/Berlin"
        db.commit()
    token = log_in(client, "bob@example.com")
    assert "Add an override" in client.get("/schedules/primary").text
    data = {"csrf_token": token, "user": "charlie@example.com", "start": "2026-11-28T10:00", "end": "2026-11-28T22:00"}
    response = client.post("/schedules/primary/overrides", data=data, follow_redirects=False)
    assert response.status_code == 303
    with sessions() as db:
        [override] = db.scalars(select(ScheduleOverride)).all()
        assert (override.starts_at, override.ends_at) == (utc(2026, 11, 28, 9), utc(2026, 11, 28, 21))
        assert override.created_by == "Bob Responder"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"user": "nobody@example.com"}, "user", "unknown user &#39;nobody@example.com&#39;"),
        ({"end": "2026-11-28T08:00"}, "end", "is not after start"),
        ({"start": "soon"}, "start", "enter a date and time"),
        ({"start": "2026-11-01T08:00", "end": "2026-11-02T08:00"}, "end", "this span is over"),
    ],
)
def test_a_refused_override_is_shown_next_to_its_field(
    client: TestClient,
    log_in: LogIn,
    primary: str,
    sessions: sessionmaker[Session],
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    token = log_in(client, "bob@example.com")
    data = {"csrf_token": token, "user": "alice@example.com", "start": "2026-11-28T10:00", "end": "2026-11-28T22:00"}
    response = client.post("/schedules/primary/overrides", data={**data, **fields})
    assert response.status_code == 422
    error = re.search(rf'<p class="error" id="o-{field}-error">([^<]*)</p>', response.text)
    assert error is not None
    assert message in error.group(1)
    assert f'value="{fields.get("start", data["start"])}"' in response.text  # what was typed stays
    with sessions() as db:
        assert db.scalars(select(ScheduleOverride)).all() == []


def test_a_viewer_cannot_add_an_override(
    client: TestClient, log_in: LogIn, primary: str, sessions: sessionmaker[Session]
) -> None:
    token = log_in(client, "charlie@example.com")
    assert "Add an override" not in client.get("/schedules/primary").text
    data = {"csrf_token": token, "user": "charlie@example.com", "start": "2026-11-28T10:00", "end": "2026-11-28T22:00"}
    assert client.post("/schedules/primary/overrides", data=data).status_code == 403
    with sessions() as db:
        assert db.scalars(select(ScheduleOverride)).all() == []
