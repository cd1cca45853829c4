"""Managing the public status page: its settings (admin), component groups, components
and their manual status, scheduled maintenance, and (admins) subscribers.

The public page itself (HTML, Statuspage's JSON, feeds) is tocsin.web.status_page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from tocsin.api.deps import Admin, CurrentClock, DbSession, Reader, Writer
from tocsin.api.schemas import Body
from tocsin.domain.status_page import ComponentStatus
from tocsin.services import status_page
from tocsin.services import status_page_subscribers as subscribers
from tocsin.storage import models
from tocsin.storage.repositories import status_page as repo

router = APIRouter(prefix="/api/v1/status-page", tags=["status page"])


class PageIn(Body):
    """Only the fields given change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    url: str | None = Field(
        default=None, max_length=500, description="The page's public address; default <public URL>/status"
    )
    time_zone: str | None = Field(default=None, max_length=64)


class PageOut(BaseModel):
    name: str
    description: str
    url: str
    time_zone: str
    updated_at: datetime | None


class GroupIn(Body):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    position: int = Field(default=0, ge=0, le=10_000)


class GroupOut(BaseModel):
    key: str
    name: str
    description: str
    position: int
    managed: bool

    @classmethod
    def of(cls, row: models.StatusPageGroup) -> GroupOut:
        return cls(key=row.key, name=row.name, description=row.description, position=row.position, managed=row.managed)


class ComponentFields(Body):
    description: str = Field(default="", max_length=2000)
    group: str | None = Field(default=None, max_length=100, description="A component group's key")
    position: int = Field(default=0, ge=0, le=10_000)
    services: list[str] = Field(default_factory=list, description="An open incident on one of these affects it")
    checks: list[str] = Field(default_factory=list, description="One of these checks down affects it")


class CreateComponent(ComponentFields):
    key: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)


