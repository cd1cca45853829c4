"""The local commands: migrate and token create work on the database directly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from tests.conftest import START, Personas
from tests.support.server import start_server
from tocsin.storage.db import make_engine


def tocsin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tocsin", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_migrate_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/data/tocsin.db"
    first = tocsin("migrate", env={"TOCSIN_DATABASE_URL": url})
    assert first.returncode == 0, first.stderr
    assert "Database is up to date" in first.stdout
    again = tocsin("migrate", env={"TOCSIN_DATABASE_URL": url})
    assert again.returncode == 0, again.stderr
    engine = make_engine(url)
    assert {"incidents", "timeline_entries", "response_targets", "api_tokens"} <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.slow
def test_token_create_prints_a_working_token(db_url: str, personas: Personas, tmp_path: Path) -> None:
    result = tocsin(
        "token", "create", "--user", personas.bob.email, "--name", "laptop", "--scope", "read",
        env={"TOCSIN_DATABASE_URL": db_url},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip()
    assert secret.startswith("tcn_")
    with start_server(db_url, tmp_path, START) as server:
        me = httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.json()["scope"] == "read"
        assert me.json()["actor"] == personas.bob.email


def test_token_create_for_an_unknown_user_fails_clearly(db_url: str) -> None:
    result = tocsin("token", "create", "--user", "ghost@example.com", env={"TOCSIN_DATABASE_URL": db_url})
    assert result.returncode == 1
    assert "no user 'ghost@example.com'" in result.stderr
