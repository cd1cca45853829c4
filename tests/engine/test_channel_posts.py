"""The channel-posts module in the engine's cycle: after the pages, before the deliveries, once per event."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Personas
from tocsin.clock import FrozenClock
from tocsin.config import Settings
from tocsin.engine.channel_posts import ChannelPosts
from tocsin.engine.modules import default_modules
from tocsin.engine.runner import Runner
from tocsin.services import channels, incidents
from tocsin.services.actor import Actor
from tocsin.services.channels import RouteSpec
from tocsin.storage.models import Notification

SYSTEM = Actor.system("tests")


def post_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as db:
        return db.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "post")) or 0


def test_two_engines_running_the_same_cycle_post_each_event_once(
    sessions: sessionmaker[Session], personas: Personas, clock: FrozenClock
) -> None:
    with sessions() as db:
        channels.create_channel(
            db, SYSTEM, clock.now(), name="alerts", kind="email", address="ops@example.com",
            routes=[RouteSpec(["incident.*"])],
        )  # fmt: skip
        db.commit()
    one = Runner(sessions, clock, [ChannelPosts("https://tocsin.example")], holder="one")
    two = Runner(sessions, clock, [ChannelPosts("https://tocsin.example")], holder="two")
    assert one.cycle() == {"channel_posts": 0}
    with sessions() as db:
        incidents.declare(db, SYSTEM, clock.now(), title="Checkout 500s", severity="P1", services=["api"])
        db.commit()
    assert (one.cycle(), two.cycle()) == ({"channel_posts": 1}, {"channel_posts": 0})
    assert post_count(sessions) == 1


def test_the_default_cycle_posts_after_escalations_and_before_deliveries(settings: Settings) -> None:
    names = [module.name for module in default_modules(settings)]
    assert names.index("escalations") < names.index("channel_posts") < names.index("deliveries")
