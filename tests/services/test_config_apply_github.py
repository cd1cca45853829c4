"""`tocsin apply` of a github integration: its webhook secret from the environment, never shown,
and its CI failure thresholds."""

from __future__ import annotations

import json
from datetime import timedelta
from textwrap import dedent

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.clock import FrozenClock
from tocsin.config_file import Document, InvalidConfig, load
from tocsin.domain import ci
from tocsin.services import config_apply, integrations
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import alerts as alerts_repo

APPLY = config_apply.APPLY_ACTOR
SECRET = "gh-webhook-0123456789abcdef"
ENV = {"GITHUB_WEBHOOK_SECRET": SECRET}

GITHUB = """
integrations:
  - service: api
    kind: github
    name: GitHub
    secret_env: GITHUB_WEBHOOK_SECRET
    settings:
      failures_in_a_row: 3
      failures_in_window: 5
      failure_window: 2h
"""


def doc(text: str) -> Document:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml").document


def fields(planned: config_apply.Plan, key: str) -> dict[str, object]:
    [change] = [c for c in planned.changes if c.key == key]
    return {f.field: (f.old, f.new) for f in change.fields}


def apply(
    session: Session, clock: FrozenClock, text: str, env: dict[str, str] = ENV
) -> tuple[config_apply.Plan, list[config_apply.IssuedKey]]:
    planned = config_apply.plan(session, doc(text), now=clock.now(), env=env)
    issued = config_apply.execute(session, APPLY, clock.now(), planned)
    session.commit()
    return planned, issued


def the_integration(session: Session) -> models.Integration:
    [row] = [row for row in alerts_repo.list_integrations(session) if row.kind == "github"]
    return row


def issues(text: str, session: Session | None = None, env: dict[str, str] = ENV) -> list[tuple[str, str]]:
    """What validate (no session) or apply's planning (a session) says about the file."""
    with pytest.raises(InvalidConfig) as caught:
        plan(text, session, env)
    return [(issue.field, issue.message) for issue in caught.value.issues]


def plan(text: str, session: Session | None, env: dict[str, str]) -> config_apply.Plan:
    document = doc(text)
    assert session is not None, "the file should have been invalid without a database"
    return config_apply.plan(session, document, env=env)


@pytest.mark.usefixtures("personas")
def test_apply_creates_the_integration_with_its_secret_and_thresholds_and_never_shows_the_secret(
    session: Session, clock: FrozenClock
) -> None:
    dry = config_apply.plan(session, doc(GITHUB), now=clock.now(), env=ENV)
    assert alerts_repo.list_integrations(session) == []
    planned, issued = apply(session, clock, GITHUB)
    assert dry.as_json() == planned.as_json()
    assert fields(planned, "api/GitHub") == {
        "kind": (None, "github"),
        "group_window": (None, "5m"),
        "auto_resolve": (None, "resolve"),  # CI green again is a recovery: its kind's default
        "failures_in_a_row": (None, 3),
        "failures_in_window": (None, 5),
        "failure_window": (None, "2h"),
        "signing_secret": (None, "(from $GITHUB_WEBHOOK_SECRET)"),
        "key": (None, "(generated)"),
    }
    assert SECRET not in json.dumps(planned.as_json())
    row = the_integration(session)
    assert (row.signing_secret, row.managed) == (SECRET, True)
    assert ci.thresholds_of(row.settings) == ci.Thresholds(3, 5, timedelta(hours=2))
    # The key is handed back once, with the Payload URL to paste into GitHub.
    [key] = issued
    assert (key.kind, integrations.find_by_key(session, key.key) is not None) == ("github", True)
    audit = json.dumps([e.detail for e in session.scalars(select(models.AuditEvent))])
    assert SECRET not in audit


