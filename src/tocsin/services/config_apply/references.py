"""References the file makes to objects it does not declare, checked against what exists once the plan has run."""

from __future__ import annotations

from tocsin.config_file import schema
from tocsin.config_file.errors import Issue
from tocsin.services.config_apply.steps import Planning


def check_references(planning: Planning) -> None:
    for reference in schema.references(planning.document):
        if reference.declared:
            continue
        message = _unresolved(planning, reference)
        if message is not None:
            planning.issues.append(Issue(reference.path, message))


def _unresolved(planning: Planning, reference: schema.Reference) -> str | None:
    key = reference.key
    if reference.kind == "service":
        if key in planning.services_after:
            return None
        if key in planning.services_removed:
            return f"service {key!r} is not under services, so apply would archive it"
        if key in planning.services_archived:
            return f"service {key!r} is archived; list it under services to restore it"
        return f"unknown service {key!r}"
    if reference.kind == "severity":
        if planning.levels_after is None or key in planning.levels_after:
            return None  # no active scheme at all is reported on `severities`
        levels = ", ".join(planning.levels_after)
        return f"unknown severity {key!r}; the active scheme {planning.active_after!r} has {levels}"
    if reference.kind == "user":
        email = key.lower()
        if email in planning.users_after:
            return None
        if email in planning.users_removed:
            return f"user {key!r} is not under users, so apply would deactivate them"
        if email in planning.inactive_users:
            return f"user {key!r} is deactivated; list them under users to reactivate them"
        return f"unknown user {key!r}"
    if reference.kind == "team":
        if key in planning.teams_after:
            return None
        if key in planning.teams_removed:
            return f"team {key!r} is not under teams, so apply would delete it"
        return f"unknown team {key!r}"
    if reference.kind == "schedule":
        if key in planning.schedules_after:
            return None
        if key in planning.schedules_removed:
            return f"schedule {key!r} is not under schedules, so apply would delete it"
        return f"unknown schedule {key!r}"
    if reference.kind == "escalation policy":
        if key in planning.policies_after:
            return None
        if key in planning.policies_removed:
            return f"escalation policy {key!r} is not under escalation_policies, so apply would delete it"
        return f"unknown escalation policy {key!r}"
    if key in planning.schemes_after:
        return None
    if key in planning.schemes_removed:
        return f"scheme {key!r} is not under severities.schemes, so apply would delete it"
    return f"unknown severity scheme {key!r}"
