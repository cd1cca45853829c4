"""The shape of `tocsin.yaml`.

Every model forbids unknown fields, so a typo is an error that names the field
instead of a setting that silently does nothing. A section left out of the
file (`None` here) is left alone by `tocsin apply`; a section present is the
whole truth about the objects `tocsin apply` manages. A new section is a new
optional field on `Document`, plus its duplicate and reference checks below.

Top-level keys that start with `x-` are ignored, as in Docker Compose: the
place to define YAML anchors that sections merge in (`<<: *defaults`).
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from tocsin.config_file import channels, paging
from tocsin.config_file import checks as check_specs
from tocsin.config_file import heartbeats as heartbeat_specs
from tocsin.config_file import runbooks as runbook_specs
from tocsin.config_file import status_page as status_page_specs
from tocsin.config_file.channels import Channel
from tocsin.config_file.errors import InvalidConfig, Issue, Path, format_path
from tocsin.config_file.fields import (
    AutoResolve,
    Description,
    Duration,
    DurationOrZero,
    Email,
    EnvName,
    GroupWindow,
    Instant,
    IntegrationKind,
    Key,
    Label,
    LevelName,
    Matchers,
    Name,
    RoleKey,
    SchemeName,
    TimeZone,
    UserRole,
    _describe,
    _Spec,
    _window_name,
)
from tocsin.config_file.paging import EscalationPolicy, Schedule
from tocsin.domain import ci


class Level(_Spec):
    name: LevelName
    description: Description = ""
    # Left out: no target (e.g. a low severity with no update cadence).
    ack_within: Duration | None = None
    resolve_within: Duration | None = None
    update_every: Duration | None = None
    watch_after_fix: Duration | None = None
    # A public update owed by then (0s: at once); the postmortem due this long after resolving.
    customer_notice_within: DurationOrZero | None = None
    postmortem_within: Duration | None = None
    # Pages for an incident at this level ignore quiet hours. Left out: only the most severe
    # level (the first) is an emergency, as in the shipped schemes.
    emergency: bool | None = None


class Scheme(_Spec):
    name: SchemeName
    # Most severe first; the position is the level's rank.
    levels: list[Level] = Field(min_length=1)


class Severities(_Spec):
    # Left out: the active scheme stays as it is.
    active: SchemeName | None = None
    # Left out: schemes are left alone (set only `active` to switch schemes).
    schemes: list[Scheme] | None = None


class Role(_Spec):
    key: RoleKey
    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: Description = ""


class Team(_Spec):
    key: Key
    name: Name = ""  # empty: the key
    description: Description = ""
    members: list[Email] = Field(default_factory=list)
    managers: list[Email] = Field(default_factory=list)


class User(_Spec):
    email: Email
    name: Name = ""  # empty: the e-mail address
    role: UserRole = "responder"
    time_zone: TimeZone = "UTC"
    # Left out: the user's contact methods, rules and quiet hours are left alone (set through the API).
    contact_methods: list[paging.ContactMethod] | None = None
    notification_rules: list[paging.NotificationRule] | None = None
    quiet_hours: paging.QuietHours | None = None


class Service(_Spec):
    key: Key
    name: Name = ""  # empty: the key
    description: Description = ""
    team: Key | None = None
    # Left out: left as it is; `null`: no policy (nobody is paged).
    escalation_policy: Key | None = None
    # Pages for an incident on this service ignore quiet hours, whatever its severity.
    emergency: bool = False


class IntegrationSettings(_Spec):
    # Alerts with the same values of these labels share an incident; none: one group per service.
    group_by: list[Label] = Field(default_factory=list)
    group_window: GroupWindow = timedelta(minutes=5)
    # What an incident does once all its alerts have resolved (left out, a sentry project's
    # incidents resolve: a crash group is resolved by a person saying "fixed").
    auto_resolve: AutoResolve = "monitoring"
    # The level when the sender's severity maps to none.
    default_severity: LevelName | None = None
    # generic only: where each field is in the sender's JSON, e.g. summary: $.title (see tocsin.integrations.generic)
    mapping: dict[str, str | list[str] | dict[str, str]] | None = None
    # github only: when repeated CI failures raise an alert (domain.ci); 0 turns a rule off.
    # Left out: 2 in a row, 3 within 1h.
    failures_in_a_row: int | None = None
    failures_in_window: int | None = None
    failure_window: Duration | None = None
    # sentry only: a crash group's spike (domain.crashes); left out, 100 events in 10 minutes.
    spike_events: int | None = Field(default=None, ge=2, le=1_000_000)
    spike_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)


class Integration(_Spec):
    service: Key
    kind: IntegrationKind
    name: Name = ""  # empty: "<service> <kind>", as the API names it
    settings: IntegrationSettings = IntegrationSettings()
    # Left out: apply makes a key and prints it once. Set: the key is read from this
    # environment variable when applying (a key the senders already use, kept out of the file).
    key_env: EnvName | None = None
    # github and grafana: the variable that holds the webhook's signing secret (never in the file).
    secret_env: EnvName | None = None

    @property
    def display_name(self) -> str:
        return self.name or f"{self.service} {self.kind}"


class RouteRule(_Spec):
    match: Matchers = Field(default_factory=list)  # empty: every alert
    severity: LevelName | None = None
    route_to: Key | None = None
    drop: bool = False
    urgency: Literal["high", "low"] | None = None
    continue_: bool = Field(default=False, alias="continue")


class Route(_Spec):
    service: Key
    # In evaluation order: the first rule that matches decides, unless it says continue.
    rules: list[RouteRule]


class MaintenanceWindow(_Spec):
    name: Annotated[str, AfterValidator(_window_name), Field(max_length=200)]
    service: Key | None = None  # left out: every service
    match: Matchers = Field(default_factory=list)
    starts_at: Instant
    ends_at: Instant | None = None
    duration: Duration | None = None

    @property
    def end(self) -> datetime:
        if self.ends_at is not None:
            return self.ends_at
        assert self.duration is not None, "check() makes sure one of them is given"
        return self.starts_at + self.duration


class Document(_Spec):
    severities: Severities | None = None
    roles: list[Role] | None = None
    teams: list[Team] | None = None
    users: list[User] | None = None
    services: list[Service] | None = None
    integrations: list[Integration] | None = None
    routes: list[Route] | None = None
    maintenance_windows: list[MaintenanceWindow] | None = None
    schedules: list[Schedule] | None = None
    escalation_policies: list[EscalationPolicy] | None = None
    channels: list[Channel] | None = None
    heartbeats: list[heartbeat_specs.Heartbeat] | None = None
    checks: list[check_specs.Check] | None = None
    status_page: status_page_specs.StatusPage | None = None
    runbooks: list[runbook_specs.Runbook] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_blank(cls, value: object) -> object:
        # `roles:` with nothing under it is YAML null: it could mean "no roles"
        # (delete the managed ones) or a half-written file. Make the user say which.
        if value is None:
            raise ValueError("the section is empty; write [] to declare none, or leave the section out")
        return value


SECTIONS = tuple(Document.model_fields)


def validate(data: Any) -> Document:
    """Plain data (from the loader) → Document; raises InvalidConfig listing every problem."""
    if isinstance(data, dict):
        data = {key: value for key, value in data.items() if not (isinstance(key, str) and key.startswith("x-"))}
    try:
        document = Document.model_validate(data)
    except ValidationError as exc:
        raise InvalidConfig([_issue(error) for error in exc.errors()]) from None
    issues = check(document)
    if issues:
        raise InvalidConfig(issues)
    return document


def _issue(error: ErrorDetails) -> Issue:
    path: Path = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return Issue(path, _unknown_field(path))
    if kind == "missing":
        return Issue(path, "required field is missing")
    if kind == "value_error":
        return Issue(path, str(error.get("ctx", {}).get("error", error["msg"])))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return Issue(path, f"expected a mapping of fields, not {_describe(error['input'])}")
    if kind == "list_type":
        return Issue(path, f"expected a list, not {_describe(error['input'])}")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return Issue(path, f"{error['input']!r} is not one of {expected}")
    if kind == "string_type":
        return Issue(path, f"expected text, not {_describe(error['input'])}; quote it")
    message = error["msg"]
    return Issue(path, message[:1].lower() + message[1:])


def _unknown_field(path: Path) -> str:
    name = str(path[-1])
    model = _model_at(path[:-1])
    if model is None:
        return f"unknown field {name!r}"
    known = [info.alias or field for field, info in model.model_fields.items()]
    what = "section" if model is Document else "field"
    message = f"unknown {what} {name!r}"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return f"{message}; expected one of {', '.join(known)}"


def _model_at(path: Path) -> type[BaseModel] | None:
    """The model that validates the mapping at `path`, following field annotations."""
    current: Any = Document
    for part in path:
        current = _unwrap(current)
        if isinstance(part, int):
            if get_origin(current) is not list:
                return None
            current = get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel) and part in current.model_fields:
            current = current.model_fields[part].annotation
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """`X | None` and `Annotated[X, ...]` → X."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


