"""Opsgenie Alert API bodies: create, acknowledge, close; request ids that name alerts."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.protocols import captured_requests
from tocsin.domain.alerts import Action, Link
from tocsin.integrations.errors import BadPayload
from tocsin.integrations.opsgenie import NotJson, alert_number, dedup_key, parse_action, parse_create, request_id


def captured(name: str, what: str) -> bytes:
    [request] = [r for r in captured_requests(name) if r["what"].startswith(what)]
    return str(request["body_raw"]).encode()


def test_the_sdk_create_becomes_a_trigger_keyed_by_its_alias() -> None:
    raw = captured("opsgenie_alert_api_sdk_capture.json", "create alert")
    signal = parse_create(raw)
    assert signal.action == Action.TRIGGER
    assert (signal.dedup_key, signal.summary) == ("checkout-5xx", "checkout 5xx rate above 10%")
    assert (signal.source, signal.severity) == ("checkout-1", "high")  # the entity; P2 is Opsgenie's "high"
    assert signal.labels == {"service": "checkout", "env": "prod", "priority": "P2", "tags": "prod,checkout"}
    assert signal.details["description"] == "5xx ratio 12% over 5m"
    assert signal.details["responders"] == [{"type": "team", "name": "SRE"}]
    assert signal.details["visibleTo"] == [{"type": "team", "name": "SRE"}]
    assert (signal.details["actions"], signal.details["user"], signal.details["note"]) == (
        ["Restart", "Rollback"],
        "jane@example.com",
        "auto-created",
    )
    assert signal.links == ()  # "irp-capture" is no URL
    assert signal.raw == raw


def test_alertmanager_s_create_keeps_its_group_alias_labels_and_source_link() -> None:
    raw = captured("alertmanager_slack_discord_opsgenie_capture.json", "opsgenie_configs: create")
    signal = parse_create(raw)
    assert signal.dedup_key == "53bf3a567fb14da9ebd29ef21e6e9cfa8792878f152a58fe4da7ef2ea10e1ec8"
    assert signal.summary == "[FIRING:1] HighErrorRate checkout (chat critical)"
    assert signal.labels["alertname"] == "HighErrorRate"
    assert signal.labels["severity"] == "critical"
    assert signal.links == (Link("http://127.0.0.1:19093/#/alerts?receiver=chat", "Source"),)
    assert signal.source == "http://127.0.0.1:19093/#/alerts?receiver=chat"


@pytest.mark.parametrize(
    ("priority", "severity"),
    [
        ("P1", "critical"),
        ("P2", "high"),
        ("P3", "moderate"),
        ("P4", "low"),
        ("P5", "informational"),
        (None, "moderate"),
    ],
)
def test_priorities_become_opsgenie_s_words_and_default_to_p3(priority: str | None, severity: str) -> None:
    signal = parse_create(json.dumps({"message": "m", "alias": "a", "priority": priority}).encode())
    assert signal.severity == severity
    assert signal.labels["priority"] == (priority or "P3")


def test_without_an_alias_every_create_is_a_new_alert() -> None:
    raw = b'{"message": "m"}'
    assert parse_create(raw).dedup_key != parse_create(raw).dedup_key


def test_an_alias_longer_than_a_dedup_key_is_known_by_its_hash() -> None:
    assert dedup_key("a" * 255) == "a" * 255
    long = dedup_key("a" * 300)
    assert long == dedup_key("a" * 300) != dedup_key("a" * 299 + "b")
    assert long.startswith("sha256:")
    assert len(long) == 71
    assert parse_create(json.dumps({"message": "m", "alias": "a" * 300}).encode()).dedup_key == long


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"alias": "a"}, "message", "Field required"),
        ({"message": "  "}, "message", "Value error, Message can not be empty."),
        ({"message": 5}, "message", "Input should be a valid string"),
        ({"message": "m", "priority": "P6"}, "priority", "Input should be 'P1', 'P2', 'P3', 'P4' or 'P5'"),
        ({"message": "m", "details": {"a": 1}}, "details.a", "Input should be a valid string"),
        ({"message": "m", "tags": "prod"}, "tags", "Input should be a valid array"),
        ({"message": "m", "responders": [{"type": "robot", "name": "x"}]}, "responders[0].type",
         "Input should be 'team', 'user', 'escalation' or 'schedule'"),
        ({"message": "m", "responders": [{"type": "team"}]}, "responders[0]",
         "Value error, a responder needs an id, a name or a username"),
        ({"message": "a\x00b"}, "message", "Value error, must not contain NUL characters"),
        ({"message": "m", "details": {"a": "\x00"}}, "details", "Value error, must not contain NUL characters"),
        ([], "", "Input should be an object"),
    ],
)  # fmt: skip
def test_a_bad_create_names_the_field(payload: Any, field: str, message: str) -> None:
    with pytest.raises(BadPayload) as raised:
        parse_create(json.dumps(payload).encode())
    assert not isinstance(raised.value, NotJson)
    assert raised.value.errors == [(field, message)]


@pytest.mark.parametrize("raw", [b"", b"{", b"message=m", b"\xff"])
def test_a_body_that_is_not_json_is_told_apart_from_a_wrong_one(raw: bytes) -> None:
    with pytest.raises(NotJson) as raised:
        parse_create(raw)
    assert raised.value.errors[0][1].startswith("malformed JSON")


def test_acknowledge_and_close_bodies_are_optional_and_kept_as_details() -> None:
    bare = parse_action(b"", Action.ACKNOWLEDGE, "checkout-5xx")
    assert (bare.action, bare.dedup_key, bare.details) == (Action.ACKNOWLEDGE, "checkout-5xx", {})
    raw = captured("opsgenie_alert_api_sdk_capture.json", "close alert")
    closed = parse_action(raw, Action.RESOLVE, "checkout-5xx")
    assert closed.action == Action.RESOLVE
    assert closed.details == {"user": "jane@example.com", "note": "recovered", "source": "irp-capture"}
    with pytest.raises(BadPayload) as raised:
        parse_action(b'{"user": ["x"]}', Action.RESOLVE, "k")
    assert raised.value.field == "user"
    with pytest.raises(NotJson):
        parse_action(b"{nope", Action.RESOLVE, "k")


@given(st.integers(min_value=1, max_value=2**62 - 1))
def test_a_request_id_is_a_uuid_that_names_its_alert(alert_id: int) -> None:
    answered = request_id(alert_id)
    assert uuid.UUID(answered).version == 8
    assert alert_number(answered) == alert_id


def test_request_ids_are_unique_and_name_nothing_without_an_alert() -> None:
    assert request_id(7) != request_id(7)
    anonymous = request_id(None)
    assert uuid.UUID(anonymous).version == 4
    assert alert_number(anonymous) is None


# A uuid4 written out, not made at collection: pytest-xdist's workers must collect the same test ids.
@pytest.mark.parametrize(
    ("identifier", "number"),
    [("42", 42), (" 42 ", 42), ("0", None), ("checkout-5xx", None), ("\u0663", None), ("9" * 19, None),
     ("3b241101-e2bb-4255-8caf-4136c566a962", None), ("00000000-0000-8000-8000-000000000000", None)],
)  # fmt: skip
def test_an_id_or_tiny_identifier_is_a_tocsin_alert_number_or_one_of_our_request_ids(
    identifier: str, number: int | None
) -> None:
    assert alert_number(identifier) == number
