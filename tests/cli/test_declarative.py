"""`tocsin validate` and `tocsin apply` as a person at a terminal runs them."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from tests.conftest import Personas
from tocsin.cli.main import app
from tocsin.errors import Conflict
from tocsin.services import directory, integrations, routing
from tocsin.storage.repositories import alerts as alerts_repo
from tocsin.storage.repositories import directory as directory_repo

EXAMPLE = Path(__file__).parents[2] / "examples" / "tocsin.yaml"


def tocsin(*args: str, db_url: str | None = None, stdin: str | None = None) -> Result:
    env = {"TOCSIN_DATABASE_URL": db_url} if db_url else {"TOCSIN_DATABASE_URL": "sqlite:////nonexistent/dir/x.db"}
    return CliRunner().invoke(app, list(args), env=env, input=stdin)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tocsin.yaml"
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_validate_accepts_the_example_file_without_a_database() -> None:
    result = tocsin("validate", "-f", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{EXAMPLE} is valid: 1 severity scheme, 3 roles, 1 team, 3 users, 2 services, "
        "2 integrations, 4 routing rules, 1 maintenance window, 2 heartbeats, 3 checks, "
        "1 status page group, 2 status page components\n"
    )


def test_validate_prints_every_error_as_file_line_field_message(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        users:
          - email: alice@example.com
            role: boss
        services:
          - key: api
            teem: platform
        """,
    )
    result = tocsin("validate", "-f", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:3: users[0].role: 'boss' is not one of 'viewer', 'responder' or 'admin'",
        f"{path}:6: services[0].teem: unknown field 'teem'; did you mean 'team'?",
    ]


