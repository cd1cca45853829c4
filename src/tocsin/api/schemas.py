"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class AssignRole(Body):
    role: str = Field(min_length=1, max_length=50)
    user: str = Field(min_length=3, max_length=320, description="E-mail of the user taking the role")


class AddNote(Body):
    text: str = Field(min_length=1, max_length=50_000)


class PostUpdate(Body):
    text: str = Field(min_length=1, max_length=50_000)
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

    @classmethod
    def of(cls, incident: models.Incident, targets: list[models.ResponseTarget] | None = None) -> IncidentOut:
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


class CreateService(Body):
    key: str = Field(min_length=1, max_length=100)
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=10_000)
    team: str | None = None


class ServiceOut(BaseModel):
    id: int
    key: str
    name: str
    description: str
    team: str | None
    archived: bool

    @classmethod
    def of(cls, service: models.Service) -> ServiceOut:
        return cls(
            id=service.id,
            key=service.key,
            name=service.name,
            description=service.description,
            team=service.team.key if service.team else None,
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
