"""Discord webhooks: one embed, and a mention that pings exactly the person paged.

    POST https://discord.com/api/webhooks/{id}/{token}
    {
      "content": "<@80351110224678912> [P1] INC-2026-11-23-001 Checkout is down",  # only with a mention
      "allowed_mentions": {"parse": [], "users": ["80351110224678912"]},
      "embeds": [{"title": …, "description": text + "[Acknowledge](ack_url)", "url": …,
                  "color": by severity rank, "fields": [{"name", "value", "inline"}], "timestamp": …,
                  "footer": {"text": "Tocsin"}}]
    }

`allowed_mentions.parse` is always empty: alert text saying "@everyone" must
not ping a whole server. A team channel's mention can be a role (`&<role id>`):
then the content starts `<@&role id>` and `allowed_mentions.roles` lists it.
Discord answers 204 (or 200 with `?wait=true`); a 429 carries `retry_after`
(seconds, float) in its JSON body as well as the Retry-After header; 404
`Unknown Webhook` means the webhook was deleted.
"""

from __future__ import annotations

from typing import Any

import httpx

from tocsin.channels import posting
from tocsin.channels.message import Message
from tocsin.channels.result import DeliveryResult

# Discord's limits: past them the whole message is refused with 400.
_TITLE, _DESCRIPTION, _FIELDS, _FIELD_NAME, _FIELD_VALUE, _CONTENT, _TOTAL = 256, 4096, 25, 256, 1024, 2000, 6000
_FOOTER = "Tocsin"


def send(
    address: str, message: Message, *, client: httpx.Client | None = None, timeout: float = posting.DEFAULT_TIMEOUT
) -> DeliveryResult:
    return posting.send(request(address, message), client=client, timeout=timeout)


def request(address: str, message: Message) -> posting.Post:
    return posting.Post(address, posting.encode(payload(message)), explain=_explain, wait=_wait)


def payload(message: Message) -> dict[str, Any]:
    body: dict[str, Any] = {"embeds": [_embed(message)]}
    if role := message.role_mention:
        body["content"] = _clip(f"<@&{role}> {message.headline}", _CONTENT)
        body["allowed_mentions"] = {"parse": [], "roles": [role]}
    elif message.mention:
        body["content"] = _clip(f"<@{message.mention}> {message.headline}", _CONTENT)
        body["allowed_mentions"] = {"parse": [], "users": [message.mention]}
    else:
        body["allowed_mentions"] = {"parse": []}
    return body


def _embed(message: Message) -> dict[str, Any]:
    description = message.text.strip()
    if message.ack_url:
        # A webhook cannot send buttons (only an application's can); a Markdown link works everywhere.
        link = f"[Acknowledge]({message.ack_url.replace(')', '%29')})"
        description = _clip(description, _DESCRIPTION - len(link) - 2)
        description = f"{description}\n\n{link}" if description else link
    embed: dict[str, Any] = {"title": _clip(message.headline, _TITLE), "color": message.colour}
    if description:
        embed["description"] = _clip(description, _DESCRIPTION)
    if message.url:
        embed["url"] = message.url
    if message.at is not None:
        embed["timestamp"] = message.at.isoformat()
    embed["footer"] = {"text": _FOOTER}
    # Discord refuses an empty field name or value.
    fields = [
        (_clip(name, _FIELD_NAME) or "-", _clip(value, _FIELD_VALUE) or "-")
        for name, value in list(message.fields)[:_FIELDS]
    ]
    # All text of all embeds counts against 6000 characters; the last fields give way first.
    used = len(embed["title"]) + len(embed.get("description", "")) + len(_FOOTER)
    while fields and used + sum(len(name) + len(value) for name, value in fields) > _TOTAL:
        fields.pop()
    if fields:
        embed["fields"] = [{"name": name, "value": value, "inline": len(value) <= 40} for name, value in fields]
    return embed


def _explain(response: httpx.Response) -> str:
    # e.g. {"message": "Unknown Webhook", "code": 10015}: Discord's own words, never the URL.
    body = posting.json_body(response)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        code = body.get("code")
        detail = body["message"][:100] + (f", code {code}" if isinstance(code, int) else "")
        return f"HTTP {response.status_code} ({detail})"
    return f"HTTP {response.status_code}"


def _wait(response: httpx.Response) -> float | None:
    body = posting.json_body(response)
    if isinstance(body, dict):
        value = body.get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return posting.retry_after(str(value))
    return None


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…" if limit > 0 else ""
