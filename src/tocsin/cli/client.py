"""Talking to a Tocsin server: where to find it, the stored login, and the HTTP calls.

The remote commands never see httpx or a status code; they see JSON or one of:

    CliError                 exit_code
    ├── NotConfigured           2   no URL or token, or an unreadable config file
    ├── Unreachable             3   connection refused, DNS failure, time-out
    └── ApiError                1   the server answered with a problem (RFC 9457)
        └── Unauthenticated     4   401: the token is missing, unknown, revoked or expired

The server is found through, in order: TOCSIN_URL / TOCSIN_TOKEN, then the file
`tocsin login` writes ($XDG_CONFIG_HOME/tocsin/config.json, mode 0600). Each
variable overrides its own half, so TOCSIN_TOKEN alone switches identity
against the stored server.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from tocsin import __version__

EXIT_API = 1
EXIT_CONFIG = 2
EXIT_UNREACHABLE = 3
EXIT_UNAUTHENTICATED = 4

LOGIN_HINT = "run `tocsin login --url URL --token TOKEN` or set TOCSIN_URL and TOCSIN_TOKEN"
TOKEN_HINT = "run `tocsin login` or set TOCSIN_TOKEN"  # noqa: S105 (advice, not a secret)

Json = dict[str, Any]


class CliError(Exception):
    exit_code = EXIT_API

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotConfigured(CliError):
    exit_code = EXIT_CONFIG


class Unreachable(CliError):
    exit_code = EXIT_UNREACHABLE


class ApiError(CliError):
    def __init__(
        self, status: int, detail: str, *, field: str | None = None, errors: list[dict[str, str]] | None = None
    ) -> None:
        self.status = status
        self.detail = detail
        self.field = field
        self.errors = errors or []
        super().__init__(self._explain())

    def _explain(self) -> str:
        # Several invalid fields at once: name each, still on one line.
        if len(self.errors) > 1:
            return "; ".join(f"{e.get('field')}: {e.get('message')}" for e in self.errors)
        if self.field and not self.detail.startswith(f"{self.field}:"):
            return f"{self.detail} (field: {self.field})"
        return self.detail


class Unauthenticated(ApiError):
    exit_code = EXIT_UNAUTHENTICATED

    def _explain(self) -> str:
        return f"{self.detail}; {TOKEN_HINT}"


@dataclass(frozen=True)
class Login:
    url: str
    token: str


def config_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tocsin" / "config.json"


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NotConfigured(f"{url!r} is not a server URL; expected e.g. http://127.0.0.1:8080")
    return url


def read_stored(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise NotConfigured(f"cannot read {path} ({exc}); run `tocsin login` again") from None
    if not isinstance(data, dict):
        raise NotConfigured(f"{path} is not a Tocsin config; run `tocsin login` again")
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def store(login: Login, path: Path) -> None:
    """Write the login so that no other user can read the token, not even for an instant."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file 0600; replacing the old file keeps a crash from leaving half a config.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump({"url": login.url, "token": login.token}, file, indent=2)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def forget(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def resolve_login(env: dict[str, str] | None = None) -> Login:
    env = dict(os.environ) if env is None else env
    path = config_path(env)
    env_url, env_token = env.get("TOCSIN_URL", "").strip(), env.get("TOCSIN_TOKEN", "").strip()
    # Both from the environment: the file is not even read, so a broken one does not matter.
    stored = read_stored(path) if not (env_url and env_token) else {}
    url = env_url or stored.get("url", "")
    token = env_token or stored.get("token", "")
    if not url and not token:
        raise NotConfigured(f"no Tocsin server configured: {LOGIN_HINT}")
    if not url:
        raise NotConfigured("no Tocsin URL configured: set TOCSIN_URL or run `tocsin login --url URL`")
    if not token:
        raise NotConfigured(f"no API token configured: {TOKEN_HINT}")
    return Login(normalize_url(url), token)


def server_url(env: dict[str, str] | None = None) -> str | None:
    """The server alone (TOCSIN_URL, else the stored login), for what authenticates with
    something other than an API token: events carry an integration key."""
    env = dict(os.environ) if env is None else env
    url = env.get("TOCSIN_URL", "").strip() or read_stored(config_path(env)).get("url", "")
    return normalize_url(url) if url else None


def _problem(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "detail" not in body:
        # Not a Tocsin problem document: most likely the URL points at something else.
        detail = f"unexpected answer from {response.request.url}: HTTP {response.status_code} {response.reason_phrase}"
        if response.is_redirect:
            detail += f" to {response.headers.get('location')}; log in with that URL instead"
        return ApiError(response.status_code, detail)
    detail = str(body["detail"])
    if detail.lower() == response.reason_phrase.lower():
        # A bare "Not Found" names no object: say which endpoint, e.g. one an older server lacks.
        path = response.request.url.raw_path.decode("ascii").partition("?")[0]
        detail = f"{detail}: {response.request.method} {path}"
    field = body.get("field")
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    kind = Unauthenticated if response.status_code == 401 else ApiError
    return kind(response.status_code, detail, field=field if isinstance(field, str) else None, errors=errors)


def segment(value: str) -> str:
    """A path segment from user input: `../tokens` must not reach another endpoint."""
    return quote(value, safe="")


class Client:
    """One server, one token. JSON in, JSON out; every failure is a `CliError`."""

    def __init__(self, login: Login, *, transport: httpx.BaseTransport | None = None, timeout: float = 30.0) -> None:
        self.url = login.url
        self._http = httpx.Client(
            base_url=login.url,
            headers={
                "Authorization": f"Bearer {login.token}",
                "Accept": "application/json",
                "User-Agent": f"tocsin-cli/{__version__}",
            },
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Json | None = None) -> Any:
        response = self._send(method, path, params=params, body=body)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code, f"unexpected answer from {response.request.url}: not JSON; is this Tocsin?"
            ) from None

    def text(self, path: str, **params: Any) -> str:
        """GET something that is not JSON (a CSV export), as text."""
        return self._send("GET", path, params=params).text

    def _send(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Json | None = None
    ) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, params=query, json=body)
        except httpx.ConnectError:
            raise Unreachable(f"cannot reach Tocsin at {self.url}: is `tocsin serve` running?") from None
        except httpx.TimeoutException:
            raise Unreachable(f"Tocsin at {self.url} did not answer in time; try again") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise NotConfigured(f"{self.url} is not a usable server URL ({exc})") from None
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot talk to Tocsin at {self.url}: {exc}") from None
        if not response.is_success:
            raise _problem(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def put(self, path: str, body: Json) -> Any:
        return self.request("PUT", path, body=body)

    def post(self, path: str, body: Json) -> Any:
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: Json) -> Any:
        return self.request("PATCH", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)
