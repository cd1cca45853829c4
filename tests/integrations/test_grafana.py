"""Grafana alerting webhooks: alerts to signals, and Grafana's HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.protocols import load, raw
from tocsin.domain.alerts import Action, Link
from tocsin.integrations.errors import BadPayload
from tocsin.integrations.grafana import BadSignature, parse, verify

EXAMPLE = "grafana_webhook_docs_example.json"
NOW = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # Unix 1700000000


def resolved_example() -> dict[str, Any]:
    webhook: dict[str, Any] = load(EXAMPLE)
    webhook["status"], webhook["state"] = "resolved", "ok"
    for alert in webhook["alerts"]:
        alert["status"], alert["endsAt"] = "resolved", "2021-10-12T10:01:03.5+02:00"
    return webhook


def test_the_documented_webhook_becomes_one_trigger_per_alert_keyed_by_fingerprint() -> None:
    webhook, signals = parse(raw(EXAMPLE))
    assert webhook.orgId == 1
    assert [(s.action, s.dedup_key) for s in signals] == [
        (Action.TRIGGER, "c6eadffa33fcdf37"),
        (Action.TRIGGER, "bc97ff14869b13e3"),
    ]
    first = signals[0]
    assert first.summary == "This alert was triggered for zone us-1"
    assert first.labels == {"alertname": "High memory usage", "team": "blue", "zone": "us-1"}
    assert first.source == "My Super Webhook"  # no instance or job label: the receiver
    assert first.occurred_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)
    assert first.links == (
        Link("https://play.grafana.org/alerting/1afz29v7z/edit", "Alert rule"),
        Link("https://myrunbook.com/runbook/1234", "Runbook"),
        Link(
            "https://play.grafana.org/alerting/silence/new?alertmanager=grafana&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1",
            "Silence",
        ),
    )
    assert first.details["values"] == {"B": 44.23943737541908, "C": 1}
    assert first.details["annotations"]["description"] == "The system has high memory usage"
    assert (first.details["group_key"], first.details["org_id"]) == ("{}:{}", 1)
    assert json.loads(first.raw)["fingerprint"] == "c6eadffa33fcdf37"


def test_a_resolved_alert_resolves_as_of_its_end() -> None:
    _webhook, signals = parse(json.dumps(resolved_example()).encode())
    assert {s.action for s in signals} == {Action.RESOLVE}
    assert signals[0].occurred_at == datetime(2021, 10, 12, 8, 1, 3, 500000, tzinfo=UTC)


def test_dashboard_panel_and_image_urls_become_links_and_severity_and_instance_are_read_from_labels() -> None:
    webhook = load(EXAMPLE)
    alert = webhook["alerts"][0]
    alert["labels"].update(severity="critical", instance="db-1:9100")
    alert.update(dashboardURL="https://g/d/1", panelURL="https://g/d/1?viewPanel=2", imageURL="https://g/i.png")
    _webhook, [signal, _other] = parse(json.dumps(webhook).encode())
    assert (signal.severity, signal.source) == ("critical", "db-1:9100")
    assert [link.text for link in signal.links] == ["Alert rule", "Dashboard", "Panel", "Runbook", "Silence", "Image"]


def test_an_alert_without_a_fingerprint_is_keyed_by_its_labels_from_firing_to_resolved() -> None:
    firing, resolved = load(EXAMPLE), resolved_example()
    for webhook in (firing, resolved):
        del webhook["alerts"][0]["fingerprint"]
    _w, [fired, _] = parse(json.dumps(firing).encode())
    _w, [ended, _] = parse(json.dumps(resolved).encode())
    assert fired.dedup_key == ended.dedup_key
    assert len(fired.dedup_key) == 32


def test_null_values_and_nanosecond_times_are_read() -> None:
    webhook = load(EXAMPLE)
    webhook["alerts"][0].update(values=None, startsAt="2021-10-12T09:51:03.157076123+02:00")
    _w, [signal, _] = parse(json.dumps(webhook).encode())
    assert "values" not in signal.details
    assert signal.occurred_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)


def changed(change: dict[str, Any], alert: dict[str, Any] | None = None) -> bytes:
    webhook = load(EXAMPLE)
    webhook["alerts"][0].update(alert or {})
    webhook.update(change)
    return json.dumps(webhook).encode()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (changed({"version": "4"}), "version", "payload version '4' is not Grafana's; expected '1'"),
        (changed({}, {"status": "pending"}), "alerts[0].status", "Input should be 'firing' or 'resolved'"),
        (changed({}, {"labels": {"zone": 1}}), "alerts[0].labels.zone", "Input should be a valid string"),
        (changed({}, {"startsAt": "yesterday"}), "alerts[0].startsAt", "valid datetime"),
        (changed({}, {"endsAt": "soon"}), "alerts[0].endsAt", "valid datetime"),
        (changed({}, {"annotations": {"summary": "a\x00"}}), "alerts[0].annotations", "must not contain NUL"),
        (changed({"alerts": None}), "alerts", "valid array"),
        (changed({}, {"values": {"B": "high"}}), "alerts[0].values.B", "valid number"),
        (raw(EXAMPLE).replace(b"44.23943737541908", b"NaN", 1), "alerts[0].values.B", "a finite number"),
    ],
)  # fmt: skip
def test_a_bad_webhook_names_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(BadPayload) as raised:
        parse(body)
    [(named, said)] = raised.value.errors
    assert named == field
    assert message in said


def test_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(BadPayload) as raised:
        parse(b'{"version": "1", ')
    assert raised.value.errors[0][1].startswith("malformed JSON")


# ---- signatures ----------------------------------------------------------------


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_a_signature_over_the_body_verifies() -> None:
    body = raw(EXAMPLE)
    verify("s3cret", body, sign("s3cret", body), None, NOW)
    verify("s3cret", body, sign("s3cret", body).upper(), None, NOW)


def test_with_a_timestamp_the_signature_covers_timestamp_colon_body() -> None:
    # A vector computed apart from this code: HMAC-SHA256("gkey", '1700000000:{"a":1}').
    vector = "22fa362e179e150a7005766ee09f7a41a115d22c6499140a58c3eb23b8e70198"
    verify("gkey", b'{"a":1}', vector, "1700000000", NOW)
    verify("gkey", b'{"a":1}', vector, "1700000000", NOW + timedelta(minutes=4, seconds=59))


@pytest.mark.parametrize(
    ("signature", "timestamp", "now", "reason"),
    [
        (None, None, NOW, "not signed"),
        ("", None, NOW, "not signed"),
        (sign("other", b'{"a":1}'), None, NOW, "does not match"),
        (sign("gkey", b'{"a":2}'), None, NOW, "does not match"),
        ("zz" * 32, None, NOW, "does not match"),
        ("é" * 64, None, NOW, "does not match"),
        (sign("gkey", b'{"a":1}'), "1700000000", NOW, "does not match"),  # signed without the timestamp it names
        (sign("gkey", b'1700000000:{"a":1}'), "1700000000", NOW + timedelta(minutes=6), "more than 5 minutes"),
        (sign("gkey", b'1700000400:{"a":1}'), "1700000400", NOW, "more than 5 minutes"),
        (sign("gkey", b'-1:{"a":1}'), "-1", NOW, "not Unix seconds"),
        (sign("gkey", b'17e8:{"a":1}'), "17e8", NOW, "not Unix seconds"),
        (sign("gkey", b'{"a":1}'), "9" * 5000, NOW, "not Unix seconds"),
    ],
)
def test_a_wrong_missing_or_stale_signature_is_refused(
    signature: str | None, timestamp: str | None, now: datetime, reason: str
) -> None:
    with pytest.raises(BadSignature) as raised:
        verify("gkey", b'{"a":1}', signature, timestamp, now)
    assert reason in str(raised.value)
