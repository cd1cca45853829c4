"""Alerts, integrations, test events, routing rules and maintenance windows from the terminal,
against a real `tocsin serve` on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from tests.cli.test_remote import INC, Cli
from tests.conftest import Personas
from tests.support.server import ServerProcess, free_port


@dataclass
class Sender(Cli):
    """A terminal with TOCSIN_INTEGRATION_KEY exported, as a script sending test alerts has."""

    integration_key: str | None = None

    def env(self, token: str | None = None) -> dict[str, str | None]:
        return {**super().env(token), "TOCSIN_INTEGRATION_KEY": self.integration_key}


@pytest.fixture
def cli(server: ServerProcess, personas: Personas, tmp_path: Path) -> Sender:
    """Bob responds; no integration key in the environment unless a test sets one."""
    return Sender(server.url, personas.bob.token, tmp_path / "config", server.clock_file)


def created_key(stdout: str) -> str:
    lines = stdout.splitlines()
    return lines[lines.index("Integration key (shown only now; keep it like a password):") + 1].strip()


@pytest.mark.slow
def test_an_integration_made_in_the_terminal_takes_a_test_alert_that_opens_an_incident(
    cli: Sender, server: ServerProcess
) -> None:
    created = cli(
        "integration", "create", "--service", "api", "--kind", "alertmanager", "--name", "Prometheus",
        "--group-by", "alertname", "--group-window", "10m",
    ).stdout  # fmt: skip
    key = created_key(created)
    assert len(key) == 32
    assert created.startswith("Created integration 'Prometheus' (alertmanager) for service api.\n")
    # This integration's own format first, then every other sender the key also works for.
    assert "Paste into Prometheus Alertmanager (webhook_configs url):\n" in created
    assert f"  {cli.url}/api/v1/integrations/alertmanager/{key}\n" in created
    assert created.index("alertmanager/") < created.index("The same key works for the other formats:")
    assert f"    {cli.url}/v2/enqueue (routing_key: {key})\n" in created
    assert f"    {cli.url}/api/v1/events/{key}\n" in created

    [listed] = cli.json("integration", "list")
    assert (listed["name"], listed["kind"], listed["key_prefix"]) == ("Prometheus", "alertmanager", key[:8])
    assert listed["settings"] == {"group_by": ["alertname"], "group_window_s": 600}
    table = cli("integration", "list").stdout
    assert f"{key[:8]}…" in table
    assert "group by alertname; window 10m" in table
    assert key not in table

    triggered = cli(
        "event", "trigger", "--key", key, "--summary", "Disk full on db-1", "--dedup-key", "disk-full",
        "--severity", "critical", "--label", "alertname=DiskFull", "--label", "host=db-1", "--source", "db-1",
        "--link", "https://grafana.example/d/disk",
    ).stdout  # fmt: skip
    assert triggered == (
        f"Created alert 1 (dedup key disk-full); incident {INC}.\n"
        "Resolve it with: tocsin event resolve --dedup-key disk-full\n"
    )
    server.advance(timedelta(minutes=2))
    again = cli("event", "trigger", "--key", key, "--summary", "Disk full on db-1", "--dedup-key", "disk-full")
    assert again.stdout.startswith("Alert 1 fired again (dedup key disk-full)")

    page = cli.json("alert", "list")
    assert page["total"] == 1
    [alert] = page["items"]
    assert (alert["count"], alert["severity"], alert["incident"], alert["status"]) == (2, "P1", INC, "firing")
    listing = cli("alert", "list").stdout
    assert "Disk full on db-1" in listing
    assert "P1 (critical)" in listing
    assert "2026-11-23 09:02 UTC (just now)" in listing
    assert INC in listing

    shown = cli("alert", "show", "1").stdout
    assert shown.startswith("Alert 1  P1 (critical) · firing\nDisk full on db-1\n")
    for fact in ("Prometheus", "disk-full", "db-1", "2 times", "2026-11-23 09:00 UTC (2m ago)"):
        assert fact in shown
    assert "Labels\n  alertname=DiskFull\n  host=db-1\n" in shown
    assert "Links\n  https://grafana.example/d/disk\n" in shown
    # The payload as received, indented for reading.
    assert "Raw payload\n{\n" in shown
    assert '  "dedup_key": "disk-full"' in shown
    assert cli.json("alert", "show", "1")["raw"].startswith("{")

    assert [a["id"] for a in cli.json("incident", "alerts", INC)] == [1]
    attached = cli("incident", "alerts", INC).stdout
    assert "disk-full" in attached
    assert "Disk full on db-1" in attached
    assert cli.json("incident", "show", INC)["title"] == "Disk full on db-1"

    # The key can come from the environment, as in a script.
    cli.integration_key = key
    acked = cli("event", "acknowledge", "--dedup-key", "disk-full").stdout
    assert acked.startswith("Acknowledged alert 1 (dedup key disk-full)")
    assert cli("event", "resolve", "--dedup-key", "disk-full").stdout.startswith("Resolved alert 1 (dedup key")
    replay = cli("event", "resolve", "--dedup-key", "disk-full").stdout
    assert replay == "Nothing to resolve: no firing alert has dedup key disk-full.\n"
    assert cli.json("event", "resolve", "--dedup-key", "disk-full")["result"] == "ignored"

    assert cli.json("alert", "list", "--status", "resolved")["total"] == 1
    assert cli("alert", "list", "--status", "firing").stdout == "No alerts match.\n"
    assert cli.json("alert", "list", "--service", "web")["total"] == 0


@pytest.mark.slow
def test_routing_rules_and_a_maintenance_window_steer_test_alerts(cli: Sender, server: ServerProcess) -> None:
    added = cli("rule", "add", "api", "--match", 'env="staging"', "--drop").stdout
    assert added == 'Added rule 1 to api: when env="staging": drop.\n'
    cli("rule", "add", "api", "--match", "severity=info", "--urgency", "low", "--continue")
    cli("rule", "add", "api", "--match", 'team="web"', "--route-to", "web", "--severity", "P2")
    rules = cli.json("rule", "list", "api")
    assert [(r["id"], r["position"], r["continue"]) for r in rules] == [(1, 0, False), (2, 1, True), (3, 2, False)]
    table = cli("rule", "list", "api").stdout
    assert "route to web" in table
    assert "urgency low" in table

    key = cli.json("integration", "create", "--service", "api", "--kind", "native", "--group-window", "0")["key"]
    cli.integration_key = key

    def trigger(dedup: str, *labels: str) -> str:
        args = [arg for label in labels for arg in ("--label", label)]
        return str(cli("event", "trigger", "--summary", dedup, "--dedup-key", dedup, *args).stdout)

    assert trigger("staging", "env=staging") == (
        "Dropped by a routing rule of the service; nothing stored (dedup key staging).\n"
    )
    assert "; incident INC-2026-11-23-001." in trigger("web", "team=web")
    web = cli.json("alert", "list", "--service", "web")["items"]
    assert [(a["summary"], a["severity"]) for a in web] == [("web", "P2")]

    assert cli("rule", "delete", "1").stdout == "Deleted rule 1.\n"
    assert [r["id"] for r in cli.json("rule", "list", "api")] == [2, 3]
    assert "error: no routing rule 1" in cli("rule", "delete", "1", exit_code=1).stderr

    window = cli(
        "maintenance", "add", "--name", "DB upgrade", "--duration", "2h", "--service", "api",
        "--match", 'component="db"',
    ).stdout  # fmt: skip
    assert window == (
        'Added maintenance window 1: DB upgrade on api for alerts matching component="db", '
        "2026-11-23 09:00 UTC to 2026-11-23 11:00 UTC (2h).\n"
    )
    held = trigger("db", "component=db")
    assert held.startswith("Created alert 2 (dedup key db); held by maintenance window 'DB upgrade': recorded, nobody")
    assert "on, ends in 2h" in cli("maintenance", "list").stdout

    server.advance(timedelta(minutes=30))
    ended = cli("maintenance", "end", "1").stdout
    assert ended == "Ended maintenance window 1 (DB upgrade) at 2026-11-23 09:30 UTC.\n"
    assert cli("maintenance", "list").stdout.startswith("No maintenance windows on or to come")
    [past] = cli.json("maintenance", "list", "--all")
    assert (past["name"], past["ends_at"]) == ("DB upgrade", "2026-11-23T09:30:00Z")
    assert "ended" in cli("maintenance", "list", "--all").stdout

    later = cli.json(
        "maintenance", "add", "--name", "Deploy freeze", "--start", "2026-11-24T22:00:00+01:00",
        "--end", "2026-11-25T06:00Z",
    )  # fmt: skip
    assert (later["starts_at"], later["ends_at"], later["service"]) == (
        "2026-11-24T21:00:00Z",
        "2026-11-25T06:00:00Z",
        None,
    )
    assert "starts in 1d 11h" in cli("maintenance", "list").stdout


@pytest.mark.slow
def test_refusals_are_one_line_with_the_usual_exit_codes(cli: Sender, personas: Personas) -> None:
    refused = cli("event", "trigger", "--key", "0" * 32, "--summary", "x", exit_code=4)
    assert refused.stderr == ("error: unknown or disabled integration key; check --key or TOCSIN_INTEGRATION_KEY\n")
    invalid = cli("integration", "create", "--service", "api", "--kind", "nagios", exit_code=1).stderr
    assert invalid.startswith("error: unknown integration kind 'nagios'; expected one of native, pagerduty")
    generic = cli("integration", "create", "--service", "api", "--kind", "generic", exit_code=1).stderr
    assert "needs mapping.summary" in generic
    made = cli.json("integration", "create", "--service", "api", "--kind", "generic", "--mapping", "summary=$.title")
    assert made["settings"] == {"mapping": {"summary": "$.title"}}
    read_only = cli("rule", "add", "api", "--drop", token=personas.charlie.token, exit_code=1)
    assert read_only.stderr == "error: this needs a token with the write scope; yours has read\n"
    assert "drop" in cli("rule", "add", "api", "--drop", "--severity", "P1", exit_code=1).stderr
    bad_matcher = cli("rule", "add", "api", "--match", "severity", exit_code=1).stderr
    assert "'severity' is not a matcher" in bad_matcher
    assert cli("alert", "show", "99", exit_code=1).stderr == "error: no alert 99 (field: alert)\n"


def test_the_terminal_says_what_is_missing_before_calling_the_server(tmp_path: Path) -> None:
    sender = Sender(f"http://127.0.0.1:{free_port()}", "tcn_whatever", tmp_path)
    no_key = sender("event", "trigger", "--summary", "Test", exit_code=2)
    assert no_key.stderr == "error: no integration key: give --key or set TOCSIN_INTEGRATION_KEY\n"
    no_url = Sender(None, None, tmp_path, integration_key="k" * 32)("event", "resolve", "--dedup-key", "x", exit_code=2)
    assert no_url.stderr == "error: no Tocsin URL configured: set TOCSIN_URL or run `tocsin login --url URL`\n"
    unreachable = sender("event", "trigger", "--key", "k" * 32, "--summary", "Test", exit_code=3)
    assert unreachable.stderr.startswith("error: cannot reach Tocsin at")

    both = sender("maintenance", "add", "--name", "x", exit_code=2)
    assert both.stderr == "error: give --end or --duration (one of them)\n"
    naive = sender("maintenance", "add", "--name", "x", "--start", "2026-11-24T22:00", "--duration", "1h", exit_code=2)
    assert naive.stderr == (
        "error: --start '2026-11-24T22:00' has no time zone: write e.g. 2026-11-24T22:00Z or 2026-11-24T22:00+01:00\n"
    )
    window = sender(
        "integration", "create", "--service", "api", "--kind", "native", "--group-window", "5x", exit_code=2
    )
    assert window.stderr.startswith("error: --group-window: '5x' is not a duration")
    label = sender("event", "trigger", "--key", "k" * 32, "--summary", "x", "--label", "oops", exit_code=2)
    assert label.stderr == "error: --label 'oops': write it as name=value\n"
