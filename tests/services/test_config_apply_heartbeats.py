"""`tocsin apply` of the `heartbeats` section: a ping URL made once and kept, schedules updated in place."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from textwrap import dedent

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tocsin.clock import FrozenClock
from tocsin.config_file import Document, InvalidConfig, load
from tocsin.domain import heartbeats as domain
from tocsin.services import config_apply, heartbeats
from tocsin.services.actor import Actor
from tocsin.storage import models

APPLY = config_apply.APPLY_ACTOR
FIXED = "0b7c8f5e-7a7e-4d0f-9a57-3f1d2e4c5b6a"

HEARTBEATS = """
heartbeats:
  - name: nightly-backup
    service: api
    description: pg_dump to the bucket
    cron: "0 3 * * *"
    time_zone: Europe/Berlin
    grace: 30m
    max_run: 2h
  - name: queue-worker
    service: web
    period: 1m
    grace: 2m
    uuid: 0B7C8F5E-7A7E-4D0F-9A57-3F1D2E4C5B6A
"""


def doc(text: str) -> Document:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml").document


def summary(planned: config_apply.Plan) -> list[tuple[str, str, str]]:
    return [(change.action, change.kind, change.key) for change in planned.changes]


def fields(planned: config_apply.Plan, key: str) -> dict[str, object]:
    [change] = [c for c in planned.changes if c.key == key]
    return {f.field: (f.old, f.new) for f in change.fields}


def apply(session: Session, clock: FrozenClock, text: str) -> tuple[config_apply.Plan, list[config_apply.IssuedKey]]:
    planned = config_apply.plan(session, doc(text), now=clock.now())
    issued = config_apply.execute(session, APPLY, clock.now(), planned)
    session.commit()
    return planned, issued


def issues(session: Session, text: str) -> list[tuple[str, str]]:
    with pytest.raises(InvalidConfig) as caught:
        config_apply.plan(session, doc(text))
    return [(issue.field, issue.message) for issue in caught.value.issues]


def validation_issues(text: str) -> list[tuple[str, str]]:
    with pytest.raises(InvalidConfig) as caught:
        doc(text)
    return [(issue.field, issue.message) for issue in caught.value.issues]


@pytest.mark.usefixtures("personas")
def test_apply_creates_the_heartbeats_and_hands_back_each_new_ping_uuid_once(
    session: Session, clock: FrozenClock
) -> None:
    planned, issued = apply(session, clock, HEARTBEATS)
    assert summary(planned) == [("create", "heartbeat", "nightly-backup"), ("create", "heartbeat", "queue-worker")]
    assert fields(planned, "nightly-backup") == {
        "service": (None, "api"),
        "description": (None, "pg_dump to the bucket"),
        "cron": (None, "0 3 * * *"),
        "time_zone": (None, "Europe/Berlin"),
        "grace": (None, "30m"),
        "max_run": (None, "2h"),
        "uuid": (None, "(generated; the ping URL is printed once applied)"),
    }
    assert fields(planned, "queue-worker")["uuid"] == (None, FIXED)
    backup = heartbeats.get(session, "nightly-backup")
    worker = heartbeats.get(session, "queue-worker")
    # Only the uuid apply made is handed back: the fixed one is the file's own.
    assert [(k.service, k.name, k.kind, k.key) for k in issued] == [("api", "nightly-backup", "heartbeat", backup.uuid)]
    assert uuid.UUID(backup.uuid).version == 4
    assert (worker.uuid, worker.service.key, worker.period_s, worker.grace_s) == (FIXED, "web", 60, 120)
    assert (backup.cron, backup.time_zone, backup.max_run_s, backup.managed) == (
        "0 3 * * *",
        "Europe/Berlin",
        7200,
        True,
    )
    assert backup.status == domain.Status.NEW.value


@pytest.mark.usefixtures("personas")
def test_a_second_apply_plans_nothing_and_keeps_the_ping_url(session: Session, clock: FrozenClock) -> None:
    apply(session, clock, HEARTBEATS)
    made = heartbeats.get(session, "nightly-backup").uuid
    again = config_apply.plan(session, doc(HEARTBEATS), now=clock.now())
    assert again.empty, summary(again)
    # A change to the schedule is an update, and the uuid (the users' curl line) stays.
    _, issued = apply(session, clock, HEARTBEATS.replace("grace: 30m", "grace: 1h"))
    assert issued == []
    session.expire_all()
    assert heartbeats.get(session, "nightly-backup").uuid == made


@pytest.mark.usefixtures("personas")
def test_a_new_schedule_keeps_the_pings_and_the_engine_judges_by_it(session: Session, clock: FrozenClock) -> None:
    text = "heartbeats:\n  - {name: job, service: api, period: 1h, grace: 10m}\n"
    apply(session, clock, text)
    row = heartbeats.get(session, "job")
    heartbeats.record_ping(session, clock.now(), row.uuid, heartbeats.Ping(domain.PingKind.SUCCESS, "GET"))
    session.commit()
    pinged_at = clock.now()
    clock.advance(timedelta(minutes=30))
    planned, _ = apply(session, clock, text.replace("period: 1h", "period: 15m"))
    assert fields(planned, "job") == {"period": ("1h", "15m")}
    session.expire_all()
    row = heartbeats.get(session, "job")
    assert row.n_pings == 1
    assert row.last_ping_at == pinged_at
    assert row.next_due_at == pinged_at + timedelta(minutes=25)
    # Past the new period's due time: the next check raises it.
    assert heartbeats.raise_due(session, clock.now()) == 1
    session.commit()
    assert heartbeats.get(session, "job").status == domain.Status.DOWN.value


@pytest.mark.usefixtures("personas")
def test_a_heartbeat_made_through_the_api_is_left_alone_until_the_file_names_it(
    session: Session, clock: FrozenClock
) -> None:
    system = Actor.system("test")
    api_made = heartbeats.create(
        session, system, clock.now(), service_key="api", name="by-hand",
        schedule=domain.Schedule(grace=timedelta(minutes=5), period=timedelta(hours=1)),
    )  # fmt: skip
    session.commit()
    apply(session, clock, HEARTBEATS)
    assert heartbeats.get(session, "by-hand").managed is False
    # Named in the file: claimed (managed), its uuid kept, its schedule the file's.
    text = HEARTBEATS + "  - {name: by-hand, service: api, period: 2h, grace: 5m}\n"
    planned, issued = apply(session, clock, text)
    assert summary(planned) == [("update", "heartbeat", "by-hand")]
    assert fields(planned, "by-hand") == {"period": ("1h", "2h"), "managed": (False, True)}
    assert issued == []
    session.expire_all()
    claimed = heartbeats.get(session, "by-hand")
    assert (claimed.uuid, claimed.period_s, claimed.managed) == (api_made.uuid, 7200, True)


@pytest.mark.usefixtures("personas")
def test_a_managed_heartbeat_left_out_of_the_file_is_deleted_with_its_pings(
    session: Session, clock: FrozenClock
) -> None:
    apply(session, clock, HEARTBEATS)
    worker = heartbeats.get(session, "queue-worker")
    heartbeats.record_ping(session, clock.now(), worker.uuid, heartbeats.Ping(domain.PingKind.FAIL, "GET"))
    session.commit()
    kept = HEARTBEATS.split("  - name: queue-worker")[0]
    planned, _ = apply(session, clock, kept)
    assert summary(planned) == [("delete", "heartbeat", "queue-worker")]
    assert [c.note for c in planned.changes] == ["with its pings: its ping URL stops working"]
    assert [row.name for row in heartbeats.list_heartbeats(session)] == ["nightly-backup"]
    assert session.scalar(select(func.count()).select_from(models.HeartbeatPing)) == 0
    # Its firing alert went with it: nothing else would ever resolve it.
    alert = session.scalars(select(models.Alert).where(models.Alert.dedup_key == f"heartbeat:{FIXED}")).one()
    assert alert.status == "resolved"
    # `heartbeats: []` declares none: the rest go too; a file without the section leaves them.
    assert apply(session, clock, "heartbeats: []\n")[0].count("delete") == 1
    assert heartbeats.list_heartbeats(session) == []


@pytest.mark.usefixtures("personas")
def test_a_uuid_in_the_file_moves_the_ping_url_and_must_be_the_heartbeats_own(
    session: Session, clock: FrozenClock
) -> None:
    apply(session, clock, HEARTBEATS)
    other = str(uuid.uuid4())
    planned, _ = apply(session, clock, HEARTBEATS.replace(FIXED.upper(), other))
    assert fields(planned, "queue-worker") == {"uuid": (FIXED, other)}
    assert heartbeats.get(session, other).name == "queue-worker"
    backup = heartbeats.get(session, "nightly-backup").uuid
    taken = HEARTBEATS.replace(FIXED.upper(), backup)
    assert issues(session, taken) == [
        ("heartbeats[1].uuid", "heartbeat 'nightly-backup' has this uuid; a ping URL belongs to one heartbeat")
    ]


@pytest.mark.usefixtures("personas")
def test_a_dry_run_changes_nothing_and_an_unknown_service_is_located(session: Session) -> None:
    planned = config_apply.plan(session, doc(HEARTBEATS))
    assert planned.count("create") == 2
    assert heartbeats.list_heartbeats(session) == []
    assert issues(session, HEARTBEATS.replace("service: web", "service: payments")) == [
        ("heartbeats[1].service", "unknown service 'payments'")
    ]
    assert json.dumps(planned.as_json())  # the plan is plain data for --json


def test_the_schema_names_the_field_of_a_bad_schedule() -> None:
    base = "heartbeats:\n  - {name: job, service: api, grace: 5m, %s}\n"
    assert validation_issues(base % "period: 1h, cron: '0 3 * * *'") == [
        ("heartbeats[0].cron", "give period or cron, not both")
    ]
    assert validation_issues("heartbeats:\n  - {name: job, service: api, grace: 5m}\n") == [
        ("heartbeats[0]", "give period or cron, one of them")
    ]
    assert validation_issues(base % "cron: '0 3 * *'") == [
        ("heartbeats[0].cron", "'0 3 * *' is not a cron expression of five fields, such as '0 3 * * *'")
    ]
    assert validation_issues(base % "period: 30s") == [
        ("heartbeats[0].period", "the period must be between 1 minute and 366 days")
    ]
    assert validation_issues(base % "period: 1h, min_run: 2h, max_run: 1h") == [
        ("heartbeats[0].min_run", "the lower bound on the run time must be below the upper bound")
    ]
    assert validation_issues(base % "period: 1h, uuid: nope") == [
        ("heartbeats[0].uuid", "'nope' is not a UUID such as 0b7c8f5e-7a7e-4d0f-9a57-3f1d2e4c5b6a")
    ]
    twice = HEARTBEATS + f"  - {{name: queue-worker, service: api, period: 1h, grace: 5m, uuid: {FIXED}}}\n"
    assert validation_issues(twice) == [
        ("heartbeats[2].name", "heartbeat 'queue-worker' is declared twice (first as heartbeats[1])"),
        ("heartbeats[2].uuid", "heartbeats[1] has this uuid already"),
    ]
