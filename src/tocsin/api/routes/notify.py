"""Notifications: who was paged when, and test notifications to check a user's contact methods.

`POST /users/{email}/notify-test` only plans the messages; the engine's
deliveries module sends them. `tocsin notify test` polls
`GET /notifications?ids=…` until each is sent or failed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tocsin.api.deps import CurrentClock, DbSession, Reader, Writer
from tocsin.errors import ValidationFailed
from tocsin.services import incidents, notifications

router = APIRouter(prefix="/api/v1", tags=["notifications"])

_MAX_IDS = 100


class NotificationOut(BaseModel):
    id: int
    kind: str
    user: str | None
    contact_method: str | None
    channel: str
    step: str
    status: str
    attempts: int
    error: str
    due_at: datetime
    sent_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, view: notifications.View) -> NotificationOut:
        row = view.notification
        return cls(
            id=row.id,
            kind=row.kind,
            user=view.user,
            contact_method=view.contact_method,
            channel=row.channel,
            step=row.step,
            status=row.status,
            attempts=row.attempts,
            error=row.last_error,
            due_at=row.due_at,
            sent_at=row.sent_at,
            created_at=row.created_at,
        )


class TestNotificationsOut(BaseModel):
    ids: list[int]
    notifications: list[NotificationOut]


@router.post("/users/{email}/notify-test", status_code=201, response_model=TestNotificationsOut)
def notify_test(email: str, actor: Writer, session: DbSession, clock: CurrentClock) -> TestNotificationsOut:
    made = notifications.send_test_to(session, actor, clock.now(), email)
    session.commit()
    out = [NotificationOut.of(view) for view in notifications.views(session, made)]
    return TestNotificationsOut(ids=[n.id for n in out], notifications=out)


def _ids(raw: str) -> list[int]:
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts or not all(part.isascii() and part.isdigit() and len(part) <= 18 for part in parts):
        raise ValidationFailed("a comma-separated list of notification ids, e.g. 12,13", field="ids")
    if len(parts) > _MAX_IDS:
        raise ValidationFailed(f"at most {_MAX_IDS} ids at once", field="ids")
    return [int(part) for part in parts]


@router.get("/notifications", response_model=list[NotificationOut])
def list_notifications(
    ids: Annotated[str, Query(description="Comma-separated notification ids")], _actor: Reader, session: DbSession
) -> list[NotificationOut]:
    rows = notifications.by_ids(session, _ids(ids))
    return [NotificationOut.of(view) for view in notifications.views(session, rows)]


@router.get("/incidents/{ref}/notifications", response_model=list[NotificationOut])
def incident_notifications(ref: str, _actor: Reader, session: DbSession) -> list[NotificationOut]:
    incident = incidents.get(session, ref)
    rows = notifications.for_incident(session, incident.id)
    return [NotificationOut.of(view) for view in notifications.views(session, rows)]
