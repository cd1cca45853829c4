"""Postmortem use cases after the draft: edit, reviewers, review, publish, export."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tocsin.domain import postmortems as domain
from tocsin.domain.action_items import ActionItemStatus
from tocsin.domain.postmortems import PostmortemStatus
from tocsin.domain.timeline import EntryKind
from tocsin.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from tocsin.services import incidents, notifications, timeline
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import directory
from tocsin.storage.repositories import postmortems as repo

MAX_SUMMARY = 5_000


def get(session: Session, ref: str) -> models.Postmortem:
    """The postmortem of an incident, by the incident's human id or number."""
    incident = incidents.get(session, ref)
    postmortem = repo.postmortem_of(session, incident.id)
    if postmortem is None:
        raise NotFound(f"{incident.human_id} has no postmortem", field="incident")
    return postmortem


def _editable(postmortem: models.Postmortem, field: str) -> None:
    if postmortem.status == PostmortemStatus.PUBLISHED:
        raise Conflict(
            f"the postmortem of {postmortem.incident.human_id} is published and no longer changes", field=field
        )


def edit(session: Session, actor: Actor, now: datetime, postmortem: models.Postmortem, body: str) -> models.Postmortem:
    _editable(postmortem, "body")
    body = domain.without_action_items(body)
    if not body.strip():
        raise ValidationFailed("a postmortem needs a body", field="body")
    if len(body) > domain.MAX_BODY:
        raise ValidationFailed(f"a postmortem is at most {domain.MAX_BODY} characters", field="body")
    postmortem.body = body
    postmortem.updated_at, postmortem.updated_by_id = now, actor.user_id
    session.flush()
    return postmortem


def _user(session: Session, email: str, field: str) -> models.User:
    user = directory.user_by_email(session, email)
    if user is None or not user.active:
        raise ValidationFailed(f"unknown user {email!r}", field=field)
    return user


def add_reviewers(
    session: Session, actor: Actor, now: datetime, postmortem: models.Postmortem, emails: Sequence[str]
) -> models.Postmortem:
    _editable(postmortem, "reviewers")
    have = {r.user_id for r in postmortem.reviewers}
    for email in dict.fromkeys(emails):
        user = _user(session, email, "reviewers")
        if user.id not in have:
            postmortem.reviewers.append(models.PostmortemReviewer(user=user, added_at=now))
            have.add(user.id)
    postmortem.updated_at = now
    session.flush()
    return postmortem


def remove_reviewer(
    session: Session, actor: Actor, now: datetime, postmortem: models.Postmortem, email: str
) -> models.Postmortem:
    _editable(postmortem, "reviewers")
    user = _user(session, email, "reviewer")
    found = [r for r in postmortem.reviewers if r.user_id == user.id]
    if not found:
        raise NotFound(f"{email} does not review this postmortem", field="reviewer")
    postmortem.reviewers.remove(found[0])
    postmortem.updated_at = now
    session.flush()
    return postmortem


def _move(
    session: Session, actor: Actor, now: datetime, postmortem: models.Postmortem, target: PostmortemStatus, text: str
) -> None:
    reason = domain.transition_error(PostmortemStatus(postmortem.status), target)
    if reason is not None:
        raise InvalidTransition(f"{postmortem.incident.human_id}: {reason}", field="status")
    postmortem.status = target.value
    postmortem.updated_at = now
    timeline.add(session, postmortem.incident, actor, now, EntryKind.POSTMORTEM, text, {"event": target.value})


def submit(
    session: Session, actor: Actor, now: datetime, postmortem: models.Postmortem, reviewers: Sequence[str] = ()
) -> models.Postmortem:
    """Send for review (adding `reviewers`); approvals from an earlier round start over."""
    if reviewers:
        add_reviewers(session, actor, now, postmortem, reviewers)
    _move(session, actor, now, postmortem, PostmortemStatus.IN_REVIEW, "Postmortem sent for review")
    postmortem.submitted_at = now
    for reviewer in postmortem.reviewers:
        reviewer.approved_at = None
        _ask_to_review(session, now, postmortem, reviewer.user)
    session.flush()
    return postmortem


