"""Run Debian's real Prometheus Alertmanager for tests, and post alerts to it.

Alertmanager listens on 127.0.0.1 only, with clustering off (an empty
`--cluster.listen-address` stops the gossip listener on 0.0.0.0:9094) and its
state in the test's tmp dir. Its timers are cut to fractions of a second so a whole
fire → re-send → resolve story takes a few seconds of real time: Alertmanager
has its own clock, which a test cannot move.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.server import free_port, stop_process

NAMES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, then upstream's


def find_binary() -> Path | None:
    for name in NAMES:
        if found := shutil.which(name):
            return Path(found)
    return None


def config(
    receiver: Mapping[str, Any],
    *,
    group_by: Sequence[str] = ("alertname", "service"),
    group_wait: str = "0s",
    group_interval: str = "500ms",
    repeat_interval: str = "100ms",
    resolve_timeout: str = "5m",
) -> dict[str, Any]:
    """One route to one receiver (`{"name": …, "webhook_configs": […]}` or `pagerduty_configs`).

    A `repeat_interval` below `group_interval` makes Alertmanager re-send each
    firing group at every `group_interval` tick, as it does every 4 h in production. `resolve_timeout` stays long:
    it resolves alerts whose sender stopped re-posting them, and a short one would
    resolve the test's alerts before the test does.
    """
    return {
        "global": {"resolve_timeout": resolve_timeout},
        "route": {
            "receiver": receiver["name"],
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [dict(receiver)],
    }


def alert(
    labels: Mapping[str, str],
    *,
    annotations: Mapping[str, str] | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> dict[str, Any]:
    """An alert for `POST /api/v2/alerts`, as Prometheus sends it; by default it started firing a minute ago.

    An `ends_at` in the past resolves it; without one, Alertmanager resolves it after `resolve_timeout`."""
    body: dict[str, Any] = {
        "labels": dict(labels),
        "annotations": dict(annotations or {}),
        "startsAt": _rfc3339(starts_at or datetime.now(UTC) - timedelta(minutes=1)),
        "generatorURL": "http://prometheus.test:9090/graph?g0.expr=up+%3D%3D+0",
    }
    if ends_at is not None:
        body["endsAt"] = _rfc3339(ends_at)
    return body


def resolved(fired: Mapping[str, Any]) -> dict[str, Any]:
    """The same alert, ended now: what Prometheus posts when the rule stops firing."""
    return {**fired, "endsAt": _rfc3339(datetime.now(UTC))}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Alertmanager:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def post(self, *alerts: Mapping[str, Any]) -> None:
        answer = httpx.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=5)
        assert answer.status_code == 200, f"Alertmanager answered {answer.status_code}: {answer.text}"

    def alerts(self) -> list[dict[str, Any]]:
        """What Alertmanager holds now, with each alert's `status.state` and `fingerprint`."""
        answer = httpx.get(f"{self.url}/api/v2/alerts", timeout=5)
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()
        return found

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        return stop_process(self.process, timeout=10)


def spawn(binary: Path, workdir: Path, settings: Mapping[str, Any], *, timeout: float = 15.0) -> Alertmanager:
    """Write `settings` as the config file, start Alertmanager and wait until it is ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(dict(settings), sort_keys=False))
    log_path = workdir / "alertmanager.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(binary),
        f"--config.file={config_path}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url={url}",
        "--cluster.listen-address=",
        "--log.level=debug",  # each notification and its answer: what a failing test needs to show
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    manager = Alertmanager(url, process, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Alertmanager exited with {process.returncode}:\n{manager.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return manager
        time.sleep(0.05)  # polling a process's start-up
    manager.stop()
    raise RuntimeError(f"Alertmanager did not become ready in {timeout} s:\n{manager.log()}")


@contextlib.contextmanager
def running(binary: Path, workdir: Path, settings: Mapping[str, Any]) -> Iterator[Alertmanager]:
    manager = spawn(binary, workdir, settings)
    try:
        yield manager
    finally:
        manager.stop()
