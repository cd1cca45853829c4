"""Runbooks (admins write, everyone reads) and incidents' checklists (ticked by the people responsible).

A runbook's `services` and `severities` are lists, or "all". `GET /api/v1/runbooks`
lists the team's runbooks and, last, the shipped `default` one that incidents get
when none fits; it can be read but not written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from tocsin.api.deps import Admin, CurrentClock, DbSession, Reader, Writer
from tocsin.api.schemas import Body
from tocsin.domain import runbooks as domain
from tocsin.errors import Conflict, ValidationFailed
from tocsin.services import checklists, incidents, runbooks
from tocsin.storage import models

router = APIRouter(tags=["runbooks"])

ALL: Literal["all"] = "all"


class ItemIn(Body):
    text: str = Field(min_length=1, max_length=domain.TEXT_MAX)
    role: str | None = Field(default=None, max_length=50, description="A role key, e.g. commander")


class PhaseIn(Body):
    name: str = Field(min_length=1, max_length=domain.NAME_MAX)
    time_frame: str = Field(default="", max_length=domain.NAME_MAX, description='e.g. "first 5 minutes"')
    items: list[ItemIn] = Field(default_factory=list, max_length=domain.MAX_ITEMS)


class LinkIn(Body):
    title: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2000)


class RunbookFields(Body):
    name: str = Field(min_length=1, max_length=200)
    services: list[str] | Literal["all"] = Field(default=ALL, max_length=100)
    severities: list[str] | Literal["all"] = Field(default=ALL, max_length=20)
    links: list[LinkIn] = Field(default_factory=list, max_length=domain.MAX_LINKS)
    phases: list[PhaseIn] = Field(min_length=1, max_length=domain.MAX_PHASES)

    def runbook(self, key: str) -> domain.Runbook:
        return domain.Runbook(
            key=key,
            name=self.name,
            services=None if self.services == ALL else frozenset(self.services),
            severities=None if self.severities == ALL else frozenset(self.severities),
            links=tuple(domain.Link(link.title, link.url) for link in self.links),
            phases=tuple(
                domain.Phase(p.name, tuple(domain.Item(i.text, i.role or None) for i in p.items), p.time_frame)
                for p in self.phases
            ),
        )


class CreateRunbook(RunbookFields):
    key: str = Field(min_length=1, max_length=100)


class ItemOut(BaseModel):
    text: str
    role: str | None


class PhaseOut(BaseModel):
    name: str
    time_frame: str
    items: list[ItemOut]


class LinkOut(BaseModel):
    title: str
    url: str


class RunbookOut(BaseModel):
    key: str
    name: str
    services: list[str] | Literal["all"]
    severities: list[str] | Literal["all"]
    links: list[LinkOut]
    phases: list[PhaseOut]
    shipped: bool = Field(description="The default that ships with Tocsin, used when no runbook fits")
    managed: bool = Field(description="Declared in tocsin.yaml: `tocsin apply` may change or remove it")

    @classmethod
    def of(cls, runbook: domain.Runbook, *, shipped: bool = False, managed: bool = False) -> RunbookOut:
        return cls(
            key=runbook.key,
            name=runbook.name,
            services=ALL if runbook.services is None else sorted(runbook.services),
            severities=ALL if runbook.severities is None else sorted(runbook.severities),
            links=[LinkOut(title=link.title, url=link.url) for link in runbook.links],
            phases=[
                PhaseOut(
                    name=p.name, time_frame=p.time_frame, items=[ItemOut(text=i.text, role=i.role) for i in p.items]
                )
                for p in runbook.phases
            ],
            shipped=shipped,
            managed=managed,
        )

    @classmethod
    def of_row(cls, row: models.Runbook) -> RunbookOut:
        return cls.of(runbooks.to_domain(row), managed=row.managed)


def _shipped_only(key: str) -> None:
    if key == domain.DEFAULT_KEY:
        raise Conflict("the shipped default runbook cannot be changed; add a runbook for all services", field="key")


@router.get("/api/v1/runbooks", response_model=list[RunbookOut])
def list_runbooks(_actor: Reader, session: DbSession) -> list[RunbookOut]:
    rows = [RunbookOut.of_row(row) for row in runbooks.list_runbooks(session)]
    return [*rows, RunbookOut.of(domain.DEFAULT_RUNBOOK, shipped=True)]


@router.get("/api/v1/runbooks/{key}", response_model=RunbookOut)
def show_runbook(key: str, _actor: Reader, session: DbSession) -> RunbookOut:
    runbook = runbooks.get(session, key)
    return RunbookOut.of(runbook, shipped=runbook is domain.DEFAULT_RUNBOOK)


@router.post("/api/v1/runbooks", status_code=201, response_model=RunbookOut)
def create_runbook(body: CreateRunbook, actor: Admin, session: DbSession, clock: CurrentClock) -> RunbookOut:
    _shipped_only(body.key)
    row = runbooks.create(session, actor, clock.now(), body.runbook(body.key))
    session.commit()
    return RunbookOut.of_row(row)


@router.put("/api/v1/runbooks/{key}", response_model=RunbookOut)
def update_runbook(key: str, body: RunbookFields, actor: Admin, session: DbSession, clock: CurrentClock) -> RunbookOut:
    """Replace a runbook. Incidents declared before keep the checklist they were given."""
    _shipped_only(key)
    row = runbooks.update(session, actor, clock.now(), body.runbook(key))
    session.commit()
    return RunbookOut.of_row(row)


@router.delete("/api/v1/runbooks/{key}", status_code=204)
def delete_runbook(key: str, actor: Admin, session: DbSession, clock: CurrentClock) -> Response:
    _shipped_only(key)
    runbooks.delete(session, actor, clock.now(), key)
    session.commit()
    return Response(status_code=204)


# ---- an incident's checklist ------------------------------------------------------------------


class ChecklistItemOut(BaseModel):
    id: int = Field(description="The item's number on this incident: 1, 2, …")
    phase: str
    time_frame: str
    text: str
    role: str | None
    ticked: bool
    ticked_at: datetime | None
    ticked_by: str | None

    @classmethod
    def of(cls, item: models.IncidentChecklistItem) -> ChecklistItemOut:
        return cls(
            id=item.number,
            phase=item.phase,
            time_frame=item.time_frame,
            text=item.text,
            role=item.role_key,
            ticked=item.ticked_at is not None,
            ticked_at=item.ticked_at,
            ticked_by=item.ticked_by_name or None,
        )


class ChecklistPhaseOut(BaseModel):
    name: str
    time_frame: str
    items: list[ChecklistItemOut]


class ChecklistOut(BaseModel):
    incident: str
    runbook: str | None
    runbook_name: str | None
    links: list[LinkOut]
    done: int
    total: int
    phases: list[ChecklistPhaseOut]


@router.get("/api/v1/incidents/{ref}/checklist", response_model=ChecklistOut)
def show_checklist(ref: str, _actor: Reader, session: DbSession) -> ChecklistOut:
    incident = incidents.get(session, ref)
    return _checklist(session, incident)


def _checklist(session: Session, incident: models.Incident) -> ChecklistOut:
    view = checklists.view(session, incident)
    if view is None:  # declared before runbooks existed
        return ChecklistOut(
            incident=incident.human_id, runbook=None, runbook_name=None, links=[], done=0, total=0, phases=[]
        )
    return ChecklistOut(
        incident=incident.human_id,
        runbook=view.runbook_key,
        runbook_name=view.runbook_name,
        links=[LinkOut(title=link["title"], url=link["url"]) for link in view.links],
        done=view.done,
        total=len(view.items),
        phases=[
            ChecklistPhaseOut(
                name=p.name, time_frame=p.time_frame, items=[ChecklistItemOut.of(item) for item in p.items]
            )
            for p in view.phases
        ],
    )


@router.post("/api/v1/incidents/{ref}/checklist/{item_id}/tick", response_model=ChecklistItemOut)
def tick_item(ref: str, item_id: str, actor: Writer, session: DbSession, clock: CurrentClock) -> ChecklistItemOut:
    """Tick an item: its role's holder, the commander or an admin may (any responder, for an item with no role)."""
    return _tick(ref, item_id, actor, session, clock, done=True)


@router.post("/api/v1/incidents/{ref}/checklist/{item_id}/untick", response_model=ChecklistItemOut)
def untick_item(ref: str, item_id: str, actor: Writer, session: DbSession, clock: CurrentClock) -> ChecklistItemOut:
    return _tick(ref, item_id, actor, session, clock, done=False)


def _tick(
    ref: str, item_id: str, actor: Writer, session: DbSession, clock: CurrentClock, *, done: bool
) -> ChecklistItemOut:
    incident = incidents.get(session, ref)
    if not item_id.isascii() or not item_id.isdigit():
        raise ValidationFailed(f"{item_id!r} is not an item number", field="item_id")
    item = checklists.tick(session, actor, clock.now(), incident, item_id, done=done)
    session.commit()
    return ChecklistItemOut.of(item)