# ---- checks across a section: what pydantic cannot see item by item ---------


def check(document: Document) -> list[Issue]:
    issues: list[Issue] = []
    if document.severities is not None and document.severities.schemes is not None:
        schemes = document.severities.schemes
        base: Path = ("severities", "schemes")
        issues += _duplicates(base, "name", [scheme.name for scheme in schemes], "scheme")
        for index, scheme in enumerate(schemes):
            names = [level.name for level in scheme.levels]
            issues += _duplicates((*base, index, "levels"), "name", names, "level")
    if document.roles is not None:
        issues += _duplicates(("roles",), "key", [role.key for role in document.roles], "role")
    if document.teams is not None:
        issues += _duplicates(("teams",), "key", [team.key for team in document.teams], "team")
        for index, team in enumerate(document.teams):
            issues += _team_people(("teams", index), team)
    if document.users is not None:
        emails = [user.email.lower() for user in document.users]
        issues += _duplicates(("users",), "email", emails, "user")
        for index, user in enumerate(document.users):
            issues += _reachability(("users", index), user)
    if document.services is not None:
        issues += _duplicates(("services",), "key", [service.key for service in document.services], "service")
    if document.integrations is not None:
        issues += _integrations(document.integrations)
    if document.routes is not None:
        issues += _duplicates(("routes",), "service", [route.service for route in document.routes], "service")
        for index, route in enumerate(document.routes):
            issues += _rules(("routes", index), route)
    if document.maintenance_windows is not None:
        names = [window.name for window in document.maintenance_windows]
        issues += _duplicates(("maintenance_windows",), "name", names, "maintenance window")
        for index, window in enumerate(document.maintenance_windows):
            issues += _window(("maintenance_windows", index), window)
    if document.schedules is not None:
        keys = [schedule.key for schedule in document.schedules]
        issues += _duplicates(("schedules",), "key", keys, "schedule")
        for index, schedule in enumerate(document.schedules):
            issues += paging.check_schedule(("schedules", index), schedule)
    if document.escalation_policies is not None:
        keys = [policy.key for policy in document.escalation_policies]
        issues += _duplicates(("escalation_policies",), "key", keys, "escalation policy")
        levels = _declared_levels(document)
        for index, policy in enumerate(document.escalation_policies):
            issues += paging.check_policy(("escalation_policies", index), policy, levels)
    if document.channels is not None:
        issues += _duplicates(("channels",), "name", [channel.name for channel in document.channels], "channel")
        for index, channel in enumerate(document.channels):
            issues += channels.check_channel(("channels", index), channel)
    if document.heartbeats is not None:
        names = [heartbeat.name for heartbeat in document.heartbeats]
        issues += _duplicates(("heartbeats",), "name", names, "heartbeat")
        issues += heartbeat_specs.check_uuids(document.heartbeats)
        for index, heartbeat in enumerate(document.heartbeats):
            issues += heartbeat_specs.check_heartbeat(("heartbeats", index), heartbeat)
    if document.checks is not None:
        issues += _duplicates(("checks",), "name", [probe.name for probe in document.checks], "check")
        for index, probe in enumerate(document.checks):
            issues += check_specs.check_check(("checks", index), probe)
    if document.status_page is not None:
        issues += status_page_specs.check_status_page(("status_page",), document.status_page)
    if document.runbooks is not None:
        issues += _duplicates(("runbooks",), "key", [runbook.key for runbook in document.runbooks], "runbook")
        for index, runbook in enumerate(document.runbooks):
            issues += runbook_specs.check_runbook(("runbooks", index), runbook)
    return issues


