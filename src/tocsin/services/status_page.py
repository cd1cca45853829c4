"""Managing the public status page: its settings, component groups, components (their
services, checks and manual status) and scheduled maintenance.

Every change bumps the page's generation (storage.repositories.status_page.bump) in the
same transaction, so the page's cache in every process sees it at its next look.
What the page shows is read by services.status_page_view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import event
from sqlalchemy.orm import Session

from tocsin.domain.naming import key_problem, time_zone_problem
from tocsin.domain.status_page import ComponentStatus
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import audit
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import checks as checks_repo
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import status_page as repo

STATUSES = tuple(status.value for status in ComponentStatus)
MAX_MAINTENANCE = timedelta(days=31)

# Changes committed by this process: the page's cache here looks at the database again at
# once instead of within its second (web.status_cache), so whoever made a change sees it.
_local_changes = [0]


def local_changes() -> int:
    return _local_changes[0]


def _changed(session: Session, now: datetime) -> None:
    repo.bump(session, now)
    event.listen(session, "after_commit", _count_local_change, once=True)


def _count_local_change(_session: Session) -> None:
    _local_changes[0] += 1


# ---- the page -----------------------------------------------------------------------------


def configure(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    name: str | None = None,
    description: str | None = None,
    url: str | None = None,
    time_zone: str | None = None,
) -> models.StatusPageSettings:
    """Set the page's title, description, public address and time zone (only those given)."""
    if name is not None and not name.strip():
        raise ValidationFailed("the page needs a name", field="name")
    if url is not None and url and not url.startswith(("http://", "https://")):
        raise ValidationFailed("url must start with http:// or https://", field="url")
    if time_zone is not None:
        problem = time_zone_problem(time_zone)
        if problem is not None:
            raise ValidationFailed(problem, field="time_zone")
    row = repo.settings(session)
    if row is None:
        row = models.StatusPageSettings(id=repo.SETTINGS_ID, name="", description="", url="", time_zone="UTC")
        row.generation = 0
        row.updated_at = now
        session.add(row)
    if name is not None:
        row.name = name.strip()
    if description is not None:
        row.description = description
    if url is not None:
        row.url = url.rstrip("/")
    if time_zone is not None:
        row.time_zone = time_zone
    session.flush()
    _changed(session, now)
    audit.record(session, actor, now, "configure", "status_page", "page")
    session.flush()
    return row


# ---- groups -------------------------------------------------------------------------------


def _key(key: str, field: str = "key") -> str:
    problem = key_problem(key)
    if problem is not None:
        raise ValidationFailed(problem, field=field)
    return key


def get_group(session: Session, key: str) -> models.StatusPageGroup:
    group = repo.group_by_key(session, key)
    if group is None:
        raise NotFound(f"no component group {key!r}", field="group")
    return group


def save_group(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    key: str,
    name: str,
    description: str = "",
    position: int = 0,
    managed: bool = False,
) -> models.StatusPageGroup:
    """Create the group, or change the one with this key."""
    _key(key)
    if not name.strip():
        raise ValidationFailed("a group needs a name", field="name")
    group = repo.group_by_key(session, key)
    if group is None:
        group = models.StatusPageGroup(key=key, created_at=now)
        session.add(group)
    group.name = name.strip()
    group.description = description
    group.position = position
    group.managed = managed
    group.updated_at = now
    _changed(session, now)
    audit.record(session, actor, now, "save", "status_page_group", key)
    session.flush()
    return group


def delete_group(session: Session, actor: Actor, now: datetime, key: str) -> None:
    """Its components stay, ungrouped."""
    group = get_group(session, key)
    session.delete(group)
    _changed(session, now)
    audit.record(session, actor, now, "delete", "status_page_group", key)
    session.flush()


# ---- components ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentSpec:
    """What a person (API, CLI, config file) says a component is; `group` and the lists by key."""

    name: str
    description: str = ""
    group: str | None = None
    position: int = 0
    services: Sequence[str] = ()
    checks: Sequence[str] = ()


def list_components(session: Session) -> Sequence[models.StatusPageComponent]:
    return repo.components(session)


def get_component(session: Session, key: str) -> models.StatusPageComponent:
    component = repo.component_by_key(session, key)
    if component is None:
        raise NotFound(f"no component {key!r}", field="component")
    return component


