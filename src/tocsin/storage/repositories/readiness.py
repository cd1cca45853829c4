"""Read queries for the readiness audit (domain.readiness): what is set up, and what has been
heard from lately. Each is one query over configuration tables (small) or one grouped
query over a signal table, bounded by its index on the time column."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from tocsin.domain import channel_routing
from tocsin.storage.models import (
    ActionItem,
    ChannelRoute,
    Check,
    ContactMethod,
    CrashGroup,
    CrashSession,
    CrashSkippedItem,
    EscalationLevel,
    EscalationPolicy,
    GithubDelivery,
    Heartbeat,
    Incident,
    IncidentService,
    Integration,
    Postmortem,
    Schedule,
    Service,
    Team,
    User,
)


def services_in_scope(session: Session, team_key: str | None) -> Sequence[Service]:
    """The live (not archived) services, of one team or of all."""
    query = select(Service).where(Service.archived_at.is_(None)).order_by(Service.key)
    if team_key is not None:
        query = query.join(Team, Team.id == Service.team_id).where(Team.key == team_key)
    return session.scalars(query).all()


def policy_levels(session: Session, policy_ids: Collection[int]) -> dict[int, list[list[dict[str, str]]]]:
    """Each policy's levels' targets, in order."""
    found: dict[int, list[list[dict[str, str]]]] = {policy_id: [] for policy_id in policy_ids}
    if not policy_ids:
        return found
    rows = session.execute(
        select(EscalationLevel.policy_id, EscalationLevel.targets)
        .join(EscalationPolicy, EscalationPolicy.id == EscalationLevel.policy_id)
        .where(EscalationLevel.policy_id.in_(set(policy_ids)))
        .order_by(EscalationLevel.policy_id, EscalationLevel.position)
    )
    for policy_id, targets in rows:
        found[policy_id].append(list(targets or []))
    return found


def active_checks(session: Session, service_ids: Collection[int]) -> dict[int, int]:
    if not service_ids:
        return {}
    rows = session.execute(
        select(Check.service_id, func.count())
        .where(Check.service_id.in_(set(service_ids)), Check.status != "paused")
        .group_by(Check.service_id)
    )
    return {service_id: int(count) for service_id, count in rows}


def channel_routes(session: Session, service_ids: Collection[int]) -> list[channel_routing.Route]:
    """The routes that can hear about these services: theirs and the ones for every service."""
    rows = session.scalars(
        select(ChannelRoute)
        .where(or_(ChannelRoute.service_id.is_(None), ChannelRoute.service_id.in_(set(service_ids))))
        .order_by(ChannelRoute.channel_id, ChannelRoute.position, ChannelRoute.id)
    )
    return [
        channel_routing.Route(row.channel_id, tuple(row.events or ()), row.service_id, row.min_severity) for row in rows
    ]


def integrations(session: Session, service_ids: Collection[int], kind: str) -> list[tuple[Integration, str]]:
    """Enabled integrations of one kind on these services, with the service's key."""
    if not service_ids:
        return []
    rows = session.execute(
        select(Integration, Service.key)
        .join(Service, Service.id == Integration.service_id)
        .where(
            Integration.kind == kind, Integration.disabled_at.is_(None), Integration.service_id.in_(set(service_ids))
        )
        .order_by(Service.key, Integration.name)
    )
    return [(integration, key) for integration, key in rows]


def _latest(
    session: Session, column: Any, integration_column: Any, ids: Collection[int], since: datetime
) -> dict[int, datetime]:
    rows = session.execute(
        select(integration_column, func.max(column))
        .where(integration_column.in_(set(ids)), column >= since)
        .group_by(integration_column)
    )
    return {integration_id: at for integration_id, at in rows if at is not None}


def github_last_delivery(session: Session, integration_ids: Collection[int], since: datetime) -> dict[int, datetime]:
    """The newest webhook delivery of each integration at or after `since` (older ones are pruned anyway)."""
    if not integration_ids:
        return {}
    return _latest(session, GithubDelivery.received_at, GithubDelivery.integration_id, integration_ids, since)