def test_validate_names_the_references_it_leaves_to_apply(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        teams: [{key: platform}]
        services:
          - {key: api, team: platform}
          - {key: billing, team: payments}
        """,
    )
    result = tocsin("validate", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [
        "Not declared in the file; `tocsin apply` looks for them in the database:",
        f"  {path}:4: team 'payments'",
    ]


def test_validate_reads_standard_input_and_fails_clearly_on_a_missing_file(tmp_path: Path) -> None:
    result = tocsin("validate", "-f", "-", stdin="roles: []\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "<stdin> is valid: 0 roles\n"
    missing = tocsin("validate", "-f", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1
    assert missing.stderr == f"{tmp_path / 'nope.yaml'}: cannot read the file: No such file or directory\n"


SMALL_FILE = """
users:
  - {email: alice@example.com, name: Alice Admin, role: admin, time_zone: Europe/Berlin}
teams:
  - {key: infra, name: Infrastructure, members: [bob@example.com]}
services:
  - {key: api, name: Public API, team: platform}
"""


def test_a_dry_run_prints_the_plan_and_changes_nothing(
    tmp_path: Path, db_url: str, personas: Personas, sessions: sessionmaker[Session]
) -> None:
    first = tocsin("apply", "-f", "-", db_url=db_url, stdin="services: [{key: legacy, name: Legacy}]\n")
    assert first.exit_code == 0, first.output
    path = write(tmp_path, SMALL_FILE)
    result = tocsin("apply", "-f", str(path), "--dry-run", db_url=db_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"Plan for {path}: 1 to create, 2 to update, 1 to delete (dry run)",
        "~ user alice@example.com",
        "    time_zone: UTC → Europe/Berlin",
        "    managed: no → yes",
        "+ team infra",
        "    name: Infrastructure",
        "    members: bob@example.com",
        "~ service api",
        "    managed: no → yes",
        "- service legacy  (archived; incidents keep referring to it)",
    ]
    with sessions() as session:
        alice = directory_repo.user_by_email(session, "alice@example.com")
        assert alice is not None
        assert (alice.time_zone, alice.managed) == ("UTC", False)
        assert directory_repo.team_by_key(session, "infra") is None
        legacy = directory_repo.service_by_key(session, "legacy")
        assert legacy is not None
        assert legacy.archived_at is None


def test_apply_prints_the_plan_applies_it_and_then_has_nothing_to_do(
    tmp_path: Path, db_url: str, personas: Personas, sessions: sessionmaker[Session]
) -> None:
    path = write(tmp_path, SMALL_FILE)
    result = tocsin("apply", "-f", str(path), db_url=db_url)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"Plan for {path}: 1 to create, 2 to update"
    assert result.stdout.splitlines()[-1] == "Applied 3 changes."
    with sessions() as session:
        team = directory_repo.team_by_key(session, "infra")
        assert team is not None
        assert team.managed

    again = tocsin("apply", "-f", str(path), db_url=db_url)
    assert again.exit_code == 0, again.output
    assert again.stdout == f"No changes: the database matches {path}.\n"


def test_apply_json_prints_the_plan_for_scripts(tmp_path: Path, db_url: str, personas: Personas) -> None:
    path = write(tmp_path, "severities: {active: SEV}\n")
    result = tocsin("apply", "-f", str(path), "--dry-run", "--json", db_url=db_url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "file": str(path),
        "dry_run": True,
        "applied": False,
        "changes": [
            {
                "action": "update",
                "kind": "severity scheme",
                "key": "P",
                "fields": [{"field": "active", "old": True, "new": False}],
                "note": "",
            },
            {
                "action": "update",
                "kind": "severity scheme",
                "key": "SEV",
                "fields": [{"field": "active", "old": False, "new": True}],
                "note": "",
            },
        ],
        "summary": {"create": 0, "update": 2, "delete": 0},
        "keys": [],
    }


def test_apply_names_the_line_of_a_reference_the_database_cannot_resolve(
    tmp_path: Path, db_url: str, personas: Personas
) -> None:
    path = write(
        tmp_path,
        """
        services:
          - key: api
          - key: billing
            team: payments
          - key: search
            team: platform
        """,
    )
    result = tocsin("apply", "-f", str(path), db_url=db_url)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"{path}:4: services[1].team: unknown team 'payments'\n"


def test_apply_is_all_or_nothing(
    tmp_path: Path,
    db_url: str,
    personas: Personas,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise Conflict("a service 'db' exists")

    # The service is the last thing created; the users and team before it must not stay.
    monkeypatch.setattr(directory, "create_service", refuse)
    path = write(
        tmp_path,
        """
        users: [{email: dana@example.com}]
        teams: [{key: infra, members: [dana@example.com]}]
        services: [{key: db, team: infra}]
        """,
    )
    result = tocsin("apply", "-f", str(path), db_url=db_url)
    assert result.exit_code == 1
    assert result.stderr == "error: nothing was applied: a service 'db' exists\n"
    with sessions() as session:
        assert directory_repo.user_by_email(session, "dana@example.com") is None
        assert directory_repo.team_by_key(session, "infra") is None


ALERTING_FILE = """
integrations:
  - {service: api, kind: alertmanager, name: Prometheus, settings: {group_by: [alertname]}}
  - {service: web, kind: pagerduty, name: Legacy, key_env: LEGACY_KEY}
routes:
  - service: api
    rules:
      - {match: {env: staging}, drop: true}
maintenance_windows:
  - {name: DB upgrade, service: api, starts_at: 2026-11-24T22:00:00+01:00, duration: 2h}
"""
LEGACY_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def run(*args: str, db_url: str, **env: str) -> Result:
    """`tocsin` with this test's database and exactly the variables given (no stray login or key)."""
    return CliRunner().invoke(
        app,
        list(args),
        env={"TOCSIN_DATABASE_URL": db_url, "TOCSIN_URL": None, "XDG_CONFIG_HOME": "/nonexistent", **env},
    )


def test_apply_prints_a_new_integration_key_once_with_the_url_to_paste(
    tmp_path: Path, db_url: str, personas: Personas, sessions: sessionmaker[Session]
) -> None:
    path = write(tmp_path, ALERTING_FILE)
    dry = run("apply", "-f", str(path), "--dry-run", db_url=db_url, LEGACY_KEY=LEGACY_KEY)
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == [
        f"Plan for {path}: 4 to create (dry run)",
        "+ integration api/Prometheus",
        "    kind: alertmanager",
        "    group_by: alertname",
        "    group_window: 5m",
        "    auto_resolve: monitoring",
        "    key: (generated)",
        "+ integration web/Legacy",
        "    kind: pagerduty",
        "    group_window: 5m",
        "    auto_resolve: monitoring",
        "    key: (from $LEGACY_KEY)",
        "+ routes api",
        '    rules[0]: env="staging" → drop',
        "+ maintenance window DB upgrade",
        "    service: api",
        "    starts_at: 2026-11-24 21:00 UTC",
        "    ends_at: 2026-11-24 23:00 UTC",
    ]
    with sessions() as session:
        assert alerts_repo.list_integrations(session) == []

    result = run("apply", "-f", str(path), db_url=db_url, LEGACY_KEY=LEGACY_KEY, TOCSIN_URL="http://tocsin.test:8080")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-5:-1] == [
        "Applied 4 changes.",
        "",
        "New key of integration api/Prometheus (shown only now; keep it like a password):",
        lines[-2],
    ]
    key = lines[-2].strip()
    assert lines[-1] == f"  alertmanager: http://tocsin.test:8080/api/v1/integrations/alertmanager/{key}"
    assert LEGACY_KEY not in result.stdout  # the user has that one
    with sessions() as session:
        for known in (key, LEGACY_KEY):
            found = integrations.find_by_key(session, known)
            assert found is not None
        assert [rule.drop for rule in routing.rules(session, "api")] == [True]
        assert [window.name for window in alerts_repo.list_windows(session)] == ["DB upgrade"]

    again = run("apply", "-f", str(path), db_url=db_url, LEGACY_KEY=LEGACY_KEY)
    assert again.stdout == f"No changes: the database matches {path}.\n"


