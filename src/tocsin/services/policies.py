"""Escalation policies: levels of targets and delays, per-severity variants, and which service uses which.

The rules (validation, the timetable of pages) are `tocsin.domain.escalation`'s;
this module stores policies, checks that their targets exist, and builds the
domain `Plan` for an incident on a service. The engine turns plans into rows
later; nothing here pages anyone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from tocsin.domain import escalation as domain
from tocsin.errors import Conflict, NotFound, ValidationFailed
from tocsin.services import audit, directory, severities
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import directory as directory_repo
from tocsin.storage.repositories import paging as repo

TARGET_KINDS = tuple(kind.value for kind in domain.TargetKind)
VARIANT_KINDS = tuple(kind.value for kind in domain.VariantKind)


@dataclass(frozen=True)
class TargetSpec:
    kind: str  # user (an e-mail) / schedule / team
    key: str


@dataclass(frozen=True)
class LevelSpec:
    delay_s: int
    targets: Sequence[TargetSpec]


@dataclass(frozen=True)
class VariantSpec:
    kind: str
    step_delay_s: int | None = None


def get_policy(session: Session, key: str) -> models.EscalationPolicy:
    policy = repo.policy_by_key(session, key)
    if policy is None:
        raise NotFound(f"no escalation policy {key!r}", field="escalation_policy")
    return policy


def list_policies(session: Session) -> Sequence[models.EscalationPolicy]:
    return repo.list_policies(session)


def to_domain(policy: models.EscalationPolicy) -> domain.Policy:
    return domain.Policy(
        name=policy.key,
        levels=tuple(
            domain.Level(
                targets=tuple(domain.Target(domain.TargetKind(t["kind"]), t["key"]) for t in level.targets),
                delay=timedelta(seconds=level.delay_s),
            )
            for level in policy.levels
        ),
        repeat=policy.repeat,
        variants={severity: _variant(v["kind"], v.get("step_delay_s")) for severity, v in policy.variants.items()},
    )


def _variant(kind: str, step_delay_s: int | None) -> domain.Variant:
    return domain.Variant(domain.VariantKind(kind), None if step_delay_s is None else timedelta(seconds=step_delay_s))


def create_policy(
    session: Session,
    actor: Actor,
    now: datetime,
    *,
    key: str,
    name: str = "",
    levels: Sequence[LevelSpec],
    repeat: int = 0,
    variants: Mapping[str, VariantSpec] | None = None,
    managed: bool = False,
) -> models.EscalationPolicy:
    directory.check_key(key, "key")
    if repo.policy_by_key(session, key) is not None:
        raise Conflict(f"an escalation policy {key!r} exists", field="key")
    _validate(session, key, levels, repeat, variants or {})
    policy = models.EscalationPolicy(key=key, name=name or key, managed=managed, created_at=now)
    _apply(policy, levels, repeat, variants or {})
    session.add(policy)
    audit.record(session, actor, now, "create", "escalation_policy", key, {"levels": len(levels)})
    session.flush()
    return policy


def update_policy(
    session: Session,
    actor: Actor,
    now: datetime,
    key: str,
    *,
    name: str = "",
    levels: Sequence[LevelSpec],
    repeat: int = 0,
    variants: Mapping[str, VariantSpec] | None = None,
) -> models.EscalationPolicy:
    # escalations → policies (`to_domain`): imported here so that the module graph stays acyclic.
    from tocsin.services import escalations

    policy = get_policy(session, key)
    _validate(session, key, levels, repeat, variants or {})
    before = to_domain(policy)
    policy.name = name or key
    _apply(policy, levels, repeat, variants or {})
    audit.record(session, actor, now, "update", "escalation_policy", key, {"levels": len(levels)})
    session.flush()
    # Running escalations on it go on under the new policy from where they are (docs/escalations.md).
    escalations.follow_policy(session, policy, before, now, actor)
    session.flush()
    return policy


def delete_policy(session: Session, actor: Actor, now: datetime, key: str) -> None:
    policy = get_policy(session, key)
    services = repo.services_using_policy(session, policy.id)
    if services:
        # Deleting it would silently stop paging for those services.
        names = ", ".join(service.key for service in services)
        raise Conflict(f"services {names} use escalation policy {key!r}; give them another first", field="key")
    session.delete(policy)
    audit.record(session, actor, now, "delete", "escalation_policy", key)
    session.flush()


def set_service_policy(
    session: Session, actor: Actor, now: datetime, service_key: str, policy_key: str | None
) -> models.Service:
    from tocsin.services import escalations  # as in update_policy

    service = directory.get_service(session, service_key)
    policy = None
    if policy_key is not None:
        policy = repo.policy_by_key(session, policy_key)
        if policy is None:
            raise ValidationFailed(f"unknown escalation policy {policy_key!r}", field="policy")
    service.escalation_policy = policy
    audit.record(session, actor, now, "set_escalation_policy", "service", service_key, {"policy": policy_key})
    session.flush()
    # Open incidents on the service page under the policy it has now (docs/escalations.md).
    escalations.follow_service(session, service, now, actor)
    session.flush()
    return service


def plan_for(session: Session, service_key: str, severity: str, started_at: datetime) -> domain.Plan:
    """The timetable of pages for an incident of `severity` on the service; empty, with a reason,
    when the service has no policy."""
    service = directory.get_service(session, service_key)
    if service.escalation_policy is None:
        reason = f"service {service_key!r} has no escalation policy: nobody is paged"
        return domain.Plan("", severity, started_at.astimezone(UTC), (), reason)
    return domain.plan(to_domain(service.escalation_policy), severity, started_at)


def _apply(
    policy: models.EscalationPolicy, levels: Sequence[LevelSpec], repeat: int, variants: Mapping[str, VariantSpec]
) -> None:
    policy.repeat = repeat
    policy.variants = {s: {"kind": v.kind, "step_delay_s": v.step_delay_s} for s, v in variants.items()}
    policy.levels = [
        models.EscalationLevel(
            position=i, delay_s=level.delay_s, targets=[{"kind": t.kind, "key": t.key} for t in level.targets]
        )
        for i, level in enumerate(levels)
    ]


def _validate(
    session: Session, key: str, levels: Sequence[LevelSpec], repeat: int, variants: Mapping[str, VariantSpec]
) -> None:
    # Kinds first: the domain takes enums, and "pager" is best refused naming its own field.
    for i, level in enumerate(levels):
        for j, target in enumerate(level.targets):
            if target.kind not in TARGET_KINDS:
                field = f"levels[{i}].targets[{j}].kind"
                raise ValidationFailed(f"{target.kind!r} is not one of {', '.join(TARGET_KINDS)}", field=field)
    for severity, variant in variants.items():
        if variant.kind not in VARIANT_KINDS:
            field = f"variants.{severity}.kind"
            raise ValidationFailed(f"{variant.kind!r} is not one of {', '.join(VARIANT_KINDS)}", field=field)
    try:
        policy = domain.Policy(
            name=key,
            levels=tuple(
                domain.Level(
                    targets=tuple(domain.Target(domain.TargetKind(t.kind), t.key) for t in level.targets),
                    delay=timedelta(seconds=level.delay_s),
                )
                for level in levels
            ),
            repeat=repeat,
            variants={s: _variant(v.kind, v.step_delay_s) for s, v in variants.items()},
        )
        if variants:
            domain.check_severities(policy, severities.active(session))
    except domain.PolicyError as exc:
        raise ValidationFailed(exc.problem, field=_api_field(exc.field)) from None
    _check_targets(session, levels)


def _api_field(field: str) -> str:
    # The domain counts delays as timedeltas; the API and the rows count seconds.
    for name in ("step_delay", "delay"):
        if field == name or field.endswith(f".{name}"):
            return f"{field}_s"
    return field


def _check_targets(session: Session, levels: Sequence[LevelSpec]) -> None:
    wanted = {t.key for level in levels for t in level.targets if t.kind == domain.TargetKind.SCHEDULE}
    schedules = repo.schedule_keys(session, wanted)
    users = repo.users_by_emails(session, [t.key for level in levels for t in level.targets if t.kind == "user"])
    for i, level in enumerate(levels):
        for j, target in enumerate(level.targets):
            field = f"levels[{i}].targets[{j}].key"
            if target.kind == domain.TargetKind.USER and target.key.lower() not in users:
                raise ValidationFailed(f"unknown user {target.key!r}", field=field)
            if target.kind == domain.TargetKind.SCHEDULE and target.key not in schedules:
                raise ValidationFailed(f"unknown schedule {target.key!r}", field=field)
            if target.kind == domain.TargetKind.TEAM and directory_repo.team_by_key(session, target.key) is None:
                raise ValidationFailed(f"unknown team {target.key!r}", field=field)
