"""Role hand-off briefings: stored with the new assignment and sent to the new holder.

The new holder hears it through each of their verified contact methods that a
notification rule names, once, as `handoff` notifications due at once (the
deliveries module sends them, labelled "Hand-off" as schedule hand-offs are; the
idempotency key `briefing:{briefing}:{method}` tells the two apart). The rows carry no incident id on purpose: an
incident's pending pages are canceled when someone acknowledges it, and a briefing
is not a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.domain.briefings import Briefing
from tocsin.services import notifications
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import runbooks as repo

KIND = "handoff"  # a channels.message.MessageKind: every channel knows how to render it


def summary(briefing: Briefing) -> str:
    return "; ".join(f"{label}: {text}" for label, text in briefing.parts())


def record(
    session: Session,
    actor: Actor,
    now: datetime,
    incident: models.Incident,
    assignment: models.RoleAssignment,
    role_name: str,
    previous: str | None,
    briefing: Briefing,
) -> models.RoleBriefing:
    row = models.RoleBriefing(
        role_assignment_id=assignment.id,
        incident_id=incident.id,
        status=briefing.status,
        actions_taken=briefing.actions_taken,
        hypothesis=briefing.hypothesis,
        given_by_id=actor.user_id,
        given_by_name=actor.name,
        created_at=now,
    )
    session.add(row)
    session.flush()
    title = f"{incident.human_id}: you are now {role_name}"
    handed = f" from {previous}" if previous else ""
    text = f"You took over {role_name}{handed} on {incident.human_id} ({incident.severity}: {incident.title})."
    fields = [["Incident", incident.human_id], ["Severity", incident.severity], *map(list, briefing.parts())]
    payload: dict[str, object] = {"title": title, "text": text, "fields": fields}
    for method in notifications.reachable_methods(session, assignment.user_id):
        session.add(
            notifications.due_now(
                now,
                f"briefing:{row.id}:{method.id}",
                KIND,
                method.kind,
                payload,
                user_id=assignment.user_id,
                contact_method_id=method.id,
            )
        )
    session.flush()
    return row


def of_incident(session: Session, incident_id: int) -> Sequence[models.RoleBriefing]:
    return repo.briefings_of(session, incident_id)
