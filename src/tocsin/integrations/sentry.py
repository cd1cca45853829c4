"""Sentry SDK wire formats: auth, compressed bodies, envelopes, legacy store events, sessions.

An envelope is a header line of JSON, then items: an item header line, then its
payload, either exactly `length` bytes or up to the next newline. Items of type
`event` become crashes, `session` and `sessions` become session counts; every
other type (transactions, attachments, client reports, profiles …) is skipped
and counted by type, never an error: SDKs send them freely.

The same `Crash` comes from `POST /api/crashes`, Tocsin's own small JSON for
apps without an SDK (`parse_plain`).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import brotli  # type: ignore[import-untyped]
import orjson

from tocsin.domain import crashes as domain
from tocsin.integrations.errors import BadPayload

# A decompressed body may not exceed this: a small gzip body can inflate a thousandfold.
MAX_DECOMPRESSED = 20 * 1024 * 1024
MAX_ITEMS = 100
# What is kept of an event for people to read: big lists are cut, local variables dropped.
MAX_FRAMES = 50
MAX_STRING = 2000
_EVENT_ID = re.compile(r"^[0-9a-fA-F]{32}$")
_EVENT_TYPES = frozenset({"event", "error"})
_SESSION_TYPES = frozenset({"session", "sessions"})


class BadRequest(BadPayload):
    """The body cannot even be read (compression, size): a 400 naming what failed."""


class TooLarge(BadPayload):
    """The body inflates past the limit: a 413, as Sentry answers an oversized envelope."""


# ---- auth --------------------------------------------------------------------------------------


def auth_key(header: str | None, query: Mapping[str, str]) -> str | None:
    """The public key: `X-Sentry-Auth: Sentry sentry_key=…, sentry_version=7` (server SDKs),
    the `sentry_key` query parameter (browser SDKs, which avoid a CORS preflight), or an
    `Authorization: Sentry …` header."""
    if header:
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() == "sentry":
            for pair in rest.split(","):
                name, _, value = pair.strip().partition("=")
                if name.strip() == "sentry_key" and value.strip():
                    return value.strip()
    key = query.get("sentry_key", "").strip()
    return key or None


def dsn_key(dsn: object) -> tuple[str | None, str | None]:
    """The public key and project id of a DSN, as a tunnel puts it in the envelope header."""
    if not isinstance(dsn, str) or not dsn:
        return None, None
    parts = urlsplit(dsn)
    project = parts.path.rstrip("/").rsplit("/", 1)[-1] or None
    return parts.username or None, project


def dsn(base: str, key: str, project_id: int) -> str:
    """`http(s)://<public key>@<host>[/path]/<project id>`: what Sentry.init takes."""
    parts = urlsplit(base.rstrip("/"))
    return f"{parts.scheme}://{key}@{parts.netloc}{parts.path}/{project_id}"


# ---- compression ------------------------------------------------------------------------------


def decompress(body: bytes, encoding: str | None, limit: int = MAX_DECOMPRESSED) -> bytes:
    """The body as sent before `Content-Encoding`: gzip, deflate (zlib or raw), br or identity."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        if len(body) > limit:
            raise TooLarge([("body", f"the body exceeds {limit} bytes")])
        return body
    try:
        if coding in ("gzip", "x-gzip"):
            return _inflate(zlib.decompressobj(16 + zlib.MAX_WBITS), body, limit)
        if coding == "deflate":
            # HTTP's deflate is zlib-wrapped; some clients send it raw. The header tells them apart.
            wbits = zlib.MAX_WBITS if body[:1] and (body[0] & 0x0F) == 8 and len(body) > 1 else -zlib.MAX_WBITS
            try:
                return _inflate(zlib.decompressobj(wbits), body, limit)
            except zlib.error:
                return _inflate(zlib.decompressobj(-zlib.MAX_WBITS), body, limit)
        if coding == "br":
            return _unbrotli(body, limit)
    except (zlib.error, brotli.error) as exc:
        raise BadRequest([("Content-Encoding", f"the body is not valid {coding}: {exc}")]) from None
    raise BadRequest([("Content-Encoding", f"unsupported content encoding {coding!r}; use gzip, deflate or br")])


