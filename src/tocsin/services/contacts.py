"""How to reach each user: contact methods, notification rules and quiet hours; and readiness,
the check that everyone on call can actually be woken.

The rules for one page (`deliveries`) and for readiness live in
`tocsin.domain.notify`. Addresses can be secrets — a webhook URL is a
credential — so they are never written to the audit log, and `masked()` is
what non-admins get to see. A webhook method's signing secret is never shown
to anyone nor logged: only whether there is one.

Verification proves that a method reaches its owner: `start_verification`
sends a 6-digit code through it (a `verify` notification the engine delivers
like any other) and keeps only its hash, for 15 minutes and 5 wrong tries;
`confirm_verification` with the code marks the method verified. A delivered
`tocsin notify test` verifies a method too (`notifications.record_all`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlalchemy.orm import Session

from tocsin.domain import naming
from tocsin.domain import notify as domain
from tocsin.domain import schedules as schedule_rules
from tocsin.domain.access import Scope
from tocsin.errors import Conflict, Forbidden, NotFound, TocsinError, ValidationFailed
from tocsin.services import audit, directory, notifications, schedules
from tocsin.services.actor import Actor
from tocsin.storage import models
from tocsin.storage.repositories import paging as repo

CONTACT_KINDS = tuple(kind.value for kind in domain.ContactKind)
URGENCIES = tuple(urgency.value for urgency in domain.RuleUrgency)
READINESS_HORIZON = timedelta(hours=24)

_URL_KINDS = (domain.ContactKind.DISCORD, domain.ContactKind.SLACK, domain.ContactKind.WEBHOOK)
_PHONE_KINDS = (domain.ContactKind.SMS, domain.ContactKind.VOICE)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_DOMAIN_FIELDS = {"kind": "kind", "key": "name", "address": "address", "mention": "mention"}

# An HMAC key short enough to guess is no key; the upper end only bounds the column.
SIGNING_SECRET_LENGTH = (16, 256)
_SECRET_RE = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: survives env files and YAML

VERIFY_CODE_TTL = timedelta(minutes=15)
VERIFY_TRIES = 5
# A new code within this time of the last one is refused: each request wakes the method's owner.
VERIFY_RESEND_AFTER = timedelta(minutes=1)
_CODE_RE = re.compile(r"[0-9]{6}")


@dataclass(frozen=True)
class Readiness:
    """A user on call now or within the horizon who could not be woken."""

    user: str
    name: str
    on_call_from: datetime
    message: str
    schedules: tuple[str, ...]


# ---- contact methods -------------------------------------------------------------------------


def list_contact_methods(session: Session, user_email: str) -> Sequence[models.ContactMethod]:
    return repo.contact_methods_of(session, directory.get_user(session, user_email).id)


def add_contact_method(
    session: Session,
    actor: Actor,
    now: datetime,
    user_email: str,
    *,
    name: str,
    kind: str,
    address: str,
    mention: str | None = None,
    high_urgency: bool = False,
    verified: bool = False,
    signing_secret: str | None = None,
) -> models.ContactMethod:
    user = directory.get_user(session, user_email)
    naming_problem = naming.key_problem(name)
    if naming_problem:
        raise ValidationFailed(naming_problem, field="name")
    if kind not in CONTACT_KINDS:
        raise ValidationFailed(f"{kind!r} is not one of {', '.join(CONTACT_KINDS)}", field="kind")
    try:
        to_check = domain.ContactMethod(name, domain.ContactKind(kind), address, verified, high_urgency, mention)
    except ValueError as exc:
        message = str(exc)
        field = _DOMAIN_FIELDS.get(message.partition(":")[0])
        raise ValidationFailed(message, field=field) from None
    _check_address(to_check.kind, address)
    check_signing_secret(to_check.kind, signing_secret)
    if repo.contact_method_by_name(session, user.id, name) is not None:
        raise Conflict(f"{user.email} already has a contact method {name!r}", field="name")
    method = models.ContactMethod(
        user=user,
        name=name,
        kind=to_check.kind.value,
        address=address.strip(),
        mention=mention,
        verified=verified,
        high_urgency=high_urgency,
        signing_secret=signing_secret,
        created_at=now,
    )
    session.add(method)
    # The kind, never the address: the audit log is readable by people who must not see webhook secrets.
    detail: dict[str, object] = {"name": name, "kind": kind}
    if signing_secret is not None:
        detail["signed"] = True
    audit.record(session, actor, now, "add_contact_method", "user", user.email, detail)
    session.flush()
    return method


def set_signing_secret(
    session: Session, actor: Actor, now: datetime, user_email: str, name: str, secret: str | None
) -> models.ContactMethod:
    """Set, rotate (a new one) or remove (None) the key that signs a webhook method's messages."""
    user = directory.get_user(session, user_email)
    method = _method_of(session, user, name)
    check_signing_secret(domain.ContactKind(method.kind), secret)
    method.signing_secret = secret
    audit.record(
        session, actor, now, "set_signing_secret", "user", user.email, {"name": name, "signed": secret is not None}
    )
    session.flush()
    return method