class UpdateComponent(Body):
    """Only the fields given change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    group: str | None = Field(default=None, max_length=100, description="A group's key; empty to ungroup")
    position: int | None = Field(default=None, ge=0, le=10_000)
    services: list[str] | None = None
    checks: list[str] | None = None


class StatusIn(Body):
    status: ComponentStatus | None = Field(description="A status set by hand; null returns to the derived one")


class ComponentOut(BaseModel):
    key: str
    name: str
    description: str
    group: str | None
    position: int
    services: list[str]
    checks: list[str]
    status_override: str | None = Field(description="The status set by hand, or null when derived")
    managed: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: models.StatusPageComponent) -> ComponentOut:
        return cls(
            key=row.key, name=row.name, description=row.description,
            group=row.group.key if row.group is not None else None, position=row.position,
            services=[s.key for s in row.services], checks=[c.name for c in row.checks],
            status_override=row.status_override, managed=row.managed, created_at=row.created_at,
            updated_at=row.updated_at,
        )  # fmt: skip


class MaintenanceIn(Body):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=5000)
    starts_at: datetime
    ends_at: datetime
    components: list[str] = Field(default_factory=list, description="Component keys under maintenance")


class MaintenanceOut(BaseModel):
    id: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    canceled_at: datetime | None
    components: list[str]

    @classmethod
    def of(cls, row: models.StatusPageMaintenance) -> MaintenanceOut:
        return cls(
            id=row.id, title=row.title, description=row.description, starts_at=row.starts_at, ends_at=row.ends_at,
            canceled_at=row.canceled_at, components=[c.key for c in row.components],
        )  # fmt: skip


# ---- the page -------------------------------------------------------------------------------


def _page_out(row: models.StatusPageSettings | None) -> PageOut:
    if row is None:
        return PageOut(name="Status", description="", url="", time_zone="UTC", updated_at=None)
    return PageOut(
        name=row.name or "Status",
        description=row.description,
        url=row.url,
        time_zone=row.time_zone,
        updated_at=row.updated_at,
    )


@router.get("", response_model=PageOut)
def show_page(_actor: Reader, session: DbSession) -> PageOut:
    return _page_out(repo.settings(session))


@router.patch("", response_model=PageOut)
def configure_page(body: PageIn, actor: Admin, session: DbSession, clock: CurrentClock) -> PageOut:
    row = status_page.configure(session, actor, clock.now(), **body.model_dump(exclude_unset=True))
    session.commit()
    return _page_out(row)


# ---- groups -------------------------------------------------------------------------------


@router.get("/groups", response_model=list[GroupOut])
def list_groups(_actor: Reader, session: DbSession) -> list[GroupOut]:
    return [GroupOut.of(row) for row in repo.groups(session)]


@router.put("/groups/{key}", response_model=GroupOut)
def save_group(key: str, body: GroupIn, actor: Writer, session: DbSession, clock: CurrentClock) -> GroupOut:
    """Create the group or change it."""
    row = status_page.save_group(session, actor, clock.now(), key=key, **body.model_dump())
    session.commit()
    return GroupOut.of(row)


@router.delete("/groups/{key}", status_code=204)
def delete_group(key: str, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    """Its components stay, ungrouped."""
    status_page.delete_group(session, actor, clock.now(), key)
    session.commit()
    return Response(status_code=204)


# ---- components -----------------------------------------------------------------------------


@router.get("/components", response_model=list[ComponentOut])
def list_components(_actor: Reader, session: DbSession) -> list[ComponentOut]:
    return [ComponentOut.of(row) for row in status_page.list_components(session)]


@router.post("/components", status_code=201, response_model=ComponentOut)
def create_component(body: CreateComponent, actor: Writer, session: DbSession, clock: CurrentClock) -> ComponentOut:
    spec = status_page.ComponentSpec(
        name=body.name, description=body.description, group=body.group, position=body.position,
        services=body.services, checks=body.checks,
    )  # fmt: skip
    row = status_page.create_component(session, actor, clock.now(), body.key, spec)
    session.commit()
    return ComponentOut.of(status_page.get_component(session, row.key))


@router.get("/components/{key}", response_model=ComponentOut)
def show_component(key: str, _actor: Reader, session: DbSession) -> ComponentOut:
    return ComponentOut.of(status_page.get_component(session, key))


@router.patch("/components/{key}", response_model=ComponentOut)
def update_component(
    key: str, body: UpdateComponent, actor: Writer, session: DbSession, clock: CurrentClock
) -> ComponentOut:
    row = status_page.get_component(session, key)
    given = body.model_dump(exclude_unset=True)
    spec = status_page.ComponentSpec(
        name=given.get("name", row.name),
        description=given.get("description", row.description),
        group=given.get("group", row.group.key if row.group is not None else None) or None,
        position=given.get("position", row.position),
        services=given.get("services", [s.key for s in row.services]),
        checks=given.get("checks", [c.name for c in row.checks]),
    )
    status_page.update_component(session, actor, clock.now(), key, spec)
    session.commit()
    return ComponentOut.of(status_page.get_component(session, key))


@router.post("/components/{key}/status", response_model=ComponentOut)
def set_component_status(
    key: str, body: StatusIn, actor: Writer, session: DbSession, clock: CurrentClock
) -> ComponentOut:
    """Set the component's status by hand (it wins over incidents, checks and maintenance), or
    clear it with `null`."""
    status_page.set_status(session, actor, clock.now(), key, body.status.value if body.status else None)
    session.commit()
    return ComponentOut.of(status_page.get_component(session, key))


@router.delete("/components/{key}", status_code=204)
def delete_component(key: str, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    status_page.delete_component(session, actor, clock.now(), key)
    session.commit()
    return Response(status_code=204)


# ---- scheduled maintenance ----------------------------------------------------------------


@router.get("/maintenances", response_model=list[MaintenanceOut])
def list_maintenances(_actor: Reader, session: DbSession) -> list[MaintenanceOut]:
    return [MaintenanceOut.of(row) for row in status_page.list_maintenances(session)]


@router.post("/maintenances", status_code=201, response_model=MaintenanceOut)
def schedule_maintenance(body: MaintenanceIn, actor: Writer, session: DbSession, clock: CurrentClock) -> MaintenanceOut:
    """Announce maintenance on the page; its components show `under_maintenance` while it runs."""
    row = status_page.schedule_maintenance(session, actor, clock.now(), **body.model_dump())
    session.commit()
    return MaintenanceOut.of(row)


@router.delete("/maintenances/{maintenance_id}", status_code=204)
def cancel_maintenance(
    maintenance_id: Annotated[int, Path(ge=1, le=2**62)], actor: Writer, session: DbSession, clock: CurrentClock
) -> Response:
    """Take it off the page (ends it at once if it is in progress)."""
    status_page.cancel_maintenance(session, actor, clock.now(), maintenance_id)
    session.commit()
    return Response(status_code=204)


# ---- subscribers (addresses are personal: admins only) ------------------------------------------


class SubscriberIn(Body):
    kind: Literal["email", "webhook"]
    address: str = Field(min_length=3, max_length=2000, description="An e-mail address, or a webhook's URL")
    signing_secret: str | None = Field(
        default=None, min_length=16, max_length=200, description="Webhooks: signs each body (X-Tocsin-Signature)"
    )


class SubscriberOut(BaseModel):
    id: int
    kind: str
    address: str
    confirmed: bool
    created_at: datetime

    @classmethod
    def of(cls, row: models.StatusPageSubscriber) -> SubscriberOut:
        return cls(
            id=row.id, kind=row.kind, address=row.address, confirmed=row.confirmed_at is not None,
            created_at=row.created_at,
        )  # fmt: skip


@router.get("/subscribers", response_model=list[SubscriberOut])
def list_subscribers(_actor: Admin, session: DbSession) -> list[SubscriberOut]:
    return [SubscriberOut.of(row) for row in subscribers.list_subscribers(session)]


@router.post("/subscribers", status_code=201, response_model=SubscriberOut)
def add_subscriber(body: SubscriberIn, actor: Admin, session: DbSession, clock: CurrentClock) -> SubscriberOut:
    """Subscribe a webhook (it receives Statuspage's webhook JSON) or an address that asked in person
    (confirmed at once; the public form sends a confirmation link instead)."""
    if body.kind == "webhook":
        row = subscribers.add_webhook(session, actor, clock.now(), body.address, body.signing_secret)
    else:
        row = subscribers.add_email(session, actor, clock.now(), body.address)
    session.commit()
    return SubscriberOut.of(row)


@router.delete("/subscribers/{subscriber_id}", status_code=204)
def remove_subscriber(
    subscriber_id: Annotated[int, Path(ge=1, le=2**62)], actor: Admin, session: DbSession, clock: CurrentClock
) -> Response:
    subscribers.remove(session, actor, clock.now(), subscriber_id)
    session.commit()
    return Response(status_code=204)
