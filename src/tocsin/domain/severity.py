"""Severity schemes and the policy each level carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class SeverityPolicy:
    """What a severity level promises. `None` means "no target"."""

    ack_within: timedelta | None
    resolve_within: timedelta | None
    update_every: timedelta | None
    watch_after_fix: timedelta | None
    # After the declaration, by when customers must have been told (a public update); 0 is at once.
    customer_notice_within: timedelta | None = None
    # After resolution, by when the postmortem is due.
    postmortem_within: timedelta | None = None


@dataclass(frozen=True)
class SeverityLevel:
    name: str
    rank: int  # 0 is the most severe
    description: str
    policy: SeverityPolicy
    # Pages for an emergency severity ignore quiet hours (see `tocsin.domain.notify`).
    emergency: bool = False


@dataclass(frozen=True)
class SeverityScheme:
    name: str
    levels: tuple[SeverityLevel, ...]

    def level(self, name: str) -> SeverityLevel | None:
        for level in self.levels:
            if level.name == name:
                return level
        return None


def _minutes(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(minutes=value)


def _level(
    name: str,
    rank: int,
    description: str,
    ack: int | None,
    resolve: int | None,
    update: int | None,
    watch: int | None,
    customer: int | None,
    postmortem: int | None,
    *,
    emergency: bool = False,
) -> SeverityLevel:
    return SeverityLevel(
        name=name,
        rank=rank,
        description=description,
        policy=SeverityPolicy(
            _minutes(ack),
            _minutes(resolve),
            _minutes(update),
            _minutes(watch),
            _minutes(customer),
            _minutes(postmortem),
        ),
        emergency=emergency,
    )


_HOUR = 60
_DAY = 24 * _HOUR

# The targets the issue and common runbooks give; both schemes are editable in
# the database and through config as code. The most severe level of each is an
# emergency: a full outage wakes the on-call person through quiet hours. Columns: acknowledge,
# resolve, update every, watch after the fix, tell customers within, postmortem due after resolving.
P_SCHEME = SeverityScheme(
    name="P",
    levels=(
        _level("P0", 0, "Critical: full outage or data loss", 5, 60, 15, 120, 0, 2 * _DAY, emergency=True),
        _level("P1", 1, "High: major feature broken for many users", 15, 240, 30, 60, _HOUR, 2 * _DAY),
        _level("P2", 2, "Medium: degraded, workaround exists", 60, 24 * 60, 60, 30, None, 7 * _DAY),
        _level("P3", 3, "Low: minor, no customer impact", 4 * 60, 72 * 60, None, None, None, None),
    ),
)

SEV_SCHEME = SeverityScheme(
    name="SEV",
    levels=(
        _level("SEV1", 0, "Critical: outage or data loss", 5, 60, 15, 120, 0, 2 * _DAY, emergency=True),
        _level("SEV2", 1, "Major: significant degradation", 15, 240, 30, 60, _HOUR, 2 * _DAY),
        _level("SEV3", 2, "Minor: limited impact", 60, 24 * 60, 60, 30, None, 7 * _DAY),
    ),
)

DEFAULT_SCHEMES = (P_SCHEME, SEV_SCHEME)
DEFAULT_ACTIVE_SCHEME = P_SCHEME.name
