"""`tocsin apply` on the database: the plan, applying it, and what it refuses."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock, as_utc
from tocsin.config_file import Document, InvalidConfig, Issue, load
from tocsin.domain.alerts import AutoResolve
from tocsin.errors import Conflict
from tocsin.services import config_apply, directory, incidents, integrations, routing, severities
from tocsin.services.actor import Actor
from tocsin.services.config_apply import Change, FieldChange
from tocsin.storage import models
from tocsin.storage.repositories import alerts as alerts_repo
from tocsin.storage.repositories import directory as directory_repo
from tocsin.storage.repositories import severities as severities_repo

EXAMPLE = Path(__file__).parents[2] / "examples" / "tocsin.yaml"
APPLY = config_apply.APPLY_ACTOR


def doc(text: str) -> Document:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml").document


def summary(plan: config_apply.Plan) -> list[tuple[str, str, str]]:
    return [(change.action, change.kind, change.key) for change in plan.changes]


def apply(session: Session, clock: FrozenClock, text: str) -> config_apply.Plan:
    planned = config_apply.apply(session, APPLY, clock.now(), doc(text))
    session.commit()
    return planned


def rejected(session: Session, text: str) -> list[Issue]:
    with pytest.raises(InvalidConfig) as caught:
        config_apply.plan(session, doc(text))
    return list(caught.value.issues)


TEAM_FILE = """
users:
  - {email: dana@example.com, name: Dana, time_zone: Europe/Berlin}
  - {email: erin@example.com, name: Erin, role: viewer}
teams:
  - key: infra
    name: Infrastructure
    managers: [dana@example.com]
    members: [erin@example.com, bob@example.com]
services:
  - {key: db, name: Database, team: infra}
"""


def test_a_first_apply_creates_what_the_file_declares_as_managed_objects(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    planned = apply(session, clock, TEAM_FILE)

    assert summary(planned) == [
        ("create", "user", "dana@example.com"),
        ("create", "user", "erin@example.com"),
        ("create", "team", "infra"),
        ("create", "service", "db"),
    ]
    assert planned.changes[2].fields == (
        FieldChange("name", None, "Infrastructure"),
        FieldChange("members", None, ["bob@example.com", "erin@example.com"]),
        FieldChange("managers", None, ["dana@example.com"]),
    )
    team = directory_repo.team_by_key(session, "infra")
    assert team is not None
    assert team.managed
    assert {(m.user.email, m.role) for m in team.members} == {
        ("dana@example.com", "manager"),
        ("erin@example.com", "member"),
        ("bob@example.com", "member"),
    }
    dana = directory_repo.user_by_email(session, "dana@example.com")
    assert dana is not None
    assert (dana.managed, dana.time_zone, dana.role) == (True, "Europe/Berlin", "responder")
    service = directory_repo.service_by_key(session, "db")
    assert service is not None
    assert service.managed
    assert service.team is not None
    assert service.team.key == "infra"
    audited = session.scalars(
        select(models.AuditEvent.object_key)
        .where(models.AuditEvent.actor_name == "apply")
        .order_by(models.AuditEvent.id)
    ).all()
    assert list(audited) == ["dana@example.com", "erin@example.com", "infra", "db"]


def test_planning_writes_nothing(session: Session, sessions: sessionmaker[Session], personas: Personas) -> None:
    planned = config_apply.plan(
        session,
        doc(
            """
            severities: {active: SEV}
            roles: [{key: postmortem, name: Postmortem owner}]
            users: [{email: alice@example.com, name: Alice, role: viewer}]
            services: []
            """
        ),
    )
    assert planned.count("create") == 1
    assert planned.count("update") >= 2
    assert not (session.new)
    assert not (session.dirty)
    assert not (session.deleted)
    session.rollback()
    with sessions() as other:
        assert severities.active(other).name == "P"
        assert severities_repo.role_by_key(other, "postmortem") is None
        alice = directory_repo.user_by_email(other, "alice@example.com")
        assert alice is not None
        assert (alice.role, alice.managed) == ("admin", False)


def test_applying_the_example_twice_changes_nothing_the_second_time(
    session: Session, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    document = load(EXAMPLE.read_text(encoding="utf-8"), "tocsin.yaml").document
    first = config_apply.apply(session, APPLY, clock.now(), document)
    session.commit()
    assert not first.empty
    with sessions() as fresh:
        again = config_apply.plan(fresh, document)
        assert again.changes == ()
        assert again.empty


def test_the_plan_shows_old_and_new_values_of_a_claimed_object(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    planned = apply(
        session,
        clock,
        """
        users:
          - {email: alice@example.com, name: Alice Admin, role: admin, time_zone: Europe/Berlin}
        """,
    )
    assert planned.changes == (
        Change(
            "update",
            "user",
            "alice@example.com",
            (FieldChange("time_zone", "UTC", "Europe/Berlin"), FieldChange("managed", False, True)),
        ),
    )
    detail = session.scalars(
        select(models.AuditEvent.detail).where(
            models.AuditEvent.action == "update", models.AuditEvent.object_type == "user"
        )
    ).one()
    assert detail == {
        "changes": {"time_zone": {"from": "UTC", "to": "Europe/Berlin"}, "managed": {"from": False, "to": True}}
    }


def test_fields_left_out_of_an_entry_take_their_defaults(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    # The file is the whole truth about what it names: no role means responder.
    planned = apply(session, clock, "users: [{email: alice@example.com}]\n")
    assert planned.changes[0].fields == (
        FieldChange("name", "Alice Admin", "alice@example.com"),
        FieldChange("role", "admin", "responder"),
        FieldChange("managed", False, True),
    )


def test_objects_it_did_not_create_survive_when_the_file_leaves_them_out(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    planned = apply(
        session,
        clock,
        """
        roles: []
        users: []
        teams: []
        services: []
        severities: {schemes: []}
        """,
    )
    # Personas, the first-start-like users, the shipped roles and schemes: none managed.
    assert planned.empty
    assert {u.email for u in directory_repo.list_users(session)} == {
        "alice@example.com",
        "bob@example.com",
        "charlie@example.com",
    }
    assert [s.key for s in directory_repo.list_services(session)] == ["api", "web"]
    assert len(severities_repo.list_roles(session)) == 5
    assert [s.name for s in severities_repo.list_schemes(session)] == ["P", "SEV"]


def test_managed_objects_removed_from_the_file_are_removed_users_and_services_softly(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    apply(
        session,
        clock,
        TEAM_FILE
        + """