def check_signing_secret(kind: domain.ContactKind, secret: str | None) -> None:
    """ValidationFailed unless `secret` is None or a usable key for a webhook method. The message never quotes it."""
    if secret is None:
        return
    if kind != domain.ContactKind.WEBHOOK:
        raise ValidationFailed(f"only webhook contact methods sign their messages, not {kind}", field="signing_secret")
    low, high = SIGNING_SECRET_LENGTH
    if not low <= len(secret) <= high or not _SECRET_RE.fullmatch(secret):
        raise ValidationFailed(
            f"a signing secret is {low}-{high} printable ASCII characters without spaces", field="signing_secret"
        )


def _method_of(session: Session, user: models.User, name: str) -> models.ContactMethod:
    method = repo.contact_method_by_name(session, user.id, name)
    if method is None:
        raise NotFound(f"{user.email} has no contact method {name!r}", field="contact_method")
    return method


def remove_contact_method(session: Session, actor: Actor, now: datetime, user_email: str, name: str) -> None:
    user = directory.get_user(session, user_email)
    method = repo.contact_method_by_name(session, user.id, name)
    if method is None:
        raise NotFound(f"{user.email} has no contact method {name!r}", field="contact_method")
    # What ON DELETE SET NULL did before migration 0009: the pages keep their record.
    session.execute(
        update(models.Notification)
        .where(models.Notification.contact_method_id == method.id)
        .values(contact_method_id=None)
        .execution_options(synchronize_session=False)
    )
    session.delete(method)  # its notification rules go with it
    audit.record(session, actor, now, "remove_contact_method", "user", user.email, {"name": name})
    session.flush()


# ---- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """A code on its way: the notification that carries it, and when it stops working."""

    method: models.ContactMethod
    notification: models.Notification
    expires_at: datetime


@dataclass(frozen=True)
class Confirmation:
    """What a code came to. A wrong code counts against the method's tries even though it
    is refused, so the caller commits before raising `problem`."""

    method: models.ContactMethod
    problem: TocsinError | None = None

    @property
    def verified(self) -> bool:
        return self.problem is None


def start_verification(session: Session, actor: Actor, now: datetime, user_email: str, name: str) -> Verification:
    """Send a new 6-digit code through the method; any earlier code stops working."""
    user, method = _verifiable(session, actor, user_email, name)
    expires = method.verify_expires_at
    if expires is not None and now < expires - VERIFY_CODE_TTL + VERIFY_RESEND_AFTER:
        raise Conflict(
            f"a code went to {name!r} less than a minute ago; use that one or ask again in a minute",
            field="contact_method",
        )
    code = f"{secrets.randbelow(1_000_000):06d}"
    method.verify_code_hash = _code_hash(method.id, code)
    method.verify_expires_at = now + VERIFY_CODE_TTL
    method.verify_attempts = 0
    notification = notifications.send_verification_code(session, user, method, code, now, VERIFY_CODE_TTL)
    audit.record(session, actor, now, "start_verification", "user", user.email, {"name": name})
    session.flush()
    return Verification(method, notification, method.verify_expires_at)


def confirm_verification(
    session: Session, actor: Actor, now: datetime, user_email: str, name: str, code: str
) -> Confirmation:
    """Check a code sent by `start_verification`; the right one, in time, verifies the method."""
    user, method = _verifiable(session, actor, user_email, name)
    code = code.strip()
    if not _CODE_RE.fullmatch(code):
        raise ValidationFailed("the code is the 6 digits the contact method received", field="code")
    again = f"ask for a new one with `tocsin contact verify {user.email} {name}`"
    expires = method.verify_expires_at
    if method.verify_code_hash is None or expires is None:
        return Confirmation(method, Conflict(f"no code is waiting for {name!r}; {again}", field="code"))
    if now >= expires:
        forget_code(method)
        return Confirmation(method, Conflict(f"the code for {name!r} has expired; {again}", field="code"))
    if not hmac.compare_digest(method.verify_code_hash, _code_hash(method.id, code)):
        method.verify_attempts += 1
        left = VERIFY_TRIES - method.verify_attempts
        problem: TocsinError
        if left <= 0:
            forget_code(method)
            problem = Conflict(f"that code was wrong {VERIFY_TRIES} times and no longer works; {again}", field="code")
        else:
            problem = ValidationFailed(f"wrong code; {left} {'try' if left == 1 else 'tries'} left", field="code")
        audit.record(session, actor, now, "wrong_verification_code", "user", user.email, {"name": name})
        session.flush()
        return Confirmation(method, problem)
    forget_code(method)
    method.verified = True
    audit.record(session, actor, now, "verify_contact_method", "user", user.email, {"name": name})
    session.flush()
    return Confirmation(method)


