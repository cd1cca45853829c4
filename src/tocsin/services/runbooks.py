"""Runbooks as code: list, read, create, update, delete; which one fits an incident; coverage."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tocsin.domain import runbooks as domain
from tocsin.storage import models
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import runbooks as repo


def to_domain(row: models.Runbook) -> domain.Runbook:
    return domain.Runbook(
        key=row.key,
        name=row.name,
        phases=tuple(
            domain.Phase(
                name=str(phase["name"]),
                time_frame=str(phase.get("time_frame") or ""),
                items=tuple(
                    domain.Item(text=str(item["text"]), role=item.get("role") or None)
                    for item in phase.get("items") or ()
                ),
            )
            for phase in row.phases
        ),
        links=tuple(domain.Link(title=link["title"], url=link["url"]) for link in row.links),
        services=None if row.services is None else frozenset(row.services),
        severities=None if row.severities is None else frozenset(row.severities),
    )


def all_runbooks(session: Session) -> list[domain.Runbook]:
    return [to_domain(row) for row in repo.list_runbooks(session)]


def coverage(session: Session) -> tuple[list[str], list[str]]:
    """(covered, uncovered) service keys: a service is covered when a runbook of the team's
    (not the shipped default) applies to it. Archived services are left out."""
    services = [s.key for s in directory.list_services(session)]
    return domain.coverage(all_runbooks(session), services)
