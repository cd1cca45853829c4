"""Slack incoming webhooks: Block Kit with an Acknowledge button, and a plain `text` fallback.

    POST https://hooks.slack.com/services/T…/B…/…
    {
      "text": "<@U024BE7LH> [P1] INC-2026-11-23-001 Checkout is down",   # notification preview
      "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": headline}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "<@U024BE7LH>\\n" + text},
         "fields": [{"type": "mrkdwn", "text": "*Service*\\ncheckout"}, …]},      # ≤ 10 per section
        {"type": "actions", "elements": [
          {"type": "button", "text": {"type": "plain_text", "text": "Acknowledge"}, "url": ack_url,
           "style": "danger", "action_id": "tocsin-acknowledge"},
          {"type": "button", "text": {"type": "plain_text", "text": "Open incident"}, "url": url,
           "action_id": "tocsin-open"}]}
      ]
    }

A team channel's mention can be a user group (`&<group id>`), written
`<!subteam^S0614TZR7>`.

Slack answers 200 `ok`, or a 4xx whose plain-text body names the problem
(`invalid_payload`, `no_text`, `invalid_token`, `action_prohibited`,
`channel_not_found`, `no_service` when the webhook was revoked,
`channel_is_archived`): all permanent. 429 (about one message a second per
webhook) and 5xx are retried.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tocsin.channels import posting
from tocsin.channels.message import Message
from tocsin.channels.result import DeliveryResult

# Block Kit's limits; past them Slack refuses the whole message with invalid_blocks.
_HEADER, _SECTION, _FIELD, _FIELDS_PER_SECTION, _MAX_FIELDS, _TEXT = 150, 3000, 2000, 10, 40, 3000
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


def send(
    address: str, message: Message, *, client: httpx.Client | None = None, timeout: float = posting.DEFAULT_TIMEOUT
) -> DeliveryResult:
    return posting.send(request(address, message), client=client, timeout=timeout)


def request(address: str, message: Message) -> posting.Post:
    return posting.Post(address, posting.encode(payload(message)), explain=_explain)


def payload(message: Message) -> dict[str, Any]:
    if role := message.role_mention:
        mention = f"<!subteam^{role}>"
    else:
        mention = f"<@{message.mention}>" if message.mention else ""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(message.headline, _HEADER), "emoji": False}}
    ]
    body = "\n".join(part for part in (mention, escape(message.text.strip())) if part)
    fields = [
        {"type": "mrkdwn", "text": _clip(f"*{escape(name)}*\n{escape(value)}", _FIELD)}
        for name, value in list(message.fields)[:_MAX_FIELDS]
    ]
    chunks = [fields[i : i + _FIELDS_PER_SECTION] for i in range(0, len(fields), _FIELDS_PER_SECTION)]
    if body or chunks:
        first: dict[str, Any] = {"type": "section"}
        if body:
            first["text"] = {"type": "mrkdwn", "text": _clip(body, _SECTION)}
        if chunks:
            first["fields"] = chunks.pop(0)
        blocks.append(first)
        blocks.extend({"type": "section", "fields": chunk} for chunk in chunks)
    buttons: list[dict[str, Any]] = []
    if message.ack_url:
        buttons.append(_button("Acknowledge", message.ack_url, "tocsin-acknowledge", style="danger"))
    if message.url:
        buttons.append(_button("Open incident", message.url, "tocsin-open"))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    text = " ".join(part for part in (mention, escape(message.headline)) if part)
    return {"text": _clip(text, _TEXT), "blocks": blocks}


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: `<…>` is a link or mention, so alert text must not contain it raw."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _button(label: str, url: str, action_id: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "url": url,
        "action_id": action_id,
    }
    if style:
        button["style"] = style
    return button


def _explain(response: httpx.Response) -> str:
    # Slack's error bodies are short codes; anything else (an HTML error page) is not shown.
    code = response.text.strip()
    return f"HTTP {response.status_code} ({code})" if _ERROR_CODE.match(code) else f"HTTP {response.status_code}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
