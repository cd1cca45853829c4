"""The readiness audit (`tocsin audit`, `GET /api/v1/audit`): gathers the facts of a team's
setup (or everyone's) and scores them with domain.readiness. Reads only."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tocsin.domain import ci
from tocsin.domain import readiness as domain
from tocsin.domain import schedules as schedule_rules
from tocsin.domain.escalation import TargetKind
from tocsin.services import directory, runbooks
from tocsin.services.schedules import to_domain as schedule_to_domain
from tocsin.storage import models
from tocsin.storage.repositories import readiness as repo

# How far back postmortem and action-item deadlines are looked at.
LOOK_BACK = timedelta(days=90)


def _senders(
    rows: list[tuple[models.Integration, str]], heard: dict[int, datetime], *, github: bool = False
) -> list[domain.Sender]:
    senders: list[domain.Sender] = []
    for integration, service_key in rows:
        rule = False
        if github:
            thresholds = ci.thresholds_of(integration.settings or {})
            rule = thresholds.in_a_row > 0 or thresholds.in_window > 0
        senders.append(domain.Sender(integration.name, service_key, heard.get(integration.id), rule))
    return senders


def _runbook_coverage(session: Session, keys: set[str]) -> tuple[list[str], list[str]]:
    covered, uncovered = runbooks.coverage(session)
    return [k for k in covered if k in keys], [k for k in uncovered if k in keys]


def audit(session: Session, now: datetime, team_key: str | None = None) -> domain.Audit:
    if team_key is not None:
        directory.get_team(session, team_key)  # NotFound (404, field team) for a typo
    services = repo.services_in_scope(session, team_key)
    service_ids = [s.id for s in services]
    levels = repo.policy_levels(session, {s.escalation_policy_id for s in services if s.escalation_policy_id})
    checks = repo.active_checks(session, service_ids)
    facts = [
        domain.ServiceFacts(
            id=s.id,
            key=s.key,
            has_policy=s.escalation_policy_id is not None
            and any(targets for targets in levels.get(s.escalation_policy_id, [])),
            checks=checks.get(s.id, 0),
        )
        for s in services
    ]

    # Who gets paged: the schedules, users and teams the services' policies name.
    named: dict[TargetKind, set[str]] = {kind: set() for kind in TargetKind}
    for policy in levels.values():
        for targets in policy:
            for target in targets:
                if target.get("kind") in named:
                    named[TargetKind(target["kind"])].add(str(target.get("key", "")))
    end = now + domain.COVERAGE_AHEAD
    coverage: list[domain.ScheduleCoverage] = []
    on_call: set[str] = {email.lower() for email in named[TargetKind.USER]}
    for schedule in repo.schedules(session, named[TargetKind.SCHEDULE]):
        rules = schedule_to_domain(schedule)
        gaps = schedule_rules.gaps(rules, now, end)
        coverage.append(domain.ScheduleCoverage(schedule.key, [(g.start, g.end, g.description) for g in gaps]))
        on_call.update(shift.user.lower() for shift in schedule_rules.final_schedule(rules, now, end))
    on_call.update(email.lower() for email in repo.team_members(session, named[TargetKind.TEAM]))
    verified = {email.lower() for email in repo.verified_users(session, on_call)}
    people = [domain.Responder(email, email in verified) for email in sorted(on_call)]

    github_rows = repo.integrations(session, service_ids, "github")
    sentry_rows = repo.integrations(session, service_ids, "sentry")
    recent = now - domain.RECENT
    github = _senders(
        github_rows, repo.github_last_delivery(session, [i.id for i, _ in github_rows], recent), github=True
    )
    sentry = _senders(sentry_rows, repo.sentry_last_heard(session, [i.id for i, _ in sentry_rows], recent))
    scope = service_ids if team_key is not None else None
    beats = [domain.HeartbeatFacts(name, status) for name, status in repo.heartbeats(session, service_ids)]

    components = [
        domain.escalation(facts),
        domain.coverage(coverage, now),
        domain.reachable(people),
        domain.failure_notifications(facts, repo.channel_routes(session, service_ids), github, now),
        domain.health_checks(facts),
        domain.runbooks(*_runbook_coverage(session, {s.key for s in services})),
        domain.postmortems(domain.Deadlines(*repo.postmortem_deadlines(session, scope, now - LOOK_BACK, now))),
        domain.action_items(domain.Deadlines(*repo.action_item_deadlines(session, scope, now - LOOK_BACK, now))),
        domain.crash_reporting(sentry, now),
        domain.repeated_failures(github),
        domain.heartbeats(beats),
    ]
    return domain.audit(team_key, now, components)
