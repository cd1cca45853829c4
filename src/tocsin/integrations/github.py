"""GitHub repository and organization webhooks, turned into CI runs, deploys, releases and dev events.

A delivery names its event in `X-GitHub-Event` and itself in `X-GitHub-Delivery`
(kept on redelivery, so it is the idempotency key). With a secret on the hook,
`X-Hub-Signature-256` is `sha256=` and the hex HMAC-SHA256 of the raw body: it is
checked over the bytes as they came, before anything is parsed.

What each event becomes (see `parse`):

- `workflow_run` completed, and `check_suite` completed from an app other than
  GitHub Actions (whose suites are its workflow runs again), is a `Run`: counted
  towards the repeated-failure alert when it succeeded or failed; other
  conclusions (cancelled, skipped, neutral …) count neither way.
- `deployment_status` in a final state (success, failure, error) is a `Deploy`;
  pending, queued and in-progress statuses are not news.
- `release` published is a `Release`.
- `push`, `pull_request` (opened, closed, reopened, ready for review), `issues`
  (opened, closed, reopened) and a failed `workflow_job` are `Notice`s for the
  channels.
- `ping` is the hook saying hello.

Anything else, and the other actions of these events, parses to an empty `Delivery`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, ValidationError

from tocsin.integrations.errors import BadPayload, reject_nul

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
EVENTS = (
    "workflow_run",
    "workflow_job",
    "check_suite",
    "deployment_status",
    "push",
    "pull_request",
    "issues",
    "release",
    "ping",
)
FAILED = frozenset({"failure", "timed_out", "startup_failure"})
SUCCEEDED = frozenset({"success"})
DEPLOY_FAILED = frozenset({"failure", "error"})
DEPLOY_FINAL = frozenset({"success"}) | DEPLOY_FAILED
PULL_REQUEST_ACTIONS = frozenset({"opened", "closed", "reopened", "ready_for_review"})
# Labels, assignees, milestones and edits are the tracker's housekeeping, not news.
ISSUE_ACTIONS = frozenset({"opened", "closed", "reopened"})
# GitHub Actions reports each workflow run as a check suite too: counting both would count twice.
_ACTIONS_APP = "github-actions"
_MAX_DELIVERY_ID = 100


class BadSignature(Exception):
    """The delivery does not carry a valid signature for the integration's secret."""


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> None:
    if not signature:
        raise BadSignature(f"the delivery is not signed; the hook has a secret, so {SIGNATURE_HEADER} is required")
    scheme, _, digest = signature.strip().partition("=")
    if scheme.lower() != "sha256" or not digest:
        raise BadSignature(f"{SIGNATURE_HEADER} must be sha256=<hex digest>")
    if not hmac.compare_digest(sign(secret, body).encode(), f"sha256={digest.lower()}".encode()):
        raise BadSignature("the signature does not match the body and the integration's secret")


def delivery_problem(delivery_id: str | None) -> str | None:
    if not delivery_id or not delivery_id.strip():
        return f"{DELIVERY_HEADER} is missing: GitHub sends it with every delivery"
    if len(delivery_id) > _MAX_DELIVERY_ID or not delivery_id.isascii() or not delivery_id.isprintable():
        return f"{DELIVERY_HEADER} must be at most {_MAX_DELIVERY_ID} printable ASCII characters"
    return None


def json_body(body: bytes, content_type: str) -> bytes:
    """The JSON of a delivery: the body, or its `payload` field for a hook made with the form content type."""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return body
    try:
        values = parse_qs(body.decode("utf-8"), strict_parsing=True).get("payload")
    except (UnicodeDecodeError, ValueError):
        values = None
    if not values:
        raise BadPayload([("payload", "a form-encoded delivery needs a payload field holding the JSON")])
    return values[0].encode("utf-8")


# ---- what a delivery becomes --------------------------------------------------------


@dataclass(frozen=True)
class Run:
    repository: str
    workflow: str
    branch: str
    run_key: str  # run:<id>:<attempt>, or suite:<id>
    conclusion: str
    url: str
    sha: str = ""
    actor: str = ""
    title: str = ""

    @property
    def failed(self) -> bool:
        return self.conclusion in FAILED

    @property
    def counts(self) -> bool:
        return self.conclusion in FAILED or self.conclusion in SUCCEEDED


