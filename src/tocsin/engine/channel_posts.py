"""Engine module: post incident events and changes to the team channels whose routes match
(notification rows; the deliveries module sends them)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from tocsin.clock import Clock
from tocsin.services import channel_posts


class ChannelPosts:
    name = "channel_posts"

    def __init__(
        self,
        public_url: str,
        batch: int = channel_posts.BATCH,
        pages: int = channel_posts.PAGES,
        settle: timedelta = channel_posts.SETTLE,
    ) -> None:
        self.public_url = public_url
        self.batch = batch
        self.pages = pages
        self.settle = settle

    def run(self, session: Session, clock: Clock) -> int:
        cycle = channel_posts.post_due(
            session, clock.now(), public_url=self.public_url, batch=self.batch, pages=self.pages, settle=self.settle
        )
        return cycle.posts
