from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain.runbooks import DEFAULT_RUNBOOK, Item, Link, Phase, Runbook
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import runbooks
from tocsin.storage import models


def api_runbook(**overrides: object) -> Runbook:
    values: dict[str, object] = {
        "key": "api-outage",
        "name": "API outage",
        "phases": (
            Phase("First 5 minutes", (Item("Check the API dashboard", "scribe"), Item("Page the DBA")), "0-5m"),
        ),
        "links": (Link("API runbook", "https://wiki.example.com/api"),),
        "services": frozenset({"api"}),
    }
    return Runbook(**{**values, **overrides})  # type: ignore[arg-type]


def test_coverage_names_the_services_a_runbook_applies_to(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    assert runbooks.coverage(session) == ([], ["api", "web"])
    runbooks.create(session, personas.alice.actor, clock.now(), api_runbook())
    assert runbooks.coverage(session) == (["api"], ["web"])


def test_it_stores_a_runbook_and_reads_it_back(session: Session, personas: Personas, clock: FrozenClock) -> None:
    runbooks.create(session, personas.alice.actor, clock.now(), api_runbook())
    session.commit()
    assert runbooks.get(session, "api-outage") == api_runbook()
    audit = session.scalars(select(models.AuditEvent).where(models.AuditEvent.object_type == "runbook")).all()
    assert [(a.action, a.object_key) for a in audit] == [("create", "api-outage")]


def test_the_shipped_default_is_readable_by_its_key(session: Session, personas: Personas) -> None:
    assert runbooks.get(session, "default") == DEFAULT_RUNBOOK
    with pytest.raises(NotFound):
        runbooks.get(session, "nothing")


def test_the_most_specific_runbook_fits_an_incident(session: Session, personas: Personas, clock: FrozenClock) -> None:
    actor = personas.alice.actor
    runbooks.create(session, actor, clock.now(), api_runbook(key="api-any"))
    runbooks.create(session, actor, clock.now(), api_runbook(key="api-p1", severities=frozenset({"P1"})))
    runbooks.create(session, actor, clock.now(), api_runbook(key="p1", services=None, severities=frozenset({"P1"})))
    assert runbooks.matching(session, ["api"], "P1").key == "api-p1"
    assert runbooks.matching(session, ["api"], "P2").key == "api-any"
    assert runbooks.matching(session, ["web"], "P1").key == "p1"
    assert runbooks.matching(session, ["web"], "P2").key == "default"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"key": "Bad Key"}, "key", "not a valid key"),
        ({"name": " "}, "name", "needs a name"),
        ({"phases": ()}, "phases", "at least one phase"),
        ({"services": frozenset({"nope"})}, "services", "unknown service 'nope'"),
        ({"severities": frozenset({"P9"})}, "severities", "unknown severity 'P9'"),
        ({"links": (Link("x", "javascript:alert(1)"),)}, "links.0.url", "not a web address"),
        ({"phases": (Phase("a", (Item("do", "wizard"),)),)}, "phases.0.items.0.role", "unknown role 'wizard'"),
        ({"phases": (Phase("a", (Item(""),)),)}, "phases.0.items.0.text", "needs text"),
        ({"phases": (Phase("a", ()), Phase("a", ()))}, "phases.1.name", "twice"),
    ],
)
def test_a_bad_runbook_is_refused_naming_the_field(
    session: Session, personas: Personas, clock: FrozenClock, overrides: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        runbooks.create(session, personas.alice.actor, clock.now(), api_runbook(**overrides))
    assert refused.value.field == field
    assert words in refused.value.message


def test_update_replaces_and_delete_removes(session: Session, personas: Personas, clock: FrozenClock) -> None:
    actor = personas.alice.actor
    runbooks.create(session, actor, clock.now(), api_runbook())
    with pytest.raises(Conflict):
        runbooks.create(session, actor, clock.now(), api_runbook())
    clock.advance(timedelta(minutes=1))
    row = runbooks.update(session, actor, clock.now(), api_runbook(name="API down", services=None))
    assert (row.name, row.services, row.updated_at) == ("API down", None, clock.now())
    runbooks.delete(session, actor, clock.now(), "api-outage")
    with pytest.raises(NotFound):
        runbooks.update(session, actor, clock.now(), api_runbook())
    with pytest.raises(NotFound):
        runbooks.delete(session, actor, clock.now(), "api-outage")
