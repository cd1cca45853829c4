"""The CLI against the app in-process: real HTTP requests handed to a TestClient.

CLI tests that need no real server use this: the commands build their client
as they do in production, only its transport is the app itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi.testclient import TestClient

from tests.cli.test_remote import Cli
from tests.conftest import START
from tocsin.cli import remote
from tocsin.cli.client import Client, Login


class InProcess(httpx.BaseTransport):
    """Hands each request to the app through its TestClient."""

    def __init__(self, app: TestClient) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        answer = self.app.request(
            request.method, request.url.raw_path.decode("ascii"), headers=headers, content=request.read()
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


@contextmanager
def quiet_request_logs() -> Iterator[None]:
    """The in-process app logs each request to stdout, which CliRunner captures with the command's output."""
    before = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        yield
    finally:
        structlog.configure(**before)


def cli_for(api: TestClient, token: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`tocsin` with `token`, whose every request reaches `api`."""

    def connect(login: Login) -> Client:
        return Client(login, transport=InProcess(api))

    monkeypatch.setattr(remote, "Client", connect)
    clock_file = tmp_path / "clock"
    clock_file.write_text(START.isoformat())
    return Cli("http://tocsin.test", token, tmp_path / "config", clock_file)
