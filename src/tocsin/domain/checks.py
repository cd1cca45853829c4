"""Health checks: what each kind probes, what makes a result up, and when a check goes down.

A check is an active probe run every `interval`: HTTP(S), TCP connect, DNS or
TLS certificate expiry. A probe gives an `Observation`; `evaluate` applies the
check's conditions to it (Gatus's: status, body keyword or regex, `$.path OP
value`, response time, days left on the certificate). The state machine turns
results into a status: `failures_before_down` failures in a row take an up (or
new) check down and raise its alert, `successes_before_up` successes in a row
bring it back and resolve it (Gatus's defaults, 3 and 2), so one blip pages
nobody. While it stays down, a reminder re-raises it at most every
`reminder_every`.

Runs are spread over the interval: each check has a stable offset within it
(a hash of its name), so 5,000 checks at 60 s are ~83 a second, not 5,000 at
the top of the minute. When Tocsin itself cannot reach the network, failures
are `held`: recorded, and neither counted nor paged.

Everything here takes `now` and does no I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

MIN_INTERVAL_S = 10
MAX_INTERVAL_S = 86400
MAX_TIMEOUT_S = 60
DEFAULT_FAILURES_BEFORE_DOWN = 3
DEFAULT_SUCCESSES_BEFORE_UP = 2
# Kept of a response body for keyword, regex and JSON conditions: a health page, not a download.
BODY_LIMIT = 64 * 1024
REASON_LIMIT = 500


class Kind(StrEnum):
    HTTP = "http"
    TCP = "tcp"
    DNS = "dns"
    TLS = "tls"


class Status(StrEnum):
    NEW = "new"  # no result yet
    UP = "up"
    DOWN = "down"
    PAUSED = "paused"


class Effect(StrEnum):
    NONE = "none"
    RAISE = "raise"  # trigger its alert
    REMIND = "remind"  # trigger it again: still down
    RESOLVE = "resolve"


class Problem(ValueError):
    """What is wrong with a check's definition; `field` names it as the API and config file spell it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# ---- conditions ---------------------------------------------------------------------

_OPS = ("==", "!=", "<=", ">=", "<", ">")
_CONDITION = re.compile(r"^\s*(\$\S*)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[(-?\d{1,9})\]|\[\"([^\"]*)\"\]|\['([^']*)'\]")


@dataclass(frozen=True)
class Condition:
    """`$.path OP value`: the value at `path` of the JSON body compared with a JSON literal
    (or, unquoted and not JSON, a string): `$.status == "ok"`, `$.queue.depth < 100`."""

    text: str
    path: tuple[str | int, ...]
    op: str
    value: Any


