"""The modules one engine cycle runs, in order."""

from __future__ import annotations

from tocsin.config import Settings
from tocsin.engine.action_item_reminders import ActionItemReminders
from tocsin.engine.action_item_sync import ActionItemSync
from tocsin.engine.channel_posts import ChannelPosts
from tocsin.engine.checks import CheckRetention, CheckSettings
from tocsin.engine.communication import Communication
from tocsin.engine.deliveries import Deliveries
from tocsin.engine.escalations import Escalations
from tocsin.engine.handoffs import Handoffs
from tocsin.engine.heartbeats import Heartbeats
from tocsin.engine.response_targets import ResponseTargets
from tocsin.engine.runner import Module, SelfManaged
from tocsin.engine.status_page_notices import StatusPageNotices
from tocsin.engine.web_sessions import WebSessionPruning


def default_modules(settings: Settings) -> list[Module | SelfManaged]:
    # Targets first: a missed acknowledge target moves the next level up, and the
    # escalations module pages it in the same cycle; deliveries then send those pages
    # and the hand-off notices and channel posts written just before them. Channel
    # posts come after escalations, so an escalation is posted in the cycle it happens.
    # Heartbeats come first: an alert one raises may open an incident paged in the same cycle.
    modules: list[Module | SelfManaged] = [
        Heartbeats(),
        ResponseTargets(),
        Communication(settings.public_url),  # before escalations: an ignored reminder pages this cycle
        Escalations(settings.public_url),
        Handoffs(settings.public_url),
        ChannelPosts(settings.public_url),
        ActionItemReminders(settings.public_url),  # before deliveries: a reminder goes out in its cycle
        Deliveries.from_settings(settings),
        StatusPageNotices.from_settings(settings),
        CheckRetention(CheckSettings.from_env().retention),
        WebSessionPruning(),
    ]
    # GitHub sync of action items only when it is configured.
    sync = ActionItemSync.from_settings(settings)
    if sync is not None:
        modules.append(sync)
    return modules
