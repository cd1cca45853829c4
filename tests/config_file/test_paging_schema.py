"""The paging sections' shape and checks: every error names file, line and field; no database."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from tocsin.config_file import Config, InvalidConfig, load
from tocsin.config_file.schema import references

README = Path(__file__).parents[2] / "README.md"


def config(text: str) -> Config:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml")


def errors(text: str) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        config(text)
    return [issue.render("tocsin.yaml") for issue in caught.value.issues]


SCHEDULE = """
users:
  - {email: dana@example.com}
  - {email: erin@example.com}
schedules:
  - key: primary
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        start: "2026-11-30 09:00"
        participants: [dana@example.com, erin@example.com]
"""


def test_the_readme_example_is_valid() -> None:
    # The "Config as code" section's example; the paging walkthrough after it has its own test (tests/e2e).
    section = README.read_text(encoding="utf-8").partition("## Config as code")[2].partition("\n### ")[0]
    [block] = re.findall(r"```yaml\n(.*?)```", section, re.S)
    document = load(block, "README.md").document
    [primary, backup] = document.schedules or []
    assert [layer.participants for layer in primary.layers] == [["dana@example.com", "erin@example.com"]]
    assert backup.key == "backup"
    [policy] = document.escalation_policies or []
    assert [level.delay for level in policy.levels] == [timedelta(minutes=5)] * 3
    kinds = [[t.kind for t in level.targets] for level in policy.levels]
    assert kinds == [["schedule", "schedule"], ["user"], ["user"]]
    [dana, *_] = document.users or []
    assert [(m.kind, m.address_env) for m in dana.contact_methods or []] == [
        ("discord", "DANA_DISCORD_WEBHOOK"),
        ("email", None),
    ]


def test_a_schedule_is_read_with_its_layers() -> None:
    [schedule] = config(SCHEDULE).document.schedules or []
    [layer] = schedule.layers
    assert (layer.kind, layer.every, layer.time_zone) == ("weekly", 1, None)
    assert layer.start.isoformat() == "2026-11-30T09:00:00"


def test_a_bad_time_zone_is_named_on_its_line() -> None:
    assert errors(SCHEDULE.replace("time_zone: Europe/Berlin", "time_zone: Europe/Berln")) == [
        "tocsin.yaml:6: schedules[0].time_zone: unknown time zone 'Europe/Berln'; "
        "use an IANA name such as Europe/Berlin or UTC"
    ]


def test_a_participant_the_file_does_not_declare_is_a_reference_for_apply() -> None:
    document = config(SCHEDULE.replace("erin@example.com]", "zoe@example.com]")).document
    external = [(ref.path, ref.kind, ref.key) for ref in references(document) if not ref.declared]
    assert external == [(("schedules", 0, "layers", 0, "participants", 1), "user", "zoe@example.com")]


def test_an_unknown_participant_in_a_declared_file_is_refused_by_apply_with_its_line() -> None:
    # Without the database the reference cannot be checked: see tests/services/test_config_apply_paging.py.
    cfg = config(SCHEDULE.replace("erin@example.com]", "zoe@example.com]"))
    [ref] = [ref for ref in references(cfg.document) if not ref.declared]
    assert cfg.source.line_of(ref.path) == 10


def test_a_restriction_that_ends_before_it_starts_names_its_field() -> None:
    text = SCHEDULE + '        restrictions: [{days: [mon, tue], start: "17:00", end: "09:00"}]\n'
    [error] = errors(text)
    assert error.startswith("tocsin.yaml:11: schedules[0].layers[0].restrictions[0].end: 09:00:00 is not after")


POLICY = """
escalation_policies:
  - key: default
    levels:
      - {targets: [{schedule: primary}], delay: 5m}
      - {targets: [{user: manager@example.com}], delay: 5m}
