"""The document's shape, its checks and its error messages; no database."""

from __future__ import annotations

from datetime import timedelta
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
        schedulez: []
        """
    ) == [
        "tocsin.yaml:2: schedulez: unknown section 'schedulez'; "
        "expected one of severities, roles, teams, users, services"
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
