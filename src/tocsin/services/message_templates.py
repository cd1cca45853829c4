"""Message templates: the shipped defaults, a team's edits of them, and rendering one for an
incident (or for a sample incident, to preview an edit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from tocsin.domain import message_templates as domain
from tocsin.domain.communication import ReminderKind
from tocsin.domain.rendering import RenderError, render
from tocsin.errors import NotFound, ValidationFailed
from tocsin.services import audit, severities
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import communication as repo

KEYS = domain.KEYS


@dataclass(frozen=True)
class TemplateView:
    key: str
    name: str
    audience: str
    body: str
    default: str
    edited: bool
    updated_at: datetime | None
    updated_by: str | None  # e-mail


def _kind(key: str) -> domain.TemplateKind:
    kind = domain.BY_KEY.get(key)
    if kind is None:
        raise NotFound(f"no template {key!r}; templates are {', '.join(domain.KEYS)}", field="key")
    return kind


def _view(session: Session, kind: domain.TemplateKind, row: models.MessageTemplate | None) -> TemplateView:
    by = session.get(models.User, row.updated_by_id) if row is not None and row.updated_by_id else None
    return TemplateView(
        key=kind.key,
        name=kind.name,
        audience=kind.audience,
        body=row.body if row is not None else kind.default,
        default=kind.default,
        edited=row is not None,
        updated_at=row.updated_at if row is not None else None,
        updated_by=by.email if by is not None else None,
    )


def list_templates(session: Session) -> list[TemplateView]:
    edits = repo.template_edits(session)
    return [_view(session, kind, edits.get(kind.key)) for kind in domain.KINDS]


def get(session: Session, key: str) -> TemplateView:
    kind = _kind(key)
    return _view(session, kind, repo.template_edit(session, key))


def validate(body: str, now: datetime) -> None:
    """Refuse a body that does not parse, names something templates are not given, or fails on
    the sample incident; the message names the line."""
    try:
        domain.check_names(body)
        render(body, domain.context(domain.sample(now), now))
    except RenderError as exc:
        raise ValidationFailed(str(exc), field="body") from None


def save(session: Session, actor: Actor, now: datetime, key: str, body: str) -> TemplateView:
    kind = _kind(key)
    if not body.strip():
        raise ValidationFailed("a template needs a body; reset it to go back to the default", field="body")
    validate(body, now)
    row = repo.template_edit(session, key)
    if row is None:
        row = models.MessageTemplate(key=key, body=body, updated_at=now, updated_by_id=actor.user_id)
        session.add(row)
    else:
        row.body, row.updated_at, row.updated_by_id = body, now, actor.user_id
    audit.record(session, actor, now, "template.edit", "message_template", key)
    session.flush()
    return _view(session, kind, row)


def reset(session: Session, actor: Actor, now: datetime, key: str) -> TemplateView:
    """Back to the shipped default (a no-op for a template nobody edited)."""
    kind = _kind(key)
    row = repo.template_edit(session, key)
    if row is not None:
        session.delete(row)
        audit.record(session, actor, now, "template.reset", "message_template", key)
        session.flush()
    return _view(session, kind, None)


def incident_url(base_url: str, incident: models.Incident) -> str:
    return f"{base_url.rstrip('/')}/incidents/{incident.human_id}"


def facts(session: Session, incident: models.Incident, base_url: str) -> domain.IncidentFacts:
    level = severities.require_level(session, incident.severity)
    holders = {role.role_key: role.user.name for role in incident.roles if role.released_at is None}
    next_update = [
        reminder.due_at
        for reminder in repo.pending_for(session, incident.id, [ReminderKind.UPDATE.value])
        if reminder.stage == 0
    ]
    return domain.IncidentFacts(
        human_id=incident.human_id,
        title=incident.title,
        severity=incident.severity,
        severity_description=level.description,
        status=incident.status,
        impact=incident.impact,
        services=tuple(service.name for service in incident.services),
        commander=holders.get("commander", ""),
        communications=holders.get("communications", ""),
        scribe=holders.get("scribe", ""),
        declared_at=incident.declared_at,
        mitigated_at=incident.mitigated_at,
        resolved_at=incident.resolved_at,
        root_cause=repo.latest_identified_note(session, incident.id),
        next_update_at=min(next_update) if next_update else None,
        url=incident_url(base_url, incident),
        drill=incident.drill,
    )


def render_for(
    session: Session, key: str, incident: models.Incident | None, now: datetime, base_url: str, body: str | None = None
) -> str:
    """`key`'s template (or `body`, an edit not saved yet) filled from `incident`, or from the
    sample incident when there is none."""
    template = body if body is not None else get(session, key).body
    if body is not None:
        _kind(key)
    chosen = facts(session, incident, base_url) if incident is not None else domain.sample(now)
    try:
        domain.check_names(template)
        return render(template, domain.context(chosen, now))
    except RenderError as exc:
        raise ValidationFailed(str(exc), field="body") from None