def _reachability(base: Path, user: User) -> list[Issue]:
    issues = []
    if user.notification_rules is not None and user.contact_methods is None:
        return [Issue((*base, "notification_rules"), "rules name contact methods: list them under contact_methods")]
    if user.contact_methods is not None:
        issues += paging.check_reachability(base, user.contact_methods, user.notification_rules or ())
    if user.quiet_hours is not None:
        issues += paging.check_quiet_hours((*base, "quiet_hours"), user.quiet_hours)
    return issues


def _duplicates(base: Path, field: str | None, keys: Sequence[str], what: str) -> list[Issue]:
    first: dict[str, int] = {}
    issues = []
    for index, key in enumerate(keys):
        if key in first:
            earlier = format_path((*base, first[key]))
            path: Path = (*base, index) if field is None else (*base, index, field)
            issues.append(Issue(path, f"{what} {key!r} is declared twice (first as {earlier})"))
        else:
            first[key] = index
    return issues


def _team_people(base: Path, team: Team) -> list[Issue]:
    issues = []
    for field in ("members", "managers"):
        issues += _duplicates((*base, field), None, [e.lower() for e in getattr(team, field)], "person")
    managers = {email.lower() for email in team.managers}
    for index, email in enumerate(team.members):
        if email.lower() in managers:
            issues.append(
                Issue((*base, "members", index), f"{email!r} is also a manager; list a manager only under managers")
            )
    return issues