roles: [{key: postmortem, name: Postmortem owner}]
severities:
  schemes:
    - {name: Q, levels: [{name: Q1}, {name: Q2}]}
""",
    )
    clock.advance(timedelta(hours=1))

    planned = apply(session, clock, "users: []\nteams: []\nservices: []\nroles: []\nseverities: {schemes: []}\n")

    assert summary(planned) == [
        ("delete", "severity scheme", "Q"),
        ("delete", "role", "postmortem"),
        ("delete", "user", "dana@example.com"),
        ("delete", "user", "erin@example.com"),
        ("delete", "team", "infra"),
        ("delete", "service", "db"),
    ]
    dana = directory_repo.user_by_email(session, "dana@example.com")
    assert dana is not None
    assert not dana.active
    service = directory_repo.service_by_key(session, "db")
    assert service is not None
    assert service.archived_at is not None
    assert as_utc(service.archived_at) == clock.now()
    assert directory_repo.team_by_key(session, "infra") is None
    assert severities_repo.role_by_key(session, "postmortem") is None
    assert severities_repo.scheme_by_name(session, "Q") is None
    assert session.scalar(select(func.count()).select_from(models.SeverityLevel)) == 7  # P0-P3, SEV1-SEV3
    # Bob was on the deleted team; he is a persona, so he stays.
    bob = directory_repo.user_by_email(session, "bob@example.com")
    assert bob is not None
    assert bob.active


def test_a_section_left_out_of_the_file_is_left_alone(session: Session, personas: Personas, clock: FrozenClock) -> None:
    apply(session, clock, TEAM_FILE)
    planned = apply(session, clock, "roles: [{key: postmortem, name: Postmortem owner}]\n")
    assert summary(planned) == [("create", "role", "postmortem")]
    team = directory_repo.team_by_key(session, "infra")
    assert team is not None


def test_a_deactivated_user_and_an_archived_service_named_again_come_back(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    apply(session, clock, TEAM_FILE)
    apply(session, clock, "users: [{email: erin@example.com, name: Erin, role: viewer}]\nservices: []\n")
    planned = apply(session, clock, TEAM_FILE)
    assert summary(planned) == [("update", "user", "dana@example.com"), ("update", "service", "db")]
    assert planned.changes[0].fields == (FieldChange("active", False, True),)
    assert planned.changes[1].fields == (FieldChange("archived", True, False),)
    service = directory_repo.service_by_key(session, "db")
    assert service is not None
    assert service.archived_at is None


def test_a_claimed_team_is_updated_then_deleted_once_the_file_drops_it(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    planned = apply(session, clock, "teams: [{key: platform, name: Platform, members: [charlie@example.com]}]\n")
    assert planned.changes == (
        Change(
            "update",
            "team",
            "platform",
            (
                FieldChange("members", ["alice@example.com", "bob@example.com"], ["charlie@example.com"]),
                FieldChange("managed", False, True),
            ),
        ),
    )
    team = directory_repo.team_by_key(session, "platform")
    assert team is not None
    assert [m.user.email for m in team.members] == ["charlie@example.com"]

    planned = apply(session, clock, "teams: []\n")
    assert planned.changes == (Change("delete", "team", "platform", note="services api, web will have no team"),)
    api = directory_repo.service_by_key(session, "api")
    assert api is not None
    assert api.team is None


def test_a_service_can_move_to_a_new_team_while_its_old_team_goes(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    apply(session, clock, "teams: [{key: old}]\nservices: [{key: billing, team: old}]\n")
    planned = apply(session, clock, "teams: [{key: new}]\nservices: [{key: billing, team: new}]\n")
    assert summary(planned) == [("create", "team", "new"), ("delete", "team", "old"), ("update", "service", "billing")]
    billing = directory_repo.service_by_key(session, "billing")
    assert billing is not None
    assert billing.team is not None
    assert billing.team.key == "new"


def test_references_to_objects_outside_the_file_are_checked_against_the_database(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    # platform and bob exist (unmanaged), so a file can refer to them without declaring them.
    planned = config_apply.plan(
        session,
        doc("teams: [{key: infra, members: [bob@example.com]}]\nservices: [{key: db, team: platform}]\n"),
    )
    assert summary(planned) == [("create", "team", "infra"), ("create", "service", "db")]

    assert rejected(
        session,
        """
        severities: {active: Z}
        teams: [{key: infra, members: [ghost@example.com]}]
        services: [{key: db, team: payments}]
        """,
    ) == [
        Issue(("severities", "active"), "unknown severity scheme 'Z'"),
        Issue(("teams", 0, "members", 0), "unknown user 'ghost@example.com'"),
        Issue(("services", 0, "team"), "unknown team 'payments'"),
    ]


def test_a_reference_to_something_the_same_apply_removes_is_refused(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    apply(session, clock, TEAM_FILE)
    issues = rejected(
        session,
        """
        users: [{email: erin@example.com}]
        teams: [{key: infra, members: [dana@example.com]}]
        """,
    )
    assert issues == [
        Issue(("teams", 0, "members", 0), "user 'dana@example.com' is not under users, so apply would deactivate them")
    ]


def test_switching_the_active_severity_scheme(session: Session, personas: Personas, clock: FrozenClock) -> None:
    planned = apply(session, clock, "severities: {active: SEV}\n")
    assert planned.changes == (
        Change("update", "severity scheme", "P", (FieldChange("active", True, False),)),
        Change("update", "severity scheme", "SEV", (FieldChange("active", False, True),)),
    )
    assert severities.active(session).name == "SEV"


def test_editing_a_scheme_lists_the_level_fields_that_change(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    planned = apply(
        session,
        clock,
        """
        severities:
          schemes:
            - name: SEV
              levels:
                - {name: SEV1, description: "Critical: outage or data loss", ack_within: 2m, resolve_within: 1h,
                   update_every: 15m, watch_after_fix: 2h, customer_notice_within: 0s, postmortem_within: 2d}
                - {name: SEV2, description: "Major: significant degradation", ack_within: 15m, resolve_within: 4h,
                   update_every: 30m, watch_after_fix: 1h, customer_notice_within: 1h, postmortem_within: 48h}
                - {name: SEV4, ack_within: 1d}
        """,
    )
    assert planned.changes == (
        Change(
            "update",
            "severity scheme",
            "SEV",
            (
                FieldChange("levels", ["SEV1", "SEV2", "SEV3"], ["SEV1", "SEV2", "SEV4"]),
                FieldChange("managed", False, True),
                FieldChange("SEV1.ack_within", "5m", "2m"),
                FieldChange("SEV4.ack_within", None, "1d"),
            ),
        ),
    )
    scheme = severities_repo.scheme_by_name(session, "SEV")
    assert scheme is not None
    assert [(level.name, level.rank, level.ack_within_s) for level in scheme.levels] == [
        ("SEV1", 0, 120),
        ("SEV2", 1, 900),
        ("SEV4", 2, 86_400),
    ]


def emergencies(session: Session, scheme_name: str) -> list[str]:
    scheme = severities_repo.scheme_by_name(session, scheme_name)
    assert scheme is not None
    return [level.name for level in scheme.levels if level.emergency]


def test_a_level_is_an_emergency_when_the_file_says_so_and_the_first_one_unless_it_says_not(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    levels = "[{name: SEV1, description: 'Critical: outage or data loss'}, {name: SEV2, emergency: true}]"
    planned = apply(session, clock, f"severities:\n  schemes:\n    - {{name: SEV, levels: {levels}}}\n")
    [change] = planned.changes
    assert FieldChange("SEV2.emergency", False, True) in change.fields
    assert not [field for field in change.fields if field.field == "SEV1.emergency"]  # first: stays one
    assert emergencies(session, "SEV") == ["SEV1", "SEV2"]

    levels = "[{name: SEV1, emergency: false}, {name: SEV2, emergency: true}, {name: SEV5}]"
    planned = apply(session, clock, f"severities:\n  schemes:\n    - {{name: SEV, levels: {levels}}}\n")
    assert FieldChange("SEV1.emergency", True, False) in planned.changes[0].fields
    assert not [field for field in planned.changes[0].fields if field.field == "SEV5.emergency"]  # new, and not one
    assert emergencies(session, "SEV") == ["SEV2"]


def test_a_service_is_an_emergency_only_while_the_file_says_so(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    planned = apply(session, clock, "services: [{key: db, emergency: true}]\n")
    assert planned.changes[0].fields == (FieldChange("name", None, "db"), FieldChange("emergency", None, True))
    assert directory.get_service(session, "db").emergency

    planned = apply(session, clock, "services: [{key: db}]\n")
    assert planned.changes == (Change("update", "service", "db", (FieldChange("emergency", True, False),)),)
    assert not directory.get_service(session, "db").emergency


def test_a_severity_an_open_incident_carries_cannot_disappear(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident = incidents.declare(session, personas.bob.actor, clock.now(), title="Slow search", severity="P3")
    session.commit()
    two_levels = "severities:\n  schemes:\n    - {name: P, levels: [{name: P0}, {name: P1}]}\n"

    assert rejected(session, two_levels) == [
        Issue(
            ("severities", "schemes", 0, "levels"),
            f"severity 'P3' is used by open incident {incident.human_id}; the active scheme 'P' would not have it",
        )
    ]
    assert rejected(session, "severities: {active: SEV}\n") == [
        Issue(
            ("severities", "active"),
            f"severity 'P3' is used by open incident {incident.human_id}; the active scheme 'SEV' would not have it",
        )
    ]

    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "resolved")
    session.commit()
    planned = apply(session, clock, two_levels)
    assert planned.changes[0].fields[0] == FieldChange("levels", ["P0", "P1", "P2", "P3"], ["P0", "P1"])


def test_the_active_scheme_cannot_be_deleted_without_choosing_another(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    apply(session, clock, "severities:\n  active: Q\n  schemes: [{name: Q, levels: [{name: Q1}]}]\n")
    assert rejected(session, "severities: {schemes: []}\n") == [
        Issue(
            ("severities", "schemes"),
            "scheme 'Q' is active and would be deleted; set severities.active to another scheme, or keep this one",
        )
    ]
    planned = apply(session, clock, "severities: {active: P, schemes: []}\n")
    assert summary(planned) == [("update", "severity scheme", "P"), ("delete", "severity scheme", "Q")]
    assert severities.active(session).name == "P"


def test_a_role_held_on_an_open_incident_cannot_be_deleted(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    apply(session, clock, "roles: [{key: commander, name: Incident commander}]\n")
    incident = incidents.declare(
        session, personas.bob.actor, clock.now(), title="Outage", severity="P1", commander=personas.bob.email
    )
    session.commit()
    assert rejected(session, "roles: []\n") == [
        Issue(
            ("roles",),
            f"role 'commander' is held on open incident {incident.human_id}; "
            "keep it in the file until the incident is closed",
        )
    ]
    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "resolved")
    session.commit()
    assert summary(apply(session, clock, "roles: []\n")) == [("delete", "role", "commander")]


def test_a_failing_step_leaves_nothing_behind_once_the_transaction_rolls_back(
    session: Session, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    planned = config_apply.plan(session, doc(TEAM_FILE))
    # Someone creates the service between plan and apply: the last step fails.
    directory.create_service(session, Actor.system("api"), clock.now(), key="db", name="Database")
    with pytest.raises(Conflict, match="a service 'db' exists"):
        config_apply.execute(session, APPLY, clock.now(), planned)
    session.rollback()
    with sessions() as other:
        assert directory_repo.user_by_email(other, "dana@example.com") is None
        assert directory_repo.team_by_key(other, "infra") is None


# ---- integrations, routes and maintenance windows ---------------------------------

API = Actor.system("api")
PD_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def rejected_with(session: Session, text: str, env: dict[str, str]) -> list[Issue]:
    with pytest.raises(InvalidConfig) as caught:
        config_apply.plan(session, doc(text), env=env)
    return list(caught.value.issues)


PROMETHEUS = """
integrations:
  - service: api
    kind: alertmanager
    name: Prometheus
    settings: {group_by: [alertname], group_window: 10m, auto_resolve: resolve}
