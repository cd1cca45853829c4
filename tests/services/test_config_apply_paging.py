"""`tocsin apply` of the paging sections: schedules, escalation policies, contact methods, rules, quiet hours."""

from __future__ import annotations

import json
from textwrap import dedent

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.config_file import Document, InvalidConfig, load
from tocsin.services import config_apply, contacts, policies, schedules
from tocsin.storage import models

APPLY = config_apply.APPLY_ACTOR
WEBHOOK = "https://discord.com/api/webhooks/123456/s3cr3t-t0ken-value"
ENV = {"DANA_DISCORD": WEBHOOK}

PAGING = """
users:
  - email: dana@example.com
    name: Dana
    time_zone: Europe/Berlin
    contact_methods:
      - {name: discord, kind: discord, address_env: DANA_DISCORD, high_urgency: true}
      - {name: mail, kind: email, address: dana@example.com}
    notification_rules:
      - {method: discord}
      - {method: mail, delay: 5m}
    quiet_hours: {start: "22:00", end: "07:00"}
  - {email: erin@example.com, name: Erin}
  - {email: cto@example.com, name: Casey}
schedules:
  - key: primary
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        start: "2026-11-23 09:00"
        participants: [dana@example.com, erin@example.com]
      - name: backup
        start: "2026-11-23 09:00"
        participants: [erin@example.com]
        restrictions: [{days: [sat, sun], start: "00:00", end: "24:00"}]
escalation_policies:
  - key: default
    repeat: 1
    levels:
      - {targets: [{schedule: primary}], delay: 5m}
      - {targets: [{team: platform}], delay: 5m}
      - {targets: [{user: cto@example.com}], delay: 5m}
    variants: {P0: all_at_once, P3: record_only}
services:
  - {key: api, name: Public API, team: platform, escalation_policy: default}
"""


def doc(text: str) -> Document:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml").document


def summary(planned: config_apply.Plan) -> list[tuple[str, str, str]]:
    return [(change.action, change.kind, change.key) for change in planned.changes]


def apply(session: Session, clock: FrozenClock, text: str) -> config_apply.Plan:
    planned = config_apply.apply(session, APPLY, clock.now(), doc(text), env=ENV)
    session.commit()
    return planned