def _inflate(inflater: Any, body: bytes, limit: int) -> bytes:
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge([("body", f"the body inflates past {limit} bytes")])
    if not inflater.eof:
        raise BadRequest([("Content-Encoding", "the compressed body is truncated")])
    return bytes(out)


def _unbrotli(body: bytes, limit: int) -> bytes:
    inflater = brotli.Decompressor()
    out = bytearray()
    # Fed in slices, so a bomb is stopped near the limit instead of inflated whole.
    for start in range(0, len(body), 4096):
        out += inflater.process(body[start : start + 4096])
        if len(out) > limit:
            raise TooLarge([("body", f"the body inflates past {limit} bytes")])
    if not inflater.is_finished():
        raise BadRequest([("Content-Encoding", "the compressed body is truncated")])
    return bytes(out)


# ---- envelopes ----------------------------------------------------------------------------------


@dataclass
class Envelope:
    header: dict[str, Any]
    crashes: list[domain.Crash] = field(default_factory=list)
    sessions: list[SessionUpdate] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # item type → how many

    @property
    def event_id(self) -> str | None:
        value = self.header.get("event_id")
        if isinstance(value, str):
            return value
        return self.crashes[0].event_id if self.crashes else None


@dataclass(frozen=True)
class SessionUpdate:
    release: str
    environment: str
    started: datetime
    counts: domain.SessionCounts


