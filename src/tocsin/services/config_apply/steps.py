"""The plan's vocabulary (changes, steps, the plan) and the one shape every section plans with.

A section compares what the file wants with what the database has, object by
object: no row is a create step, a row with different values is an update
step (each changed field with its old and new value), and a managed row the
file no longer names is a delete step that runs late. `plan_object` is one
object's half of that and `plan_section` the whole loop; sections with an
identity of their own (routes, maintenance windows) use `Planning.step`
directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, TypeAlias, TypeVar

from sqlalchemy.orm import Session

from tocsin.clock import as_utc
from tocsin.config_file import schema
from tocsin.config_file.durations import format_duration
from tocsin.config_file.errors import Issue, Path
from tocsin.domain.matchers import MatcherError, parse_matcher
from tocsin.domain.notify import ContactKind
from tocsin.errors import ValidationFailed
from tocsin.services import audit, contacts
from tocsin.services.actor import Actor

Action = Literal["create", "update", "delete"]
Value: TypeAlias = str | int | bool | list[str] | None

S = TypeVar("S")
R = TypeVar("R")


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Value
    new: Value


@dataclass(frozen=True)
class Change:
    action: Action
    kind: str  # "severity scheme", "role", "team", "user", "service", "integration", "routes", "maintenance window", …
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
    integration_id: int | None = None  # a Sentry project's DSN ends with it


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


# ---- what planning knows -------------------------------------------------------------


class Planning:
    """One planning pass: the steps and issues found so far, and what exists once the plan has run,
    for checking the references the file makes to objects it does not declare."""

    def __init__(self, session: Session, document: schema.Document, now: datetime, env: Mapping[str, str]) -> None:
        self.session = session
        self.document = document
        self.now = now
        self.env = env
        self.steps: list[Step] = []
        self.issues: list[Issue] = []
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
        self.schedules_after: set[str] = set()
        self.schedules_removed: set[str] = set()
        self.policies_after: set[str] = set()
        self.policies_removed: set[str] = set()
        # The scheme incidents will use, and its levels: what rules and integrations may name.
        self.active_after: str | None = None
        self.levels_after: list[str] | None = None

    def step(self, change: Change, run: Run, *, late: bool = False) -> None:
        self.steps.append(Step(change, run, late))

    def set_fields(self, row: object, kind: str, key: str, fields: Sequence[FieldChange]) -> Run:
        """For objects whose plan fields are their column names and values."""

        def run(actor: Actor, now: datetime) -> None:
            for change in fields:
                setattr(row, change.field, change.new)
            audit.record(self.session, actor, now, "update", kind, key, changes_detail(fields))

        return run

    def delete(self, row: object, kind: str, key: str) -> Run:
        def run(actor: Actor, now: datetime) -> None:
            self.session.delete(row)
            audit.record(self.session, actor, now, "delete", kind, key)

        return run


# ---- the shape every section shares ---------------------------------------------------


def plan_object(
    planning: Planning,
    kind: str,
    key: str,
    desired: Mapping[str, Value],
    current: Mapping[str, Value] | None,
    *,
    create: Callable[[], Run],
    update: Callable[[tuple[FieldChange, ...]], Run],
    implied: Sequence[str] = (),
    extra: tuple[FieldChange, ...] = (),
    create_note: str = "",
    update_note: str = "",
    update_key: str | None = None,
) -> tuple[FieldChange, ...]:
    """No current values: a create step; otherwise an update step if anything differs (`extra` are
    changes the values cannot show, such as a key from the environment). Returns the update's fields."""
    if current is None:
        fields = (*created(desired, implied=implied), *extra)
        planning.step(Change("create", kind, key, fields, create_note), create())
        return fields
    fields = diff(current, desired) + extra
    if fields:
        planning.step(Change("update", kind, update_key or key, fields, update_note), update(fields))
    return fields


@dataclass(frozen=True)
class Section(Generic[S, R]):
    """How one kind of object is read and written; `plan_section` does the comparing."""

    kind: str
    # The rows that exist, by the identity the file uses.
    rows: Mapping[str, R]
    key: Callable[[S], str]
    desired: Callable[[S], dict[str, Value]]
    current: Callable[[R], dict[str, Value]]
    create: Callable[[S], Run]
    update: Callable[[S, R, tuple[FieldChange, ...]], Run]
    # A row the file does not name: its delete step (change, run), or None to keep it.
    remove: Callable[[str, R], tuple[Change, Run] | None]
    # How the plan names an object; the identity when left out.
    label: Callable[[S, R | None], str] | None = None
    implied: Sequence[str] = ()
    update_note: Callable[[R], str] | None = None