def test_apply_creates_schedules_policies_and_contacts(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    planned = apply(session, clock, PAGING)
    assert summary(planned) == [
        ("create", "user", "dana@example.com"),
        ("create", "user", "erin@example.com"),
        ("create", "user", "cto@example.com"),
        ("create", "contact method", "dana@example.com/discord"),
        ("create", "contact method", "dana@example.com/mail"),
        ("create", "notification rules", "dana@example.com"),
        ("create", "quiet hours", "dana@example.com"),
        ("create", "schedule", "primary"),
        ("create", "escalation policy", "default"),
        ("update", "service", "api"),
    ]
    schedule = schedules.get_schedule(session, "primary")
    assert schedule.managed
    assert [(layer.name, layer.participants) for layer in schedule.layers] == [
        ("weekly", ["dana@example.com", "erin@example.com"]),
        ("backup", ["erin@example.com"]),
    ]
    on_call = schedules.who_is_on_call(session, "primary", clock.now())
    assert on_call is not None
    assert on_call.user == "dana@example.com"
    policy = policies.get_policy(session, "default")
    assert [level.delay_s for level in policy.levels] == [300, 300, 300]
    assert policy.variants["P3"]["kind"] == "record_only"
    methods = contacts.list_contact_methods(session, "dana@example.com")
    assert [(m.name, m.kind, m.address) for m in methods] == [
        ("discord", "discord", WEBHOOK),
        ("mail", "email", "dana@example.com"),
    ]
    rules = contacts.list_rules(session, "dana@example.com")
    assert [(r.contact_method.name, r.delay_s) for r in rules] == [("discord", 0), ("mail", 300)]
    assert contacts.get_quiet_hours(session, "dana@example.com").start == "22:00"
    service = session.scalars(select(models.Service).where(models.Service.key == "api")).one()
    assert service.escalation_policy is not None
    assert service.escalation_policy.key == "default"


def test_a_second_apply_plans_nothing(session: Session, clock: FrozenClock, personas: Personas) -> None:
    apply(session, clock, PAGING)
    again = config_apply.plan(session, doc(PAGING), now=clock.now(), env=ENV)
    assert again.empty, summary(again)


def test_removing_a_managed_schedule_deletes_it(session: Session, clock: FrozenClock, personas: Personas) -> None:
    apply(session, clock, PAGING)
    text = PAGING.replace("{schedule: primary}", "{user: dana@example.com}")
    text = text[: text.index("schedules:")] + "schedules: []\n" + text[text.index("escalation_policies:") :]
    planned = apply(session, clock, text)
    assert summary(planned) == [("update", "escalation policy", "default"), ("delete", "schedule", "primary")]
    assert session.scalar(select(func.count()).select_from(models.Schedule)) == 0


def test_a_schedule_still_paged_by_a_policy_in_the_file_is_refused(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    apply(session, clock, PAGING)
    text = PAGING[: PAGING.index("schedules:")] + "schedules: []\n" + PAGING[PAGING.index("escalation_policies:") :]
    with pytest.raises(InvalidConfig) as caught:
        config_apply.plan(session, doc(text), env=ENV)
    [issue] = caught.value.issues
    assert issue.path == ("escalation_policies", 0, "levels", 0, "targets", 0, "schedule")
    assert issue.message == "schedule 'primary' is not under schedules, so apply would delete it"


def test_an_unknown_participant_is_named_with_its_path(session: Session, personas: Personas) -> None:
    with pytest.raises(InvalidConfig) as caught:
        config_apply.plan(session, doc(PAGING.replace("[erin@example.com]", "[zoe@example.com]")), env=ENV)
    [issue] = caught.value.issues
    assert issue.path == ("schedules", 0, "layers", 1, "participants", 0)
    assert issue.message == "unknown user 'zoe@example.com'"


def test_a_missing_address_variable_is_named_never_its_value(session: Session, personas: Personas) -> None:
    with pytest.raises(InvalidConfig) as caught:
        config_apply.plan(session, doc(PAGING), env={})
    [issue] = caught.value.issues
    assert issue.path == ("users", 0, "contact_methods", 0, "address_env")
    assert "DANA_DISCORD is not set" in issue.message


def test_dry_run_changes_nothing_and_never_shows_the_secret(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    planned = config_apply.plan(session, doc(PAGING), now=clock.now(), env=ENV)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(models.Schedule)) == 0
    assert session.scalar(select(func.count()).select_from(models.ContactMethod)) == 0
    shown = json.dumps(planned.as_json())
    assert "s3cr3t" not in shown
    assert "123456" not in shown
    [discord] = [c for c in planned.changes if c.key == "dana@example.com/discord"]
    assert {f.field: f.new for f in discord.fields}["address"] == "https://discord.com/… (from $DANA_DISCORD)"


def test_changing_the_secret_shows_an_update_still_masked(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    apply(session, clock, PAGING)
    rotated = {"DANA_DISCORD": "https://discord.com/api/webhooks/123456/n3w-t0ken"}
    planned = config_apply.plan(session, doc(PAGING), now=clock.now(), env=rotated)
    assert summary(planned) == [("update", "contact method", "dana@example.com/discord")]
    assert "t0ken" not in json.dumps(planned.as_json())


HOOK_SECRET = "whsec-from-the-environment-0123"
SIGNED = PAGING.replace(
    "      - {name: mail, kind: email, address: dana@example.com}\n",
    "      - {name: mail, kind: email, address: dana@example.com}\n"
    "      - {name: hook, kind: webhook, address: https://hooks.example.com/dana,\n"
    "         signing_secret_env: DANA_HOOK_SECRET}\n",
)


def _secret_field(planned: config_apply.Plan) -> tuple[object, object]:
    [hook] = [c for c in planned.changes if c.key == "dana@example.com/hook"]
    [field] = [f for f in hook.fields if f.field == "signing_secret"]
    return field.old, field.new


def test_a_signing_secret_comes_from_the_environment_and_the_plan_only_says_whether(
    session: Session, clock: FrozenClock, personas: Personas
) -> None:
    env = {**ENV, "DANA_HOOK_SECRET": HOOK_SECRET}
    planned = config_apply.apply(session, APPLY, clock.now(), doc(SIGNED), env=env)
    session.commit()
    assert _secret_field(planned) == (None, "set (from $DANA_HOOK_SECRET)")
    [hook] = [m for m in contacts.list_contact_methods(session, "dana@example.com") if m.name == "hook"]
    assert hook.signing_secret == HOOK_SECRET
    assert config_apply.plan(session, doc(SIGNED), now=clock.now(), env=env).changes == ()

    rotated = {**env, "DANA_HOOK_SECRET": "whsec-rotated-in-the-vault-99"}
    planned = config_apply.plan(session, doc(SIGNED), now=clock.now(), env=rotated)
    assert _secret_field(planned) == ("set", "changed (from $DANA_HOOK_SECRET)")
    shown = json.dumps(planned.as_json())
    assert "environment-0123" not in shown
    assert "vault" not in shown
    session.rollback()

    unsigned = SIGNED.replace(",\n         signing_secret_env: DANA_HOOK_SECRET", "")
    assert "signing_secret_env" not in unsigned
    planned = config_apply.apply(session, APPLY, clock.now(), doc(unsigned), env=env)
    session.commit()
    assert _secret_field(planned) == ("set", "none")
    assert hook.signing_secret is None


def test_a_missing_or_unusable_signing_secret_is_named_never_shown(session: Session, personas: Personas) -> None:
    for env, message in (
        (ENV, "environment variable DANA_HOOK_SECRET is not set; apply reads the signing secret there"),
        (
            {**ENV, "DANA_HOOK_SECRET": "too short"},
            "DANA_HOOK_SECRET: a signing secret is 16-256 printable ASCII characters without spaces",
        ),
    ):
        with pytest.raises(InvalidConfig) as caught:
            config_apply.plan(session, doc(SIGNED), env=env)
        [issue] = caught.value.issues
        assert (issue.path, issue.message) == (("users", 0, "contact_methods", 2, "signing_secret_env"), message)


def test_removed_contacts_rules_and_policy_go(session: Session, clock: FrozenClock, personas: Personas) -> None:
    apply(session, clock, PAGING)
    text = (
        PAGING.replace("      - {name: mail, kind: email, address: dana@example.com}\n", "")
        .replace("      - {method: mail, delay: 5m}\n", "")
        .replace('    quiet_hours: {start: "22:00", end: "07:00"}\n', "    quiet_hours: null\n")
    )
    text = text[: text.index("escalation_policies:")] + "escalation_policies: []\n"
    text += "services:\n  - {key: api, name: Public API, team: platform, escalation_policy: null}\n"
    planned = apply(session, clock, text)
    assert sorted(summary(planned)) == [
        ("delete", "contact method", "dana@example.com/mail"),
        ("delete", "escalation policy", "default"),
        ("delete", "quiet hours", "dana@example.com"),
        ("update", "notification rules", "dana@example.com"),
        ("update", "service", "api"),
    ]
    assert [m.name for m in contacts.list_contact_methods(session, "dana@example.com")] == ["discord"]
    assert policies.list_policies(session) == []