def _json_object(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadPayload([(where, f"malformed JSON: {exc}")]) from None
    if not isinstance(value, dict):
        raise BadPayload([(where, "must be a JSON object")])
    return value


def parse_envelope(body: bytes, received_at: datetime) -> Envelope:
    if not body.strip():
        raise BadPayload([("", "the envelope is empty")])
    newline = body.find(b"\n")
    header_line = body if newline < 0 else body[:newline]
    envelope = Envelope(_json_object(header_line, "envelope header"))
    position = len(body) if newline < 0 else newline + 1
    index = 0
    while position < len(body):
        if body[position : position + 1] == b"\n":  # blank lines between items are allowed
            position += 1
            continue
        if index >= MAX_ITEMS:
            raise BadPayload([("items", f"an envelope may hold at most {MAX_ITEMS} items")])
        where = f"items[{index}]"
        end = body.find(b"\n", position)
        item_header = _json_object(body[position : len(body) if end < 0 else end], f"{where} header")
        position = len(body) if end < 0 else end + 1
        length = item_header.get("length")
        if length is not None:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise BadPayload([(f"{where}.length", "must be a whole number of bytes")])
            if position + length > len(body):
                raise BadPayload([(f"{where}.length", f"says {length} bytes; the envelope ends before")])
            payload = body[position : position + length]
            position += length
            if body[position : position + 1] == b"\n":
                position += 1
        else:
            end = body.find(b"\n", position)
            payload = body[position : len(body) if end < 0 else end]
            position = len(body) if end < 0 else end + 1
        item_type = item_header.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise BadPayload([(f"{where}.type", "every item needs a type")])
        if item_type in _EVENT_TYPES:
            envelope.crashes.append(crash_of(_json_object(payload, where), received_at, where))
        elif item_type == "session":
            update = _session(_json_object(payload, where), received_at, where)
            if update is not None:
                envelope.sessions.append(update)
        elif item_type == "sessions":
            envelope.sessions += _aggregates(_json_object(payload, where), received_at, where)
        else:
            envelope.skipped[item_type[:40]] += 1
        index += 1
    return envelope


def parse_store(body: bytes, received_at: datetime) -> domain.Crash:
    """The legacy `/store/` endpoint: one event as a JSON object."""
    if not body.strip():
        raise BadPayload([("", "the event is empty")])
    return crash_of(_json_object(body, "event"), received_at, "event")


# ---- events ---------------------------------------------------------------------------------------


def _text(value: object, limit: int = MAX_STRING) -> str:
    if value is None:
        return ""
    return (value if isinstance(value, str) else str(value))[:limit].replace("\x00", "")


def timestamp_of(value: object) -> datetime | None:
    """RFC 3339 (the Python SDK) or seconds since the epoch as a number (others)."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), UTC)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def _message_of(event: dict[str, Any]) -> str:
    for name in ("logentry", "message"):
        value = event.get(name)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict):
            text = value.get("formatted") or value.get("message")
            if isinstance(text, str) and text:
                return text
    return ""


def _frame(raw: object) -> domain.Frame | None:
    if not isinstance(raw, dict):
        return None
    lineno = raw.get("lineno")
    in_app = raw.get("in_app")
    return domain.Frame(
        function=_text(raw.get("function"), 300),
        module=_text(raw.get("module"), 300),
        filename=_text(raw.get("filename") or raw.get("abs_path"), 500),
        lineno=lineno if isinstance(lineno, int) and not isinstance(lineno, bool) else None,
        in_app=in_app if isinstance(in_app, bool) else None,
        context_line=_text(raw.get("context_line"), 500),
    )


def _frames(stacktrace: object) -> tuple[domain.Frame, ...]:
    if not isinstance(stacktrace, dict) or not isinstance(stacktrace.get("frames"), list):
        return ()
    frames = [frame for raw in stacktrace["frames"] if (frame := _frame(raw)) is not None]
    # The innermost frames are last, and what a person reads: keep those.
    return tuple(frames[-MAX_FRAMES:])


def _exceptions(event: dict[str, Any], where: str) -> tuple[domain.ExceptionInfo, ...]:
    container = event.get("exception")
    values = container.get("values") if isinstance(container, dict) else container
    if values is None:
        return ()
    if not isinstance(values, list):
        raise BadPayload([(f"{where}.exception.values", "must be a list of exceptions")])
    out = []
    for raw in values[-10:]:
        if not isinstance(raw, dict):
            continue
        mechanism = raw.get("mechanism")
        handled = mechanism.get("handled") if isinstance(mechanism, dict) else None
        frames = _frames(raw.get("stacktrace"))
        if not frames:
            # An event's top-level stack belongs to its one exception (older SDKs).
            frames = _frames(event.get("stacktrace")) if len(values) == 1 else ()
        out.append(
            domain.ExceptionInfo(
                type=_text(raw.get("type"), 200) or "Error",
                value=_text(raw.get("value")),
                module=_text(raw.get("module"), 300),
                handled=handled if isinstance(handled, bool) else None,
                frames=frames,
            )
        )
    return tuple(out)


def _tags(value: object) -> dict[str, str]:
    # A dict, or the list of pairs some SDKs send.
    pairs = value.items() if isinstance(value, dict) else value if isinstance(value, list) else ()
    tags: dict[str, str] = {}
    for pair in pairs:
        if isinstance(pair, tuple | list) and len(pair) == 2:
            tags[_text(pair[0], 200)] = _text(pair[1], 200)
        if len(tags) >= 50:
            break
    return tags


def _fingerprint(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(part, str | int | float) for part in value):
        raise BadPayload([(f"{where}.fingerprint", "must be a list of strings")])
    return tuple(_text(part, 500) for part in value[:20])


def _kept(event: dict[str, Any], exceptions: tuple[domain.ExceptionInfo, ...], message: str) -> dict[str, Any]:
    """The sample event as shown: its stack trace and context, without local variables or modules."""
    return {
        "message": message[:MAX_STRING],
        "exceptions": [
            {
                "type": exception.type,
                "value": exception.value,
                "module": exception.module,
                "handled": exception.handled,
                "frames": [
                    {
                        "function": frame.function,
                        "module": frame.module,
                        "filename": frame.filename,
                        "lineno": frame.lineno,
                        "in_app": frame.in_app,
                        "context_line": frame.context_line,
                    }
                    for frame in exception.frames
                ],
            }
            for exception in exceptions
        ],
        "user": {k: _text(v, 200) for k, v in event["user"].items() if k in ("id", "username", "ip_address")}
        if isinstance(event.get("user"), dict)
        else {},
        "sdk": {k: _text(event["sdk"].get(k), 100) for k in ("name", "version")}
        if isinstance(event.get("sdk"), dict)
        else {},
        "trace_id": _text(event["contexts"]["trace"].get("trace_id"), 64)
        if isinstance(event.get("contexts"), dict) and isinstance(event["contexts"].get("trace"), dict)
        else "",
    }


def crash_of(event: dict[str, Any], received_at: datetime, where: str = "event") -> domain.Crash:
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id.replace("-", "")):
        raise BadPayload([(f"{where}.event_id", "must be 32 hexadecimal characters")])
    exceptions = _exceptions(event, where)
    message = _message_of(event)
    occurred = timestamp_of(event.get("timestamp"))
    # A client clock far ahead must not date a crash in the future.
    if occurred is not None and occurred > received_at:
        occurred = received_at
    return domain.Crash(
        event_id=event_id.replace("-", "").lower(),
        level=domain.level_of(event.get("level")),
        message=message,
        exceptions=exceptions,
        fingerprint=_fingerprint(event.get("fingerprint"), where),
        release=_text(event.get("release"), 200),
        environment=_text(event.get("environment"), 100),
        platform=_text(event.get("platform"), 50),
        server_name=_text(event.get("server_name"), 200),
        transaction=_text(event.get("transaction") or event.get("culprit"), 300),
        tags=_tags(event.get("tags")),
        occurred_at=occurred,
        payload=_kept(event, exceptions, message),
    )


# ---- sessions ---------------------------------------------------------------------------------------


def _attrs(item: dict[str, Any]) -> tuple[str, str]:
    attrs = item.get("attrs")
    attrs = attrs if isinstance(attrs, dict) else {}
    return _text(attrs.get("release"), 200), _text(attrs.get("environment"), 100)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _session(item: dict[str, Any], received_at: datetime, where: str) -> SessionUpdate | None:
    release, environment = _attrs(item)
    if not release:
        return None  # Sentry drops sessions without a release too: there is nothing to show them against
    try:
        status = domain.SessionStatus(str(item.get("status", "ok")))
    except ValueError:
        raise BadPayload([(f"{where}.status", "must be ok, exited, crashed, abnormal or errored")]) from None
    started = timestamp_of(item.get("started")) or received_at
    counts = domain.session_update(status, item.get("init") is True, _count(item.get("errors")))
    return SessionUpdate(release, environment, min(started, received_at), counts)


def _aggregates(item: dict[str, Any], received_at: datetime, where: str) -> list[SessionUpdate]:
    release, environment = _attrs(item)
    buckets = item.get("aggregates")
    if not isinstance(buckets, list):
        raise BadPayload([(f"{where}.aggregates", "must be a list of buckets")])
    if not release:
        return []
    out = []
    for bucket in buckets[:1000]:
        if not isinstance(bucket, dict):
            continue
        started = timestamp_of(bucket.get("started")) or received_at
        counts = domain.aggregate_bucket(
            _count(bucket.get("exited")),
            _count(bucket.get("errored")),
            _count(bucket.get("abnormal")),
            _count(bucket.get("crashed")),
        )
        out.append(SessionUpdate(release, environment, min(started, received_at), counts))
    return out


# ---- the plain endpoint -------------------------------------------------------------------------------


def parse_plain(body: bytes, received_at: datetime, event_id: str) -> domain.Crash:
    """`POST /api/crashes`: {"type", "value"} or {"message"}, with optional "frames",
    "release", "environment", "platform", "level", "tags", "fingerprint", "event_id"."""
    if not body.strip():
        raise BadPayload([("", "the crash is empty")])
    data = _json_object(body, "body")
    errors = []
    for name in ("type", "value", "message", "release", "environment", "platform", "level", "event_id"):
        if data.get(name) is not None and not isinstance(data[name], str):
            errors.append((name, "must be a string"))
    if data.get("frames") is not None and not isinstance(data["frames"], list):
        errors.append(("frames", "must be a list of frames"))
    if data.get("tags") is not None and not isinstance(data["tags"], dict):
        errors.append(("tags", "must be an object of strings"))
    if not errors and not data.get("type") and not data.get("message"):
        errors.append(("type", "give the exception type (or a message)"))
    if errors:
        raise BadPayload(errors)
    event: dict[str, Any] = {
        "event_id": data.get("event_id") or event_id,
        "level": data.get("level") or "error",
        "message": data.get("message"),
        "release": data.get("release"),
        "environment": data.get("environment"),
        "platform": data.get("platform") or "other",
        "tags": data.get("tags"),
        "fingerprint": data.get("fingerprint"),
        "timestamp": data.get("timestamp"),
    }
    if data.get("type"):
        frames = [
            {**frame, "in_app": frame.get("in_app", True)}
            for frame in data.get("frames") or []
            if isinstance(frame, dict)
        ]
        event["exception"] = {
            "values": [{"type": data["type"], "value": data.get("value") or "", "stacktrace": {"frames": frames}}]
        }
    return crash_of(event, received_at, "body")
