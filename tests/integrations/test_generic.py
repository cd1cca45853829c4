"""Generic JSON webhooks read through a per-integration mapping of JSON paths."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tocsin.domain.alerts import Action
from tocsin.integrations.errors import BadPayload
from tocsin.integrations.generic import Mapping, MappingError, parse


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def refusal(raw: bytes, mapping: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(BadPayload) as raised:
        parse(raw, Mapping.of(mapping))
    [(field, message)] = raised.value.errors
    return field, message


UPTIME = {
    "summary": "$.check.name",
    "dedup_key": "$.check.id",
    "severity": "$.level",
    "source": "$.check.url",
    "status": "$.state",
    "labels": {"region": "$.probe.region", "team": "$.check.tags[0]"},
}
EVENT: dict[str, Any] = {
    "check": {"id": 17, "name": "Checkout is down", "url": "https://shop.example.com", "tags": ["payments"]},
    "level": "critical",
    "state": "DOWN",
    "probe": {"region": "eu-west"},
}


def test_a_mapped_body_becomes_a_signal_with_every_mapped_field() -> None:
    [signal] = parse(body(EVENT), Mapping.of(UPTIME))
    assert signal.action == Action.TRIGGER
    assert (signal.dedup_key, signal.summary, signal.severity) == ("17", "Checkout is down", "critical")
    assert signal.source == "https://shop.example.com"
    assert signal.labels == {"region": "eu-west", "team": "payments"}
    assert signal.details == EVENT
    assert signal.raw == body(EVENT)


@pytest.mark.parametrize(
    ("state", "action"),
    [("Resolved", Action.RESOLVE), ("OK", Action.RESOLVE), ("closed", Action.RESOLVE),
     ("acknowledged", Action.ACKNOWLEDGE), ("DOWN", Action.TRIGGER), ("firing", Action.TRIGGER)],
)  # fmt: skip
def test_the_status_resolves_or_acknowledges_by_the_default_values_in_any_case(state: str, action: Action) -> None:
    [signal] = parse(body({**EVENT, "state": state}), Mapping.of(UPTIME))
    assert signal.action == action


def test_resolved_and_acknowledged_values_can_be_set_and_need_not_be_text() -> None:
    mapping = Mapping.of({**UPTIME, "resolved_values": ["UP", 0], "acknowledged_values": [True]})
    assert [s.action for s in parse(body({**EVENT, "state": "up"}), mapping)] == [Action.RESOLVE]
    assert [s.action for s in parse(body({**EVENT, "state": 0}), mapping)] == [Action.RESOLVE]
    assert [s.action for s in parse(body({**EVENT, "state": True}), mapping)] == [Action.ACKNOWLEDGE]
    assert [s.action for s in parse(body({**EVENT, "state": "resolved"}), mapping)] == [Action.TRIGGER]


def test_without_a_status_every_body_triggers_and_without_a_key_the_key_is_stable() -> None:
    mapping = Mapping.of({"summary": "$.title", "labels": "$.labels"})
    first = parse(body({"title": "Disk full", "labels": {"host": "db-1", "n": 3, "ok": False, "x": None}}), mapping)
    again = parse(body({"labels": {"ok": False, "n": 3, "host": "db-1"}, "title": "Disk full"}), mapping)
    other = parse(body({"title": "Disk full", "labels": {"host": "db-2"}}), mapping)
    assert first[0].action == Action.TRIGGER
    assert first[0].labels == {"host": "db-1", "n": "3", "ok": "false"}
    assert first[0].dedup_key == again[0].dedup_key != other[0].dedup_key


def test_one_body_can_carry_several_alerts_each_read_from_its_own_root() -> None:
    mapping = Mapping.of({"alerts": "$.alerts[*]", "summary": "$.title", "dedup_key": "$.id", "status": "$.status"})
    payload = {"alerts": [{"id": "a", "title": "A", "status": "open"}, {"id": "b", "title": "B", "status": "ok"}]}
    signals = parse(body(payload), mapping)
    assert [(s.dedup_key, s.summary, s.action) for s in signals] == [
        ("a", "A", Action.TRIGGER),
        ("b", "B", Action.RESOLVE),
    ]
    assert signals[0].details == payload["alerts"][0]
    assert json.loads(signals[1].raw) == payload["alerts"][1]  # its own part of the body
    # `$.alerts` naming the list itself means the same.
    assert [
        s.dedup_key
        for s in parse(body(payload), Mapping.of({"alerts": "$.alerts", "summary": "$.title", "dedup_key": "$.id"}))
    ] == ["a", "b"]


def test_an_empty_list_of_alerts_is_no_signals_but_no_list_at_all_is_a_mistake() -> None:
    mapping = {"alerts": "$.alerts[*]", "summary": "$.title"}
    assert parse(body({"alerts": []}), Mapping.of(mapping)) == []
    assert refusal(body({"items": []}), mapping) == ("$.alerts[*]", "not found (mapping.alerts)")


def test_a_body_holds_at_most_a_thousand_alerts() -> None:
    mapping = {"alerts": "$.alerts[*]", "summary": "$.t"}
    assert len(parse(body({"alerts": [{"t": "x"}] * 1000}), Mapping.of(mapping))) == 1000
    assert refusal(body({"alerts": [{"t": "x"}] * 1001}), mapping) == (
        "$.alerts[*]",
        "a body holds at most 1000 alerts",
    )


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"check": {"id": 1}}, "$.check.name", "not found (mapping.summary)"),
        ({**EVENT, "check": {**EVENT["check"], "name": "  "}}, "$.check.name", "is empty (mapping.summary)"),
        ({**EVENT, "level": {"x": 1}}, "$.level", "expected text or a number, found an object (mapping.severity)"),
        ({**EVENT, "state": None}, "$.state", "expected text or a number, found null (mapping.status)"),
        ({**EVENT, "check": {**EVENT["check"], "tags": []}}, "$.check.tags[0]", "not found (mapping.labels.team)"),
        ({**EVENT, "check": {**EVENT["check"], "id": "x" * 256}}, "$.check.id",
         "must be 1 to 255 characters (mapping.dedup_key)"),
        ({**EVENT, "check": {**EVENT["check"], "name": "a\x00b"}}, "$.check.name",
         "must not contain NUL characters (mapping.summary)"),
    ],
)  # fmt: skip
def test_a_missing_or_unusable_mapped_field_is_refused_naming_its_path(
    payload: dict[str, Any], field: str, message: str
) -> None:
    assert refusal(body(payload), UPTIME) == (field, message)


def test_inside_several_alerts_the_refusal_names_the_alert() -> None:
    payload = {"alerts": [{"title": "A"}, {"name": "B"}]}
    assert refusal(body(payload), {"alerts": "$.alerts[*]", "summary": "$.title"}) == (
        "$.alerts[1].title",
        "not found (mapping.summary)",
    )


def test_a_path_that_finds_several_values_for_one_field_is_refused() -> None:
    assert refusal(body({"tags": ["a", "b"]}), {"summary": "$.tags[*]"}) == (
        "$.tags[*]",
        "found 2 values, expected one (mapping.summary)",
    )


def test_labels_from_a_path_must_be_an_object() -> None:
    assert refusal(body({"t": "x", "l": ["a"]}), {"summary": "$.t", "labels": "$.l"}) == (
        "$.l",
        "expected an object of labels (mapping.labels)",
    )


@pytest.mark.parametrize("raw", [b"", b"{", b'{"title": NaN}', b"\xff"])
def test_a_body_that_is_not_json_is_refused(raw: bytes) -> None:
    field, message = refusal(raw, {"summary": "$.title"})
    assert field == ""
    assert message.startswith("malformed JSON")


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        (None, "mapping"),
        ({}, "mapping.summary"),
        ({"summary": "title"}, "mapping.summary"),
        ({"summary": 3}, "mapping.summary"),
        ({"summary": "$.t", "severty": "$.s"}, "mapping.severty"),
        ({"summary": "$.t", "status": "$.["}, "mapping.status"),
        ({"summary": "$.t", "labels": {"team": "$.x y"}}, "mapping.labels.team"),
        ({"summary": "$.t", "resolved_values": "ok"}, "mapping.resolved_values"),
    ],
)
def test_a_wrong_mapping_is_named_before_any_body_is_read(mapping: Any, field: str) -> None:
    with pytest.raises(MappingError) as raised:
        Mapping.of(mapping)
    assert raised.value.field == field