@pytest.mark.usefixtures("personas")
def test_a_second_apply_plans_nothing_and_a_new_secret_or_threshold_is_an_update(
    session: Session, clock: FrozenClock
) -> None:
    apply(session, clock, GITHUB)
    again = config_apply.plan(session, doc(GITHUB), now=clock.now(), env=ENV)
    assert again.empty, again.changes
    rotated = {"GITHUB_WEBHOOK_SECRET": SECRET + "-rotated"}
    planned, issued = apply(session, clock, GITHUB.replace("failures_in_a_row: 3", "failures_in_a_row: 0"), rotated)
    assert fields(planned, "api/GitHub") == {
        "failures_in_a_row": (3, 0),
        "signing_secret": ("(set)", "(from $GITHUB_WEBHOOK_SECRET)"),
    }
    assert issued == []  # the key stays
    row = the_integration(session)
    assert row.signing_secret == SECRET + "-rotated"
    assert row.settings["failures_in_a_row"] == 0
    # Thresholds left out read as the defaults, as ingestion reads them.
    plain = GITHUB.split("    settings:")[0]
    planned, _ = apply(session, clock, plain, rotated)
    assert fields(planned, "api/GitHub") == {
        "failures_in_a_row": (0, 2),
        "failures_in_window": (5, 3),
        "failure_window": ("2h", "1h"),
    }
    assert ci.thresholds_of(the_integration(session).settings) == ci.Thresholds()


@pytest.mark.usefixtures("personas")
def test_a_github_integration_made_through_the_api_is_claimed_and_one_left_out_is_disabled(
    session: Session, clock: FrozenClock
) -> None:
    made = integrations.create(
        session, Actor.system("test"), clock.now(), service_key="api", kind="github", name="GitHub",
        signing_secret=SECRET,
    )  # fmt: skip
    session.commit()
    planned, issued = apply(session, clock, GITHUB)
    assert fields(planned, "api/GitHub") == {
        "failures_in_a_row": (2, 3),
        "failures_in_window": (3, 5),
        "failure_window": ("1h", "2h"),
        "managed": (False, True),
    }
    assert issued == []
    assert the_integration(session).id == made.row.id
    planned, _ = apply(session, clock, "integrations: []\n")
    assert [(c.action, c.key, c.note) for c in planned.changes] == [
        ("delete", "api/GitHub", "disabled: its key stops working, its alerts stay")
    ]
    assert the_integration(session).disabled_at is not None


@pytest.mark.usefixtures("personas")
def test_a_missing_or_short_secret_names_the_variable_never_its_value(session: Session) -> None:
    assert issues(GITHUB, session, {}) == [
        ("integrations[0].secret_env", "environment variable GITHUB_WEBHOOK_SECRET is not set")
    ]
    assert issues(GITHUB, session, {"GITHUB_WEBHOOK_SECRET": "short"}) == [
        ("integrations[0].secret_env", "environment variable GITHUB_WEBHOOK_SECRET does not hold 16 to 200 characters")
    ]
    assert alerts_repo.list_integrations(session) == []


def test_validate_names_the_field_of_a_github_integration_that_cannot_work() -> None:
    unsigned = "integrations:\n  - {service: api, kind: github}\n"
    assert issues(unsigned) == [
        (
            "integrations[0].secret_env",
            "a github integration needs secret_env: the variable that holds the webhook secret "
            "(without one, anyone can post deliveries)",
        )
    ]
    native = "integrations:\n  - {service: api, kind: native, secret_env: X, settings: {failures_in_a_row: 2}}\n"
    assert issues(native) == [
        ("integrations[0].secret_env", "only github and grafana deliveries are signed, not native"),
        ("integrations[0].settings.failures_in_a_row", "only github integrations count CI failures"),
    ]
    bounds = GITHUB.replace("failures_in_a_row: 3", "failures_in_a_row: 101").replace("2h", "8d")
    assert issues(bounds) == [
        ("integrations[0].settings.failures_in_a_row", "expected a whole number from 0 (off) to 100"),
        ("integrations[0].settings.failure_window", "expected a duration from 1m to 7d"),
    ]
    assert issues(GITHUB.replace("kind: github", "kind: gitlab"))[0][0] == "integrations[0].kind"
