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
from datetime import timedelta
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

from tocsin.config_file.durations import parse_duration
from tocsin.config_file.errors import InvalidConfig, Issue, Path, format_path
from tocsin.domain import naming

_LEVEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


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


class Document(_Spec):
    severities: Severities | None = None
    roles: list[Role] | None = None
    teams: list[Team] | None = None
    users: list[User] | None = None
    services: list[Service] | None = None

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
    known = list(model.model_fields)
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


# ---- references between objects -----------------------------------------------


@dataclass(frozen=True)
class Reference:
    path: Path
    kind: Literal["user", "team", "severity scheme"]
    key: str
    # Declared in this file; otherwise `tocsin apply` looks for it in the database.
    declared: bool


def references(document: Document) -> list[Reference]:
    users = {user.email.lower() for user in document.users or ()}
    teams = {team.key for team in document.teams or ()}
    schemes = {scheme.name for scheme in (document.severities.schemes if document.severities else None) or ()}
    return list(_references(document, users, teams, schemes))


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
