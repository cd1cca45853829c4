"""Sentry ingestion and crash groups through the app: the captured sentry-sdk envelopes replayed
byte for byte, every way the key can come, compressed bodies, refusals that store nothing,
idempotent replays, the group's alert from new to resolved, regressions, spikes, sessions."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
import zlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import brotli  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.support.protocols import captured_requests, raw
from tocsin.clock import FrozenClock
from tocsin.services import integrations
from tocsin.services.actor import Actor
from tocsin.storage.models import Alert, AuditEvent, CrashEvent, CrashGroup, CrashSession, CrashSkippedItem, DevEvent

CAPTURED = captured_requests("sentry_python_sdk_capture.json")
ENVELOPE = raw("sentry_envelope_exception.envelope")
ENVELOPE_GZ = raw("sentry_envelope_exception.envelope.gz")


class Project:
    def __init__(self, id: int, key: str) -> None:
        self.id = id
        self.key = key

    @property
    def auth(self) -> dict[str, str]:
        return {"X-Sentry-Auth": f"Sentry sentry_key={self.key}, sentry_version=7, sentry_client=sentry.python/2.75.0"}

    @property
    def url(self) -> str:
        return f"/api/{self.id}/envelope/"


MakeProject = Callable[..., Project]


@pytest.fixture
def make_project(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> MakeProject:
    def make(service: str = "api", kind: str = "sentry", **settings: object) -> Project:
        with sessions() as db:
            created = integrations.create(
                db, Actor.system("tests"), clock.now(), service_key=service, kind=kind, settings=settings
            )
            db.commit()
            return Project(created.row.id, created.key)

    return make


@pytest.fixture
def project(make_project: MakeProject) -> Project:
    return make_project()


def count(sessions: sessionmaker[Session], model: type[Any]) -> int:
    with sessions() as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


def groups(sessions: sessionmaker[Session]) -> list[CrashGroup]:
    with sessions() as db:
        found = list(db.scalars(select(CrashGroup).order_by(CrashGroup.id)))
        db.expunge_all()
        return found


def crash_alerts(sessions: sessionmaker[Session]) -> list[Alert]:
    with sessions() as db:
        found = list(db.scalars(select(Alert).where(Alert.dedup_key.like("crash:%")).order_by(Alert.id)))
        db.expunge_all()
        return found


def event_envelope(
    event_id: str | None = None,
    *,
    type_: str = "ValueError",
    value: str = "bad input",
    function: str = "handle",
    lineno: int = 10,
    release: str = "api@1.0.0",
    level: str = "error",
    fingerprint: list[str] | None = None,
    extra_items: list[tuple[dict[str, Any], bytes]] = (),  # type: ignore[assignment]
    header: dict[str, Any] | None = None,
) -> bytes:
    event: dict[str, Any] = {
        "event_id": event_id or uuid.uuid4().hex,
        "level": level,
        "platform": "python",
        "release": release,
        "environment": "production",
        "exception": {
            "values": [
                {
                    "type": type_,
                    "value": value,
                    "stacktrace": {
                        "frames": [
                            {"function": "main", "module": "app.main", "lineno": 3, "in_app": True},
                            {"function": function, "module": "app.views", "lineno": lineno, "in_app": True},
                        ]
                    },
                }
            ]
        },
    }
    if fingerprint is not None:
        event["fingerprint"] = fingerprint
    payload = json.dumps(event).encode()
    lines = [json.dumps(header or {"event_id": event["event_id"]}).encode()]
    lines += [json.dumps({"type": "event", "length": len(payload)}).encode(), payload]
    for item_header, item in extra_items:
        lines += [json.dumps(item_header).encode(), item]
    return b"\n".join(lines) + b"\n"


# ---- the captured SDK requests ------------------------------------------------------------------


def test_the_captured_sdk_requests_replay_byte_for_byte(
    client: TestClient, project: Project, sessions: sessionmaker[Session]
) -> None:
    answers = []
    for request in CAPTURED:
        headers = {name: value for name, value in request["headers"] if name.lower() not in ("host", "content-length")}
        headers.update(project.auth)
        body = base64.b64decode(request["body_gzip_b64"])
        answer = client.post(project.url, content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    assert [a["id"] for a in answers] == [json.loads(r["envelope_text"].split("\n")[0])["event_id"] for r in CAPTURED]
    found = groups(sessions)
    # The transaction is skipped; the two exceptions and the message are three groups.
    assert sorted(g.title for g in found) == [
        "Payment gateway latency above SLO",
        "RuntimeError: job abc-123 failed: upstream timeout",
        "ZeroDivisionError: division by zero",
    ]
    zero = next(g for g in found if g.type == "ZeroDivisionError")
    assert zero.culprit == "__main__ in charge"
    assert zero.first_release == "checkout@1.4.2"
    assert zero.platforms == ["python"]
    assert zero.environments == ["production"]
    with sessions() as db:
        skipped = db.scalars(select(CrashSkippedItem)).one()
        assert (skipped.type, skipped.count) == ("transaction", 1)


def test_a_new_error_group_raises_its_alert_and_opens_an_incident_with_labels(
    client: TestClient, project: Project, sessions: sessionmaker[Session]
) -> None:
    answer = client.post(project.url, content=ENVELOPE_GZ, headers={**project.auth, "Content-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.json() == {"id": "8d8633e763354eefb44ec2e335de232f"}
    (group,) = groups(sessions)
    (alert,) = crash_alerts(sessions)
    assert alert.dedup_key == f"crash:{group.id}"
    assert alert.status == "firing"
    assert alert.incident_id is not None
    assert alert.summary == "New crash in api: ZeroDivisionError: division by zero"
    assert alert.labels["level"] == "error"
    assert alert.labels["release"] == "checkout@1.4.2"
    assert alert.labels["platform"] == "python"
    assert alert.labels["environment"] == "production"
    with sessions() as db:
        (event,) = db.scalars(select(DevEvent)).all()
        assert event.type == "crash.new"


def test_a_warning_is_recorded_with_low_urgency_and_opens_no_incident(
    client: TestClient, project: Project, sessions: sessionmaker[Session]
) -> None:
    message = next(r for r in CAPTURED if "capture_message" in r["what"])
    body = base64.b64decode(message["body_gzip_b64"])
    assert (
        client.post(project.url, content=body, headers={**project.auth, "Content-Encoding": "gzip"}).status_code == 200
    )
    (alert,) = crash_alerts(sessions)
    assert alert.labels["level"] == "warning"
    assert alert.incident_id is None


# ---- where the key comes from -------------------------------------------------------------------


def test_the_key_may_come_from_the_query_string_as_browser_sdks_send_it(
    client: TestClient, project: Project, sessions: sessionmaker[Session]
) -> None:
    answer = client.post(
        f"{project.url}?sentry_version=7&sentry_key={project.key}&sentry_client=sentry.javascript.browser/8.0.0",
        content=ENVELOPE,
        headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example.com"},
    )
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert count(sessions, CrashGroup) == 1


def test_the_key_may_come_from_the_envelope_headers_dsn_as_tunnels_send_it(
    client: TestClient, project: Project, sessions: sessionmaker[Session]
) -> None:
    dsn = f"https://{project.key}@sentry.example.com/{project.id}"
    body = event_envelope(header={"dsn": dsn})
    assert client.post(project.url, content=body).status_code == 200
    assert count(sessions, CrashGroup) == 1
    other = event_envelope(header={"dsn": f"https://{project.key}@sentry.example.com/{project.id + 1}"})
    refused = client.post(project.url, content=other)
    assert refused.status_code == 403
    assert refused.json()["field"] == "dsn"
    assert count(sessions, CrashEvent) == 1


@pytest.mark.parametrize(
    ("headers", "query", "status", "field"),
    [
        ({}, "", 401, None),
        (
            {"X-Sentry-Auth": "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7"},
            "",
            401,
            "sentry_key",
        ),
        ({}, "?sentry_key=0123456789abcdef0123456789abcdef", 401, "sentry_key"),
    ],
    ids=["no key", "unknown header key", "unknown query key"],
)
def test_an_unknown_or_missing_key_is_401_and_stores_nothing(
    client: TestClient,
    project: Project,
    sessions: sessionmaker[Session],
    headers: dict[str, str],
    query: str,
    status: int,
    field: str | None,
) -> None:
    answer = client.post(project.url + query, content=ENVELOPE, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json().get("field") == field
    assert count(sessions, CrashEvent) == 0


def test_a_key_for_another_project_or_of_another_kind_is_403_and_stores_nothing(
    client: TestClient, make_project: MakeProject, sessions: sessionmaker[Session]
) -> None:
    first = make_project()
    second = make_project(service="web")
    answer = client.post(first.url, content=ENVELOPE, headers=second.auth)
    assert answer.status_code == 403
    assert answer.json()["field"] == "project_id"
    native = make_project(kind="native")
    answer = client.post(f"/api/{native.id}/envelope/", content=ENVELOPE, headers=native.auth)
    assert answer.status_code == 403
    assert answer.json()["field"] == "sentry_key"
    assert count(sessions, CrashEvent) == 0
    assert count(sessions, CrashGroup) == 0


def test_a_project_id_that_is_no_number_is_400(client: TestClient, project: Project) -> None:
    answer = client.post("/api/checkout/envelope/", content=ENVELOPE, headers=project.auth)
    assert answer.status_code == 400
    assert answer.json()["field"] == "project_id"


# ---- bodies ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some clients send it
        ("br", brotli.compress),
        ("identity", lambda data: data),
    ],
    ids=["gzip", "deflate", "raw-deflate", "br", "identity"],
)
def test_every_content_encoding_sdks_use_is_read(
    client: TestClient,
    project: Project,
    sessions: sessionmaker[Session],
    encoding: str,
    compress: Callable[[bytes], bytes],
) -> None:
    answer = client.post(
        project.url, content=compress(ENVELOPE), headers={**project.auth, "Content-Encoding": encoding}
    )
    assert answer.status_code == 200, answer.text
    assert count(sessions, CrashEvent) == 1


def test_a_body_that_is_not_what_its_encoding_says_is_400(
    client: TestClient, project: Project, sessions: sessionmaker[Session]
) -> None:
    answer = client.post(project.url, content=ENVELOPE, headers={**project.auth, "Content-Encoding": "gzip"})
    assert answer.status_code == 400
    assert answer.json()["field"] == "Content-Encoding"
    unknown = client.post(project.url, content=ENVELOPE, headers={**project.auth, "Content-Encoding": "zstd"})
    assert unknown.status_code == 400
    assert count(sessions, CrashEvent) == 0


def test_a_zip_bomb_is_413_and_an_oversized_body_too(
    client: TestClient, project: Project, sessions: sessionmaker[Session]
) -> None:
    bomb = gzip.compress(b"\n" * (25 * 1024 * 1024))
    assert len(bomb) < 64 * 1024  # under the test app's body limit: only the inflated size is refused
    answer = client.post(project.url, content=bomb, headers={**project.auth, "Content-Encoding": "gzip"})
    assert answer.status_code == 413
    big = client.post(project.url, content=b"x" * (65 * 1024), headers=project.auth)
    assert big.status_code == 413
    assert count(sessions, CrashEvent) == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"", 400, None),
        (b"not json\n", 422, "envelope header"),
        (b'{}\n{"type":"event","length":500}\n{"event_id":"x"}\n', 422, "items[1].length"),
        (b'{}\n{"type":"event"}\n{"event_id":"nothex"}\n', 422, "items[1].event_id"),
        (b'{}\n{"type":"event"}\n[1,2]\n', 422, "items[1]"),
        (b'{}\n{"length":2}\n{}\n', 422, "items[1].type"),
    ],
    ids=["empty", "bad header", "length past the end", "bad event id", "event not an object", "item without type"],
)
def test_a_malformed_envelope_is_a_4xx_naming_the_field_and_stores_nothing(
    client: TestClient, project: Project, sessions: sessionmaker[Session], body: bytes, status: int, field: str | None
) -> None:
    good_first = event_envelope()
    # A good event ahead of the bad item: nothing of the envelope is kept.
    if body.startswith(b"{}\n"):
        body = good_first.rstrip(b"\n") + b"\n" + body[3:]
    answer = client.post(project.url, content=body, headers=project.auth)
    assert answer.status_code == status, answer.text
    assert answer.json().get("field") == field
    assert count(sessions, CrashEvent) == 0


def test_unknown_item_types_are_skipped_and_counted(
    client: TestClient, project: Project, sessions: sessionmaker[Session], personas: Personas
) -> None:
    body = event_envelope(
        extra_items=[
            ({"type": "attachment", "length": 7, "filename": "a.txt"}, b"two\nrow"),
            ({"type": "client_report"}, b'{"discarded_events":[]}'),
            ({"type": "client_report"}, b'{"discarded_events":[]}'),
            ({"type": "profile_chunk"}, b"{}"),
        ]
    )
    assert client.post(project.url, content=body, headers=project.auth).status_code == 200
    assert count(sessions, CrashEvent) == 1
    answer = client.get(f"/api/v1/crashes/projects/{project.id}/skipped", headers=personas.charlie.headers)
    assert answer.json() == {"attachment": 1, "client_report": 2, "profile_chunk": 1}


# ---- idempotency, grouping, regressions, spikes -------------------------------------------------------


def test_a_replayed_event_is_counted_once(
    client: TestClient, project: Project, sessions: sessionmaker[Session]
) -> None:
    for _ in range(3):
        assert client.post(project.url, content=ENVELOPE, headers=project.auth).status_code == 200
    (group,) = groups(sessions)
    assert group.count == 1
    assert count(sessions, CrashEvent) == 1
    (alert,) = crash_alerts(sessions)
    assert alert.count == 1


def test_a_line_moved_by_an_edit_stays_in_its_group_and_another_function_does_not(
    client: TestClient, project: Project, sessions: sessionmaker[Session]
) -> None:
    client.post(project.url, content=event_envelope(lineno=10), headers=project.auth)
    client.post(project.url, content=event_envelope(lineno=42, value="other input"), headers=project.auth)
    client.post(project.url, content=event_envelope(function="render"), headers=project.auth)
    found = groups(sessions)
    assert [g.count for g in found] == [2, 1]


def test_resolving_a_group_resolves_its_alert_and_a_later_release_regresses_it(
    client: TestClient, project: Project, sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    client.post(project.url, content=event_envelope(release="api@1.0.0"), headers=project.auth)
    (group,) = groups(sessions)
    resolved = client.post(
        f"/api/v1/crashes/{group.id}/resolve", json={"release": "api@1.0.1"}, headers=personas.bob.headers
    )
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["resolved_in_release"] == "api@1.0.1"
    assert [a.status for a in crash_alerts(sessions)] == ["resolved"]
    # The old release still crashes on machines not yet upgraded: counted, not a regression.
    clock.advance(timedelta(minutes=5))
    client.post(project.url, content=event_envelope(release="api@1.0.0"), headers=project.auth)
    client.post(project.url, content=event_envelope(release="api@1.0.1"), headers=project.auth)
    assert groups(sessions)[0].status == "resolved"
    assert len(crash_alerts(sessions)) == 1
    clock.advance(timedelta(minutes=5))
    client.post(project.url, content=event_envelope(release="api@1.0.10"), headers=project.auth)
    (group,) = groups(sessions)
    assert group.status == "open"
    assert group.regressed_at == clock.now()
    assert group.count == 4
    alerts = crash_alerts(sessions)
    assert [a.status for a in alerts] == ["resolved", "firing"]
    assert alerts[1].summary.startswith("Crash regressed in api:")
    assert alerts[1].summary.endswith("(again in api@1.0.10)")
    with sessions() as db:
        assert [e.type for e in db.scalars(select(DevEvent).order_by(DevEvent.id))] == [
            "crash.new",
            "crash.resolved",
            "crash.regression",
        ]
        assert db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "resolve")) == 1


def test_a_spike_raises_the_alert_again_once_per_window(
    client: TestClient,
    make_project: MakeProject,
    sessions: sessionmaker[Session],
    personas: Personas,
    clock: FrozenClock,
) -> None:
    project = make_project(spike_events=5, spike_minutes=10)
    client.post(project.url, content=event_envelope(), headers=project.auth)
    (group,) = groups(sessions)
    client.post(f"/api/v1/crashes/{group.id}/resolve", json={"release": "api@2.0.0"}, headers=personas.bob.headers)
    client.post(f"/api/v1/crashes/{group.id}/reopen", headers=personas.bob.headers)
    clock.advance(timedelta(hours=1))
    for _ in range(12):
        clock.advance(timedelta(seconds=20))
        client.post(project.url, content=event_envelope(), headers=project.auth)
    with sessions() as db:
        spikes = db.scalars(select(DevEvent).where(DevEvent.type == "crash.spike")).all()
    assert len(spikes) == 1  # 12 events in 4 minutes: over 5 within 10 minutes, raised once
    alerts = crash_alerts(sessions)
    assert alerts[-1].status == "firing"
    assert alerts[-1].summary.startswith("Crash spike in api:")


def test_an_ignored_group_is_counted_and_never_alerts(
    client: TestClient, project: Project, sessions: sessionmaker[Session], personas: Personas
) -> None:
    client.post(project.url, content=event_envelope(), headers=project.auth)
    (group,) = groups(sessions)
    assert client.post(f"/api/v1/crashes/{group.id}/ignore", headers=personas.bob.headers).status_code == 200
    client.post(project.url, content=event_envelope(release="api@9.0.0"), headers=project.auth)
    (group,) = groups(sessions)
    assert (group.status, group.count) == ("ignored", 2)
    assert [a.status for a in crash_alerts(sessions)] == ["resolved"]


# ---- sessions ------------------------------------------------------------------------------------------


def test_sessions_and_aggregates_give_the_crash_free_rate_per_release(
    client: TestClient, project: Project, sessions: sessionmaker[Session], personas: Personas
) -> None:
    def session_item(
        status: str, init: bool, release: str = "api@1.0.0", errors: int = 0
    ) -> tuple[dict[str, Any], bytes]:
        item = {
            "sid": uuid.uuid4().hex, "init": init, "started": "2026-11-23T08:30:00Z", "status": status,
            "errors": errors, "attrs": {"release": release, "environment": "production"},
        }  # fmt: skip
        return {"type": "session"}, json.dumps(item).encode()

    aggregates = {
        "aggregates": [{"started": "2026-11-23T08:00:00Z", "exited": 6, "errored": 1, "crashed": 1}],
        "attrs": {"release": "api@1.0.0", "environment": "production"},
    }
    body = b"{}\n" + b"\n".join(
        json.dumps(h).encode() + b"\n" + p
        for h, p in [
            session_item("ok", True),
            session_item("crashed", False),
            session_item("exited", True, errors=1),
            ({"type": "sessions"}, json.dumps(aggregates).encode()),
        ]
    )
    assert client.post(project.url, content=body, headers=project.auth).status_code == 200
    assert count(sessions, CrashSession) == 1
    answer = client.get("/api/v1/crashes/releases", headers=personas.charlie.headers)
    assert answer.status_code == 200
    (health,) = answer.json()
    assert health["release"] == "api@1.0.0"
    assert (health["sessions"], health["crashed"], health["errored"]) == (10, 2, 2)
    assert health["crash_free"] == pytest.approx(0.8)


# ---- the legacy store endpoint and the plain one ----------------------------------------------------------


def test_the_store_endpoint_takes_one_event(
    client: TestClient, project: Project, sessions: sessionmaker[Session]
) -> None:
    event = json.loads(ENVELOPE.split(b"\n")[2])
    answer = client.post(f"/api/{project.id}/store/", json=event, headers=project.auth)
    assert answer.status_code == 200
    assert answer.json() == {"id": event["event_id"]}
    assert count(sessions, CrashGroup) == 1
    bad = client.post(f"/api/{project.id}/store/", content=b"[]", headers=project.auth)
    assert bad.status_code == 422


def test_the_plain_endpoint_takes_a_small_json_crash(
    client: TestClient, project: Project, sessions: sessionmaker[Session], personas: Personas
) -> None:
    crash = {
        "type": "TypeError",
        "value": "undefined is not a function",
        "frames": [{"function": "onClick", "module": "app/cart", "lineno": 12}],
        "release": "web@3.1.0",
        "platform": "javascript",
        "level": "fatal",
        "event_id": "0123456789abcdef0123456789abcdef",
    }
    auth = {"Authorization": f"Bearer {project.key}"}
    answer = client.post("/api/crashes", json=crash, headers=auth)
    assert answer.status_code == 202
    assert answer.json() == {"status": "accepted", "id": crash["event_id"]}
    again = client.post("/api/crashes", json=crash, headers=auth)
    assert again.json()["status"] == "duplicate"
    (group,) = groups(sessions)
    assert (group.title, group.level, group.culprit) == (
        "TypeError: undefined is not a function",
        "fatal",
        "app/cart in onClick",
    )
    (alert,) = crash_alerts(sessions)
    assert alert.severity == "P1"  # fatal pages at the second level
    wrong = client.post("/api/crashes", json={"value": 3}, headers=auth)
    assert wrong.status_code == 422
    assert {e["field"] for e in wrong.json()["errors"]} == {"value"}
    assert client.post("/api/crashes", json=crash).status_code == 401


# ---- the management API -------------------------------------------------------------------------------------


def test_listing_and_showing_groups_need_a_token_and_show_the_stack_trace(
    client: TestClient, project: Project, personas: Personas
) -> None:
    client.post(project.url, content=ENVELOPE, headers=project.auth)
    assert client.get("/api/v1/crashes").status_code == 401
    listed = client.get("/api/v1/crashes", params={"status": "open"}, headers=personas.charlie.headers).json()
    assert [g["title"] for g in listed] == ["ZeroDivisionError: division by zero"]
    assert listed[0]["service"] == "api"
    shown = client.get(f"/api/v1/crashes/{listed[0]['id']}", headers=personas.charlie.headers).json()
    frames = shown["first_event"]["payload"]["exceptions"][0]["frames"]
    assert [f["function"] for f in frames] == ["<module>", "charge"]
    assert "vars" not in frames[0]  # local variables are not kept
    assert shown["by_release"][0]["release"] == "checkout@1.4.2"
    assert (
        client.post(f"/api/v1/crashes/{listed[0]['id']}/resolve", headers=personas.charlie.headers).status_code == 403
    )
    bad = client.get("/api/v1/crashes", params={"status": "closed"}, headers=personas.charlie.headers)
    assert bad.status_code == 422
    assert bad.json()["field"] == "status"
    assert client.get("/api/v1/crashes/999", headers=personas.charlie.headers).status_code == 404


def test_creating_a_sentry_integration_prints_its_dsn(client: TestClient, personas: Personas) -> None:
    answer = client.post(
        "/api/v1/integrations", json={"service": "api", "kind": "sentry"}, headers=personas.bob.headers
    ).json()
    assert answer["urls"]["sentry"] == f"http://{answer['key']}@testserver/{answer['id']}"
    assert next(iter(answer["urls"])) == "sentry"
    bad = client.post(
        "/api/v1/integrations",
        json={"service": "api", "kind": "sentry", "settings": {"spike_events": 1}},
        headers=personas.bob.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "settings.spike_events"


def test_a_group_keeps_the_stack_of_its_first_event_and_its_newest_five(
    client: TestClient, project: Project, sessions: sessionmaker[Session], personas: Personas
) -> None:
    ids = [uuid.uuid4().hex for _ in range(12)]
    for event_id in ids:
        assert client.post(project.url, content=event_envelope(event_id), headers=project.auth).status_code == 200
    with sessions() as db:
        kept = db.scalars(select(CrashEvent.event_id).where(CrashEvent.payload.is_not(None))).all()
    assert sorted(kept) == sorted([ids[0], *ids[-5:]])
    (group,) = groups(sessions)
    shown = client.get(f"/api/v1/crashes/{group.id}", headers=personas.charlie.headers).json()
    assert [s["event_id"] for s in shown["samples"]] == list(reversed(ids[-5:]))
    assert shown["first_event"]["event_id"] == ids[0]
    assert shown["by_release"] == [{"release": "api@1.0.0", "events": 12, "last_seen": shown["last_seen"]}]
