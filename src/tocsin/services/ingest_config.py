"""What ingestion reads of the configuration, as one snapshot a writer may keep briefly.

Every ingest batch needs the severity scheme, the maintenance windows, the
routing rules and the services. Read per batch they cost more than the alerts
themselves under a storm, so the ingest writer keeps a snapshot for a few
seconds: a change made through this process's API drops it at once
(`SnapshotCache.invalidate`); a change made by another process (`tocsin
apply`, a second server) is seen within `TTL`. The snapshot is also bounded by
the injected clock, so a window that starts later is never missed, however
the clock moves.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from tocsin.domain.alerts import Rule, Urgency, Window
from tocsin.domain.matchers import parse_matchers
from tocsin.domain.severity import SeverityScheme
from tocsin.services import severities
from tocsin.storage.repositories import alerts as repo

TTL = timedelta(seconds=2)


@dataclass(frozen=True)
class ServiceRef:
    id: int
    key: str


@dataclass(frozen=True)
class IngestConfig:
    scheme: SeverityScheme
    rules: dict[int, tuple[Rule, ...]]  # by service id; absent: no rules
    services: dict[str, ServiceRef]  # services that are not archived, by key
    windows: tuple[Window, ...]  # every window active at some moment of [loaded_at, valid_until)
    loaded_at: datetime
    valid_until: datetime

    def covers(self, now: datetime) -> bool:
        return self.loaded_at <= now < self.valid_until


def load(session: Session, now: datetime, ttl: timedelta = TTL) -> IngestConfig:
    rules: dict[int, list[Rule]] = {}
    for row in repo.all_rules(session):
        rules.setdefault(row.service_id, []).append(
            Rule(
                matchers=parse_matchers(row.matchers),
                severity=row.severity,
                route_to=row.route_to,
                drop=row.drop,
                urgency=Urgency(row.urgency) if row.urgency else None,
                continue_=row.continue_,
            )
        )
    until = now + ttl
    return IngestConfig(
        scheme=severities.active(session),
        rules={service_id: tuple(found) for service_id, found in rules.items()},
        services={key: ServiceRef(service_id, key) for service_id, key in repo.live_services(session)},
        windows=tuple(
            Window(
                name=w.name,
                starts_at=w.starts_at,
                ends_at=w.ends_at,
                matchers=parse_matchers(w.matchers),
                service_key=w.service_key,
            )
            for w in repo.windows_between(session, now, until)
        ),
        loaded_at=now,
        valid_until=until,
    )


class SnapshotCache:
    """One snapshot, reloaded after `ttl` of real time, when the clock leaves it, or when invalidated."""

    def __init__(self, ttl: timedelta = TTL) -> None:
        self._ttl = ttl
        self._snapshot: tuple[float, IngestConfig] | None = None
        # Bumped by `invalidate`: a snapshot loaded across an invalidation is not kept.
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, session: Session, now: datetime) -> IngestConfig:
        with self._lock:
            held, generation = self._snapshot, self._generation
        if held is not None and held[0] > time.monotonic() and held[1].covers(now):
            return held[1]
        config = load(session, now, self._ttl)
        with self._lock:
            if self._generation == generation:
                self._snapshot = (time.monotonic() + self._ttl.total_seconds(), config)
        return config

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None
            self._generation += 1
