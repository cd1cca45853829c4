"""The field types `tocsin.yaml` is written in: keys, e-mails, time zones, durations, times, matchers.

Each is an annotated type whose validator raises ValueError with a message fit
for the user; the schema turns those into issues that name file, line and field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from tocsin.config_file.durations import parse_duration
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


def _duration_or_zero(value: object) -> object:
    # "At once" (customers told as soon as the incident is declared) is a real target.
    if (isinstance(value, str) and value.strip() in ("0", "0s")) or (type(value) is int and value == 0):
        return timedelta(0)
    return _duration(value)


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
DurationOrZero = Annotated[timedelta, BeforeValidator(_duration_or_zero)]
Name = Annotated[str, Field(max_length=200)]
Description = Annotated[str, Field(max_length=10_000)]
UserRole = Literal["viewer", "responder", "admin"]
GroupWindow = Annotated[timedelta, BeforeValidator(_group_window)]
Instant = Annotated[datetime, BeforeValidator(_instant)]
MatcherText = Annotated[str, AfterValidator(_matcher)]
Matchers = Annotated[list[MatcherText], BeforeValidator(_matchers), Field(max_length=50)]
Label = Annotated[str, AfterValidator(_label)]
EnvName = Annotated[str, AfterValidator(_env_name)]
IntegrationKind = Literal["native", "pagerduty", "alertmanager", "opsgenie", "grafana", "generic", "github", "sentry"]
AutoResolve = Literal["monitoring", "resolve", "none"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
