"""Which adapter delivers to which kind of contact method.

discord          discord.send      address: the webhook URL
slack            slack.send        address: the incoming-webhook URL
webhook          webhook.send      address: any http(s) URL; `secret` signs the body
email            email.send        address: the recipient; `smtp` says how to send
apprise          apprise_channel   address: an Apprise URL
sms, voice       apprise_channel   address: an Apprise URL for an SMS or call service (twilio://…)
"""

from __future__ import annotations

from datetime import datetime

import httpx
import structlog

from tocsin.channels import apprise_channel, discord, email, posting, slack, webhook
from tocsin.channels.connections import Connections
from tocsin.channels.message import Message
from tocsin.channels.posting import DEFAULT_TIMEOUT
from tocsin.channels.result import DeliveryResult
from tocsin.domain.notify import ContactKind

log = structlog.get_logger(__name__)

# The kinds that POST over HTTP: a caller passes them a `client` (`posting.Clients`), or
# sends them with `send_async`.
HTTP_KINDS = frozenset({ContactKind.DISCORD.value, ContactKind.SLACK.value, ContactKind.WEBHOOK.value})


def send(
    kind: ContactKind | str,
    address: str,
    message: Message,
    *,
    secret: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    client: httpx.Client | None = None,
    smtp: email.SmtpSettings | None = None,
    now: datetime | None = None,
) -> DeliveryResult:
    """One attempt to deliver `message`; never raises for a delivery problem.

    Call it with no database transaction open: it waits on the network for
    up to `timeout` seconds (per connect and per read). `client` lets a
    worker reuse connections; without one each call opens its own. `now` is
    the webhook's signed timestamp and the e-mail's Date (default: the wall
    clock).
    """
    try:
        result = _dispatch(kind, address, message, secret, timeout, client, smtp, now)
    except Exception as exc:
        result = _unexpected(kind, exc)
    # Every adapter keeps the address out of its errors already; this makes sure of it.
    return result.scrubbed(address, secret, smtp.password if smtp else None)


async def send_async(
    kind: str,
    address: str,
    message: Message,
    *,
    connections: Connections,
    secret: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    now: datetime | None = None,
) -> DeliveryResult:
    """`send` for the kinds in HTTP_KINDS, on the running event loop over `connections`:
    the engine's way to have many requests in flight from one thread."""
    try:
        result = await posting.send_async(
            request_for(kind, address, message, secret=secret, now=now), connections=connections, timeout=timeout
        )
    except Exception as exc:
        result = _unexpected(kind, exc)
    return result.scrubbed(address, secret)


def request_for(kind: str, address: str, message: Message, *, secret: str | None, now: datetime | None) -> posting.Post:
    """The POST that delivers `message` to a contact method of an HTTP kind."""
    match kind:
        case ContactKind.DISCORD:
            return discord.request(address, message)
        case ContactKind.SLACK:
            return slack.request(address, message)
        case ContactKind.WEBHOOK:
            return webhook.request(address, message, secret=secret, now=now)
    raise ValueError(f"kind: {kind!r} is not delivered over HTTP")


def _unexpected(kind: ContactKind | str, exc: Exception) -> DeliveryResult:
    # A bug in an adapter must not kill the engine's worker, and the attempt is worth
    # another try once it is fixed. No exception text: it could quote the address.
    log.exception("channel_failed", kind=str(kind), error_type=type(exc).__name__)
    return DeliveryResult.retry(f"unexpected error in the {kind} channel ({type(exc).__name__})")


def _dispatch(
    kind: ContactKind | str,
    address: str,
    message: Message,
    secret: str | None,
    timeout: float,
    client: httpx.Client | None,
    smtp: email.SmtpSettings | None,
    now: datetime | None,
) -> DeliveryResult:
    try:
        kind = ContactKind(kind)
    except ValueError:
        return DeliveryResult.permanent(f"no channel delivers to contact methods of kind {str(kind)[:40]!r}")
    match kind:
        case ContactKind.DISCORD:
            return discord.send(address, message, client=client, timeout=timeout)
        case ContactKind.SLACK:
            return slack.send(address, message, client=client, timeout=timeout)
        case ContactKind.WEBHOOK:
            return webhook.send(address, message, secret=secret, client=client, timeout=timeout, now=now)
        case ContactKind.EMAIL:
            if smtp is None:
                return DeliveryResult.permanent("e-mail is not set up: no SMTP server is configured")
            return email.send(address, message, smtp=smtp, timeout=timeout, now=now)
        case ContactKind.APPRISE | ContactKind.SMS | ContactKind.VOICE:
            if "://" not in address:
                # A bare phone number needs a provider: the contact method must name one.
                return DeliveryResult.permanent(
                    f"{kind} contact methods need an Apprise URL for a provider (e.g. twilio://…), not a bare address"
                )
            return apprise_channel.send(address, message, timeout=timeout)
