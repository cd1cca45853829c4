"""The document's shape, its checks and its error messages; no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.config_file import Config, InvalidConfig, load
from tocsin.config_file.durations import LONGEST, format_duration, parse_duration
from tocsin.config_file.schema import Reference, references

EXAMPLE = Path(__file__).parents[2] / "examples" / "tocsin.yaml"


def config(text: str) -> Config:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml")


def errors(text: str) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        config(text)
    return [issue.render("tocsin.yaml") for issue in caught.value.issues]


def test_the_example_file_is_valid_and_declares_every_section() -> None:
    document = load(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE)).document
    assert document.severities is not None
    assert document.severities.active == "P"
    [scheme] = document.severities.schemes or []
    assert [level.name for level in scheme.levels] == ["P0", "P1", "P2", "P3"]
    assert scheme.levels[0].ack_within == timedelta(minutes=5)
    assert scheme.levels[3].update_every is None
    assert [role.key for role in document.roles or []] == ["commander", "communications", "scribe"]
    assert [team.key for team in document.teams or []] == ["platform"]
    assert [service.key for service in document.services or []] == ["api", "web"]
    users = {user.email: user for user in document.users or []}
    # The merged anchor fills in role; a written time zone wins over the merged one.
    assert (users["dana@example.com"].role, users["dana@example.com"].time_zone) == ("responder", "America/New_York")
    assert users["bob@example.com"].time_zone == "Europe/Berlin"


def test_a_section_left_out_is_none_and_defaults_fill_in_the_rest() -> None:
    document = config(
        """
        users:
          - email: alice@example.com
        """
    ).document
    assert document.teams is None
    assert document.severities is None
    [user] = document.users or []
    assert (user.name, user.role, user.time_zone) == ("", "responder", "UTC")


def test_an_error_names_the_file_the_exact_line_and_the_field() -> None:
    assert errors(
        """
        teams:
          - key: platform
        services:
          - key: api
            team: platform
          - key: web
            team: Web Team
        """
    ) == [
        "tocsin.yaml:7: services[1].team: 'Web Team' is not a valid key: lowercase letters, digits, '.', '_' and '-', "
        "starting with a letter or digit"
    ]


def test_every_error_is_reported_not_just_the_first() -> None:
    assert errors(
        """
        users:
          - email: alice@example.com
            role: boss
            time_zone: Europe/Berln
          - email: not-an-address
            name: 12
        services:
          - name: No key
        """
    ) == [
        "tocsin.yaml:3: users[0].role: 'boss' is not one of 'viewer', 'responder' or 'admin'",
        "tocsin.yaml:4: users[0].time_zone: unknown time zone 'Europe/Berln'; "
        "use an IANA name such as Europe/Berlin or UTC",
        "tocsin.yaml:5: users[1].email: 'not-an-address' is not an e-mail address",
        "tocsin.yaml:6: users[1].name: expected text, not int 12; quote it",
        "tocsin.yaml:8: services[0].key: required field is missing",
    ]


def test_an_unknown_section_is_named_with_the_sections_there_are() -> None:
    assert errors(
        """
        roles: []
        widgets: []
        """
    ) == [
        "tocsin.yaml:2: widgets: unknown section 'widgets'; "
        "expected one of severities, roles, teams, users, services, integrations, routes, maintenance_windows, "
        "schedules, escalation_policies, channels, heartbeats, checks, status_page, runbooks"
    ]


def test_an_unknown_field_suggests_the_field_meant() -> None:
    assert errors(
        """
        severities:
          schemes:
            - name: P
              levels:
                - {name: P0, ack_witin: 5m}
        """
    ) == [
        "tocsin.yaml:5: severities.schemes[0].levels[0].ack_witin: "
        "unknown field 'ack_witin'; did you mean 'ack_within'?"
    ]


def test_keys_starting_with_x_dash_are_ignored_so_anchors_can_live_there() -> None:
    document = config(
        """
        x-anything: {whatever: 1}
        roles: []
        """
    ).document
    assert document.roles == []


def test_an_empty_section_must_say_whether_it_means_none() -> None:
    assert errors(
        """
        services:
        """
    ) == ["tocsin.yaml:1: services: the section is empty; write [] to declare none, or leave the section out"]


def test_a_list_where_a_mapping_belongs_is_explained() -> None:
    assert errors(
        """
        severities: [P]
        users:
          - alice@example.com
        """
    ) == [
        "tocsin.yaml:1: severities: expected a mapping of fields, not a list",
        "tocsin.yaml:3: users[0]: expected a mapping of fields, not str 'alice@example.com'",
    ]


def test_durations_need_a_unit_and_a_positive_length() -> None:
    assert errors(
        """
        severities:
          schemes:
            - name: P
              levels:
                - name: P0
                  ack_within: 300
                  resolve_within: 5 minutes
                  update_every: 0s
                  watch_after_fix: 30m1h
        """
    ) == [
        "tocsin.yaml:6: severities.schemes[0].levels[0].ack_within: 300 has no unit; "
        "write a duration like 30s, 5m, 1h30m or 2d",
        "tocsin.yaml:7: severities.schemes[0].levels[0].resolve_within: '5 minutes' is not a duration; "
        "write it like 30s, 5m, 1h30m or 2d",
        "tocsin.yaml:8: severities.schemes[0].levels[0].update_every: '0s' is not a positive duration; "
        "leave the field out for no target",
        "tocsin.yaml:9: severities.schemes[0].levels[0].watch_after_fix: '30m1h' is not a duration; "
        "write it like 30s, 5m, 1h30m or 2d",
    ]


def test_a_scheme_needs_at_least_one_level() -> None:
    [message] = errors(
        """
        severities:
          schemes:
            - {name: P, levels: []}
        """
    )
    assert message.startswith("tocsin.yaml:3: severities.schemes[0].levels: ")


def test_levels_and_services_say_whether_they_are_emergencies() -> None:
    document = config(
        """
        severities:
          schemes:
            - {name: P, levels: [{name: P0}, {name: P1, emergency: true}, {name: P2, emergency: false}]}
        services:
          - {key: payments, emergency: true}
          - {key: blog}
        """
    ).document
    assert document.severities is not None
    assert document.severities.schemes is not None
    # Left out is None: the most severe level is the emergency then (tocsin.services.config_apply).
    assert [level.emergency for level in document.severities.schemes[0].levels] == [None, True, False]
    assert [service.emergency for service in document.services or ()] == [True, False]
    [message] = errors("services:\n  - {key: payments, emergency: sometimes}\n")
    assert message.startswith("tocsin.yaml:2: services[0].emergency: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("2d", timedelta(days=2)),
        ("1h30m", timedelta(minutes=90)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("90m", timedelta(minutes=90)),
    ],
)
def test_durations_read_as_people_write_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_a_duration_longer_than_a_year_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than 366d"):
        parse_duration("367d")


@given(st.integers(min_value=1, max_value=int(LONGEST.total_seconds())))
def test_a_formatted_duration_reads_back_the_same(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_duplicates_within_a_section_are_errors_at_the_second_one() -> None:
    assert errors(
        """
        users:
          - email: alice@example.com
          - email: Alice@Example.com
        teams:
          - key: platform
          - key: platform
        severities:
          schemes:
            - name: P
              levels: [{name: P0}, {name: P0}]
        """
    ) == [
        "tocsin.yaml:3: users[1].email: user 'alice@example.com' is declared twice (first as users[0])",
        "tocsin.yaml:6: teams[1].key: team 'platform' is declared twice (first as teams[0])",
        "tocsin.yaml:10: severities.schemes[0].levels[1].name: level 'P0' is declared twice "
        "(first as severities.schemes[0].levels[0])",
    ]


def test_a_person_is_a_member_or_a_manager_of_a_team_not_both() -> None:
    assert errors(
        """
        teams:
          - key: platform
            managers: [alice@example.com]
            members:
              - bob@example.com
              - alice@example.com
              - bob@example.com
        """
    ) == [
        "tocsin.yaml:6: teams[0].members[1]: 'alice@example.com' is also a manager; list a manager only under managers",
        "tocsin.yaml:7: teams[0].members[2]: person 'bob@example.com' is declared twice (first as teams[0].members[0])",
    ]


def test_references_say_whether_the_file_declares_what_they_name() -> None:
    document = config(
        """
        severities: {active: SEV}
        users:
          - email: alice@example.com
        teams:
          - key: platform
            members: [Alice@example.com, bob@example.com]
        services:
          - {key: api, team: platform}
          - {key: billing, team: payments}
        """
    ).document
    assert references(document) == [
        Reference(("severities", "active"), "severity scheme", "SEV", declared=False),
        Reference(("teams", 0, "members", 0), "user", "Alice@example.com", declared=True),
        Reference(("teams", 0, "members", 1), "user", "bob@example.com", declared=False),
        Reference(("services", 0, "team"), "team", "platform", declared=True),
        Reference(("services", 1, "team"), "team", "payments", declared=False),
    ]


def test_the_example_file_declares_integrations_routes_and_maintenance_windows() -> None:
    document = load(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE)).document
    prometheus, web = document.integrations or []
    assert (prometheus.service, prometheus.kind, prometheus.display_name) == ("api", "alertmanager", "Prometheus")
    assert prometheus.settings.group_by == ["alertname"]
    assert prometheus.key_env is None
    assert (web.display_name, web.settings.default_severity) == ("web native", "P3")
    [route] = document.routes or []
    assert [rule.match for rule in route.rules] == [
        ['env="staging"'],
        ['severity=~"critical|page"'],
        ['team="web"'],
        ['severity="info"'],
    ]
    assert [rule.continue_ for rule in route.rules] == [False, False, True, False]
    [window] = document.maintenance_windows or []
    assert (window.starts_at, window.end) == (
        datetime(2026, 12, 5, 21, 0, tzinfo=UTC),
        datetime(2026, 12, 6, 1, 0, tzinfo=UTC),
    )


def test_alerting_sections_read_as_people_write_them() -> None:
    document = config(
        """
        integrations:
          - {service: api, kind: native, settings: {group_window: 0}}
          - service: api
            kind: generic
            key_env: WEBHOOK_KEY
            settings:
              mapping: {summary: $.title, resolved_values: [ok, fixed], labels: {host: $.host}}
        routes:
          - service: api
            rules:
              - match: severity = critical      # one matcher may be one string
                severity: P0
                continue: true
              - match: {env: staging, canary: true}
                drop: true
              - urgency: low                    # no match: every alert
        maintenance_windows:
          - name: "  DB upgrade "
            starts_at: 2026-11-28T22:00:00+01:00
            ends_at: "2026-11-29T01:30:00+01:00"
        """
    ).document
    native, generic = document.integrations or []
    assert (native.display_name, native.settings.group_window) == ("api native", timedelta(0))
    assert native.settings.auto_resolve == "monitoring"
    assert generic.key_env == "WEBHOOK_KEY"
    assert generic.settings.mapping == {
        "summary": "$.title",
        "resolved_values": ["ok", "fixed"],
        "labels": {"host": "$.host"},
    }
    [route] = document.routes or []
    # One spelling for the same matcher, and the mapping shorthand as exact matches.
    assert [rule.match for rule in route.rules] == [['severity="critical"'], ['env="staging"', 'canary="true"'], []]
    assert route.rules[0].continue_
    [window] = document.maintenance_windows or []
    assert window.name == "DB upgrade"
    assert (window.starts_at, window.end) == (
        datetime(2026, 11, 28, 21, 0, tzinfo=UTC),
        datetime(2026, 11, 29, 0, 30, tzinfo=UTC),
    )


def test_alerting_sections_report_every_error_at_its_line() -> None:
    assert errors(
        """
        integrations:
          - {service: api, kind: nagios}
          - {service: api, kind: generic, key_env: 9LIVES}
          - {service: api, kind: native, settings: {group_window: 8d, group_by: [host name]}}
        routes:
          - service: api
            rules:
              - match: ['severity']
                urgency: medium
              - {match: [], contineu: true}
        maintenance_windows:
          - name: DB
            starts_at: 2026-11-28 22:00:00
            duration: 2h
          - name: ""
            starts_at: 2026-11-28
            ends_at: 22:00
        """
    ) == [
        "tocsin.yaml:2: integrations[0].kind: 'nagios' is not one of 'native', 'pagerduty', 'alertmanager', "
        "'opsgenie', 'grafana', 'generic', 'github' or 'sentry'",
        "tocsin.yaml:3: integrations[1].key_env: '9LIVES' is not an environment variable name: letters, digits and '_'",
        "tocsin.yaml:4: integrations[2].settings.group_by[0]: 'host name' is not a label name: letters, digits, '_', "
        "'.' and '-', not starting with a digit",
        "tocsin.yaml:4: integrations[2].settings.group_window: '8d' is longer than 7d",
        "tocsin.yaml:8: routes[0].rules[0].match[0]: 'severity' is not a matcher; "
        'write name="value", name!="value", name=~"re" or name!~"re"',
        "tocsin.yaml:9: routes[0].rules[0].urgency: 'medium' is not one of 'high' or 'low'",
        "tocsin.yaml:10: routes[0].rules[1].contineu: unknown field 'contineu'; did you mean 'continue'?",
        "tocsin.yaml:13: maintenance_windows[0].starts_at: 2026-11-28 22:00:00 has no time zone offset; "
        "write it like 2026-11-28T22:00:00Z or 2026-11-28T22:00:00+01:00",
        "tocsin.yaml:15: maintenance_windows[1].name: a maintenance window needs a name",
        "tocsin.yaml:16: maintenance_windows[1].starts_at: 2026-11-28 is a date without a time; "
        "write it like 2026-11-28T22:00:00Z or 2026-11-28T22:00:00+01:00",
        "tocsin.yaml:17: maintenance_windows[1].ends_at: expected a time, not int 1320; "
        "write it like 2026-11-28T22:00:00Z or 2026-11-28T22:00:00+01:00",
    ]


def test_alerting_entries_are_checked_as_a_whole() -> None:
    assert errors(
        """
        integrations:
          - {service: api, kind: alertmanager, name: Prometheus, key_env: AM_KEY}
          - {service: api, kind: native, name: Prometheus, key_env: AM_KEY}
          - {service: api, kind: generic}
          - {service: web, kind: native, settings: {mapping: {summary: $.title}}}
        routes:
          - service: api
            rules:
              - {match: {env: staging}, drop: true, severity: P3}
              - {route_to: api}
          - {service: api, rules: []}
        maintenance_windows:
          - {name: DB, starts_at: 2026-11-28T22:00:00Z}
          - {name: DB, starts_at: 2026-11-28T22:00:00Z, ends_at: 2026-11-28T21:00:00Z}
          - {name: Deploy, starts_at: 2026-11-28T22:00:00Z, ends_at: 2026-11-28T23:00:00Z, duration: 1h}
        """
    ) == [
        "tocsin.yaml:3: integrations[1].name: integration 'api/Prometheus' is declared twice "
        "(first as integrations[0])",
        "tocsin.yaml:3: integrations[1].key_env: AM_KEY already holds the key of integrations[0]; "
        "each integration needs its own key",
        "tocsin.yaml:4: integrations[2].settings.mapping: a generic integration needs mapping.summary: "
        "a JSON path such as $.title",
        "tocsin.yaml:5: integrations[3].settings.mapping: only generic integrations read a mapping, not native",
        "tocsin.yaml:9: routes[0].rules[0].drop: a drop rule sets nothing else: remove severity, route_to and urgency",
        "tocsin.yaml:10: routes[0].rules[1].route_to: a rule cannot route a service to itself",
        "tocsin.yaml:11: routes[1].service: service 'api' is declared twice (first as routes[0])",
        "tocsin.yaml:13: maintenance_windows[0]: give ends_at or duration",
        "tocsin.yaml:14: maintenance_windows[1].name: maintenance window 'DB' is declared twice "
        "(first as maintenance_windows[0])",
        "tocsin.yaml:14: maintenance_windows[1].ends_at: ends_at must be after starts_at",
        "tocsin.yaml:15: maintenance_windows[2].duration: give ends_at or duration, not both",
    ]


def test_alerting_sections_refer_to_services_and_severity_levels() -> None:
    document = config(
        """
        severities:
          active: Q
          schemes: [{name: Q, levels: [{name: Q1}, {name: Q2}]}]
        services: [{key: api}]
        integrations:
          - {service: api, kind: native, settings: {default_severity: P2}}
        routes:
          - service: billing
            rules: [{severity: Q1, route_to: api}, {route_to: web}]
        maintenance_windows:
          - {name: DB, service: web, starts_at: 2026-11-28T22:00:00Z, duration: 1h}
          - {name: All, starts_at: 2026-11-28T22:00:00Z, duration: 1h}
        """
    ).document
    assert [ref for ref in references(document) if ref.kind in ("service", "severity")] == [
        Reference(("integrations", 0, "service"), "service", "api", declared=True),
        Reference(("integrations", 0, "settings", "default_severity"), "severity", "P2", declared=False),
        Reference(("routes", 0, "service"), "service", "billing", declared=False),
        Reference(("routes", 0, "rules", 0, "severity"), "severity", "Q1", declared=True),
        Reference(("routes", 0, "rules", 0, "route_to"), "service", "api", declared=True),
        Reference(("routes", 0, "rules", 1, "route_to"), "service", "web", declared=False),
        Reference(("maintenance_windows", 0, "service"), "service", "web", declared=False),
    ]
