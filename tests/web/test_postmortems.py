"""The postmortem pages: Markdown rendered (and its HTML kept as text), edited, reviewed, published;
action items added, finished, and overdue ones highlighted."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.web.conftest import LogIn
from tocsin.clock import FrozenClock
from tocsin.services import action_items, incidents, postmortems


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def resolved(sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock) -> str:
    with sessions() as db:
        incident = incidents.declare(db, personas.bob.actor, clock.now(), title="Checkout 500s", severity="P1")
        clock.advance(timedelta(minutes=30))
        incidents.change_status(db, personas.bob.actor, clock.now(), incident, "resolved", "Rolled back <b>now</b>")
        db.commit()
        return incident.human_id


def test_the_postmortem_page_renders_the_markdown_and_responders_edit_it(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    ref = resolved(sessions, web_personas, clock)
    log_in(client, "charlie@example.com")
    page = client.get(f"/incidents/{ref}/postmortem")
    assert page.status_code == 200
    assert "<h2>Timeline</h2>" in page.text
    assert "<table>" in page.text
    assert "&lt;b&gt;now&lt;/b&gt;" in page.text  # raw HTML in the body stays text
    assert 'id="body-text"' not in page.text  # viewers get no edit form
    assert '<a href="/postmortems"' in client.get("/").text

    csrf = log_in(client, "bob@example.com")
    saved = client.post(
        f"/incidents/{ref}/postmortem/body",
        data={"csrf_token": csrf, "body": "# Checkout 500s\r\n\r\n## Summary\r\n\r\n[x](javascript:alert(1)) ok\r\n"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = client.get(f"/incidents/{ref}/postmortem").text
    assert 'href="javascript:' not in page  # markdown-it refuses the link: it stays text
    assert 'id="body-text"' in page
    with sessions() as db:
        assert postmortems.get(db, ref).body == "# Checkout 500s\n\n## Summary\n\n[x](javascript:alert(1)) ok\n"

    client.post(f"/incidents/{ref}/postmortem/review", data={"csrf_token": csrf, "reviewers": "alice@example.com"})
    refused = client.post(
        f"/incidents/{ref}/postmortem/review", data={"csrf_token": csrf, "action": "approve"}, follow_redirects=False
    )
    assert refused.status_code == 409
    assert "you are not a reviewer of this postmortem" in refused.text
    client.post(f"/incidents/{ref}/postmortem/publish", data={"csrf_token": csrf})
    with sessions() as db:
        assert postmortems.get(db, ref).status == "published"
    assert "published by Bob Responder" in text_of(client.get(f"/incidents/{ref}/postmortem").text)


def test_action_items_are_added_and_overdue_ones_highlighted(
    client: TestClient, log_in: LogIn, web_personas: Personas, clock: FrozenClock, sessions: sessionmaker[Session]
) -> None:
    ref = resolved(sessions, web_personas, clock)
    csrf = log_in(client, "bob@example.com")
    added = client.post(
        f"/incidents/{ref}/action-items",
        data={"csrf_token": csrf, "title": "Alert on 5xx", "priority": "P0", "owner": "bob@example.com"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    bad = client.post(f"/incidents/{ref}/action-items", data={"csrf_token": csrf, "title": "", "priority": "P0"})
    assert bad.status_code == 422
    assert "an action item needs a title" in bad.text
    with sessions() as db:
        action_items.add(db, web_personas.bob.actor, clock.now(), ref, title="Tidy the runbook", priority="P3")
        db.commit()

    clock.advance(timedelta(days=3))
    csrf = log_in(client, "bob@example.com")  # the first session has expired
    listing = client.get("/action-items").text
    assert '<tr class="overdue">' in listing
    assert "Alert on 5xx" in text_of(listing.split('<tr class="overdue">')[1].split("</tr>")[0])
    assert "1 overdue" in text_of(listing)
    only = text_of(client.get("/action-items", params={"overdue": "true"}).text)
    assert "Alert on 5xx" in only
    assert "Tidy the runbook" not in only
    assert "1 overdue" in text_of(client.get("/postmortems").text)

    client.post("/action-items/1/status", data={"csrf_token": csrf, "status": "done", "back": "list"})
    assert "Alert on 5xx" not in client.get("/action-items").text
