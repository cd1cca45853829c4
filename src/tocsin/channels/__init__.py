"""Outbound destinations: one notification to one Discord or Slack webhook, e-mail
address, signed generic webhook or Apprise URL.

    registry.send(kind, address, message, ...)  →  DeliveryResult (ok | retry | permanent)

Each adapter renders a channel-neutral `Message` in its channel's wire format,
makes one attempt and says whether a retry can help; the engine owns the
notification row, the attempts and the schedule (`result.backoff`). Nothing
here touches the database: the engine calls these after its transaction is
committed, so every send is bounded by a short timeout: `send` from any thread
(`Clients` keeps HTTP connections open between calls), `send_async` for the
HTTP kinds on an event loop (`Connections`, many requests in flight at once).
"""

from tocsin.channels.connections import Connections
from tocsin.channels.message import Message, MessageKind
from tocsin.channels.posting import Clients
from tocsin.channels.registry import HTTP_KINDS, send, send_async
from tocsin.channels.result import DeliveryResult, Outcome, backoff

__all__ = [
    "HTTP_KINDS",
    "Clients",
    "Connections",
    "DeliveryResult",
    "Message",
    "MessageKind",
    "Outcome",
    "backoff",
    "send",
    "send_async",
]
