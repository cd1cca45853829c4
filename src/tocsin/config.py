"""Server settings, read from the environment (`TOCSIN_*`)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path


def _default_instance() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///./tocsin-data/tocsin.db"
    host: str = "127.0.0.1"
    port: int = 8080
    # Server processes behind one port. On SQLite, more than one adds a process that
    # alone commits ingested signals (a SQLite file takes one writer at a time).
    workers: int = 1
    # Ingest and API bodies above this are refused with 413 before they are parsed.
    max_body_bytes: int = 1024 * 1024
    admin_email: str = "admin@localhost"
    log_json: bool = True
    log_level: str = "info"
    engine_enabled: bool = True
    engine_interval_s: float = 5.0
    # Per integration key, per process: sustained events a second, and the burst on top.
    ingest_rate: float = 2000.0
    ingest_burst: int = 4000
    instance_id: str = field(default_factory=_default_instance)
    # Where people reach this server (TOCSIN_PUBLIC_URL): links in pages start with it.
    # Empty means http://{host}:{port}, which is only right when nothing proxies the server.
    public_url: str = ""
    # Outgoing e-mail for e-mail contact methods; without a host, e-mail pages fail with a clear error.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "tocsin@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_security: str = "none"  # none / starttls / tls
    # Set by `tocsin serve --workers N` on SQLite for its HTTP workers: the Unix socket of
    # the one process that commits ingested signals (tocsin.api.ingest_process).
    ingest_socket: str | None = None
    # GitHub sync of action items (docs/postmortems.md): on when a token and a repository are set.
    github_api_url: str = "https://api.github.com"
    github_token: str | None = field(default=None, repr=False)
    github_repo: str | None = None  # owner/name

    def __post_init__(self) -> None:
        base = self.public_url or f"http://{self.host}:{self.port}"
        object.__setattr__(self, "public_url", base.rstrip("/"))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        defaults = cls()
        data_dir = Path(env.get("TOCSIN_DATA_DIR", "./tocsin-data"))
        url = env.get("TOCSIN_DATABASE_URL") or f"sqlite:///{data_dir / 'tocsin.db'}"
        return cls(
            database_url=url,
            host=env.get("TOCSIN_HOST", defaults.host),
            port=int(env.get("TOCSIN_PORT", defaults.port)),
            workers=int(env.get("TOCSIN_WORKERS", defaults.workers)),
            max_body_bytes=int(env.get("TOCSIN_MAX_BODY_BYTES", defaults.max_body_bytes)),
            admin_email=env.get("TOCSIN_ADMIN_EMAIL", defaults.admin_email),
            log_json=env.get("TOCSIN_LOG_FORMAT", "json") == "json",
            log_level=env.get("TOCSIN_LOG_LEVEL", defaults.log_level),
            engine_enabled=env.get("TOCSIN_ENGINE", "on") != "off",
            engine_interval_s=float(env.get("TOCSIN_ENGINE_INTERVAL", defaults.engine_interval_s)),
            ingest_rate=float(env.get("TOCSIN_INGEST_RATE", defaults.ingest_rate)),
            ingest_burst=int(env.get("TOCSIN_INGEST_BURST", defaults.ingest_burst)),
            instance_id=env.get("TOCSIN_INSTANCE_ID") or _default_instance(),
            public_url=env.get("TOCSIN_PUBLIC_URL", ""),
            smtp_host=env.get("TOCSIN_SMTP_HOST") or None,
            smtp_port=int(env.get("TOCSIN_SMTP_PORT", defaults.smtp_port)),
            smtp_from=env.get("TOCSIN_SMTP_FROM", defaults.smtp_from),
            smtp_user=env.get("TOCSIN_SMTP_USER") or None,
            smtp_password=env.get("TOCSIN_SMTP_PASSWORD") or None,
            smtp_security=env.get("TOCSIN_SMTP_SECURITY", defaults.smtp_security),
            ingest_socket=env.get("TOCSIN_INGEST_SOCKET") or None,
            github_api_url=env.get("TOCSIN_GITHUB_API_URL") or defaults.github_api_url,
            github_token=env.get("TOCSIN_GITHUB_TOKEN") or None,
            github_repo=env.get("TOCSIN_GITHUB_REPO") or None,
        )

    @property
    def github_sync(self) -> bool:
        return bool(self.github_token and self.github_repo)