"""


def test_a_new_integration_gets_a_key_that_only_execute_hands_back(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    planned = config_apply.plan(session, doc(PROMETHEUS), now=clock.now())
    assert planned.changes == (
        Change(
            "create",
            "integration",
            "api/Prometheus",
            (
                FieldChange("kind", None, "alertmanager"),
                FieldChange("group_by", None, ["alertname"]),
                FieldChange("group_window", None, "10m"),
                FieldChange("auto_resolve", None, "resolve"),
                FieldChange("key", None, "(generated)"),
            ),
        ),
    )
    assert alerts_repo.list_integrations(session) == []

    [issued] = config_apply.execute(session, APPLY, clock.now(), planned)
    session.commit()
    assert (issued.service, issued.name, issued.kind) == ("api", "Prometheus", "alertmanager")
    ingesting = integrations.find_by_key(session, issued.key)
    assert ingesting is not None
    assert (ingesting.service_key, ingesting.group_by, ingesting.group_window, ingesting.auto_resolve) == (
        "api",
        ("alertname",),
        timedelta(minutes=10),
        AutoResolve.RESOLVE,
    )
    [row] = alerts_repo.list_integrations(session)
    assert row.managed
    # Nothing but the one answer carries the key: not the plan, not the audit trail.
    details = session.scalars(select(models.AuditEvent.detail)).all()
    assert issued.key not in json.dumps([planned.as_json(), *details])
    assert config_apply.plan(session, doc(PROMETHEUS), now=clock.now()).empty


def test_a_key_from_the_environment_is_checked_used_and_never_shown(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    text = "integrations: [{service: api, kind: pagerduty, name: Legacy, key_env: PD_KEY}]\n"
    path = ("integrations", 0, "key_env")
    assert rejected_with(session, text, {}) == [
        Issue(path, "environment variable PD_KEY is not set; apply reads the key from it")
    ]
    assert rejected_with(session, text, {"PD_KEY": "short-key"}) == [
        Issue(path, "PD_KEY does not hold a usable key: 20 to 64 letters and digits")
    ]

    planned = config_apply.plan(session, doc(text), env={"PD_KEY": PD_KEY})
    assert planned.changes[0].fields[-1] == FieldChange("key", None, "(from $PD_KEY)")
    assert config_apply.execute(session, APPLY, clock.now(), planned) == []  # the user has this key already
    session.commit()
    legacy = integrations.find_by_key(session, PD_KEY)
    assert legacy is not None
    assert (legacy.name, legacy.kind) == ("Legacy", "pagerduty")
    assert config_apply.plan(session, doc(text), env={"PD_KEY": PD_KEY}).empty

    # A new key in the variable rotates it; the plan shows prefixes only.
    rotated = "N3WKEY" + "0" * 26
    planned = config_apply.apply(session, APPLY, clock.now(), doc(text), env={"PD_KEY": rotated})
    session.commit()
    assert planned.changes == (
        Change("update", "integration", "api/Legacy", (FieldChange("key", "R0UT1NGK…", "N3WKEY00… (from $PD_KEY)"),)),
    )
    assert integrations.find_by_key(session, PD_KEY) is None
    assert integrations.find_by_key(session, rotated) is not None

    other = integrations.create(session, API, clock.now(), service_key="web", kind="native")
    session.commit()
    assert rejected_with(session, text, {"PD_KEY": other.key}) == [
        Issue(path, "the key in PD_KEY belongs to integration web/web native")
    ]


def test_an_integration_is_claimed_by_service_and_name_disabled_when_dropped_and_enabled_when_named(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    made = integrations.create(session, API, clock.now(), service_key="api", kind="native")
    session.commit()
    text = "integrations: [{service: api, kind: native, settings: {group_window: 0}}]\n"

    planned = apply(session, clock, text)
    assert planned.changes == (
        Change(
            "update",
            "integration",
            "api/api native",
            (FieldChange("group_window", "5m", "0s"), FieldChange("managed", False, True)),
        ),
    )
    claimed = integrations.find_by_key(session, made.key)  # the senders keep their key
    assert claimed is not None
    assert claimed.group_window == timedelta(0)

    planned = apply(session, clock, "integrations: []\n")
    assert planned.changes == (
        Change("delete", "integration", "api/api native", note="disabled: its key stops working, its alerts stay"),
    )
    disabled = integrations.find_by_key(session, made.key)
    assert disabled is not None
    assert disabled.disabled

    planned = apply(session, clock, text)
    assert planned.changes == (
        Change("update", "integration", "api/api native", (FieldChange("disabled", True, False),), "enabled again"),
    )
    enabled = integrations.find_by_key(session, made.key)
    assert enabled is not None
    assert not enabled.disabled


ROUTES = """
routes:
  - service: api
    rules:
      - {match: {env: staging}, drop: true}
      - match: ['severity = "critical"']
        severity: P0
        continue: true
      - {match: ['team="web"'], route_to: web}
