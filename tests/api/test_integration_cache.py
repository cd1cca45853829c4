"""The integration cache: key → integration for a few seconds, one lookup at a time."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.api.ingest import IntegrationCache
from tocsin.clock import FrozenClock
from tocsin.services import integrations
from tocsin.services.actor import Actor
from tocsin.services.integrations import IntegrationRef, hash_key


class CountingCache(IntegrationCache):
    """Counts its database lookups; each waits until the test lets it finish."""

    def __init__(self, sessions: sessionmaker[Session], ttl: float = 5.0) -> None:
        super().__init__(sessions, ttl)
        self.loads = 0
        self.release = threading.Event()

    def _load(self, key: str) -> IntegrationRef | None:
        self.loads += 1
        assert self.release.wait(10)
        return super()._load(key)


def native_key(sessions: sessionmaker[Session], clock: FrozenClock) -> tuple[str, int]:
    """A committed native integration's key (shown once, at creation) and id."""
    with sessions() as db:
        created = integrations.create(db, Actor.system(), clock.now(), service_key="api", kind="native")
        db.commit()
        return created.key, created.row.id


def test_requests_that_miss_together_share_one_lookup(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    key, integration_id = native_key(sessions, clock)
    cache = CountingCache(sessions)

    async def storm() -> list[IntegrationRef | None]:
        waiting = [asyncio.ensure_future(cache.get(key)) for _ in range(20)]
        await asyncio.sleep(0)  # every request has asked and is waiting now
        cache.release.set()
        return await asyncio.gather(*waiting)

    found = asyncio.run(storm())
    assert cache.loads == 1
    assert {ref.id if ref else None for ref in found} == {integration_id}
    # Within the ttl the next request needs no lookup at all.
    assert asyncio.run(cache.get(key)) is not None
    assert cache.loads == 1


def test_a_request_that_goes_away_does_not_cancel_the_lookup_the_others_wait_for(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    key, integration_id = native_key(sessions, clock)
    cache = CountingCache(sessions)

    async def one_leaves() -> IntegrationRef | None:
        first = asyncio.ensure_future(cache.get(key))
        second = asyncio.ensure_future(cache.get(key))
        await asyncio.sleep(0)
        first.cancel()  # the client that started the lookup disconnected
        await asyncio.sleep(0)
        cache.release.set()
        return await second

    found = asyncio.run(one_leaves())
    assert found is not None
    assert found.id == integration_id
    assert cache.loads == 1


def test_an_expired_entry_is_looked_up_again(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    key, _ = native_key(sessions, clock)
    cache = CountingCache(sessions, ttl=0)
    cache.release.set()
    for _ in range(2):
        assert asyncio.run(cache.get(key)) is not None
    assert cache.loads == 2
    assert hash_key(key) not in cache._loading
