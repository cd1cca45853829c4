"""The `heartbeats` section of `tocsin.yaml`: the cron jobs and workers that ping Tocsin.

    heartbeats:
      - name: nightly-backup
        service: api
        cron: "0 3 * * *"            # or period: 1h
        time_zone: Europe/Berlin     # the cron expression's; UTC when left out
        grace: 30m
        max_run: 2h                  # a longer run is a failure
      - name: queue-worker
        service: api
        period: 1m
        grace: 2m
        uuid: 0b7c8f5e-7a7e-4d0f-9a57-3f1d2e4c5b6a   # keep the ping URL the jobs use

A heartbeat is identified by its name. Its ping URL (`/ping/<uuid>`) is made
when `tocsin apply` creates it and stays the same on every apply after, so
the `curl` lines in crontabs keep working; `uuid` fixes it in the file, for a
heartbeat that must keep its URL across databases. The schedule is checked
here with the domain's own rule (`domain.heartbeats.schedule_problem`); the
service is a reference, checked against the database by `tocsin apply`.
"""

from __future__ import annotations

import uuid as uuids
from collections.abc import Iterator, Sequence
from typing import Annotated

from pydantic import AfterValidator, Field

from tocsin.config_file.errors import Issue, Path
from tocsin.config_file.fields import Description, Duration, Key, TimeZone, _Spec
from tocsin.domain import heartbeats as domain


def _uuid(value: str) -> str:
    try:
        # One spelling, so that the file and the database compare equal.
        return str(uuids.UUID(value.strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not a UUID such as 0b7c8f5e-7a7e-4d0f-9a57-3f1d2e4c5b6a") from None


Uuid = Annotated[str, AfterValidator(_uuid)]


class Heartbeat(_Spec):
    name: Key
    service: Key
    description: Description = ""
    # One of the two: every `period`, or at each time of `cron` in `time_zone`.
    period: Duration | None = None
    cron: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    time_zone: TimeZone = "UTC"
    grace: Duration
    # Bounds on a run's time, from its /start ping to its finish.
    min_run: Duration | None = None
    max_run: Duration | None = None
    # Left out: apply makes one on create and keeps it.
    uuid: Uuid | None = None

    @property
    def schedule(self) -> domain.Schedule:
        return domain.Schedule(
            grace=self.grace,
            period=self.period,
            cron=self.cron.strip() if self.cron is not None else None,
            time_zone=self.time_zone,
            min_run=self.min_run,
            max_run=self.max_run,
        )


def check_heartbeat(base: Path, spec: Heartbeat) -> list[Issue]:
    problem = domain.schedule_problem(spec.schedule)
    if problem is None:
        return []
    field, message = problem
    if field == "period" and spec.period is None and spec.cron is None:
        return [Issue(base, "give period or cron, one of them")]
    if field == "period" and spec.period is not None and spec.cron is not None:
        return [Issue((*base, "cron"), "give period or cron, not both")]
    return [Issue((*base, field), message)]


def check_uuids(heartbeats: Sequence[Heartbeat]) -> list[Issue]:
    first: dict[str, int] = {}
    issues = []
    for index, spec in enumerate(heartbeats):
        if spec.uuid is None:
            continue
        if spec.uuid in first:
            issues.append(Issue(("heartbeats", index, "uuid"), f"heartbeats[{first[spec.uuid]}] has this uuid already"))
        first.setdefault(spec.uuid, index)
    return issues


def references(heartbeats: Sequence[Heartbeat], services: set[str]) -> Iterator[tuple[Path, str, bool]]:
    """(path, service key, declared in the file) for the schema's `Reference`."""
    for index, spec in enumerate(heartbeats):
        yield ("heartbeats", index, "service"), spec.service, spec.service in services
