"""The engine's part of escalations: page every escalation step that is due, a batch at a time.

Each due step becomes `notifications` rows — one per contact method of each
person paged, at the delays of their notification rules — which the deliveries
module sends, and one timeline entry saying who was paged and why not.

A batch is set-based, because thousands of escalations can fall due at one
instant (a policy's level 2, five minutes after an outage opened them all):
one query selects the due escalations with their incidents; the batch's
policies, the incidents' services, and everyone those policies can page (with
their contact methods, notification rules and quiet hours) are loaded once;
who is on call in a schedule, and what a page to one person at one instant
turns into, are worked out once per instant; then the notification rows, the
acknowledge links, the timeline entries and the escalations' new positions
are written a table at a time, thousands of rows a statement. The rules
themselves are `domain.escalation` (the timetable) and `domain.notify` (one
page to one person).

Two processes page each step once. The escalations a batch selects are its own
until it commits: on PostgreSQL they are selected `FOR UPDATE SKIP LOCKED`, so
another process skips them, and finds them no longer due once this one has
committed; on SQLite the engine's transaction holds the only write lock from
its first statement (`BEGIN IMMEDIATE`). Behind that, rows carry an
idempotency key (timetable start, round, level, user, contact method) and are
inserted with ON CONFLICT DO NOTHING, so a replayed step inserts nothing and
says nothing more on the timeline. A batch holding escalation rows never waits
for an incident's row: a request that acknowledges locks the incident first,
then the escalation (`escalations.stop`).

The batch's queries are `storage.repositories.escalation_batch`; the
driver-form writes they use (timestamps bound once, COPY, `= ANY(array)`) are
`storage.bulk`'s, next to the ingest writer's bulk insert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from sqlalchemy.orm import Session

from tocsin.domain import escalation as domain
from tocsin.domain import notify
from tocsin.domain import schedules as schedule_rules
from tocsin.domain.timeline import EntryKind
from tocsin.services import ack_links, contacts, escalations, policies, schedules
from tocsin.services.actor import ENGINE
from tocsin.storage import bulk, models
from tocsin.storage.repositories import escalation_batch as batch_repo
from tocsin.storage.repositories import paging as paging_repo
from tocsin.storage.repositories import severities as severities_repo

ACK_LINK_TTL = timedelta(hours=24)
_CHANNEL_LABELS = {"email": "e-mail"}
# Plans are cached relative to this instant; `domain.resume` moves a plan to where each escalation is.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PAGE_COLUMNS = (
    "idempotency_key", "incident_id", "escalation_id", "user_id", "contact_method_id", "kind", "channel", "step",
    "status", "due_at", "attempts", "last_error", "payload", "created_at",
)  # fmt: skip
_LINK_COLUMNS = ("token_hash", "incident_id", "user_id", "expires_at", "created_at")


@dataclass(frozen=True)
class Progress:
    claimed: int  # escalations the batch selected; fewer than asked for: nothing else is due
    steps: int  # steps paged


def due(session: Session, now: datetime, batch: int, *, public_url: str, only: int | None = None) -> int:
    """Page every step that is due, for up to `batch` escalations; returns the steps paged.

    `public_url` is where people reach this server: the links in pages start with it.
    `only` limits the batch to one escalation (the simulator's drill).
    """
    return due_batch(session, now, batch, public_url=public_url, only=only).steps


def due_batch(session: Session, now: datetime, batch: int, *, public_url: str, only: int | None = None) -> Progress:
    rows = batch_repo.due(session, now, batch, escalations.ACTIVE, only)
    if not rows:
        return Progress(0, 0)
    paging = _Batch(session, now, public_url.rstrip("/"), rows)
    steps = sum(paging.advance(row) for row in rows)
    paging.write()
    return Progress(len(rows), steps)


def page_key(incident_id: int, started_at: datetime, step: domain.Step, user_id: int, method_id: int) -> str:
    """The same page planned twice (a replayed cycle, a second process) has the same key.
    `started_at` tells a reopened incident's new timetable from the old one."""
    return f"{_step_key(incident_id, started_at, step)}:{user_id}:{method_id}"


def _step_key(incident_id: int, started_at: datetime, step: domain.Step) -> str:
    return f"page:{incident_id}:{int(started_at.timestamp())}:{step.round}:{step.level}"


# ---- the batch --------------------------------------------------------------------------------


_Due = batch_repo.DueEscalation


@dataclass
class _Page:
    """What one step did to one person."""

    user: models.User
    why: str  # "on call in primary", "in team platform", or ""
    channels: list[str] = field(default_factory=list)
    held_until: datetime | None = None
    unreachable: bool = False
    through_quiet_hours: bool = False


@dataclass
class _Reached:
    """Whom one level's targets reach at one instant; shared by every escalation paging them then."""

    pages: list[_Page] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # nobody on call, unknown target …
    rows: list[tuple[models.User, models.ContactMethod, datetime]] = field(default_factory=list)


@dataclass
class _Policy:
    row_id: int
    name: str
    levels: int
    rules: domain.Policy


@dataclass(eq=False)  # compared and hashed by identity: one line, said on many timelines
class _Line:
    """A timeline entry that every escalation taking the same step writes, word for word."""

    summary: str
    data: dict[str, Any]


@dataclass
class _Taken:
    """One step as every escalation at the same place takes it: whom it pages, by which
    contact methods when, and the line it says on the timeline."""

    step: domain.Step
    line: _Line
    level: str  # "level 2 of api-default", for the page
    label: str  # "round 1, level 2", for the notification row
    recipients: list[tuple[int, str, list[tuple[int, str, datetime]]]]  # user, why, (method, channel, due)

    @classmethod
    def of(cls, step: domain.Step, reached: _Reached, policy: _Policy) -> _Taken:
        why = {page.user.id: page.why for page in reached.pages}
        by_user: dict[int, list[tuple[int, str, datetime]]] = {}
        for user, method, due_at in reached.rows:
            by_user.setdefault(user.id, []).append((method.id, method.kind, due_at))
        return cls(
            step,
            _Line(_summary(reached, step, policy), _data(reached, step)),
            f"level {step.level + 1} of {policy.name}",
            f"round {step.round + 1}, level {step.level + 1}",
            [(user_id, why[user_id], deliveries) for user_id, deliveries in by_user.items()],
        )


@dataclass
class _Walk:
    steps: list[_Taken]
    next_step: int
    next_due_at: datetime | None
    status: str


class _Batch:
    def __init__(self, session: Session, now: datetime, public_url: str, rows: Sequence[_Due]) -> None:
        self.session, self.now, self.public_url = session, now, public_url
        self.services = batch_repo.services_of(session, [row.incident_id for row in rows])
        self.policies = _policies(session, {row.policy_id for row in rows if row.policy_id is not None})
        scheme = severities_repo.active_scheme(session)
        self.emergency_levels = {level.name for level in scheme.levels if level.emergency} if scheme else set()
        self.people = _People(session, [policy.rules for policy in self.policies.values()])
        self.plans: dict[tuple[int, str], domain.Plan] = {}
        self.walks: dict[tuple[int, str, int, datetime, bool], _Walk] = {}
        self.pages: list[tuple[Any, ...]] = []  # notification rows, in the order of _PAGE_COLUMNS
        self.links: list[tuple[list[str], str, int, int]] = []  # keys, token, incident, user
        # (its place among an escalation's entries, line) → (incident, the keys of the pages it tells of)
        self.entries: dict[tuple[int, _Line], list[tuple[int, list[str]]]] = {}
        self.exhausted: dict[str, _Line] = {}
        # (next_step from, to, next_due_at, status) → escalation ids: thousands move alike
        self.moves: dict[tuple[int, int, datetime | None, str], list[int]] = {}

    def advance(self, row: _Due) -> int:
        """Work out one escalation's due steps; returns how many. Nothing is written yet."""
        ended = escalations.answered(row.incident_status, row.acknowledged_at, row.resolved_at, row.started_at)
        if ended is not None:
            # Stopped without `stop()` (a status set before this module existed): end it, page nobody.
            self._move(row, row.next_step, None, ended)
            return 0
        policy = self.policies.get(row.policy_id) if row.policy_id is not None else None
        if policy is None or row.next_step >= len(self._plan(policy, row.severity).steps):
            # The policy was deleted, or edited down to fewer steps than were already paged.
            self._move(row, row.next_step, None, escalations.EXHAUSTED)
            self._entry(row.incident_id, 0, self._exhausted(policy.name if policy else "its escalation policy"))
            return 0

        walk = self._walk(policy, row.severity, row.next_step, row.next_due_at, self._emergency(row))
        self._move(row, walk.next_step, walk.next_due_at, walk.status)
        for place, taken in enumerate(walk.steps):
            self._entry(row.incident_id, place, taken.line, self._pages(row, taken))
        if walk.status == escalations.EXHAUSTED:
            self._entry(row.incident_id, len(walk.steps), self._exhausted(policy.name))
        return len(walk.steps)

    def _walk(self, policy: _Policy, severity: str, next_step: int, next_due_at: datetime, emergency: bool) -> _Walk:
        """The steps due from `next_step` on and where that leaves the escalation; the same for
        every escalation at the same place in the same plan, so worked out once for all of them."""
        key = (policy.row_id, severity, next_step, next_due_at, emergency)
        walk = self.walks.get(key)
        if walk is not None:
            return walk
        table = domain.resume(self._plan(policy, severity), next_step, next_due_at)
        assert table is not None  # advance() checked
        walk = _Walk([], next_step, None, escalations.EXHAUSTED)
        while walk.next_step < len(table.steps) and table.steps[walk.next_step].due_at <= self.now:
            step = table.steps[walk.next_step]
            reached = self.people.reach(step.targets, step.due_at, emergency)
            walk.steps.append(_Taken.of(step, reached, policy))
            if not reached.rows:
                # Everyone at this level is in quiet hours or unreachable: the next level
                # gets the page now instead of after this level's delay.
                table = domain.escalate_past(table, step, self.now)
            walk.next_step += 1
        if walk.next_step < len(table.steps):
            walk.next_due_at, walk.status = table.steps[walk.next_step].due_at, escalations.ACTIVE
        self.walks[key] = walk
        return walk

    def _plan(self, policy: _Policy, severity: str) -> domain.Plan:
        key = (policy.row_id, severity)
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = domain.plan(policy.rules, severity, _EPOCH)
        return plan

    def _emergency(self, row: _Due) -> bool:
        severity = row.incident_severity
        services = [key for key, emergency in self.services.get(row.incident_id, ()) if emergency]
        return notify.emergency(severity, severity in self.emergency_levels, services) is not None

    def _move(self, row: _Due, next_step: int, next_due_at: datetime | None, status: str) -> None:
        self.moves.setdefault((row.next_step, next_step, next_due_at, status), []).append(row.id)

    def _entry(self, incident_id: int, place: int, line: _Line, keys: list[str] | None = None) -> None:
        self.entries.setdefault((place, line), []).append((incident_id, keys or []))

    def _exhausted(self, policy_name: str) -> _Line:
        line = self.exhausted.get(policy_name)
        if line is None:
            line = self.exhausted[policy_name] = _Line(*escalations.exhausted_entry(policy_name))
        return line

    def _pages(self, row: _Due, taken: _Taken) -> list[str]:
        """The step's notification rows, and one acknowledge link per person paged; returns their keys."""
        services = ", ".join(key for key, _ in self.services.get(row.incident_id, ()))
        prefix = _step_key(row.incident_id, row.started_at, taken.step)
        keys: list[str] = []
        for user_id, why, deliveries in taken.recipients:
            # The link's secret has to travel in the page; only its hash is in `ack_links`.
            token = ack_links.new_token()
            # Serialized once per person, not once per contact method (nor by the driver, per row).
            payload = _json(_payload(row, services, taken.level, why, self.public_url, token))
            mine = []
            for method_id, channel, due_at in deliveries:
                key = f"{prefix}:{user_id}:{method_id}"
                mine.append(key)
                self.pages.append(
                    (
                        *(key, row.incident_id, row.id, user_id, method_id, "page", channel, taken.label),
                        *("pending", due_at, 0, "", payload, self.now),
                    )
                )
            self.links.append((mine, token, row.incident_id, user_id))
            keys += mine
        return keys

    def write(self) -> None:
        """Everything the batch worked out: one statement per table, or per distinct timeline line
        and per distinct move of escalations (thousands at one instant share a few)."""
        session, now = self.session, self.now
        time = bulk.driver_time(session.get_bind().dialect)
        inserted: set[str] = set()
        if self.pages:
            keys = [page[0] for page in self.pages]
            # The escalations are this batch's (module docstring): a page that exists already was
            # written by an earlier run of the same step, a replay. Asked before the INSERT, not with
            # RETURNING, which on PostgreSQL makes the INSERT a statement of thousands of parameters
            # instead of a pipelined executemany, three times slower.
            existing = batch_repo.existing_pages(session, keys)
            inserted = {key for key in keys if key not in existing}
            rows = [(*page[:9], time(page[9]), *page[10:13], time(page[13])) for page in self.pages]
            batch_repo.insert_pages(session, _PAGE_COLUMNS, rows)
        expires_at, created_at = time(now + ACK_LINK_TTL), time(now)
        links = [
            (ack_links.hash_token(token), incident_id, user_id, expires_at, created_at)
            for keys, token, incident_id, user_id in self.links
            if not inserted.isdisjoint(keys)  # a replayed page has its link already
        ]
        batch_repo.insert_ack_links(session, _LINK_COLUMNS, links)
        self._write_timeline(inserted)
        for (was, step, due_at, status), ids in self.moves.items():
            batch_repo.move(
                session, ids, active=escalations.ACTIVE, was=was, to=step, due_at=due_at, status=status, now=now
            )

    def _write_timeline(self, inserted: set[str]) -> None:
        """One INSERT … SELECT per distinct line, for all the incidents that say it."""
        touched: set[int] = set()
        # By place, so that each incident's entries are numbered in the order it took its steps.
        for (_, line), said in sorted(self.entries.items(), key=lambda item: item[0][0]):
            # A replay of a step whose pages exist was said on the timeline already.
            incidents = sorted({incident for incident, keys in said if not keys or not inserted.isdisjoint(keys)})
            if not incidents:
                continue
            touched.update(incidents)
            batch_repo.say_on_timelines(
                self.session,
                incidents,
                kind=EntryKind.NOTE.value,
                at=self.now,
                actor_id=ENGINE.user_id,
                actor_name=ENGINE.name,
                summary=line.summary,
                data=line.data,
            )
        if touched:
            batch_repo.mark_changed(self.session, touched, self.now)


class _People:
    """Everyone the batch's policies can page, and what it takes to reach them, loaded once;
    who is on call, and what one page to one person turns into, worked out once per instant."""

    def __init__(self, session: Session, rules: Iterable[domain.Policy]) -> None:
        targets = {target for policy in rules for level in policy.levels for target in level.targets}

        def keys(kind: domain.TargetKind) -> set[str]:
            return {target.key for target in targets if target.kind == kind}

        self.schedules = {
            row.key: schedules.to_domain(row) for row in batch_repo.schedules(session, keys(domain.TargetKind.SCHEDULE))
        }
        teams = batch_repo.teams(session, keys(domain.TargetKind.TEAM))
        emails = {key.lower() for key in keys(domain.TargetKind.USER)}
        for schedule in self.schedules.values():
            emails.update(person.lower() for layer in schedule.layers for person in layer.participants)
            emails.update(override.user.lower() for override in schedule.overrides)
        self.users = paging_repo.users_by_emails(session, emails)
        self.teams = {team.key: [member.user for member in team.members] for team in teams}
        everyone = {user.id: user for user in self.users.values()}
        everyone.update((user.id, user) for members in self.teams.values() for user in members)
        self.ways = _ways_to_reach(session, everyone.values())
        self._on_call: dict[tuple[str, datetime], schedule_rules.OnCall | None] = {}
        self._decisions: dict[tuple[int, datetime, bool], notify.Decision] = {}
        self._reached: dict[tuple[tuple[domain.Target, ...], datetime, bool], _Reached] = {}

    def reach(self, targets: tuple[domain.Target, ...], at: datetime, emergency: bool) -> _Reached:
        key = (targets, at, emergency)
        reached = self._reached.get(key)
        if reached is None:
            reached = self._reached[key] = self._reach(targets, at, emergency)
        return reached

    def _reach(self, targets: tuple[domain.Target, ...], at: datetime, emergency: bool) -> _Reached:
        reached = _Reached()
        seen: set[int] = set()
        for target in targets:
            for user, why in self._people(target, at, reached.notes):
                if user.id in seen:
                    continue  # named twice at one level (a schedule and a team): one page
                seen.add(user.id)
                reached.pages.append(self._page(user, why, at, emergency, reached))
        return reached

    def _people(self, target: domain.Target, at: datetime, notes: list[str]) -> list[tuple[models.User, str]]:
        if target.kind == domain.TargetKind.USER:
            user = self.users.get(target.key.lower())
            if user is None or not user.active:
                notes.append(f"user {target.key} is gone")
                return []
            return [(user, "")]
        if target.kind == domain.TargetKind.SCHEDULE:
            schedule = self.schedules.get(target.key)
            if schedule is None:
                notes.append(f"schedule {target.key} is gone")
                return []
            if (target.key, at) not in self._on_call:
                self._on_call[target.key, at] = schedule_rules.on_call_at(schedule, at)
            on_call = self._on_call[target.key, at]
            user = self.users.get(on_call.user.lower()) if on_call else None
            if user is None or not user.active:
                notes.append(f"nobody on call in {target.key}")
                return []
            return [(user, f"on call in {target.key}")]
        members = self.teams.get(target.key)
        if members is None:
            notes.append(f"team {target.key} is gone")
            return []
        active = [user for user in members if user.active]
        if not active:
            notes.append(f"team {target.key} has no members")
        return [(user, f"in team {target.key}") for user in active]

    def _page(self, user: models.User, why: str, at: datetime, emergency: bool, reached: _Reached) -> _Page:
        ways = self.ways[user.id]
        key = (user.id, at, emergency)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decisions[key] = notify.deliveries(
                ways.rules,
                ways.methods,
                at,
                # Incidents have no urgency of their own yet; a page from an escalation is meant to wake.
                notify.Urgency.HIGH,
                emergency=emergency,
                quiet=ways.quiet,
                tz=ways.zone,
            )
        page = _Page(user, why, through_quiet_hours=decision.quiet_hours_ignored)
        if decision.outcome == notify.Outcome.HELD_BY_QUIET_HOURS:
            page.held_until = decision.held_until
        elif decision.outcome == notify.Outcome.UNREACHABLE:
            page.unreachable = True
        for delivery in decision.deliveries:
            method = ways.by_name[delivery.method.key]
            reached.rows.append((user, method, delivery.due_at))
            if method.kind not in page.channels:
                page.channels.append(method.kind)
        return page


@dataclass
class _Ways:
    """How to reach one user: their notification rules and contact methods, quiet hours and zone."""

    zone: ZoneInfo
    rules: list[notify.NotificationRule] = field(default_factory=list)
    methods: list[notify.ContactMethod] = field(default_factory=list)
    by_name: dict[str, models.ContactMethod] = field(default_factory=dict)
    quiet: notify.QuietHours | None = None


# ---- what a step says -------------------------------------------------------------------------


def _payload(row: _Due, services: str, level: str, why: str, public_url: str, token: str) -> dict[str, object]:
    severity = row.incident_severity
    fields = [["Severity", severity], ["Status", row.incident_status], ["Escalation", level]]
    if services:
        fields.insert(1, ["Service", services])
    if why:
        fields.append(["Paged because", f"you are {why}"])
    return {
        "title": row.title,
        "text": f"{severity} incident {row.human_id}" + (f" on {services}" if services else ""),
        "severity": severity,
        "incident": row.human_id,
        "url": f"{public_url}/api/v1/incidents/{row.human_id}",
        "ack_url": f"{public_url}/ack/{token}",
        "fields": fields,
    }


def _summary(reached: _Reached, step: domain.Step, policy: _Policy) -> str:
    paged, held = [], []
    for page in reached.pages:
        who = _short(page.user) + (f" ({page.why})" if page.why else "")
        if page.channels:
            through = ", through quiet hours" if page.through_quiet_hours else ""
            paged.append(f"{who} via {', '.join(_label(c) for c in page.channels)}{through}")
        elif page.held_until is not None:
            held.append(f"{who} held by quiet hours until {page.held_until.astimezone(UTC):%H:%M} UTC")
        else:
            held.append(f"{who} has no usable contact method")
    parts = ["Paged " + " and ".join(paged) if paged else "Paged nobody"]
    parts += held + reached.notes
    where = f"level {step.level + 1} of {policy.levels} in {policy.name}"
    if step.round:
        where += f", round {step.round + 1}"
    return f"{'; '.join(parts)} ({where})"


def _data(reached: _Reached, step: domain.Step) -> dict[str, Any]:
    return {
        "event": "page",
        "round": step.round,
        "level": step.level,
        "due_at": step.due_at.isoformat(),
        "paged": [{"user": p.user.email, "channels": p.channels} for p in reached.pages if p.channels],
        "held": [
            {
                "user": p.user.email,
                "until": p.held_until.isoformat() if p.held_until else None,
                "unreachable": p.unreachable,
            }
            for p in reached.pages
            if not p.channels
        ],
        "notes": reached.notes,
    }


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _short(user: models.User) -> str:
    return user.email.partition("@")[0]


def _label(channel: str) -> str:
    return _CHANNEL_LABELS.get(channel, channel)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# ---- loading ----------------------------------------------------------------------------------


def _policies(session: Session, ids: set[int]) -> dict[int, _Policy]:
    return {
        row.id: _Policy(row.id, row.name, len(row.levels), policies.to_domain(row))
        for row in batch_repo.policies(session, ids)
    }


def _ways_to_reach(session: Session, users: Iterable[models.User]) -> dict[int, _Ways]:
    """User id → how to reach them, for all of `users` in three queries."""
    ways = {user.id: _Ways(_zone(user.time_zone)) for user in users}
    if not ways:
        return ways
    ids = list(ways)
    methods = {}
    for method in paging_repo.contact_methods_of_users(session, ids):
        methods[method.id] = method
        ways[method.user_id].methods.append(contacts.method_to_domain(method))
        ways[method.user_id].by_name[method.name] = method
    for rule in batch_repo.notification_rules(session, ids):
        # The rule's contact method is one of `methods`: named from there, not loaded again.
        contact = methods[rule.contact_method_id].name
        urgency = notify.RuleUrgency(rule.urgency)
        ways[rule.user_id].rules.append(notify.NotificationRule(contact, timedelta(seconds=rule.delay_s), urgency))
    for quiet in batch_repo.quiet_hours(session, ids):
        ways[quiet.user_id].quiet = contacts.quiet_to_domain(quiet)
    return ways
