"""The `channels` section's shape and checks: every error names file, line and field; no database."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent
from typing import get_args

import pytest

from tocsin.config_file import Config, InvalidConfig, load
from tocsin.config_file.channels import ChannelKind
from tocsin.config_file.schema import references
from tocsin.domain import channel_routing

DOCS = Path(__file__).parents[2] / "docs" / "channels.md"


def config(text: str) -> Config:
    return load(dedent(text).lstrip("\n"), "tocsin.yaml")


def errors(text: str) -> list[str]:
    with pytest.raises(InvalidConfig) as caught:
        config(text)
    return [issue.render("tocsin.yaml") for issue in caught.value.issues]


def test_the_docs_example_is_valid_and_names_what_apply_looks_up() -> None:
    [block] = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    document = load(block, "docs/channels.md").document
    assert [(c.name, c.kind, c.address_env) for c in document.channels or []] == [
        ("alerts", "discord", "ALERTS_WEBHOOK"),
        ("deploys", "slack", "DEPLOYS_WEBHOOK"),
        ("dev-events", "webhook", "DEV_EVENTS_URL"),
        ("crashes", "discord", "CRASHES_WEBHOOK"),
    ]
    crashes = (document.channels or [])[3]
    assert [(r.service, r.events, r.min_severity) for r in crashes.routes] == [
        ("api", ["crash.*"], None),
        ("web", ["crash.*", "incident.declared"], "P1"),
    ]
    looked_up = [(ref.kind, ref.key) for ref in references(document) if not ref.declared]
    assert looked_up == [("severity", "P2"), ("service", "api"), ("service", "web"), ("severity", "P1")]


def test_the_config_file_offers_exactly_the_channel_kinds() -> None:
    assert get_args(ChannelKind) == channel_routing.CHANNEL_KINDS


def test_each_field_the_schema_refuses_is_named_with_its_line() -> None:
    found = errors("""
        channels:
          - name: alerts
            kind: discord
            address_env: ALERTS_WEBHOOK
            routes:
              - events: ["incident.*", "incident.resolve"]
              - {events: [], service: api}
          - name: hooks
            kind: teams
            address_env: HOOK
            route: []
    """)
    incident_events = ", ".join(e for e in channel_routing.EVENT_TYPES if e.startswith("incident."))
    assert found == [
        f"tocsin.yaml:6: channels[0].routes[0].events[1]: unknown event type 'incident.resolve'; incident events are "
        f"{incident_events}, or incident.* for all of them",
        "tocsin.yaml:7: channels[0].routes[1].events: list should have at least 1 item after validation, not 0",
        "tocsin.yaml:9: channels[1].kind: 'teams' is not one of 'discord', 'slack', 'email', 'webhook' or 'apprise'",
        "tocsin.yaml:11: channels[1].route: unknown field 'route'; did you mean 'routes'?",
    ]


def test_what_only_the_whole_channel_shows_is_named_too() -> None:
    found = errors("""
        channels:
          - name: alerts
            kind: discord
            address_env: ALERTS_WEBHOOK
            address: https://discord.com/api/webhooks/1/x
            mention: "<@&1>"
          - name: alerts
            kind: email
            address: ops@example.com
            mention: U123
            signing_secret_env: OPS_SECRET
          - {name: silent, kind: slack}
    """)
    assert found == [
        "tocsin.yaml:2: channels[0]: give address or address_env (an environment variable), one of them",
        "tocsin.yaml:6: channels[0].mention: '<@&1>' is not a Discord or Slack id: letters and digits, "
        "after '&' for a role or user group",
        "tocsin.yaml:7: channels[1].name: channel 'alerts' is declared twice (first as channels[0])",
        "tocsin.yaml:10: channels[1].mention: only Discord and Slack channels mention someone, not email",
        "tocsin.yaml:11: channels[1].signing_secret_env: only webhook channels sign what they send, not email",
        "tocsin.yaml:12: channels[2]: give address or address_env (an environment variable), one of them",
    ]


def test_a_route_without_a_service_or_threshold_covers_everything() -> None:
    document = config("""
        channels:
          - {name: everything, kind: email, address: ops@example.com, routes: [{events: ["*"]}]}
    """).document
    [channel] = document.channels or []
    [route] = channel.routes
    assert (route.service, route.events, route.min_severity) == (None, ["*"], None)
    assert references(document) == []
