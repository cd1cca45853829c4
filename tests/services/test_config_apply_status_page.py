"""`tocsin apply` with a `status_page:` section: the page, groups and components are created,
planned nothing again, changed in place, and managed ones the file drops are deleted."""

from __future__ import annotations

from textwrap import dedent

import pytest
from sqlalchemy.orm import Session

from tocsin.clock import FrozenClock
from tocsin.config_file import Document, InvalidConfig, load
from tocsin.services import config_apply, status_page
from tocsin.services.actor import Actor
from tocsin.storage.repositories import status_page as repo

APPLY = config_apply.APPLY_ACTOR

PAGE = """
status_page:
  name: Acme status
  time_zone: Europe/Paris
  groups:
    - {key: platform, name: Platform}
  components:
    - {key: api, name: API, group: platform, services: [api]}
    - {key: website, name: Website, group: platform, services: [web]}
    - {key: docs, name: Docs}
"""


def doc(text: str) -> Document:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml").document


def apply(session: Session, clock: FrozenClock, text: str) -> list[tuple[str, str, str]]:
    planned = config_apply.apply(session, APPLY, clock.now(), doc(text), env={})
    session.commit()
    return [(change.action, change.kind, change.key) for change in planned.changes]


@pytest.mark.usefixtures("personas")
def test_apply_makes_the_page_and_a_second_apply_plans_nothing(session: Session, clock: FrozenClock) -> None:
    assert apply(session, clock, PAGE) == [
        ("create", "status page", "page"),
        ("create", "status page group", "platform"),
        ("create", "status page component", "api"),
        ("create", "status page component", "website"),
        ("create", "status page component", "docs"),
    ]
    settings = repo.settings(session)
    assert settings is not None
    assert (settings.name, settings.time_zone) == ("Acme status", "Europe/Paris")
    components = {c.key: c for c in repo.components(session)}
    assert [c.key for c in repo.components(session)] == ["api", "website", "docs"]
    assert components["api"].group is not None
    assert [s.key for s in components["api"].services] == ["api"]
    assert all(c.managed for c in components.values())
    assert apply(session, clock, PAGE) == []


@pytest.mark.usefixtures("personas")
def test_a_changed_file_updates_in_place_and_deletes_only_managed_components(
    session: Session, clock: FrozenClock
) -> None:
    apply(session, clock, PAGE)
    status_page.create_component(
        session, Actor.system("tests"), clock.now(), "by-hand", status_page.ComponentSpec("Hand")
    )
    status_page.set_status(session, Actor.system("tests"), clock.now(), "api", "major_outage")
    session.commit()
    changed = PAGE.replace("{key: api, name: API,", "{key: api, name: Public API,").replace(
        "    - {key: docs, name: Docs}\n", ""
    )
    assert apply(session, clock, changed) == [
        ("update", "status page component", "api"),
        ("delete", "status page component", "docs"),
    ]
    components = {c.key: c for c in repo.components(session)}
    assert set(components) == {"api", "website", "by-hand"}
    assert components["api"].name == "Public API"
    assert components["api"].status_override == "major_outage"  # not configuration: kept


@pytest.mark.usefixtures("personas")
def test_unknown_services_checks_and_groups_are_issues_naming_the_field(session: Session) -> None:
    text = PAGE.replace("services: [web]", "services: [nope], checks: [missing]").replace(
        "{key: docs, name: Docs}", "{key: docs, name: Docs, group: elsewhere}"
    )
    with pytest.raises(InvalidConfig) as caught:
        config_apply.plan(session, doc(text.replace("  groups:\n    - {key: platform, name: Platform}\n", "")), env={})
    fields = sorted(issue.field for issue in caught.value.issues)
    assert fields == [
        "status_page.components[0].group",
        "status_page.components[1].checks[0]",
        "status_page.components[1].group",
        "status_page.components[1].services[0]",
        "status_page.components[2].group",
    ]
