"""Drafting a postmortem when an incident resolves, from its timeline and the postmortem template.

The template is a team's edit (a `message_templates` row with key `postmortem`) or,
without one, `domain.postmortems.DEFAULT_TEMPLATE`; it renders through
`domain.rendering` (sandboxed, unknown names are errors). The draft is rendered
once: from then on the body is the team's text, edited by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from tocsin.domain import postmortems as domain
from tocsin.domain import rendering
from tocsin.domain.incidents import IncidentStatus
from tocsin.domain.timeline import EntryKind
from tocsin.errors import Conflict, ValidationFailed
from tocsin.services import audit, severities
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import incidents as incidents_repo
from tocsin.storage.repositories import postmortems as repo

# ---- the template -----------------------------------------------------------------------------


def template_source(session: Session) -> tuple[str, bool]:
    """The template in use, and whether it is a team's edit (False: the shipped default)."""
    row = repo.template(session, domain.TEMPLATE_KEY)
    return (row.body, True) if row is not None else (domain.DEFAULT_TEMPLATE, False)


def save_template(session: Session, actor: Actor, now: datetime, body: str) -> models.MessageTemplate:
    try:
        rendering.check(body)
    except rendering.RenderError as exc:
        raise ValidationFailed(str(exc), field="body") from None
    row = repo.template(session, domain.TEMPLATE_KEY)
    if row is None:
        row = models.MessageTemplate(key=domain.TEMPLATE_KEY, body=body, updated_at=now, updated_by_id=actor.user_id)
        session.add(row)
    else:
        row.body, row.updated_at, row.updated_by_id = body, now, actor.user_id
    audit.record(session, actor, now, "template.update", "message_template", domain.TEMPLATE_KEY)
    session.flush()
    return row


def reset_template(session: Session, actor: Actor, now: datetime) -> bool:
    """Back to the shipped default; False when it was the default already."""
    row = repo.template(session, domain.TEMPLATE_KEY)
    if row is None:
        return False
    session.delete(row)
    audit.record(session, actor, now, "template.reset", "message_template", domain.TEMPLATE_KEY)
    session.flush()
    return True


# ---- drafting ---------------------------------------------------------------------------------


def _when(at: datetime | None) -> str:
    return domain.format_time(at) if at is not None else ""


def context(session: Session, incident: models.Incident, now: datetime) -> dict[str, Any]:
    """What the postmortem template may use."""
    entries = incidents_repo.timeline(session, incident.id)
    rows = domain.timeline_rows(domain.Entry(e.at, e.actor_name, e.kind, e.summary) for e in entries)
    resolution = ""
    for entry in reversed(entries):
        if (
            entry.kind == EntryKind.STATUS
            and entry.data.get("to") == IncidentStatus.RESOLVED
            and entry.data.get("note")
        ):
            resolution = str(entry.data["note"])
            break
    if not resolution:
        updates = [e for e in entries if e.kind == EntryKind.UPDATE]
        resolution = updates[-1].summary if updates else ""
    holders = {a.role_key: a.user.name for a in incident.roles if a.released_at is None}
    ended = incident.resolved_at or now
    return {
        "title": incident.title,
        "incident_id": incident.human_id,
        "severity": incident.severity,
        "drill": incident.drill,
        "services": [s.key for s in incident.services],
        "impact": incident.impact,
        "started": _when(incident.declared_at),
        "acknowledged": _when(incident.acknowledged_at),
        "mitigated": _when(incident.mitigated_at),
        "resolved": _when(incident.resolved_at),
        "duration": domain.duration_text(ended - incident.declared_at),
        "commander": holders.get("commander", ""),
        "roles": holders,
        "timeline": [{"time": r.time, "who": r.who, "what": r.what, "kind": r.kind} for r in rows],
        "resolution": resolution,
    }


def render(session: Session, incident: models.Incident, now: datetime, source: str | None = None) -> str:
    """The draft body for `incident` from `source` (default: the template in use)."""
    if source is None:
        source, _edited = template_source(session)
    try:
        return rendering.render(source, context(session, incident, now))
    except rendering.RenderError as exc:
        raise ValidationFailed(f"the postmortem template cannot be rendered: {exc}", field="body") from None


def on_resolved(session: Session, actor: Actor, now: datetime, incident: models.Incident) -> models.Postmortem | None:
    """Called as an incident resolves: a draft when its severity wants a postmortem and it has
    none yet (a reopened and resolved again incident keeps the one it has)."""
    level = severities.active(session).level(incident.severity)
    if level is None or level.policy.postmortem_within is None:
        return None
    if repo.postmortem_of(session, incident.id) is not None:
        return None
    return _draft(session, actor, now, incident, domain.due_at(now, level.policy.postmortem_within))


def create(session: Session, actor: Actor, now: datetime, incident: models.Incident) -> models.Postmortem:
    """A postmortem asked for by hand (e.g. for a P3, whose policy wants none): due by the policy if it says."""
    if incident.status != IncidentStatus.RESOLVED:
        raise Conflict(f"{incident.human_id} is {incident.status}; a postmortem follows resolution", field="incident")
    if repo.postmortem_of(session, incident.id) is not None:
        raise Conflict(f"{incident.human_id} already has a postmortem", field="incident")
    level = severities.active(session).level(incident.severity)
    within = level.policy.postmortem_within if level is not None else None
    resolved = incident.resolved_at or now
    return _draft(session, actor, now, incident, domain.due_at(resolved, within))


def _draft(
    session: Session, actor: Actor, now: datetime, incident: models.Incident, due: datetime | None
) -> models.Postmortem:
    session.flush()  # the entry that resolved it belongs in its timeline table
    try:
        body = render(session, incident, now)
    except ValidationFailed as exc:
        # A template that renders no more (it names something gone) must not stop a resolution:
        # the shipped template drafts it, and the draft says why.
        body = f"<!-- {exc.message}; drafted from the shipped template -->\n" + render(
            session, incident, now, domain.DEFAULT_TEMPLATE
        )
    postmortem = models.Postmortem(
        incident_id=incident.id,
        status=domain.PostmortemStatus.DRAFT.value,
        body=body,
        due_at=due,
        created_at=now,
        updated_at=now,
        updated_by_id=actor.user_id,
        public_summary="",
    )
    session.add(postmortem)
    session.flush()
    # Items added while the incident was open belong to its postmortem too.
    session.execute(
        update(models.ActionItem)
        .where(models.ActionItem.incident_id == incident.id, models.ActionItem.postmortem_id.is_(None))
        .values(postmortem_id=postmortem.id)
        .execution_options(synchronize_session=False)
    )
    # No timeline entry: resolving is the entry, and the draft is where the timeline goes.
    session.flush()
    return postmortem
