"""Acknowledge links: the link in a page that acknowledges the incident without logging in.

The token carries 256 random bits and is the whole credential, so only its
SHA-256 is stored (like API tokens). A link works once, for the user it was
made for, until it expires. Reading a link (`inspect`) changes nothing: mail
scanners fetch every link in a message, and a fetch must not acknowledge.

    Conflict
    ├── LinkUsed        the link was redeemed already
    └── LinkExpired     the link is past its expiry
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tocsin.domain.access import Scope
from tocsin.domain.incidents import IncidentStatus
from tocsin.errors import Conflict, NotFound
from tocsin.services.actor import Actor
from tocsin.storage import models

DEFAULT_TTL = timedelta(hours=24)


class LinkUsed(Conflict):
    title = "Link already used"


class LinkExpired(Conflict):
    title = "Link expired"


@dataclass(frozen=True)
class Link:
    incident: models.Incident
    user: models.User
    expires_at: datetime


@dataclass(frozen=True)
class Redeemed:
    """`acknowledged` is False when someone had acknowledged the incident before the click."""

    incident: models.Incident
    user: models.User
    acknowledged: bool


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    session: Session, incident: models.Incident, user: models.User, now: datetime, ttl: timedelta = DEFAULT_TTL
) -> str:
    """A new link for `user` to acknowledge `incident`; the token is returned and not kept."""
    token = new_token()
    store(session, token, incident, user, now, ttl)
    return token


def store(
    session: Session, token: str, incident: models.Incident, user: models.User, now: datetime, ttl: timedelta
) -> models.AckLink:
    """Keep a link for a token made earlier: the escalation puts the token into a page before it
    knows whether the page is new (a replayed step inserts no page, and then no link either)."""
    link = models.AckLink(
        token_hash=hash_token(token), incident_id=incident.id, user_id=user.id, expires_at=now + ttl, created_at=now
    )
    session.add(link)
    session.flush()
    return link


def inspect(session: Session, token: str, now: datetime) -> Link:
    """What a link would do; raises like `redeem` would, and changes nothing."""
    row = _row(session, token)
    _check(row, now)
    return _link(session, row)


def redeem(session: Session, token: str, now: datetime) -> Redeemed:
    """Acknowledge the link's incident as its user, through the incidents' own acknowledge path.

    An incident someone else acknowledged meanwhile is not an error for the person who
    clicked: there is nothing left to do, and they are told who did it. A reopened incident
    (past `acknowledged`, paging again) has its paging stopped as that user.
    """
    # incidents → escalations → ack_links: imported here so that the module graph stays acyclic.
    from tocsin.services import escalations, incidents

    row = _row(session, token)
    _check(row, now)
    # The claim: of two clicks at once, the second updates nothing and is told the link is used.
    claimed = session.execute(
        update(models.AckLink)
        .where(models.AckLink.id == row.id, models.AckLink.used_at.is_(None), models.AckLink.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkUsed("this acknowledge link was used already", field="token")
    link = _link(session, row)
    actor = Actor(user_id=link.user.id, name=link.user.email, scope=Scope.WRITE)
    incident = link.incident
    if incident.status == IncidentStatus.TRIGGERED:
        incidents.change_status(session, actor, now, incident, IncidentStatus.ACKNOWLEDGED.value, "via link")
        return Redeemed(incident, link.user, acknowledged=True)
    escalation = escalations.for_incident(session, incident.id)
    if escalation is not None and escalation.status == escalations.ACTIVE:
        escalations.stop(session, incident, now, escalations.ACKNOWLEDGED, actor)
        session.flush()
        return Redeemed(incident, link.user, acknowledged=True)
    return Redeemed(incident, link.user, acknowledged=False)


def _row(session: Session, token: str) -> models.AckLink:
    row = session.scalar(
        select(models.AckLink)
        .where(models.AckLink.token_hash == hash_token(token))
        .execution_options(populate_existing=True)
    )
    if row is None:
        raise NotFound("no such acknowledge link", field="token")
    return row


def _check(row: models.AckLink, now: datetime) -> None:
    if row.used_at is not None:
        raise LinkUsed(f"this acknowledge link was used at {row.used_at:%Y-%m-%d %H:%M} UTC", field="token")
    if row.expires_at <= now:
        raise LinkExpired(f"this acknowledge link expired at {row.expires_at:%Y-%m-%d %H:%M} UTC", field="token")


def _link(session: Session, row: models.AckLink) -> Link:
    incident = session.get(models.Incident, row.incident_id)
    user = session.get(models.User, row.user_id) if row.user_id is not None else None
    if incident is None or user is None or not user.active:
        # The user was deactivated after the page went out: the link is theirs, nobody else's.
        raise NotFound("no such acknowledge link", field="token")
    return Link(incident, user, row.expires_at)
