"""`tocsin apply`: make the database match a config document.

`plan()` compares the document with the database and returns the changes
(create / update / delete, with each changed field's old and new value) as
steps that each know how to carry themselves out; `execute()` runs them and
flushes. Planning writes nothing, so `--dry-run` is `plan()` alone, and what is
printed is exactly what `execute()` does.

Ownership: objects that apply creates, or that the file names (claims), get
`managed=True`. For a section present in the file, managed objects missing from
it are removed; unmanaged ones (the first-start admin, objects made through the
API, the shipped defaults) are never touched unless the file names them. A
section left out of the file is left alone. Users and services are only
deactivated / archived, because incidents and timelines refer to them;
integrations only disabled, because their alerts stay; a maintenance window
that is on is ended, one that has ended is history and never touched.

Identity: integrations by (service, name); a service's routing rules as one
ordered list (its managed rules are replaced whenever the list differs; rules
made through the API stay, after the file's); maintenance windows by name.
An integration's key is made by `execute()` and handed back once as an
`IssuedKey`, or read from the environment variable the file names (`env`).

Every problem found while planning (an unknown reference, removing a severity
or role an open incident still uses) is collected as an `Issue` with the path
in the document, and all of them are raised together as `InvalidConfig`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias

from sqlalchemy.orm import Session

from tocsin.clock import SystemClock, as_utc
from tocsin.config_file import schema
from tocsin.config_file.durations import format_duration
from tocsin.config_file.errors import InvalidConfig, Issue, Path
from tocsin.domain.incidents import OPEN_STATUSES
from tocsin.domain.matchers import MatcherError, parse_matcher
from tocsin.services import audit, directory, routing
from tocsin.services import integrations as integrations_service
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import alerts as alerts_repo
from tocsin.storage.repositories import directory as directory_repo
from tocsin.storage.repositories import severities as severities_repo

Action = Literal["create", "update", "delete"]
Value: TypeAlias = str | int | bool | list[str] | None

APPLY_ACTOR = Actor.system("apply")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Value
    new: Value


@dataclass(frozen=True)
class Change:
    action: Action
    kind: str  # "severity scheme", "role", "team", "user", "service", "integration", "routes", "maintenance window"
    key: str
    fields: tuple[FieldChange, ...] = ()
    # What a reader should know beyond the fields, e.g. that a delete is a deactivation.
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kind": self.kind,
            "key": self.key,
            "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in self.fields],
            "note": self.note,
        }


@dataclass(frozen=True)
class IssuedKey:
    """The key of an integration `execute()` created: shown once, then only its hash is kept."""

    service: str
    name: str
    kind: str
    key: str


Run: TypeAlias = Callable[[Actor, datetime], IssuedKey | None]


@dataclass(frozen=True)
class Step:
    change: Change
    run: Run = field(repr=False, compare=False)
    # Removals run after every create and update, so that whatever moves off a
    # team or scheme has moved before it goes.
    late: bool = False


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(step.change for step in self.steps)

    @property
    def empty(self) -> bool:
        return not self.steps

    def count(self, action: Action) -> int:
        return sum(1 for step in self.steps if step.change.action == action)

    def as_json(self) -> dict[str, Any]:
        return {
            "changes": [change.as_json() for change in self.changes],
            "summary": {action: self.count(action) for action in ("create", "update", "delete")},
        }


def plan(
    session: Session,
    document: schema.Document,
    *,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> Plan:
    """Raises InvalidConfig (issues with paths, not yet lines) when the document cannot be applied.
    `now` tells maintenance windows that are on from those to come (system clock when left out);
    `env` holds the variables that `key_env` names."""
    return _Planner(session, document, now or SystemClock().now(), env or {}).plan()


def execute(session: Session, actor: Actor, now: datetime, planned: Plan) -> list[IssuedKey]:
    """Carry out a plan made in this session and transaction; flushes, never commits.
    Returns the keys of the integrations it made, which nothing else will ever show."""
    issued = []
    for step in [s for s in planned.steps if not s.late] + [s for s in planned.steps if s.late]:
        key = step.run(actor, now)
        if key is not None:
            issued.append(key)
        session.flush()
    return issued


def apply(
    session: Session, actor: Actor, now: datetime, document: schema.Document, *, env: Mapping[str, str] | None = None
) -> Plan:
    planned = plan(session, document, now=now, env=env)
    execute(session, actor, now, planned)
    return planned


# ---- comparing ------------------------------------------------------------------


_EMPTY: tuple[Value, ...] = (None, "", [])


def _same(old: Value, new: Value) -> bool:
    # A level that did not exist had no description; it is not a change to give it "".
    return old == new or (old in _EMPTY and new in _EMPTY)


def _diff(current: Mapping[str, Value], desired: Mapping[str, Value]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, current.get(name), new) for name, new in desired.items() if not _same(current.get(name), new)
    )


def _created(desired: Mapping[str, Value], *, implied: Sequence[str] = ()) -> tuple[FieldChange, ...]:
    """The fields a create sets, without those the word "create" already says (`managed`, `active`)."""
    return tuple(
        FieldChange(name, None, value)
        for name, value in desired.items()
        if name != "managed" and name not in implied and value not in _EMPTY and value is not False
    )


def _changes_detail(fields: Sequence[FieldChange]) -> dict[str, Any]:
    return {"changes": {f.field: {"from": f.old, "to": f.new} for f in fields}}


def _duration(seconds: int | None) -> str | None:
    return None if seconds is None else format_duration(timedelta(seconds=seconds))


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _incidents(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    return f"open incident{'s' if len(ids) > 1 else ''} {shown}"


_LEVEL_TIMES = ("ack_within", "resolve_within", "update_every", "watch_after_fix")


def _level_values(spec: schema.Level, rank: int) -> dict[str, Any]:
    """Column values of a severity level row."""
    return {
        "rank": rank,
        "description": spec.description,
        **{f"{name}_s": _seconds(getattr(spec, name)) for name in _LEVEL_TIMES},
    }


def _level_display(prefix: str, values: Mapping[str, Any], *, rank: bool) -> dict[str, Value]:
    # A new level's rank is its place in `levels`, which the plan already shows.
    shown: dict[str, Value] = {f"{prefix}.rank": values["rank"]} if rank else {}
    shown[f"{prefix}.description"] = values["description"]
    shown.update({f"{prefix}.{name}": _duration(values[f"{name}_s"]) for name in _LEVEL_TIMES})
    return shown


def _level_row_values(level: models.SeverityLevel) -> dict[str, Any]:
    return {
        "rank": level.rank,
        "description": level.description,
        **{f"{name}_s": getattr(level, f"{name}_s") for name in _LEVEL_TIMES},
    }


def _matcher_text(text: str) -> str:
    # The schema stores matchers in this spelling; rows made through the API may not be.
    try:
        return str(parse_matcher(text))
    except MatcherError:
        return text


def _json_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _integration_settings(spec: schema.IntegrationSettings) -> dict[str, Any]:
    """The settings column of an integration, as `integrations.check_settings` reads it."""
    settings: dict[str, Any] = {
        "group_by": list(spec.group_by),
        "group_window_s": int(spec.group_window.total_seconds()),
        "auto_resolve": spec.auto_resolve,
    }
    if spec.default_severity is not None:
        settings["default_severity"] = spec.default_severity
    if spec.mapping is not None:
        settings["mapping"] = dict(spec.mapping)
    return settings


def _integration_values(kind: str, settings: Mapping[str, Any]) -> dict[str, Value]:
    """What the plan shows of an integration; settings left out read as their defaults, as ingestion reads them."""
    window = int(settings.get("group_window_s", integrations_service.DEFAULT_GROUP_WINDOW.total_seconds()))
    mapping: Mapping[str, Any] = settings.get("mapping") or {}
    return {
        "kind": kind,
        "group_by": [str(label) for label in settings.get("group_by", [])],
        "group_window": _duration(window) if window else "0s",
        "auto_resolve": str(settings.get("auto_resolve", "monitoring")),
        "default_severity": settings.get("default_severity"),
        "mapping": [f"{name}={_json_text(value)}" for name, value in sorted(mapping.items())],
    }


# matchers, severity, route_to, drop, urgency, continue: what decides where an alert goes.
RuleShape: TypeAlias = tuple[tuple[str, ...], str | None, str | None, bool, str | None, bool]


def _rule_of_spec(rule: schema.RouteRule) -> RuleShape:
    return (tuple(rule.match), rule.severity, rule.route_to, rule.drop, rule.urgency, rule.continue_)


def _rule_of_row(rule: models.RoutingRule) -> RuleShape:
    route_to = rule.route_to.key if rule.route_to is not None else None
    matchers = tuple(_matcher_text(m) for m in rule.matchers)
    return (matchers, rule.severity, route_to, rule.drop, rule.urgency, rule.continue_)


def _rule_text(rule: RuleShape) -> str:
    """`severity="critical" → severity P0, continue`, one line per rule in the plan."""
    matchers, severity, route_to, drop, urgency, continue_ = rule
    then = ["drop"] if drop else []
    then += [f"severity {severity}"] if severity else []
    then += [f"route to {route_to}"] if route_to else []
    then += [f"urgency {urgency}"] if urgency else []
    then += ["continue"] if continue_ else []
    return f"{', '.join(matchers) or 'any alert'} → {', '.join(then) or 'no change'}"


def _rule_changes(old: Sequence[RuleShape], new: Sequence[RuleShape]) -> tuple[FieldChange, ...]:
    changes = []
    for index in range(max(len(old), len(new))):
        before = _rule_text(old[index]) if index < len(old) else None
        after = _rule_text(new[index]) if index < len(new) else None
        if before != after:
            changes.append(FieldChange(f"rules[{index}]", before, after))
    return tuple(changes)


def _instant(value: datetime) -> str:
    at = as_utc(value)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC" if at.second or at.microsecond else "%Y-%m-%d %H:%M UTC")


def _plural(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


# ---- planning -------------------------------------------------------------------


class _Planner:
    def __init__(self, session: Session, document: schema.Document, now: datetime, env: Mapping[str, str]) -> None:
        self.session = session
        self.document = document
        self.now = now
        self.env = env
        self.steps: list[Step] = []
        self.issues: list[Issue] = []
        # What exists once the plan has run, for checking references the file
        # makes to objects it does not declare.
        self.users_after: set[str] = set()
        self.inactive_users: set[str] = set()
        self.teams_after: set[str] = set()
        self.schemes_after: set[str] = set()
        # Removed by this plan: a reference to one gets a precise message.
        self.users_removed: set[str] = set()
        self.teams_removed: set[str] = set()
        self.schemes_removed: set[str] = set()
        self.services_after: set[str] = set()
        self.services_removed: set[str] = set()
        self.services_archived: set[str] = set()
        # The scheme incidents will use, and its levels: what rules and integrations may name.
        self.active_after: str | None = None
        self.levels_after: list[str] | None = None

    def plan(self) -> Plan:
        document = self.document
        # Dependency order: teams need their users, services their teams.
        self._severities(document.severities)
        if document.roles is not None:
            self._roles(document.roles)
        self._users(document.users)
        self._teams(document.teams)
        if document.services is not None:
            self._services(document.services)
        self._services_after()
        # After services: what they create (a rule's route_to, an integration's service) exists by then.
        if document.integrations is not None:
            self._integrations(document.integrations)
        if document.routes is not None:
            self._routes(document.routes)
        if document.maintenance_windows is not None:
            self._windows(document.maintenance_windows)
        self._references()
        if self.issues:
            raise InvalidConfig(self.issues)
        return Plan(tuple(self.steps))

    def _step(self, change: Change, run: Run, *, late: bool = False) -> None:
        self.steps.append(Step(change, run, late))

    # -- severities --

    def _severities(self, spec: schema.Severities | None) -> None:
        rows = {row.name: row for row in severities_repo.list_schemes(self.session)}
        current_active = next((row for row in rows.values() if row.active), None)
        if spec is None:
            self.schemes_after = set(rows)
            if current_active is not None:
                self.active_after = current_active.name
                self.levels_after = [level.name for level in current_active.levels]
            return
        declared = {scheme.name: scheme for scheme in spec.schemes or ()}
        removed = set()
        if spec.schemes is not None:
            removed = {name for name, row in rows.items() if row.managed and name not in declared}
        self.schemes_removed = removed
        self.schemes_after = (set(rows) - removed) | set(declared)

        final_active = spec.active or (current_active.name if current_active is not None else None)
        if final_active is None:
            self.issues.append(Issue(("severities",), "no severity scheme is active; set severities.active"))
        elif spec.active is None and final_active in removed:
            self.issues.append(
                Issue(
                    ("severities", "schemes"),
                    f"scheme {final_active!r} is active and would be deleted; "
                    "set severities.active to another scheme, or keep this one",
                )
            )
        self._severities_in_use(spec, rows, current_active, final_active)
        self.active_after = final_active
        if final_active in declared:
            self.levels_after = [level.name for level in declared[final_active].levels]
        elif final_active in rows and final_active not in removed:
            self.levels_after = [level.name for level in rows[final_active].levels]

        for index, scheme in enumerate(spec.schemes or ()):
            self._scheme(scheme, index, rows.get(scheme.name), active=scheme.name == final_active)
        for name, row in rows.items():
            if name in declared or name in removed:
                continue
            if row.active != (name == final_active):
                fields = (FieldChange("active", row.active, not row.active),)
                self._step(
                    Change("update", "severity scheme", name, fields),
                    functools.partial(self._update_scheme_flag, row, fields),
                )
        for name in sorted(removed):
            row = rows[name]
            self._step(
                Change(
                    "delete", "severity scheme", name, note=f"with its levels {', '.join(lv.name for lv in row.levels)}"
                ),
                functools.partial(self._delete, row, "severity scheme", name),
                late=True,
            )

    def _severities_in_use(
        self,
        spec: schema.Severities,
        rows: Mapping[str, models.SeverityScheme],
        current_active: models.SeverityScheme | None,
        final_active: str | None,
    ) -> None:
        """Refuse to make a severity that an open incident carries disappear from the active scheme."""
        if current_active is None or final_active is None:
            return
        declared = {scheme.name: (index, scheme) for index, scheme in enumerate(spec.schemes or ())}
        if final_active in declared:
            index, scheme = declared[final_active]
            final_levels = {level.name for level in scheme.levels}
            path: Path = ("severities", "schemes", index, "levels")
        elif final_active in rows and final_active not in self.schemes_removed:
            final_levels = {level.name for level in rows[final_active].levels}
            path = ("severities", "active")
        else:
            return  # an unknown or removed scheme: reported as a reference
        in_use = severities_repo.severities_in_use(self.session, OPEN_STATUSES)
        current_levels = {level.name for level in current_active.levels}
        for severity in sorted(set(in_use) & current_levels - final_levels):
            self.issues.append(
                Issue(
                    path,
                    f"severity {severity!r} is used by {_incidents(in_use[severity])}; "
                    f"the active scheme {final_active!r} would not have it",
                )
            )

    def _scheme(self, spec: schema.Scheme, index: int, row: models.SeverityScheme | None, *, active: bool) -> None:
        wanted = [_level_values(level, rank) for rank, level in enumerate(spec.levels)]
        existing = {level.name for level in row.levels} if row is not None else set()
        desired: dict[str, Value] = {"levels": [level.name for level in spec.levels], "active": active, "managed": True}
        for spec_level, values in zip(spec.levels, wanted, strict=True):
            desired.update(_level_display(spec_level.name, values, rank=spec_level.name in existing))
        if row is None:
            self._step(
                Change("create", "severity scheme", spec.name, _created(desired)),
                functools.partial(self._create_scheme, spec, wanted, active),
            )
            return
        current: dict[str, Value] = {
            "levels": [level.name for level in row.levels],
            "active": row.active,
            "managed": row.managed,
        }
        for level in row.levels:
            current.update(_level_display(level.name, _level_row_values(level), rank=True))
        fields = _diff(current, desired)
        if not fields:
            return
        note = ""
        if row.active and any(f.field.split(".")[-1] in _LEVEL_TIMES for f in fields):
            note = "open incidents keep the response targets they were given"
        self._step(
            Change("update", "severity scheme", spec.name, fields, note),
            functools.partial(self._update_scheme, row, spec, wanted, active, fields),
        )

    def _create_scheme(
        self, spec: schema.Scheme, levels: Sequence[Mapping[str, Any]], active: bool, actor: Actor, now: datetime
    ) -> None:
        row = models.SeverityScheme(name=spec.name, active=active, managed=True)
        row.levels = [
            models.SeverityLevel(name=level.name, **values) for level, values in zip(spec.levels, levels, strict=True)
        ]
        self.session.add(row)
        audit.record(self.session, actor, now, "create", "severity scheme", spec.name, {"active": active})

    def _update_scheme(
        self,
        row: models.SeverityScheme,
        spec: schema.Scheme,
        levels: Sequence[Mapping[str, Any]],
        active: bool,
        fields: Sequence[FieldChange],
        actor: Actor,
        now: datetime,
    ) -> None:
        existing = {level.name: level for level in row.levels}
        kept = []
        for level, values in zip(spec.levels, levels, strict=True):
            level_row = existing.get(level.name) or models.SeverityLevel(name=level.name)
            for column, value in values.items():
                setattr(level_row, column, value)
            kept.append(level_row)
        row.levels = kept  # levels left out are orphans, deleted on flush
        row.active = active
        row.managed = True
        audit.record(self.session, actor, now, "update", "severity scheme", row.name, _changes_detail(fields))

    def _update_scheme_flag(
        self, row: models.SeverityScheme, fields: Sequence[FieldChange], actor: Actor, now: datetime
    ) -> None:
        row.active = not row.active
        audit.record(self.session, actor, now, "update", "severity scheme", row.name, _changes_detail(fields))

    # -- roles --

    def _roles(self, specs: Sequence[schema.Role]) -> None:
        rows = {row.key: row for row in severities_repo.list_roles(self.session)}
        declared = {spec.key for spec in specs}
        for position, spec in enumerate(specs):
            desired: dict[str, Value] = {
                "name": spec.name,
                "description": spec.description,
                "position": position,
                "managed": True,
            }
            row = rows.get(spec.key)
            if row is None:
                self._step(
                    Change("create", "role", spec.key, _created(desired)),
                    functools.partial(self._create_role, spec.key, desired),
                )
                continue
            current: dict[str, Value] = {
                "name": row.name,
                "description": row.description,
                "position": row.position,
                "managed": row.managed,
            }
            fields = _diff(current, desired)
            if fields:
                self._step(
                    Change("update", "role", spec.key, fields),
                    functools.partial(self._set_fields, row, "role", spec.key, fields),
                )
        held = severities_repo.roles_held(self.session, OPEN_STATUSES)
        for key, row in rows.items():
            if not row.managed or key in declared:
                continue
            if key in held:
                self.issues.append(
                    Issue(
                        ("roles",),
                        f"role {key!r} is held on {_incidents(held[key])}; "
                        "keep it in the file until the incident is closed",
                    )
                )
                continue
            self._step(
                Change("delete", "role", key),
                functools.partial(self._delete, row, "role", key),
                late=True,
            )

    def _create_role(self, key: str, values: Mapping[str, Value], actor: Actor, now: datetime) -> None:
        self.session.add(models.RoleDefinition(key=key, **values))
        audit.record(self.session, actor, now, "create", "role", key)

    # -- users --

    def _users(self, specs: Sequence[schema.User] | None) -> None:
        rows = {row.email.lower(): row for row in directory_repo.list_users(self.session, include_inactive=True)}
        active = {email for email, row in rows.items() if row.active}
        self.inactive_users = set(rows) - active
        if specs is None:
            self.users_after = active
            return
        declared = {spec.email.lower() for spec in specs}
        for spec in specs:
            desired: dict[str, Value] = {
                "name": spec.name or spec.email,
                "role": spec.role,
                "time_zone": spec.time_zone,
                "active": True,
                "managed": True,
            }
            row = rows.get(spec.email.lower())
            if row is None:
                self._step(
                    Change("create", "user", spec.email, _created(desired, implied=("active",))),
                    functools.partial(self._create_user, spec),
                )
                continue
            current: dict[str, Value] = {
                "name": row.name,
                "role": row.role,
                "time_zone": row.time_zone,
                "active": row.active,
                "managed": row.managed,
            }
            fields = _diff(current, desired)
            if fields:
                self._step(
                    Change("update", "user", row.email, fields, "reactivated" if not row.active else ""),
                    functools.partial(self._set_fields, row, "user", row.email, fields),
                )
        for email, row in rows.items():
            if row.active and row.managed and email not in declared:
                self.users_removed.add(email)
                self._step(
                    Change("delete", "user", row.email, note="deactivated; incidents and timelines keep the name"),
                    functools.partial(self._deactivate_user, row),
                    late=True,
                )
        self.users_after = (active - self.users_removed) | declared

    def _create_user(self, spec: schema.User, actor: Actor, now: datetime) -> None:
        directory.create_user(
            self.session,
            actor,
            now,
            email=spec.email,
            name=spec.name or spec.email,
            role=spec.role,
            time_zone=spec.time_zone,
            managed=True,
        )

    def _deactivate_user(self, row: models.User, actor: Actor, now: datetime) -> None:
        row.active = False
        audit.record(self.session, actor, now, "deactivate", "user", row.email)

    # -- teams --

    def _teams(self, specs: Sequence[schema.Team] | None) -> None:
        rows = {row.key: row for row in directory_repo.list_teams_with_members(self.session)}
        if specs is None:
            self.teams_after = set(rows)
            return
        declared = {spec.key for spec in specs}
        for spec in specs:
            desired: dict[str, Value] = {
                "name": spec.name or spec.key,
                "description": spec.description,
                "members": sorted(email.lower() for email in spec.members),
                "managers": sorted(email.lower() for email in spec.managers),
                "managed": True,
            }
            row = rows.get(spec.key)
            if row is None:
                self._step(
                    Change("create", "team", spec.key, _created(desired)),
                    functools.partial(self._create_team, spec),
                )
                continue
            current: dict[str, Value] = {
                "name": row.name,
                "description": row.description,
                "members": sorted(m.user.email.lower() for m in row.members if m.role != "manager"),
                "managers": sorted(m.user.email.lower() for m in row.members if m.role == "manager"),
                "managed": row.managed,
            }
            fields = _diff(current, desired)
            if fields:
                self._step(
                    Change("update", "team", spec.key, fields),
                    functools.partial(self._update_team, row, spec, fields),
                )
        staying = self._services_staying()
        for key, row in rows.items():
            if not row.managed or key in declared:
                continue
            self.teams_removed.add(key)
            orphans = [s.key for s in directory_repo.services_of_team(self.session, row.id) if s.key in staying]
            note = f"services {', '.join(orphans)} will have no team" if orphans else ""
            self._step(Change("delete", "team", key, note=note), functools.partial(self._delete_team, row), late=True)
        self.teams_after = (set(rows) - self.teams_removed) | declared

    def _services_staying(self) -> set[str]:
        """Services whose team this apply does not set (those not in the file)."""
        declared = {spec.key for spec in self.document.services or ()}
        return {s.key for s in directory_repo.list_services(self.session, include_archived=True)} - declared

    def _create_team(self, spec: schema.Team, actor: Actor, now: datetime) -> None:
        team = directory.create_team(
            self.session,
            actor,
            now,
            key=spec.key,
            name=spec.name or spec.key,
            description=spec.description,
            members=[*spec.members, *spec.managers],
            managed=True,
        )
        managers = {email.lower() for email in spec.managers}
        for member in team.members:
            if member.user.email.lower() in managers:
                member.role = "manager"

    def _update_team(
        self, row: models.Team, spec: schema.Team, fields: Sequence[FieldChange], actor: Actor, now: datetime
    ) -> None:
        row.name = spec.name or spec.key
        row.description = spec.description
        row.managed = True
        wanted = {email.lower(): "member" for email in spec.members}
        wanted.update({email.lower(): "manager" for email in spec.managers})
        kept = []
        for member in row.members:
            role = wanted.pop(member.user.email.lower(), None)
            if role is not None:
                member.role = role
                kept.append(member)
        for email, role in wanted.items():
            user = directory_repo.user_by_email(self.session, email)
            if user is None:  # planning checked every reference; only a concurrent delete gets here
                raise InvalidConfig([Issue(("teams",), f"user {email!r} disappeared while applying")])
            kept.append(models.TeamMember(user=user, role=role))
        row.members = kept  # members left out are orphans, deleted on flush
        audit.record(self.session, actor, now, "update", "team", row.key, _changes_detail(fields))

    def _delete_team(self, row: models.Team, actor: Actor, now: datetime) -> None:
        # The foreign key would set these to NULL too; doing it here keeps the
        # session's objects truthful and the audit trail complete.
        for service in directory_repo.services_of_team(self.session, row.id):
            service.team = None
        self._delete(row, "team", row.key, actor, now)

    # -- services --

    def _services(self, specs: Sequence[schema.Service]) -> None:
        rows = {row.key: row for row in directory_repo.list_services(self.session, include_archived=True)}
        declared = {spec.key for spec in specs}
        for spec in specs:
            desired: dict[str, Value] = {
                "name": spec.name or spec.key,
                "description": spec.description,
                "team": spec.team,
                "archived": False,
                "managed": True,
            }
            row = rows.get(spec.key)
            if row is None:
                self._step(
                    Change("create", "service", spec.key, _created(desired)),
                    functools.partial(self._create_service, spec),
                )
                continue
            current: dict[str, Value] = {
                "name": row.name,
                "description": row.description,
                "team": row.team.key if row.team is not None else None,
                "archived": row.archived_at is not None,
                "managed": row.managed,
            }
            fields = _diff(current, desired)
            if fields:
                note = "restored from the archive" if row.archived_at is not None else ""
                self._step(
                    Change("update", "service", spec.key, fields, note),
                    functools.partial(self._update_service, row, spec, fields),
                )
        for key, row in rows.items():
            if row.managed and row.archived_at is None and key not in declared:
                self._step(
                    Change("delete", "service", key, note="archived; incidents keep referring to it"),
                    functools.partial(self._archive_service, row),
                    late=True,
                )

    def _create_service(self, spec: schema.Service, actor: Actor, now: datetime) -> None:
        directory.create_service(
            self.session,
            actor,
            now,
            key=spec.key,
            name=spec.name or spec.key,
            description=spec.description,
            team=spec.team,
            managed=True,
        )

    def _update_service(
        self, row: models.Service, spec: schema.Service, fields: Sequence[FieldChange], actor: Actor, now: datetime
    ) -> None:
        row.name = spec.name or spec.key
        row.description = spec.description
        row.team = directory.get_team(self.session, spec.team) if spec.team is not None else None
        row.archived_at = None
        row.managed = True
        audit.record(self.session, actor, now, "update", "service", row.key, _changes_detail(fields))

    def _archive_service(self, row: models.Service, actor: Actor, now: datetime) -> None:
        row.archived_at = now
        audit.record(self.session, actor, now, "archive", "service", row.key)

    def _services_after(self) -> None:
        """Which services exist once the plan has run, for the references of the sections below."""
        rows = directory_repo.list_services(self.session, include_archived=True)
        live = {row.key for row in rows if row.archived_at is None}
        declared = {spec.key for spec in self.document.services or ()}
        if self.document.services is not None:
            self.services_removed = {row.key for row in rows if row.managed and row.key in live - declared}
        self.services_after = (live - self.services_removed) | declared
        self.services_archived = {row.key for row in rows if row.archived_at is not None} - declared

    # -- integrations --

    def _integrations(self, specs: Sequence[schema.Integration]) -> None:
        rows = sorted(alerts_repo.list_integrations(self.session), key=lambda row: (not row.managed, row.id))
        chosen: dict[tuple[str, str], models.Integration] = {}
        for candidate in rows:
            # Names are not unique through the API: the file claims the managed one, else the oldest.
            chosen.setdefault((candidate.service.key, candidate.name), candidate)
        claimed = set()
        for index, spec in enumerate(specs):
            label = f"{spec.service}/{spec.display_name}"
            row = chosen.get((spec.service, spec.display_name))
            if row is not None:
                claimed.add(row.id)
            usable, key = self._key_from_env(index, spec, row)
            if not usable:
                continue
            settings = _integration_settings(spec.settings)
            desired: dict[str, Value] = {
                **_integration_values(spec.kind, settings),
                "disabled": False,
                "managed": True,
            }
            if row is None:
                source = "(generated)" if key is None else f"(from ${spec.key_env})"
                self._step(
                    Change("create", "integration", label, (*_created(desired), FieldChange("key", None, source))),
                    functools.partial(self._create_integration, spec, settings, key),
                )
                continue
            current: dict[str, Value] = {
                **_integration_values(row.kind, row.settings or {}),
                "disabled": row.disabled_at is not None,
                "managed": row.managed,
            }
            fields = _diff(current, desired)
            if key is not None and integrations_service.hash_key(key) != row.key_hash:
                fields += (FieldChange("key", f"{row.key_prefix}…", f"{key[:8]}… (from ${spec.key_env})"),)
            if fields:
                note = "enabled again" if row.disabled_at is not None else ""
                self._step(
                    Change("update", "integration", label, fields, note),
                    functools.partial(self._update_integration, row, spec, settings, key, fields),
                )
        for stale in rows:
            if stale.managed and stale.disabled_at is None and stale.id not in claimed:
                self._step(
                    Change(
                        "delete",
                        "integration",
                        f"{stale.service.key}/{stale.name}",
                        note="disabled: its key stops working, its alerts stay",
                    ),
                    functools.partial(self._disable_integration, stale),
                    late=True,
                )

    def _key_from_env(
        self, index: int, spec: schema.Integration, row: models.Integration | None
    ) -> tuple[bool, str | None]:
        """(usable, key): no `key_env` is usable with no key (one is made on create, kept on update)."""
        if spec.key_env is None:
            return True, None
        path: Path = ("integrations", index, "key_env")
        key = self.env.get(spec.key_env, "").strip()
        # The messages name the variable, never its value: plans end up in CI logs.
        if not key:
            self.issues.append(
                Issue(path, f"environment variable {spec.key_env} is not set; apply reads the key from it")
            )
            return False, None
        if not 20 <= len(key) <= 64 or not key.isascii() or not key.isalnum():
            self.issues.append(Issue(path, f"{spec.key_env} does not hold a usable key: 20 to 64 letters and digits"))
            return False, None
        other = alerts_repo.integration_by_key_hash(self.session, integrations_service.hash_key(key))
        if other is not None and other is not row:
            self.issues.append(
                Issue(path, f"the key in {spec.key_env} belongs to integration {other.service.key}/{other.name}")
            )
            return False, None
        return True, key

    def _create_integration(
        self, spec: schema.Integration, settings: dict[str, Any], key: str | None, actor: Actor, now: datetime
    ) -> IssuedKey | None:
        created = integrations_service.create(
            self.session,
            actor,
            now,
            service_key=spec.service,
            kind=spec.kind,
            name=spec.display_name,
            settings=settings,
            key=key,
            managed=True,
        )
        # A key from the environment is one the user already has.
        return IssuedKey(spec.service, created.row.name, spec.kind, created.key) if key is None else None

    def _update_integration(
        self,
        row: models.Integration,
        spec: schema.Integration,
        settings: dict[str, Any],
        key: str | None,
        fields: Sequence[FieldChange],
        actor: Actor,
        now: datetime,
    ) -> None:
        kind = integrations_service.Kind(spec.kind)
        row.kind = kind.value
        row.settings = integrations_service.check_settings(kind, settings)
        if key is not None:
            row.key_hash = integrations_service.hash_key(key)
            row.key_prefix = key[:8]
        row.disabled_at = None
        row.managed = True
        audit.record(self.session, actor, now, "update", "integration", row.name, _changes_detail(fields))

    def _disable_integration(self, row: models.Integration, actor: Actor, now: datetime) -> None:
        row.disabled_at = now
        audit.record(self.session, actor, now, "disable", "integration", row.name, {"service": row.service.key})

    # -- routes --

    def _routes(self, specs: Sequence[schema.Route]) -> None:
        services = {row.id: row for row in directory_repo.list_services(self.session, include_archived=True)}
        by_key = {row.key: row for row in services.values()}
        managed: dict[str, list[models.RoutingRule]] = {}
        for rule in alerts_repo.managed_rules(self.session):
            managed.setdefault(services[rule.service_id].key, []).append(rule)
        for spec in specs:
            rows = managed.get(spec.service, [])
            old = [_rule_of_row(row) for row in rows]
            new = [_rule_of_spec(rule) for rule in spec.rules]
            if old == new:
                continue
            service = by_key.get(spec.service)
            others = len(alerts_repo.rules_for(self.session, service.id)) - len(rows) if service is not None else 0
            note = f"after these: {_plural(others, 'rule')} made outside the file" if others and new else ""
            if not new:
                change = Change("delete", "routes", spec.service, note=_plural(len(old), "rule"))
            else:
                change = Change(
                    "create" if not old else "update", "routes", spec.service, _rule_changes(old, new), note
                )
            self._step(change, functools.partial(self._replace_rules, spec.service, rows, spec.rules))
        declared = {spec.service for spec in specs}
        for key, rows in managed.items():
            if key not in declared:
                self._step(
                    Change("delete", "routes", key, note=_plural(len(rows), "rule")),
                    functools.partial(self._replace_rules, key, rows, ()),
                    late=True,
                )

    def _replace_rules(
        self,
        service_key: str,
        rows: Sequence[models.RoutingRule],
        specs: Sequence[schema.RouteRule],
        actor: Actor,
        now: datetime,
    ) -> None:
        for row in rows:
            routing.delete_rule(self.session, actor, now, row.id)
        if not specs:
            return
        service = directory.get_service(self.session, service_key)
        # The file's rules go before those made through the API: positions below theirs,
        # without renumbering rows the file does not own.
        lowest = min((rule.position for rule in alerts_repo.rules_for(self.session, service.id)), default=len(specs))
        start = min(0, lowest - len(specs))
        for offset, rule in enumerate(specs):
            routing.add_rule(
                self.session,
                actor,
                now,
                service_key=service_key,
                matchers=rule.match,
                severity=rule.severity,
                route_to=rule.route_to,
                drop=rule.drop,
                urgency=rule.urgency,
                continue_=rule.continue_,
                position=start + offset,
                managed=True,
            )

    # -- maintenance windows --

    def _windows(self, specs: Sequence[schema.MaintenanceWindow]) -> None:
        now = self.now
        rows = alerts_repo.list_windows(self.session)
        chosen: dict[str, models.MaintenanceWindow] = {}
        # A window that is on or to come first (managed before unmanaged); else the latest managed
        # one that ended, so that applying a file with a past window again changes nothing.
        for candidate in sorted(rows, key=lambda w: (as_utc(w.ends_at) <= now, not w.managed, -w.id)):
            if candidate.managed or as_utc(candidate.ends_at) > now:
                chosen.setdefault(candidate.name, candidate)
        for spec in specs:
            desired: dict[str, Value] = {
                "service": spec.service,
                "match": list(spec.match),
                "starts_at": _instant(spec.starts_at),
                "ends_at": _instant(spec.end),
                "managed": True,
            }
            row = chosen.get(spec.name)
            ended = row is not None and as_utc(row.ends_at) <= now
            current: dict[str, Value] = {}
            if row is not None:
                current = {
                    "service": row.service.key if row.service is not None else None,
                    "match": [_matcher_text(m) for m in row.matchers],
                    "starts_at": _instant(row.starts_at),
                    "ends_at": _instant(row.ends_at),
                    "managed": row.managed,
                }
            fields = _diff(current, desired)
            if row is not None and not fields:
                continue
            if row is None or ended:
                # An ended window is the record of what it held: a new one, never an edit.
                note = f"the one that ended {_instant(row.ends_at)} stays on record" if row is not None else ""
                self._step(
                    Change("create", "maintenance window", spec.name, _created(desired), note),
                    functools.partial(self._create_window, spec),
                )
                continue
            self._step(
                Change("update", "maintenance window", spec.name, fields),
                functools.partial(self._update_window, row, spec, fields),
            )
        declared = {spec.name for spec in specs}
        for stale in sorted(rows, key=lambda w: (as_utc(w.starts_at), w.id)):
            if not stale.managed or stale.name in declared or as_utc(stale.ends_at) <= now:
                continue
            if as_utc(stale.starts_at) <= now:
                self._step(
                    Change("delete", "maintenance window", stale.name, note="on now: it ends now and stays on record"),
                    functools.partial(self._end_window, stale),
                    late=True,
                )
            else:
                self._step(
                    Change("delete", "maintenance window", stale.name),
                    functools.partial(self._delete, stale, "maintenance_window", stale.name),
                    late=True,
                )

    def _create_window(self, spec: schema.MaintenanceWindow, actor: Actor, now: datetime) -> None:
        routing.add_window(
            self.session,
            actor,
            now,
            name=spec.name,
            starts_at=spec.starts_at,
            ends_at=spec.end,
            service_key=spec.service,
            matchers=spec.match,
            managed=True,
        )

    def _update_window(
        self,
        row: models.MaintenanceWindow,
        spec: schema.MaintenanceWindow,
        fields: Sequence[FieldChange],
        actor: Actor,
        now: datetime,
    ) -> None:
        row.service = directory.get_service(self.session, spec.service) if spec.service is not None else None
        row.matchers = list(spec.match)
        row.starts_at = spec.starts_at
        row.ends_at = spec.end
        row.managed = True
        audit.record(self.session, actor, now, "update", "maintenance_window", row.name, _changes_detail(fields))

    def _end_window(self, row: models.MaintenanceWindow, actor: Actor, now: datetime) -> None:
        routing.end_window(self.session, actor, now, row.id)

    # -- shared --

    def _set_fields(
        self, row: object, kind: str, key: str, fields: Sequence[FieldChange], actor: Actor, now: datetime
    ) -> None:
        """For objects whose plan fields are their column names and values."""
        for change in fields:
            setattr(row, change.field, change.new)
        audit.record(self.session, actor, now, "update", kind, key, _changes_detail(fields))

    def _delete(self, row: object, kind: str, key: str, actor: Actor, now: datetime) -> None:
        self.session.delete(row)
        audit.record(self.session, actor, now, "delete", kind, key)

    def _references(self) -> None:
        for reference in schema.references(self.document):
            if reference.declared:
                continue
            message = self._unresolved(reference)
            if message is not None:
                self.issues.append(Issue(reference.path, message))

    def _unresolved(self, reference: schema.Reference) -> str | None:
        key = reference.key
        if reference.kind == "service":
            if key in self.services_after:
                return None
            if key in self.services_removed:
                return f"service {key!r} is not under services, so apply would archive it"
            if key in self.services_archived:
                return f"service {key!r} is archived; list it under services to restore it"
            return f"unknown service {key!r}"
        if reference.kind == "severity":
            if self.levels_after is None or key in self.levels_after:
                return None  # no active scheme at all is reported on `severities`
            return (
                f"unknown severity {key!r}; the active scheme {self.active_after!r} has {', '.join(self.levels_after)}"
            )
        if reference.kind == "user":
            email = key.lower()
            if email in self.users_after:
                return None
            if email in self.users_removed:
                return f"user {key!r} is not under users, so apply would deactivate them"
            if email in self.inactive_users:
                return f"user {key!r} is deactivated; list them under users to reactivate them"
            return f"unknown user {key!r}"
        if reference.kind == "team":
            if key in self.teams_after:
                return None
            if key in self.teams_removed:
                return f"team {key!r} is not under teams, so apply would delete it"
            return f"unknown team {key!r}"
        if key in self.schemes_after:
            return None
        if key in self.schemes_removed:
            return f"scheme {key!r} is not under severities.schemes, so apply would delete it"
        return f"unknown severity scheme {key!r}"
