"""The status page as Statuspage's public JSON (`/api/v2/*.json`), so the widgets,
aggregators and scripts written for Statuspage read Tocsin's page unchanged.

The shapes are Statuspage's: a `page` object on every document; components with
`group_id`/`group`/`only_show_if_degraded`/`showcase`; incidents with their
`incident_updates`; scheduled maintenance as incidents with `scheduled_for` and
`scheduled_until`. Ids are strings. A component group is listed as a component
with `group: true` and the ids of its members in `components`, as Statuspage does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tocsin.domain.status_page import Impact, MaintenanceStatus
from tocsin.services.status_page_view import (
    Page,
    PublicComponent,
    PublicGroup,
    PublicIncident,
    PublicMaintenance,
    Snapshot,
)

PAGE_ID = "tocsin"


def when(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def page(value: Page) -> dict[str, Any]:
    return {
        "id": PAGE_ID,
        "name": value.name,
        "url": value.url,
        "time_zone": value.time_zone,
        "updated_at": when(value.updated_at),
    }


def component(value: PublicComponent) -> dict[str, Any]:
    return {
        "id": str(value.id),
        "name": value.name,
        "status": value.status.value,
        "created_at": when(value.created_at),
        "updated_at": when(value.updated_at),
        "position": value.position,
        "description": value.description or None,
        "showcase": True,
        "start_date": None,
        "group_id": f"g{value.group_id}" if value.group_id is not None else None,
        "page_id": PAGE_ID,
        "group": False,
        "only_show_if_degraded": False,
    }


def group(value: PublicGroup) -> dict[str, Any]:
    return {
        "id": f"g{value.id}",
        "name": value.name,
        "status": value.status.value,
        "created_at": when(value.created_at),
        "updated_at": when(value.updated_at),
        "position": value.position,
        "description": value.description or None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": PAGE_ID,
        "group": True,
        "only_show_if_degraded": False,
        "components": [str(c.id) for c in value.components],
    }


def components(snapshot: Snapshot) -> list[dict[str, Any]]:
    listed = [component(c) for c in snapshot.components]
    listed += [group(g) for g in snapshot.groups]
    return listed


def _affected(ids: Iterable[int], names: Mapping[int, str]) -> list[dict[str, Any]]:
    return [{"id": str(i), "name": names[i]} for i in ids if i in names]


def incident(value: PublicIncident, names: Mapping[int, str], shortlink: str) -> dict[str, Any]:
    return {
        "id": str(value.id),
        "name": value.name,
        "status": value.status.value,
        "created_at": when(value.created_at),
        "updated_at": when(value.updated_at),
        "monitoring_at": when(value.monitoring_at),
        "resolved_at": when(value.resolved_at),
        "impact": value.impact.value,
        "shortlink": shortlink,
        "started_at": when(value.created_at),
        "page_id": PAGE_ID,
        "incident_updates": [
            {
                "id": update.id,
                "status": update.status.value,
                "body": update.body,
                "incident_id": str(value.id),
                "created_at": when(update.at),
                "updated_at": when(update.at),
                "display_at": when(update.at),
                "affected_components": None,
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
            for update in value.updates
        ],
        "components": _affected(value.component_ids, names),
    }


def maintenance(value: PublicMaintenance, names: Mapping[int, str], shortlink: str) -> dict[str, Any]:
    status = value.status.value
    return {
        "id": f"m{value.id}",
        "name": value.title,
        "status": status,
        "created_at": when(value.created_at),
        "updated_at": when(value.updated_at),
        "monitoring_at": None,
        "resolved_at": when(value.ends_at) if value.status == MaintenanceStatus.COMPLETED else None,
        "impact": Impact.MAINTENANCE.value,
        "shortlink": shortlink,
        "started_at": when(value.starts_at),
        "page_id": PAGE_ID,
        "scheduled_for": when(value.starts_at),
        "scheduled_until": when(value.ends_at),
        "incident_updates": [
            {
                "id": f"m{value.id}-{status}",
                "status": status,
                "body": value.description or value.title,
                "incident_id": f"m{value.id}",
                "created_at": when(value.updated_at),
                "updated_at": when(value.updated_at),
                "display_at": when(value.updated_at),
                "affected_components": None,
                "deliver_notifications": True,
                "custom_tweet": None,
                "tweet_id": None,
            }
        ],
        "components": _affected(value.component_ids, names),
    }


def status(snapshot: Snapshot) -> dict[str, Any]:
    return {"indicator": snapshot.indicator.value, "description": snapshot.description}


def summary(snapshot: Snapshot) -> dict[str, Any]:
    names = snapshot.component_names
    url = snapshot.page.url
    return {
        "page": page(snapshot.page),
        "components": components(snapshot),
        "incidents": [incident(i, names, f"{url}/incidents/{i.id}") for i in snapshot.incidents],
        "scheduled_maintenances": [maintenance(m, names, url) for m in snapshot.maintenances],
        "status": status(snapshot),
    }
