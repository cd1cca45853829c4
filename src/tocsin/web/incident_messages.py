"""The incident page's communication card: what the incident owes (its next update, the customer
notice), when the monitoring window lets it be resolved, and an update drafted from a template
(the HTMX fragment that fills the update box, to edit before posting)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from tocsin.api.deps import CurrentClock, DbSession, State
from tocsin.domain import message_templates as templates_domain
from tocsin.domain.communication import ReminderKind
from tocsin.services import communication, incidents, message_templates
from tocsin.storage.models import Incident
from tocsin.storage.repositories import communication as repo
from tocsin.web.auth import Responder, mark_web
from tocsin.web.templating import templates

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])


def context(session: Session, incident: Incident) -> dict[str, Any]:
    """What `incidents/_communication.html` reads, added to the incident page's context."""
    reminders = list(repo.reminders_for(session, incident.id))
    return {
        "communication": {
            "next_update_at": communication.owed_at(reminders, ReminderKind.UPDATE),
            "customer_notice_at": communication.owed_at(reminders, ReminderKind.CUSTOMER_NOTICE),
            "resolvable_at": communication.resolvable_from(reminders) if incident.status == "monitoring" else None,
            "templates": templates_domain.KINDS,
        }
    }


@router.get("/incidents/{ref}/draft", response_class=HTMLResponse)
def draft(
    request: Request,
    ref: str,
    user: Responder,
    session: DbSession,
    clock: CurrentClock,
    state: State,
    template: Annotated[str, Query(max_length=50)] = "",
) -> Response:
    """The update box, filled from `template` (empty: as it was, empty)."""
    incident = incidents.get(session, ref)
    text = ""
    if template:
        text = message_templates.render_for(session, template, incident, clock.now(), state.settings.public_url)
    return templates.TemplateResponse(
        request, "incidents/_update_text.html", {"user": user, "text": text, "template": template}
    )
