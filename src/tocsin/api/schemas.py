"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tocsin.domain.communication import ReminderKind
from tocsin.services import communication
from tocsin.storage import models

T = TypeVar("T")


class Body(BaseModel):
    # Unknown fields are mistakes worth naming, not silently dropped.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it here, naming the field,
        # instead of failing in the database with a 500.
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise ValueError("must not contain NUL characters")
        return value


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


# ---- incidents -------------------------------------------------------------


class DeclareIncident(Body):
    title: str = Field(min_length=1, max_length=300)
    severity: str = Field(min_length=1, max_length=20)
    services: list[str] = Field(default_factory=list, max_length=50)
    impact: str = Field(default="", max_length=10_000)
    drill: bool = False
    commander: str | None = Field(default=None, description="E-mail of the incident commander")


class EditIncident(Body):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    impact: str | None = Field(default=None, max_length=10_000)
    services: list[str] | None = Field(default=None, max_length=50)


class ChangeStatus(Body):
    status: str
    note: str | None = Field(default=None, max_length=10_000)


class OptionalNote(Body):
    note: str | None = Field(default=None, max_length=10_000)


class ChangeSeverity(Body):
    severity: str = Field(min_length=1, max_length=20)
    reason: str | None = Field(default=None, max_length=10_000)


class Briefing(Body):
    status: str = Field(default="", max_length=5_000, description="Where things stand")
    actions_taken: str = Field(default="", max_length=5_000)
    hypothesis: str = Field(default="", max_length=5_000, description="What is suspected")


class AssignRole(Body):
    role: str = Field(min_length=1, max_length=50)
    user: str = Field(min_length=3, max_length=320, description="E-mail of the user taking the role")
    briefing: Briefing | None = Field(
        default=None, description="Handed over with a role someone holds; sent to the new holder (docs/runbooks.md)"
    )


class AddNote(Body):
    text: str = Field(min_length=1, max_length=50_000)


class PostUpdate(Body):
    # Either the text, or a message template to fill from the incident (`template`).
    text: str | None = Field(default=None, min_length=1, max_length=50_000)
    template: str | None = Field(default=None, max_length=50)
    public: bool = False


class RoleHolder(BaseModel):
    role: str
    user: str
    name: str
    assigned_at: datetime
    released_at: datetime | None


class TargetOut(BaseModel):
    kind: str
    due_at: datetime
    status: str


class CommunicationOut(BaseModel):
    """What the incident owes its audiences (docs/communication.md); past times are overdue."""

    next_update_due_at: datetime | None = None
    customer_notice_due_at: datetime | None = None
    # In monitoring: when the post-fix window ends and the incident may be resolved.
    resolvable_at: datetime | None = None

    @classmethod
    def of(cls, incident: models.Incident, reminders: list[models.CommunicationReminder]) -> CommunicationOut:
        return cls(
            next_update_due_at=communication.owed_at(reminders, ReminderKind.UPDATE),
            customer_notice_due_at=communication.owed_at(reminders, ReminderKind.CUSTOMER_NOTICE),
            resolvable_at=communication.resolvable_from(reminders) if incident.status == "monitoring" else None,
        )


class IncidentOut(BaseModel):
    id: int
    human_id: str
    title: str
    impact: str
    severity: str
    status: str
    drill: bool
    services: list[str]
    declared_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    canceled_at: datetime | None
    updated_at: datetime
    roles: dict[str, RoleHolder]
    role_history: list[RoleHolder]
    targets: list[TargetOut] = Field(default_factory=list)
    communication: CommunicationOut = Field(default_factory=CommunicationOut)

    @classmethod
    def of(
        cls,
        incident: models.Incident,
        targets: list[models.ResponseTarget] | None = None,
        reminders: list[models.CommunicationReminder] | None = None,
    ) -> IncidentOut:
        history = [
            RoleHolder(
                role=a.role_key,
                user=a.user.email,
                name=a.user.name,
                assigned_at=a.assigned_at,
                released_at=a.released_at,
            )
            for a in incident.roles
        ]
        return cls(
            id=incident.id,
            human_id=incident.human_id,
            title=incident.title,
            impact=incident.impact,
            severity=incident.severity,
            status=incident.status,
            drill=incident.drill,
            services=[s.key for s in incident.services],
            declared_at=incident.declared_at,
            acknowledged_at=incident.acknowledged_at,
            mitigated_at=incident.mitigated_at,
            resolved_at=incident.resolved_at,
            canceled_at=incident.canceled_at,
            updated_at=incident.updated_at,
            roles={h.role: h for h in history if h.released_at is None},
            role_history=history,
            targets=[TargetOut(kind=t.kind, due_at=t.due_at, status=t.status) for t in targets or []],
            communication=CommunicationOut.of(incident, reminders or []),
        )


