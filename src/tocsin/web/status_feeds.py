"""The status page's incidents as RSS 2.0 and Atom feeds: one item per public update
(and per resolution), newest first. Written with xml.etree, so every text is escaped
and the documents are well-formed whatever an update says."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

from tocsin.services.status_page_view import Page, PublicIncident

ATOM = "http://www.w3.org/2005/Atom"
ITEMS = 50


def _items(incidents: Sequence[PublicIncident]) -> list[tuple[PublicIncident, str, datetime, str, str]]:
    """(incident, update id, time, status, body), newest first, at most ITEMS."""
    items = [
        (incident, update.id, update.at, update.status.value, update.body)
        for incident in incidents
        for update in incident.updates
    ]
    items.sort(key=lambda item: item[2], reverse=True)
    return items[:ITEMS]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rss(page: Page, incidents: Sequence[PublicIncident], now: datetime) -> bytes:
    root = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM})
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = f"{page.name} status"
    ET.SubElement(channel, "link").text = page.url
    ET.SubElement(channel, "description").text = page.description or f"Incidents and updates from {page.name}"
    ET.SubElement(channel, "atom:link", {"href": f"{page.url}/feed.rss", "rel": "self", "type": "application/rss+xml"})
    items = _items(incidents)
    ET.SubElement(channel, "lastBuildDate").text = format_datetime((items[0][2] if items else now).astimezone(UTC))
    for incident, update_id, at, status, body in items:
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = f"{incident.name}: {status.capitalize()}"
        ET.SubElement(item, "link").text = f"{page.url}/incidents/{incident.id}"
        ET.SubElement(item, "guid", {"isPermaLink": "false"}).text = f"{page.url}/incidents/{incident.id}#{update_id}"
        ET.SubElement(item, "pubDate").text = format_datetime(at.astimezone(UTC))
        ET.SubElement(item, "description").text = body
    return _document(root)


def atom(page: Page, incidents: Sequence[PublicIncident], now: datetime) -> bytes:
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attributes)
        if text is not None:
            element.text = text
        return element

    items = _items(incidents)
    sub(root, "id", f"{page.url}/feed.atom")
    sub(root, "title", f"{page.name} status")
    sub(root, "updated", _iso(items[0][2] if items else now))
    sub(root, "link", href=page.url, rel="alternate", type="text/html")
    sub(root, "link", href=f"{page.url}/feed.atom", rel="self", type="application/atom+xml")
    author = sub(root, "author")
    sub(author, "name", page.name)
    for incident, update_id, at, status, body in items:
        entry = sub(root, "entry")
        sub(entry, "id", f"{page.url}/incidents/{incident.id}#{update_id}")
        sub(entry, "title", f"{incident.name}: {status.capitalize()}")
        sub(entry, "updated", _iso(at))
        sub(entry, "published", _iso(at))
        sub(entry, "link", href=f"{page.url}/incidents/{incident.id}", rel="alternate", type="text/html")
        sub(entry, "content", body, type="text")
    return _document(root)


def _document(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
