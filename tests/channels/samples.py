"""Messages, vendor answers and a real SMTP server (aiosmtpd) shared by the channel tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.fake_http import FakeHTTPServer
from tests.support.server import free_port
from tocsin.channels.message import Message, MessageKind

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "channels"
# What a real webhook URL looks like: the token in the path is the credential.
TOKEN = "s3cr3t-T0KEN-abcdefghijklmnop"


def page(**changes: Any) -> Message:
    """Alice is paged for a P1 on checkout; any field can be changed."""
    values: dict[str, Any] = {
        "kind": MessageKind.PAGE,
        "title": "Checkout is down",
        "text": "5xx ratio 12% over 5m",
        "idempotency_key": "ntf-42-1",
        "severity": "P1",
        "severity_rank": 1,
        "incident": "INC-2026-11-23-001",
        "url": "https://tocsin.example.com/incidents/INC-2026-11-23-001",
        "ack_url": "https://tocsin.example.com/ack/eyJhbGciOi.sig",
        "fields": (("Service", "checkout"), ("Status", "triggered")),
        "mention": "80351110224678912",
        "at": NOW,
    }
    values.update(changes)
    return Message(**values)


def vendor_answer(name: str) -> dict[str, Any]:
    answers: dict[str, Any] = json.loads((FIXTURES / "vendor_answers.json").read_text())
    return dict(answers[name])


def answer_with(server: FakeHTTPServer, name: str) -> None:
    answer = vendor_answer(name)
    server.respond(answer["status"], answer["body"], answer["headers"])


def webhook_url(server: FakeHTTPServer, path: str = "/api/webhooks/111") -> str:
    return f"{server.url}{path}/{TOKEN}"


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps what it accepts, or refuses recipients with `rcpt_reply`."""

    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    rcpt_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mail = message_from_bytes(content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), mail))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1; with `password`, AUTH LOGIN/PLAIN for user "tocsin" is offered (without TLS)."""

    def __init__(self, mailbox: Mailbox, *, password: str | None = None) -> None:
        self.mailbox = mailbox
        self.port = free_port()
        self.password = password
        self._controller = Controller(
            mailbox,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate if password else None,
            auth_require_tls=False,
        )

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == b"tocsin"
            and auth_data.password == (self.password or "").encode()
        )
        return AuthResult(success=ok, handled=False)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()
