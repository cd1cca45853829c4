"""Postmortems: drafted on resolve from the timeline, reviewed, published, exported."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.domain import postmortems as domain
from tocsin.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from tocsin.services import action_items, contacts, incidents, postmortem_drafts, postmortems
from tocsin.storage import models
from tocsin.storage.repositories import incidents as incidents_repo


def respond(session: Session, personas: Personas, clock: FrozenClock, severity: str = "P1") -> models.Incident:
    """A declared incident worked to resolution, with alerts' noise on its timeline."""
    bob, alice = personas.bob.actor, personas.alice.actor
    incident = incidents.declare(
        session, bob, clock.now(), title="Checkout 500s", severity=severity, services=["api"], impact="No payments"
    )
    incidents.assign_role(session, bob, clock.now(), incident, "commander", personas.alice.email)
    clock.advance(timedelta(minutes=3))
    incidents.change_status(session, alice, clock.now(), incident, "investigating")
    session.add(
        models.TimelineEntry(
            incident_id=incident.id, kind="alert", at=clock.now(), actor_id=None, actor_name="engine",
            summary="Alert attached: HighErrorRate", data={},
        )
    )  # fmt: skip
    clock.advance(timedelta(minutes=10))
    incidents.add_note(session, bob, clock.now(), incident, "Deploy 4711 | rolled back")
    incidents.post_update(session, alice, clock.now(), incident, "Rolled back the deploy; errors dropping")
    clock.advance(timedelta(minutes=20))
    incidents.change_status(session, alice, clock.now(), incident, "resolved", "Rolled back deploy 4711")
    session.commit()
    return incident


