"""The built-in drill scenarios: the signals a real outage of each kind sends, in the senders' own formats.

Each scenario writes the payloads its monitoring would post (an Alertmanager webhook, a
PagerDuty event from an uptime check, a Grafana alert, Sentry events, a GitHub
`deployment_status` delivery) and reads them with the real parsers in `tocsin.integrations`,
so a drill exercises the formats as well as the response. What comes out is the parsers'
`Signal`s; `services.drills` marks them as the drill's and ingests them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tocsin.domain import crashes as crash_rules
from tocsin.domain.alerts import Action, Signal
from tocsin.domain.drills import Scenario
from tocsin.integrations import alertmanager, github, grafana, pagerduty, sentry
from tocsin.services import github as github_service

SOURCE = "drill"


@dataclass(frozen=True)
class ScenarioInfo:
    key: Scenario
    title: str
    description: str
    signals: Callable[[str, datetime], list[Signal]]  # (service key, now) → the signals, in order


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _hex(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:32]


def database_outage(service: str, now: datetime) -> list[Signal]:
    """Prometheus: the primary database stops answering, then the service's errors climb."""
    started = _stamp(now - timedelta(minutes=2))
    common = {"service": service, "team": "drill", "env": "production"}
    alerts = [
        {
            "status": "firing",
            "labels": {**common, "alertname": "PostgresDown", "severity": "critical", "instance": "db-primary:9187"},
            "annotations": {
                "summary": f"PostgreSQL primary for {service} is down",
                "description": "pg_up == 0 for 2 minutes on db-primary:9187",
                "runbook_url": "https://runbooks.example/database-outage",
            },
            "startsAt": started,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=pg_up+%3D%3D+0",
            "fingerprint": _hex(service, "PostgresDown"),
        },
        {
            "status": "firing",
            "labels": {**common, "alertname": "HighErrorRate", "severity": "critical", "instance": f"{service}:8080"},
            "annotations": {
                "summary": f"{service}: 38% of requests fail with 500 (could not connect to the database)",
                "description": "rate(http_requests_total{code=~'5..'}[5m]) / rate(http_requests_total[5m]) > 0.05",
            },
            "startsAt": started,
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=job%3Aerror_rate",
            "fingerprint": _hex(service, "HighErrorRate"),
        },
    ]
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "tocsin",
        "groupKey": '{}:{alertname="PostgresDown"}',
        "groupLabels": {"alertname": "PostgresDown"},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts,
        "truncatedAlerts": 0,
    }
    _webhook, signals = alertmanager.parse(_json(body))
    return signals


def payment_provider_outage(service: str, now: datetime) -> list[Signal]:
    """An uptime check of the payment provider fails (PagerDuty Events API v2), then Grafana sees
    checkouts failing."""
    check = {
        "routing_key": "0" * 32,
        "event_action": "trigger",
        "dedup_key": f"uptime-payments-{service}",
        "payload": {
            "summary": "HTTP check payments-api.stripe.example/v1/charges failed: 503 Service Unavailable",
            "source": "uptime-check-eu-1",
            "severity": "critical",
            "timestamp": _stamp(now - timedelta(minutes=1)),
            "component": "payment-provider",
            "group": service,
            "class": "http-check",
            "custom_details": {"status": 503, "latency_ms": 10012, "failures_in_a_row": 3},
        },
        "client": "Uptime checks",
        "client_url": "https://uptime.example/checks/payments",
    }
    _key, first = pagerduty.parse(_json(check))
    grafana_body = {
        "version": "1",
        "status": "firing",
        "receiver": "tocsin",
        "orgId": 1,
        "title": "[FIRING:1] Checkout failures",
        "state": "alerting",
        "message": "",
        "groupKey": '{}:{alertname="CheckoutFailures"}',
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "CheckoutFailures", "service": service, "severity": "critical"},
                "annotations": {"summary": f"{service}: 72% of checkouts fail at the payment step"},
                "startsAt": _stamp(now),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://grafana.example/alerting/grafana/checkout-failures/view",
                "fingerprint": _hex(service, "CheckoutFailures"),
                "dashboardURL": "https://grafana.example/d/payments",
                "values": {"B": 0.72},
                "valueString": "[ var='B' value=0.72 ]",
            }
        ],
    }
    _webhook, more = grafana.parse(_json(grafana_body))
    return [first, *more]


