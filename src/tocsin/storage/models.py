"""Tables. Business rules live in `tocsin.domain`; these are only the shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tocsin.storage.types import UTCDateTime

# Named constraints so Alembic migrations read the same on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Web UI role: viewer / responder / admin.
    role: Mapped[str] = mapped_column(String(20), default="responder")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Created or last claimed by `tocsin apply`; only managed objects are deleted by it.
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="TeamMember.id"
    )


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20), default="member")  # member / manager

    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    # An emergency service's pages go through anyone's quiet hours (a record-only severity still pages nobody).
    emergency: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # SET NULL only as the database's last word: deleting a policy a service uses is refused first.
    escalation_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL"), index=True
    )

    team: Mapped[Team | None] = relationship()
    escalation_policy: Mapped[EscalationPolicy | None] = relationship()


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class SeverityScheme(Base):
    __tablename__ = "severity_schemes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)

    levels: Mapped[list[SeverityLevel]] = relationship(
        back_populates="scheme", cascade="all, delete-orphan", order_by="SeverityLevel.rank"
    )


class SeverityLevel(Base):
    __tablename__ = "severity_levels"
    __table_args__ = (UniqueConstraint("scheme_id", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("severity_schemes.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(20))
    rank: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    # Seconds; NULL means "no target".
    ack_within_s: Mapped[int | None] = mapped_column(Integer)
    resolve_within_s: Mapped[int | None] = mapped_column(Integer)
    update_every_s: Mapped[int | None] = mapped_column(Integer)
    watch_after_fix_s: Mapped[int | None] = mapped_column(Integer)
    customer_notice_within_s: Mapped[int | None] = mapped_column(Integer)
    postmortem_within_s: Mapped[int | None] = mapped_column(Integer)
    # Pages for an emergency severity ignore quiet hours.
    emergency: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    scheme: Mapped[SeverityScheme] = relationship(back_populates="levels")


class RoleDefinition(Base):
    __tablename__ = "role_definitions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)


class IncidentSequence(Base):
    """The last number handed out for a day; bumped atomically with an upsert."""

    __tablename__ = "incident_sequences"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status_declared", "status", "declared_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    human_id: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    impact: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    services: Mapped[list[Service]] = relationship(secondary="incident_services", order_by="Service.key")
    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", order_by="RoleAssignment.id"
    )


class IncidentService(Base):
    __tablename__ = "incident_services"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)


class RoleAssignment(Base):
    """Who held a role and when; the current holder has no `released_at`."""

    __tablename__ = "role_assignments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    role_key: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    incident: Mapped[Incident] = relationship(back_populates="roles")
    user: Mapped[User] = relationship()


class TimelineEntry(Base):
    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_incident_at", "incident_id", "at", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # No foreign key, on purpose (migration 0008 says why): a storm writes an entry per
    # attached alert, all naming one incident. Incidents are never deleted.
    incident_id: Mapped[int] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Kept even when the user is gone, and for non-user actors ("engine").
    actor_name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ResponseTarget(Base):
    """A response-target clock: a row the engine claims when it falls due."""

    __tablename__ = "response_targets"
    __table_args__ = (
        UniqueConstraint("incident_id", "kind"),
        Index("ix_response_targets_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending → met | missed | canceled
    status: Mapped[str] = mapped_column(String(10), default="pending")
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EngineLease(Base):
    """Which process runs an engine module until when."""

    __tablename__ = "engine_leases"

    module: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EngineCursor(Base):
    """How far an engine module has read an append-only table (e.g. the timeline, for channel posts)."""

    __tablename__ = "engine_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Who changed what outside an incident (incident changes go to the timeline)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    object_type: Mapped[str] = mapped_column(String(50))
    object_key: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Integration(Base):
    """Where a sender points: a service, a format, and a secret key in the URL or auth header."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # native / pagerduty / alertmanager / opsgenie / grafana / generic
    name: Mapped[str] = mapped_column(String(200))
    # The key is shown once; we keep its SHA-256 (lookup) and a prefix (to recognise it).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    # A shared secret the sender signs with (Grafana HMAC): must be kept to verify.
    signing_secret: Mapped[str | None] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    service: Mapped[Service] = relationship()


