"""Typed dependencies: the database session, the clock, and the authenticated actor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from tocsin.api.ingest import SignalWriter
from tocsin.clock import Clock
from tocsin.config import Settings
from tocsin.domain.access import Scope, scope_allows
from tocsin.errors import Forbidden, Unauthenticated
from tocsin.services import tokens
from tocsin.services.actor import Actor


@dataclass(frozen=True)
class AppState:
    settings: Settings
    clock: Clock
    sessions: sessionmaker[Session]
    # Runs the engine's paging now (after a commit that made a page due); None without an engine.
    wake_engine: Callable[[], None] | None = None


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.tocsin
    return state


State = Annotated[AppState, Depends(app_state)]


def db_session(request: Request, state: State) -> Iterator[Session]:
    """A session per request. Handlers commit before they answer, so a 2xx means
    the change is durable; anything not committed is rolled back here."""
    with state.sessions() as session:
        if request.method not in ("GET", "HEAD"):
            # A rule, window, service or scheme changed here must reach ingestion
            # before the answer does: drop the ingest writer's configuration snapshot
            # as the change commits.
            writer: SignalWriter = request.app.state.ingest_writer
            event.listen(session, "after_commit", lambda _session: writer.config.invalidate())
        yield session


DbSession = Annotated[Session, Depends(db_session)]


def clock(state: State) -> Clock:
    return state.clock


CurrentClock = Annotated[Clock, Depends(clock)]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    return value.strip()


def _authenticate(request: Request, session: Session, now_clock: Clock, needed: Scope) -> Actor:
    actor = tokens.authenticate(session, _bearer(request), now_clock.now())
    if not scope_allows(actor.scope, needed):
        raise Forbidden(f"this needs a token with the {needed.value} scope; yours has {actor.scope.value}")
    # authenticate() stamps last_used_at about once a minute; that small write
    # commits on its own, so a failing handler does not lose it. Otherwise the
    # transaction goes on into the handler: one lock on SQLite, not two.
    if session.dirty:
        session.commit()
    return actor


def reader(request: Request, session: DbSession, now_clock: CurrentClock) -> Actor:
    return _authenticate(request, session, now_clock, Scope.READ)


def writer(request: Request, session: DbSession, now_clock: CurrentClock) -> Actor:
    return _authenticate(request, session, now_clock, Scope.WRITE)


def admin(request: Request, session: DbSession, now_clock: CurrentClock) -> Actor:
    return _authenticate(request, session, now_clock, Scope.ADMIN)


Reader = Annotated[Actor, Depends(reader)]
Writer = Annotated[Actor, Depends(writer)]
Admin = Annotated[Actor, Depends(admin)]
