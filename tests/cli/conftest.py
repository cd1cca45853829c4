"""Fixtures the CLI tests share: the app in this process, which the `cli` fixtures talk to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.support.inprocess import quiet_request_logs
from tocsin.app import create_app
from tocsin.clock import FrozenClock
from tocsin.config import Settings


@pytest.fixture
def api(settings: Settings, clock: FrozenClock, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    """The app, quiet: its request log would land in the command output CliRunner captures."""
    with quiet_request_logs(), TestClient(create_app(settings, clock, sessions)) as test_client:
        yield test_client