def test_resolving_a_declared_p1_drafts_a_postmortem_whose_timeline_is_the_incidents(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident = respond(session, personas, clock)
    postmortem = postmortems.get(session, incident.human_id)
    assert postmortem.status == "draft"
    assert postmortem.due_at == clock.now() + timedelta(days=2)

    table = postmortem.body.split("## Timeline", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| 20")]
    expected = [
        f"| {e.at:%Y-%m-%d %H:%M:%S} | {e.actor_name} | {domain.table_cell(e.summary)} |"
        for e in incidents_repo.timeline(session, incident.id)
        if e.kind not in ("alert", "postmortem")
    ]
    assert rows == expected
    assert len(rows) == 6  # declared, commander, investigating, note, update, resolved — not the alert
    assert "Deploy 4711 \\| rolled back" in postmortem.body
    for heading in ("Summary", "Impact", "Duration", "Root cause and contributing factors", "Resolution",
                    "What went well", "What could be improved", "Lessons"):  # fmt: skip
        assert f"## {heading}" in postmortem.body
    assert "No payments" in domain.section(postmortem.body, "Impact")
    assert domain.section(postmortem.body, "Resolution") == "Rolled back deploy 4711"
    assert "33 min" in domain.section(postmortem.body, "Summary")
    assert "Commander: Alice Admin" in postmortem.body
    assert (
        incidents_repo.timeline(session, incident.id)[-1].summary
        == "Status investigating → resolved: Rolled back deploy 4711"
    )


def test_p2_is_due_in_a_week_and_p3_gets_no_postmortem(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    p2 = respond(session, personas, clock, "P2")
    assert postmortems.get(session, p2.human_id).due_at == clock.now() + timedelta(days=7)
    p3 = respond(session, personas, clock, "P3")
    with pytest.raises(NotFound):
        postmortems.get(session, p3.human_id)
    # Asked for by hand, a P3 gets one, due never.
    made = postmortem_drafts.create(session, personas.bob.actor, clock.now(), p3)
    assert made.due_at is None


def test_a_canceled_incident_gets_no_postmortem(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = incidents.declare(session, personas.bob.actor, clock.now(), title="False alarm", severity="P0")
    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "canceled")
    session.commit()
    with pytest.raises(NotFound):
        postmortems.get(session, incident.human_id)


def test_a_reopened_incident_keeps_its_postmortem(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = respond(session, personas, clock)
    postmortem = postmortems.get(session, incident.human_id)
    postmortems.edit(session, personas.bob.actor, clock.now(), postmortem, "# Our words\n")
    clock.advance(timedelta(hours=1))
    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "investigating")
    clock.advance(timedelta(hours=1))
    incidents.change_status(session, personas.bob.actor, clock.now(), incident, "resolved")
    session.commit()
    again = postmortems.get(session, incident.human_id)
    assert again.id == postmortem.id
    assert again.body == "# Our words\n"


def test_a_teams_template_drafts_and_a_broken_one_is_refused_naming_the_line(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    admin = personas.alice.actor
    with pytest.raises(ValidationFailed) as refused:
        postmortem_drafts.save_template(session, admin, clock.now(), "# {{ title }}\n\n{% for x in timeline %}\n")
    assert refused.value.field == "body"
    assert "line" in refused.value.message
    postmortem_drafts.save_template(
        session, admin, clock.now(), "# PM {{ incident_id }}: {{ title }} ({{ duration }})\n"
    )
    session.commit()
    assert postmortem_drafts.template_source(session)[1] is True
    incident = respond(session, personas, clock)
    assert postmortems.get(session, incident.human_id).body == f"# PM {incident.human_id}: Checkout 500s (33 min)\n"
    assert postmortem_drafts.reset_template(session, admin, clock.now()) is True
    assert postmortem_drafts.template_source(session) == (domain.DEFAULT_TEMPLATE, False)


def test_a_template_naming_something_unknown_still_drafts_from_the_default(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    postmortem_drafts.save_template(session, personas.alice.actor, clock.now(), "{{ root_cause }}")
    incident = respond(session, personas, clock)
    body = postmortems.get(session, incident.human_id).body
    assert body.startswith("<!-- the postmortem template cannot be rendered")
    assert "## Timeline" in body


def test_review_and_publish_record_who_and_when(session: Session, personas: Personas, clock: FrozenClock) -> None:
    incident = respond(session, personas, clock)
    postmortem = postmortems.get(session, incident.human_id)
    bob, alice = personas.bob.actor, personas.alice.actor
    with pytest.raises(InvalidTransition):
        postmortems.publish(session, bob, clock.now(), postmortem)
    contacts.add_contact_method(
        session, alice, clock.now(), personas.alice.email, name="chat", kind="discord",
        address="https://discord.com/api/webhooks/1/alice", verified=True,
    )  # fmt: skip
    contacts.add_rule(session, alice, clock.now(), personas.alice.email, contact_method="chat")
    postmortems.submit(session, bob, clock.now(), postmortem, [personas.alice.email])
    assert [r.user.email for r in postmortem.reviewers] == [personas.alice.email]
    session.flush()
    [asked] = session.scalars(
        select(models.Notification).where(models.Notification.idempotency_key.startswith("postmortem-review:"))
    )
    assert (asked.user_id, asked.channel, asked.status) == (alice.user_id, "discord", "pending")
    assert asked.payload["title"] == "Postmortem to review: Checkout 500s"
    with pytest.raises(Conflict):
        postmortems.approve(session, bob, clock.now(), postmortem)
    postmortems.approve(session, alice, clock.now(), postmortem)
    assert postmortem.reviewers[0].approved_at == clock.now()
    postmortems.return_to_draft(session, alice, clock.now(), postmortem)
    postmortems.edit(session, bob, clock.now(), postmortem, postmortem.body + "\nMore.\n")
    postmortems.submit(session, bob, clock.now(), postmortem)
    assert postmortem.reviewers[0].approved_at is None  # a new round
    clock.advance(timedelta(hours=5))
    postmortems.publish(session, alice, clock.now(), postmortem)
    session.commit()
    assert (postmortem.status, postmortem.published_at, postmortem.published_by_id) == (
        "published",
        clock.now(),
        alice.user_id,
    )
    with pytest.raises(Conflict):
        postmortems.edit(session, bob, clock.now(), postmortem, "rewritten")
    assert postmortem.public_summary == ""


def test_publishing_with_a_summary_posts_a_public_update_but_never_for_a_drill(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident = respond(session, personas, clock)
    postmortem = postmortems.get(session, incident.human_id)
    postmortems.submit(session, personas.bob.actor, clock.now(), postmortem)
    postmortems.publish(session, personas.bob.actor, clock.now(), postmortem, status_page=True)
    session.commit()
    [update] = [e for e in incidents_repo.timeline(session, incident.id) if e.kind == "update" and e.data["public"]]
    assert update.summary.startswith('Postmortem summary: P1 incident "Checkout 500s"')
    assert postmortem.public_summary == domain.section(postmortem.body, "Summary")

    drill = incidents.declare(session, personas.bob.actor, clock.now(), title="Practice", severity="P1", drill=True)
    incidents.change_status(session, personas.bob.actor, clock.now(), drill, "resolved")
    practice = postmortems.get(session, drill.human_id)
    postmortems.submit(session, personas.bob.actor, clock.now(), practice)
    with pytest.raises(Conflict) as refused:
        postmortems.publish(session, personas.bob.actor, clock.now(), practice, status_page=True, summary="x")
    assert refused.value.field == "status_page"
    assert not [e for e in incidents_repo.timeline(session, drill.id) if e.kind == "update"]


def test_the_export_is_named_by_day_and_title_and_lists_the_action_items(
    session: Session, personas: Personas, clock: FrozenClock
) -> None:
    incident = respond(session, personas, clock)
    action_items.add(
        session, personas.bob.actor, clock.now(), incident.human_id, title="Alert on 5xx rate", priority="P1",
        owner=personas.bob.email,
    )  # fmt: skip
    postmortem = postmortems.get(session, incident.human_id)
    assert postmortems.export_name(postmortem) == "2026-11-23-checkout-500s.md"
    text = postmortems.export(session, postmortem)
    assert text.startswith("# Postmortem: Checkout 500s")
    assert "| P1 | Alert on 5xx rate | Bob Responder | 2026-11-30 | open |" in text
    # An edited export sent back keeps the text, not the table: the next export has it once.
    postmortems.edit(session, personas.bob.actor, clock.now(), postmortem, text.replace("## Lessons", "## Learned"))
    assert "Alert on 5xx rate" not in postmortem.body
    again = postmortems.export(session, postmortem)
    assert again.count("## Action items") == 1
    assert "## Learned" in again


def test_slugs_and_durations() -> None:
    assert domain.slug("Checkout 500s!") == "checkout-500s"
    assert domain.slug("Zahlungsausfall: Öl & Gebühren") == "zahlungsausfall-ol-gebuhren"
    assert domain.slug("!!!") == "incident"
    assert domain.duration_text(timedelta(hours=2, minutes=5)) == "2 h 5 min"
    assert domain.duration_text(timedelta(days=3, hours=4)) == "3 d 4 h"
    assert domain.duration_text(timedelta(seconds=45)) == "45 s"