class Alert(Base):
    """A deduplicated signal. At most one firing alert per (integration, dedup key):
    a repeat is a count and a last-seen time, never a second row."""

    __tablename__ = "alerts"
    __table_args__ = (
        # The dedup key first (migration 0008): the lookup of a batch's keys must seek
        # on them even while the planner still thinks the table is empty.
        Index(
            "uq_alerts_firing_dedup",
            "dedup_key",
            "integration_id",
            unique=True,
            sqlite_where=text("status = 'firing'"),
            postgresql_where=text("status = 'firing'"),
        ),
        Index("ix_alerts_service_status", "service_id", "status", "last_seen"),
        Index("ix_alerts_incident", "incident_id", "last_seen"),
        Index("ix_alerts_last_seen", "last_seen"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # No foreign keys on the three ids, on purpose (migration 0008 says why): every alert
    # of a storm names the same integration, service and incident, and none of those is
    # ever deleted (services are archived, integrations disabled, incidents kept).
    integration_id: Mapped[int] = mapped_column(Id)
    service_id: Mapped[int] = mapped_column(Id)
    dedup_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str | None] = mapped_column(String(20))  # the Tocsin level
    sender_severity: Mapped[str] = mapped_column(String(50), default="")
    urgency: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255), default="")
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    links: Mapped[list[Any]] = mapped_column(JSON, default=list)
    raw: Mapped[str] = mapped_column(Text, default="")
    group_key: Mapped[str] = mapped_column(String(500), default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(Id)
    # Recorded but not paged: the maintenance window that held it, or why.
    suppressed_by: Mapped[str | None] = mapped_column(String(200))

    integration: Mapped[Integration] = relationship(primaryjoin="foreign(Alert.integration_id) == Integration.id")
    service: Mapped[Service] = relationship(primaryjoin="foreign(Alert.service_id) == Service.id")


class RoutingRule(Base):
    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    matchers: Mapped[list[str]] = mapped_column(JSON, default=list)
    severity: Mapped[str | None] = mapped_column(String(20))
    route_to_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    drop: Mapped[bool] = mapped_column(Boolean, default=False)
    urgency: Mapped[str | None] = mapped_column(String(10))
    continue_: Mapped[bool] = mapped_column("continue", Boolean, default=False)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)

    route_to: Mapped[Service | None] = relationship(foreign_keys=[route_to_id])


class MaintenanceWindow(Base):
    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    matchers: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    managed: Mapped[bool] = mapped_column(Boolean, default=False)

    service: Mapped[Service | None] = relationship()


class Change(Base):
    """A deploy or config change (PagerDuty change events now; GitHub and CD systems later)."""

    __tablename__ = "changes"
    # Newest first, of one service or of all (the changes page and the dashboard).
    __table_args__ = (
        Index("ix_changes_service_at", "service_id", "occurred_at"),
        Index("ix_changes_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    integration_id: Mapped[int | None] = mapped_column(ForeignKey("integrations.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(255), default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    links: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # What a CD system says of a deploy (migration 0011); empty for a PagerDuty change event.
    version: Mapped[str] = mapped_column(String(200), default="", server_default="")
    environment: Mapped[str] = mapped_column(String(100), default="", server_default="")
    status: Mapped[str] = mapped_column(String(20), default="", server_default="")  # started / success / failure
    duration_s: Mapped[int | None] = mapped_column(Integer)
    commit_sha: Mapped[str] = mapped_column(String(64), default="", server_default="")
    author: Mapped[str] = mapped_column(String(200), default="", server_default="")


# ---- paging: schedules, escalation policies, contact methods ---------------------------------


class ContactMethod(Base):
    """One way to reach one user; `address` can be a secret (a webhook URL), so the API masks it."""

    __tablename__ = "contact_methods"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))  # what notification rules refer to
    kind: Mapped[str] = mapped_column(String(20))  # discord / slack / email / sms / voice / webhook / apprise
    address: Mapped[str] = mapped_column(Text)
    mention: Mapped[str | None] = mapped_column(String(100))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    high_urgency: Mapped[bool] = mapped_column(Boolean, default=False)
    # For kind "webhook": the key of the X-Tocsin-Signature HMAC. Kept, not hashed (it signs), never shown.
    signing_secret: Mapped[str | None] = mapped_column(Text)
    # A verification code sent through this method (`tocsin contact verify`): only its SHA-256 is
    # kept, valid until `verify_expires_at` and for a few wrong tries (`verify_attempts`).
    verify_code_hash: Mapped[str | None] = mapped_column(String(64))
    verify_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verify_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    rules: Mapped[list[NotificationRule]] = relationship(
        back_populates="contact_method", cascade="all, delete-orphan", order_by="NotificationRule.id"
    )


