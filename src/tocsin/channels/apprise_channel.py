"""Any Apprise URL (Telegram, Teams, ntfy, Pushover, Twilio SMS, …) through the apprise library.

Apprise only says whether a message went out, not why it did not, so a
failure is a retry and the engine's attempt limit ends it. A URL that no
apprise plugin accepts fails at once, before anything is sent. SMS and voice
contact methods are Apprise URLs too (e.g. `twilio://…`).
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING

from tocsin.channels.message import Message, MessageKind
from tocsin.channels.posting import DEFAULT_TIMEOUT
from tocsin.channels.result import DeliveryResult

if TYPE_CHECKING:
    from apprise import AppriseAsset
    from apprise.plugins.base import NotifyBase

# Apprise's types pick the icon and, on some services, the priority or sound.
_NOTIFY_TYPES = {
    MessageKind.PAGE: "failure",
    MessageKind.ACKNOWLEDGED: "info",
    MessageKind.INCIDENT_UPDATE: "warning",
    MessageKind.RESOLVED: "success",
    MessageKind.HANDOFF: "info",
    MessageKind.REMINDER: "warning",
    MessageKind.TEST: "info",
    MessageKind.VERIFY: "info",
    MessageKind.POST: "warning",
}

_plugins_loaded = threading.Event()
_loading = threading.Lock()


def send(address: str, message: Message, *, timeout: float = DEFAULT_TIMEOUT) -> DeliveryResult:
    plugin = _instantiate(address)
    if plugin is None:
        return DeliveryResult.permanent("not an Apprise URL that any installed Apprise service accepts")
    from apprise import Apprise, NotifyFormat

    # Apprise's own default is 4 s each; the URL's cto=/rto= parameters still win when given.
    if "cto=" not in address:
        plugin.socket_connect_timeout = timeout
    if "rto=" not in address:
        plugin.socket_read_timeout = timeout
    service = plugin.service_name or "the Apprise service"
    sender = Apprise(asset=_asset())
    sender.add(plugin)
    try:
        answer = sender.notify(
            body=body(message),
            title=message.headline,
            notify_type=_NOTIFY_TYPES[message.kind],
            body_format=NotifyFormat.TEXT,
        )
    except Exception as exc:  # a plugin bug must not take the worker down; its message may hold the URL
        return DeliveryResult.retry(f"{service} failed ({type(exc).__name__})")
    if answer:  # apprise 1.x answers a bool, 2.x a result whose truth is the same
        return DeliveryResult.ok()
    return DeliveryResult.retry(f"{service} did not accept the message")


def body(message: Message) -> str:
    lines = [message.text.strip()] if message.text.strip() else []
    lines += [f"{name}: {value}" for name, value in message.fields]
    if message.ack_url:
        lines.append(f"Acknowledge: {message.ack_url}")
    if message.url:
        lines.append(f"Incident: {message.url}")
    # Some services refuse an empty body; the title alone then says it all.
    return "\n".join(lines) or message.headline


def _instantiate(address: str) -> NotifyBase | None:
    if _plugins_loaded.is_set():
        from apprise import Apprise

        return Apprise.instantiate(address, asset=_asset())
    with _loading, warnings.catch_warnings():
        # Imported here, not at the top: apprise and its plugins take ~0.3 s to load. The first
        # lookup loads every plugin, and one of them imports imghdr, deprecated since Python 3.11.
        warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
        from apprise import Apprise

        plugin = Apprise.instantiate(address, asset=_asset())
        _plugins_loaded.set()
        return plugin


def _asset() -> AppriseAsset:
    from apprise import AppriseAsset

    return AppriseAsset(app_id="Tocsin", app_desc="Tocsin incident response")