class TimelineEntryOut(BaseModel):
    id: int
    kind: str
    at: datetime
    actor: str
    summary: str
    data: dict[str, Any]

    @classmethod
    def of(cls, entry: models.TimelineEntry) -> TimelineEntryOut:
        return cls(
            id=entry.id, kind=entry.kind, at=entry.at, actor=entry.actor_name, summary=entry.summary, data=entry.data
        )


# ---- directory -------------------------------------------------------------


class CreateUser(Body):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    role: str = "responder"
    time_zone: str = "UTC"


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    time_zone: str
    active: bool

    @classmethod
    def of(cls, user: models.User) -> UserOut:
        return cls(
            id=user.id, email=user.email, name=user.name, role=user.role, time_zone=user.time_zone, active=user.active
        )


class CreateTeam(Body):
    key: str = Field(min_length=1, max_length=100)
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    members: list[str] = Field(default_factory=list)


class TeamOut(BaseModel):
    id: int
    key: str
    name: str
    description: str
    members: list[str]

    @classmethod
    def of(cls, team: models.Team) -> TeamOut:
        return cls(
            id=team.id,
            key=team.key,
            name=team.name,
            description=team.description,
            members=[m.user.email for m in team.members],
        )


_EMERGENCY = "Pages for an incident on this service ignore quiet hours, whatever its severity"


class CreateService(Body):
    key: str = Field(min_length=1, max_length=100)
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    team: str | None = None
    emergency: bool = Field(default=False, description=_EMERGENCY)