class NotificationRule(Base):
    __tablename__ = "notification_rules"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    contact_method_id: Mapped[int] = mapped_column(ForeignKey("contact_methods.id", ondelete="CASCADE"), index=True)
    delay_s: Mapped[int] = mapped_column(Integer, default=0)
    urgency: Mapped[str] = mapped_column(String(10), default="both")  # high / low / both

    contact_method: Mapped[ContactMethod] = relationship(back_populates="rules")


class QuietHours(Base):
    """At most one window per user, on the user's own wall clock (`users.time_zone`)."""

    __tablename__ = "quiet_hours"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    start: Mapped[str] = mapped_column(String(5))  # "HH:MM"
    end: Mapped[str] = mapped_column(String(5))
    weekdays: Mapped[list[str] | None] = mapped_column(JSON)  # ["mon", …] the window opens on; NULL: every day


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str] = mapped_column(String(64))
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    layers: Mapped[list[ScheduleLayer]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan", order_by="ScheduleLayer.position"
    )
    # Creation order is precedence: where overrides overlap, the later one wins.
    overrides: Mapped[list[ScheduleOverride]] = relationship(
        back_populates="schedule",
        cascade="all, delete-orphan",
        order_by="(ScheduleOverride.created_at, ScheduleOverride.id)",
    )


class ScheduleLayer(Base):
    """A rotation; `start` is a naive wall-clock ISO time read in `time_zone` (see docs/schedules.md)."""

    __tablename__ = "schedule_layers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # bottom to top: a higher layer wins
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # daily / weekly / hourly
    every: Mapped[int] = mapped_column(Integer, default=1)
    start: Mapped[str] = mapped_column(String(32))
    time_zone: Mapped[str] = mapped_column(String(64))
    participants: Mapped[list[str]] = mapped_column(JSON, default=list)  # user e-mails, in turn order
    restrictions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{days, start, end}]
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    schedule: Mapped[Schedule] = relationship(back_populates="layers")


