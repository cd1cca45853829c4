"""Engine module: tell the status page's subscribers. Each run

    transaction 1   owe notices for the public updates since the cursor (services.status_page_subscribers)
    transaction 2   claim a batch of due deliveries (confirmations and notices) → commit
    no transaction  send them: e-mail over SMTP, webhooks as JSON, a few at a time
    transaction 3   record the results (sent, retry later with the channels' backoff, failed) → commit

E-mail carries a one-click unsubscribe (RFC 8058: `List-Unsubscribe` and
`List-Unsubscribe-Post`) and a Message-ID derived from the delivery's key, so a
resend after a lost answer is shown once. A webhook receives Statuspage's
webhook shape (`page`, `incident`) with the `X-Tocsin-Delivery` and, when the
subscriber has a secret, `X-Tocsin-Signature` headers of Tocsin's webhooks
(channels.webhook).
"""

from __future__ import annotations

import hashlib
import random
import smtplib
import ssl
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy.orm import Session, sessionmaker

from tocsin.channels import posting, webhook
from tocsin.channels.email import Security, SmtpSettings
from tocsin.channels.result import DeliveryResult, Outcome, backoff
from tocsin.clock import Clock
from tocsin.config import Settings
from tocsin.engine.deliveries import smtp_settings
from tocsin.services import status_page_subscribers as subscribers
from tocsin.services.status_page_subscribers import Claimed, Result

PRUNE_EVERY = timedelta(minutes=10)


class StatusPageNotices:
    name = "status_page_notices"

    def __init__(
        self,
        public_url: str,
        smtp: SmtpSettings | None = None,
        *,
        batch: int = 200,
        workers: int = 4,
        lease: timedelta = timedelta(minutes=2),
        timeout: float = 10.0,
        settle: timedelta = subscribers.SETTLE,
        rng: random.Random | None = None,
    ) -> None:
        self.public_url = public_url
        self.smtp = smtp
        self.batch = batch
        self.workers = workers
        self.lease = lease
        self.timeout = timeout
        self.settle = settle
        self.rng = rng or random.Random()
        self._pruned: datetime | None = None  # in memory on purpose: a restart merely prunes sooner

    @classmethod
    def from_settings(cls, settings: Settings) -> StatusPageNotices:
        return cls(settings.public_url, smtp_settings(settings))

    def run_with(self, sessions: sessionmaker[Session], clock: Clock) -> int:
        with sessions() as session, session.begin():
            subscribers.plan_notices(session, clock.now(), self.public_url, settle=self.settle)
        now = clock.now()
        # Every ten minutes, not every cycle: a DELETE takes SQLite's write lock even when it finds nothing.
        if self._pruned is None or now - self._pruned >= PRUNE_EVERY:
            self._pruned = now
            with sessions() as session, session.begin():
                subscribers.prune(session, now)
        with sessions() as session, session.begin():
            claimed = subscribers.claim_due(session, clock.now(), self.batch, self.lease)
        if not claimed:
            return 0
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="status-notice") as pool:
            sent = list(pool.map(lambda item: self._send(item, clock.now()), claimed))
        now = clock.now()
        results = [
            (item.id, item.attempts, self._result(item, result, now))
            for item, result in zip(claimed, sent, strict=True)
        ]
        with sessions() as session, session.begin():
            subscribers.record_all(session, now, results)
        return len(claimed)

    def _result(self, item: Claimed, result: DeliveryResult, now: datetime) -> Result:
        retry_at = None
        if result.outcome is Outcome.RETRY:
            retry_at = now + backoff(item.attempts, result.retry_after, self.rng)
        return Result(result.outcome.value, result.error, retry_at)

    def _send(self, item: Claimed, now: datetime) -> DeliveryResult:
        if item.channel == "webhook":
            return send_webhook(item, now, self.timeout)
        if self.smtp is None:
            return DeliveryResult.permanent("no mail server is configured (TOCSIN_SMTP_HOST)")
        return send_mail(compose(item, self.smtp, now), item.address, self.smtp, self.timeout)


def send_webhook(item: Claimed, now: datetime, timeout: float) -> DeliveryResult:
    sent_at = int(now.timestamp())
    body = dict(item.payload.get("webhook") or {})
    body["meta"] = {"unsubscribe": item.payload.get("unsubscribe_url"), "delivery": item.idempotency_key}
    raw = posting.encode(body)
    headers = {webhook.DELIVERY_HEADER: item.idempotency_key, webhook.TIMESTAMP_HEADER: str(sent_at)}
    if item.secret:
        headers[webhook.SIGNATURE_HEADER] = webhook.signature(raw, item.secret)
    return posting.post(item.address, raw, client=None, timeout=timeout, headers=headers)


def compose(item: Claimed, smtp: SmtpSettings, now: datetime) -> EmailMessage:
    payload = item.payload
    unsubscribe = str(payload.get("unsubscribe_url") or "")
    mail = EmailMessage()
    mail["Subject"] = " ".join(str(payload.get("subject") or "Status update").split())[:200]
    mail["From"] = smtp.from_address
    mail["To"] = item.address
    mail["Date"] = format_datetime(now.astimezone(UTC))
    mail["Message-ID"] = f"<{hashlib.sha256(item.idempotency_key.encode()).hexdigest()[:40]}@{smtp.domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Tocsin-Delivery"] = item.idempotency_key
    if unsubscribe:
        mail["List-Unsubscribe"] = f"<{unsubscribe}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    lines = [str(payload.get("text") or "")]
    if payload.get("incident_url"):
        lines.append(f"\n{payload['incident_name']}: {payload['incident_url']}")
    if unsubscribe:
        lines.append(f"\n--\nUnsubscribe: {unsubscribe}")
    mail.set_content("\n".join(lines).strip() + "\n")
    return mail


def send_mail(mail: EmailMessage, address: str, smtp: SmtpSettings, timeout: float) -> DeliveryResult:
    """One message over SMTP; the answer read as channels.email reads it (4xx retry, 5xx permanent)."""
    where = f"mail server {smtp.host}:{smtp.port}"
    try:
        if smtp.security is Security.TLS:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
        with connection:
            if smtp.security is Security.STARTTLS:
                connection.starttls(context=ssl.create_default_context())
            if smtp.username:
                connection.login(smtp.username, smtp.password or "")
            connection.send_message(mail, from_addr=smtp.from_address, to_addrs=[address])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (-1, b""))
        return _answered(where, code, reply)
    except smtplib.SMTPResponseException as exc:
        return _answered(where, exc.smtp_code, exc.smtp_error)
    except smtplib.SMTPServerDisconnected:
        return DeliveryResult.retry(f"{where} closed the connection")
    except smtplib.SMTPException as exc:
        return DeliveryResult.permanent(f"{where}: {exc}")
    except OSError as exc:  # refused, unreachable, timed out
        return DeliveryResult.retry(f"could not reach {where} ({type(exc).__name__})")
    return DeliveryResult.ok(250)


def _answered(where: str, code: int, reply: bytes | str) -> DeliveryResult:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    error = f"{where} answered {code} {text}".strip()
    if 500 <= code < 600:
        return DeliveryResult.permanent(error, status=code)
    return DeliveryResult.retry(error, status=code if code > 0 else None)
