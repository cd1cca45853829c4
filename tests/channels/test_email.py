"""E-mail through a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from tests.channels.samples import NOW, Mailbox, SmtpServer, page
from tests.support.server import free_port
from tocsin.channels import email
from tocsin.channels.email import Security, SmtpSettings
from tocsin.channels.message import MessageKind
from tocsin.channels.result import Outcome

TO = "alice@example.com"
FROM = "tocsin@ops.example.com"


def settings(server: SmtpServer, **changes: Any) -> SmtpSettings:
    return replace(SmtpSettings(host="127.0.0.1", port=server.port, from_address=FROM), **changes)


def test_a_page_arrives_with_subject_plain_and_html_parts(mailbox: SmtpServer) -> None:
    result = email.send(TO, page(), smtp=settings(mailbox), now=NOW)
    assert (result.outcome, result.status) == (Outcome.OK, 250)
    ((sender, recipients, mail),) = mailbox.mailbox.received
    assert (sender, recipients) == (FROM, [TO])
    assert mail["Subject"] == "[P1] INC-2026-11-23-001 Checkout is down"
    assert mail["From"] == FROM
    assert mail["To"] == TO
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Date"] == "Mon, 23 Nov 2026 09:00:00 +0000"
    assert mail.get_content_type() == "multipart/alternative"
    plain, rich = (part for part in mail.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert rich.get_content_type() == "text/html"
    text = plain.get_content()
    assert "5xx ratio 12% over 5m" in text
    assert "Service: checkout" in text
    assert "Acknowledge: https://tocsin.example.com/ack/eyJhbGciOi.sig" in text
    html = rich.get_content()
    assert '<a href="https://tocsin.example.com/ack/eyJhbGciOi.sig"' in html
    assert "<th" in html
    assert "checkout</td>" in html


def test_everything_from_the_incident_is_escaped_in_the_html(mailbox: SmtpServer) -> None:
    hostile = page(
        title='<script>alert("x")</script>',
        text="<img src=x onerror=steal()> & more",
        fields=(("<b>Service</b>", '"><iframe>'),),
        url="https://tocsin.example.com/incidents/1?a=1&b=2",
    )
    email.send(TO, hostile, smtp=settings(mailbox), now=NOW)
    ((_, _, mail),) = mailbox.mailbox.received
    html = next(part for part in mail.iter_parts() if part.get_content_type() == "text/html").get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<img" not in html
    assert "&lt;img src=x onerror=steal()&gt; &amp; more" in html
    assert "<b>Service" not in html
    assert "<iframe>" not in html
    assert 'href="https://tocsin.example.com/incidents/1?a=1&amp;b=2"' in html


def test_the_message_id_is_stable_per_notification_and_mails_of_one_incident_thread(mailbox: SmtpServer) -> None:
    smtp = settings(mailbox)
    email.send(TO, page(), smtp=smtp, now=NOW)
    email.send(TO, page(), smtp=smtp, now=NOW)  # a retry of the same notification
    email.send(TO, page(kind=MessageKind.RESOLVED, idempotency_key="ntf-43-1"), smtp=smtp, now=NOW)
    first, retry, resolved = (mail for _, _, mail in mailbox.mailbox.received)
    assert first["Message-ID"] == retry["Message-ID"] != resolved["Message-ID"]
    assert first["Message-ID"].endswith("@ops.example.com>")
    assert first["References"] == resolved["References"] == first["In-Reply-To"]
    assert first["X-Tocsin-Delivery"] == "ntf-42-1"
    assert resolved["Subject"] == "Resolved: [P1] INC-2026-11-23-001 Checkout is down"


def test_a_login_is_used_when_configured() -> None:
    with SmtpServer(Mailbox(), password="hunter2-hunter2") as server:
        good = email.send(TO, page(), smtp=settings(server, username="tocsin", password="hunter2-hunter2"), now=NOW)
        bad = email.send(TO, page(), smtp=settings(server, username="tocsin", password="wrong-password"), now=NOW)
        assert len(server.mailbox.received) == 1
    assert good.delivered
    assert (bad.outcome, bad.status) == (Outcome.PERMANENT, 535)
    assert bad.error is not None
    assert "wrong-password" not in bad.error


@pytest.mark.parametrize(
    ("reply", "outcome", "code"),
    [
        ("550 5.1.1 No such user here", Outcome.PERMANENT, 550),
        ("553 5.7.1 Relaying denied", Outcome.PERMANENT, 553),
        ("450 4.2.0 Mailbox busy, try later", Outcome.RETRY, 450),
        ("451 4.7.1 Greylisted, come back in 5 minutes", Outcome.RETRY, 451),
    ],
)
def test_smtp_4xx_is_retried_and_5xx_fails_at_once(reply: str, outcome: Outcome, code: int) -> None:
    with SmtpServer(Mailbox(rcpt_reply=reply)) as server:
        result = email.send(TO, page(), smtp=settings(server), now=NOW)
    assert (result.outcome, result.status) == (outcome, code)
    assert result.error is not None
    assert reply.split(" ", 1)[1] in result.error


def test_starttls_that_the_server_does_not_offer_fails_at_once(mailbox: SmtpServer) -> None:
    result = email.send(TO, page(), smtp=settings(mailbox, security=Security.STARTTLS), now=NOW)
    assert result.outcome is Outcome.PERMANENT
    assert result.error is not None
    assert "STARTTLS" in result.error
    assert mailbox.mailbox.received == []


def test_a_refused_connection_is_retried() -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=free_port(), from_address=FROM)
    result = email.send(TO, page(), smtp=smtp, timeout=2, now=NOW)
    assert result.outcome is Outcome.RETRY
    assert result.error == f"could not reach mail server 127.0.0.1:{smtp.port} (ConnectionRefusedError)"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections (the kernel's backlog does) and never says hello."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield int(sock.getsockname()[1])


def test_a_server_that_never_greets_is_retried(silent_server: int) -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=silent_server, from_address=FROM)
    result = email.send(TO, page(), smtp=smtp, timeout=0.2, now=NOW)
    assert result.outcome is Outcome.RETRY
    assert result.error == f"mail server 127.0.0.1:{silent_server} did not answer within 0.2 s"


@pytest.mark.parametrize("address", ["", "alice", "alice@", "alice@example.com\r\nBcc: eve@example.com"])
def test_a_bad_address_fails_at_once_without_connecting(address: str) -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=free_port(), from_address=FROM)
    assert email.send(address, page(), smtp=smtp, now=NOW).outcome is Outcome.PERMANENT


def test_the_password_is_not_in_the_settings_repr() -> None:
    smtp = SmtpSettings(host="mail", from_address=FROM, username="tocsin", password="hunter2-hunter2")
    assert "hunter2" not in repr(smtp)
