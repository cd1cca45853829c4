"""`tocsin apply` with a `checks:` section: create, plan nothing again, update in place, delete managed ones."""

from __future__ import annotations

from textwrap import dedent

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.clock import FrozenClock
from tocsin.config_file import Document, InvalidConfig, load
from tocsin.services import checks, config_apply
from tocsin.services.actor import Actor
from tocsin.storage import models

APPLY = config_apply.APPLY_ACTOR

CHECKS = """
checks:
  - name: api-health
    service: api
    http:
      url: https://api.example.com/healthz
      conditions: ['$.status == "ok"']
    remind_every: 1h
  - name: db-port
    service: api
    tcp: {host: db.internal, port: 5432}
    interval: 30s
    failures_before_down: 5
"""


def doc(text: str) -> Document:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml").document


def summary(planned: config_apply.Plan) -> list[tuple[str, str, str]]:
    return [(change.action, change.kind, change.key) for change in planned.changes]


def apply(session: Session, clock: FrozenClock, text: str) -> config_apply.Plan:
    planned = config_apply.apply(session, APPLY, clock.now(), doc(text), env={})
    session.commit()
    return planned


def rows(session: Session) -> dict[str, models.Check]:
    return {row.name: row for row in session.scalars(select(models.Check))}


@pytest.mark.usefixtures("personas")
def test_apply_creates_the_checks_and_a_second_apply_plans_nothing(session: Session, clock: FrozenClock) -> None:
    planned = apply(session, clock, CHECKS)
    assert summary(planned) == [("create", "check", "api-health"), ("create", "check", "db-port")]
    made = rows(session)
    assert made["api-health"].kind == "http"
    assert made["api-health"].reminder_every_s == 3600
    assert (made["db-port"].interval_s, made["db-port"].failures_before_down) == (30, 5)
    assert all(row.managed for row in made.values())
    assert made["db-port"].next_run_at is not None
    again = config_apply.plan(session, doc(CHECKS), now=clock.now(), env={})
    assert again.empty, summary(again)


@pytest.mark.usefixtures("personas")
def test_a_changed_probe_is_an_update_in_place_and_a_managed_check_left_out_is_deleted(
    session: Session, clock: FrozenClock
) -> None:
    apply(session, clock, CHECKS)
    first_id = rows(session)["db-port"].id
    changed = CHECKS.replace("port: 5432", "port: 6432").split("  - name: api-health")[0] + (
        "  - name: db-port\n    service: api\n    tcp: {host: db.internal, port: 6432}\n    interval: 30s\n"
        "    failures_before_down: 5\n"
    )
    planned = config_apply.plan(session, doc(changed), now=clock.now(), env={})
    assert summary(planned) == [("update", "check", "db-port"), ("delete", "check", "api-health")]
    [update] = [c for c in planned.changes if c.action == "update"]
    assert [f.field for f in update.fields] == ["spec"]
    apply(session, clock, changed)
    after = rows(session)
    assert list(after) == ["db-port"]
    assert after["db-port"].id == first_id
    assert after["db-port"].spec == {"host": "db.internal", "port": 6432}


@pytest.mark.usefixtures("personas")
def test_a_check_made_through_the_api_stays_unless_the_file_names_it(session: Session, clock: FrozenClock) -> None:
    definition = checks.Definition(kind="tcp", spec={"host": "cache", "port": 6379})
    checks.create(session, Actor.system("tests"), clock.now(), service_key="api", name="cache", definition=definition)
    session.commit()
    apply(session, clock, CHECKS)
    assert sorted(rows(session)) == ["api-health", "cache", "db-port"]
    assert rows(session)["cache"].managed is False


@pytest.mark.usefixtures("personas")
def test_a_check_naming_an_unknown_service_is_refused_with_its_path(session: Session) -> None:
    with pytest.raises(InvalidConfig) as caught:
        config_apply.plan(session, doc(CHECKS.replace("service: api\n    tcp", "service: nope\n    tcp")), env={})
    [issue] = caught.value.issues
    assert issue.field == "checks[1].service"