def _integrations(integrations: Sequence[Integration]) -> list[Issue]:
    base: Path = ("integrations",)
    identities = [f"{item.service}/{item.display_name}" for item in integrations]
    issues = _duplicates(base, "name", identities, "integration")
    envs = [(index, item.key_env) for index, item in enumerate(integrations) if item.key_env is not None]
    first: dict[str, int] = {}
    for index, name in envs:
        if name in first:
            issues.append(
                Issue(
                    (*base, index, "key_env"),
                    f"{name} already holds the key of integrations[{first[name]}]; each integration needs its own key",
                )
            )
        first.setdefault(name, index)
    for index, item in enumerate(integrations):
        issues += _integration_signing((*base, index), item)
        mapping = item.settings.mapping
        if item.kind == "generic" and (mapping is None or "summary" not in mapping):
            issues.append(
                Issue(
                    (*base, index, "settings", "mapping"),
                    "a generic integration needs mapping.summary: a JSON path such as $.title",
                )
            )
        elif item.kind != "generic" and mapping is not None:
            issues.append(
                Issue(
                    (*base, index, "settings", "mapping"), f"only generic integrations read a mapping, not {item.kind}"
                )
            )
    return issues


_SIGNED_KINDS = ("github", "grafana")
_CI_SETTINGS = ("failures_in_a_row", "failures_in_window", "failure_window")


def _integration_signing(base: Path, item: Integration) -> list[Issue]:
    """The webhook secret and, for github, the CI failure thresholds."""
    issues = []
    if item.kind == "github" and item.secret_env is None:
        message = "a github integration needs secret_env: the variable that holds the webhook secret"
        issues.append(Issue((*base, "secret_env"), message + " (without one, anyone can post deliveries)"))
    if item.secret_env is not None and item.kind not in _SIGNED_KINDS:
        issues.append(Issue((*base, "secret_env"), f"only github and grafana deliveries are signed, not {item.kind}"))
    settings = item.settings
    for field in _CI_SETTINGS:
        if getattr(settings, field) is not None and item.kind != "github":
            issues.append(Issue((*base, "settings", field), "only github integrations count CI failures"))
    if item.kind != "github":
        return issues
    for field in ("failures_in_a_row", "failures_in_window"):
        value = getattr(settings, field)
        if value is not None and not 0 <= value <= ci.MAX_COUNT:
            issues.append(Issue((*base, "settings", field), f"expected a whole number from 0 (off) to {ci.MAX_COUNT}"))
    window = settings.failure_window
    if window is not None and not timedelta(minutes=1) <= window <= ci.MAX_WINDOW:
        issues.append(Issue((*base, "settings", "failure_window"), "expected a duration from 1m to 7d"))
    return issues


def _rules(base: Path, route: Route) -> list[Issue]:
    issues = []
    for index, rule in enumerate(route.rules):
        path: Path = (*base, "rules", index)
        if rule.drop and (rule.severity or rule.route_to or rule.urgency):
            issues.append(
                Issue((*path, "drop"), "a drop rule sets nothing else: remove severity, route_to and urgency")
            )
        if rule.route_to == route.service:
            issues.append(Issue((*path, "route_to"), "a rule cannot route a service to itself"))
    return issues


def _window(base: Path, window: MaintenanceWindow) -> list[Issue]:
    if window.ends_at is None and window.duration is None:
        return [Issue(base, "give ends_at or duration")]
    if window.ends_at is not None and window.duration is not None:
        return [Issue((*base, "duration"), "give ends_at or duration, not both")]
    if window.ends_at is not None and window.ends_at <= window.starts_at:
        return [Issue((*base, "ends_at"), "ends_at must be after starts_at")]
    return []


# ---- references between objects -----------------------------------------------


@dataclass(frozen=True)
class Reference:
    path: Path
    kind: Literal["user", "team", "severity scheme", "service", "severity", "schedule", "escalation policy"]
    key: str
    # Declared in this file; otherwise `tocsin apply` looks for it in the database.
    declared: bool


def references(document: Document) -> list[Reference]:
    users = {user.email.lower() for user in document.users or ()}
    teams = {team.key for team in document.teams or ()}
    schemes = {scheme.name for scheme in (document.severities.schemes if document.severities else None) or ()}
    return [
        *_references(document, users, teams, schemes),
        *_alerting_references(document),
        *_paging_references(document, users, teams),
        *_channel_references(document),
        *_heartbeat_references(document),
        *_check_references(document),
        *_runbook_references(document),
    ]