class ScheduleOverride(Base):
    __tablename__ = "schedule_overrides"
    __table_args__ = (Index("ix_schedule_overrides_schedule_ends", "schedule_id", "ends_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))

    schedule: Mapped[Schedule] = relationship(back_populates="overrides")
    user: Mapped[User] = relationship()


class EscalationPolicy(Base):
    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    # {severity level: {"kind": all_at_once | step_delay | record_only, "step_delay_s": int | null}}
    variants: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    levels: Mapped[list[EscalationLevel]] = relationship(
        back_populates="policy", cascade="all, delete-orphan", order_by="EscalationLevel.position"
    )


class EscalationLevel(Base):
    __tablename__ = "escalation_levels"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("escalation_policies.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    delay_s: Mapped[int] = mapped_column(Integer)  # from paging this level to paging the next
    targets: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # [{kind: user|schedule|team, key}]

    policy: Mapped[EscalationPolicy] = relationship(back_populates="levels")


class Escalation(Base):
    """An incident's escalation in progress: a row with a due time, so a restart
    continues where it was and N processes claim each step once (DESIGN.md, Engine).

    The steps themselves are not stored: they come from `domain.escalation.plan`
    for the policy, severity and `started_at`; `next_step` is the index of the
    first step not yet paged."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_status_due", "status", "next_due_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("escalation_policies.id", ondelete="SET NULL"))
    severity: Mapped[str] = mapped_column(String(20))
    # active → acknowledged | resolved | exhausted (every step paged, nobody answered) | recorded (record only)
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")  # why nothing pages (no policy, record only …)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Channel(Base):
    """A team destination such as #alerts or #deploys; `address` can be a secret (a webhook URL)."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # discord / slack / email / webhook / apprise
    address: Mapped[str] = mapped_column(Text)
    mention: Mapped[str | None] = mapped_column(String(100))  # e.g. a role to ping on high severities
    signing_secret: Mapped[str | None] = mapped_column(Text)  # webhook channels: the HMAC key
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    routes: Mapped[list[ChannelRoute]] = relationship(
        back_populates="channel", cascade="all, delete-orphan", order_by="ChannelRoute.position"
    )


class ChannelRoute(Base):
    """Which events go to a channel: event types for one service (or every service when
    `service_id` is NULL), optionally only at or above a severity."""

    __tablename__ = "channel_routes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. ["incident.*", "deploy.failed"]
    min_severity: Mapped[str | None] = mapped_column(String(20))  # a severity name; NULL = every severity
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    channel: Mapped[Channel] = relationship(back_populates="routes")


class Notification(Base):
    """One message owed to one contact method: pending → sending (until `deadline`)
    → sent | failed, or canceled (an acknowledgement stops every page not yet sent).

    `idempotency_key` is unique, so two processes that plan the same page insert
    one row; a sender claims a row by moving it to `sending` with a deadline, and
    a crashed sender's claim expires."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id", ondelete="SET NULL"))
    # No foreign keys on these two, on purpose (migration 0009 says why): users are never
    # deleted, and removing a contact method sets this to NULL itself (services.contacts).
    user_id: Mapped[int | None] = mapped_column(Id)
    contact_method_id: Mapped[int | None] = mapped_column(Id)
    # A post to a team channel (#alerts, #deploys …) instead of a person's contact method.
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))  # page / test / handoff / update / resolved …
    channel: Mapped[str] = mapped_column(String(20))  # the contact method's kind when the row was made
    step: Mapped[str] = mapped_column(String(50), default="")  # e.g. "round 1, level 2"
    status: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the page said (title, text, fields, links) at the time it was planned.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AckLink(Base):
    """A signed acknowledge link sent in a page: works without logging in, once, until it expires.
    Only the SHA-256 of the token is stored, like API tokens."""

    __tablename__ = "ack_links"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(Id)  # no foreign key: migration 0009
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarFeed(Base):
    """A secret iCal URL for one schedule's shifts or one user's shifts in every schedule.

    Calendar apps cannot send a token header, so the URL is the credential: only its
    SHA-256 is stored, like API tokens. Revoked feeds are kept for the audit trail."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'schedule' AND schedule_id IS NOT NULL AND user_id IS NULL)"
            " OR (kind = 'user' AND user_id IS NOT NULL AND schedule_id IS NULL)",
            name="target",
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # schedule / user
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    schedule: Mapped[Schedule | None] = relationship()
    user: Mapped[User | None] = relationship()


class Heartbeat(Base):
    """A passive check: a cron job or worker pings its URL (`/ping/<uuid>`) and is down when
    the pings stop. `next_due_at` is when it goes down unless a ping comes first: the
    engine's due work, NULL when nothing is owed (new, down, paused)."""

    __tablename__ = "heartbeats"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)  # the key in the ping URL
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # Expected every `period_s` seconds, or at each time of `cron` in `time_zone`; plus `grace_s`.
    period_s: Mapped[int | None] = mapped_column(Integer)
    cron: Mapped[str | None] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    grace_s: Mapped[int] = mapped_column(Integer)
    min_run_s: Mapped[int | None] = mapped_column(Integer)
    max_run_s: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="new")  # new / up / down / paused
    alerting: Mapped[bool] = mapped_column(Boolean, default=False)  # its alert is firing
    last_ping_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last success or failure
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a run in progress
    start_rid: Mapped[str | None] = mapped_column(String(36))
    last_duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    n_pings: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Created or last claimed by `tocsin apply`; only managed heartbeats are deleted by it.
    managed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    service: Mapped[Service] = relationship()


class HeartbeatPing(Base):
    """One ping as it arrived; the last 100 or so of each heartbeat are kept."""

    __tablename__ = "heartbeat_pings"
    __table_args__ = (UniqueConstraint("heartbeat_id", "n"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    heartbeat_id: Mapped[int] = mapped_column(ForeignKey("heartbeats.id", ondelete="CASCADE"))
    n: Mapped[int] = mapped_column(BigInteger)  # the heartbeat's ping number, from 1
    kind: Mapped[str] = mapped_column(String(10))  # success / start / fail / log
    exit_status: Mapped[int | None] = mapped_column(Integer)
    rid: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(10))
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)  # start → this finish, when paired


# ---- Health checks: checks, their raw results and hourly rollups ----------------------


class Check(Base):
    """An active probe (HTTP, TCP, DNS, TLS expiry). `next_run_at` is its next slot, the
    scheduler's due work; a scheduler claims a slot by setting `claimed_until` (a lease:
    a crashed process's slot is taken by another once it passes) and moves `next_run_at`
    on when it records the result."""

    __tablename__ = "checks"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(10))  # http / tcp / dns / tls
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    interval_s: Mapped[int] = mapped_column(Integer)
    timeout_s: Mapped[int] = mapped_column(Integer)
    failures_before_down: Mapped[int] = mapped_column(Integer)
    successes_before_up: Mapped[int] = mapped_column(Integer)
    reminder_every_s: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="new")  # new / up / down / paused
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row
    successes: Mapped[int] = mapped_column(Integer, default=0)  # in a row
    alerting: Mapped[bool] = mapped_column(Boolean, default=False)  # its alert is firing
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)  # NULL when paused
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    last_result_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_up: Mapped[bool | None] = mapped_column(Boolean)
    last_reason: Mapped[str] = mapped_column(String(500), default="")
    last_response_ms: Mapped[int | None] = mapped_column(Integer)
    # Created or last claimed by `tocsin apply`; only managed checks are deleted by it.
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    service: Mapped[Service] = relationship()


