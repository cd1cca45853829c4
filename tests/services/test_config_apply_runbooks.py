"""`tocsin apply` of the `runbooks` section: created, updated and removed like the API does, errors located."""

from __future__ import annotations

from textwrap import dedent

import pytest
from sqlalchemy.orm import Session

from tocsin.clock import FrozenClock
from tocsin.config_file import Document, InvalidConfig, load
from tocsin.config_file.runbooks import __doc__ as SECTION_DOC
from tocsin.domain.runbooks import Item, Phase, Runbook
from tocsin.services import config_apply, runbooks

APPLY = config_apply.APPLY_ACTOR

RUNBOOKS = """
runbooks:
  - key: api-outage
    name: Public API outage
    services: [api]
    severities: [P0, P1]
    links:
      - {title: API runbook, url: "https://wiki.example.com/api"}
    phases:
      - name: Triage
        time_frame: first 5 minutes
        items:
          - {text: Check the API dashboard, role: scribe}
          - Page the database on-call
      - name: After
        items: [{text: Postmortem, role: commander}]
  - key: everything-p3
    name: Low-severity
    severities: [P3]
    phases: [{name: Look, items: [Have a look]}]
"""


def doc(text: str) -> Document:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml").document


def summary(planned: config_apply.Plan) -> list[tuple[str, str, str]]:
    return [(change.action, change.kind, change.key) for change in planned.changes]


def apply(session: Session, clock: FrozenClock, text: str) -> config_apply.Plan:
    planned = config_apply.plan(session, doc(text), now=clock.now())
    config_apply.execute(session, APPLY, clock.now(), planned)
    session.commit()
    return planned


def issues(session: Session, text: str) -> list[tuple[str, str]]:
    with pytest.raises(InvalidConfig) as caught:
        config_apply.plan(session, doc(text))
    return [(issue.field, issue.message) for issue in caught.value.issues]


def rendered(text: str) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        load(dedent(text).lstrip("\n"), "tocsin.yaml")
    return [issue.render("tocsin.yaml") for issue in caught.value.issues]


def test_the_modules_example_is_valid() -> None:
    assert SECTION_DOC is not None
    example = SECTION_DOC.split("\n\n")[1]
    [runbook] = load(dedent(example), "example").document.runbooks or []
    assert runbook.runbook.phases[0].items == (
        Item("Check the API dashboard", "scribe"),
        Item("Page the database on-call"),
    )


@pytest.mark.usefixtures("personas")
def test_apply_creates_the_runbooks_and_a_second_apply_plans_nothing(session: Session, clock: FrozenClock) -> None:
    planned = apply(session, clock, RUNBOOKS)
    assert summary(planned) == [("create", "runbook", "api-outage"), ("create", "runbook", "everything-p3")]
    fields = {f.field: f.new for f in planned.changes[0].fields}
    assert fields["phases"] == [
        "Triage (first 5 minutes): Check the API dashboard [scribe]; Page the database on-call",
        "After: Postmortem [commander]",
    ]
    stored = runbooks.get(session, "api-outage")
    assert stored.services == frozenset({"api"})
    assert stored.links[0].url == "https://wiki.example.com/api"
    assert [r.managed for r in runbooks.list_runbooks(session)] == [True, True]
    assert config_apply.plan(session, doc(RUNBOOKS)).empty


@pytest.mark.usefixtures("personas")
def test_a_change_is_an_update_and_a_managed_runbook_left_out_is_deleted(session: Session, clock: FrozenClock) -> None:
    apply(session, clock, RUNBOOKS)
    runbooks.create(session, APPLY, clock.now(), Runbook("by-hand", "By hand", (Phase("x", (Item("y"),)),)))
    session.commit()
    changed = RUNBOOKS.replace("Page the database on-call", "Page the DBA").split("  - key: everything-p3")[0]
    planned = apply(session, clock, changed)
    assert summary(planned) == [("update", "runbook", "api-outage"), ("delete", "runbook", "everything-p3")]
    [phases] = [f for f in planned.changes[0].fields if f.field == "phases"]
    assert phases.new == [
        "Triage (first 5 minutes): Check the API dashboard [scribe]; Page the DBA",
        "After: Postmortem [commander]",
    ]
    assert [r.key for r in runbooks.list_runbooks(session)] == ["api-outage", "by-hand"]


@pytest.mark.usefixtures("personas")
def test_unknown_services_severities_and_roles_are_located(session: Session) -> None:
    wrong = RUNBOOKS.replace("services: [api]", "services: [payments]").replace("[P0, P1]", "[P0, P7]")
    wrong = wrong.replace("role: scribe", "role: wizard")
    assert sorted(issues(session, wrong)) == [
        (
            "runbooks[0].phases[0].items[0].role",
            "unknown role 'wizard'; roles are commander, communications, dev, ops, scribe",
        ),
        ("runbooks[0].services[0]", "unknown service 'payments'"),
        ("runbooks[0].severities[1]", "unknown severity 'P7'; the active scheme 'P' has P0, P1, P2, P3"),
    ]


def test_the_schema_names_file_line_and_field() -> None:
    found = rendered(
        """
        runbooks:
          - key: default
            name: Mine
            phases: [{name: a, items: [x]}]
          - key: links
            name: Links
            links:
              - {title: Bad, url: "javascript:alert(1)"}
            phases:
              - {name: a, items: [x]}
              - {name: a, items: [y]}
          - key: links
            name: Again
            phases: []
        """
    )
    assert found == [
        "tocsin.yaml:2: runbooks[0].key: 'default' is the runbook shipped with Tocsin; give yours another key",
        "tocsin.yaml:8: runbooks[1].links[0].url: 'javascript:alert(1)' is not a web address; "
        "write one starting with https:// or http://",
        "tocsin.yaml:11: runbooks[1].phases[1].name: phase 'a' is there twice",
        "tocsin.yaml:12: runbooks[2].key: runbook 'links' is declared twice (first as runbooks[1])",
        "tocsin.yaml:14: runbooks[2].phases: a runbook needs at least one phase",
    ]
    unknown = rendered("runbooks:\n  - key: a\n    name: A\n    phases: [{name: a, items: [{text: y, owner: ops}]}]\n")
    assert unknown == [
        "tocsin.yaml:4: runbooks[0].phases[0].items[0].owner: unknown field 'owner'; expected one of text, role"
    ]
