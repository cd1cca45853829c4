"""Sentry's wire formats: the captured sentry-sdk envelopes, auth header and DSN, every content
encoding and its limits, items with and without a length, and what is kept of an event."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from datetime import UTC, datetime, timedelta

import brotli  # type: ignore[import-untyped]
import pytest

from tests.support.protocols import captured_requests, raw
from tocsin.domain.crashes import Level, SessionCounts
from tocsin.integrations import sentry
from tocsin.integrations.errors import BadPayload

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CAPTURED = captured_requests("sentry_python_sdk_capture.json")
ENVELOPE = raw("sentry_envelope_exception.envelope")


def test_the_captured_gzip_body_is_the_captured_envelope() -> None:
    assert sentry.decompress(raw("sentry_envelope_exception.envelope.gz"), "gzip") == ENVELOPE


def test_each_captured_request_parses_as_what_it_was() -> None:
    parsed = [
        sentry.parse_envelope(sentry.decompress(base64.b64decode(r["body_gzip_b64"]), "gzip"), NOW) for r in CAPTURED
    ]
    transaction, handled, message, unhandled = parsed
    assert (transaction.crashes, dict(transaction.skipped)) == ([], {"transaction": 1})
    (zero,) = handled.crashes
    assert zero.event_id == "8d8633e763354eefb44ec2e335de232f"
    assert (zero.level, zero.release, zero.environment, zero.platform) == (
        Level.ERROR,
        "checkout@1.4.2",
        "production",
        "python",
    )
    assert zero.top is not None
    assert (zero.top.type, zero.top.value, zero.top.handled) == ("ZeroDivisionError", "division by zero", True)
    assert [(f.function, f.lineno, f.in_app) for f in zero.top.frames] == [("<module>", 18, True), ("charge", 14, True)]
    assert zero.tags == {"service": "checkout"}
    assert zero.occurred_at == datetime(2026, 11, 22, 11, 51, 59, 554079, tzinfo=UTC)
    (warning,) = message.crashes
    assert (warning.level, warning.message, warning.exceptions) == (
        Level.WARNING,
        "Payment gateway latency above SLO",
        (),
    )
    (runtime,) = unhandled.crashes
    assert runtime.top is not None
    assert runtime.top.handled is False
    assert runtime.environment == "staging"


def test_what_is_kept_of_an_event_has_the_stack_but_not_local_variables_or_the_email() -> None:
    (zero,) = sentry.parse_envelope(ENVELOPE, NOW).crashes
    kept = json.dumps(zero.payload)
    assert "charge" in kept
    assert "vars" not in kept
    assert "jane@example.com" not in kept
    assert zero.payload["user"] == {"id": "42"}
    assert zero.payload["trace_id"] == "8acb9690cfff4a14884f64e53795c03e"


# ---- auth -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "query", "key"),
    [
        ("Sentry sentry_key=publickey, sentry_version=7, sentry_client=sentry.python/2.75.0", {}, "publickey"),
        ("Sentry sentry_version=7,sentry_key=abc,sentry_secret=s", {}, "abc"),
        (None, {"sentry_version": "7", "sentry_key": "fromquery"}, "fromquery"),
        ("Bearer something", {}, None),
        (None, {}, None),
    ],
)
def test_the_key_comes_from_x_sentry_auth_or_the_query(
    header: str | None, query: dict[str, str], key: str | None
) -> None:
    assert sentry.auth_key(header, query) == key


def test_a_dsn_gives_its_key_and_project_and_is_made_from_a_base_url() -> None:
    assert sentry.dsn_key("https://abc@o1.ingest.example.com/42") == ("abc", "42")
    assert sentry.dsn_key(None) == (None, None)
    assert sentry.dsn("https://tocsin.example.com/", "abc", 7) == "https://abc@tocsin.example.com/7"
    assert sentry.dsn("http://127.0.0.1:8080/sub", "abc", 7) == "http://abc@127.0.0.1:8080/sub/7"


# ---- compression --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(ENVELOPE)),
        ("deflate", zlib.compress(ENVELOPE)),
        ("deflate", zlib.compress(ENVELOPE)[2:-4]),
        ("br", brotli.compress(ENVELOPE)),
        (None, ENVELOPE),
        ("identity", ENVELOPE),
    ],
    ids=["gzip", "zlib-deflate", "raw-deflate", "br", "none", "identity"],
)
def test_each_encoding_inflates(encoding: str | None, body: bytes) -> None:
    assert sentry.decompress(body, encoding) == ENVELOPE


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)]
)
def test_a_bomb_is_stopped_at_the_limit(encoding: str, compress: object) -> None:
    body = compress(b"0" * 200_000)  # type: ignore[operator]
    with pytest.raises(sentry.TooLarge):
        sentry.decompress(body, encoding, limit=100_000)
    assert len(sentry.decompress(body, encoding, limit=200_000)) == 200_000


def test_a_truncated_or_foreign_body_is_a_bad_request() -> None:
    with pytest.raises(sentry.BadRequest, match="truncated"):
        sentry.decompress(gzip.compress(ENVELOPE)[:-20], "gzip")
    with pytest.raises(sentry.BadRequest) as caught:
        sentry.decompress(b"plain text", "br")
    assert caught.value.field == "Content-Encoding"
    with pytest.raises(sentry.BadRequest, match="unsupported"):
        sentry.decompress(ENVELOPE, "compress")


# ---- envelopes ----------------------------------------------------------------------------------------


def test_items_without_a_length_run_to_the_newline_and_attachments_with_one_may_hold_newlines() -> None:
    event = b'{"event_id":"0123456789abcdef0123456789abcdef","message":"hi"}'
    body = b"\n".join(
        [b"{}", b'{"type":"attachment","length":5}', b"a\nb\nc", b'{"type":"event"}', event, b'{"type":"log"}', b"{}"]
    )  # no newline at the end: the last payload runs to the end
    parsed = sentry.parse_envelope(body, NOW)
    assert [c.message for c in parsed.crashes] == ["hi"]
    assert dict(parsed.skipped) == {"attachment": 1, "log": 1}
    assert parsed.event_id == "0123456789abcdef0123456789abcdef"


def test_a_header_only_envelope_is_fine_and_an_empty_one_is_not() -> None:
    assert sentry.parse_envelope(b'{"sent_at":"2026-11-23T12:00:00Z"}\n', NOW).crashes == []
    with pytest.raises(BadPayload):
        sentry.parse_envelope(b"  \n", NOW)


def test_float_timestamps_other_sdks_send_and_a_future_clock_is_clamped() -> None:
    event = {"event_id": "0123456789abcdef0123456789abcdef", "timestamp": NOW.timestamp() - 90.5, "message": "m"}
    assert sentry.crash_of(event, NOW).occurred_at == NOW - timedelta(seconds=90.5)
    far = {**event, "timestamp": "2030-01-01T00:00:00Z"}
    assert sentry.crash_of(far, NOW).occurred_at == NOW


def test_message_objects_and_logentry_are_read_as_other_sdks_send_them() -> None:
    base = {"event_id": "0123456789abcdef0123456789abcdef"}
    assert (
        sentry.crash_of({**base, "message": {"formatted": "Hello 5", "message": "Hello %s"}}, NOW).message == "Hello 5"
    )
    assert sentry.crash_of({**base, "logentry": {"message": "from logging"}}, NOW).message == "from logging"


def test_a_fingerprint_that_is_no_list_of_strings_is_refused() -> None:
    with pytest.raises(BadPayload) as caught:
        sentry.crash_of({"event_id": "0123456789abcdef0123456789abcdef", "fingerprint": {"a": 1}}, NOW)
    assert caught.value.field == "event.fingerprint"


def test_too_many_items_are_refused() -> None:
    body = b"{}\n" + b'{"type":"client_report"}\n{}\n' * (sentry.MAX_ITEMS + 1)
    with pytest.raises(BadPayload) as caught:
        sentry.parse_envelope(body, NOW)
    assert caught.value.field == "items"


# ---- sessions -----------------------------------------------------------------------------------------


def test_session_items_without_a_release_are_dropped_and_bad_statuses_refused() -> None:
    item = {"sid": "x", "init": True, "status": "crashed", "attrs": {"environment": "production"}}
    body = b'{}\n{"type":"session"}\n' + json.dumps(item).encode()
    assert sentry.parse_envelope(body, NOW).sessions == []
    item = {**item, "status": "exploded", "attrs": {"release": "a@1"}}
    with pytest.raises(BadPayload) as caught:
        sentry.parse_envelope(b'{}\n{"type":"session"}\n' + json.dumps(item).encode(), NOW)
    assert caught.value.field == "items[0].status"


def test_aggregates_become_one_update_a_bucket() -> None:
    item = {
        "attrs": {"release": "a@1", "environment": "prod"},
        "aggregates": [
            {"started": "2026-11-23T11:00:00Z", "exited": 3},
            {"started": "2026-11-23T11:01:00Z", "crashed": 1},
        ],
    }
    updates = sentry.parse_envelope(b'{}\n{"type":"sessions"}\n' + json.dumps(item).encode(), NOW).sessions
    assert [u.counts for u in updates] == [SessionCounts(total=3), SessionCounts(total=1, crashed=1)]
    assert updates[0].release == "a@1"


# ---- the plain endpoint --------------------------------------------------------------------------------


def test_a_plain_crash_needs_a_type_or_a_message_and_names_wrong_fields() -> None:
    crash = sentry.parse_plain(b'{"type":"Boom","frames":[{"function":"f","module":"m"}]}', NOW, "a" * 32)
    assert crash.top is not None
    assert crash.top.frames[0].in_app is True  # frames sent by the app itself are its own
    assert crash.event_id == "a" * 32
    with pytest.raises(BadPayload) as caught:
        sentry.parse_plain(b'{"release": 3}', NOW, "a" * 32)
    assert caught.value.field == "release"
    with pytest.raises(BadPayload) as caught:
        sentry.parse_plain(b"{}", NOW, "a" * 32)
    assert caught.value.field == "type"
