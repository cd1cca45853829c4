"""Health-check rules: specs, conditions, the N-failures/M-successes state machine, slots, histograms."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.domain import checks as domain

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
POLICY = domain.Policy()  # Gatus's defaults: 3 failures down, 2 successes up


def http(**fields: object) -> domain.HttpSpec:
    spec = domain.parse_spec(domain.Kind.HTTP, {"url": "https://api.example.com/healthz", **fields})
    assert isinstance(spec, domain.HttpSpec)
    return spec


def seen(status: int = 200, body: str = "", ms: float = 20) -> domain.Observation:
    return domain.Observation(elapsed_ms=ms, status_code=status, body=body)


# ---- specs ----


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("http", {"url": "ftp://x"}, "url"),
        ("http", {"url": "http://x", "method": "FETCH"}, "method"),
        ("http", {"url": "http://x", "expect_status": [99]}, "expect_status"),
        ("http", {"url": "http://x", "regex": "("}, "regex"),
        ("http", {"url": "http://x", "conditions": ["$.status ~ ok"]}, "conditions"),
        ("http", {"url": "http://x", "conditions": ["$.n < many"]}, "conditions"),
        ("http", {"url": "http://x", "surprise": 1}, "surprise"),
        ("http", {"url": "http://x", "headers": {"X": 1}}, "headers"),
        ("tcp", {"host": "db"}, "port"),
        ("tcp", {"host": "db", "port": 70000}, "port"),
        ("tcp", {"host": "", "port": 5432}, "host"),
        ("tcp", {"host": "db", "port": True}, "port"),
        ("dns", {"name": "x.test", "record_type": "BOGUS"}, "record_type"),
        ("dns", {"name": "x.test", "nameserver": "10.0.0.1:notaport"}, "nameserver"),
        ("tls", {"host": "x.test", "warn_days": 400}, "warn_days"),
    ],
)
def test_a_bad_spec_names_its_field(kind: str, data: dict[str, object], field: str) -> None:
    with pytest.raises(domain.Problem) as raised:
        domain.parse_spec(domain.Kind(kind), data)
    assert raised.value.field == field


def test_an_unknown_kind_is_named() -> None:
    with pytest.raises(domain.Problem, match="expected one of http, tcp, dns, tls") as raised:
        domain.parse_kind("icmp")
    assert raised.value.field == "kind"


def test_policy_bounds_name_their_field() -> None:
    assert domain.policy_problem(POLICY) is None
    wrong = domain.policy_problem(domain.Policy(interval=timedelta(seconds=30), timeout=timedelta(seconds=31)))
    assert wrong is not None
    assert wrong.field == "timeout_s"
    wrong = domain.policy_problem(domain.Policy(interval=timedelta(seconds=5)))
    assert wrong is not None
    assert wrong.field == "interval_s"
    wrong = domain.policy_problem(domain.Policy(failures_before_down=0))
    assert wrong is not None
    assert wrong.field == "failures_before_down"


# ---- conditions ----


def test_any_2xx_or_3xx_is_up_by_default_and_expect_status_narrows_it() -> None:
    assert domain.evaluate(http(), seen(204), NOW).up
    assert domain.evaluate(http(), seen(500), NOW) == domain.Verdict(False, "status 500")
    assert domain.evaluate(http(expect_status=[200]), seen(301), NOW) == domain.Verdict(
        False, "status 301, expected 200"
    )
    assert domain.evaluate(http(expect_status=418), seen(418), NOW).up


def test_keyword_regex_and_response_time() -> None:
    assert domain.evaluate(http(keyword="healthy"), seen(body="all healthy"), NOW).up
    assert not domain.evaluate(http(keyword="healthy"), seen(body="degraded"), NOW).up
    assert domain.evaluate(http(regex=r"version \d+"), seen(body="version 42"), NOW).up
    slow = domain.evaluate(http(max_response_ms=100), seen(ms=250), NOW)
    assert slow == domain.Verdict(False, "answered in 250 ms, over the 100 ms limit")


def test_json_path_conditions_as_gatus_writes_them() -> None:
    body = '{"status": "ok", "queue": {"depth": 3}, "nodes": [{"up": true}, {"up": false}], "code": 200}'
    assert domain.evaluate(http(conditions=['$.status == "ok"', "$.queue.depth < 10"]), seen(body=body), NOW).up
    assert domain.evaluate(http(conditions=["$.nodes[0].up == true", "$.code == 200"]), seen(body=body), NOW).up
    assert domain.evaluate(http(conditions=["$.status == ok"]), seen(body=body), NOW).up  # unquoted string
    failed = domain.evaluate(http(conditions=["$.nodes[-1].up == true"]), seen(body=body), NOW)
    assert failed == domain.Verdict(False, "$.nodes[-1].up == true is false ($.nodes[-1].up is false)")
    missing = domain.evaluate(http(conditions=["$.nope != 1"]), seen(body=body), NOW)
    assert missing.reason == "$.nope != 1 is false ($.nope is nothing there)"
    not_json = domain.evaluate(http(conditions=['$.status == "ok"']), seen(body="<html>"), NOW)
    assert not_json.reason == "the body is not JSON, which its conditions need"


def test_no_answer_is_down_with_its_message() -> None:
    verdict = domain.evaluate(http(), domain.Observation(elapsed_ms=3, error="connection refused"), NOW)
    assert verdict == domain.Verdict(False, "connection refused")


def test_dns_answers_and_the_expected_value() -> None:
    spec = domain.parse_spec(domain.Kind.DNS, {"name": "api.test", "expect": "10.0.0.7"})
    assert domain.evaluate(spec, domain.Observation(5, answers=("10.0.0.7", "10.0.0.8")), NOW).up
    wrong = domain.evaluate(spec, domain.Observation(5, answers=("10.9.9.9",)), NOW)
    assert wrong.reason == "api.test A is 10.9.9.9, not 10.0.0.7"
    none = domain.evaluate(spec, domain.Observation(5), NOW)
    assert none.reason == "api.test has no A record"
    cname = domain.parse_spec(domain.Kind.DNS, {"name": "www.test", "record_type": "cname", "expect": "Edge.Test"})
    assert domain.evaluate(cname, domain.Observation(5, answers=("edge.test.",)), NOW).up


def test_a_certificate_is_down_inside_its_warning_and_after_it_expires() -> None:
    spec = domain.parse_spec(domain.Kind.TLS, {"host": "api.test", "warn_days": 14})
    assert domain.evaluate(spec, domain.Observation(5, cert_not_after=NOW + timedelta(days=30)), NOW).up
    soon = domain.evaluate(spec, domain.Observation(5, cert_not_after=NOW + timedelta(days=3)), NOW)
    assert soon.reason == "the certificate expires in 3 days (2026-11-26), under the 14 days warning"
    gone = domain.evaluate(spec, domain.Observation(5, cert_not_after=NOW - timedelta(days=1)), NOW)
    assert gone.reason == "the certificate expired on 2026-11-22"


# ---- the state machine ----


def run(policy: domain.Policy, results: str, start: domain.State | None = None) -> list[domain.Transition]:
    state = start or domain.State()
    out = []
    for i, char in enumerate(results):
        transition = domain.step(policy, state, char == "u", NOW + timedelta(minutes=i))
        out.append(transition)
        state = transition.state
    return out


def test_three_failures_take_it_down_once_and_two_successes_bring_it_back() -> None:
    steps = run(POLICY, "ddddduuu")
    assert [s.effect for s in steps] == ["none", "none", "raise", "none", "none", "none", "resolve", "none"]
    assert [s.state.status for s in steps] == ["new", "new", "down", "down", "down", "down", "up", "up"]


def test_a_single_blip_pages_nobody() -> None:
    steps = run(POLICY, "uuduuddu")
    assert all(s.effect == domain.Effect.NONE for s in steps)
    assert steps[-1].state.status == domain.Status.UP


def test_a_success_among_recovery_failures_starts_the_count_again() -> None:
    steps = run(POLICY, "ddd" + "udud" + "uu")
    assert [s.effect for s in steps][3:] == ["none"] * 5 + ["resolve"]


def test_reminders_come_at_most_every_reminder_interval_while_down() -> None:
    policy = domain.Policy(failures_before_down=1, reminder_every=timedelta(minutes=3))
    steps = run(policy, "dddddddd")
    assert [s.effect for s in steps] == ["raise", "none", "none", "remind", "none", "none", "remind", "none"]


def test_a_paused_check_ignores_results_and_resumes_new() -> None:
    paused = domain.pause(domain.State(domain.Status.DOWN, 5, 0, True, NOW))
    assert domain.step(POLICY, paused, False, NOW).effect == domain.Effect.NONE
    assert domain.resume(paused).status == domain.Status.NEW


@given(st.text(alphabet="ud", max_size=40))
def test_raises_and_resolves_alternate_and_never_double(results: str) -> None:
    effects = [s.effect for s in run(POLICY, results) if s.effect != domain.Effect.NONE]
    assert all(a != b for a, b in itertools.pairwise(effects))
    assert not effects or effects[0] == domain.Effect.RAISE


# ---- slots ----


def test_a_checks_slots_are_one_interval_apart_and_stable() -> None:
    interval = timedelta(seconds=60)
    first = domain.next_slot("api-health", interval, NOW)
    assert NOW < first <= NOW + interval
    assert domain.next_slot("api-health", interval, first) == first + interval
    assert domain.next_slot("api-health", interval, first - timedelta(milliseconds=1)) == first


def test_five_thousand_checks_spread_over_their_interval() -> None:
    interval = timedelta(seconds=60)
    seconds = Counter(int((domain.next_slot(f"check-{i}", interval, NOW) - NOW).total_seconds()) for i in range(5000))
    assert len(seconds) == 60
    assert max(seconds.values()) < 130  # ~83 a second; not all at the top of the minute


def test_a_failure_is_held_only_when_the_network_is_gone() -> None:
    assert domain.held(domain.Verdict(False, "x"), connected=False)
    assert not domain.held(domain.Verdict(False, "x"), connected=True)
    assert not domain.held(domain.Verdict(True), connected=False)


# ---- histograms ----


@given(st.lists(st.floats(min_value=0.5, max_value=50_000), min_size=1, max_size=200))
def test_percentiles_from_the_histogram_are_within_a_bucket_of_the_truth(values: list[float]) -> None:
    histogram = domain.add_to_histogram([], values)
    ordered = sorted(values)
    for q in (50, 95, 99):
        truth = ordered[max(0, -(-len(ordered) * q // 100) - 1)]
        estimate = domain.percentile(histogram, q)
        assert estimate is not None
        assert truth / 1.13 <= estimate <= max(truth * 1.13, 1.0)


def test_merged_hours_add_up() -> None:
    one = domain.add_to_histogram([], [10, 20])
    two = domain.add_to_histogram([], [30])
    merged = domain.merge_histograms([one, two])
    assert sum(merged) == 3
    assert domain.percentile(merged, 100) == domain.percentile(two, 100)
    assert domain.percentile([], 50) is None
