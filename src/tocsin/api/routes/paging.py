"""Paging set-up: on-call schedules, escalation policies, and how each user is reached.

Contact method addresses can be secrets (a webhook URL is a credential): only
an admin token sees them in full, everyone else a masked form. A webhook
method's signing secret is write-only: answers only say whether it is `signed`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Response

from tocsin.api.deps import CurrentClock, DbSession, Reader, Writer
from tocsin.api.schemas import (
    ContactMethodOut,
    CreateContactMethod,
    CreateNotificationRule,
    CreateOverride,
    CreatePolicy,
    CreateSchedule,
    FinalScheduleOut,
    GapOut,
    LayerIn,
    NotificationRuleOut,
    OnCallOut,
    OverrideOut,
    PolicyChange,
    PolicyOut,
    QuietHoursIn,
    QuietHoursOut,
    ReadinessOut,
    ScheduleChange,
    ScheduleOut,
    ServicePolicyIn,
    ServicePolicyOut,
    ShiftOut,
    SigningSecretIn,
    VerificationCodeIn,
    VerificationOut,
)
from tocsin.domain.access import Scope
from tocsin.domain.schedules import SourceKind
from tocsin.services import contacts, directory, policies, schedules
from tocsin.services.actor import Actor
from tocsin.storage import models

router = APIRouter(prefix="/api/v1", tags=["paging"])

DEFAULT_RANGE = timedelta(days=14)


# ---- schedules -------------------------------------------------------------------------------


def _layer_specs(layers: list[LayerIn]) -> list[schedules.LayerSpec]:
    return [
        schedules.LayerSpec(
            name=layer.name,
            participants=layer.participants,
            start=layer.start,
            kind=layer.kind,
            every=layer.every,
            time_zone=layer.time_zone,
            restrictions=[schedules.RestrictionSpec(r.days, r.start, r.end) for r in layer.restrictions],
            end=layer.end,
        )
        for layer in layers
    ]


@router.get("/schedules", response_model=list[ScheduleOut])
def list_schedules(_actor: Reader, session: DbSession, clock: CurrentClock) -> list[ScheduleOut]:
    return [ScheduleOut.of(s, since=clock.now()) for s in schedules.list_schedules(session)]


@router.post("/schedules", status_code=201, response_model=ScheduleOut)
def create_schedule(body: CreateSchedule, actor: Writer, session: DbSession, clock: CurrentClock) -> ScheduleOut:
    schedule = schedules.create_schedule(
        session,
        actor,
        clock.now(),
        key=body.key,
        name=body.name,
        time_zone=body.time_zone,
        layers=_layer_specs(body.layers),
    )
    session.commit()
    return ScheduleOut.of(schedule)


@router.get("/schedules/{key}", response_model=ScheduleOut)
def show_schedule(key: str, _actor: Reader, session: DbSession, clock: CurrentClock) -> ScheduleOut:
    return ScheduleOut.of(schedules.get_schedule(session, key), since=clock.now())


@router.put("/schedules/{key}", response_model=ScheduleOut)
def update_schedule(
    key: str, body: ScheduleChange, actor: Writer, session: DbSession, clock: CurrentClock
) -> ScheduleOut:
    schedule = schedules.update_schedule(
        session, actor, clock.now(), key, name=body.name, time_zone=body.time_zone, layers=_layer_specs(body.layers)
    )
    session.commit()
    return ScheduleOut.of(schedule, since=clock.now())


@router.delete("/schedules/{key}", status_code=204)
def delete_schedule(key: str, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    schedules.delete_schedule(session, actor, clock.now(), key)
    session.commit()
    return Response(status_code=204)


def _on_call(current: schedules.CurrentShift, at: datetime, names: dict[str, str]) -> OnCallOut:
    who = current.on_call
    return OnCallOut(
        schedule=current.schedule.key,
        schedule_name=current.schedule.name,
        at=at,
        user=who.user if who else None,
        name=names.get(who.user, who.user) if who else None,
        source=who.source.kind.value if who else None,
        layer=who.source.name if who and who.source.kind == SourceKind.LAYER else None,
        until=current.until,
    )


def _names(session: DbSession, shifts: list[schedules.CurrentShift]) -> dict[str, str]:
    emails = {s.on_call.user for s in shifts if s.on_call is not None}
    return {user.email: user.name for user in (directory.get_user(session, email) for email in emails)}


@router.get("/schedules/{key}/on-call", response_model=OnCallOut)
def on_call(key: str, _actor: Reader, session: DbSession, clock: CurrentClock, at: datetime | None = None) -> OnCallOut:
    instant = at or clock.now()
    current = schedules.current_shift(schedules.get_schedule(session, key), instant)
    return _on_call(current, instant, _names(session, [current]))


@router.get("/on-call", response_model=list[OnCallOut])
def on_call_everywhere(
    _actor: Reader, session: DbSession, clock: CurrentClock, at: datetime | None = None
) -> list[OnCallOut]:
    instant = at or clock.now()
    shifts = schedules.on_call_everywhere(session, instant)
    names = _names(session, shifts)
    return [_on_call(current, instant, names) for current in shifts]


@router.get("/schedules/{key}/final", response_model=FinalScheduleOut)
def final_schedule(
    key: str,
    _actor: Reader,
    session: DbSession,
    clock: CurrentClock,
    start: datetime | None = None,
    end: datetime | None = None,
) -> FinalScheduleOut:
    low = start or clock.now()
    high = end or low + DEFAULT_RANGE
    shifts, gaps = schedules.final(session, key, low, high)
    return FinalScheduleOut(
        schedule=key,
        start=low,
        end=high,
        shifts=[
            ShiftOut(
                start=s.start,
                end=s.end,
                user=s.user,
                source=s.source.kind.value,
                layer=s.source.name if s.source.kind == SourceKind.LAYER else None,
            )
            for s in shifts
        ],
        gaps=[GapOut(start=g.start, end=g.end, description=g.description) for g in gaps],
    )


@router.post("/schedules/{key}/overrides", status_code=201, response_model=OverrideOut)
def add_override(key: str, body: CreateOverride, actor: Writer, session: DbSession, clock: CurrentClock) -> OverrideOut:
    override = schedules.add_override(session, actor, clock.now(), key, user=body.user, start=body.start, end=body.end)
    session.commit()
    return OverrideOut.of(override)


@router.delete("/schedules/{key}/overrides/{override_id}", status_code=204)
def remove_override(key: str, override_id: int, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    schedules.remove_override(session, actor, clock.now(), key, override_id)
    session.commit()
    return Response(status_code=204)


# ---- escalation policies ---------------------------------------------------------------------


def _policy_args(body: PolicyChange) -> tuple[list[policies.LevelSpec], dict[str, policies.VariantSpec]]:
    levels = [
        policies.LevelSpec(level.delay_s, [policies.TargetSpec(t.kind, t.key) for t in level.targets])
        for level in body.levels
    ]
    variants = {s: policies.VariantSpec(v.kind, v.step_delay_s) for s, v in body.variants.items()}
    return levels, variants


@router.get("/escalation-policies", response_model=list[PolicyOut])
def list_policies(_actor: Reader, session: DbSession) -> list[PolicyOut]:
    return [PolicyOut.of(p) for p in policies.list_policies(session)]


@router.post("/escalation-policies", status_code=201, response_model=PolicyOut)
def create_policy(body: CreatePolicy, actor: Writer, session: DbSession, clock: CurrentClock) -> PolicyOut:
    levels, variants = _policy_args(body)
    policy = policies.create_policy(
        session, actor, clock.now(), key=body.key, name=body.name, levels=levels, repeat=body.repeat, variants=variants
    )
    session.commit()
    return PolicyOut.of(policy)


@router.get("/escalation-policies/{key}", response_model=PolicyOut)
def show_policy(key: str, _actor: Reader, session: DbSession) -> PolicyOut:
    return PolicyOut.of(policies.get_policy(session, key))


@router.put("/escalation-policies/{key}", response_model=PolicyOut)
def update_policy(key: str, body: PolicyChange, actor: Writer, session: DbSession, clock: CurrentClock) -> PolicyOut:
    levels, variants = _policy_args(body)
    policy = policies.update_policy(
        session, actor, clock.now(), key, name=body.name, levels=levels, repeat=body.repeat, variants=variants
    )
    session.commit()
    return PolicyOut.of(policy)


@router.delete("/escalation-policies/{key}", status_code=204)
def delete_policy(key: str, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    policies.delete_policy(session, actor, clock.now(), key)
    session.commit()
    return Response(status_code=204)


@router.put("/services/{key}/escalation-policy", response_model=ServicePolicyOut)
def set_service_policy(
    key: str, body: ServicePolicyIn, actor: Writer, session: DbSession, clock: CurrentClock
) -> ServicePolicyOut:
    service = policies.set_service_policy(session, actor, clock.now(), key, body.policy)
    session.commit()
    policy = service.escalation_policy
    return ServicePolicyOut(service=service.key, escalation_policy=policy.key if policy else None)


# ---- contact methods, notification rules, quiet hours ----------------------------------------


def _contact_method(method: models.ContactMethod, actor: Actor) -> ContactMethodOut:
    # Admins manage the webhooks and need to check them; everyone else only needs to recognise them.
    show = actor.scope == Scope.ADMIN
    return ContactMethodOut(
        id=method.id,
        name=method.name,
        kind=method.kind,
        address=method.address if show else contacts.masked(method.kind, method.address),
        address_masked=not show,
        mention=method.mention,
        verified=method.verified,
        high_urgency=method.high_urgency,
        signed=method.signing_secret is not None,
        created_at=method.created_at,
    )


@router.get("/users/{email}/contact-methods", response_model=list[ContactMethodOut])
def list_contact_methods(email: str, actor: Reader, session: DbSession) -> list[ContactMethodOut]:
    return [_contact_method(m, actor) for m in contacts.list_contact_methods(session, email)]


@router.post("/users/{email}/contact-methods", status_code=201, response_model=ContactMethodOut)
def add_contact_method(
    email: str, body: CreateContactMethod, actor: Writer, session: DbSession, clock: CurrentClock
) -> ContactMethodOut:
    method = contacts.add_contact_method(
        session,
        actor,
        clock.now(),
        email,
        name=body.name,
        kind=body.kind,
        address=body.address,
        mention=body.mention,
        high_urgency=body.high_urgency,
        verified=body.verified,
        signing_secret=body.signing_secret,
    )
    session.commit()
    return _contact_method(method, actor)


@router.put("/users/{email}/contact-methods/{name}/signing-secret", response_model=ContactMethodOut)
def set_signing_secret(
    email: str, name: str, body: SigningSecretIn, actor: Writer, session: DbSession, clock: CurrentClock
) -> ContactMethodOut:
    method = contacts.set_signing_secret(session, actor, clock.now(), email, name, body.signing_secret)
    session.commit()
    return _contact_method(method, actor)


@router.post("/users/{email}/contact-methods/{name}/verify", status_code=202, response_model=VerificationOut)
def start_verification(
    email: str, name: str, actor: Writer, session: DbSession, clock: CurrentClock
) -> VerificationOut:
    """Send a 6-digit code through the contact method; the engine delivers it like a page."""
    sent = contacts.start_verification(session, actor, clock.now(), email, name)
    session.commit()
    return VerificationOut(
        contact_method=name,
        notification=sent.notification.id,
        status=sent.notification.status,
        expires_at=sent.expires_at,
    )


@router.post("/users/{email}/contact-methods/{name}/verify/confirm", response_model=ContactMethodOut)
def confirm_verification(
    email: str, name: str, body: VerificationCodeIn, actor: Writer, session: DbSession, clock: CurrentClock
) -> ContactMethodOut:
    confirmed = contacts.confirm_verification(session, actor, clock.now(), email, name, body.code)
    # Committed even for a wrong code: it counts against the code's tries.
    session.commit()
    if confirmed.problem is not None:
        raise confirmed.problem
    return _contact_method(confirmed.method, actor)


@router.delete("/users/{email}/contact-methods/{name}", status_code=204)
def remove_contact_method(email: str, name: str, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    contacts.remove_contact_method(session, actor, clock.now(), email, name)
    session.commit()
    return Response(status_code=204)


@router.get("/users/{email}/notification-rules", response_model=list[NotificationRuleOut])
def list_rules(email: str, _actor: Reader, session: DbSession) -> list[NotificationRuleOut]:
    return [NotificationRuleOut.of(r) for r in contacts.list_rules(session, email)]


@router.post("/users/{email}/notification-rules", status_code=201, response_model=NotificationRuleOut)
def add_rule(
    email: str, body: CreateNotificationRule, actor: Writer, session: DbSession, clock: CurrentClock
) -> NotificationRuleOut:
    rule = contacts.add_rule(
        session,
        actor,
        clock.now(),
        email,
        contact_method=body.contact_method,
        delay_s=body.delay_s,
        urgency=body.urgency,
    )
    session.commit()
    return NotificationRuleOut.of(rule)


@router.delete("/users/{email}/notification-rules/{rule_id}", status_code=204)
def remove_rule(email: str, rule_id: int, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    contacts.remove_rule(session, actor, clock.now(), email, rule_id)
    session.commit()
    return Response(status_code=204)


def _quiet_hours(session: DbSession, email: str, quiet: models.QuietHours) -> QuietHoursOut:
    user = directory.get_user(session, email)
    return QuietHoursOut(
        user=user.email, time_zone=user.time_zone, start=quiet.start, end=quiet.end, weekdays=quiet.weekdays
    )


@router.get("/users/{email}/quiet-hours", response_model=QuietHoursOut)
def show_quiet_hours(email: str, _actor: Reader, session: DbSession) -> QuietHoursOut:
    return _quiet_hours(session, email, contacts.get_quiet_hours(session, email))


@router.put("/users/{email}/quiet-hours", response_model=QuietHoursOut)
def set_quiet_hours(
    email: str, body: QuietHoursIn, actor: Writer, session: DbSession, clock: CurrentClock
) -> QuietHoursOut:
    quiet = contacts.set_quiet_hours(
        session, actor, clock.now(), email, start=body.start, end=body.end, weekdays=body.weekdays
    )
    session.commit()
    return _quiet_hours(session, email, quiet)


@router.delete("/users/{email}/quiet-hours", status_code=204)
def clear_quiet_hours(email: str, actor: Writer, session: DbSession, clock: CurrentClock) -> Response:
    contacts.clear_quiet_hours(session, actor, clock.now(), email)
    session.commit()
    return Response(status_code=204)


@router.get("/readiness", response_model=list[ReadinessOut])
def readiness(_actor: Reader, session: DbSession, clock: CurrentClock) -> list[ReadinessOut]:
    return [
        ReadinessOut(
            user=r.user, name=r.name, on_call_from=r.on_call_from, message=r.message, schedules=list(r.schedules)
        )
        for r in contacts.readiness(session, clock.now())
    ]
