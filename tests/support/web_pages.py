"""Helpers for the web page tests: declaring incidents through the services, reading pages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from html.parser import HTMLParser

from sqlalchemy.orm import Session, sessionmaker

from tocsin.services import incidents
from tocsin.services.actor import Actor


def declare(
    sessions: sessionmaker[Session],
    now: datetime,
    title: str,
    severity: str = "P1",
    services: Sequence[str] = ("api",),
    **options: object,
) -> str:
    """Declare an incident as the tests' system actor; its human id."""
    with sessions() as db:
        incident = incidents.declare(
            db,
            Actor.system("tests"),
            now,
            title=title,
            severity=severity,
            services=services,
            **options,  # type: ignore[arg-type]
        )
        db.commit()
        return incident.human_id


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def text_of(html: str) -> str:
    """What a reader sees: the page's text with whitespace collapsed."""
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts)).strip()


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []
        self.buttons: list[str] = []
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and (found.get("method") or "").lower() == "post":
            self.actions.append(found.get("action") or "")
        if tag == "button":
            self._in_button = True
            self.buttons.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.buttons[-1] += data.strip()


def post_forms(html: str) -> list[str]:
    """The actions of the page's POST forms (the log-out form included)."""
    parser = _Forms()
    parser.feed(html)
    return parser.actions


def buttons(html: str) -> list[str]:
    parser = _Forms()
    parser.feed(html)
    return parser.buttons