def plan_section(
    planning: Planning,
    section: Section[S, R],
    specs: Iterable[S],
    *,
    removals: list[tuple[Change, Run]] | None = None,
) -> set[str]:
    """Create or update every spec, then remove the leftovers; returns the identities removed.
    With `removals`, the delete steps go there, for the caller to plan in dependency order."""
    declared = {_plan_spec(planning, section, spec) for spec in specs}
    removed = set()
    for key, row in section.rows.items():
        if key in declared:
            continue
        removal = section.remove(key, row)
        if removal is not None:
            removed.add(key)
            if removals is not None:
                removals.append(removal)
            else:
                planning.step(*removal, late=True)
    return removed


def _plan_spec(planning: Planning, section: Section[S, R], spec: S) -> str:
    key = section.key(spec)
    row = section.rows.get(key)
    if row is None:
        label = section.label(spec, None) if section.label is not None else key
        plan_object(
            planning,
            section.kind,
            label,
            section.desired(spec),
            None,
            create=lambda: section.create(spec),
            update=_unreachable,
            implied=section.implied,
        )
        return key
    found = row
    plan_object(
        planning,
        section.kind,
        section.label(spec, row) if section.label is not None else key,
        section.desired(spec),
        section.current(row),
        create=lambda: section.create(spec),
        update=lambda fields: section.update(spec, found, fields),
        update_note=section.update_note(row) if section.update_note is not None else "",
    )
    return key


def _unreachable(fields: tuple[FieldChange, ...]) -> Run:
    raise AssertionError("an object without a row is created, not updated")


# ---- comparing ------------------------------------------------------------------------


_EMPTY: tuple[Value, ...] = (None, "", [])


def _same(old: Value, new: Value) -> bool:
    # A level that did not exist had no description; it is not a change to give it "".
    return old == new or (old in _EMPTY and new in _EMPTY)


def diff(current: Mapping[str, Value], desired: Mapping[str, Value]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, current.get(name), new) for name, new in desired.items() if not _same(current.get(name), new)
    )


def created(desired: Mapping[str, Value], *, implied: Sequence[str] = ()) -> tuple[FieldChange, ...]:
    """The fields a create sets, without those the word "create" already says (`managed`, `active`)."""
    return tuple(
        FieldChange(name, None, value)
        for name, value in desired.items()
        if name != "managed" and name not in implied and value not in _EMPTY and value is not False
    )


def changes_detail(fields: Sequence[FieldChange]) -> dict[str, Any]:
    return {"changes": {f.field: {"from": f.old, "to": f.new} for f in fields}}


# ---- showing values -------------------------------------------------------------------


def duration(seconds: int | None) -> str | None:
    return None if seconds is None else format_duration(timedelta(seconds=seconds))


def seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def incidents(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    return f"open incident{'s' if len(ids) > 1 else ''} {shown}"


def matcher_text(text: str) -> str:
    # The schema stores matchers in this spelling; rows made through the API may not be.
    try:
        return str(parse_matcher(text))
    except MatcherError:
        return text


def json_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def instant(value: datetime) -> str:
    at = as_utc(value)
    return at.strftime("%Y-%m-%d %H:%M:%S UTC" if at.second or at.microsecond else "%Y-%m-%d %H:%M UTC")


def plural(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def address_from(
    planning: Planning, path: Path, kind: str, address: str | None, address_env: str | None, what: str
) -> tuple[str, str] | None:
    """A contact method's or channel's address written in the file or read from the
    environment: (address, what the plan shows of it), or None with an issue. The
    messages name the variable, never its value: plans end up in CI logs."""
    if address is not None:
        try:
            contacts.check_address(ContactKind(kind), address, what)
        except ValidationFailed as exc:
            planning.issues.append(Issue((*path, "address"), exc.message))
            return None
        return address.strip(), contacts.masked(kind, address.strip())
    variable = address_env or ""
    value = planning.env.get(variable, "").strip()
    if not value:
        planning.issues.append(
            Issue((*path, "address_env"), f"environment variable {variable} is not set; apply reads the address there")
        )
        return None
    try:
        contacts.check_address(ContactKind(kind), value, what)
    except ValidationFailed:
        planning.issues.append(Issue((*path, "address_env"), f"{variable} does not hold a usable {kind} address"))
        return None
    return value, f"{contacts.masked(kind, value)} (from ${variable})"
