"""E-mail over SMTP: one multipart/alternative message, plain text and HTML.

The `Message-ID` is derived from the idempotency key, so a retry after a
connection that broke between DATA and the server's 250 (the mail may have
gone out) carries the same id, and mail clients show it once. Messages about
one incident reference a common id, so clients thread them.

    SMTP 250            ok
    SMTP 4xx            retry (greylisting, mailbox busy, server shutting down)
    SMTP 5xx            permanent (unknown user, relay denied, bad login)
    no STARTTLS/AUTH    permanent: the settings do not fit the server
    refused, timeout,
    disconnect          retry
"""

from __future__ import annotations

import hashlib
import html
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum

from tocsin.channels.message import Message
from tocsin.channels.posting import DEFAULT_TIMEOUT
from tocsin.channels.result import DeliveryResult
from tocsin.domain import naming

_SUBJECT = 200


class Security(StrEnum):
    NONE = "none"  # a relay on localhost or a trusted network
    STARTTLS = "starttls"  # usually port 587
    TLS = "tls"  # implicit TLS, usually port 465


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    from_address: str
    port: int = 25
    security: Security = Security.NONE
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2] or "tocsin.invalid"


def send(
    address: str,
    message: Message,
    *,
    smtp: SmtpSettings,
    timeout: float = DEFAULT_TIMEOUT,
    now: datetime | None = None,
) -> DeliveryResult:
    problem = naming.email_problem(address)
    if problem is not None:
        return DeliveryResult.permanent(problem)
    mail = compose(message, to=address, smtp=smtp, now=now or datetime.now(UTC))
    where = f"mail server {smtp.host}:{smtp.port}"
    try:
        with _connect(smtp, timeout) as connection:
            if smtp.security is Security.STARTTLS:
                connection.starttls(context=ssl.create_default_context())
            if smtp.username:
                connection.login(smtp.username, smtp.password or "")
            connection.send_message(mail, from_addr=smtp.from_address, to_addrs=[address])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (-1, b""))
        return _answered(where, code, reply)
    except smtplib.SMTPNotSupportedError as exc:
        return DeliveryResult.permanent(f"{where} does not support what the settings ask for: {exc}")
    except smtplib.SMTPResponseException as exc:
        return _answered(where, exc.smtp_code, exc.smtp_error)
    except smtplib.SMTPServerDisconnected as exc:
        if isinstance(exc.__context__, TimeoutError):  # smtplib reports a read timeout as a disconnect
            return DeliveryResult.retry(f"{where} did not answer within {timeout:g} s")
        return DeliveryResult.retry(f"{where} closed the connection")
    except smtplib.SMTPException as exc:
        # e.g. "No suitable authentication method found": the settings, not the moment.
        return DeliveryResult.permanent(f"{where}: {exc}")
    except TimeoutError:
        return DeliveryResult.retry(f"{where} did not answer within {timeout:g} s")
    except OSError as exc:
        return DeliveryResult.retry(f"could not reach {where} ({type(exc).__name__})")
    return DeliveryResult.ok(250)


def compose(message: Message, *, to: str, smtp: SmtpSettings, now: datetime) -> EmailMessage:
    mail = EmailMessage()
    subject = " ".join(message.headline.split())
    mail["Subject"] = subject if len(subject) <= _SUBJECT else subject[: _SUBJECT - 1] + "…"
    mail["From"] = smtp.from_address
    mail["To"] = to
    mail["Date"] = format_datetime(now.astimezone(UTC))
    mail["Message-ID"] = f"<{hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:40]}@{smtp.domain}>"
    if message.incident:
        thread = f"<incident.{hashlib.sha256(message.incident.encode()).hexdigest()[:24]}@{smtp.domain}>"
        mail["References"] = thread
        mail["In-Reply-To"] = thread
    # RFC 3834: vacation responders must not answer a page.
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Tocsin-Delivery"] = message.idempotency_key
    mail.set_content(plain_text(message))
    mail.add_alternative(html_text(message), subtype="html")
    return mail


def plain_text(message: Message) -> str:
    lines = [message.headline, ""]
    if message.text.strip():
        lines += [message.text.strip(), ""]
    lines += [f"{name}: {value}" for name, value in message.fields]
    if message.fields:
        lines.append("")
    if message.ack_url:
        lines.append(f"Acknowledge: {message.ack_url}")
    if message.url:
        lines.append(f"Incident: {message.url}")
    return "\n".join(lines).rstrip() + "\n"


def html_text(message: Message) -> str:
    """Everything from the incident is escaped: alert text is written by whoever can send an alert."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html><body style="font-family: sans-serif; line-height: 1.4">',
        f'<h2 style="border-left: 6px solid #{message.colour:06x}; padding-left: 8px">{e(message.headline)}</h2>',
    ]
    if message.text.strip():
        parts.append(f"<p>{e(message.text.strip()).replace(chr(10), '<br>')}</p>")
    if message.fields:
        rows = "".join(
            f'<tr><th style="text-align: left; padding-right: 12px">{e(name)}</th><td>{e(value)}</td></tr>'
            for name, value in message.fields
        )
        parts.append(f"<table>{rows}</table>")
    links = []
    if message.ack_url:
        links.append(
            f'<a href="{e(message.ack_url)}" style="background: #e01e5a; color: #fff; padding: 8px 14px; '
            'border-radius: 4px; text-decoration: none">Acknowledge</a>'
        )
    if message.url:
        links.append(f'<a href="{e(message.url)}">Open incident</a>')
    if links:
        parts.append(f"<p>{' &nbsp; '.join(links)}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _connect(smtp: SmtpSettings, timeout: float) -> smtplib.SMTP:
    if smtp.security is Security.TLS:
        return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=ssl.create_default_context())
    return smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)


def _answered(where: str, code: int, reply: bytes | str) -> DeliveryResult:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    error = f"{where} answered {code} {text}".strip()
    if 400 <= code < 500:
        return DeliveryResult.retry(error, status=code)
    if 500 <= code < 600:
        return DeliveryResult.permanent(error, status=code)
    return DeliveryResult.retry(error, status=code if code > 0 else None)
