from __future__ import annotations

from tocsin.domain.runbooks import DEFAULT_RUNBOOK, Item, Phase, Runbook, best_match, coverage


def runbook(key: str, services: set[str] | None = None, severities: set[str] | None = None) -> Runbook:
    return Runbook(
        key=key,
        name=key,
        phases=(Phase("first", (Item("do it"),)),),
        services=None if services is None else frozenset(services),
        severities=None if severities is None else frozenset(severities),
    )


BOTH = runbook("both", {"api"}, {"P1"})
SERVICE = runbook("service", {"api"})
SEVERITY = runbook("severity", severities={"P1"})
ANYTHING = runbook("anything")


def test_service_and_severity_beats_service_beats_severity_beats_anything() -> None:
    books = [ANYTHING, SEVERITY, SERVICE, BOTH]
    assert best_match(books, ["api"], "P1") == BOTH
    assert best_match([ANYTHING, SEVERITY, SERVICE], ["api"], "P1") == SERVICE
    assert best_match([ANYTHING, SEVERITY], ["api"], "P1") == SEVERITY
    assert best_match([ANYTHING], ["api"], "P1") == ANYTHING


def test_the_shipped_default_is_used_when_nothing_fits() -> None:
    assert best_match([BOTH, SERVICE, SEVERITY], ["web"], "P2") == DEFAULT_RUNBOOK
    assert best_match([], [], "P0") == DEFAULT_RUNBOOK


def test_a_runbook_fits_when_any_of_the_incidents_services_is_named() -> None:
    assert best_match([SERVICE], ["web", "api"], "P3") == SERVICE
    assert best_match([SERVICE], [], "P3") == DEFAULT_RUNBOOK


def test_a_tie_goes_to_the_first_key_whatever_the_order() -> None:
    a, b = runbook("a-api", {"api"}), runbook("b-api", {"api"})
    assert best_match([b, a], ["api"], "P1") == a
    assert best_match([a, b], ["api"], "P1") == a


def test_the_default_runbook_walks_through_the_issues_phases() -> None:
    frames = [p.time_frame for p in DEFAULT_RUNBOOK.phases]
    assert frames == ["first 5 minutes", "5-30 minutes", "30 minutes to resolution", "after"]
    texts = " ".join(i.text.lower() for p in DEFAULT_RUNBOOK.phases for i in p.items)
    for words in ("declare", "assign", "dashboards", "scope", "evidence", "recent changes", "roll back", "postmortem"):
        assert words in texts


def test_coverage_counts_services_a_team_runbook_applies_to() -> None:
    assert coverage([SERVICE, BOTH], ["web", "api", "db"]) == (["api"], ["db", "web"])
    assert coverage([ANYTHING], ["web", "api"]) == (["api", "web"], [])
    assert coverage([SEVERITY], ["web"]) == (["web"], [])
    assert coverage([], ["web"]) == ([], ["web"])