def _ask_to_review(session: Session, now: datetime, postmortem: models.Postmortem, user: models.User) -> None:
    """A notification per reachable contact method of a reviewer; the deliveries module sends them."""
    incident = postmortem.incident
    fields = [["Incident", f"{incident.human_id}: {incident.title}"]]
    if postmortem.due_at is not None:
        fields.append(["Due", f"{postmortem.due_at:%Y-%m-%d %H:%M} UTC"])
    payload: dict[str, object] = {
        "title": f"Postmortem to review: {incident.title}",
        "text": f"The postmortem of {incident.human_id} ({incident.severity}) is waiting for your review.",
        "fields": fields,
        "incident": incident.human_id,
    }
    at = int(now.timestamp())
    for method in notifications.reachable_methods(session, user.id):
        key = f"postmortem-review:{postmortem.id}:{at}:{user.id}:{method.id}"
        if session.scalar(select(models.Notification.id).where(models.Notification.idempotency_key == key)):
            continue  # sent for review again within the second: once is enough
        session.add(
            notifications.due_now(
                now, key, "reminder", method.kind, payload, user_id=user.id, contact_method_id=method.id
            )
        )


def return_to_draft(session: Session, actor: Actor, now: datetime, postmortem: models.Postmortem) -> models.Postmortem:
    _move(session, actor, now, postmortem, PostmortemStatus.DRAFT, "Postmortem back to draft")
    session.flush()
    return postmortem


def approve(session: Session, actor: Actor, now: datetime, postmortem: models.Postmortem) -> models.Postmortem:
    if postmortem.status != PostmortemStatus.IN_REVIEW:
        raise InvalidTransition("only a postmortem in review can be approved", field="status")
    mine = [r for r in postmortem.reviewers if r.user_id is not None and r.user_id == actor.user_id]
    if not mine:
        raise Conflict("you are not a reviewer of this postmortem", field="reviewer")
    mine[0].approved_at = now
    session.flush()
    return postmortem


def publish(
    session: Session,
    actor: Actor,
    now: datetime,
    postmortem: models.Postmortem,
    *,
    status_page: bool = False,
    summary: str | None = None,
) -> models.Postmortem:
    """Publish; with `status_page`, a summary (given, or the body's Summary section) goes out
    as a public update of the incident. Never for a drill: it must not reach customers."""
    incident = postmortem.incident
    text = ""
    if status_page:
        if incident.drill:
            raise Conflict(
                f"{incident.human_id} is a drill: nothing of it goes to the status page", field="status_page"
            )
        text = (summary or domain.section(postmortem.body, "Summary")).strip()
        if not text:
            raise ValidationFailed("give a summary: the postmortem has no Summary section", field="summary")
        if len(text) > MAX_SUMMARY:
            raise ValidationFailed(f"a summary is at most {MAX_SUMMARY} characters", field="summary")
    _move(session, actor, now, postmortem, PostmortemStatus.PUBLISHED, "Postmortem published")
    postmortem.published_at, postmortem.published_by_id = now, actor.user_id
    if text:
        postmortem.public_summary = text
        incidents.post_update(session, actor, now, incident, f"Postmortem summary: {text}", public=True)
    session.flush()
    return postmortem


def export_name(postmortem: models.Postmortem) -> str:
    incident = postmortem.incident
    return domain.export_name(incident.declared_at, incident.title)


def export(session: Session, postmortem: models.Postmortem) -> str:
    """The Markdown export: the body, then the incident's action items as they stand."""
    items = repo.action_items_of(session, postmortem.incident_id)
    rows = [
        (
            item.priority,
            item.title,
            item.owner.name if item.owner is not None else "—",
            f"{item.due_at:%Y-%m-%d}",
            ActionItemStatus(item.status).value.replace("_", " "),
        )
        for item in items
    ]
    return postmortem.body.rstrip() + "\n\n" + domain.action_items_table(rows)