class EditService(Body):
    """Fields left out stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    emergency: bool | None = Field(default=None, description=_EMERGENCY)


class ServiceOut(BaseModel):
    id: int
    key: str
    name: str
    description: str
    team: str | None
    emergency: bool = Field(description=_EMERGENCY)
    archived: bool

    @classmethod
    def of(cls, service: models.Service) -> ServiceOut:
        return cls(
            id=service.id,
            key=service.key,
            name=service.name,
            description=service.description,
            team=service.team.key if service.team else None,
            emergency=service.emergency,
            archived=service.archived_at is not None,
        )


class LevelOut(BaseModel):
    name: str
    rank: int
    description: str
    ack_within_s: int | None
    resolve_within_s: int | None
    update_every_s: int | None
    watch_after_fix_s: int | None
    customer_notice_within_s: int | None = Field(None, description="Customers told (a public update) within")
    postmortem_within_s: int | None = Field(None, description="Postmortem due this long after resolution")
    emergency: bool = Field(description="Pages for an incident at this level ignore quiet hours")


class SchemeOut(BaseModel):
    name: str
    active: bool
    levels: list[LevelOut]

    @classmethod
    def of(cls, scheme: models.SeverityScheme) -> SchemeOut:
        return cls(
            name=scheme.name,
            active=scheme.active,
            levels=[
                LevelOut(
                    name=lv.name,
                    rank=lv.rank,
                    description=lv.description,
                    ack_within_s=lv.ack_within_s,
                    resolve_within_s=lv.resolve_within_s,
                    update_every_s=lv.update_every_s,
                    watch_after_fix_s=lv.watch_after_fix_s,
                    customer_notice_within_s=lv.customer_notice_within_s,
                    postmortem_within_s=lv.postmortem_within_s,
                    emergency=lv.emergency,
                )
                for lv in scheme.levels
            ],
        )


class RoleOut(BaseModel):
    key: str
    name: str
    description: str


# ---- tokens ----------------------------------------------------------------


class CreateToken(Body):
    user: str = Field(description="E-mail of the token's owner")
    name: str = Field(min_length=1, max_length=200)
    scope: str = "write"
    expires_at: datetime | None = None


class TokenOut(BaseModel):
    id: int
    user: str
    name: str
    prefix: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked: bool

    @classmethod
    def of(cls, token: models.ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            user=token.user.email,
            name=token.name,
            prefix=token.prefix,
            scope=token.scope,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            expires_at=token.expires_at,
            revoked=token.revoked_at is not None,
        )


class IssuedTokenOut(TokenOut):
    token: str = Field(description="The secret; shown once, never again")


class MeOut(BaseModel):
    user: UserOut | None
    actor: str
    scope: str


# ---- paging: schedules, escalation policies, contact methods --------------------------------


class RestrictionIn(Body):
    days: list[str] = Field(min_length=1, max_length=7, description="Weekdays: mon, tue, wed, thu, fri, sat, sun")
    start: str = Field(description="HH:MM, the layer's wall clock")
    end: str = Field(description="HH:MM after start; 24:00 is the end of the day")


class LayerIn(Body):
    name: str = Field(min_length=1, max_length=200)
    participants: list[str] = Field(max_length=200, description="User e-mails, in turn order")
    start: datetime = Field(
        description="First hand-off. Without an offset: a wall-clock time in the layer's time zone (recommended)"
    )
    kind: str = Field(default="weekly", description="daily, weekly or hourly")
    every: int = Field(default=1, description="Shift length in days, weeks or hours, by kind")
    time_zone: str | None = Field(default=None, max_length=64, description="The schedule's when left out")
    restrictions: list[RestrictionIn] = Field(default_factory=list, max_length=50)
    end: datetime | None = None


class ScheduleChange(Body):
    name: str = Field(default="", max_length=200)
    time_zone: str = Field(default="UTC", max_length=64)
    layers: list[LayerIn] = Field(default_factory=list, max_length=20, description="Bottom to top: a later layer wins")


class CreateSchedule(ScheduleChange):
    key: str = Field(min_length=1, max_length=100)


class RestrictionOut(BaseModel):
    days: list[str]
    start: str
    end: str


class LayerOut(BaseModel):
    name: str
    kind: str
    every: int
    start: str = Field(description="Wall-clock time of the first hand-off, in time_zone")
    time_zone: str
    participants: list[str]
    restrictions: list[RestrictionOut]
    end: datetime | None


class OverrideOut(BaseModel):
    id: int
    user: str
    start: datetime
    end: datetime
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, override: models.ScheduleOverride) -> OverrideOut:
        return cls(
            id=override.id,
            user=override.user.email,
            start=override.starts_at,
            end=override.ends_at,
            created_at=override.created_at,
            created_by=override.created_by,
        )


class ScheduleOut(BaseModel):
    key: str
    name: str
    time_zone: str
    managed: bool
    layers: list[LayerOut]
    overrides: list[OverrideOut]

    @classmethod
    def of(cls, schedule: models.Schedule, *, since: datetime | None = None) -> ScheduleOut:
        """`since`: leave out overrides that ended before it (old ones only clutter the answer)."""
        return cls(
            key=schedule.key,
            name=schedule.name,
            time_zone=schedule.time_zone,
            managed=schedule.managed,
            layers=[
                LayerOut(
                    name=layer.name,
                    kind=layer.kind,
                    every=layer.every,
                    start=layer.start,
                    time_zone=layer.time_zone,
                    participants=list(layer.participants),
                    restrictions=[RestrictionOut(**r) for r in layer.restrictions],
                    end=layer.end_at,
                )
                for layer in schedule.layers
            ],
            overrides=[OverrideOut.of(o) for o in schedule.overrides if since is None or o.ends_at > since],
        )


class CreateOverride(Body):
    user: str = Field(min_length=3, max_length=320, description="E-mail of the user covering")
    start: datetime
    end: datetime


class OnCallOut(BaseModel):
    schedule: str
    schedule_name: str
    at: datetime
    user: str | None = Field(description="E-mail of whoever is on call; null is a gap")
    name: str | None
    source: str | None = Field(description="layer or override")
    layer: str | None
    until: datetime | None = Field(description="When this stretch ends; null when not within 90 days, or a gap")


class ShiftOut(BaseModel):
    start: datetime
    end: datetime
    user: str
    source: str
    layer: str | None


class GapOut(BaseModel):
    start: datetime
    end: datetime
    description: str


class FinalScheduleOut(BaseModel):
    schedule: str
    start: datetime
    end: datetime
    shifts: list[ShiftOut]
    gaps: list[GapOut]


class EscalationTargetIn(Body):
    kind: str = Field(description="user (an e-mail), schedule or team")
    key: str = Field(min_length=1, max_length=320)


class EscalationLevelIn(Body):
    delay_s: int = Field(le=7 * 86_400, description="Seconds from paging this level to paging the next")
    targets: list[EscalationTargetIn] = Field(max_length=20)


class VariantIn(Body):
    kind: str = Field(description="all_at_once, step_delay or record_only")
    step_delay_s: int | None = Field(default=None, le=7 * 86_400)


class PolicyChange(Body):
    name: str = Field(default="", max_length=200)
    repeat: int = Field(default=0, le=100, description="Extra rounds after the last level")
    levels: list[EscalationLevelIn] = Field(max_length=20)
    variants: dict[str, VariantIn] = Field(default_factory=dict, description="Per severity level, e.g. P0")


class CreatePolicy(PolicyChange):
    key: str = Field(min_length=1, max_length=100)


class EscalationTargetOut(BaseModel):
    kind: str
    key: str


class EscalationLevelOut(BaseModel):
    delay_s: int
    targets: list[EscalationTargetOut]


class VariantOut(BaseModel):
    kind: str
    step_delay_s: int | None


class PolicyOut(BaseModel):
    key: str
    name: str
    repeat: int
    managed: bool
    levels: list[EscalationLevelOut]
    variants: dict[str, VariantOut]

    @classmethod
    def of(cls, policy: models.EscalationPolicy) -> PolicyOut:
        return cls(
            key=policy.key,
            name=policy.name,
            repeat=policy.repeat,
            managed=policy.managed,
            levels=[
                EscalationLevelOut(delay_s=level.delay_s, targets=[EscalationTargetOut(**t) for t in level.targets])
                for level in policy.levels
            ],
            variants={severity: VariantOut(**v) for severity, v in policy.variants.items()},
        )


class ServicePolicyIn(Body):
    policy: str | None = Field(description="Key of the escalation policy; null pages nobody")


class ServicePolicyOut(BaseModel):
    service: str
    escalation_policy: str | None


class CreateContactMethod(Body):
    name: str = Field(min_length=1, max_length=100, description="What notification rules refer to, e.g. phone")
    kind: str = Field(description="discord, slack, email, sms, voice, webhook or apprise")
    address: str = Field(min_length=1, max_length=2_000)
    mention: str | None = Field(default=None, max_length=100, description="Discord or Slack user id to @-mention")
    high_urgency: bool = Field(default=False, description="Can wake someone: a call, an SMS, a push with sound")
    verified: bool = False
    signing_secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=256,
        description="Webhook methods: the key of each message's X-Tocsin-Signature (HMAC-SHA256); never shown again",
    )


class SigningSecretIn(Body):
    signing_secret: str | None = Field(
        min_length=16, max_length=256, description="The new key of the X-Tocsin-Signature; null stops signing"
    )


class ContactMethodOut(BaseModel):
    id: int
    name: str
    kind: str
    address: str
    address_masked: bool
    mention: str | None
    verified: bool
    high_urgency: bool
    signed: bool = Field(description="Whether messages carry an X-Tocsin-Signature; the secret is never shown")
    created_at: datetime


class VerificationOut(BaseModel):
    contact_method: str
    notification: int = Field(description="The notification carrying the code: GET /api/v1/notifications?ids=…")
    status: str = Field(description="The notification's status: pending until the engine sends it")
    expires_at: datetime


class VerificationCodeIn(Body):
    code: str = Field(min_length=6, max_length=12, description="The 6-digit code the contact method received")


class CreateNotificationRule(Body):
    contact_method: str = Field(min_length=1, max_length=100)
    delay_s: int = Field(default=0, le=86_400, description="Seconds after the page starts")
    urgency: str = Field(default="both", description="high, low or both")


class NotificationRuleOut(BaseModel):
    id: int
    contact_method: str
    delay_s: int
    urgency: str

    @classmethod
    def of(cls, rule: models.NotificationRule) -> NotificationRuleOut:
        return cls(id=rule.id, contact_method=rule.contact_method.name, delay_s=rule.delay_s, urgency=rule.urgency)


class QuietHoursIn(Body):
    start: str = Field(description="HH:MM on the user's wall clock")
    end: str = Field(description="HH:MM; before start crosses midnight")
    weekdays: list[str] | None = Field(default=None, description="Days the window opens on; null is every day")


class QuietHoursOut(BaseModel):
    user: str
    time_zone: str
    start: str
    end: str
    weekdays: list[str] | None


class ReadinessOut(BaseModel):
    user: str
    name: str
    on_call_from: datetime
    message: str
    schedules: list[str]
