"""The postmortem pages: the list, one incident's postmortem (its Markdown rendered, an edit
form, review and publish) with its action items, and the action items of every incident,
overdue ones highlighted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markdown_it import MarkdownIt
from sqlalchemy.orm import Session

from tocsin.api import problems
from tocsin.api.deps import CurrentClock, DbSession, State
from tocsin.domain.action_items import PRIORITIES, ActionItemStatus
from tocsin.domain.postmortems import PostmortemStatus
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import action_items, incidents, postmortems
from tocsin.storage import models
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import postmortems as repo
from tocsin.web.auth import Responder, Viewer, WebUser, mark_web
from tocsin.web.incidents import FormError
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

# CommonMark with tables; raw HTML is shown as text, and markdown-it refuses javascript: links.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_markdown(text: str) -> str:
    return str(_MARKDOWN.render(text))


def _status_label(status: str) -> str:
    return status.replace("_", " ")


templates.env.filters["status_label"] = _status_label


@router.get("/postmortems")
def postmortems_page(
    request: Request, user: Viewer, session: DbSession, clock: CurrentClock, status: str = ""
) -> Response:
    chosen = status if status in {s.value for s in PostmortemStatus} else None
    rows, total = repo.list_postmortems(session, status=chosen, limit=200)
    context = {
        "user": user,
        "nav_active": "/postmortems",
        "rows": rows,
        "total": total,
        "status": chosen or "",
        "statuses": [s.value for s in PostmortemStatus],
        "now": clock.now(),
        "overdue_items": _count(session, clock.now()),
    }
    return templates.TemplateResponse(request, "postmortems/list.html", context)


def _count(session: Session, now: datetime) -> int:
    return action_items.list_items(session, now, overdue=True, limit=1)[1]


def _page(
    request: Request,
    session: Session,
    user: WebUser,
    now: datetime,
    incident: models.Incident,
    *,
    error: FormError | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    postmortem = repo.postmortem_of(session, incident.id)
    items = repo.action_items_of(session, incident.id)
    publisher = None
    if postmortem is not None and postmortem.published_by_id is not None:
        publisher = directory.user_by_id(session, postmortem.published_by_id)
    context = {
        "user": user,
        "nav_active": "/postmortems",
        "incident": incident,
        "postmortem": postmortem,
        "publisher": publisher,
        "html": render_markdown(postmortem.body) if postmortem is not None else "",
        "items": items,
        "overdue": {item.id for item in items if action_items.is_overdue(item, now)},
        "priorities": PRIORITIES,
        "item_statuses": [s.value for s in ActionItemStatus],
        "users": [u for u in directory.list_users(session) if u.active],
        "now": now,
        "error": error,
        "values": values or {},
        "export_name": postmortems.export_name(postmortem) if postmortem is not None else "",
    }
    return templates.TemplateResponse(request, "postmortems/page.html", context, status_code=status_code)


@router.get("/incidents/{ref}/postmortem")
def postmortem_page(request: Request, ref: str, user: Viewer, session: DbSession, clock: CurrentClock) -> Response:
    return _page(request, session, user, clock.now(), incidents.get(session, ref))


def _act(
    request: Request,
    session: Session,
    user: WebUser,
    now: datetime,
    ref: str,
    form: str,
    action: Any,
    values: dict[str, Any] | None = None,
) -> Response:
    """Run one action: commit and go back to the page, or show the page with why not."""
    incident = incidents.get(session, ref)
    try:
        action(incident)
    except (ValidationFailed, Conflict, NotFound) as exc:
        session.rollback()
        error = FormError(form, exc.message, exc.field)
        fresh = incidents.get(session, ref)
        return _page(
            request, session, user, now, fresh, error=error, values=values, status_code=problems.status_for(exc)
        )
    session.commit()
    return RedirectResponse(f"/incidents/{incident.human_id}/postmortem#{form}", status_code=303)


def _postmortem(session: Session, incident: models.Incident) -> models.Postmortem:
    return postmortems.get(session, incident.human_id)


@router.post("/incidents/{ref}/postmortem/body")
def edit_body(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    body: Annotated[str, Form()] = "",
) -> Response:
    now = clock.now()
    return _act(
        request, session, user, now, ref, "edit",
        lambda i: postmortems.edit(session, user.actor, now, _postmortem(session, i), body.replace("\r\n", "\n")),
        {"body": body},
    )  # fmt: skip


@router.post("/incidents/{ref}/postmortem/review")
def review(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    reviewers: Annotated[list[str] | None, Form()] = None,
    action: Annotated[str, Form()] = "submit",
) -> Response:
    now = clock.now()

    def run(incident: models.Incident) -> None:
        postmortem = _postmortem(session, incident)
        if action == "draft":
            postmortems.return_to_draft(session, user.actor, now, postmortem)
        elif action == "approve":
            postmortems.approve(session, user.actor, now, postmortem)
        else:
            postmortems.submit(session, user.actor, now, postmortem, [r for r in reviewers or [] if r])

    return _act(request, session, user, now, ref, "review", run)


@router.post("/incidents/{ref}/postmortem/publish")
def publish(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    status_page: Annotated[bool, Form()] = False,
    summary: Annotated[str, Form()] = "",
) -> Response:
    now = clock.now()
    return _act(
        request, session, user, now, ref, "review",
        lambda i: postmortems.publish(
            session, user.actor, now, _postmortem(session, i), status_page=status_page, summary=summary or None
        ),
    )  # fmt: skip


@router.post("/incidents/{ref}/action-items")
def add_item(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    title: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "P2",
    owner: Annotated[str, Form()] = "",
    due: Annotated[str, Form()] = "",
) -> Response:
    now = clock.now()
    values = {"title": title, "priority": priority, "owner": owner, "due": due}

    def run(incident: models.Incident) -> None:
        due_at = None
        if due:
            try:
                day = datetime.fromisoformat(due)
            except ValueError:
                raise ValidationFailed(f"{due!r} is not a date", field="due") from None
            due_at = day if day.tzinfo else day.replace(tzinfo=UTC)
        action_items.add(
            session, user.actor, now, incident.human_id, title=title, priority=priority, owner=owner or None,
            due_at=due_at, sync=state.settings.github_sync,
        )  # fmt: skip

    return _act(request, session, user, now, ref, "items", run, values)


@router.post("/action-items/{item_id}/status")
def item_status(
    request: Request,
    item_id: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    status: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    now = clock.now()
    item = action_items.get(session, item_id)
    action_items.change_status(session, user.actor, now, item, status)
    session.commit()
    target = "/action-items" if back == "list" else f"/incidents/{item.incident.human_id}/postmortem#items"
    return RedirectResponse(target, status_code=303)


@router.get("/action-items")
def action_items_page(
    request: Request,
    user: Viewer,
    session: DbSession,
    clock: CurrentClock,
    status: str = "open",
    overdue: bool = False,
    mine: bool = False,
) -> Response:
    now = clock.now()
    chosen = status if status in ("open", "all", *[s.value for s in ActionItemStatus]) else "open"
    rows, total = action_items.list_items(
        session, now, status=chosen, overdue=overdue, owner=user.email if mine else None, limit=500
    )
    context = {
        "user": user,
        "nav_active": "/postmortems",
        "rows": rows,
        "total": total,
        "overdue_ids": {item.id for item in rows if action_items.is_overdue(item, now)},
        "filters": {"status": chosen, "overdue": overdue, "mine": mine},
        "statuses": ["open", "all", *[s.value for s in ActionItemStatus]],
        "now": now,
    }
    return templates.TemplateResponse(request, "postmortems/action_items.html", context)
