"""The status page's RSS and Atom feeds: well-formed XML (parsed here), one item per public
update, newest first, with whatever an update says escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tests.web.status_support import declare, live, move, page, update
from tocsin.clock import FrozenClock

__all__ = ["live", "page"]  # fixtures

ATOM = "{http://www.w3.org/2005/Atom}"
AWKWARD = "Fixed <script>alert('x')</script> & \"quotes\" ]]> done"


def parse(content: bytes) -> ET.Element:
    return ET.fromstring(content)  # noqa: S314 -- the server's own answer, in a test


@pytest.fixture
def history(page: Personas, sessions: sessionmaker[Session], clock: FrozenClock) -> int:
    incident = declare(sessions, page.bob.actor, clock.now(), "Search is slow & flaky", "P2", ("web",))
    update(sessions, page.bob.actor, clock.now(), incident, "Looking into slow searches.", public=True)
    clock.advance(timedelta(minutes=10))
    update(sessions, page.bob.actor, clock.now(), incident, AWKWARD, public=True)
    update(sessions, page.bob.actor, clock.now(), incident, "PRIVATE-internal", public=False)
    clock.advance(timedelta(minutes=5))
    move(sessions, page.bob.actor, clock.now(), incident, "resolved")
    return incident


def test_the_rss_feed_is_valid_xml_listing_public_updates_newest_first(live: TestClient, history: int) -> None:
    answer = live.get("/status/feed.rss")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/rss+xml")
    channel = parse(answer.content).find("channel")
    assert channel is not None
    assert channel.findtext("title") == "Acme status"
    items = channel.findall("item")
    assert [item.findtext("description") for item in items] == [
        "This incident has been resolved.",
        AWKWARD,
        "Looking into slow searches.",
    ]
    assert items[0].findtext("title") == "Search is slow & flaky: Resolved"
    assert items[1].findtext("link", "").endswith(f"/status/incidents/{history}")
    assert len({item.findtext("guid") for item in items}) == 3
    assert b"PRIVATE-internal" not in answer.content


def test_the_atom_feed_is_valid_xml_with_ids_and_times(live: TestClient, history: int) -> None:
    answer = live.get("/status/feed.atom")
    assert answer.headers["content-type"].startswith("application/atom+xml")
    feed = parse(answer.content)
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}content") for e in entries] == [
        "This incident has been resolved.",
        AWKWARD,
        "Looking into slow searches.",
    ]
    assert feed.findtext(f"{ATOM}updated") == entries[0].findtext(f"{ATOM}updated")
    assert all(e.findtext(f"{ATOM}id") for e in entries)
    assert entries[0].findtext(f"{ATOM}updated", "").endswith("Z")
    link = entries[0].find(f"{ATOM}link")
    assert link is not None
    assert link.get("href", "").endswith(f"/status/incidents/{history}")


@pytest.mark.usefixtures("page")
def test_an_empty_page_has_empty_but_valid_feeds(live: TestClient) -> None:
    assert parse(live.get("/status/feed.rss").content).find("channel/item") is None
    assert parse(live.get("/status/feed.atom").content).find(f"{ATOM}entry") is None
