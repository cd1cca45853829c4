"""The API against a real `tocsin serve` process, not only the in-process client."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import START
from tests.support.server import ServerProcess, start_server

TOKEN = re.compile(r"tcn_[A-Za-z0-9_-]{20,}")


def test_first_start_creates_an_admin_and_prints_its_token_once(
    server: ServerProcess, db_url: str, tmp_path: Path
) -> None:
    tokens = set(TOKEN.findall(server.log()))
    assert len(tokens) == 1
    token = tokens.pop()
    me = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {
        "user": {
            "id": me["user"]["id"],
            "email": "root@example.com",
            "name": "Administrator",
            "role": "admin",
            "time_zone": "UTC",
            "active": True,
        },
        "actor": "root@example.com",
        "scope": "admin",
    }
    declared = httpx.post(
        f"{server.url}/api/v1/incidents",
        json={"title": "From a real server", "severity": "P2"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert declared.status_code == 201
    assert declared.json()["declared_at"] == "2026-11-23T09:00:00Z"  # the test's clock, not the wall clock
    server.stop()

    restart_dir = tmp_path / "again"
    restart_dir.mkdir()
    with start_server(db_url, restart_dir, START) as again:
        assert TOKEN.findall(again.log()) == []
        assert httpx.get(f"{again.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_logs_are_json_lines_without_secrets(server: ServerProcess) -> None:
    token = TOKEN.findall(server.log())[0]
    httpx.get(f"{server.url}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    httpx.get(f"{server.url}/api/v1/incidents", headers={"Authorization": "Bearer tcn_wrong"})
    server.stop()
    # After the first-start banner (printed for a person, once), every line is JSON:
    # ours, uvicorn's and the engine's alike.
    after_banner = server.log().split(f"export TOCSIN_TOKEN={token}", 1)[1]
    records = [json.loads(line) for line in after_banner.splitlines() if line.strip()]
    assert {"uvicorn.error", "tocsin.http", "tocsin.engine.runner"} <= {r["logger"] for r in records}
    requests = [r for r in records if r["event"] == "request"]
    assert [(r["path"], r["status"]) for r in requests[-2:]] == [("/api/v1/incidents", 200), ("/api/v1/incidents", 401)]
    assert token not in after_banner
    assert "tcn_wrong" not in after_banner


def test_the_real_server_enforces_the_body_limit(server: ServerProcess) -> None:
    token = TOKEN.findall(server.log())[0]
    answer = httpx.post(
        f"{server.url}/api/v1/incidents",
        content=b"x" * (1024 * 1024 + 1),
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["title"] == "Request too large"


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tocsin", "serve"],
        env={"TOCSIN_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "run `tocsin migrate` first" in result.stderr
