"""The paging sections of `tocsin.yaml`: schedules, escalation policies, and how each user is reached.

    schedules:            layers of rotations (bottom to top) and overrides
    escalation_policies:  levels of targets {user|schedule|team: key} with a delay, per-severity variants
    users[].contact_methods / notification_rules / quiet_hours

The checks that need no database run here, through the same pure domain rules
the services use (`tocsin.domain.schedules`, `escalation`, `notify`), so
`tocsin validate` reports a bad rotation with the domain's own words on the
line of the field. A contact address can be a secret (a webhook URL is a
credential): `address_env` names the environment variable `tocsin apply`
reads it from, and the plan never shows it in full. A webhook method's
`signing_secret_env` names the variable holding the key of its
X-Tocsin-Signature; the plan only says whether it changes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from tocsin.config_file.errors import Issue, Path
from tocsin.config_file.fields import (
    Duration,
    Email,
    EnvName,
    Instant,
    Key,
    LevelName,
    Name,
    TimeZone,
    _describe,
    _duration,
    _Spec,
)
from tocsin.domain import escalation, notify
from tocsin.domain import schedules as rotation

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
_CLOCK_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_WALL_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")


def _day(value: str) -> str:
    day = value.strip().lower()
    if day not in DAYS:
        raise ValueError(f"{value!r} is not a weekday; use {', '.join(DAYS)}")
    return day


def _clock(value: object) -> object:
    # YAML 1.1 reads an unquoted 09:00 as a sexagesimal number (540): take it back as the time it was.
    if type(value) is int and 0 <= value < 24 * 60:
        return f"{value // 60:02d}:{value % 60:02d}"
    if isinstance(value, str) and (_CLOCK_RE.match(value.strip()) or value.strip() == "24:00"):
        return value.strip()
    raise ValueError(f"{value!r} is not a time of day; write it like 09:00")


def _wall_start(value: object) -> object:
    """A layer's start: a wall-clock time in its zone (`2026-11-30 09:00`), or an instant with an offset."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _WALL_RE.match(value.strip()):
        return datetime.fromisoformat(value.strip())
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected a start time like 2026-11-30 09:00, not {_describe(value)}")


def _delay(value: object) -> object:
    # 0 is a real delay (page the next level at once), which durations refuse.
    if (isinstance(value, str) and value.strip() in ("0", "0s")) or (type(value) is int and value == 0):
        return timedelta(0)
    return _duration(value)


Day = Annotated[str, AfterValidator(_day)]
Clock = Annotated[str, BeforeValidator(_clock)]
WallStart = Annotated[datetime, BeforeValidator(_wall_start)]
Delay = Annotated[timedelta, BeforeValidator(_delay)]
RotationKind = Literal["daily", "weekly", "hourly"]
ContactKind = Literal["discord", "slack", "email", "sms", "voice", "webhook", "apprise"]
VariantKind = Literal["all_at_once", "step_delay", "record_only"]
RuleUrgency = Literal["high", "low", "both"]


# ---- schedules ----------------------------------------------------------------------


class Restriction(_Spec):
    days: list[Day] = Field(min_length=1)
    start: Clock
    end: Clock  # "24:00": the midnight that ends the day


class Layer(_Spec):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: RotationKind = "weekly"
    every: Annotated[int, Field(ge=1, le=1000)] = 1
    # Naive: a wall-clock time in the layer's zone (the hand-off stays at 09:00 across DST).
    start: WallStart
    time_zone: TimeZone | None = None  # left out: the schedule's
    participants: list[Email] = Field(min_length=1)
    restrictions: list[Restriction] = Field(default_factory=list)
    end: Instant | None = None


class Override(_Spec):
    user: Email
    start: Instant
    end: Instant


class Schedule(_Spec):
    key: Key
    name: Name = ""  # empty: the key
    time_zone: TimeZone = "UTC"
    # Bottom to top: a later layer wins where it has someone.
    layers: list[Layer] = Field(default_factory=list)
    overrides: list[Override] = Field(default_factory=list)


