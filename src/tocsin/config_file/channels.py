"""The `channels` section of `tocsin.yaml`: team channels and the events each hears.

    channels:
      - name: alerts
        kind: discord
        address_env: ALERTS_WEBHOOK       # the webhook URL is a secret: read when applying
        mention: "&123456789012345678"    # a role pinged when people are needed
        routes:
          - {events: ["incident.*"], min_severity: P2}
      - name: deploys
        kind: slack
        address_env: DEPLOYS_WEBHOOK
        routes:
          - {service: api, events: ["deploy.*"]}

The section is the whole truth about the channels `tocsin apply` manages; each
channel's routes are one ordered list. Patterns are checked here with the
domain's own rule (`domain.channel_routing.pattern_problem`); services and
severities are references, checked against the database by `tocsin apply`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from tocsin.config_file.errors import Issue, Path
from tocsin.config_file.fields import EnvName, Key, LevelName, _Spec
from tocsin.domain import channel_routing

# The same as domain.channel_routing.CHANNEL_KINDS (a test holds them together), as a Literal for the schema.
ChannelKind = Literal["discord", "slack", "email", "webhook", "apprise"]


def _pattern(value: str) -> str:
    problem = channel_routing.pattern_problem(value)
    if problem:
        raise ValueError(problem)
    return value


EventPattern = Annotated[str, AfterValidator(_pattern)]


class ChannelRoute(_Spec):
    service: Key | None = None  # left out: every service
    events: list[EventPattern] = Field(min_length=1, max_length=50)
    min_severity: LevelName | None = None  # left out: every severity


class Channel(_Spec):
    name: Key
    kind: ChannelKind
    # One of the two: the address itself, or the variable that holds it (for secrets such as webhook URLs).
    address: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    address_env: EnvName | None = None
    mention: Annotated[str, Field(max_length=100)] | None = None
    # webhook channels: the variable that holds the key of X-Tocsin-Signature.
    signing_secret_env: EnvName | None = None
    routes: list[ChannelRoute] = Field(default_factory=list, max_length=50)


def check_channel(base: Path, spec: Channel) -> list[Issue]:
    issues = []
    if (spec.address is None) == (spec.address_env is None):
        issues.append(Issue(base, "give address or address_env (an environment variable), one of them"))
    problem = channel_routing.mention_problem(spec.kind, spec.mention) if spec.mention is not None else None
    if problem:
        issues.append(Issue((*base, "mention"), problem))
    problem = channel_routing.signing_problem(spec.kind) if spec.signing_secret_env is not None else None
    if problem:
        issues.append(Issue((*base, "signing_secret_env"), problem))
    return issues


def references(
    channels: Sequence[Channel], services: set[str], levels: set[str]
) -> Iterator[tuple[Path, Literal["service", "severity"], str, bool]]:
    """(path, kind, key, declared in the file) for the schema's `Reference`: the services the
    routes name and their thresholds."""
    for index, channel in enumerate(channels):
        for number, route in enumerate(channel.routes):
            where: Path = ("channels", index, "routes", number)
            if route.service is not None:
                yield (*where, "service"), "service", route.service, route.service in services
            if route.min_severity is not None:
                yield (*where, "min_severity"), "severity", route.min_severity, route.min_severity in levels
