"""Engine module: mirror action items as GitHub issues (when TOCSIN_GITHUB_TOKEN and
TOCSIN_GITHUB_REPO are set). Each run

    transaction 1   claim due calls (pending → sending, with a deadline) → commit
    no transaction  call GitHub: create the issue, or close it
    transaction 2   record the answers (done; retry later with the channels' backoff; failed) → commit

A process that dies between the two leaves `sending` rows whose deadline passes, and
another claims them again. A create retried after a lost answer can open a second issue;
GitHub offers no idempotency key for issues, and a duplicate issue is the lesser harm.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from tocsin.channels import github_issues
from tocsin.channels.github_issues import GithubSettings, IssueResult
from tocsin.channels.result import Outcome, backoff
from tocsin.clock import Clock
from tocsin.config import Settings
from tocsin.services import action_items
from tocsin.services.action_items import ClaimedSync, SyncResult


class ActionItemSync:
    name = "action_item_sync"

    def __init__(
        self,
        github: GithubSettings,
        public_url: str = "",
        *,
        batch: int = 20,
        lease: timedelta = timedelta(minutes=2),
        timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.github = github
        self.public_url = public_url
        self.batch = batch
        self.lease = lease
        self.timeout = timeout
        self.rng = rng or random.Random()

    @classmethod
    def from_settings(cls, settings: Settings) -> ActionItemSync | None:
        if not (settings.github_token and settings.github_repo):
            return None
        github = GithubSettings(settings.github_repo, settings.github_token, settings.github_api_url)
        return cls(github, settings.public_url)

    def run_with(self, sessions: sessionmaker[Session], clock: Clock) -> int:
        with sessions() as session, session.begin():
            claimed = action_items.claim_syncs(session, clock.now(), self.batch, self.lease, self.public_url)
        if not claimed:
            return 0
        answers = [self._call(item) for item in claimed]
        now = clock.now()
        with sessions() as session, session.begin():
            for item, answer in zip(claimed, answers, strict=True):
                retry_at = None
                if answer.outcome is Outcome.RETRY:
                    retry_at = now + backoff(item.attempts, answer.result.retry_after, self.rng)
                result = SyncResult(
                    answer.outcome.value, answer.result.error or "", answer.number, answer.url, retry_at
                )
                action_items.record_sync(session, now, item.id, item.attempts, result)
        return len(claimed)

    def _call(self, item: ClaimedSync) -> IssueResult:
        if item.operation == "create":
            return github_issues.create_issue(self.github, item.title, item.body, timeout=self.timeout)
        assert item.issue_number is not None  # claim_syncs holds a close back until the issue exists
        return github_issues.close_issue(self.github, item.issue_number, timeout=self.timeout)
