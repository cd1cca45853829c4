"""GitHub deliveries: CI runs counted towards an alert, deploys and releases recorded as changes,
development events kept for the channels.

A workflow failing on a branch (`domain.ci`) triggers the alert
`github:ci:<repository>:<workflow>:<branch>` through the integration's own
ingestion, so it is routed, grouped and paged like any alert; the next success
of that workflow on that branch resolves it. A deploy that fails triggers
`github:deploy:<repository>:<environment>` at once; the next successful deploy
to that environment resolves it. Everything a delivery does is one
transaction with the record of its delivery id, so a redelivery does nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tocsin.domain import ci
from tocsin.domain.alerts import MAX_DEDUP_KEY, Action, Link, Signal
from tocsin.domain.channel_routing import EventType
from tocsin.integrations import github
from tocsin.services import alerts, changes
from tocsin.services.integrations import IntegrationRef
from tocsin.storage.repositories import github as repo

KEEP_DELIVERIES = timedelta(days=7)
KEEP_DEV_EVENTS = timedelta(days=30)
# A workflow not run for this long (a merged feature branch) is forgotten, unless its alert fires.
KEEP_WORKFLOWS = timedelta(days=30)
SOURCE = "github"


@dataclass
class Received:
    duplicate: bool = False
    alerts: list[alerts.Outcome] = field(default_factory=list)
    changes: int = 0
    dev_events: int = 0
    failing: str | None = None  # why the run's workflow counts as failing

    @property
    def opened(self) -> bool:
        return any(outcome.opened for outcome in self.alerts)


def receive(
    session: Session, now: datetime, integration: IntegrationRef, delivery_id: str, delivery: github.Delivery
) -> Received:
    """Act on a delivery once; flushes, the caller commits."""
    if not repo.claim_delivery(session, integration.id, delivery_id, delivery.event, now):
        return Received(duplicate=True)
    received = Received()
    if delivery.run is not None and delivery.run.counts:
        _run(session, now, integration, delivery.run, received)
    if delivery.deploy is not None:
        _deploy(session, now, integration, delivery.deploy, received)
    if delivery.release is not None:
        _release(session, now, integration, delivery.release, received)
    if delivery.notice is not None:
        _dev_event(session, now, integration, delivery.notice, received)
    # Pruning is a range delete on an indexed time: cheap enough for every delivery, which are few.
    repo.prune_deliveries(session, now - KEEP_DELIVERIES)
    repo.prune_dev_events(session, now - KEEP_DEV_EVENTS)
    repo.prune_workflows(session, now - KEEP_WORKFLOWS)
    session.flush()
    return received


def dedup_key(*parts: str) -> str:
    key = ":".join(("github", *parts))
    if len(key) <= MAX_DEDUP_KEY:
        return key
    # A branch name can be long; the key must stay the same for the same parts.
    return key[: MAX_DEDUP_KEY - 33] + ":" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _ingest(session: Session, now: datetime, integration: IntegrationRef, signal: Signal, received: Received) -> None:
    received.alerts += alerts.ingest(session, now, integration, [signal])


# ---- CI runs -------------------------------------------------------------------------


def _run(session: Session, now: datetime, integration: IntegrationRef, run: github.Run, received: Received) -> None:
    thresholds = ci.thresholds_of(integration.settings)
    workflow = repo.locked_workflow(
        session, integration.id, run.repository[:200], run.workflow[:200], run.branch[:255], now
    )
    if not repo.add_run(session, workflow.id, run.run_key[:100], run.conclusion[:30], run.failed, run.url[:2000], now):
        return  # the same run again under another delivery id
    workflow.last_run_at = now
    # The newest runs for the streak, the newest failures for the window: all either rule reads.
    newest = {row.id: row for row in repo.recent_runs(session, workflow.id, max(thresholds.in_a_row, 1))}
    newest.update((row.id, row) for row in repo.recent_failures(session, workflow.id, thresholds.in_window))
    kept = sorted(newest.values(), key=lambda row: (row.at, row.id), reverse=True)
    repo.prune_runs(session, workflow.id, list(newest))
    key = dedup_key("ci", run.repository, run.workflow, run.branch)
    where = f"{run.workflow} on {run.repository}@{run.branch}" if run.branch else f"{run.workflow} on {run.repository}"
    labels = {"repository": run.repository, "workflow": run.workflow, "branch": run.branch}
    links = (Link(run.url, "the run"),) if run.url else ()
    if run.failed:
        reason = ci.failing([ci.Run(row.at, row.failed) for row in kept], now, thresholds)
        received.failing = reason
        if reason is not None:
            workflow.alerting = True
            signal = Signal(
                action=Action.TRIGGER,
                dedup_key=key,
                summary=f"CI failing: {where} ({reason})",
                source=SOURCE,
                severity="error",
                labels=labels,
                links=links,
                details={"run": run.run_key, "conclusion": run.conclusion, "commit": run.sha, "by": run.actor},
            )
            _ingest(session, now, integration, signal, received)
    elif workflow.alerting:
        workflow.alerting = False
        _ingest(session, now, integration, Signal(action=Action.RESOLVE, dedup_key=key, source=SOURCE), received)
    event = "ci.failure" if run.failed else "ci.success"
    summary = f"{'Failed' if run.failed else 'Passed'}: {where}" + (f": {run.title}" if run.title else "")
    notice = github.Notice(
        event,
        summary,
        run.repository,
        run.actor,
        run.url,
        details={**labels, "conclusion": run.conclusion, "commit": run.sha, "failing": received.failing},
    )
    _dev_event(session, now, integration, notice, received)


# ---- deploys and releases ------------------------------------------------------------------


def _deploy(
    session: Session, now: datetime, integration: IntegrationRef, deploy: github.Deploy, received: Received
) -> None:
    status = changes.Status.FAILURE if deploy.failed else changes.Status.SUCCESS
    summary = deploy_summary(deploy)
    duration = None
    if deploy.started_at is not None and deploy.finished_at is not None and deploy.finished_at >= deploy.started_at:
        duration = int((deploy.finished_at - deploy.started_at).total_seconds())
    links = [{"href": deploy.url, "text": "the deploy"}] if deploy.url else []
    changes.record(
        session,
        now,
        service_id=integration.service_id,
        integration_id=integration.id,
        summary=summary,
        source=f"github:{deploy.repository}",
        occurred_at=deploy.finished_at,
        details={"repository": deploy.repository, "deployment": deploy.deployment_id, "state": deploy.state},
        links=links,
        version=deploy.ref,
        environment=deploy.environment,
        status=status.value,
        duration_s=duration,
        commit_sha=deploy.sha,
        author=deploy.author,
    )
    received.changes += 1
    _ingest(session, now, integration, deploy_signal(deploy), received)


def deploy_summary(deploy: github.Deploy) -> str:
    short = deploy.sha[:7]
    what = f"{deploy.repository}@{deploy.ref}" + (f" ({short})" if short and short != deploy.ref else "")
    verb = "failed" if deploy.failed else "succeeded"
    summary = f"Deploy of {what} to {deploy.environment or 'an environment'} {verb}"
    if deploy.description.strip():
        summary += f": {deploy.description.strip()[:300]}"
    return summary


def deploy_signal(deploy: github.Deploy) -> Signal:
    """The alert a deploy raises (it failed) or resolves (it succeeded)."""
    key = dedup_key("deploy", deploy.repository, deploy.environment)
    if not deploy.failed:
        # A resolve that finds no firing alert changes nothing.
        return Signal(action=Action.RESOLVE, dedup_key=key, source=SOURCE)
    return Signal(
        action=Action.TRIGGER,
        dedup_key=key,
        summary=deploy_summary(deploy),
        source=SOURCE,
        severity="error",
        labels={"repository": deploy.repository, "environment": deploy.environment},
        links=(Link(deploy.url, "the deploy"),) if deploy.url else (),
        details={"ref": deploy.ref, "commit": deploy.sha, "state": deploy.state, "by": deploy.author},
    )


def _release(
    session: Session, now: datetime, integration: IntegrationRef, release: github.Release, received: Received
) -> None:
    name = release.name if release.name == release.tag else f"{release.name} ({release.tag})"
    summary = f"Release {name} of {release.repository}" + (" (pre-release)" if release.prerelease else "")
    changes.record(
        session,
        now,
        service_id=integration.service_id,
        integration_id=integration.id,
        summary=summary,
        source=f"github:{release.repository}",
        occurred_at=release.published_at,
        details={"repository": release.repository, "prerelease": release.prerelease},
        links=[{"href": release.url, "text": "the release"}] if release.url else [],
        version=release.tag,
        status=changes.Status.SUCCESS.value,
        commit_sha=release.sha if len(release.sha) == 40 else "",
        author=release.author,
        event=EventType.RELEASE_PUBLISHED,
    )
    received.changes += 1


# ---- development events ---------------------------------------------------------------------


def _dev_event(
    session: Session, now: datetime, integration: IntegrationRef, notice: github.Notice, received: Received
) -> None:
    details: dict[str, Any] = dict(notice.details)
    repo.add_dev_event(
        session,
        integration_id=integration.id,
        service_id=integration.service_id,
        type=notice.type[:60],
        summary=notice.summary[:2000],
        repository=notice.repository[:200],
        actor=notice.actor[:200],
        url=notice.url[:2000],
        occurred_at=notice.occurred_at or now,
        received_at=now,
        details=details,
    )
    received.dev_events += 1
