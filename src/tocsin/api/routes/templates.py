"""Message templates: list, read, edit, reset to the default, preview with an incident."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tocsin.api.deps import Admin, CurrentClock, DbSession, Reader, State
from tocsin.api.schemas import Body
from tocsin.domain.message_templates import NAMES
from tocsin.services import incidents, message_templates
from tocsin.services.message_templates import TemplateView

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


class TemplateOut(BaseModel):
    key: str
    name: str
    audience: str
    body: str
    default: str
    edited: bool
    updated_at: datetime | None
    updated_by: str | None

    @classmethod
    def of(cls, view: TemplateView) -> TemplateOut:
        return cls(**view.__dict__)


class TemplateList(BaseModel):
    items: list[TemplateOut]
    names: dict[str, str]  # what a template may use


class EditTemplate(Body):
    body: str = Field(min_length=1, max_length=20_000)


class PreviewTemplate(Body):
    incident: str | None = Field(default=None, max_length=40, description="Incident id; a sample incident when absent")
    body: str | None = Field(default=None, max_length=20_000, description="An edit to preview before saving it")


class Preview(BaseModel):
    key: str
    incident: str | None
    text: str


@router.get("", response_model=TemplateList)
def list_templates(_actor: Reader, session: DbSession) -> TemplateList:
    return TemplateList(items=[TemplateOut.of(v) for v in message_templates.list_templates(session)], names=NAMES)


@router.get("/{key}", response_model=TemplateOut)
def show(key: str, _actor: Reader, session: DbSession) -> TemplateOut:
    return TemplateOut.of(message_templates.get(session, key))


@router.put("/{key}", response_model=TemplateOut)
def edit(key: str, body: EditTemplate, actor: Admin, session: DbSession, clock: CurrentClock) -> TemplateOut:
    view = message_templates.save(session, actor, clock.now(), key, body.body)
    session.commit()
    return TemplateOut.of(view)


@router.delete("/{key}", response_model=TemplateOut)
def reset(key: str, actor: Admin, session: DbSession, clock: CurrentClock) -> TemplateOut:
    view = message_templates.reset(session, actor, clock.now(), key)
    session.commit()
    return TemplateOut.of(view)


@router.post("/{key}/preview", response_model=Preview)
def preview(
    key: str, _actor: Reader, session: DbSession, clock: CurrentClock, state: State, body: PreviewTemplate | None = None
) -> Preview:
    incident = incidents.get(session, body.incident) if body is not None and body.incident else None
    text = message_templates.render_for(
        session, key, incident, clock.now(), state.settings.public_url, body.body if body is not None else None
    )
    return Preview(key=key, incident=incident.human_id if incident is not None else None, text=text)
