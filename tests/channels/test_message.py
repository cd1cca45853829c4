"""The channel-neutral message: what it refuses, and the headline every channel shows."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.channels.samples import page
from tocsin.channels.message import MessageKind


@pytest.mark.parametrize(
    ("changes", "headline"),
    [
        ({}, "[P1] INC-2026-11-23-001 Checkout is down"),
        ({"kind": MessageKind.RESOLVED}, "Resolved: [P1] INC-2026-11-23-001 Checkout is down"),
        ({"kind": "incident_update"}, "Update: [P1] INC-2026-11-23-001 Checkout is down"),
        (
            {"severity": None, "incident": None, "kind": MessageKind.TEST, "title": "Hello\n  there"},
            "Test: Hello there",
        ),
        ({"severity": None, "incident": None, "kind": "verify", "title": "Your code"}, "Verification: Your code"),
        ({"kind": MessageKind.POST}, "[P1] INC-2026-11-23-001 Checkout is down"),
    ],
)
def test_the_headline(changes: dict[str, object], headline: str) -> None:
    assert page(**changes).headline == headline


def test_fields_keep_their_order_and_become_a_tuple() -> None:
    message = page(fields=[("b", "2"), ("a", "1")])
    assert message.fields == (("b", "2"), ("a", "1"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"idempotency_key": "line\nbreak"}, "idempotency_key"),
        ({"idempotency_key": "trailing-newline\n"}, "idempotency_key"),
        ({"ack_url": "https://x.example/a\n"}, "ack_url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"ack_url": "/ack/relative"}, "ack_url"),
        ({"ack_url": "https://x.example/a b"}, "ack_url"),
        ({"mention": "> @everyone"}, "mention"),
        ({"mention": "&&1081234567890123456"}, "mention"),
        ({"mention": "&"}, "mention"),
        ({"mention": "<@&1081234567890123456>"}, "mention"),
        ({"severity_rank": -1}, "severity_rank"),
        ({"at": datetime(2026, 11, 23, 9, 0)}, "at"),
        ({"kind": "carrier-pigeon"}, "kind"),
    ],
)
def test_a_message_refuses_what_channels_cannot_render_safely(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        page(**changes)


def test_a_mention_names_a_person_or_with_an_ampersand_a_group() -> None:
    assert page(mention="80351110224678912").role_mention is None
    assert page(mention="&1081234567890123456").role_mention == "1081234567890123456"
    assert page(mention=None).role_mention is None
