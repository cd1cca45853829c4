"""Fixtures for tests against real third-party programs: Debian's Prometheus Alertmanager.

A missing program skips its tests locally and fails them under CI=true, as a
missing PostgreSQL does, so a CI without the package cannot pass by skipping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI
from tests.support import alertmanager
from tests.support.alertmanager import Alertmanager

StartAlertmanager = Callable[[Mapping[str, Any]], Alertmanager]


@pytest.fixture(scope="session")
def alertmanager_binary() -> Path:
    found = alertmanager.find_binary()
    if found is None:
        message = "Alertmanager tests need Debian's prometheus-alertmanager (run scripts/debian-deps, or `make test`)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def start_alertmanager(alertmanager_binary: Path, tmp_path: Path) -> Iterator[StartAlertmanager]:
    """Start a real Alertmanager with a config; it is stopped when the test ends."""
    with ExitStack() as stack:
        started = 0

        def start(settings: Mapping[str, Any]) -> Alertmanager:
            nonlocal started
            started += 1
            workdir = tmp_path / f"alertmanager-{started}"
            return stack.enter_context(alertmanager.running(alertmanager_binary, workdir, settings))

        yield start