def parse_condition(text: str) -> Condition:
    match = _CONDITION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a condition such as '$.status == \"ok\"' (operators: {', '.join(_OPS)})")
    path_text, op, literal = match.groups()
    steps: list[str | int] = []
    at = 1
    while at < len(path_text):
        step = _STEP.match(path_text, at)
        if step is None:
            raise ValueError(f'{path_text!r}: expected .name, [index] or ["name"] at character {at + 1}')
        name, index, double, single = step.groups()
        steps.append(int(index) if index is not None else name or double or single or "")
        at = step.end()
    try:
        value: Any = json.loads(literal)
    except ValueError:
        value = literal
    if op in ("<", "<=", ">", ">=") and not _number(value):
        raise ValueError(f"{text!r}: {op} compares numbers, and {literal!r} is not one")
    return Condition(text.strip(), tuple(steps), op, value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_MISSING = object()


def _lookup(document: Any, path: Sequence[str | int]) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(document, list) or not -len(document) <= step < len(document):
                return _MISSING
            document = document[step]
        elif isinstance(document, dict) and step in document:
            document = document[step]
        else:
            return _MISSING
    return document


def condition_holds(condition: Condition, document: Any) -> tuple[bool, str]:
    """Whether it holds, and what was found (for the reason when it does not)."""
    found = _lookup(document, condition.path)
    if found is _MISSING:
        return False, "nothing there"
    shown = json.dumps(found)[:100]
    expected = condition.value
    if condition.op in ("==", "!="):
        # "200" in a condition matches 200 in the body: people write both.
        same = found == expected or (isinstance(expected, str) and not isinstance(found, str) and shown == expected)
        return (same if condition.op == "==" else not same), shown
    if not _number(found):
        return False, shown
    held = {
        "<": found < expected,
        "<=": found <= expected,
        ">": found > expected,
        ">=": found >= expected,
    }[condition.op]
    return bool(held), shown


# ---- specs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpSpec:
    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    # Up when the status is one of these; empty means any 2xx or 3xx.
    expect_status: tuple[int, ...] = ()
    keyword: str | None = None  # the body contains it
    regex: str | None = None  # the body matches it (search)
    conditions: tuple[Condition, ...] = ()
    max_response_ms: int | None = None
    verify_tls: bool = True


@dataclass(frozen=True)
class TcpSpec:
    host: str
    port: int
    max_response_ms: int | None = None


@dataclass(frozen=True)
class DnsSpec:
    name: str
    record_type: str = "A"
    # Up only when one of the answers is this (an address, a CNAME target …); None: any answer.
    expect: str | None = None
    nameserver: str | None = None  # host or host:port; None uses the system's resolver
    max_response_ms: int | None = None


@dataclass(frozen=True)
class TlsSpec:
    host: str
    port: int = 443
    warn_days: int = 14  # down when the certificate expires sooner than this
    server_name: str | None = None  # SNI and the name verified; the host by default
    verify: bool = True


Spec = HttpSpec | TcpSpec | DnsSpec | TlsSpec

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "CAA", "PTR")
SPEC_FIELDS: dict[Kind, frozenset[str]] = {
    Kind.HTTP: frozenset(
        {
            "url",
            "method",
            "headers",
            "body",
            "expect_status",
            "keyword",
            "regex",
            "conditions",
            "max_response_ms",
            "verify_tls",
        }
    ),
    Kind.TCP: frozenset({"host", "port", "max_response_ms"}),
    Kind.DNS: frozenset({"name", "record_type", "expect", "nameserver", "max_response_ms"}),
    Kind.TLS: frozenset({"host", "port", "warn_days", "server_name", "verify"}),
}


def parse_kind(text: str) -> Kind:
    try:
        return Kind(text)
    except ValueError:
        raise Problem("kind", f"unknown check kind {text!r}; expected one of {', '.join(Kind)}") from None