@dataclass(frozen=True)
class Deploy:
    repository: str
    environment: str
    state: str
    ref: str
    sha: str
    url: str
    author: str
    description: str
    started_at: datetime | None
    finished_at: datetime | None
    deployment_id: int

    @property
    def failed(self) -> bool:
        return self.state in DEPLOY_FAILED


@dataclass(frozen=True)
class Release:
    repository: str
    tag: str
    name: str
    url: str
    author: str
    sha: str
    published_at: datetime | None
    prerelease: bool


@dataclass(frozen=True)
class Notice:
    """A development event for the channels (`dev.push`, `dev.pull_request_opened`, `ci.job_failure`)."""

    type: str
    summary: str
    repository: str
    actor: str
    url: str
    occurred_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    event: str
    action: str = ""
    run: Run | None = None
    deploy: Deploy | None = None
    release: Release | None = None
    notice: Notice | None = None
    zen: str | None = None  # a ping's

    @property
    def known(self) -> bool:
        return self.event in EVENTS

    @property
    def empty(self) -> bool:
        return not (self.run or self.deploy or self.release or self.notice)


# ---- the payload shapes read (octokit/webhooks schemas); unknown keys are newer GitHubs ----


_M = TypeVar("_M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _User(_Model):
    login: str = ""


class _Repository(_Model):
    full_name: str
    html_url: str = ""


class _Common(_Model):
    action: str = ""
    repository: _Repository
    sender: _User | None = None


class _Workflow(_Model):
    name: str = ""
    path: str = ""


class _WorkflowRunBody(_Model):
    id: int
    name: str | None = None
    path: str = ""
    status: str | None = None
    conclusion: str | None = None
    head_branch: str | None = None
    head_sha: str = ""
    html_url: str = ""
    run_attempt: int = 1
    display_title: str = ""
    actor: _User | None = None


class _WorkflowRunEvent(_Common):
    workflow_run: _WorkflowRunBody
    workflow: _Workflow | None = None


class _Step(_Model):
    name: str = ""
    conclusion: str | None = None


class _WorkflowJobBody(_Model):
    id: int
    run_id: int
    name: str = ""
    workflow_name: str | None = None
    conclusion: str | None = None
    head_branch: str | None = None
    html_url: str = ""
    completed_at: datetime | None = None
    steps: list[_Step] = []


class _WorkflowJobEvent(_Common):
    workflow_job: _WorkflowJobBody


class _App(_Model):
    slug: str = ""
    name: str = ""


class _CheckSuiteBody(_Model):
    id: int
    head_branch: str | None = None
    head_sha: str = ""
    status: str | None = None
    conclusion: str | None = None
    app: _App | None = None


class _CheckSuiteEvent(_Common):
    check_suite: _CheckSuiteBody


class _DeploymentStatusBody(_Model):
    state: str
    environment: str | None = None
    description: str | None = None
    target_url: str | None = None
    log_url: str | None = None
    created_at: datetime | None = None
    creator: _User | None = None


class _DeploymentBody(_Model):
    id: int
    sha: str = ""
    ref: str = ""
    environment: str = ""
    created_at: datetime | None = None
    creator: _User | None = None


class _DeploymentStatusEvent(_Common):
    deployment_status: _DeploymentStatusBody
    deployment: _DeploymentBody


class _ReleaseBody(_Model):
    tag_name: str
    name: str | None = None
    html_url: str = ""
    target_commitish: str = ""
    published_at: datetime | None = None
    prerelease: bool = False
    author: _User | None = None


class _ReleaseEvent(_Common):
    release: _ReleaseBody


class _Commit(_Model):
    id: str = ""
    message: str = ""
    timestamp: datetime | None = None


class _Pusher(_Model):
    name: str = ""


class _PushEvent(_Common):
    ref: str
    after: str = ""
    compare: str = ""
    deleted: bool = False
    commits: list[_Commit] = []
    head_commit: _Commit | None = None
    pusher: _Pusher | None = None


class _Branch(_Model):
    ref: str = ""


class _PullRequestBody(_Model):
    number: int
    title: str = ""
    html_url: str = ""
    merged: bool | None = None
    draft: bool = False
    user: _User | None = None
    base: _Branch | None = None
    head: _Branch | None = None
    updated_at: datetime | None = None


class _PullRequestEvent(_Common):
    number: int | None = None
    pull_request: _PullRequestBody


class _Label(_Model):
    name: str = ""


class _IssueBody(_Model):
    number: int
    title: str = ""
    html_url: str = ""
    state_reason: str | None = None  # closed: completed / not_planned (newer GitHubs)
    user: _User | None = None
    labels: list[_Label] = []
    updated_at: datetime | None = None


class _IssuesEvent(_Common):
    issue: _IssueBody


class _PingEvent(_Model):
    zen: str = ""
    hook_id: int | None = None


def _login(*users: _User | None) -> str:
    return next((user.login for user in users if user is not None and user.login), "")


def _first_line(text: str, limit: int = 200) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _read(model: type[_M], data: Any) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadPayload.from_validation(exc) from None


def parse(event: str, body: bytes) -> Delivery:
    """Read a delivery's JSON; raises BadPayload naming the field when a known event lacks one."""
    reject_nul(body)
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadPayload([("", f"malformed JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise BadPayload([("", "a GitHub delivery is a JSON object")])
    reader = _READERS.get(event)
    if reader is None:
        return Delivery(event, str(data.get("action") or ""))
    return reader(data)


def _workflow_run(data: Any) -> Delivery:
    read = _read(_WorkflowRunEvent, data)
    run = read.workflow_run
    if read.action != "completed" or run.conclusion is None:
        return Delivery("workflow_run", read.action)
    workflow = (read.workflow.name if read.workflow else "") or run.name or run.path or str(run.id)
    return Delivery(
        "workflow_run",
        read.action,
        run=Run(
            repository=read.repository.full_name,
            workflow=workflow,
            branch=run.head_branch or "",
            run_key=f"run:{run.id}:{run.run_attempt}",
            conclusion=run.conclusion,
            url=run.html_url,
            sha=run.head_sha,
            actor=_login(run.actor, read.sender),
            title=run.display_title,
        ),
    )


def _workflow_job(data: Any) -> Delivery:
    read = _read(_WorkflowJobEvent, data)
    job = read.workflow_job
    if read.action != "completed" or job.conclusion not in FAILED:
        return Delivery("workflow_job", read.action)
    step = next((s.name for s in job.steps if s.conclusion in FAILED), "")
    where = f"{job.workflow_name} / {job.name}" if job.workflow_name else job.name
    summary = f"Job {where} failed" + (f" at step {step!r}" if step else "") + f" on {read.repository.full_name}"
    if job.head_branch:
        summary += f"@{job.head_branch}"
    return Delivery(
        "workflow_job",
        read.action,
        notice=Notice(
            "ci.job_failure",
            summary,
            read.repository.full_name,
            _login(read.sender),
            job.html_url,
            job.completed_at,
            {"job": job.name, "workflow": job.workflow_name or "", "step": step, "run_id": job.run_id},
        ),
    )


def _check_suite(data: Any) -> Delivery:
    read = _read(_CheckSuiteEvent, data)
    suite = read.check_suite
    app = suite.app or _App()
    if read.action != "completed" or suite.conclusion is None or app.slug == _ACTIONS_APP:
        return Delivery("check_suite", read.action)
    base = read.repository.html_url or f"https://github.com/{read.repository.full_name}"
    return Delivery(
        "check_suite",
        read.action,
        run=Run(
            repository=read.repository.full_name,
            workflow=app.name or app.slug or "checks",
            branch=suite.head_branch or "",
            run_key=f"suite:{suite.id}",
            conclusion=suite.conclusion,
            url=f"{base}/commit/{suite.head_sha}/checks" if suite.head_sha else base,
            sha=suite.head_sha,
            actor=_login(read.sender),
        ),
    )


def _deployment_status(data: Any) -> Delivery:
    read = _read(_DeploymentStatusEvent, data)
    status, deployment = read.deployment_status, read.deployment
    if status.state not in DEPLOY_FINAL:
        return Delivery("deployment_status", read.action)
    return Delivery(
        "deployment_status",
        read.action,
        deploy=Deploy(
            repository=read.repository.full_name,
            environment=status.environment or deployment.environment or "",
            state=status.state,
            ref=deployment.ref,
            sha=deployment.sha,
            url=status.target_url or status.log_url or "",
            author=_login(deployment.creator, status.creator, read.sender),
            description=status.description or "",
            started_at=deployment.created_at,
            finished_at=status.created_at,
            deployment_id=deployment.id,
        ),
    )


def _release(data: Any) -> Delivery:
    read = _read(_ReleaseEvent, data)
    if read.action != "published":
        return Delivery("release", read.action)
    release = read.release
    return Delivery(
        "release",
        read.action,
        release=Release(
            repository=read.repository.full_name,
            tag=release.tag_name,
            name=release.name or release.tag_name,
            url=release.html_url,
            author=_login(release.author, read.sender),
            sha=release.target_commitish,
            published_at=release.published_at,
            prerelease=release.prerelease,
        ),
    )


def _push(data: Any) -> Delivery:
    read = _read(_PushEvent, data)
    if read.deleted:
        return Delivery("push", read.action)
    branch = read.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    who = (read.pusher.name if read.pusher else "") or _login(read.sender) or "someone"
    count = len(read.commits)
    head = read.head_commit
    summary = f"{who} pushed {count} commit{'s' if count != 1 else ''} to {read.repository.full_name}@{branch}"
    if head is not None and head.message.strip():
        summary += f": {_first_line(head.message)}"
    return Delivery(
        "push",
        read.action,
        notice=Notice(
            "dev.push",
            summary,
            read.repository.full_name,
            who,
            read.compare,
            head.timestamp if head else None,
            {"ref": read.ref, "after": read.after, "commits": count},
        ),
    )


def _pull_request(data: Any) -> Delivery:
    read = _read(_PullRequestEvent, data)
    if read.action not in PULL_REQUEST_ACTIONS:
        return Delivery("pull_request", read.action)
    pr = read.pull_request
    action = "merged" if read.action == "closed" and pr.merged else read.action
    words = action.replace("_", " ")
    who = _login(read.sender, pr.user) or "someone"
    summary = f"Pull request #{pr.number} {words} by {who}: {_first_line(pr.title)}"
    return Delivery(
        "pull_request",
        read.action,
        notice=Notice(
            f"dev.pull_request_{action}",
            summary,
            read.repository.full_name,
            who,
            pr.html_url,
            pr.updated_at,
            {
                "number": pr.number,
                "title": pr.title[:300],
                "base": pr.base.ref if pr.base else "",
                "head": pr.head.ref if pr.head else "",
            },
        ),
    )


def _issues(data: Any) -> Delivery:
    read = _read(_IssuesEvent, data)
    if read.action not in ISSUE_ACTIONS:
        return Delivery("issues", read.action)
    issue = read.issue
    words = "closed as not planned" if read.action == "closed" and issue.state_reason == "not_planned" else read.action
    who = _login(read.sender, issue.user) or "someone"
    summary = f"Issue #{issue.number} {words} by {who}: {_first_line(issue.title)}"
    return Delivery(
        "issues",
        read.action,
        notice=Notice(
            f"dev.issue_{read.action}",
            summary,
            read.repository.full_name,
            who,
            issue.html_url,
            issue.updated_at,
            {
                "number": issue.number,
                "title": issue.title[:300],
                "labels": [label.name for label in issue.labels if label.name][:20],
                "state_reason": issue.state_reason,
            },
        ),
    )


def _ping(data: Any) -> Delivery:
    return Delivery("ping", zen=_read(_PingEvent, data).zen)


_READERS = {
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "check_suite": _check_suite,
    "deployment_status": _deployment_status,
    "push": _push,
    "pull_request": _pull_request,
    "issues": _issues,
    "release": _release,
    "ping": _ping,
}
