"""Scoring the readiness audit: each component from its facts, the weighted total, the order of next steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tocsin.domain import readiness
from tocsin.domain.channel_routing import Route
from tocsin.domain.readiness import Deadlines, HeartbeatFacts, Responder, ScheduleCoverage, Sender, ServiceFacts

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
API = ServiceFacts(1, "api", has_policy=True, checks=1)
WEB = ServiceFacts(2, "web", has_policy=False, checks=0)


def test_escalation_is_the_share_of_services_with_a_policy() -> None:
    half = readiness.escalation([API, WEB])
    assert half.score == 50
    assert "web" in (half.next_step or "")
    assert readiness.escalation([API]).score == 100
    assert readiness.escalation([API]).next_step is None
    assert readiness.escalation([]).score == 0


def test_a_gap_in_the_next_two_weeks_costs_its_share_and_any_gap_keeps_coverage_below_100() -> None:
    day = timedelta(days=1)
    a_day_missing = ScheduleCoverage("primary", [(NOW + day, NOW + 2 * day, "nobody on call Tue")])
    assert readiness.coverage([a_day_missing], NOW).score == 92  # 13 of 14 days
    assert "primary: 1 gaps, 24 h uncovered" in readiness.coverage([a_day_missing], NOW).evidence[0]
    a_minute = ScheduleCoverage("primary", [(NOW, NOW + timedelta(minutes=1), "a minute")])
    assert readiness.coverage([a_minute], NOW).score == 99
    assert readiness.coverage([ScheduleCoverage("primary", [])], NOW).score == 100
    assert readiness.coverage([], NOW).score == 0


def test_reachable_is_the_share_of_on_call_people_with_a_verified_contact_method() -> None:
    people = [Responder("alice@example.com", True), Responder("bob@example.com", False)]
    scored = readiness.reachable(people)
    assert scored.score == 50
    assert "bob@example.com" in (scored.next_step or "")
    assert readiness.reachable([]).score == 0


def test_failure_notifications_need_routes_for_ci_and_deploy_failures_and_github_receiving() -> None:
    nothing = readiness.failure_notifications([API, WEB], [], [], NOW)
    assert nothing.score == 0
    routes = [Route(1, ("ci.*",), None), Route(2, ("deploy.failed",), 1)]
    partly = readiness.failure_notifications([API, WEB], routes, [], NOW)
    assert partly.score == 52  # 35 for CI on both, 17.5 for deploys on one of two
    github = [Sender("repo", "api", NOW - timedelta(days=1), True)]
    assert readiness.failure_notifications([API, WEB], routes, github, NOW).score == 82
    quiet = [Sender("repo", "api", NOW - timedelta(days=8), True)]
    assert readiness.failure_notifications([API, WEB], routes, quiet, NOW).score == 62
    everything = [Route(1, ("*",), None)]
    assert readiness.failure_notifications([API, WEB], everything, github, NOW).score == 100


def test_crash_reporting_and_repeated_failures_score_their_integrations() -> None:
    assert readiness.crash_reporting([], NOW).score == 0
    crashes = [Sender("app", "web", NOW - timedelta(hours=1)), Sender("mobile", "web", None)]
    assert readiness.crash_reporting(crashes, NOW).score == 50
    assert readiness.repeated_failures([]).score == 0
    assert (
        readiness.repeated_failures([Sender("repo", "api", None, True), Sender("r2", "api", None, False)]).score == 50
    )


def test_health_checks_and_heartbeats() -> None:
    assert readiness.health_checks([API, WEB]).score == 50
    assert readiness.heartbeats([]).score == 0
    assert readiness.heartbeats([HeartbeatFacts("backup", "paused")]).score == 0
    assert readiness.heartbeats([HeartbeatFacts("backup", "up"), HeartbeatFacts("etl", "down")]).score == 50


def test_postmortems_and_action_items_with_nothing_due_are_not_scored() -> None:
    assert readiness.postmortems(Deadlines(0, 0, 0)).score is None
    assert readiness.postmortems(Deadlines(on_time=3, late=1, missing=0)).score == 75
    # An action item done late is closed; only the ones still open past their date count against.
    assert readiness.action_items(Deadlines(on_time=2, late=1, missing=1)).score == 75
    assert readiness.runbooks(["api"], ["web", "db", "queue"]).score == 25
    assert readiness.runbooks([], []).score == 0


def test_the_total_is_the_weighted_mean_of_scored_components_and_steps_go_by_gain() -> None:
    components = [
        readiness.escalation([API, WEB]),  # 50, weight 3
        readiness.heartbeats([]),  # 0, weight 1
        readiness.health_checks([API]),  # 100, weight 2
        readiness.postmortems(Deadlines(0, 0, 0)),  # not scored
    ]
    audit = readiness.audit("platform", NOW, components)
    assert audit.total == (3 * 50 + 1 * 0 + 2 * 100) // 6  # 58
    assert [s.component for s in audit.next_steps] == ["escalation_policies", "heartbeats"]
    assert [s.gain for s in audit.next_steps] == [25.0, 16.7]
    assert [c.key for c in audit.components][:2] == ["escalation_policies", "health_checks"]
    assert readiness.audit(None, NOW, []).total == 0