"""


def test_a_services_rules_are_replaced_as_a_list_and_those_made_elsewhere_stay_after_them(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    routing.add_rule(session, API, clock.now(), service_key="api", matchers=['host="canary"'], urgency="low")
    session.commit()
    after = "after these: 1 rule made outside the file"

    planned = apply(session, clock, ROUTES)
    assert planned.changes == (
        Change(
            "create",
            "routes",
            "api",
            (
                FieldChange("rules[0]", None, 'env="staging" → drop'),
                FieldChange("rules[1]", None, 'severity="critical" → severity P0, continue'),
                FieldChange("rules[2]", None, 'team="web" → route to web'),
            ),
            after,
        ),
    )
    # In evaluation order: the file's rules first.
    assert [(rule.matchers, rule.managed) for rule in routing.rules(session, "api")] == [
        (['env="staging"'], True),
        (['severity="critical"'], True),
        (['team="web"'], True),
        (['host="canary"'], False),
    ]
    assert apply(session, clock, ROUTES).empty

    planned = apply(
        session, clock, ROUTES.replace("P0", "P1").replace("      - {match: ['team=\"web\"'], route_to: web}\n", "")
    )
    assert planned.changes == (
        Change(
            "update",
            "routes",
            "api",
            (
                FieldChange(
                    "rules[1]",
                    'severity="critical" → severity P0, continue',
                    'severity="critical" → severity P1, continue',
                ),
                FieldChange("rules[2]", 'team="web" → route to web', None),
            ),
            after,
        ),
    )
    assert [rule.severity for rule in routing.rules(session, "api")] == [None, "P1", None]

    assert apply(session, clock, "routes: []\n").changes == (Change("delete", "routes", "api", note="2 rules"),)
    assert [rule.matchers for rule in routing.rules(session, "api")] == [['host="canary"']]


WINDOWS = """
maintenance_windows:
  - {name: DB upgrade, service: api, match: ['component="db"'], starts_at: 2026-11-23T08:00:00Z, duration: 2h}
  - {name: Deploy freeze, starts_at: 2026-11-24T22:00:00+01:00, ends_at: 2026-11-25T02:00:00+01:00}
  - {name: Last week, starts_at: 2026-11-16T08:00:00Z, duration: 1h}
