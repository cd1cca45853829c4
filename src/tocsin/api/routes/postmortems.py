"""Postmortems (viewers read, responders edit, review and publish) and their template (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from tocsin.api.deps import Admin, CurrentClock, DbSession, Reader, Writer
from tocsin.api.postmortem_schemas import (
    CreatePostmortem,
    EditPostmortem,
    PostmortemOut,
    PublishPostmortem,
    Reviewers,
    TemplateIn,
    TemplateOut,
)
from tocsin.api.schemas import Page
from tocsin.clock import Clock
from tocsin.domain.postmortems import TEMPLATE_KEY, PostmortemStatus
from tocsin.errors import ValidationFailed
from tocsin.services import incidents, postmortem_drafts, postmortems
from tocsin.storage import models
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import postmortems as repo

router = APIRouter(tags=["postmortems"])
_PREFIX = "/api/v1/postmortems"


def _out(session: Session, postmortem: models.Postmortem, clock: Clock) -> PostmortemOut:
    publisher = directory.user_by_id(session, postmortem.published_by_id) if postmortem.published_by_id else None
    name = postmortems.export_name(postmortem)
    return PostmortemOut.of(postmortem, clock.now(), name, publisher.email if publisher else None)


def _reread(session: Session, ref: str, clock: Clock) -> PostmortemOut:
    session.expire_all()
    return _out(session, postmortems.get(session, ref), clock)


@router.get(_PREFIX, response_model=Page[PostmortemOut])
def list_postmortems(
    _actor: Reader,
    session: DbSession,
    clock: CurrentClock,
    status: Annotated[str | None, Query(description="draft, in_review or published")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Page[PostmortemOut]:
    if status is not None and status not in {s.value for s in PostmortemStatus}:
        raise ValidationFailed(f"unknown status {status!r}; expected draft, in_review or published", field="status")
    rows, total = repo.list_postmortems(session, status=status, limit=limit, offset=offset)
    return Page(items=[_out(session, r, clock) for r in rows], total=total, limit=limit, offset=offset)


@router.post(_PREFIX, status_code=201, response_model=PostmortemOut)
def create(body: CreatePostmortem, actor: Writer, session: DbSession, clock: CurrentClock) -> PostmortemOut:
    incident = incidents.get(session, body.incident)
    postmortem_drafts.create(session, actor, clock.now(), incident)
    session.commit()
    return _reread(session, incident.human_id, clock)


# Before `/{ref}`, which would take `INC-….md` for a ref.
@router.get(_PREFIX + "/{ref}.md", response_class=Response, responses={200: {"content": {"text/markdown": {}}}})
def export(ref: str, _actor: Reader, session: DbSession) -> Response:
    postmortem = postmortems.get(session, ref)
    name = postmortems.export_name(postmortem)
    return Response(
        postmortems.export(session, postmortem),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(_PREFIX + "/{ref}", response_model=PostmortemOut)
def show(ref: str, _actor: Reader, session: DbSession, clock: CurrentClock) -> PostmortemOut:
    return _out(session, postmortems.get(session, ref), clock)


@router.put(_PREFIX + "/{ref}/body", response_model=PostmortemOut)
def edit(ref: str, body: EditPostmortem, actor: Writer, session: DbSession, clock: CurrentClock) -> PostmortemOut:
    postmortems.edit(session, actor, clock.now(), postmortems.get(session, ref), body.body)
    session.commit()
    return _reread(session, ref, clock)


@router.post(_PREFIX + "/{ref}/reviewers", response_model=PostmortemOut)
def add_reviewers(ref: str, body: Reviewers, actor: Writer, session: DbSession, clock: CurrentClock) -> PostmortemOut:
    if not body.reviewers:
        raise ValidationFailed("name at least one reviewer", field="reviewers")
    postmortems.add_reviewers(session, actor, clock.now(), postmortems.get(session, ref), body.reviewers)
    session.commit()
    return _reread(session, ref, clock)


@router.delete(_PREFIX + "/{ref}/reviewers/{email}", response_model=PostmortemOut)
def remove_reviewer(ref: str, email: str, actor: Writer, session: DbSession, clock: CurrentClock) -> PostmortemOut:
    postmortems.remove_reviewer(session, actor, clock.now(), postmortems.get(session, ref), email)
    session.commit()
    return _reread(session, ref, clock)


@router.post(_PREFIX + "/{ref}/review", response_model=PostmortemOut)
def submit(
    ref: str, actor: Writer, session: DbSession, clock: CurrentClock, body: Reviewers | None = None
) -> PostmortemOut:
    reviewers = body.reviewers if body else []
    postmortems.submit(session, actor, clock.now(), postmortems.get(session, ref), reviewers)
    session.commit()
    return _reread(session, ref, clock)


@router.post(_PREFIX + "/{ref}/draft", response_model=PostmortemOut)
def return_to_draft(ref: str, actor: Writer, session: DbSession, clock: CurrentClock) -> PostmortemOut:
    postmortems.return_to_draft(session, actor, clock.now(), postmortems.get(session, ref))
    session.commit()
    return _reread(session, ref, clock)


@router.post(_PREFIX + "/{ref}/approve", response_model=PostmortemOut)
def approve(ref: str, actor: Writer, session: DbSession, clock: CurrentClock) -> PostmortemOut:
    postmortems.approve(session, actor, clock.now(), postmortems.get(session, ref))
    session.commit()
    return _reread(session, ref, clock)


@router.post(_PREFIX + "/{ref}/publish", response_model=PostmortemOut)
def publish(
    ref: str, actor: Writer, session: DbSession, clock: CurrentClock, body: PublishPostmortem | None = None
) -> PostmortemOut:
    options = body or PublishPostmortem()
    postmortems.publish(
        session,
        actor,
        clock.now(),
        postmortems.get(session, ref),
        status_page=options.status_page,
        summary=options.summary,
    )
    session.commit()
    return _reread(session, ref, clock)


# ---- the template -----------------------------------------------------------------------------

_TEMPLATE = "/api/v1/postmortem-template"


def _template_out(session: Session) -> TemplateOut:
    body, edited = postmortem_drafts.template_source(session)
    return TemplateOut(key=TEMPLATE_KEY, body=body, edited=edited)


@router.get(_TEMPLATE, response_model=TemplateOut)
def show_template(_actor: Reader, session: DbSession) -> TemplateOut:
    return _template_out(session)


@router.put(_TEMPLATE, response_model=TemplateOut)
def save_template(body: TemplateIn, actor: Admin, session: DbSession, clock: CurrentClock) -> TemplateOut:
    postmortem_drafts.save_template(session, actor, clock.now(), body.body)
    session.commit()
    return _template_out(session)


@router.delete(_TEMPLATE, response_model=TemplateOut)
def reset_template(actor: Admin, session: DbSession, clock: CurrentClock) -> TemplateOut:
    """Back to the shipped default."""
    postmortem_drafts.reset_template(session, actor, clock.now())
    session.commit()
    return _template_out(session)
