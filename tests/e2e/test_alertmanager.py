"""Debian's real Alertmanager delivering to a real `tocsin serve`, on both databases.

Alerts are posted to Alertmanager the way Prometheus posts them; Alertmanager
groups them and notifies Tocsin on its own schedule (first at once, then again
every half second while they fire, as it does every `repeat_interval` in
production). The tests poll Tocsin's API with a deadline for the state they
expect: Alertmanager runs on the real clock, so they wait on it, never on Tocsin's.

Integrations use `group_window_s: 0`, so only deduplication and group labels,
not the time window, can keep Alertmanager's re-sends in one incident.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import Personas
from tests.e2e.conftest import StartAlertmanager
from tests.support import alertmanager
from tests.support.alertmanager import Alertmanager
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

T = TypeVar("T")
Json = dict[str, Any]

FIRING = alertmanager.alert(
    {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical", "instance": "checkout-1:8080"},
    annotations={"summary": "High 5xx rate on checkout-1", "runbook_url": "https://runbooks.example.com/5xx"},
)
# The root route's group key for FIRING under `group_by: [alertname, service]`.
GROUP_KEY = '{}:{alertname="HighErrorRate", service="checkout"}'
DEADLINE_S = 20.0  # Alertmanager answers within a second or two; this is only the failure bound


@dataclass
class Scene:
    """One Tocsin server, one integration on service `api`, one Alertmanager pointed at it."""

    server: ServerProcess
    personas: Personas
    key: str = ""
    manager: Alertmanager | None = None

    def integrate(self, kind: str, **settings: object) -> str:
        answer = httpx.post(
            f"{self.server.url}/api/v1/integrations",
            json={"service": "api", "kind": kind, "settings": {"group_window_s": 0, **settings}},
            headers=self.personas.bob.headers,
        )
        assert answer.status_code == 201, answer.text
        self.key = str(answer.json()["key"])
        return self.key

    @property
    def am(self) -> Alertmanager:
        assert self.manager is not None
        return self.manager

    def _get(self, path: str, **params: str) -> Json:
        answer = httpx.get(f"{self.server.url}{path}", params=params, headers=self.personas.charlie.headers)
        answer.raise_for_status()
        body: Json = answer.json()
        return body

    def incidents(self) -> list[Json]:
        items: list[Json] = self._get("/api/v1/incidents", status="all")["items"]
        return items

    def alerts(self) -> list[Json]:
        items: list[Json] = self._get("/api/v1/alerts", limit="500")["items"]
        return sorted(items, key=lambda a: str(a["labels"].get("instance", "")))

    def until(self, what: str, probe: Callable[[], T | None]) -> T:
        """Poll until `probe` returns something truthy; fail with both programs' logs after the deadline."""
        deadline = time.monotonic() + DEADLINE_S
        seen: T | None = None
        while time.monotonic() < deadline:
            seen = probe()
            if seen:
                return seen
            time.sleep(0.1)  # polling Alertmanager, a real process on the real clock
        pytest.fail(
            f"after {DEADLINE_S:.0f} s, still not {what}\n"
            f"incidents: {self.incidents()}\nalerts: {self.alerts()}\n"
            f"--- Alertmanager log (tail)\n{self.am.log()[-6000:]}\n--- Tocsin log (tail)\n{self.server.log()[-6000:]}"
        )

    def assert_tocsin_never_refused(self) -> None:
        """Alertmanager logs a refused or failed delivery as a warning ("Notify attempt failed, will retry
        later") or an error ("Notify for alerts failed"); every delivery must have been a 2xx."""
        failures = [line for line in self.am.log().splitlines() if "level=warn" in line or "level=error" in line]
        assert failures == [], "\n".join(failures)


@pytest.fixture
def scene(server: ServerProcess, personas: Personas) -> Scene:
    return Scene(server, personas)


def webhook(name: str, url: str, **extra: object) -> Json:
    return {"name": name, "webhook_configs": [{"url": url, "send_resolved": True, **extra}]}


@dataclass(frozen=True)
class Story:
    incident: Json  # as Tocsin holds them at the end
    alert: Json
    fingerprint: str  # Alertmanager's identity of the alert


def fire_repeat_resolve(scene: Scene, final_status: str) -> Story:
    """The story every receiver must tell: fire → one incident; re-sends → same incident; resolve → `final_status`."""
    scene.am.post(FIRING)

    def opened() -> tuple[Json, Json] | None:
        incidents, alerts = scene.incidents(), scene.alerts()
        return (incidents[0], alerts[0]) if incidents and alerts and alerts[0]["incident"] else None

    incident, first = scene.until("an incident with the alert attached", opened)
    assert (incident["status"], incident["services"]) == ("triggered", ["api"])
    assert first["incident"] == incident["human_id"]
    [held] = scene.am.alerts()

    scene.am.post(FIRING)  # Prometheus re-posts a firing alert every evaluation; Alertmanager merges it
    scene.until("three deliveries of the alert", lambda: [a for a in scene.alerts() if a["count"] >= 3])
    [incident] = scene.incidents()
    [alert] = scene.alerts()
    assert (incident["human_id"], incident["status"]) == (first["incident"], "triggered")
    assert (alert["id"], alert["status"], alert["incident"]) == (first["id"], "firing", incident["human_id"])

    scene.am.post(alertmanager.resolved(FIRING))
    scene.until(f"the incident {final_status}", lambda: [i for i in scene.incidents() if i["status"] == final_status])
    [incident] = scene.incidents()
    [alert] = scene.alerts()
    assert (alert["id"], alert["status"]) == (first["id"], "resolved")
    scene.assert_tocsin_never_refused()
    return Story(incident, alert, held["fingerprint"])


