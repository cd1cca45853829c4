"""The `checks` section of `tocsin.yaml`: active health checks.

    checks:
      - name: api-health
        service: api
        http:
          url: https://api.example.com/healthz
          conditions: ['$.status == "ok"']
          max_response_ms: 800
        interval: 1m                 # 1m, 10s at least
        timeout: 10s
        failures_before_down: 3      # Gatus's defaults
        successes_before_up: 2
        remind_every: 1h             # raise again while it stays down
      - name: db-port
        service: api
        tcp: {host: db.internal, port: 5432}
      - name: api-dns
        service: api
        dns: {name: api.example.com, expect: 203.0.113.7}
      - name: api-cert
        service: api
        tls: {host: api.example.com, warn_days: 21}

A check is identified by its name and has exactly one of `http`, `tcp`, `dns`
and `tls`, whose fields are those of the API's `spec` (docs/checks.md). They
are checked here with the domain's own rules (`domain.checks.parse_spec`,
`policy_problem`), so a wrong field is named with its line; the service is a
reference, checked against the database by `tocsin apply`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field

from tocsin.config_file.errors import Issue, Path
from tocsin.config_file.fields import Description, Duration, Key, _Spec
from tocsin.domain import checks as domain

KINDS = ("http", "tcp", "dns", "tls")
# The API's field names for the policy, as this file spells them.
_POLICY_FIELDS = {
    "interval_s": "interval",
    "timeout_s": "timeout",
    "failures_before_down": "failures_before_down",
    "successes_before_up": "successes_before_up",
    "reminder_every_s": "remind_every",
}


class Check(_Spec):
    name: Key
    service: Key
    description: Description = ""
    http: dict[str, Any] | None = None
    tcp: dict[str, Any] | None = None
    dns: dict[str, Any] | None = None
    tls: dict[str, Any] | None = None
    interval: Duration = timedelta(seconds=60)
    timeout: Duration = timedelta(seconds=10)
    failures_before_down: Annotated[int, Field(ge=1, le=100)] = domain.DEFAULT_FAILURES_BEFORE_DOWN
    successes_before_up: Annotated[int, Field(ge=1, le=100)] = domain.DEFAULT_SUCCESSES_BEFORE_UP
    remind_every: Duration | None = None

    @property
    def kind(self) -> str | None:
        given = [kind for kind in KINDS if getattr(self, kind) is not None]
        return given[0] if len(given) == 1 else None

    @property
    def spec(self) -> dict[str, Any]:
        kind = self.kind
        return dict(getattr(self, kind) or {}) if kind is not None else {}

    @property
    def policy(self) -> domain.Policy:
        return domain.Policy(
            interval=self.interval,
            timeout=self.timeout,
            failures_before_down=self.failures_before_down,
            successes_before_up=self.successes_before_up,
            reminder_every=self.remind_every,
        )


def check_check(base: Path, spec: Check) -> list[Issue]:
    given = [kind for kind in KINDS if getattr(spec, kind) is not None]
    if len(given) != 1:
        where = base if not given else (*base, given[1])
        return [Issue(where, "give one of http, tcp, dns or tls: what the check probes")]
    kind = given[0]
    issues = []
    try:
        domain.parse_spec(domain.Kind(kind), spec.spec)
    except domain.Problem as problem:
        issues.append(Issue((*base, kind, problem.field), problem.message))
    wrong = domain.policy_problem(spec.policy)
    if wrong is not None:
        issues.append(Issue((*base, _POLICY_FIELDS.get(wrong.field, wrong.field)), wrong.message))
    return issues


def references(checks: Sequence[Check], services: set[str]) -> Iterator[tuple[Path, str, bool]]:
    """(path, service key, declared in the file) for the schema's `Reference`."""
    for index, spec in enumerate(checks):
        yield ("checks", index, "service"), spec.service, spec.service in services