def auth_broken(service: str, now: datetime) -> list[Signal]:
    """Sentry events: every login fails with the same exception after a signing key rotated."""
    signals = []
    for number in range(3):
        event = {
            "event_id": _hex(service, "auth", str(number)),
            "timestamp": (now - timedelta(seconds=30 - number * 10)).timestamp(),
            "level": "fatal",
            "platform": "python",
            "release": f"{service}@2026.12.1",
            "environment": "production",
            "server_name": f"{service}-{number + 1}",
            "transaction": "POST /login",
            "tags": {"endpoint": "/login"},
            "exception": {
                "values": [
                    {
                        "type": "InvalidSignatureError",
                        "value": "Signature verification failed: no key matches kid 'k-2026-12'",
                        "module": "auth.tokens",
                        "stacktrace": {
                            "frames": [
                                {"filename": "app/views/login.py", "function": "login", "lineno": 41, "in_app": True},
                                {"filename": "auth/tokens.py", "function": "verify", "lineno": 88, "in_app": True},
                            ]
                        },
                    }
                ]
            },
        }
        crash = sentry.parse_store(_json(event), now)
        # As services.crashes raises a new crash group's alert: one alert per fingerprint.
        signals.append(
            Signal(
                action=Action.TRIGGER,
                dedup_key=f"crash:{crash_rules.fingerprint(crash)[:40]}",
                summary=f"New crash in {service}: {crash_rules.title_of(crash)}"[:1000],
                source="sentry",
                severity=crash_rules.alert_severity(crash.level),
                labels={
                    "level": crash.level.value,
                    "release": crash.release,
                    "platform": crash.platform,
                    "environment": crash.environment,
                    "crash_trigger": "new",
                },
                details={"culprit": crash_rules.culprit_of(crash), "event_id": crash.event_id},
                occurred_at=crash.occurred_at,
            )
        )
    return signals


def bad_deploy(service: str, now: datetime) -> list[Signal]:
    """GitHub: a deploy to production fails half-way (`deployment_status` failure), and the
    service's error rate climbs."""
    delivery = {
        "action": "created",
        "deployment_status": {
            "state": "failure",
            "environment": "production",
            "description": "Health checks failed on 3 of 6 pods after the rollout",
            "target_url": f"https://github.com/example/{service}/actions/runs/1001",
            "created_at": _stamp(now),
            "creator": {"login": "deploy-bot"},
        },
        "deployment": {
            "id": 1001,
            "sha": _hex(service, "deploy") + "0" * 8,
            "ref": "v2026.12.7",
            "environment": "production",
            "created_at": _stamp(now - timedelta(minutes=4)),
            "creator": {"login": "dana"},
        },
        "repository": {"full_name": f"example/{service}"},
        "sender": {"login": "deploy-bot"},
    }
    parsed = github.parse("deployment_status", _json(delivery))
    assert parsed.deploy is not None
    first = github_service.deploy_signal(parsed.deploy)
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "tocsin",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighErrorRate", "service": service, "severity": "critical"},
                "annotations": {"summary": f"{service}: 12% of requests fail with 500 since v2026.12.7"},
                "startsAt": _stamp(now),
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": _hex(service, "HighErrorRate", "deploy"),
            }
        ],
    }
    _webhook, more = alertmanager.parse(_json(body))
    return [first, *more]


SCENARIOS: dict[Scenario, ScenarioInfo] = {
    info.key: info
    for info in (
        ScenarioInfo(
            Scenario.DATABASE_OUTAGE,
            "Database outage",
            "Prometheus Alertmanager: the primary database is down and requests fail with 500.",
            database_outage,
        ),
        ScenarioInfo(
            Scenario.PAYMENT_PROVIDER_OUTAGE,
            "Payment provider outage",
            "An uptime check of the payment provider fails (PagerDuty Events API v2) and Grafana sees checkouts fail.",
            payment_provider_outage,
        ),
        ScenarioInfo(
            Scenario.AUTH_BROKEN,
            "Authentication broken",
            "Sentry crash events: every login fails with the same exception after a signing key rotated.",
            auth_broken,
        ),
        ScenarioInfo(
            Scenario.BAD_DEPLOY,
            "Bad deploy",
            "A GitHub deployment_status failure for production, then a rising error rate from Alertmanager.",
            bad_deploy,
        ),
    )
}