def forget_code(method: models.ContactMethod) -> None:
    """Drop a pending code: used, expired, or sent to an address the method no longer has."""
    method.verify_code_hash = None
    method.verify_expires_at = None
    method.verify_attempts = 0


def _verifiable(session: Session, actor: Actor, user_email: str, name: str) -> tuple[models.User, models.ContactMethod]:
    user = directory.get_user(session, user_email)
    # Like test notifications: your own methods, or anyone's for an admin.
    if actor.user_id != user.id and actor.scope is not Scope.ADMIN:
        raise Forbidden("only an admin can verify someone else's contact methods")
    return user, _method_of(session, user, name)


def _code_hash(method_id: int, code: str) -> str:
    # A million codes are quick to hash through, so the hash only keeps the code out of plain
    # sight in the database; the expiry and the tries are what protect it.
    return hashlib.sha256(f"{method_id}:{code}".encode()).hexdigest()


def _check_address(kind: domain.ContactKind, address: str, what: str = "contact method") -> None:
    address = address.strip()
    if kind in _URL_KINDS:
        parts = urlsplit(address)
        schemes = ("http", "https") if kind == domain.ContactKind.WEBHOOK else ("https",)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValidationFailed(f"a {kind} {what} needs an {' or '.join(schemes)} URL", field="address")
    elif kind == domain.ContactKind.EMAIL:
        problem = naming.email_problem(address)
        if problem:
            raise ValidationFailed(problem, field="address")
    elif kind in _PHONE_KINDS:
        if not _E164.match(address):
            raise ValidationFailed(
                f"{address!r} is not a phone number in E.164 form, e.g. +4915112345678", field="address"
            )
    elif "://" not in address:
        raise ValidationFailed(f"an Apprise {what} needs an Apprise URL, e.g. tgram://…", field="address")


def check_address(kind: domain.ContactKind, address: str, what: str = "contact method") -> None:
    """Raise ValidationFailed naming the field `address` unless `address` suits `kind`.
    Team channels take the same addresses as contact methods; `what` is the noun the message uses."""
    _check_address(kind, address, what)


def masked(kind: str, address: str) -> str:
    """Enough to recognise the destination, not enough to use it."""
    if kind in _URL_KINDS:
        parts = urlsplit(address)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}/…"
    if kind == domain.ContactKind.APPRISE:
        # Apprise URLs carry tokens in the host part too (tgram://bottoken/chat): only the scheme is safe.
        return f"{address.partition('://')[0]}://…"
    if kind == domain.ContactKind.EMAIL:
        local, _, host = address.partition("@")
        return f"{local[:1]}…@{host}"
    return f"…{address[-4:]}"


def method_to_domain(method: models.ContactMethod) -> domain.ContactMethod:
    return domain.ContactMethod(
        key=method.name,
        kind=domain.ContactKind(method.kind),
        address=method.address,
        verified=method.verified,
        high_urgency=method.high_urgency,
        mention=method.mention,
    )


# ---- notification rules ----------------------------------------------------------------------


def list_rules(session: Session, user_email: str) -> Sequence[models.NotificationRule]:
    return repo.rules_of(session, directory.get_user(session, user_email).id)


def add_rule(
    session: Session,
    actor: Actor,
    now: datetime,
    user_email: str,
    *,
    contact_method: str,
    delay_s: int = 0,
    urgency: str = "both",
) -> models.NotificationRule:
    user = directory.get_user(session, user_email)
    method = repo.contact_method_by_name(session, user.id, contact_method)
    if method is None:
        raise ValidationFailed(f"{user.email} has no contact method {contact_method!r}", field="contact_method")
    if urgency not in URGENCIES:
        raise ValidationFailed(f"{urgency!r} is not one of {', '.join(URGENCIES)}", field="urgency")
    try:
        domain.NotificationRule(contact_method, timedelta(seconds=delay_s), domain.RuleUrgency(urgency))
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="delay_s") from None
    rule = models.NotificationRule(user_id=user.id, contact_method=method, delay_s=delay_s, urgency=urgency)
    session.add(rule)
    detail = {"contact_method": contact_method, "delay_s": delay_s, "urgency": urgency}
    audit.record(session, actor, now, "add_notification_rule", "user", user.email, detail)
    session.flush()
    return rule