def _get(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = data.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise Problem(name, f"{name} must be {_type_name(kind)}")
    if not isinstance(value, kind):
        raise Problem(name, f"{name} must be {_type_name(kind)}")
    return value


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", bool: "true or false", list: "a list", dict: "a mapping"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _host(data: Mapping[str, Any]) -> str:
    host = _get(data, "host", str, "").strip()
    if not host or len(host) > 253 or any(c.isspace() for c in host) or "/" in host:
        raise Problem("host", "give a host name or address, such as db.internal or 10.0.0.5")
    return str(host)


def _port(data: Mapping[str, Any], default: int | None = None) -> int:
    port = _get(data, "port", int, default)
    if port is None or not 1 <= port <= 65535:
        raise Problem("port", "the port must be between 1 and 65535")
    return int(port)


def _max_ms(data: Mapping[str, Any]) -> int | None:
    value = _get(data, "max_response_ms", int)
    if value is not None and not 1 <= value <= MAX_TIMEOUT_S * 1000:
        raise Problem("max_response_ms", f"max_response_ms must be between 1 and {MAX_TIMEOUT_S * 1000}")
    return None if value is None else int(value)


def parse_spec(kind: Kind, data: Mapping[str, Any]) -> Spec:
    """A spec from its JSON form (the API's and the config file's), or a `Problem` naming the field."""
    unknown = sorted(set(data) - SPEC_FIELDS[kind])
    if unknown:
        allowed = ", ".join(sorted(SPEC_FIELDS[kind]))
        raise Problem(unknown[0], f"{unknown[0]!r} is not a field of a {kind} check; its fields are {allowed}")
    if kind == Kind.HTTP:
        return _http(data)
    if kind == Kind.TCP:
        return TcpSpec(host=_host(data), port=_port(data), max_response_ms=_max_ms(data))
    if kind == Kind.DNS:
        return _dns(data)
    return _tls(data)


def _http(data: Mapping[str, Any]) -> HttpSpec:
    url = str(_get(data, "url", str, "")).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise Problem("url", "give an http:// or https:// URL, such as https://api.example.com/healthz")
    method = str(_get(data, "method", str, "GET")).upper()
    if method not in METHODS:
        raise Problem("method", f"the method must be one of {', '.join(METHODS)}")
    headers = _get(data, "headers", dict, {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise Problem("headers", "headers map names to strings")
    statuses = _get(data, "expect_status", (list, int), [])
    statuses = [statuses] if isinstance(statuses, int) else statuses
    if not all(isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in statuses):
        raise Problem("expect_status", "expect_status is a status code or a list of them, each 100 to 599")
    regex = _get(data, "regex", str)
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            raise Problem("regex", f"{regex!r} is not a regular expression: {exc}") from None
    conditions: list[Condition] = []
    for text in _get(data, "conditions", list, []):
        if not isinstance(text, str):
            raise Problem("conditions", "each condition is a string such as '$.status == \"ok\"'")
        try:
            conditions.append(parse_condition(text))
        except ValueError as exc:
            raise Problem("conditions", str(exc)) from None
    return HttpSpec(
        url=url,
        method=method,
        headers=dict(headers),
        body=str(_get(data, "body", str, "")),
        expect_status=tuple(statuses),
        keyword=_get(data, "keyword", str),
        regex=regex,
        conditions=tuple(conditions),
        max_response_ms=_max_ms(data),
        verify_tls=bool(_get(data, "verify_tls", bool, True)),
    )


def _dns(data: Mapping[str, Any]) -> DnsSpec:
    name = str(_get(data, "name", str, "")).strip()
    if not name or len(name) > 253 or any(c.isspace() for c in name):
        raise Problem("name", "give the name to resolve, such as api.example.com")
    record_type = str(_get(data, "record_type", str, "A")).upper()
    if record_type not in RECORD_TYPES:
        raise Problem("record_type", f"the record type must be one of {', '.join(RECORD_TYPES)}")
    nameserver = _get(data, "nameserver", str)
    if nameserver is not None and split_host_port(nameserver, 53) is None:
        raise Problem("nameserver", "the nameserver is an address, optionally with a port: 10.0.0.2 or 10.0.0.2:5353")
    return DnsSpec(
        name=name,
        record_type=record_type,
        expect=_get(data, "expect", str),
        nameserver=nameserver,
        max_response_ms=_max_ms(data),
    )


def _tls(data: Mapping[str, Any]) -> TlsSpec:
    warn_days = _get(data, "warn_days", int, 14)
    if not 0 <= warn_days <= 365:
        raise Problem("warn_days", "warn_days must be between 0 and 365")
    return TlsSpec(
        host=_host(data),
        port=_port(data, 443),
        warn_days=int(warn_days),
        server_name=_get(data, "server_name", str),
        verify=bool(_get(data, "verify", bool, True)),
    )


def split_host_port(text: str, default_port: int) -> tuple[str, int] | None:
    """`10.0.0.2`, `10.0.0.2:5353`, `[::1]:53`, `::1`; None when it is none of them."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host or any(c.isspace() for c in host):
        return None
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        return None
    return host, int(port_text)


def target_of(spec: Spec) -> str:
    """What a check looks at, in a few words for tables and alert summaries."""
    if isinstance(spec, HttpSpec):
        return f"{spec.method} {spec.url}"
    if isinstance(spec, TcpSpec):
        return f"{spec.host}:{spec.port}"
    if isinstance(spec, DnsSpec):
        return f"{spec.name} {spec.record_type}" + (f" @{spec.nameserver}" if spec.nameserver else "")
    return f"certificate of {spec.host}:{spec.port}"


# ---- the check's settings --------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    interval: timedelta = timedelta(seconds=60)
    timeout: timedelta = timedelta(seconds=10)
    failures_before_down: int = DEFAULT_FAILURES_BEFORE_DOWN
    successes_before_up: int = DEFAULT_SUCCESSES_BEFORE_UP
    reminder_every: timedelta | None = None  # None: one alert, no reminders


def policy_problem(policy: Policy) -> Problem | None:
    interval = policy.interval.total_seconds()
    if not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
        return Problem("interval_s", f"the interval must be between {MIN_INTERVAL_S} s and 1 day")
    timeout = policy.timeout.total_seconds()
    if not 0 < timeout <= min(MAX_TIMEOUT_S, interval):
        return Problem("timeout_s", f"the timeout must be positive, at most {MAX_TIMEOUT_S} s and at most the interval")
    if not 1 <= policy.failures_before_down <= 100:
        return Problem("failures_before_down", "failures_before_down must be between 1 and 100")
    if not 1 <= policy.successes_before_up <= 100:
        return Problem("successes_before_up", "successes_before_up must be between 1 and 100")
    if policy.reminder_every is not None and policy.reminder_every < timedelta(minutes=1):
        return Problem("reminder_every_s", "reminders come at most once a minute")
    return None


# ---- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """What a probe saw. `error` is set when it got no answer at all (refused, timed out, no such name)."""

    elapsed_ms: float
    error: str | None = None
    status_code: int | None = None
    body: str = ""
    answers: tuple[str, ...] = ()  # DNS
    cert_not_after: datetime | None = None  # TLS


@dataclass(frozen=True)
class Verdict:
    up: bool
    reason: str = ""  # why it is down; empty when up


def evaluate(spec: Spec, seen: Observation, now: datetime) -> Verdict:
    """Apply the check's conditions to what its probe saw."""
    if seen.error is not None:
        return Verdict(False, seen.error[:REASON_LIMIT])
    reason = _reason(spec, seen, now)
    if reason is None:
        max_ms = getattr(spec, "max_response_ms", None)
        if max_ms is not None and seen.elapsed_ms > max_ms:
            reason = f"answered in {seen.elapsed_ms:.0f} ms, over the {max_ms} ms limit"
    return Verdict(reason is None, (reason or "")[:REASON_LIMIT])


def _reason(spec: Spec, seen: Observation, now: datetime) -> str | None:
    if isinstance(spec, HttpSpec):
        return _http_reason(spec, seen)
    if isinstance(spec, DnsSpec):
        if not seen.answers:
            return f"{spec.name} has no {spec.record_type} record"
        if spec.expect is not None and _dns_name(spec.expect) not in {_dns_name(a) for a in seen.answers}:
            return f"{spec.name} {spec.record_type} is {', '.join(seen.answers)[:200]}, not {spec.expect}"
        return None
    if isinstance(spec, TlsSpec):
        if seen.cert_not_after is None:
            return "no certificate"
        left = days_left(seen.cert_not_after, now)
        if left < 0:
            return f"the certificate expired on {seen.cert_not_after.date().isoformat()}"
        if left < spec.warn_days:
            return (
                f"the certificate expires in {left:.0f} days ({seen.cert_not_after.date().isoformat()}), "
                f"under the {spec.warn_days} days warning"
            )
    return None


def _dns_name(text: str) -> str:
    return text.strip().rstrip(".").lower()


def days_left(not_after: datetime, now: datetime) -> float:
    return (not_after - now).total_seconds() / 86400


def _http_reason(spec: HttpSpec, seen: Observation) -> str | None:
    code = seen.status_code
    if code is None:
        return "no HTTP status"
    if spec.expect_status and code not in spec.expect_status:
        return f"status {code}, expected {' or '.join(str(s) for s in spec.expect_status)}"
    if not spec.expect_status and not 200 <= code < 400:
        return f"status {code}"
    if spec.keyword is not None and spec.keyword not in seen.body:
        return f"the body does not contain {spec.keyword!r}"
    if spec.regex is not None and re.search(spec.regex, seen.body) is None:
        return f"the body does not match {spec.regex!r}"
    if spec.conditions:
        try:
            document = json.loads(seen.body)
        except ValueError:
            return "the body is not JSON, which its conditions need"
        for condition in spec.conditions:
            held, found = condition_holds(condition, document)
            if not held:
                return f"{condition.text} is false ({'$' + ''.join(_step(s) for s in condition.path)} is {found})"
    return None


def _step(step: str | int) -> str:
    return f"[{step}]" if isinstance(step, int) else f".{step}"


# ---- the state machine ------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    status: Status = Status.NEW
    failures: int = 0  # in a row
    successes: int = 0  # in a row
    alerting: bool = False  # its alert is firing
    alerted_at: datetime | None = None  # when it was last raised or reminded


@dataclass(frozen=True)
class Transition:
    state: State
    effect: Effect = Effect.NONE


def step(policy: Policy, state: State, up: bool, now: datetime) -> Transition:
    """One result (not a held one) arrives."""
    if state.status == Status.PAUSED:
        return Transition(state)
    if up:
        successes = state.successes + 1
        if state.status == Status.DOWN and successes < policy.successes_before_up:
            return Transition(replace(state, failures=0, successes=successes))
        effect = Effect.RESOLVE if state.alerting else Effect.NONE
        return Transition(State(Status.UP, 0, successes, False, None), effect)
    failures = state.failures + 1
    if state.status != Status.DOWN:
        if failures < policy.failures_before_down:
            return Transition(replace(state, failures=failures, successes=0))
        return Transition(State(Status.DOWN, failures, 0, True, now), Effect.RAISE)
    moved = replace(state, failures=failures, successes=0)
    if reminder_due(policy, state, now):
        return Transition(replace(moved, alerting=True, alerted_at=now), Effect.REMIND)
    return Transition(moved)


def reminder_due(policy: Policy, state: State, now: datetime) -> bool:
    if policy.reminder_every is None or state.status != Status.DOWN:
        return False
    return state.alerted_at is None or now - state.alerted_at >= policy.reminder_every


def pause(state: State) -> State:
    return replace(state, status=Status.PAUSED, failures=0, successes=0)


def resume(state: State) -> State:
    """Back to new: what happened before the pause says nothing about now."""
    return replace(state, status=Status.NEW, failures=0, successes=0)


# ---- when checks run ---------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def offset_ms(name: str, interval: timedelta) -> int:
    """A stable place for the check within its interval: the same after a restart or a
    re-apply, and spread evenly over many checks (a hash, not the order of creation)."""
    digest = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")
    return digest % max(1, int(interval.total_seconds() * 1000))


def next_slot(name: str, interval: timedelta, after: datetime) -> datetime:
    """The first of the check's slots strictly after `after`: epoch + k·interval + offset."""
    period = int(interval.total_seconds() * 1000)
    since = math.floor((after - _EPOCH).total_seconds() * 1000) - offset_ms(name, interval)
    k = since // period + 1
    return _EPOCH + timedelta(milliseconds=k * period + offset_ms(name, interval))


def held(verdict: Verdict, connected: bool) -> bool:
    """A failure while Tocsin has lost the network says nothing about the check: held.
    Successes always count (they prove the network works)."""
    return not verdict.up and not connected


# ---- response times: a compact histogram -----------------------------------------------

# Bucket upper bounds in ms, about 12% apart from 1 ms to 60 s: merging two hours adds lists,
# and a percentile read back is within a bucket's width.
BUCKETS: tuple[float, ...] = tuple(round(1.12**i, 1) for i in range(0, 98))


def bucket_of(ms: float) -> int:
    if ms <= BUCKETS[0]:
        return 0
    index = math.ceil(math.log(ms) / math.log(1.12))
    return min(index, len(BUCKETS) - 1)


def add_to_histogram(histogram: Sequence[int], values_ms: Sequence[float]) -> list[int]:
    merged = list(histogram) + [0] * (len(BUCKETS) - len(histogram))
    for value in values_ms:
        merged[bucket_of(value)] += 1
    return merged


def merge_histograms(histograms: Sequence[Sequence[int]]) -> list[int]:
    merged = [0] * len(BUCKETS)
    for histogram in histograms:
        for index, count in enumerate(histogram[: len(BUCKETS)]):
            merged[index] += count
    return merged


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """The q-th percentile (0-100), as the upper bound of its bucket; None when empty."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = max(1, math.ceil(total * q / 100))
    running = 0
    for index, count in enumerate(histogram):
        running += count
        if running >= rank:
            return BUCKETS[index]
    return BUCKETS[len(histogram) - 1]


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
