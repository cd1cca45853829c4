"""GitHub issues through the REST API: open one for an action item, close it when the item is done.

    POST  {base}/repos/{owner}/{repo}/issues                 {"title", "body", "labels"}  → 201 {"number", "html_url"}
    PATCH {base}/repos/{owner}/{repo}/issues/{number}        {"state": "closed", "state_reason": "completed"}

`base` is `https://api.github.com` or a GitHub Enterprise Server's `https://host/api/v3`
(TOCSIN_GITHUB_API_URL). Answers are read as the channels read webhooks' (channels.posting:
429 and 5xx retry, other 4xx are permanent), except that GitHub's rate limit is a 403 with
`x-ratelimit-remaining: 0` and a reset time, which is a retry. The token never appears in
an error, nor in the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from tocsin.channels import posting
from tocsin.channels.result import DeliveryResult, Outcome

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class GithubSettings:
    repository: str  # owner/name
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    labels: tuple[str, ...] = ("action-item",)


@dataclass(frozen=True)
class IssueResult:
    result: DeliveryResult
    number: int | None = None
    url: str = ""

    @property
    def outcome(self) -> Outcome:
        return self.result.outcome


def _headers(settings: GithubSettings) -> dict[str, str]:
    return {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {settings.token}",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": posting.USER_AGENT,
        "Content-Type": "application/json",
    }


def _issues_url(settings: GithubSettings) -> str:
    return f"{settings.api_url.rstrip('/')}/repos/{settings.repository}/issues"


def create_issue(
    settings: GithubSettings, title: str, body: str, *, client: httpx.Client | None = None, timeout: float = 10.0
) -> IssueResult:
    payload = {"title": title, "body": body, "labels": list(settings.labels)}
    answer = _call(settings, "POST", _issues_url(settings), payload, client, timeout)
    if isinstance(answer, IssueResult):
        return answer
    try:
        data = answer.json()
        number, url = int(data["number"]), str(data.get("html_url") or "")
    except (ValueError, KeyError, TypeError):
        return IssueResult(DeliveryResult.permanent("GitHub answered without an issue number"))
    return IssueResult(DeliveryResult.ok(answer.status_code), number, url)


def close_issue(
    settings: GithubSettings, number: int, *, client: httpx.Client | None = None, timeout: float = 10.0
) -> IssueResult:
    payload = {"state": "closed", "state_reason": "completed"}
    answer = _call(settings, "PATCH", f"{_issues_url(settings)}/{number}", payload, client, timeout)
    if isinstance(answer, IssueResult):
        return answer
    return IssueResult(DeliveryResult.ok(answer.status_code), number)


def _call(
    settings: GithubSettings,
    method: str,
    url: str,
    payload: dict[str, Any],
    client: httpx.Client | None,
    timeout: float,
) -> httpx.Response | IssueResult:
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        return IssueResult(DeliveryResult.permanent("the GitHub API URL is not a valid URL"))
    if target.scheme not in ("http", "https") or not target.host:
        return IssueResult(DeliveryResult.permanent("the GitHub API URL must be an http:// or https:// URL"))
    content = orjson.dumps(payload)
    try:
        if client is None:
            with httpx.Client(timeout=timeout, verify=posting.tls_context(), follow_redirects=False) as own:
                response = own.request(method, target, content=content, headers=_headers(settings))
        else:
            response = client.request(method, target, content=content, headers=_headers(settings), timeout=timeout)
    except httpx.TimeoutException:
        return IssueResult(DeliveryResult.retry(f"{target.host} did not answer within {timeout:g} s"))
    except httpx.HTTPError as exc:
        return IssueResult(DeliveryResult.retry(f"could not reach {target.host} ({type(exc).__name__})"))
    if 200 <= response.status_code < 300:
        return response
    limited = _rate_limited(response)
    if limited is not None:
        return IssueResult(limited)
    result = posting.classify(response, host=target.host, explain=_explain)
    return IssueResult(result.scrubbed(settings.token))


def _explain(response: httpx.Response) -> str:
    try:
        message = str(response.json().get("message") or "")
    except ValueError:
        message = ""
    return f"HTTP {response.status_code}" + (f" ({message[:200]})" if message else "")


def _rate_limited(response: httpx.Response) -> DeliveryResult | None:
    if response.status_code not in (403, 429) or response.headers.get("x-ratelimit-remaining") != "0":
        return None
    wait: float | None = None
    reset = response.headers.get("x-ratelimit-reset")
    if reset and reset.isdigit():
        wait = max(int(reset) - datetime.now(UTC).timestamp(), 0.0)
    return DeliveryResult.retry("GitHub's rate limit is used up", status=response.status_code, retry_after=wait)