def _resolve(
    session: Session, spec: ComponentSpec
) -> tuple[models.StatusPageGroup | None, list[models.Service], list[models.Check]]:
    if not spec.name.strip():
        raise ValidationFailed("a component needs a name", field="name")
    group = None
    if spec.group:
        group = repo.group_by_key(session, spec.group)
        if group is None:
            raise ValidationFailed(f"unknown component group {spec.group!r}", field="group")
    services = []
    for key in dict.fromkeys(spec.services):
        service = directory.service_by_key(session, key)
        if service is None or service.archived_at is not None:
            raise ValidationFailed(f"unknown service {key!r}", field="services")
        services.append(service)
    checks = []
    for name in dict.fromkeys(spec.checks):
        check = checks_repo.by_name(session, name)
        if check is None:
            raise ValidationFailed(f"unknown check {name!r}", field="checks")
        checks.append(check)
    return group, services, checks


def create_component(
    session: Session, actor: Actor, now: datetime, key: str, spec: ComponentSpec, *, managed: bool = False
) -> models.StatusPageComponent:
    _key(key)
    if repo.component_by_key(session, key) is not None:
        raise Conflict(f"component {key!r} already exists", field="key")
    group, services, checks = _resolve(session, spec)
    component = models.StatusPageComponent(key=key, created_at=now, managed=managed)
    _apply(component, spec, group, services, checks, now)
    session.add(component)
    _changed(session, now)
    audit.record(session, actor, now, "create", "status_page_component", key)
    session.flush()
    return component


def update_component(
    session: Session,
    actor: Actor,
    now: datetime,
    key: str,
    spec: ComponentSpec,
    *,
    managed: bool | None = None,
) -> models.StatusPageComponent:
    component = get_component(session, key)
    group, services, checks = _resolve(session, spec)
    _apply(component, spec, group, services, checks, now)
    if managed is not None:
        component.managed = managed
    _changed(session, now)
    audit.record(session, actor, now, "update", "status_page_component", key)
    session.flush()
    return component


def _apply(
    component: models.StatusPageComponent,
    spec: ComponentSpec,
    group: models.StatusPageGroup | None,
    services: list[models.Service],
    checks: list[models.Check],
    now: datetime,
) -> None:
    component.name = spec.name.strip()
    component.description = spec.description
    component.group = group
    component.position = spec.position
    component.services = services
    component.checks = checks
    component.updated_at = now


def set_status(
    session: Session, actor: Actor, now: datetime, key: str, status: str | None
) -> models.StatusPageComponent:
    """Set the component's status by hand (it wins over everything derived), or clear it with None."""
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}", field="status")
    component = get_component(session, key)
    previous = component.status_override
    component.status_override = status
    component.updated_at = now
    _changed(session, now)
    audit.record(session, actor, now, "set_status", "status_page_component", key, {"from": previous, "to": status})
    session.flush()
    return component


def delete_component(session: Session, actor: Actor, now: datetime, key: str) -> None:
    component = get_component(session, key)
    session.delete(component)
    _changed(session, now)
    audit.record(session, actor, now, "delete", "status_page_component", key)
    session.flush()


# ---- scheduled maintenance ------------------------------------------------------------------


def schedule_maintenance(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    description: str = "",
    components: Sequence[str] = (),
) -> models.StatusPageMaintenance:
    """Announce maintenance: its components are `under_maintenance` between the two times."""
    if not title.strip():
        raise ValidationFailed("maintenance needs a title", field="title")
    if starts_at.tzinfo is None:
        raise ValidationFailed("starts_at needs a time zone", field="starts_at")
    if ends_at.tzinfo is None:
        raise ValidationFailed("ends_at needs a time zone", field="ends_at")
    if ends_at <= starts_at:
        raise ValidationFailed("ends_at must be after starts_at", field="ends_at")
    if ends_at - starts_at > MAX_MAINTENANCE:
        raise ValidationFailed("maintenance lasts at most 31 days", field="ends_at")
    rows = [get_component(session, key) for key in dict.fromkeys(components)]
    maintenance = models.StatusPageMaintenance(
        title=title.strip(),
        description=description,
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=now,
        updated_at=now,
    )
    maintenance.components = rows
    session.add(maintenance)
    _changed(session, now)
    session.flush()
    audit.record(session, actor, now, "schedule", "status_page_maintenance", str(maintenance.id))
    session.flush()
    return maintenance


def list_maintenances(session: Session) -> Sequence[models.StatusPageMaintenance]:
    return repo.maintenances(session)


def cancel_maintenance(session: Session, actor: Actor, now: datetime, maintenance_id: int) -> None:
    """Canceled maintenance leaves the page (and ends at once if it was in progress)."""
    maintenance = repo.maintenance_by_id(session, maintenance_id)
    if maintenance is None or maintenance.canceled_at is not None:
        raise NotFound(f"no scheduled maintenance {maintenance_id}", field="maintenance")
    maintenance.canceled_at = now
    maintenance.updated_at = now
    _changed(session, now)
    audit.record(session, actor, now, "cancel", "status_page_maintenance", str(maintenance_id))
    session.flush()