# ---- escalation policies ------------------------------------------------------------


class Target(_Spec):
    # Exactly one of them: `{schedule: primary}`.
    user: Email | None = None
    schedule: Key | None = None
    team: Key | None = None

    @model_validator(mode="after")
    def _one(self) -> Target:
        given = [name for name in ("user", "schedule", "team") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a target names one of user, schedule or team, not {len(given)}")
        return self

    @property
    def kind(self) -> Literal["user", "schedule", "team"]:
        return "user" if self.user is not None else "schedule" if self.schedule is not None else "team"

    @property
    def key(self) -> str:
        return self.user or self.schedule or self.team or ""


class PolicyLevel(_Spec):
    targets: list[Target]
    # From paging this level to paging the next (or the next round).
    delay: Delay = timedelta(0)


class Variant(_Spec):
    kind: VariantKind
    step_delay: Duration | None = None


def _variant(value: object) -> object:
    # `P0: all_at_once` is shorthand for `P0: {kind: all_at_once}`.
    return {"kind": value} if isinstance(value, str) else value


class EscalationPolicy(_Spec):
    key: Key
    name: Name = ""  # empty: the key
    repeat: Annotated[int, Field(ge=0, le=100)] = 0
    levels: list[PolicyLevel] = Field(min_length=1)
    variants: dict[LevelName, Annotated[Variant, BeforeValidator(_variant)]] = Field(default_factory=dict)


# ---- how a user is reached ----------------------------------------------------------


class ContactMethod(_Spec):
    name: Key
    kind: ContactKind
    # One of the two: the address itself, or the variable that holds it (for secrets such as webhook URLs).
    address: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    address_env: EnvName | None = None
    mention: Annotated[str, Field(max_length=100)] | None = None
    high_urgency: bool = False
    # Webhook methods: the variable holding the key that signs each message (X-Tocsin-Signature).
    signing_secret_env: EnvName | None = None


class NotificationRule(_Spec):
    method: Key
    delay: Delay = timedelta(0)
    urgency: RuleUrgency = "both"


class QuietHours(_Spec):
    start: Clock
    end: Clock
    weekdays: list[Day] | None = None  # left out: every day


# ---- checks that need no database ---------------------------------------------------


def check_schedule(base: Path, spec: Schedule) -> list[Issue]:
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for index, layer in enumerate(spec.layers):
        where: Path = (*base, "layers", index)
        if layer.name in seen:
            message = f"layer {layer.name!r} is declared twice (first as layers[{seen[layer.name]}])"
            issues.append(Issue((*where, "name"), message))
        seen.setdefault(layer.name, index)
        issues += _layer(where, spec, layer)
    for index, override in enumerate(spec.overrides):
        if override.end <= override.start:
            issues.append(Issue((*base, "overrides", index, "end"), "end must be after start"))
    return issues


def _layer(where: Path, spec: Schedule, layer: Layer) -> list[Issue]:
    zone = layer.time_zone or spec.time_zone
    start = layer.start if layer.start.tzinfo is not None else layer.start.replace(tzinfo=ZoneInfo(zone))
    restrictions = []
    for index, r in enumerate(layer.restrictions):
        try:
            restrictions.append(
                rotation.Restriction(
                    days=frozenset(rotation.Weekday(DAYS.index(day)) for day in r.days),
                    start=_time(r.start),
                    end=_time(r.end),
                )
            )
        except ValueError as exc:
            return [_domain_issue((*where, "restrictions", index), exc, "restriction", ("days", "start", "end"))]
    try:
        rotation.Layer(
            name=layer.name,
            participants=tuple(layer.participants),
            start=start,
            time_zone=zone,
            kind=rotation.RotationKind(layer.kind),
            every=layer.every,
            restrictions=tuple(restrictions),
            end=layer.end,
        )
    except ValueError as exc:
        fields = ("participants", "time_zone", "start", "kind", "every", "end")
        return [_domain_issue(where, exc, f"layer {layer.name!r}", fields)]
    return []


def _time(text: str) -> time:
    return rotation.MIDNIGHT if text == "24:00" else time.fromisoformat(text)


def _domain_issue(where: Path, exc: ValueError, prefix: str, fields: Sequence[str]) -> Issue:
    # The domain names the field at the start of its message ("layer 'x' every: …").
    message = str(exc)
    for name in fields:
        if message.startswith(f"{prefix} {name}:"):
            return Issue((*where, name), message.removeprefix(f"{prefix} {name}:").strip())
    return Issue(where, message)


def check_policy(base: Path, spec: EscalationPolicy, levels: set[str] | None) -> list[Issue]:
    """`levels`: the severity levels incidents will have, when the file declares the active scheme."""
    try:
        policy = escalation.Policy(
            name=spec.key,
            levels=tuple(
                escalation.Level(
                    targets=tuple(escalation.Target(escalation.TargetKind(t.kind), t.key) for t in level.targets),
                    delay=level.delay,
                )
                for level in spec.levels
            ),
            repeat=spec.repeat,
            variants={
                name: escalation.Variant(escalation.VariantKind(v.kind), v.step_delay)
                for name, v in spec.variants.items()
            },
        )
    except escalation.PolicyError as exc:
        return [Issue((*base, *_policy_path(exc.field)), exc.problem)]
    if levels:
        issues = []
        for name in policy.variants:
            if name not in levels:
                message = f"not a level of the active severity scheme ({', '.join(sorted(levels))})"
                issues.append(Issue((*base, "variants", name), message))
        return issues
    return []


def _policy_path(field: str) -> Path:
    """`levels[0].targets` → ("levels", 0, "targets"), as the domain names fields."""
    path: list[str | int] = []
    for part in field.split("."):
        name, _, rest = part.partition("[")
        if name:
            path.append(name)
        while rest:
            number, _, rest = rest.partition("]")
            path.append(int(number))
            rest = rest.removeprefix("[")
    return tuple(path)


def check_reachability(base: Path, methods: Sequence[ContactMethod], rules: Sequence[NotificationRule]) -> list[Issue]:
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for index, method in enumerate(methods):
        where: Path = (*base, "contact_methods", index)
        if method.name in seen:
            issues.append(Issue((*where, "name"), f"contact method {method.name!r} is declared twice"))
        seen.setdefault(method.name, index)
        if method.signing_secret_env is not None and method.kind != "webhook":
            issues.append(
                Issue(
                    (*where, "signing_secret_env"),
                    f"only webhook contact methods sign their messages, not {method.kind}",
                )
            )
        if (method.address is None) == (method.address_env is None):
            issues.append(Issue(where, "give address or address_env (an environment variable), one of them"))
            continue
        try:
            notify.ContactMethod(
                method.name,
                notify.ContactKind(method.kind),
                method.address or "(from the environment)",
                mention=method.mention,
            )
        except ValueError as exc:
            field, _, message = str(exc).partition(":")
            issues.append(Issue((*where, "name" if field == "key" else field), message.strip()))
    for index, rule in enumerate(rules):
        if rule.method not in seen:
            known = ", ".join(seen) or "none"
            issues.append(
                Issue(
                    (*base, "notification_rules", index, "method"),
                    f"unknown contact method {rule.method!r}; this user has {known}",
                )
            )
    return issues


def check_quiet_hours(base: Path, quiet: QuietHours) -> list[Issue]:
    try:
        notify.QuietHours(
            start=_time(quiet.start),
            end=_time(quiet.end),
            weekdays=None if quiet.weekdays is None else frozenset(DAYS.index(day) for day in quiet.weekdays),
        )
    except ValueError as exc:
        field, _, message = str(exc).partition(":")
        return [Issue((*base, field), message.strip())]
    return []