def remove_rule(session: Session, actor: Actor, now: datetime, user_email: str, rule_id: int) -> None:
    user = directory.get_user(session, user_email)
    rule = repo.rule_by_id(session, user.id, rule_id)
    if rule is None:
        raise NotFound(f"{user.email} has no notification rule {rule_id}", field="notification_rule")
    session.delete(rule)
    audit.record(session, actor, now, "remove_notification_rule", "user", user.email, {"rule": rule_id})
    session.flush()


def rule_to_domain(rule: models.NotificationRule) -> domain.NotificationRule:
    return domain.NotificationRule(
        contact=rule.contact_method.name,
        delay=timedelta(seconds=rule.delay_s),
        urgency=domain.RuleUrgency(rule.urgency),
    )


# ---- quiet hours -----------------------------------------------------------------------------


def get_quiet_hours(session: Session, user_email: str) -> models.QuietHours:
    user = directory.get_user(session, user_email)
    quiet = repo.quiet_hours_of(session, user.id)
    if quiet is None:
        raise NotFound(f"{user.email} has no quiet hours", field="quiet_hours")
    return quiet


def set_quiet_hours(
    session: Session,
    actor: Actor,
    now: datetime,
    user_email: str,
    *,
    start: str,
    end: str,
    weekdays: Sequence[str] | None = None,
) -> models.QuietHours:
    user = directory.get_user(session, user_email)
    days = None if weekdays is None else list(dict.fromkeys(weekdays))
    unknown = [day for day in days or () if day not in schedules.DAYS]
    if unknown:
        raise ValidationFailed(f"{unknown} are not weekdays; use {', '.join(schedules.DAYS)}", field="weekdays")
    try:
        _quiet_to_domain(start, end, days)
    except ValueError as exc:
        message = str(exc)
        field = message.partition(":")[0]
        raise ValidationFailed(message, field=field if field in ("start", "end", "weekdays") else None) from None
    quiet = repo.quiet_hours_of(session, user.id)
    if quiet is None:
        quiet = models.QuietHours(user_id=user.id)
        session.add(quiet)
    quiet.start, quiet.end, quiet.weekdays = start, end, days
    audit.record(
        session, actor, now, "set_quiet_hours", "user", user.email, {"start": start, "end": end, "weekdays": days}
    )
    session.flush()
    return quiet


def clear_quiet_hours(session: Session, actor: Actor, now: datetime, user_email: str) -> None:
    quiet = get_quiet_hours(session, user_email)
    session.delete(quiet)
    audit.record(session, actor, now, "clear_quiet_hours", "user", user_email)
    session.flush()


def quiet_to_domain(quiet: models.QuietHours) -> domain.QuietHours:
    return _quiet_to_domain(quiet.start, quiet.end, quiet.weekdays)


def _quiet_to_domain(start: str, end: str, weekdays: Sequence[str] | None) -> domain.QuietHours:
    return domain.QuietHours(
        start=schedules.parse_clock(start, "start"),
        end=schedules.parse_clock(end, "end"),
        weekdays=None if weekdays is None else frozenset(schedules.DAYS.index(day) for day in weekdays),
    )


# ---- readiness -------------------------------------------------------------------------------


def readiness(session: Session, now: datetime, horizon: timedelta = READINESS_HORIZON) -> list[Readiness]:
    """Everyone on call now or within `horizon`, in any schedule, who has no verified high-urgency method."""
    on_call: list[tuple[str, tuple[datetime, datetime]]] = []
    where: dict[str, set[str]] = {}
    for schedule in repo.list_schedules(session):
        for shift in schedule_rules.final_schedule(schedules.to_domain(schedule), now, now + horizon):
            on_call.append((shift.user, (shift.start, shift.end)))
            where.setdefault(shift.user, set()).add(schedule.key)
    users = repo.users_by_emails(session, where)
    methods: dict[str, list[domain.ContactMethod]] = {}
    by_id = {user.id: email for email, user in users.items()}
    for method in repo.contact_methods_of_users(session, by_id):
        methods.setdefault(users[by_id[method.user_id]].email, []).append(method_to_domain(method))
    # Times in UTC: the same for every reader, like the timeline.
    warnings = domain.readiness(on_call, methods, now, tz=UTC, horizon=horizon)
    names = {user.email: user.name for user in users.values()}
    return [
        Readiness(w.user, names.get(w.user, w.user), w.on_call_from, w.message, tuple(sorted(where[w.user])))
        for w in warnings
    ]
