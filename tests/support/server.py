"""Start real `tocsin serve` processes for tests, with a clock the test controls."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx

# Below the kernel's ephemeral range (32768-60999 on Linux), which bind(("…", 0)) and every
# outgoing connection draw from: a port picked here and left free until the test's server
# binds it is not handed meanwhile to another socket of this run or of a parallel worker.
PORTS = range(20_000, 32_768)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing holds now, for a server a test starts (or for a
    connection that must be refused), picked at random so parallel workers seldom meet."""
    for _ in range(100):
        port = PORTS[secrets.randbelow(len(PORTS))]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {PORTS}")


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> int:
    """Terminate, wait, and kill if it will not go: a test never leaves a process behind."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


@dataclass
class ServerProcess:
    url: str
    clock_file: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    now: datetime
    extra: dict[str, str] = field(default_factory=dict)

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        # Written aside and renamed: the server reads the file at any moment and
        # must never see it empty or half-written.
        staged = self.clock_file.with_suffix(".next")
        staged.write_text(self.now.isoformat())
        os.replace(staged, self.clock_file)
        return self.now

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        return stop_process(self.process, timeout=15)


def spawn(
    db_url: str,
    workdir: Path,
    clock_file: Path,
    now: datetime,
    *,
    name: str = "server",
    env_extra: dict[str, str] | None = None,
    wait: bool = True,
) -> ServerProcess:
    port = free_port()
    log_path = workdir / f"{name}.log"
    env = {
        **os.environ,
        "TOCSIN_DATABASE_URL": db_url,
        "TOCSIN_PORT": str(port),
        "TOCSIN_TEST_CLOCK_FILE": str(clock_file),
        "TOCSIN_ENGINE_INTERVAL": "0.1",
        "TOCSIN_INSTANCE_ID": name,
        "TOCSIN_ADMIN_EMAIL": "root@example.com",
        **(env_extra or {}),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", clock_file, process, log_path, now)
    if wait:
        try:
            wait_ready(server)
        except BaseException:
            server.stop()  # a server that never got ready must not outlive the test
            raise
    return server


def wait_ready(server: ServerProcess, timeout: float = 60.0) -> None:
    """Until /readyz answers: seconds when idle, far longer while two xdist workers and other
    runs share the cores (`tocsin serve --workers 2` imports the app in three processes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"tocsin serve exited with {server.process.returncode}:\n{server.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)  # polling a process's start-up, not waiting on the clock
    raise RuntimeError(f"tocsin serve did not become ready:\n{server.log()}")


@contextlib.contextmanager
def start_server(db_url: str, workdir: Path, now: datetime, **kwargs: object) -> Iterator[ServerProcess]:
    clock_file = workdir / "clock"
    clock_file.write_text(now.isoformat())
    server = spawn(db_url, workdir, clock_file, now, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
