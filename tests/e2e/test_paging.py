"""Issue 4 end to end: from an alert to a person, with real `tocsin serve` processes.

The config is applied with `tocsin apply -f`, the alert fired with `tocsin
event trigger`, and the pages land on fakes: Discord and Slack webhooks (HTTPS
fakes the server trusts through SSL_CERT_FILE, since Tocsin refuses a Discord
or Slack address that is not https), and aiosmtpd for e-mail. The README's
"Paging: from an alert to a person" walks through the same steps.

Time moves only through the server's clock file. To show that nothing arrives,
a test waits for the engine to run whole cycles after the clock moved
(`tocsin_engine_cycles_total` on /metrics) and then counts what the fakes got.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.channels.samples import Mailbox, SmtpServer
from tests.conftest import IN_CI, START
from tests.support.fake_http import FakeHTTPServer, RecordedRequest
from tests.support.server import ServerProcess, spawn

pytestmark = pytest.mark.slow

Json = dict[str, Any]

ALICE_DISCORD_ID = "80351110224678912"
CHARLIE_DISCORD_ID = "80351110224678913"
MANAGER_SLACK_ID = "U024BE7LH"
ALICE_WEBHOOK = "/api/webhooks/1001/alice-token"
CHARLIE_WEBHOOK = "/api/webhooks/1002/charlie-token"
MANAGER_WEBHOOK = "/services/T000/B000/manager-token"
TITLE = "Checkout is failing"
DEADLINE_S = 15.0  # pages go out within a cycle or two (0.1 s each); this is only the failure bound

# The README's walkthrough config, with the secrets in environment variables.
CONFIG = """
users:
  - email: alice@example.com
    name: Alice
    contact_methods:
      - name: discord
        kind: discord
        address_env: ALICE_DISCORD_WEBHOOK
        mention: "80351110224678912"  # alice's Discord user id: the page pings her
        high_urgency: true
      - {name: mail, kind: email, address: alice@example.com}
    notification_rules:
      - {method: discord, delay: 0s}
      - {method: mail, delay: 2m}
  - {email: bob@example.com, name: Bob}
  - email: charlie@example.com
    name: Charlie
    contact_methods:
      - name: discord
        kind: discord
        address_env: CHARLIE_DISCORD_WEBHOOK
        mention: "80351110224678913"
        high_urgency: true
    notification_rules:
      - {method: discord, delay: 0s}
  - email: manager@example.com
    name: Morgan
    contact_methods:
      - {name: slack, kind: slack, address_env: MANAGER_SLACK_WEBHOOK, mention: U024BE7LH, high_urgency: true}
    notification_rules:
      - {method: slack, delay: 0s}
  - email: cto@example.com
    name: Casey
    contact_methods:
      - {name: mail, kind: email, address: cto@example.com}
    notification_rules:
      - {method: mail, delay: 0s}

schedules:
  - key: primary
    name: Primary on-call
    layers:
      - name: weekly
        kind: weekly
        start: "2026-11-23 09:00"  # a Monday (UTC): alice this week, bob the next
        participants: [alice@example.com, bob@example.com]
  - key: backup
    name: Backup on-call
    layers:
      - name: weekly
        kind: weekly
        start: "2026-11-23 09:00"
        participants: [charlie@example.com]

escalation_policies:
  - key: default
    name: On-call, then manager, then CTO
    levels:
      - {targets: [{schedule: primary}, {schedule: backup}], delay: 5m}
      - {targets: [{user: manager@example.com}], delay: 5m}
      - {targets: [{user: cto@example.com}]}

services:
  - {key: api, name: Public API, escalation_policy: default}

integrations:
  - {service: api, kind: native, key_env: API_INTEGRATION_KEY}
"""


# ---- fakes: HTTPS webhooks and a mailbox ---------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1; the server trusts it through SSL_CERT_FILE."""
    openssl = shutil.which("openssl")
    if openssl is None:
        message = "the paging e2e tests need the openssl program for their HTTPS fakes"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    where = tmp_path_factory.mktemp("tls")
    made = Certificate(where / "cert.pem", where / "key.pem")
    request = "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
    files = ["-keyout", str(made.key), "-out", str(made.cert)]
    subprocess.run([openssl, *request.split(), *files], check=True, capture_output=True)
    return made


