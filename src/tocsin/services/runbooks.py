"""Runbooks as code: list, read, create, update, delete; which one fits an incident; coverage.

The API and `tocsin apply` both write through `create` / `update`, which check a
runbook the same way: its shape (`domain.runbooks.problems`), then that the services,
severities and roles it names exist. The shipped default (`domain.runbooks.DEFAULT_RUNBOOK`)
is no row: it is what an incident gets when no runbook of the team's fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from tocsin.domain import naming
from tocsin.domain import runbooks as domain
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import audit, severities
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import runbooks as repo
from tocsin.storage.repositories import severities as severities_repo

KIND = "runbook"


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


def phases_json(runbook: domain.Runbook) -> list[dict[str, Any]]:
    return [
        {
            "name": phase.name,
            "time_frame": phase.time_frame,
            "items": [{"text": item.text, "role": item.role} for item in phase.items],
        }
        for phase in runbook.phases
    ]


def links_json(runbook: domain.Runbook) -> list[dict[str, str]]:
    return [{"title": link.title, "url": link.url} for link in runbook.links]


def all_runbooks(session: Session) -> list[domain.Runbook]:
    return [to_domain(row) for row in repo.list_runbooks(session)]


def list_runbooks(session: Session) -> Sequence[models.Runbook]:
    return repo.list_runbooks(session)


def _row(session: Session, key: str) -> models.Runbook | None:
    # Not a key at all (too long, NUL …): nothing to look up, and nothing PostgreSQL must be asked.
    return None if naming.key_problem(key) else repo.runbook_by_key(session, key)


def get(session: Session, key: str) -> domain.Runbook:
    """A runbook of the team's, or the shipped default by its key `default`."""
    row = _row(session, key)
    if row is not None:
        return to_domain(row)
    if key == domain.DEFAULT_KEY:
        return domain.DEFAULT_RUNBOOK
    raise NotFound(f"no runbook {key!r}", field="runbook")


def matching(session: Session, services: Sequence[str], severity: str) -> domain.Runbook:
    return domain.best_match(all_runbooks(session), services, severity)


def coverage(session: Session) -> tuple[list[str], list[str]]:
    """(covered, uncovered) service keys: a service is covered when a runbook of the team's
    (not the shipped default) applies to it. Archived services are left out."""
    services = [s.key for s in directory.list_services(session)]
    return domain.coverage(all_runbooks(session), services)


def check(session: Session, runbook: domain.Runbook) -> None:
    """Raises ValidationFailed naming the first field that is wrong."""
    problem = naming.key_problem(runbook.key)
    if problem:
        raise ValidationFailed(problem, field="key")
    for path, message in domain.problems(runbook):
        raise ValidationFailed(message, field=dotted(path))
    for key in sorted(runbook.services or ()):
        service = directory.service_by_key(session, key)
        if service is None or service.archived_at is not None:
            raise ValidationFailed(f"unknown service {key!r}", field="services")
    if runbook.severities is not None:
        levels = [level.name for level in severities.active(session).levels]
        for name in sorted(runbook.severities):
            if name not in levels:
                raise ValidationFailed(
                    f"unknown severity {name!r}; the active scheme has {', '.join(levels)}", field="severities"
                )
    roles = [role.key for role in severities_repo.list_roles(session)]
    for path, key in domain.roles_named(runbook):
        if key not in roles:
            raise ValidationFailed(f"unknown role {key!r}; roles are {', '.join(roles)}", field=dotted(path))


def dotted(path: domain.FieldPath) -> str:
    """("phases", 0, "name") → "phases.0.name", as the API names a field of a request body."""
    return ".".join(str(part) for part in path)


def _write(row: models.Runbook, runbook: domain.Runbook, now: datetime) -> None:
    row.name = runbook.name.strip()
    row.services = None if runbook.services is None else sorted(runbook.services)
    row.severities = None if runbook.severities is None else sorted(runbook.severities)
    row.links = links_json(runbook)
    row.phases = phases_json(runbook)
    row.updated_at = now


def _detail(runbook: domain.Runbook) -> dict[str, object]:
    return {
        "services": sorted(runbook.services) if runbook.services is not None else "all",
        "severities": sorted(runbook.severities) if runbook.severities is not None else "all",
        "items": sum(len(phase.items) for phase in runbook.phases),
    }


def create(
    session: Session, actor: Actor, now: datetime, runbook: domain.Runbook, *, managed: bool = False
) -> models.Runbook:
    check(session, runbook)
    if _row(session, runbook.key) is not None:
        raise Conflict(f"runbook {runbook.key!r} exists already", field="key")
    row = models.Runbook(key=runbook.key, managed=managed, created_at=now)
    _write(row, runbook, now)
    session.add(row)
    audit.record(session, actor, now, "create", KIND, runbook.key, _detail(runbook))
    session.flush()
    return row


def update(session: Session, actor: Actor, now: datetime, runbook: domain.Runbook) -> models.Runbook:
    """Replace a runbook. Incidents keep the checklists they were given."""
    row = _row(session, runbook.key)
    if row is None:
        raise NotFound(f"no runbook {runbook.key!r}", field="runbook")
    check(session, runbook)
    _write(row, runbook, now)
    audit.record(session, actor, now, "update", KIND, runbook.key, _detail(runbook))
    session.flush()
    return row


def delete(session: Session, actor: Actor, now: datetime, key: str) -> None:
    row = _row(session, key)
    if row is None:
        raise NotFound(f"no runbook {key!r}", field="runbook")
    session.delete(row)
    audit.record(session, actor, now, "delete", KIND, key)
    session.flush()
