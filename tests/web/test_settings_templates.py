"""Settings → message templates, and the incident page's communication card: previewing, editing,
resetting, a draft update from a template, and what the incident owes."""

from __future__ import annotations

import html
from datetime import timedelta

from fastapi.testclient import TestClient

from tests.conftest import Personas
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock


def declare(client: TestClient, personas: Personas) -> str:
    answer = client.post(
        "/api/v1/incidents",
        headers=personas.bob.headers,
        json={
            "title": "Checkout returns 500s",
            "severity": "P1",
            "services": ["api"],
            "commander": "alice@example.com",
        },
    )
    return str(answer.json()["human_id"])


def test_everyone_previews_a_template_with_an_incident(
    client: TestClient, log_in: LogIn, web_personas: Personas
) -> None:
    ref = declare(client, web_personas)
    csrf = log_in(client, web_personas.charlie.email)
    page = client.get("/settings/templates")
    assert page.status_code == 200
    assert "Customer notice" in page.text
    form = client.get("/settings/templates/internal_update")
    assert "{{ next_update }}" in html.unescape(form.text)
    assert 'value="save"' not in form.text  # a viewer cannot save

    answer = client.post(
        "/settings/templates/internal_update",
        data={"csrf_token": csrf, "action": "preview", "body": "{{ human_id }}: {{ commander }}", "incident": ref},
    )
    assert answer.status_code == 200
    assert f'<pre id="preview">{ref}: Alice Admin</pre>' in answer.text

    refused = client.post(
        "/settings/templates/internal_update", data={"csrf_token": csrf, "action": "save", "body": "x"}
    )
    assert refused.status_code == 403


def test_an_admin_saves_and_resets_and_a_bad_template_is_shown_with_its_line(
    client: TestClient, log_in: LogIn, web_personas: Personas
) -> None:
    csrf = log_in(client, web_personas.alice.email)
    bad = client.post(
        "/settings/templates/customer_notice",
        data={"csrf_token": csrf, "action": "save", "body": "Hello\n{{ titel }}"},
    )
    assert bad.status_code == 422
    assert "line 2: unknown name &#39;titel&#39;" in bad.text

    saved = client.post(
        "/settings/templates/customer_notice",
        data={"csrf_token": csrf, "action": "save", "body": "We are on it: {{ title }}"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "edited by alice@example.com" in client.get("/settings/templates").text
    client.post("/settings/templates/customer_notice", data={"csrf_token": csrf, "action": "reset"})
    assert "edited" not in client.get("/settings/templates").text


def test_the_incident_page_drafts_an_update_from_a_template_and_says_what_is_owed(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock
) -> None:
    ref = declare(client, web_personas)
    log_in(client, web_personas.bob.email)
    page = client.get(f"/incidents/{ref}")
    assert 'id="update-template"' in page.text
    assert "Customers not told yet: a public update is owed" in page.text

    draft = client.get(f"/incidents/{ref}/draft", params={"template": "customer_notice"})
    assert draft.status_code == 200
    assert draft.text.startswith('<textarea id="update-text"')
    assert "We are investigating an issue affecting Public API." in draft.text

    clock.advance(timedelta(minutes=5))
    client.post(f"/api/v1/incidents/{ref}/status", headers=web_personas.bob.headers, json={"status": "monitoring"})
    assert "resolvable from" in client.get(f"/incidents/{ref}").text
    clock.advance(timedelta(hours=1))
    assert "Monitoring window passed: ready to resolve." in client.get(f"/incidents/{ref}").text