class HTTPSFake:
    """A FakeHTTPServer behind TLS, as Discord and Slack are."""

    def __init__(self, certificate: Certificate) -> None:
        self.fake = FakeHTTPServer()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate.cert, certificate.key)
        # Nobody knows the port yet, so no request can arrive before the socket is wrapped;
        # the wrapped socket keeps the descriptor the serving thread watches.
        server = self.fake._server
        server.socket = context.wrap_socket(server.socket, server_side=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.fake.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.fake.requests

    def wait_for(self, count: int) -> list[RecordedRequest]:
        return self.fake.wait_for_requests(count, timeout=DEADLINE_S)

    def close(self) -> None:
        self.fake.close()


def mails(mailbox: SmtpServer) -> list[tuple[list[str], EmailMessage]]:
    return [(recipients, mail) for _, recipients, mail in list(mailbox.mailbox.received)]


def wait_for_mails(mailbox: SmtpServer, count: int) -> list[tuple[list[str], EmailMessage]]:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        got = mails(mailbox)
        if len(got) >= count:
            return got
        time.sleep(0.05)  # polling aiosmtpd's thread, not waiting on the clock
    raise TimeoutError(f"expected {count} mails within {DEADLINE_S} s, got {len(mails(mailbox))}")


def plain_text(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


# ---- the scene: servers on one database, the CLI, the API ------------------------------------


@dataclass
class Paging:
    db_url: str
    workdir: Path
    discord: HTTPSFake
    slack: HTTPSFake
    mailbox: SmtpServer
    env: dict[str, str]
    stack: ExitStack
    servers: list[ServerProcess] = field(default_factory=list)
    token: str = ""

    @property
    def server(self) -> ServerProcess:
        return self.servers[-1]

    def start(self, name: str) -> ServerProcess:
        now = self.servers[-1].now if self.servers else START
        clock_file = self.workdir / "clock"
        clock_file.write_text(now.isoformat())
        server = spawn(self.db_url, self.workdir, clock_file, now, name=name, env_extra=self.env)
        self.stack.callback(server.stop)
        self.servers.append(server)
        return server

    def cli(self, *args: str, server: ServerProcess | None = None) -> str:
        """Run `tocsin …` as a user would; the output, after asserting it succeeded."""
        env = {**os.environ, **self.env, "TOCSIN_DATABASE_URL": self.db_url, "HOME": str(self.workdir)}
        if self.servers:
            target = server or self.server
            env |= {
                "TOCSIN_URL": target.url,
                "TOCSIN_TOKEN": self.token,
                "TOCSIN_TEST_CLOCK_FILE": str(target.clock_file),
            }
        done = subprocess.run(
            [sys.executable, "-m", "tocsin", *args], env=env, cwd=self.workdir, capture_output=True, text=True
        )
        assert done.returncode == 0, f"tocsin {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def log_in(self) -> None:
        printed = self.cli("token", "create", "--user", "root@example.com", "--scope", "admin")
        found = re.search(r"tcn_\S+", printed)
        assert found, printed
        self.token = found.group(0)

    def incident(self, human_id: str) -> Json:
        answer = httpx.get(
            f"{self.server.url}/api/v1/incidents/{human_id}", headers={"Authorization": f"Bearer {self.token}"}
        )
        answer.raise_for_status()
        body: Json = answer.json()
        return body

    def incidents(self, server: ServerProcess | None = None) -> list[Json]:
        answer = httpx.get(
            f"{(server or self.server).url}/api/v1/incidents",
            params={"status": "all", "limit": "100"},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        answer.raise_for_status()
        items: list[Json] = answer.json()["items"]
        return items

    def engine_cycles(self, server: ServerProcess) -> float:
        metrics = httpx.get(f"{server.url}/metrics").text
        found = re.search(r"^tocsin_engine_cycles_total (\S+)$", metrics, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def settle(self, cycles: int = 3) -> None:
        """Wait until every server ran `cycles` more engine cycles: the last ones began after the
        clock last moved, so whatever was due is paged and sent by now."""
        for server in self.servers:
            if server.process.poll() is not None:
                continue
            wanted = self.engine_cycles(server) + cycles
            deadline = time.monotonic() + DEADLINE_S
            while self.engine_cycles(server) < wanted:
                assert time.monotonic() < deadline, f"the engine stopped cycling:\n{server.log()[-4000:]}"
                time.sleep(0.05)  # polling the engine of a real process

    def advance(self, delta: timedelta) -> None:
        self.server.advance(delta)


@pytest.fixture
def paging(db_url: str, tmp_path: Path, certificate: Certificate) -> Iterator[Paging]:
    with ExitStack() as stack:
        discord, slack = HTTPSFake(certificate), HTTPSFake(certificate)
        stack.callback(discord.close)
        stack.callback(slack.close)
        mailbox = stack.enter_context(SmtpServer(Mailbox()))
        env = {
            "SSL_CERT_FILE": str(certificate.cert),
            "TOCSIN_SMTP_HOST": "127.0.0.1",
            "TOCSIN_SMTP_PORT": str(mailbox.port),
            "TOCSIN_SMTP_FROM": "tocsin@ops.example.com",
            "ALICE_DISCORD_WEBHOOK": discord.url + ALICE_WEBHOOK,
            "CHARLIE_DISCORD_WEBHOOK": discord.url + CHARLIE_WEBHOOK,
            "MANAGER_SLACK_WEBHOOK": slack.url + MANAGER_WEBHOOK,
            "API_INTEGRATION_KEY": secrets.token_hex(16),
        }
        scene = Paging(db_url, tmp_path, discord, slack, mailbox, env, stack)
        # Stopped before the fakes close (an ExitStack unwinds last in, first out).
        yield scene


def configure(scene: Paging, config: str = CONFIG) -> str:
    path = scene.workdir / "tocsin.yaml"
    path.write_text(config)
    return scene.cli("apply", "-f", str(path))


def verify(scene: Paging, *people: str) -> None:
    """Test each person's contact methods, as `tocsin notify test` does (through the API here, to
    save a process start each): a test that arrives verifies the method, and escalations page only
    verified ones. The fakes are emptied afterwards."""
    headers = {"Authorization": f"Bearer {scene.token}"}
    ids: list[int] = []
    for email in people:
        answer = httpx.post(f"{scene.server.url}/api/v1/users/{email}/notify-test", headers=headers)
        assert answer.status_code == 201, answer.text
        ids += answer.json()["ids"]
    deadline = time.monotonic() + DEADLINE_S
    while True:
        params = {"ids": ",".join(map(str, ids))}
        listed = httpx.get(f"{scene.server.url}/api/v1/notifications", params=params, headers=headers)
        statuses = [item["status"] for item in listed.json()]
        if len(statuses) == len(ids) and set(statuses) == {"sent"}:
            break
        assert time.monotonic() < deadline, f"test notifications not sent: {listed.text}"
        time.sleep(0.05)  # polling the engine of a real process
    scene.discord.fake.clear()
    scene.slack.fake.clear()
    scene.mailbox.mailbox.received.clear()


def trigger(scene: Paging) -> str:
    """Fire the test alert as the README does; the human id of the incident it opened."""
    key = scene.env["API_INTEGRATION_KEY"]
    scene.cli("event", "trigger", "--key", key, "--summary", TITLE, "--severity", "critical")
    [incident] = scene.incidents()
    assert (incident["status"], incident["severity"]) == ("triggered", "P1")
    return str(incident["human_id"])


def by_route(fake: HTTPSFake, route: str) -> list[Json]:
    return [request.json() for request in fake.requests if request.route == route]


def ack_link(discord_page: Json) -> str:
    found = re.search(r"\[Acknowledge\]\((\S+?)\)", discord_page["embeds"][0]["description"])
    assert found, discord_page
    return found.group(1)


def counts(scene: Paging) -> tuple[int, int, int]:
    return len(scene.discord.requests), len(scene.slack.requests), len(mails(scene.mailbox))


# ---- the scenario -----------------------------------------------------------------------------


def test_an_alert_pages_on_call_then_manager_until_alice_acknowledges_from_the_link(paging: Paging) -> None:
    paging.start("server")
    paging.log_in()
    applied = configure(paging)
    assert "alice@example.com" in applied
    assert "ALICE_DISCORD_WEBHOOK" in applied
    assert "alice-token" not in applied  # the plan masks the secret part of a webhook URL

    # Before the contact methods are tested nobody on call can be woken, and readiness says so.
    assert "alice@example.com" in paging.cli("readiness")

    tested = paging.cli("notify", "test", "alice@example.com")
    [test_page] = paging.discord.wait_for(1)
    assert (test_page.route, test_page.json()["embeds"][0]["title"]) == (ALICE_WEBHOOK, "Test: Test notification")
    [(to, test_mail)] = wait_for_mails(paging.mailbox, 1)
    assert (to, test_mail["Subject"]) == (["alice@example.com"], "Test: Test notification")
    assert "discord" in tested
    assert "mail" in tested
    verify(paging, "alice@example.com", "charlie@example.com", "manager@example.com", "cto@example.com")
    assert "alice@example.com" not in paging.cli("readiness")

    human_id = trigger(paging)
    headline = f"[P1] {human_id} {TITLE}"

    # Level 1 at once: the primary (alice) and the backup (charlie) on Discord, each pinged by id.
    paging.discord.wait_for(2)
    [alice_page] = by_route(paging.discord, ALICE_WEBHOOK)
    [charlie_page] = by_route(paging.discord, CHARLIE_WEBHOOK)
    assert alice_page["content"] == f"<@{ALICE_DISCORD_ID}> {headline}"
    assert alice_page["allowed_mentions"] == {"parse": [], "users": [ALICE_DISCORD_ID]}
    assert alice_page["embeds"][0]["title"] == headline
    assert charlie_page["content"] == f"<@{CHARLIE_DISCORD_ID}> {headline}"
    link = ack_link(alice_page)
    assert link.startswith(f"{paging.server.url}/ack/")
    assert ack_link(charlie_page) != link  # one link per person paged
    paging.settle()
    assert counts(paging) == (2, 0, 0)  # alice's e-mail waits two minutes, the manager five

    paging.advance(timedelta(minutes=2))
    [(to, page_mail)] = wait_for_mails(paging.mailbox, 1)
    assert (to, page_mail["Subject"]) == (["alice@example.com"], headline)
    assert f"Acknowledge: {link}" in plain_text(page_mail)  # the same link as on Discord
    paging.settle()
    assert counts(paging) == (2, 0, 1)

    # Five minutes after level 1, nobody acknowledged: the manager on Slack.
    paging.advance(timedelta(minutes=3))
    [manager_request] = paging.slack.wait_for(1)
    manager_page = manager_request.json()
    assert manager_request.route == MANAGER_WEBHOOK
    assert manager_page["text"] == f"<@{MANAGER_SLACK_ID}> {headline}"
    [actions] = [block for block in manager_page["blocks"] if block["type"] == "actions"]
    assert actions["elements"][0]["text"]["text"] == "Acknowledge"
    assert actions["elements"][0]["url"].startswith(f"{paging.server.url}/ack/")

    # Alice acknowledges from the link in her Discord page (the GET only asks, the POST acts).
    asked = httpx.get(link)
    assert asked.status_code == 200
    assert "Acknowledge as Alice" in asked.text
    assert paging.incident(human_id)["status"] == "triggered"
    answered = httpx.post(link)
    assert answered.status_code == 200
    assert f"Acknowledged {human_id} as alice" in answered.text
    acknowledged = paging.incident(human_id)
    assert acknowledged["status"] == "acknowledged"
    assert acknowledged["acknowledged_at"] is not None
    assert httpx.post(link).status_code == 410  # single use

    # The CTO's level would have been due five minutes after the manager's: nobody else is paged.
    paging.advance(timedelta(minutes=10))
    paging.settle()
    assert counts(paging) == (2, 1, 1)
    assert all(to == ["alice@example.com"] for to, _ in mails(paging.mailbox))

    oncall = paging.cli("oncall")
    assert re.search(r"primary.*alice@example\.com", oncall, re.IGNORECASE | re.DOTALL), oncall
    assert re.search(r"backup.*charlie@example\.com", oncall, re.IGNORECASE | re.DOTALL), oncall


def test_a_restart_in_the_middle_of_an_escalation_continues_where_it_was(paging: Paging) -> None:
    first = paging.start("server")
    paging.log_in()
    configure(paging)
    verify(paging, "alice@example.com", "charlie@example.com", "manager@example.com", "cto@example.com")
    trigger(paging)
    paging.discord.wait_for(2)  # level 1: alice and charlie
    paging.settle()
    assert counts(paging) == (2, 0, 0)

    assert first.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it has shut down
    assert "Application shutdown complete" in first.log()
    first.advance(timedelta(minutes=5))  # while no server runs: alice's e-mail and level 2 fall due
    paging.start("server-2")

    # Level 2 once; level 1 not again; alice's e-mail, planned before the restart, sent once.
    [manager_page] = paging.slack.wait_for(1)
    assert manager_page.route == MANAGER_WEBHOOK
    [(to, _)] = wait_for_mails(paging.mailbox, 1)
    assert to == ["alice@example.com"]
    paging.settle()
    assert counts(paging) == (2, 1, 1)
    assert sorted(request.route for request in paging.discord.requests) == sorted([ALICE_WEBHOOK, CHARLIE_WEBHOOK])
    [incident] = paging.incidents()
    assert incident["status"] == "triggered"


def test_the_readme_walkthrough_applies_this_config() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.partition("### Paging: from an alert to a person")[2]
    found = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert found, "the README lost its paging walkthrough"
    assert found.group(1).strip() == CONFIG.strip()


# ---- two processes, one PostgreSQL ------------------------------------------------------------

INCIDENTS = 20
SINK = "/hooks/pages"

SHARED_CONFIG = """
users:
  - email: oncall@example.com
    name: On call
    contact_methods:
      - {name: hook, kind: webhook, address_env: PAGE_SINK}
    notification_rules:
      - {method: hook, delay: 0s}
  - email: lead@example.com
    name: Lead
    contact_methods:
      - {name: hook, kind: webhook, address_env: PAGE_SINK}
    notification_rules:
      - {method: hook, delay: 0s}

escalation_policies:
  - key: default
    levels:
      - {targets: [{user: oncall@example.com}], delay: 5m}
      - {targets: [{user: lead@example.com}]}

services:
  - {key: api, name: Public API, escalation_policy: default}

integrations:
  # Each host its own incident: group by host, no time window.
  - {service: api, kind: native, key_env: API_INTEGRATION_KEY, settings: {group_by: [host], group_window: 0}}
"""


def test_two_servers_on_one_postgresql_send_every_page_exactly_once(paging: Paging, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("two processes share a database only on PostgreSQL (SQLite has one writing process)")
    sink = paging.stack.enter_context(FakeHTTPServer())
    paging.env["PAGE_SINK"] = sink.url + SINK
    one, two = paging.start("server-a"), paging.start("server-b")
    paging.log_in()
    configure(paging, SHARED_CONFIG)
    verify(paging, "oncall@example.com", "lead@example.com")
    sink.clear()

    key = paging.env["API_INTEGRATION_KEY"]
    for n in range(INCIDENTS):
        event = {
            "action": "trigger",
            "summary": f"Host {n:02d} down",
            "severity": "critical",
            "labels": {"host": f"h{n:02d}"},
        }
        answer = httpx.post(f"{(one, two)[n % 2].url}/api/v1/events/{key}", json=event)
        assert answer.status_code == 202, answer.text

    sink.wait_for_requests(INCIDENTS, timeout=DEADLINE_S)
    paging.settle()
    assert len(sink.requests) == INCIDENTS
    two.advance(timedelta(minutes=5))  # one clock file for both: level 2 of every incident is due
    sink.wait_for_requests(2 * INCIDENTS, timeout=DEADLINE_S)
    paging.settle()

    requests = sink.requests
    deliveries = [request.header("X-Tocsin-Delivery") for request in requests]
    assert None not in deliveries
    assert len(set(deliveries)) == len(deliveries) == 2 * INCIDENTS
    pages = sorted(
        (page["incident"], dict((f["name"], f["value"]) for f in page["fields"])["Escalation"])
        for page in (r.json() for r in requests)
    )
    human_ids = {incident["human_id"] for incident in paging.incidents()}
    assert len(human_ids) == INCIDENTS
    assert pages == sorted((human_id, f"level {level} of default") for human_id in human_ids for level in (1, 2))
    # Every attempt either process made is one of these pages or one of the two tests: none was repeated.
    attempts = sum(server.log().count('"event": "notification_attempt"') for server in (one, two))
    assert attempts == 2 * INCIDENTS + 2
