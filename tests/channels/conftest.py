"""Fakes for the far ends of the channels: an HTTP server and a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.samples import Mailbox, SmtpServer
from tests.support.fake_http import FakeHTTPServer


@pytest.fixture
def fake_http() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server


@pytest.fixture
def mailbox() -> Iterator[SmtpServer]:
    with SmtpServer(Mailbox()) as server:
        yield server
