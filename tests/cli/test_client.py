"""The HTTP client and the stored login, without a server: httpx.MockTransport answers."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tocsin.cli.client import (
    EXIT_API,
    EXIT_CONFIG,
    EXIT_UNAUTHENTICATED,
    EXIT_UNREACHABLE,
    ApiError,
    Client,
    Login,
    NotConfigured,
    Unauthenticated,
    Unreachable,
    config_path,
    resolve_login,
    segment,
    store,
)

LOGIN = Login("http://tocsin.test", "tcn_secret")


def answering(handler: Callable[[httpx.Request], httpx.Response]) -> Client:
    return Client(LOGIN, transport=httpx.MockTransport(handler))


def problem(status: int, detail: str, **extra: object) -> httpx.Response:
    body = {"type": "about:blank", "title": "t", "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def test_it_sends_the_token_and_drops_unset_query_parameters() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []})

    assert answering(handler).get("/api/v1/incidents", status="open", severity=None) == {"items": []}
    assert seen[0].headers["authorization"] == "Bearer tcn_secret"
    assert seen[0].url.query == b"status=open"


def test_a_problem_names_its_field_once() -> None:
    with pytest.raises(ApiError) as raised:
        answering(lambda _: problem(409, "INC-1: cannot move back", field="status")).post("/x", {})
    assert raised.value.message == "INC-1: cannot move back (field: status)"
    assert raised.value.exit_code == EXIT_API

    with pytest.raises(ApiError) as raised:
        answering(lambda _: problem(422, "limit: too big", field="limit")).get("/x")
    assert raised.value.message == "limit: too big"


def test_several_invalid_fields_are_all_named_on_one_line() -> None:
    errors = [{"field": "title", "message": "required"}, {"field": "severity", "message": "required"}]
    with pytest.raises(ApiError, match=r"^title: required; severity: required$"):
        answering(lambda _: problem(422, "title: required", field="title", errors=errors)).post("/x", {})


def test_a_refused_token_points_at_login() -> None:
    with pytest.raises(Unauthenticated) as raised:
        answering(lambda _: problem(401, "token expired")).get("/api/v1/me")
    assert raised.value.exit_code == EXIT_UNAUTHENTICATED
    assert raised.value.message == "token expired; run `tocsin login` or set TOCSIN_TOKEN"


def test_an_answer_that_is_not_tocsin_says_so() -> None:
    with pytest.raises(ApiError, match=r"unexpected answer from http://tocsin.test/api/v1/me: HTTP 502 Bad Gateway"):
        answering(lambda _: httpx.Response(502, text="<html>bad gateway</html>")).get("/api/v1/me")
    with pytest.raises(ApiError, match=r"not JSON; is this Tocsin\?"):
        answering(lambda _: httpx.Response(200, text="<html>hello</html>")).get("/api/v1/me")
    moved = httpx.Response(301, headers={"location": "https://tocsin.test/api/v1/me"})
    with pytest.raises(ApiError, match=r"to https://tocsin.test/api/v1/me; log in with that URL instead"):
        answering(lambda _: moved).get("/api/v1/me")


def test_network_failures_are_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(Unreachable, match=r"^cannot reach Tocsin at http://tocsin.test: is `tocsin serve` running\?$"):
        answering(refuse).get("/api/v1/me")
    with pytest.raises(Unreachable, match="did not answer in time") as raised:
        answering(stall).get("/api/v1/me")
    assert raised.value.exit_code == EXIT_UNREACHABLE


def test_a_reference_stays_one_path_segment() -> None:
    assert segment("../tokens") == "..%2Ftokens"
    assert segment("INC-2026-11-23-001") == "INC-2026-11-23-001"


def test_the_stored_login_is_private_even_over_an_old_readable_file(tmp_path: Path) -> None:
    path = config_path({"XDG_CONFIG_HOME": str(tmp_path)})
    assert path == tmp_path / "tocsin" / "config.json"
    path.parent.mkdir()
    path.write_text("{}")
    path.chmod(0o644)
    store(LOGIN, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"url": "http://tocsin.test", "token": "tcn_secret"}
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]


def test_the_environment_overrides_each_half_of_the_stored_login(tmp_path: Path) -> None:
    store(LOGIN, tmp_path / "tocsin" / "config.json")
    home = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert resolve_login(home) == LOGIN
    assert resolve_login({**home, "TOCSIN_TOKEN": "tcn_other"}) == Login("http://tocsin.test", "tcn_other")
    assert resolve_login({**home, "TOCSIN_URL": "https://elsewhere/"}) == Login("https://elsewhere", "tcn_secret")


def test_a_broken_config_file_asks_for_a_new_login(tmp_path: Path) -> None:
    path = tmp_path / "tocsin" / "config.json"
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(NotConfigured, match="run `tocsin login` again") as raised:
        resolve_login({"XDG_CONFIG_HOME": str(tmp_path)})
    assert raised.value.exit_code == EXIT_CONFIG
    # With both variables set the file is not needed, so it cannot get in the way.
    both = {"XDG_CONFIG_HOME": str(tmp_path), "TOCSIN_URL": "http://a", "TOCSIN_TOKEN": "t"}
    assert resolve_login(both) == Login("http://a", "t")


def test_without_xdg_config_home_the_login_lives_under_the_home_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_path({}) == tmp_path / ".config" / "tocsin" / "config.json"