def test_apply_json_carries_the_new_keys_and_a_missing_key_variable_is_a_located_error(
    tmp_path: Path, db_url: str, personas: Personas
) -> None:
    path = write(tmp_path, ALERTING_FILE)
    missing = run("apply", "-f", str(path), db_url=db_url)
    assert missing.exit_code == 1
    assert missing.stderr == (
        f"{path}:3: integrations[1].key_env: environment variable LEGACY_KEY is not set; apply reads the key from it\n"
    )

    result = run("apply", "-f", str(path), "--json", db_url=db_url, LEGACY_KEY=LEGACY_KEY)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["applied"], answer["summary"]) == (True, {"create": 4, "update": 0, "delete": 0})
    [issued] = answer["keys"]
    assert (issued["service"], issued["name"], issued["kind"]) == ("api", "Prometheus", "alertmanager")
    # Without a server configured, the URL says where its address goes.
    assert issued["url"] == f"$TOCSIN_URL/api/v1/integrations/alertmanager/{issued['key']}"


def test_validate_counts_the_alerting_sections_and_names_their_references(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        integrations: [{service: api, kind: native, settings: {default_severity: P2}}]
        routes:
          - {service: api, rules: [{route_to: web}, {urgency: low}]}
        maintenance_windows: []
        """,
    )
    result = tocsin("validate", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{path} is valid: 1 integration, 2 routing rules, 0 maintenance windows",
        "Not declared in the file; `tocsin apply` looks for them in the database:",
        f"  {path}:1: service 'api'",
        f"  {path}:1: severity 'P2'",
        f"  {path}:3: service 'api'",
        f"  {path}:3: service 'web'",
    ]


def test_apply_of_alerting_sections_is_all_or_nothing(
    tmp_path: Path, db_url: str, personas: Personas, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise Conflict("the window overlaps a change freeze")

    # The window is created last; the integration and the rules before it must not stay.
    monkeypatch.setattr(routing, "add_window", refuse)
    path = write(tmp_path, ALERTING_FILE)
    result = run("apply", "-f", str(path), db_url=db_url, LEGACY_KEY=LEGACY_KEY)
    assert result.exit_code == 1
    assert result.stderr == "error: nothing was applied: the window overlaps a change freeze\n"
    assert "New key" not in result.stdout
    with sessions() as session:
        assert alerts_repo.list_integrations(session) == []
        assert routing.rules(session, "api") == []
