"""Shared fixtures: both databases, the frozen clock, personas, API clients, a real server.

Every test that touches the database runs twice, on SQLite and on PostgreSQL.
PostgreSQL comes from TOCSIN_TEST_PG_URL (scripts/test-postgres starts Debian's
server and prints it); each pytest run works in a database of its own, made from
that URL's and dropped at the end, so two runs at once (CI beside a developer's
loop) never truncate each other's tables. Without one, PostgreSQL runs are skipped locally and
fail under CI=true, so a CI without its database cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog
from argon2 import PasswordHasher, profiles
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from tests.support.server import ServerProcess, start_server
from tocsin.app import create_app
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.services import bootstrap, directory, passwords, tokens
from tocsin.services.actor import Actor
from tocsin.storage import migrate
from tocsin.storage.db import make_engine, make_sessionmaker
from tocsin.storage.models import Base

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PG_URL = os.environ.get("TOCSIN_TEST_PG_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = [b.strip() for b in os.environ.get("TOCSIN_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
# The hasher Tocsin ships (argon2id at RFC 9106's low-memory profile: 64 MiB, a third of a
# second a hash on a busy machine), kept for tests/services/test_passwords.py.
PRODUCTION_HASHER = passwords._hasher


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: starts server processes")
    config.addinivalue_line("markers", "xdist_group(name): run on one pytest-xdist worker, one after another")
    # structlog's default renders tracebacks with Rich, locals and all: seconds per
    # logged exception. Plain tracebacks, still printed where pytest captures them.
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback),
        ]
    )
    # In this process, passwords hash with argon2id at its cheapest: the web tests set three
    # personas' passwords and log in, hundreds of times. Verifying reads the parameters from
    # the hash, so a `tocsin serve` the tests start still checks them (and hashes its own
    # first-start password with the real ones).
    passwords._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`), the end-to-end tests
    (tests/e2e: several real processes each, Alertmanager, Chromium) run one after another
    on one worker, as do the few others marked xdist_group("e2e"), while the other worker
    takes the rest. Two of them at once on two cores starve each other's servers past the
    deadlines they poll to on the real clock."""
    e2e = Path(__file__).parent / "e2e"
    for item in items:
        if item.path.is_relative_to(e2e):
            item.add_marker(pytest.mark.xdist_group("e2e"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (faster than migrating per test)."""
    path = tmp_path_factory.mktemp("template") / "tocsin.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with make_sessionmaker(engine)() as session:
        bootstrap.ensure_defaults(session)
        session.commit()
    engine.dispose()
    # Fold the WAL into the main file so a plain file copy carries everything.
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """This run's own PostgreSQL database, made next to TOCSIN_TEST_PG_URL's."""
    if not PG_URL:
        message = "PostgreSQL tests need TOCSIN_TEST_PG_URL (run `make test`, which starts PostgreSQL)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    base = make_url(PG_URL)
    name = f"{base.database}_{os.getpid()}"
    admin = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    # The reset between tests DELETEs (_reset_postgres). Without a vacuum, rows mostly come
    # back from a table in the order they went in, as after the TRUNCATE it replaced; but
    # page pruning can still reuse a deleted row's slot, so a test that asserts a list must
    # ORDER BY (two audit-trail tests did not, and failed once each under xdist).
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            connection.execute(text(f'ALTER TABLE "{table.name}" SET (autovacuum_enabled = false)'))
    yield engine
    engine.dispose()


def _reset_postgres(engine: Engine) -> None:
    """Empty what the last test filled and restart the sequences it used.

    As TRUNCATE … RESTART IDENTITY of every table would, at a fraction of the cost: a
    TRUNCATE makes new files for each table and index (seconds for all of them on a busy
    machine), while most tests touch a few tables. DELETE in a session that skips the
    foreign-key triggers (the role is a superuser) empties those in any order."""
    tables = [t.name for t in Base.metadata.sorted_tables]  # the models' names, not input
    any_rows = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT FROM \"{name}\")" for name in tables)  # noqa: S608
    with engine.begin() as connection:
        statements = [f'DELETE FROM "{name}"' for name in connection.execute(text(any_rows)).scalars()]  # noqa: S608
        if statements:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for statement in statements:
                connection.execute(text(statement))
        connection.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false)"
                " FROM pg_sequences WHERE last_value IS NOT NULL"
            )
        )
    with make_sessionmaker(engine)() as session:
        bootstrap.ensure_defaults(session)
        session.commit()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "tocsin.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    engine: Engine = request.getfixturevalue("pg_engine")
    _reset_postgres(engine)
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(db_url: str, backend: str, request: pytest.FixtureRequest) -> Iterator[Engine]:
    if backend == "postgresql":
        yield request.getfixturevalue("pg_engine")
        return
    created = make_engine(db_url)
    yield created
    created.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as opened:
        yield opened


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@dataclass(frozen=True)
class Persona:
    email: str
    name: str
    token: str
    actor: Actor

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Personas:
    """Alice administers Tocsin, Bob responds to incidents, Charlie only reads."""

    alice: Persona
    bob: Persona
    charlie: Persona


@pytest.fixture
def personas(sessions: sessionmaker[Session], clock: FrozenClock) -> Personas:
    system = Actor.system("tests")
    made: dict[str, Persona] = {}
    with sessions() as db:
        for key, name, role, scope in (
            ("alice", "Alice Admin", "admin", "admin"),
            ("bob", "Bob Responder", "responder", "write"),
            ("charlie", "Charlie Viewer", "viewer", "read"),
        ):
            email = f"{key}@example.com"
            directory.create_user(db, system, clock.now(), email=email, name=name, role=role)
            issued = tokens.create(db, system, clock.now(), user_email=email, name="tests", scope=scope)
            actor = tokens.authenticate(db, issued.secret, clock.now())
            made[key] = Persona(email, name, issued.secret, actor)
        directory.create_team(
            db, system, clock.now(), key="platform", name="Platform", members=["alice@example.com", "bob@example.com"]
        )
        directory.create_service(db, system, clock.now(), key="api", name="Public API", team="platform")
        directory.create_service(db, system, clock.now(), key="web", name="Web app", team="platform")
        db.commit()
    return Personas(**made)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, max_body_bytes=64 * 1024, engine_enabled=False)


@pytest.fixture
def client(settings: Settings, clock: FrozenClock, sessions: sessionmaker[Session]) -> Iterator[TestClient]:
    """The app in-process: fast, shares the frozen clock with the test."""
    with TestClient(create_app(settings, clock, sessions), raise_server_exceptions=True) as test_client:
        yield test_client


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A real `tocsin serve` process on this test's database, its clock in a file the test moves."""
    with start_server(db_url, tmp_path, START) as process:
        yield process