"""


def test_maintenance_windows_by_name_end_when_dropped_and_stay_as_the_record_once_ended(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    routing.add_window(
        session,
        API,
        clock.now(),
        name="Deploy freeze",
        starts_at=clock.now() + timedelta(days=1),
        ends_at=clock.now() + timedelta(days=2),
    )
    session.commit()

    planned = apply(session, clock, WINDOWS)
    assert planned.changes == (
        Change(
            "create",
            "maintenance window",
            "DB upgrade",
            (
                FieldChange("service", None, "api"),
                FieldChange("match", None, ['component="db"']),
                FieldChange("starts_at", None, "2026-11-23 08:00 UTC"),
                FieldChange("ends_at", None, "2026-11-23 10:00 UTC"),
            ),
        ),
        # One made through the API that has not ended is claimed by its name.
        Change(
            "update",
            "maintenance window",
            "Deploy freeze",
            (
                FieldChange("starts_at", "2026-11-24 09:00 UTC", "2026-11-24 21:00 UTC"),
                FieldChange("ends_at", "2026-11-25 09:00 UTC", "2026-11-25 01:00 UTC"),
                FieldChange("managed", False, True),
            ),
        ),
        Change(
            "create",
            "maintenance window",
            "Last week",
            (
                FieldChange("starts_at", None, "2026-11-16 08:00 UTC"),
                FieldChange("ends_at", None, "2026-11-16 09:00 UTC"),
            ),
        ),
    )
    assert apply(session, clock, WINDOWS).empty
    extended = apply(session, clock, WINDOWS.replace("duration: 2h", "duration: 3h"))
    assert extended.changes == (
        Change(
            "update",
            "maintenance window",
            "DB upgrade",
            (FieldChange("ends_at", "2026-11-23 10:00 UTC", "2026-11-23 11:00 UTC"),),
        ),
    )

    clock.advance(timedelta(minutes=30))
    planned = apply(session, clock, "maintenance_windows: []\n")
    assert planned.changes == (
        Change("delete", "maintenance window", "DB upgrade", note="on now: it ends now and stays on record"),
        Change("delete", "maintenance window", "Deploy freeze"),
    )
    windows = {window.name: window for window in alerts_repo.list_windows(session)}
    assert set(windows) == {"DB upgrade", "Last week"}
    assert as_utc(windows["DB upgrade"].ends_at) == clock.now()

    # An ended window named again with other times is a new window; the ended one is history.
    again = "maintenance_windows: [{name: Last week, starts_at: 2026-11-30T08:00:00Z, duration: 1h}]\n"
    planned = apply(session, clock, again)
    assert planned.changes == (
        Change(
            "create",
            "maintenance window",
            "Last week",
            (
                FieldChange("starts_at", None, "2026-11-30 08:00 UTC"),
                FieldChange("ends_at", None, "2026-11-30 09:00 UTC"),
            ),
            "the one that ended 2026-11-16 09:00 UTC stays on record",
        ),
    )
    assert [w.name for w in alerts_repo.list_windows(session)].count("Last week") == 2


def test_alerting_sections_refer_to_services_and_levels_as_they_will_be_after_the_apply(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    apply(session, clock, "services: [{key: billing}]\n")
    assert rejected(
        session,
        """
        services: []
        integrations: [{service: billing, kind: native, settings: {default_severity: SEV2}}]
        routes:
          - service: api
            rules: [{severity: SEV1}, {route_to: payments}]
        """,
    ) == [
        Issue(("integrations", 0, "service"), "service 'billing' is not under services, so apply would archive it"),
        Issue(
            ("integrations", 0, "settings", "default_severity"),
            "unknown severity 'SEV2'; the active scheme 'P' has P0, P1, P2, P3",
        ),
        Issue(
            ("routes", 0, "rules", 0, "severity"), "unknown severity 'SEV1'; the active scheme 'P' has P0, P1, P2, P3"
        ),
        Issue(("routes", 0, "rules", 1, "route_to"), "unknown service 'payments'"),
    ]
    apply(session, clock, "services: []\n")
    window = "maintenance_windows: [{name: X, service: billing, starts_at: 2026-11-23T08:00:00Z, duration: 1h}]\n"
    assert rejected(session, window) == [
        Issue(
            ("maintenance_windows", 0, "service"), "service 'billing' is archived; list it under services to restore it"
        )
    ]
    # Levels of the scheme the same file makes active, and a service it creates, are fine.
    planned = config_apply.plan(
        session,
        doc(
            """
            severities: {active: SEV}
            services: [{key: payments}]
            routes: [{service: api, rules: [{severity: SEV1, route_to: payments}]}]
            """
        ),
    )
    assert summary(planned)[-1] == ("create", "routes", "api")
