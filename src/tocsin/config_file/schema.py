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
import re
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from tocsin.config_file.durations import parse_duration
from tocsin.config_file.errors import InvalidConfig, Issue, Path, format_path
from tocsin.domain import naming
from tocsin.domain.matchers import Matcher, MatcherError, MatchType, parse_matcher

_LEVEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Integrations keep their grouping window in a settings field the server bounds to a week.
LONGEST_GROUP_WINDOW = timedelta(days=7)


def _key_rule(max_length: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = naming.key_problem(value, max_length)
        if problem:
            raise ValueError(problem)
        return value

    return check


def _level_name(value: str) -> str:
    if len(value) > 20 or not _LEVEL_RE.match(value):
        raise ValueError(f"{value!r} is not a valid name: up to 20 letters, digits, '.', '_' and '-'")
    return value


def _email(value: str) -> str:
    problem = naming.email_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _time_zone(value: str) -> str:
    problem = naming.time_zone_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _duration(value: object) -> object:
    if isinstance(value, bool | int | float):
        raise ValueError(f"{value!r} has no unit; write a duration like 30s, 5m, 1h30m or 2d")
    return parse_duration(value) if isinstance(value, str) else value


def _group_window(value: object) -> object:
    # 0 is a real choice (every alert opens its own incident), which `parse_duration` refuses.
    if (isinstance(value, str) and value.strip() in ("0", "0s")) or (type(value) is int and value == 0):
        return timedelta(0)
    window = _duration(value)
    if isinstance(window, timedelta) and window > LONGEST_GROUP_WINDOW:
        raise ValueError(f"{value!r} is longer than {LONGEST_GROUP_WINDOW.days}d")
    return window


def _instant(value: object) -> object:
    example = "write it like 2026-11-28T22:00:00Z or 2026-11-28T22:00:00+01:00"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a time; {example}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            # Read in the server's zone or the reader's, a window would open at two different times.
            raise ValueError(f"{value.isoformat(sep=' ')} has no time zone offset; {example}")
        return value.astimezone(UTC)
    if isinstance(value, date):
        raise ValueError(f"{value.isoformat()} is a date without a time; {example}")
    raise ValueError(f"expected a time, not {_describe(value)}; {example}")


def _matcher(value: str) -> str:
    try:
        # Stored in one spelling, so `severity = critical` and `severity="critical"` are the same rule.
        return str(parse_matcher(value))
    except MatcherError as exc:
        raise ValueError(str(exc)) from None


def _matchers(value: object) -> object:
    """A mapping `{env: prod}` is shorthand for exact matches: `['env="prod"']`; one string is one matcher."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        matchers = []
        for name, wanted in value.items():
            if isinstance(wanted, dict | list) or wanted is None:
                raise ValueError(f"label {name!r}: expected a value to match, not {_describe(wanted)}")
            text = str(wanted).lower() if isinstance(wanted, bool) else str(wanted)
            matchers.append(str(Matcher.of(str(name), MatchType.EQUAL, text)))
        return matchers
    if value is not None and not isinstance(value, list):
        raise ValueError(
            f'expected a list of matchers such as severity="critical", or a mapping of label to value, '
            f"not {_describe(value)}"
        )
    return value


def _label(value: str) -> str:
    if not _LABEL_RE.match(value):
        raise ValueError(f"{value!r} is not a label name: letters, digits, '_', '.' and '-', not starting with a digit")
    return value


def _env_name(value: str) -> str:
    if not _ENV_RE.match(value):
        raise ValueError(f"{value!r} is not an environment variable name: letters, digits and '_'")
    return value


def _window_name(value: str) -> str:
    if not value.strip():
        raise ValueError("a maintenance window needs a name")
    return value.strip()


Key = Annotated[str, AfterValidator(_key_rule(100))]
RoleKey = Annotated[str, AfterValidator(_key_rule(50))]
SchemeName = Annotated[str, AfterValidator(_level_name)]
LevelName = Annotated[str, AfterValidator(_level_name)]
Email = Annotated[str, AfterValidator(_email)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
Name = Annotated[str, Field(max_length=200)]
Description = Annotated[str, Field(max_length=10_000)]
UserRole = Literal["viewer", "responder", "admin"]
GroupWindow = Annotated[timedelta, BeforeValidator(_group_window)]
Instant = Annotated[datetime, BeforeValidator(_instant)]
MatcherText = Annotated[str, AfterValidator(_matcher)]
Matchers = Annotated[list[MatcherText], BeforeValidator(_matchers), Field(max_length=50)]
Label = Annotated[str, AfterValidator(_label)]
EnvName = Annotated[str, AfterValidator(_env_name)]
IntegrationKind = Literal["native", "pagerduty", "alertmanager", "opsgenie", "grafana", "generic"]
AutoResolve = Literal["monitoring", "resolve", "none"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(_Spec):
    name: LevelName
    description: Description = ""
    # Left out: no target (e.g. a low severity with no update cadence).
    ack_within: Duration | None = None
    resolve_within: Duration | None = None
    update_every: Duration | None = None
    watch_after_fix: Duration | None = None


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


class Service(_Spec):
    key: Key
    name: Name = ""  # empty: the key
    description: Description = ""
    team: Key | None = None


class IntegrationSettings(_Spec):
    # Alerts with the same values of these labels share an incident; none: one group per service.
    group_by: list[Label] = Field(default_factory=list)
    group_window: GroupWindow = timedelta(minutes=5)
    # What an incident does once all its alerts have resolved.
    auto_resolve: AutoResolve = "monitoring"
    # The level when the sender's severity maps to none.
    default_severity: LevelName | None = None
    # generic only: where each field is in the sender's JSON, e.g. summary: $.title (see tocsin.integrations.generic)
    mapping: dict[str, str | list[str] | dict[str, str]] | None = None


class Integration(_Spec):
    service: Key
    kind: IntegrationKind
    name: Name = ""  # empty: "<service> <kind>", as the API names it
    settings: IntegrationSettings = IntegrationSettings()
    # Left out: apply makes a key and prints it once. Set: the key is read from this
    # environment variable when applying (a key the senders already use, kept out of the file).
    key_env: EnvName | None = None

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


def _describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    return f"{type(value).__name__} {value!r}"


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
    kind: Literal["user", "team", "severity scheme", "service", "severity"]
    key: str
    # Declared in this file; otherwise `tocsin apply` looks for it in the database.
    declared: bool


def references(document: Document) -> list[Reference]:
    users = {user.email.lower() for user in document.users or ()}
    teams = {team.key for team in document.teams or ()}
    schemes = {scheme.name for scheme in (document.severities.schemes if document.severities else None) or ()}
    return list(_references(document, users, teams, schemes)) + list(_alerting_references(document))


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
