"""Planning `channels`: team channels, their addresses and signing secrets, and their routes.

The writes go through `services.channels`, which checks them as the API does.
A channel's address can be a secret (a webhook URL is a credential) and its
signing secret always is: the plan shows the address masked, as the API shows
it to non-admins, and the secret only as set or not; messages name the
variables of `address_env` and `signing_secret_env`, never their values. A
channel's routes are one ordered list, replaced whole when it differs. Channels
made through the API are left alone unless the file names them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tocsin.config_file import channels as spec_channels
from tocsin.config_file.errors import Issue, Path
from tocsin.services import channels, contacts
from tocsin.services.actor import Actor
from tocsin.services.config_apply.steps import Change, Planning, Run, Section, Value, address_from, plan_section
from tocsin.storage import models

_SET = "(set)"


@dataclass(frozen=True)
class _Resolved:
    """A channel's address and secret as `tocsin apply` will write them, and what the plan shows of them."""

    address: str
    shown: str
    secret: str | None
    secret_variable: str | None


def plan_channels(planning: Planning, specs: Sequence[spec_channels.Channel]) -> None:
    rows = {row.name: row for row in channels.list_channels(planning.session)}
    routes = {
        view.channel.name: [_route_text(r.service, r.events, r.min_severity) for r in view.routes]
        for view in channels.views(planning.session, list(rows.values()))
    }
    resolved: dict[str, _Resolved] = {}
    for index, spec in enumerate(specs):
        found = _resolve(planning, ("channels", index), spec)
        if found is not None:
            resolved[spec.name] = found

    def desired(spec: spec_channels.Channel) -> dict[str, Value]:
        found, row = resolved[spec.name], rows.get(spec.name)
        return {
            "kind": spec.kind,
            "address": _address_shown(found, row),
            "mention": spec.mention,
            "signing_secret": _secret_shown(found, row),
            "routes": [_route_text(r.service, r.events, r.min_severity) for r in spec.routes],
            "managed": True,
        }

    def current(row: models.Channel) -> dict[str, Value]:
        return {
            "kind": row.kind,
            "address": contacts.masked(row.kind, row.address),
            "mention": row.mention,
            "signing_secret": _SET if row.signing_secret else None,
            "routes": routes[row.name],
            "managed": row.managed,
        }

    def remove(name: str, row: models.Channel) -> tuple[Change, Run] | None:
        if not row.managed:
            return None
        change = Change("delete", "channel", name, note="with its routes; posts not yet sent are canceled")
        return change, functools.partial(_delete, planning, name)

    # A channel whose address or secret cannot be read is an issue already, which stops the apply;
    # it is left out here so that the plan does not also compare it with what it cannot know.
    plan_section(
        planning,
        Section(
            kind="channel",
            rows=rows,
            key=lambda spec: spec.name,
            desired=desired,
            current=current,
            create=lambda spec: functools.partial(_create, planning, spec, resolved[spec.name]),
            update=lambda spec, row, fields: functools.partial(_update, planning, spec, resolved[spec.name], row),
            remove=remove,
        ),
        [spec for spec in specs if spec.name in resolved],
    )


def _route_text(service: str | None, events: Sequence[str], min_severity: str | None) -> str:
    """`api: incident.*, deploy.failed at P1 or above`, one line per route."""
    text = f"{service or 'every service'}: {', '.join(events)}"
    return text + (f" at {min_severity} or above" if min_severity else "")


# ---- secrets from the environment --------------------------------------------------------


def _resolve(planning: Planning, path: Path, spec: spec_channels.Channel) -> _Resolved | None:
    address = _address(planning, path, spec)
    secret: str | None = None
    variable = spec.signing_secret_env
    if variable is not None:
        secret = planning.env.get(variable, "")
        if len(secret) < channels.MIN_SECRET:
            state = "is not set" if not secret else f"holds fewer than {channels.MIN_SECRET} characters"
            planning.issues.append(Issue((*path, "signing_secret_env"), f"environment variable {variable} {state}"))
            return None
    if address is None:
        return None
    return _Resolved(address[0], address[1], secret, variable)


def _address(planning: Planning, path: Path, spec: spec_channels.Channel) -> tuple[str, str] | None:
    return address_from(planning, path, spec.kind, spec.address, spec.address_env, "channel")


def _address_shown(found: _Resolved, row: models.Channel | None) -> str:
    """The plan compares what it shows: the row's own masked text while the address is the same,
    and a text that differs from it once the address changed, even where both mask alike."""
    if row is not None and row.address == found.address:
        return contacts.masked(row.kind, row.address)
    if row is not None and found.shown == contacts.masked(row.kind, row.address):
        return f"{found.shown} (changed)"
    return found.shown


def _secret_shown(found: _Resolved, row: models.Channel | None) -> str | None:
    if found.secret is None:
        return None
    if row is not None and row.signing_secret == found.secret:
        return _SET
    return f"(from ${found.secret_variable})"


# ---- the steps -----------------------------------------------------------------------------


def _route_specs(spec: spec_channels.Channel) -> list[channels.RouteSpec]:
    return [channels.RouteSpec(r.events, r.service, r.min_severity) for r in spec.routes]


def _create(planning: Planning, spec: spec_channels.Channel, found: _Resolved, actor: Actor, now: datetime) -> None:
    channels.create_channel(
        planning.session,
        actor,
        now,
        name=spec.name,
        kind=spec.kind,
        address=found.address,
        mention=spec.mention,
        signing_secret=found.secret,
        routes=_route_specs(spec),
        managed=True,
    )


def _update(
    planning: Planning,
    spec: spec_channels.Channel,
    found: _Resolved,
    row: models.Channel,
    actor: Actor,
    now: datetime,
) -> None:
    # "" removes a mention or secret the file no longer gives (services.channels.update_channel).
    channels.update_channel(
        planning.session,
        actor,
        now,
        spec.name,
        kind=spec.kind,
        address=found.address,
        mention=spec.mention or "",
        signing_secret=found.secret or "",
        routes=_route_specs(spec),
    )
    row.managed = True


def _delete(planning: Planning, name: str, actor: Actor, now: datetime) -> None:
    channels.delete_channel(planning.session, actor, now, name)