def _references(document: Document, users: set[str], teams: set[str], schemes: set[str]) -> Iterator[Reference]:
    if document.severities is not None and document.severities.active is not None:
        name = document.severities.active
        yield Reference(("severities", "active"), "severity scheme", name, name in schemes)
    for index, team in enumerate(document.teams or ()):
        for field in ("members", "managers"):
            for position, email in enumerate(getattr(team, field)):
                yield Reference(("teams", index, field, position), "user", email, email.lower() in users)
    for index, service in enumerate(document.services or ()):
        if service.team is not None:
            yield Reference(("services", index, "team"), "team", service.team, service.team in teams)


def _declared_levels(document: Document) -> set[str]:
    """The levels incidents will have, when the file says which scheme is active and declares it."""
    spec = document.severities
    if spec is None or spec.active is None:
        return set()
    scheme = next((scheme for scheme in spec.schemes or () if scheme.name == spec.active), None)
    return {level.name for level in scheme.levels} if scheme is not None else set()


def _alerting_references(document: Document) -> Iterator[Reference]:
    services = {service.key for service in document.services or ()}
    levels = _declared_levels(document)

    def service(path: Path, key: str) -> Reference:
        return Reference(path, "service", key, key in services)

    def severity(path: Path, name: str) -> Reference:
        return Reference(path, "severity", name, name in levels)

    for index, integration in enumerate(document.integrations or ()):
        yield service(("integrations", index, "service"), integration.service)
        if integration.settings.default_severity is not None:
            path: Path = ("integrations", index, "settings", "default_severity")
            yield severity(path, integration.settings.default_severity)
    for index, route in enumerate(document.routes or ()):
        yield service(("routes", index, "service"), route.service)
        for position, rule in enumerate(route.rules):
            if rule.severity is not None:
                yield severity(("routes", index, "rules", position, "severity"), rule.severity)
            if rule.route_to is not None:
                yield service(("routes", index, "rules", position, "route_to"), rule.route_to)
    for index, window in enumerate(document.maintenance_windows or ()):
        if window.service is not None:
            yield service(("maintenance_windows", index, "service"), window.service)


def _channel_references(document: Document) -> Iterator[Reference]:
    services = {service.key for service in document.services or ()}
    for path, kind, key, declared in channels.references(document.channels or (), services, _declared_levels(document)):
        yield Reference(path, kind, key, declared)


def _heartbeat_references(document: Document) -> Iterator[Reference]:
    services = {service.key for service in document.services or ()}
    for path, key, declared in heartbeat_specs.references(document.heartbeats or (), services):
        yield Reference(path, "service", key, declared)


def _check_references(document: Document) -> Iterator[Reference]:
    services = {service.key for service in document.services or ()}
    for path, key, declared in check_specs.references(document.checks or (), services):
        yield Reference(path, "service", key, declared)


def _runbook_references(document: Document) -> Iterator[Reference]:
    services = {service.key for service in document.services or ()}
    levels = _declared_levels(document)
    for path, kind, key in runbook_specs.references(document.runbooks or ()):
        yield Reference(path, kind, key, key in (services if kind == "service" else levels))


def _paging_references(document: Document, users: set[str], teams: set[str]) -> Iterator[Reference]:
    schedules = {schedule.key for schedule in document.schedules or ()}
    policies = {policy.key for policy in document.escalation_policies or ()}
    for index, schedule in enumerate(document.schedules or ()):
        for number, layer in enumerate(schedule.layers):
            for position, email in enumerate(layer.participants):
                path: Path = ("schedules", index, "layers", number, "participants", position)
                yield Reference(path, "user", email, email.lower() in users)
        for number, override in enumerate(schedule.overrides):
            path = ("schedules", index, "overrides", number, "user")
            yield Reference(path, "user", override.user, override.user.lower() in users)
    for index, policy in enumerate(document.escalation_policies or ()):
        for number, level in enumerate(policy.levels):
            for position, target in enumerate(level.targets):
                path = ("escalation_policies", index, "levels", number, "targets", position, target.kind)
                if target.kind == "user":
                    yield Reference(path, "user", target.key, target.key.lower() in users)
                elif target.kind == "schedule":
                    yield Reference(path, "schedule", target.key, target.key in schedules)
                else:
                    yield Reference(path, "team", target.key, target.key in teams)
    for index, service in enumerate(document.services or ()):
        if service.escalation_policy is not None:
            path = ("services", index, "escalation_policy")
            yield Reference(path, "escalation policy", service.escalation_policy, service.escalation_policy in policies)