def test_a_webhook_receiver_with_the_key_in_the_url_opens_one_incident_and_moves_it_to_monitoring(
    scene: Scene, start_alertmanager: StartAlertmanager
) -> None:
    key = scene.integrate("alertmanager")
    url = f"{scene.server.url}/api/v1/integrations/alertmanager/{key}"
    scene.manager = start_alertmanager(alertmanager.config(webhook("tocsin", url)))

    story = fire_repeat_resolve(scene, "monitoring")

    alert = story.alert
    assert alert["dedup_key"] == story.fingerprint
    assert alert["summary"] == "High 5xx rate on checkout-1"
    assert alert["details"]["group_key"] == GROUP_KEY
    assert {link["text"] for link in alert["links"]} == {"Source", "Runbook"}


def test_a_webhook_receiver_with_a_bearer_token_resolves_the_incident_when_told_to(
    scene: Scene, start_alertmanager: StartAlertmanager
) -> None:
    key = scene.integrate("alertmanager", auto_resolve="resolve")
    receiver = webhook(
        "tocsin",
        f"{scene.server.url}/api/v1/integrations/alertmanager",
        http_config={"authorization": {"type": "Bearer", "credentials": key}},
    )
    scene.manager = start_alertmanager(alertmanager.config(receiver))

    story = fire_repeat_resolve(scene, "resolved")

    assert story.incident["resolved_at"] is not None
    assert story.alert["dedup_key"] == story.fingerprint


def test_a_pagerduty_receiver_opens_one_incident_per_group_and_its_resolve_event_resolves_it(
    scene: Scene, start_alertmanager: StartAlertmanager
) -> None:
    key = scene.integrate("pagerduty")
    receiver = {
        "name": "tocsin-pagerduty",
        "pagerduty_configs": [{"url": f"{scene.server.url}/v2/enqueue", "routing_key": key, "send_resolved": True}],
    }
    scene.manager = start_alertmanager(alertmanager.config(receiver))

    story = fire_repeat_resolve(scene, "monitoring")

    incident, alert = story.incident, story.alert
    # One PagerDuty event per group, keyed by the SHA-256 of the group key.
    assert alert["dedup_key"] == hashlib.sha256(GROUP_KEY.encode()).hexdigest()
    assert alert["summary"].startswith("[FIRING:1] HighErrorRate checkout")
    assert incident["title"] == alert["summary"]


def test_a_group_of_several_alerts_opens_one_incident_and_resolves_only_when_all_have(
    scene: Scene, start_alertmanager: StartAlertmanager
) -> None:
    scene.integrate("alertmanager", group_by=["alertname", "service"])
    url = f"{scene.server.url}/api/v1/integrations/alertmanager/{scene.key}"
    scene.manager = start_alertmanager(alertmanager.config(webhook("tocsin", url)))
    nodes = [
        alertmanager.alert({"alertname": "HighErrorRate", "service": "checkout", "instance": f"checkout-{n}:8080"})
        for n in (1, 2, 3)
    ]
    other_group = alertmanager.alert({"alertname": "DiskFull", "service": "checkout", "instance": "db-1"})
    scene.am.post(*nodes, other_group)

    def attached(count: int) -> list[Json] | None:
        alerts = scene.alerts()
        return alerts if len(alerts) == count and all(a["incident"] for a in alerts) else None

    alerts = scene.until("four attached alerts", lambda: attached(4))
    by_group: dict[str, set[str]] = {}
    for alert in alerts:
        by_group.setdefault(alert["labels"]["alertname"], set()).add(alert["incident"])
    assert len(scene.incidents()) == 2
    [errors_incident] = by_group["HighErrorRate"]
    [disk_incident] = by_group["DiskFull"]
    assert errors_incident != disk_incident

    # A fourth node joins the group (Alertmanager: "new alerts added"): same incident.
    fourth = alertmanager.alert({"alertname": "HighErrorRate", "service": "checkout", "instance": "checkout-4:8080"})
    scene.am.post(fourth)
    alerts = scene.until("a fifth attached alert", lambda: attached(5))
    assert {a["incident"] for a in alerts if a["labels"]["alertname"] == "HighErrorRate"} == {errors_incident}

    # One node recovers ("some alerts resolved"): the incident stays open.
    scene.am.post(alertmanager.resolved(nodes[0]))
    scene.until("checkout-1 resolved", lambda: [a for a in scene.alerts() if a["status"] == "resolved"])
    statuses = {i["human_id"]: i["status"] for i in scene.incidents()}
    assert statuses == {errors_incident: "triggered", disk_incident: "triggered"}

    scene.am.post(*(alertmanager.resolved(a) for a in [*nodes[1:], fourth]))

    def errors_status() -> str | None:
        found = {i["human_id"]: i["status"] for i in scene.incidents()}[errors_incident]
        return found if found != "triggered" else None

    assert scene.until("the HighErrorRate incident moved on", errors_status) == "monitoring"
    statuses = {i["human_id"]: i["status"] for i in scene.incidents()}
    assert statuses == {errors_incident: "monitoring", disk_incident: "triggered"}
    assert len(scene.incidents()) == 2
    scene.assert_tocsin_never_refused()
