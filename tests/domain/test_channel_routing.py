"""Which channels hear an event: patterns, services, severity thresholds, each channel once."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.domain import channel_routing as routing
from tocsin.domain.channel_routing import Event, EventType, Route

RANKS = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
API, WEB = 1, 2
ALERTS, DEPLOYS, DEV, CRASHES = 10, 20, 30, 40

# The routes a team has today: one channel per kind of news.
TEAM = [
    Route(ALERTS, ("incident.*",), min_severity="P2"),
    Route(DEPLOYS, ("deploy.*", "change.*")),
    Route(DEV, ("ci.*", "dev.*")),
    Route(CRASHES, ("crash.*",), service_id=API),
]


def heard(event: Event, routes: list[Route] = TEAM) -> tuple[int, ...]:
    return routing.channels_for(event, routes, RANKS)


def test_each_kind_of_news_goes_to_its_own_channel() -> None:
    assert heard(Event("incident.declared", frozenset({API}), "P1")) == (ALERTS,)
    assert heard(Event("deploy.failed", frozenset({WEB}))) == (DEPLOYS,)
    assert heard(Event("change.recorded")) == (DEPLOYS,)
    assert heard(Event("ci.failed", frozenset({API}))) == (DEV,)
    assert heard(Event("crash.regressed", frozenset({API}))) == (CRASHES,)


def test_a_route_for_one_service_ignores_the_others_and_events_about_no_service() -> None:
    assert heard(Event("crash.new", frozenset({WEB}))) == ()
    assert heard(Event("crash.new")) == ()
    assert heard(Event("crash.new", frozenset({WEB, API}))) == (CRASHES,)


def test_the_threshold_lets_through_the_named_severity_and_worse() -> None:
    assert heard(Event("incident.declared", frozenset(), "P0")) == (ALERTS,)
    assert heard(Event("incident.declared", frozenset(), "P2")) == (ALERTS,)
    assert heard(Event("incident.declared", frozenset(), "P3")) == ()


def test_events_without_a_severity_ignore_thresholds() -> None:
    routes = [Route(DEPLOYS, ("deploy.*",), min_severity="P0")]
    assert heard(Event("deploy.succeeded", frozenset({API})), routes) == (DEPLOYS,)


def test_a_severity_the_scheme_does_not_know_is_not_filtered_rather_than_silenced() -> None:
    assert heard(Event("incident.declared", frozenset(), "SEV2")) == (ALERTS,)
    routes = [Route(ALERTS, ("*",), min_severity="SEV1")]
    assert heard(Event("incident.declared", frozenset(), "P3"), routes) == (ALERTS,)


def test_a_channel_with_several_matching_routes_hears_an_event_once() -> None:
    routes = [
        Route(ALERTS, ("incident.*",)),
        Route(ALERTS, ("incident.declared",), service_id=API),
        Route(DEPLOYS, ("*",)),
        Route(ALERTS, ("*",)),
    ]
    assert heard(Event("incident.declared", frozenset({API}), "P1"), routes) == (ALERTS, DEPLOYS)


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ("*", "incident.update", True),
        ("*", "crash.new", True),
        ("incident.*", "incident.resolved", True),
        ("incident.*", "deploy.failed", False),
        ("deploy.failed", "deploy.failed", True),
        ("deploy.failed", "deploy.succeeded", False),
        ("dev.*", "deploy.failed", False),  # a family is a whole word, not a prefix
    ],
)
def test_pattern_matching(pattern: str, event: str, expected: bool) -> None:
    assert routing.pattern_problem(pattern) is None
    assert routing.matches(pattern, event) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("incident.resolve", "unknown event type 'incident.resolve'; incident events are incident.declared"),
        ("incident", "'incident' is not an event pattern"),
        ("alerts.*", "'alerts.*' is not an event pattern"),
        ("**", "'**' is not an event pattern"),
        ("ci.Failed", "'ci.Failed' is not an event type: ci. followed by lowercase letters"),
        ("crash.", "'crash.' is not an event type"),
    ],
)
def test_a_bad_pattern_is_named_with_what_would_be_right(pattern: str, message: str) -> None:
    problem = routing.pattern_problem(pattern)
    assert problem is not None
    assert problem.startswith(message)


def test_reserved_families_take_any_well_formed_name() -> None:
    for pattern in ("ci.failed", "ci.succeeded", "dev.pull_request_opened", "crash.new", "crash.regressed"):
        assert routing.pattern_problem(pattern) is None


def test_every_event_type_is_its_own_valid_pattern_in_a_known_family() -> None:
    for event in EventType:
        assert routing.pattern_problem(event.value) is None
        assert event.value.partition(".")[0] in routing.FAMILIES


# ---- what timeline entries and changes become --------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("triggered", "acknowledged", EventType.INCIDENT_ACKNOWLEDGED),
        ("triggered", "investigating", EventType.INCIDENT_ACKNOWLEDGED),  # any first answer acknowledges
        ("acknowledged", "investigating", EventType.INCIDENT_STATUS_CHANGED),
        ("identified", "mitigating", EventType.INCIDENT_STATUS_CHANGED),
        ("mitigating", "monitoring", EventType.INCIDENT_MITIGATED),
        ("triggered", "monitoring", EventType.INCIDENT_MITIGATED),
        ("monitoring", "resolved", EventType.INCIDENT_RESOLVED),
        ("triggered", "resolved", EventType.INCIDENT_RESOLVED),  # the later of the two things it says
        ("resolved", "investigating", EventType.INCIDENT_REOPENED),
        ("monitoring", "investigating", EventType.INCIDENT_REOPENED),
        ("triggered", "canceled", EventType.INCIDENT_CANCELED),
    ],
)
def test_status_moves(before: str, after: str, expected: EventType) -> None:
    assert routing.status_event(before, after) is expected
    assert routing.timeline_event("status", {"from": before, "to": after}) is expected


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("declared", {"severity": "P1"}, EventType.INCIDENT_DECLARED),
        ("severity", {"from": "P2", "to": "P1"}, EventType.INCIDENT_SEVERITY_CHANGED),
        ("update", {"public": False}, EventType.INCIDENT_UPDATE),
        ("note", {"event": "page", "round": 0, "level": 1}, EventType.INCIDENT_ESCALATED),
        ("note", {"event": "page", "round": 1, "level": 0}, EventType.INCIDENT_ESCALATED),
        ("note", {"event": "page", "round": 0, "level": 0}, None),  # the first page is the declaration's
        ("note", {}, None),
        ("note", {"event": "escalation_stopped"}, None),
        ("alert", {"alert": 7}, None),
        ("role", {"role": "commander"}, None),
        ("field", {"field": "title"}, None),
        ("target_missed", {}, None),
    ],
)
def test_timeline_entries(kind: str, data: dict[str, Any], expected: EventType | None) -> None:
    assert routing.timeline_event(kind, data) is expected


def test_only_the_posted_kinds_and_page_notes_can_become_events() -> None:
    posted = {kind.value for kind in routing.POSTED_KINDS}
    assert "alert" not in posted
    for kind in ("declared", "status", "severity", "update", "note", "role", "field", "alert", "target_missed"):
        data = {"event": "page", "level": 2, "from": "triggered", "to": "resolved"}
        if routing.timeline_event(kind, data) is not None:
            assert kind in posted or kind == "note"


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("deploy.failed", EventType.DEPLOY_FAILED),
        ("deploy.started", EventType.DEPLOY_STARTED),
        ("change.recorded", EventType.CHANGE_RECORDED),
        ("incident.declared", EventType.CHANGE_RECORDED),  # a change cannot pass for an incident
        ("push", EventType.CHANGE_RECORDED),
        (None, EventType.CHANGE_RECORDED),
        (["deploy.failed"], EventType.CHANGE_RECORDED),
    ],
)
def test_a_change_is_what_its_sender_declared_when_that_is_a_change(declared: object, expected: EventType) -> None:
    assert routing.change_event(declared) is expected


def test_mentions_and_signing_belong_to_the_kinds_that_have_them() -> None:
    assert routing.mention_problem("discord", "&123456789012345678") is None
    assert routing.mention_problem("slack", "U024BE7LH") is None
    assert routing.mention_problem("email", "U024BE7LH") == "only Discord and Slack channels mention someone, not email"
    assert routing.mention_problem("discord", "<@&1>") is not None  # would break out of `<@…>`
    assert routing.signing_problem("webhook") is None
    assert routing.signing_problem("slack") == "only webhook channels sign what they send, not slack"


# ---- properties ------------------------------------------------------------------------

_TYPES = st.sampled_from([*routing.EVENT_TYPES, "ci.failed", "dev.push", "crash.new"])
_PATTERNS = st.one_of(
    st.just("*"), st.sampled_from([f"{family}.*" for family in routing.FAMILIES]), st.sampled_from(routing.EVENT_TYPES)
)
_SEVERITIES = st.one_of(st.none(), st.sampled_from([*RANKS, "SEV9"]))
_ROUTES = st.lists(
    st.builds(
        Route,
        channel_id=st.integers(1, 6),
        events=st.lists(_PATTERNS, min_size=1, max_size=3).map(tuple),
        service_id=st.one_of(st.none(), st.integers(1, 3)),
        min_severity=_SEVERITIES,
    ),
    max_size=8,
)
_EVENTS = st.builds(Event, type=_TYPES, services=st.frozensets(st.integers(1, 3), max_size=2), severity=_SEVERITIES)


@given(_EVENTS, _ROUTES)
def test_every_channel_is_heard_once_and_only_through_a_matching_route(event: Event, routes: list[Route]) -> None:
    channels = heard(event, routes)
    assert len(channels) == len(set(channels))
    expected = {route.channel_id for route in routes if routing.route_matches(route, event, RANKS)}
    assert set(channels) == expected


@given(_EVENTS, _ROUTES, st.randoms())
def test_the_order_of_routes_changes_the_order_not_the_channels(event: Event, routes: list[Route], rng: Any) -> None:
    shuffled = list(routes)
    rng.shuffle(shuffled)
    assert set(heard(event, routes)) == set(heard(event, shuffled))


@given(_TYPES, st.frozensets(st.integers(1, 3), max_size=2), _SEVERITIES)
def test_a_route_for_everything_hears_everything(kind: str, services: frozenset[int], severity: str | None) -> None:
    assert heard(Event(kind, services, severity), [Route(ALERTS, ("*",))]) == (ALERTS,)


@given(st.sampled_from(list(RANKS)), st.sampled_from(list(RANKS)), st.sampled_from(list(RANKS)))
def test_a_more_severe_event_passes_every_threshold_a_less_severe_one_passes(
    severity: str, worse: str, minimum: str
) -> None:
    if RANKS[worse] <= RANKS[severity] and routing.severity_passes(severity, minimum, RANKS):
        assert routing.severity_passes(worse, minimum, RANKS)


@given(_TYPES, _PATTERNS)
def test_a_family_pattern_matches_exactly_its_family(kind: str, pattern: str) -> None:
    if pattern.endswith(".*"):
        assert routing.matches(pattern, kind) == (kind.partition(".")[0] == pattern.partition(".")[0])