"""


def test_a_policy_level_with_no_targets_is_refused() -> None:
    text = POLICY.replace("{targets: [{user: manager@example.com}], delay: 5m}", "{targets: [], delay: 5m}")
    assert errors(text) == [
        "tocsin.yaml:5: escalation_policies[0].levels[1].targets: a level needs at least one target"
    ]


def test_a_target_names_exactly_one_kind() -> None:
    text = POLICY.replace("{schedule: primary}", "{schedule: primary, team: infra}")
    assert errors(text) == [
        "tocsin.yaml:4: escalation_policies[0].levels[0].targets[0]: "
        "a target names one of user, schedule or team, not 2"
    ]


def test_a_duration_typo_is_named() -> None:
    assert errors(POLICY.replace("delay: 5m}", "delay: 5mn}", 1)) == [
        "tocsin.yaml:4: escalation_policies[0].levels[0].delay: "
        "'5mn' is not a duration; write it like 30s, 5m, 1h30m or 2d"
    ]


def test_a_variant_naming_a_level_the_scheme_lacks_is_refused() -> None:
    text = """
    severities:
      active: P
      schemes:
        - name: P
          levels: [{name: P0}, {name: P1}]
    escalation_policies:
      - key: default
        levels:
          - {targets: [{schedule: primary}], delay: 5m}
        variants: {P0: all_at_once, P9: record_only}
    """
    assert errors(text) == [
        "tocsin.yaml:10: escalation_policies[0].variants.P9: not a level of the active severity scheme (P0, P1)"
    ]


def test_a_step_delay_variant_needs_its_delay() -> None:
    text = POLICY + "    variants: {P1: {kind: step_delay}}\n"
    assert errors(text) == ["tocsin.yaml:6: escalation_policies[0].variants.P1.step_delay: must be positive, not None"]


CONTACTS = """
users:
  - email: dana@example.com
    contact_methods:
      - {name: discord, kind: discord, address_env: DANA_DISCORD}
      - {name: mail, kind: email, address: dana@example.com}
    notification_rules:
      - {method: discord}
      - {method: mail, delay: 5m, urgency: low}
    quiet_hours: {start: "22:00", end: "07:00", weekdays: [mon, tue]}
"""


def test_contact_methods_rules_and_quiet_hours_are_read() -> None:
    [user] = config(CONTACTS).document.users or []
    assert [m.name for m in user.contact_methods or []] == ["discord", "mail"]
    assert [(r.method, r.delay, r.urgency) for r in user.notification_rules or []] == [
        ("discord", timedelta(0), "both"),
        ("mail", timedelta(minutes=5), "low"),
    ]
    assert user.quiet_hours is not None
    assert user.quiet_hours.weekdays == ["mon", "tue"]


def test_a_rule_naming_an_unknown_method_is_refused() -> None:
    assert errors(CONTACTS.replace("{method: discord}", "{method: discrod}")) == [
        "tocsin.yaml:7: users[0].notification_rules[0].method: "
        "unknown contact method 'discrod'; this user has discord, mail"
    ]


def test_a_contact_method_needs_an_address_or_its_variable() -> None:
    text = CONTACTS.replace(", address_env: DANA_DISCORD", "")
    assert errors(text) == [
        "tocsin.yaml:4: users[0].contact_methods[0]: give address or address_env (an environment variable), one of them"
    ]


def test_only_a_webhook_method_names_a_signing_secret() -> None:
    hook = "      - {name: hook, kind: webhook, address_env: DANA_HOOK, signing_secret_env: DANA_HOOK_SECRET}\n"
    [user] = (
        config(CONTACTS.replace("    notification_rules:\n", hook + "    notification_rules:\n")).document.users or []
    )
    assert [m.signing_secret_env for m in user.contact_methods or []] == [None, None, "DANA_HOOK_SECRET"]
    text = CONTACTS.replace("address_env: DANA_DISCORD", "address_env: DANA_DISCORD, signing_secret_env: DANA_SECRET")
    assert errors(text) == [
        "tocsin.yaml:4: users[0].contact_methods[0].signing_secret_env: "
        "only webhook contact methods sign their messages, not discord"
    ]


def test_quiet_hours_that_never_end_are_refused() -> None:
    assert errors(CONTACTS.replace('end: "07:00"', 'end: "22:00"')) == [
        "tocsin.yaml:9: users[0].quiet_hours.end: must differ from start (22:00)"
    ]


def test_a_weekday_typo_is_named() -> None:
    assert errors(CONTACTS.replace("weekdays: [mon, tue]", "weekdays: [mon, tues]")) == [
        "tocsin.yaml:9: users[0].quiet_hours.weekdays[1]: "
        "'tues' is not a weekday; use mon, tue, wed, thu, fri, sat, sun"
    ]
