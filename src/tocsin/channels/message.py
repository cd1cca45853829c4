"""What one notification says, before any channel renders it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class MessageKind(StrEnum):
    PAGE = "page"
    ACKNOWLEDGED = "acknowledged"
    INCIDENT_UPDATE = "incident_update"
    RESOLVED = "resolved"
    HANDOFF = "handoff"
    REMINDER = "reminder"
    TEST = "test"
    VERIFY = "verify"  # a verification code for a contact method
    POST = "post"  # a post to a team channel (#alerts, #deploys …)


_KINDS = tuple(kind.value for kind in MessageKind)

# What a channel prints before the title, so "resolved" never reads like a new page.
KIND_LABELS: dict[MessageKind, str] = {
    MessageKind.PAGE: "",
    MessageKind.ACKNOWLEDGED: "Acknowledged",
    MessageKind.INCIDENT_UPDATE: "Update",
    MessageKind.RESOLVED: "Resolved",
    MessageKind.HANDOFF: "Hand-off",
    MessageKind.REMINDER: "Reminder",
    MessageKind.TEST: "Test",
    MessageKind.VERIFY: "Verification",
    MessageKind.POST: "",
}

# By severity rank (0 is the worst); ranks past the list share the last colour.
_RANK_COLOURS = (0xE01E5A, 0xF2711C, 0xECB22E, 0x36C5F0)
_RESOLVED, _NEUTRAL = 0x2EB67D, 0x95A5A6

# The key travels in HTTP and mail headers: no spaces, no line breaks, nothing a proxy rewrites.
_KEY_RE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,200}")
_MENTION_RE = re.compile(r"&?[A-Za-z0-9]{1,64}")


@dataclass(frozen=True)
class Message:
    """One notification, channel-neutral.

    `idempotency_key` is the same on every attempt of one notification (the
    generic webhook's `X-Tocsin-Delivery`, the e-mail's `Message-ID`), so a
    receiver that saw the first attempt succeed can drop a retry.
    `mention` is the Discord user id or Slack member id of the person paged,
    or, for a team channel, `&` and a Discord role id or Slack user group id
    (`&S0614TZR7`): a group, not a person (see `role_mention`).
    `ack_url` is a signed single-use link; channels show it as a button or link.
    `severity_rank` is the level's rank in its scheme (0 is the most severe);
    channels colour by it, so any scheme works.
    """

    kind: MessageKind
    title: str
    idempotency_key: str
    text: str = ""
    severity: str | None = None
    severity_rank: int | None = None
    incident: str | None = None  # the human id, e.g. INC-2026-11-23-001
    url: str | None = None
    ack_url: str | None = None
    fields: Sequence[tuple[str, str]] = field(default=())
    mention: str | None = None
    at: datetime | None = None  # when the event happened, timezone-aware

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind: unknown message kind {self.kind!r}; expected one of {', '.join(_KINDS)}")
        object.__setattr__(self, "kind", MessageKind(self.kind))
        object.__setattr__(self, "fields", tuple((str(name), str(value)) for name, value in self.fields))
        if not self.title.strip():
            raise ValueError("title: a message needs a title")
        if not _KEY_RE.fullmatch(self.idempotency_key):
            raise ValueError("idempotency_key: 1-200 characters from A-Z a-z 0-9 . _ : @ / + = -")
        if self.severity_rank is not None and self.severity_rank < 0:
            raise ValueError("severity_rank: 0 is the most severe; ranks are not negative")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at: needs a timezone-aware datetime")
        for name in ("url", "ack_url"):
            link = getattr(self, name)
            # Rendered as links and buttons (and an href in HTML mail): a javascript: URL must never get there.
            if link is not None and not re.fullmatch(r"https?://[^\s<>\"]+", link, re.IGNORECASE):
                raise ValueError(f"{name}: an absolute http:// or https:// URL without spaces")
        if self.mention is not None and not _MENTION_RE.fullmatch(self.mention):
            # It is pasted into `<@…>`: anything else could break out of the mention syntax.
            raise ValueError(
                "mention: a Discord user id or Slack member id (letters and digits), "
                "or & and a Discord role id or Slack user group id"
            )

    @property
    def role_mention(self) -> str | None:
        """The role or user group id when `mention` names one (`&…`), else None."""
        if self.mention is not None and self.mention.startswith("&"):
            return self.mention[1:]
        return None

    @property
    def headline(self) -> str:
        """One line for subjects, notification previews and SMS: "Resolved: [P1] INC-… Checkout is down"."""
        parts = []
        if self.severity:
            parts.append(f"[{self.severity}]")
        if self.incident:
            parts.append(self.incident)
        parts.append(" ".join(self.title.split()))
        label = KIND_LABELS[self.kind]
        line = " ".join(parts)
        return f"{label}: {line}" if label else line

    @property
    def colour(self) -> int:
        """RGB for channels that colour a message (a Discord embed, the e-mail heading): by severity rank."""
        if self.kind is MessageKind.RESOLVED:
            return _RESOLVED
        if self.severity_rank is None:
            return _NEUTRAL
        return _RANK_COLOURS[min(self.severity_rank, len(_RANK_COLOURS) - 1)]
