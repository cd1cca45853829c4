"""Engine module: deliver due notifications, with no database transaction open while sending.

    transaction 1   claim a batch (pending and due, or a crashed sender's) → commit
    no transaction  send each through its channel, a few at a time
    transaction 2   record each result (sent, retry later, failed + next contact method) → commit

A page that waits on a slow webhook must not hold a lock others need (on
SQLite, the only write lock), so this module manages its own transactions
(`runner.SelfManaged`). The claim's deadline outlives the sends: a sender that
dies between the transactions leaves rows in `sending`, and another sender
claims them again once the deadline passes. The receiver can drop such a
repeat by its idempotency key (`X-Tocsin-Delivery`, the e-mail's Message-ID).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy.orm import Session, sessionmaker

from tocsin import channels
from tocsin.channels.email import Security, SmtpSettings
from tocsin.channels.message import Message, MessageKind
from tocsin.channels.result import DeliveryResult, Outcome
from tocsin.clock import Clock
from tocsin.config import Settings
from tocsin.services import notifications
from tocsin.services.notifications import Attempt, Claimed

log = structlog.get_logger(__name__)


def smtp_settings(settings: Settings) -> SmtpSettings | None:
    if not settings.smtp_host:
        return None
    return SmtpSettings(
        host=settings.smtp_host,
        from_address=settings.smtp_from,
        port=settings.smtp_port,
        security=Security(settings.smtp_security),
        username=settings.smtp_user,
        password=settings.smtp_password,
    )


class Deliveries:
    name = "deliveries"

    def __init__(
        self,
        smtp: SmtpSettings | None = None,
        *,
        batch: int = 32,
        workers: int = 8,
        lease: timedelta = timedelta(minutes=2),
        timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        # 32 rows over 8 workers, each bounded by `timeout` per connect and per read, finish
        # well inside the 2-minute lease; a longer send would let another sender repeat it.
        self.smtp = smtp
        self.batch = batch
        self.workers = workers
        self.lease = lease
        self.timeout = timeout
        self.rng = rng or random.Random()

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Deliveries:
        return cls(smtp_settings(settings), **options)

    def run_with(self, sessions: sessionmaker[Session], clock: Clock) -> int:
        with sessions() as session, session.begin():
            claimed = notifications.claim_due(session, clock.now(), self.batch, self.lease)
        if not claimed:
            return 0
        results = self._send_all(claimed, clock.now())
        now = clock.now()
        with sessions() as session, session.begin():
            for item, result in zip(claimed, results, strict=True):
                status = notifications.record(session, now, item.id, item.attempts, self._attempt(item, result, now))
                log.info(
                    "notification_attempt",
                    notification=item.id,
                    channel=item.channel,
                    attempt=item.attempts,
                    outcome=result.outcome.value,
                    status=status,
                    error=result.error,
                )
        return len(claimed)

    def _send_all(self, claimed: Sequence[Claimed], now: datetime) -> list[DeliveryResult]:
        with (
            httpx.Client() as client,
            ThreadPoolExecutor(max_workers=min(self.workers, len(claimed)), thread_name_prefix="delivery") as pool,
        ):
            return list(pool.map(lambda item: self._send_one(item, client, now), claimed))

    def _send_one(self, item: Claimed, client: httpx.Client, now: datetime) -> DeliveryResult:
        try:
            message = message_for(item)
        except ValueError as exc:
            return DeliveryResult.permanent(f"the notification cannot be rendered: {exc}")
        return channels.send(
            item.channel,
            item.address,
            message,
            secret=item.secret,
            timeout=self.timeout,
            client=client,
            smtp=self.smtp,
            now=now,
        )

    def _attempt(self, item: Claimed, result: DeliveryResult, now: datetime) -> Attempt:
        retry_at = None
        if result.outcome is Outcome.RETRY:
            retry_at = now + channels.backoff(item.attempts, result.retry_after, self.rng)
        return Attempt(result.outcome.value, result.error, retry_at)


def message_for(item: Claimed) -> Message:
    """The channel-neutral message for a claimed row; ValueError when its payload cannot be one."""
    payload = item.payload
    kind = MessageKind.TEST if item.kind == "test" else MessageKind(item.kind)
    fields = [(str(pair[0]), str(pair[1])) for pair in payload.get("fields") or []]
    return Message(
        kind=kind,
        title=str(payload.get("title") or "Tocsin notification"),
        idempotency_key=item.idempotency_key,
        text=str(payload.get("text") or ""),
        severity=payload.get("severity"),
        severity_rank=payload.get("severity_rank"),
        incident=payload.get("incident"),
        url=payload.get("url"),
        ack_url=payload.get("ack_url"),
        fields=fields,
        mention=item.mention if item.channel in ("discord", "slack") else None,
    )