class CheckResult(Base):
    """One run: kept for the retention period (TOCSIN_CHECK_RETENTION, 7 days by default)."""

    __tablename__ = "check_results"
    __table_args__ = (Index("ix_check_results_check_id_at", "check_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # when the probe started
    slot: Mapped[datetime] = mapped_column(UTCDateTime)  # when it was due
    up: Mapped[bool] = mapped_column(Boolean)
    held: Mapped[bool] = mapped_column(Boolean, default=False)  # failed while Tocsin was offline
    response_ms: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500), default="")


class CheckRollup(Base):
    """One check's hour: counts and a response-time histogram (domain.checks.BUCKETS), added
    to as results are written; kept 90 days for uptime and percentiles."""

    __tablename__ = "check_rollups"
    __table_args__ = (UniqueConstraint("check_id", "hour"), Index("ix_check_rollups_hour", "hour"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)  # held results not counted
    up: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    max_ms: Mapped[int] = mapped_column(Integer, default=0)
    histogram: Mapped[list[int]] = mapped_column(JSON, default=list)


# ---- GitHub: deliveries, CI runs and development events ---------------------------------


class GithubDelivery(Base):
    """A webhook delivery seen (`X-GitHub-Delivery`): a redelivery of it changes nothing.
    Kept a week; GitHub redelivers from the last three days only."""

    __tablename__ = "github_deliveries"
    __table_args__ = (
        UniqueConstraint("integration_id", "delivery_id"),
        Index("ix_github_deliveries_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(100))
    event: Mapped[str] = mapped_column(String(50))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CiWorkflow(Base):
    """One workflow on one branch of one repository, as an integration hears of it. Its row is
    locked while a run is counted, so two processes never both miss the failure that tips it."""

    __tablename__ = "ci_workflows"
    __table_args__ = (UniqueConstraint("integration_id", "repository", "workflow", "branch"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    repository: Mapped[str] = mapped_column(String(200))
    workflow: Mapped[str] = mapped_column(String(200))
    branch: Mapped[str] = mapped_column(String(255))
    alerting: Mapped[bool] = mapped_column(Boolean, default=False)  # its alert is firing
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CiRun(Base):
    """A finished run of a workflow (a success or a failure); the newest few per workflow are kept."""

    __tablename__ = "ci_runs"
    __table_args__ = (UniqueConstraint("workflow_id", "run_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("ci_workflows.id", ondelete="CASCADE"))
    run_key: Mapped[str] = mapped_column(String(100))  # run:<id>:<attempt>, or suite:<id>
    conclusion: Mapped[str] = mapped_column(String(30))
    failed: Mapped[bool] = mapped_column(Boolean)
    url: Mapped[str] = mapped_column(String(2000), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when Tocsin heard of it


class DevEvent(Base):
    """A development event (a pull request, a push, a CI result) for the channels that want to
    hear of it; never an alert. Kept a month: channel posts read them past a cursor."""

    __tablename__ = "dev_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    integration_id: Mapped[int | None] = mapped_column(ForeignKey("integrations.id", ondelete="SET NULL"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id", ondelete="SET NULL"))
    type: Mapped[str] = mapped_column(String(60))  # ci.failure, dev.pull_request_opened …
    summary: Mapped[str] = mapped_column(Text)
    repository: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str] = mapped_column(String(2000), default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# ---- Crash reports: Sentry projects' crash groups, their events and sessions ------------------


class CrashGroup(Base):
    """Crashes of one project (an integration of kind `sentry`) with one fingerprint
    (domain.crashes). Its alert is `crash:<id>` on that integration."""

    __tablename__ = "crash_groups"
    __table_args__ = (
        UniqueConstraint("integration_id", "fingerprint"),
        Index("ix_crash_groups_service_id_last_seen", "service_id", "last_seen"),
        Index("ix_crash_groups_last_seen", "last_seen"),  # the crashes page: newest seen first
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of its parts
    title: Mapped[str] = mapped_column(String(300))
    culprit: Mapped[str] = mapped_column(String(300), default="")
    type: Mapped[str] = mapped_column(String(200), default="")  # the exception type, "" for a message
    level: Mapped[str] = mapped_column(String(10))  # the most severe seen: fatal / error / warning / info / debug
    status: Mapped[str] = mapped_column(String(10), default="open")  # open / resolved / ignored
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    first_release: Mapped[str] = mapped_column(String(200), default="")
    last_release: Mapped[str] = mapped_column(String(200), default="")
    releases: Mapped[list[str]] = mapped_column(JSON, default=list)  # the first 50 seen
    platforms: Mapped[list[str]] = mapped_column(JSON, default=list)
    environments: Mapped[list[str]] = mapped_column(JSON, default=list)
    # crash_events ids that keep their payload (the first and the newest few), oldest first.
    samples: Mapped[list[int]] = mapped_column(JSON, default=list)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_in_release: Mapped[str | None] = mapped_column(String(200))
    regressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    spike_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last spike raised
    alerting: Mapped[bool] = mapped_column(Boolean, default=False)  # its alert was triggered and not resolved
    first_event_id: Mapped[int | None] = mapped_column(BigInteger)  # crash_events.id, kept with its payload


class CrashEvent(Base):
    """One crash as received, for idempotency (an SDK's event id is stored once), counts per
    release and the spike window. Only the first and the newest few keep their `payload`
    (the stack trace and context); rows older than the retention are pruned."""

    __tablename__ = "crash_events"
    __table_args__ = (
        UniqueConstraint("integration_id", "event_id"),
        Index("ix_crash_events_group_id_received_at", "group_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("crash_groups.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(10))
    release: Mapped[str] = mapped_column(String(200), default="")
    environment: Mapped[str] = mapped_column(String(100), default="")
    platform: Mapped[str] = mapped_column(String(50), default="")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CrashSession(Base):
    """Release health: one project's sessions of a release and environment in one hour."""

    __tablename__ = "crash_sessions"
    __table_args__ = (UniqueConstraint("integration_id", "release", "environment", "hour"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    release: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str] = mapped_column(String(100), default="")
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    errored: Mapped[int] = mapped_column(BigInteger, default=0)
    crashed: Mapped[int] = mapped_column(BigInteger, default=0)
    abnormal: Mapped[int] = mapped_column(BigInteger, default=0)


class CrashSkippedItem(Base):
    """Envelope items a project sent that Tocsin does not read (transactions, attachments …), by type."""

    __tablename__ = "crash_skipped_items"
    __table_args__ = (UniqueConstraint("integration_id", "type"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A browser's login: the cookie holds the secret, the row only its SHA-256 hash
    (as API tokens), so a copy of the database cannot be used to log in."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The synchronizer token every form and HTMX request of this session sends back.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    user: Mapped[User] = relationship()


# ---- Public status page: components, maintenance, subscribers ----------------------------


class StatusPageSettings(Base):
    """The page itself (one row, id 1): its title and address, and `generation`, bumped by
    every change to the page's own tables so caches in other processes see it (services.status_page)."""

    __tablename__ = "status_page_settings"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusPageGroup(Base):
    __tablename__ = "status_page_groups"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusPageComponent(Base):
    """Something customers see as working or not. Its status is derived (domain.status_page)
    from the open incidents on its services, its checks and maintenance, unless `status_override` is set."""

    __tablename__ = "status_page_components"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    group_id: Mapped[int | None] = mapped_column(ForeignKey("status_page_groups.id", ondelete="SET NULL"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    status_override: Mapped[str | None] = mapped_column(String(30))
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    group: Mapped[StatusPageGroup | None] = relationship()
    services: Mapped[list[Service]] = relationship(secondary="status_page_component_services", order_by="Service.key")
    checks: Mapped[list[Check]] = relationship(secondary="status_page_component_checks", order_by="Check.name")


class StatusPageComponentService(Base):
    __tablename__ = "status_page_component_services"

    component_id: Mapped[int] = mapped_column(
        ForeignKey("status_page_components.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)


class StatusPageComponentCheck(Base):
    __tablename__ = "status_page_component_checks"

    component_id: Mapped[int] = mapped_column(
        ForeignKey("status_page_components.id", ondelete="CASCADE"), primary_key=True
    )
    check_id: Mapped[int] = mapped_column(ForeignKey("checks.id", ondelete="CASCADE"), primary_key=True)


class StatusPageMaintenance(Base):
    """Scheduled maintenance announced on the page (alert suppression is `maintenance_windows`)."""

    __tablename__ = "status_page_maintenances"
    __table_args__ = (Index("ix_status_page_maintenances_window", "ends_at", "starts_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    components: Mapped[list[StatusPageComponent]] = relationship(
        secondary="status_page_maintenance_components", order_by="StatusPageComponent.position"
    )


class StatusPageMaintenanceComponent(Base):
    __tablename__ = "status_page_maintenance_components"

    maintenance_id: Mapped[int] = mapped_column(
        ForeignKey("status_page_maintenances.id", ondelete="CASCADE"), primary_key=True
    )
    component_id: Mapped[int] = mapped_column(
        ForeignKey("status_page_components.id", ondelete="CASCADE"), primary_key=True
    )


class StatusPageSubscriber(Base):
    """Someone told of every public update: an e-mail address (confirmed by a link first)
    or a webhook URL. `token` is in every e-mail's unsubscribe link."""

    __tablename__ = "status_page_subscribers"
    __table_args__ = (UniqueConstraint("kind", "address"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # email / webhook
    address: Mapped[str] = mapped_column(String(2000))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    confirm_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signing_secret: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StatusPageDelivery(Base):
    """One message owed to one subscriber, with the lifecycle of `notifications`:
    pending → sending (until `deadline`) → sent | failed; `idempotency_key` is unique."""

    __tablename__ = "status_page_deliveries"
    __table_args__ = (Index("ix_status_page_deliveries_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("status_page_subscribers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # confirm / notice
    status: Mapped[str] = mapped_column(String(10))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageTemplate(Base):
    """A team's edit of a shipped template (incident messages, the postmortem). Only edits are
    rows: a key with no row renders the default that ships with Tocsin, so a new release's
    better default reaches everyone who never changed it."""

    __tablename__ = "message_templates"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(50), unique=True)
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# ---- drills (issue 7): practice incidents run from a built-in scenario ----------------------


class Drill(Base):
    """One practice run of a scenario: its signals went through the real pipeline into `incident`
    (a drill incident). running → finished (the incident resolved) | stopped (canceled)."""

    __tablename__ = "drills"
    __table_args__ = (Index("ix_drills_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scenario: Mapped[str] = mapped_column(String(50))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_by: Mapped[str] = mapped_column(String(200))  # kept when the user is gone
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), unique=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(10), default="running")

    service: Mapped[Service] = relationship()
    incident: Mapped[Incident | None] = relationship()


# ---- Runbooks: checklists by phase, copied onto incidents; role hand-off briefings ----------


class Runbook(Base):
    """A runbook as code: which incidents it fits (services, severities; NULL = all) and its
    phases of checklist items. Declaring an incident copies the best fit's items onto it
    (`IncidentChecklistItem`), so editing a runbook never rewrites an incident's record."""

    __tablename__ = "runbooks"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Service keys / severity names it applies to; NULL means all of them.
    services: Mapped[list[str] | None] = mapped_column(JSON)
    severities: Mapped[list[str] | None] = mapped_column(JSON)
    # [{"title", "url"}]
    links: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # [{"name", "time_frame", "items": [{"text", "role"}]}]
    phases: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentChecklist(Base):
    """Which runbook an incident's checklist came from, and its links, as they were when declared."""

    __tablename__ = "incident_checklists"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    # The runbook's key and name when attached; no foreign key, so deleting a runbook keeps the record.
    runbook_key: Mapped[str] = mapped_column(String(100))
    runbook_name: Mapped[str] = mapped_column(String(200))
    links: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentChecklistItem(Base):
    """One checklist item of one incident; `number` (1, 2, …) is how people name it."""

    __tablename__ = "incident_checklist_items"
    __table_args__ = (UniqueConstraint("incident_id", "number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(100))
    time_frame: Mapped[str] = mapped_column(String(100), default="")
    text: Mapped[str] = mapped_column(Text)
    role_key: Mapped[str | None] = mapped_column(String(50))
    ticked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ticked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    ticked_by_name: Mapped[str] = mapped_column(String(200), default="")


class RoleBriefing(Base):
    """The briefing handed over with a role: where things stand, what was done, what is suspected."""

    __tablename__ = "role_briefings"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    role_assignment_id: Mapped[int] = mapped_column(ForeignKey("role_assignments.id", ondelete="CASCADE"), unique=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(Text, default="")
    actions_taken: Mapped[str] = mapped_column(Text, default="")
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    given_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    given_by_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    assignment: Mapped[RoleAssignment] = relationship()


# ---- Postmortems and action items (issue 7) ------------------------------------------------


class Postmortem(Base):
    """An incident's postmortem: a Markdown body drafted from the timeline when the incident
    resolves, then edited, reviewed and published (draft → in_review → published)."""

    __tablename__ = "postmortems"
    __table_args__ = (Index("ix_postmortems_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft / in_review / published
    body: Mapped[str] = mapped_column(Text, default="")
    # Resolution + the severity's `postmortem_within`; NULL when the policy sets no due date.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last sent for review
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What was posted to the status page on publishing; empty when it was not.
    public_summary: Mapped[str] = mapped_column(Text, default="")

    incident: Mapped[Incident] = relationship()
    reviewers: Mapped[list[PostmortemReviewer]] = relationship(
        back_populates="postmortem", cascade="all, delete-orphan", order_by="PostmortemReviewer.id"
    )


class PostmortemReviewer(Base):
    __tablename__ = "postmortem_reviewers"
    __table_args__ = (UniqueConstraint("postmortem_id", "user_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    postmortem: Mapped[Postmortem] = relationship(back_populates="reviewers")
    user: Mapped[User] = relationship()


class ActionItem(Base):
    """Something to do so the incident does not happen again: owner, priority, due date
    (by priority unless set), open → in_progress → done | wont_do."""

    __tablename__ = "action_items"
    __table_args__ = (
        Index("ix_action_items_status_due", "status", "due_at"),
        Index("ix_action_items_incident", "incident_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    postmortem_id: Mapped[int | None] = mapped_column(ForeignKey("postmortems.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    priority: Mapped[str] = mapped_column(String(2))  # P0 … P3
    status: Mapped[str] = mapped_column(String(20), default="open")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # done or won't do
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The GitHub issue made for it, when sync is on (engine.action_item_sync).
    github_issue_number: Mapped[int | None] = mapped_column(Integer)
    github_issue_url: Mapped[str] = mapped_column(String(500), default="")

    incident: Mapped[Incident] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class ActionItemReminder(Base):
    """A reminder owed about an action item: `due_soon` (to the owner, before the due date),
    `overdue` (to the owner, at it) and `escalation` (P0/P1: to the commander, a while after).
    pending → sent | canceled; the engine claims due rows with a conditional update."""

    __tablename__ = "action_item_reminders"
    __table_args__ = (
        UniqueConstraint("action_item_id", "kind"),
        Index("ix_action_item_reminders_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    action_item_id: Mapped[int] = mapped_column(ForeignKey("action_items.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ActionItemSync(Base):
    """A GitHub call owed for an action item (`create` its issue, `close` it): pending →
    sending (until `deadline`) → done | failed, retried with backoff (`due_at`, `attempts`)."""

    __tablename__ = "action_item_syncs"
    __table_args__ = (
        UniqueConstraint("action_item_id", "operation"),
        Index("ix_action_item_syncs_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    action_item_id: Mapped[int] = mapped_column(ForeignKey("action_items.id", ondelete="CASCADE"))
    operation: Mapped[str] = mapped_column(String(10))  # create / close
    status: Mapped[str] = mapped_column(String(10), default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# ---- issue 7, communication: the update cadence, customer notices, the monitoring window ----


class CommunicationReminder(Base):
    """Something an incident owes by `due_at`: its next update, the customer notice, or the end of
    the monitoring window (`domain.communication`). The engine claims a due row with a conditional
    UPDATE on (`status`, `stage`), moves it up one rung and sets the next rung's `due_at`."""

    __tablename__ = "communication_reminders"
    __table_args__ = (Index("ix_communication_reminders_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # update / customer_notice / monitoring
    owed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when it was owed; due_at moves with each rung
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending → met (the update came) | paged (the last rung) → met | done (the window passed) | canceled
    status: Mapped[str] = mapped_column(String(10), default="pending")
    stage: Mapped[int] = mapped_column(Integer, default=0)  # rungs climbed (domain.communication.rung)
    reminded_user_id: Mapped[int | None] = mapped_column(Id)  # who the last reminder went to
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