def sentry_last_heard(session: Session, integration_ids: Collection[int], since: datetime) -> dict[int, datetime]:
    """When each Sentry integration last sent anything at or after `since`: a crash, release-health
    sessions, or an envelope item Tocsin skips (a quiet, healthy app still sends sessions)."""
    if not integration_ids:
        return {}
    latest: dict[int, datetime] = {}
    for column, owner in (
        (CrashGroup.last_seen, CrashGroup.integration_id),
        (CrashSession.hour, CrashSession.integration_id),
        (CrashSkippedItem.last_at, CrashSkippedItem.integration_id),
    ):
        for integration_id, at in _latest(session, column, owner, integration_ids, since).items():
            latest[integration_id] = max(at, latest.get(integration_id, at))
    return latest


def heartbeats(session: Session, service_ids: Collection[int]) -> list[tuple[str, str]]:
    if not service_ids:
        return []
    rows = session.execute(
        select(Heartbeat.name, Heartbeat.status)
        .where(Heartbeat.service_id.in_(set(service_ids)))
        .order_by(Heartbeat.name)
    )
    return [(name, status) for name, status in rows]


def schedules(session: Session, keys: Collection[str]) -> Sequence[Schedule]:
    if not keys:
        return []
    return session.scalars(select(Schedule).where(Schedule.key.in_(set(keys))).order_by(Schedule.key)).all()


def verified_users(session: Session, emails: Collection[str]) -> set[str]:
    """Which of these people have at least one verified contact method."""
    if not emails:
        return set()
    rows = session.scalars(
        select(User.email)
        .join(ContactMethod, ContactMethod.user_id == User.id)
        .where(User.email.in_(set(emails)), ContactMethod.verified.is_(True))
        .distinct()
    )
    return set(rows)


def team_members(session: Session, team_keys: Collection[str]) -> set[str]:
    if not team_keys:
        return set()
    team = session.scalars(select(Team).where(Team.key.in_(set(team_keys)))).all()
    return {member.user.email for one in team for member in one.members if member.user.active}


def _of_services(service_ids: Collection[int] | None) -> list[ColumnElement[bool]]:
    """Not drills, and (for a team's audit) incidents of these services."""
    where: list[ColumnElement[bool]] = [Incident.drill.is_(False)]
    if service_ids is not None:
        where.append(
            Incident.id.in_(select(IncidentService.incident_id).where(IncidentService.service_id.in_(set(service_ids))))
        )
    return where


def _sum(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def postmortem_deadlines(
    session: Session, service_ids: Collection[int] | None, since: datetime, now: datetime
) -> tuple[int, int, int]:
    """Of the postmortems due in [since, now]: (published by the due date, published after it, unpublished)."""
    row = session.execute(
        select(
            _sum(Postmortem.published_at <= Postmortem.due_at),
            _sum(Postmortem.published_at > Postmortem.due_at),
            _sum(Postmortem.published_at.is_(None)),
        )
        .join(Incident, Incident.id == Postmortem.incident_id)
        .where(Postmortem.due_at >= since, Postmortem.due_at <= now, *_of_services(service_ids))
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def action_item_deadlines(
    session: Session, service_ids: Collection[int] | None, since: datetime, now: datetime
) -> tuple[int, int, int]:
    """Of the action items due in [since, now], won't-do left out: (done by the due date, done
    after it, still open)."""
    done = ActionItem.status == "done"
    row = session.execute(
        select(
            _sum(done & (ActionItem.completed_at <= ActionItem.due_at)),
            _sum(done & (ActionItem.completed_at > ActionItem.due_at)),
            _sum(ActionItem.status.in_(("open", "in_progress"))),
        )
        .join(Incident, Incident.id == ActionItem.incident_id)
        .where(ActionItem.due_at >= since, ActionItem.due_at <= now, *_of_services(service_ids))
    ).one()
    return int(row[0]), int(row[1]), int(row[2])
