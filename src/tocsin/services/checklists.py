"""Incident checklists: the fitting runbook's items, copied onto an incident as it is declared,
then ticked (and unticked) by the people responsible, each tick on the timeline.

Copies, not references: editing or deleting a runbook later leaves every incident's
checklist as it was. Items are numbered 1, 2, … per incident, the number people use.

Who may tick an item: the current holder of the item's role, the incident's commander,
or an admin; an item without a role, anyone who may act on incidents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.domain.access import Scope, scope_allows
from tocsin.domain.incidents import IncidentStatus
from tocsin.domain.timeline import EntryKind
from tocsin.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from tocsin.services import runbooks, timeline
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import runbooks as repo
from tocsin.storage.repositories import severities as severities_repo


def attach(session: Session, now: datetime, incident: models.Incident) -> models.IncidentChecklist:
    """Give a new incident the checklist of the runbook that fits it best (the shipped default if none)."""
    runbook = runbooks.matching(session, [s.key for s in incident.services], incident.severity)
    checklist = models.IncidentChecklist(
        incident_id=incident.id,
        runbook_key=runbook.key,
        runbook_name=runbook.name,
        links=runbooks.links_json(runbook),
        attached_at=now,
    )
    session.add(checklist)
    number = 0
    for phase in runbook.phases:
        for item in phase.items:
            number += 1
            session.add(
                models.IncidentChecklistItem(
                    incident_id=incident.id,
                    number=number,
                    phase=phase.name,
                    time_frame=phase.time_frame,
                    text=item.text,
                    role_key=item.role,
                    ticked_by_name="",
                )
            )
    return checklist


@dataclass(frozen=True)
class PhaseView:
    name: str
    time_frame: str
    items: list[models.IncidentChecklistItem]

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.ticked_at is not None)


@dataclass(frozen=True)
class ChecklistView:
    runbook_key: str
    runbook_name: str
    links: list[dict[str, str]]
    phases: list[PhaseView]

    @property
    def items(self) -> list[models.IncidentChecklistItem]:
        return [item for phase in self.phases for item in phase.items]

    @property
    def done(self) -> int:
        return sum(phase.done for phase in self.phases)


def view(session: Session, incident: models.Incident) -> ChecklistView | None:
    """The incident's checklist by phase, in the runbook's order; None for an incident declared before runbooks."""
    checklist = repo.checklist_of(session, incident.id)
    if checklist is None:
        return None
    phases: dict[str, PhaseView] = {}
    for item in repo.items_of(session, incident.id):
        phase = phases.get(item.phase)
        if phase is None:
            phase = phases[item.phase] = PhaseView(item.phase, item.time_frame, [])
        phase.items.append(item)
    return ChecklistView(checklist.runbook_key, checklist.runbook_name, list(checklist.links), list(phases.values()))


def may_tick(
    session: Session, actor: Actor, incident: models.Incident, row: models.IncidentChecklistItem
) -> str | None:
    """Why `actor` may not tick (or untick) `row`, or None if they may."""
    if actor.scope is Scope.ADMIN:
        return None
    if not scope_allows(actor.scope, Scope.WRITE):
        return "ticking checklist items needs the write scope"
    holders = _holders(session, incident.id)
    if actor.user_id is not None and actor.user_id == holders.get("commander"):
        return None
    if row.role_key is None:
        return None
    if actor.user_id is not None and actor.user_id == holders.get(row.role_key):
        return None
    role = severities_repo.role_by_key(session, row.role_key)
    name = role.name if role is not None else row.role_key
    holder = holders.get(row.role_key)
    who = "nobody holds it yet" if holder is None else "you do not hold it"
    return (
        f"item {row.number} belongs to the {name} ({who}); only its role holder, the commander or an admin may tick it"
    )


def _holders(session: Session, incident_id: int) -> dict[str, int]:
    """Role key → the user id holding it now."""
    return {a.role_key: a.user_id for a in repo.current_roles(session, incident_id)}


def item(session: Session, incident: models.Incident, number: str | int) -> models.IncidentChecklistItem:
    try:
        wanted = int(number)
    except ValueError:
        raise ValidationFailed(f"{number!r} is not an item number", field="item") from None
    found = repo.item_by_number(session, incident.id, wanted) if 0 < wanted < 100_000 else None
    if found is None:
        raise NotFound(f"{incident.human_id} has no checklist item {number}", field="item")
    return found


def tick(
    session: Session, actor: Actor, now: datetime, incident: models.Incident, number: str | int, *, done: bool = True
) -> models.IncidentChecklistItem:
    """Tick (or with done=False untick) one item; the change goes on the timeline."""
    if IncidentStatus(incident.status) == IncidentStatus.CANCELED:
        raise InvalidTransition(f"{incident.human_id} is canceled", field="item")
    row = item(session, incident, number)
    refused = may_tick(session, actor, incident, row)
    if refused is not None:
        raise Forbidden(refused)
    if done and row.ticked_at is not None:
        raise Conflict(f"item {row.number} was ticked by {row.ticked_by_name} already", field="item")
    if not done and row.ticked_at is None:
        raise Conflict(f"item {row.number} is not ticked", field="item")
    row.ticked_at = now if done else None
    row.ticked_by_id = actor.user_id if done else None
    row.ticked_by_name = actor.name if done else ""
    where = f" ({row.time_frame or row.phase})"
    summary = f"{'Ticked' if done else 'Unticked'} item {row.number}: {row.text}{where}"
    data = {"item": row.number, "text": row.text, "phase": row.phase, "role": row.role_key, "ticked": done}
    timeline.add(session, incident, actor, now, EntryKind.CHECKLIST, summary, data)
    session.flush()
    return row
