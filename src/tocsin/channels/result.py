"""The outcome of one delivery attempt, and when to make the next one.

ok          delivered; the notification is sent
retry       may work later (rate limit, 5xx, timeout, refused connection):
            schedule another attempt `backoff()` from now, up to the
            engine's attempt limit
permanent   will not work until someone changes the channel (deleted or
            mistyped webhook, rejected address): fail now and show `error`
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

BASE_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(minutes=10)
# A Retry-After larger than this is treated as this: a page held for a day helps nobody,
# and the attempt limit ends it sooner anyway.
MAX_RETRY_AFTER = 3600.0
_MAX_ERROR = 300


class Outcome(StrEnum):
    OK = "ok"
    RETRY = "retry"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class DeliveryResult:
    """`status` is the HTTP status or SMTP reply code when the far end answered.

    `error` is shown to users and stored: adapters never put the address of a
    webhook in it (the URL is the credential), and `registry.send` scrubs it
    again to be sure.
    """

    outcome: Outcome
    status: int | None = None
    retry_after: float | None = None  # seconds, only when the far end said so
    error: str | None = None

    @classmethod
    def ok(cls, status: int | None = None) -> DeliveryResult:
        return cls(Outcome.OK, status)

    @classmethod
    def retry(cls, error: str, *, status: int | None = None, retry_after: float | None = None) -> DeliveryResult:
        return cls(Outcome.RETRY, status, retry_after, _short(error))

    @classmethod
    def permanent(cls, error: str, *, status: int | None = None) -> DeliveryResult:
        return cls(Outcome.PERMANENT, status, None, _short(error))

    @property
    def delivered(self) -> bool:
        return self.outcome is Outcome.OK

    def scrubbed(self, *secrets: str | None) -> DeliveryResult:
        """The same result with every secret in `error` replaced by `[redacted]`.

        Values shorter than 8 characters are left alone: no real secret is
        that short, and replacing "a" everywhere would garble the text.
        """
        if self.error is None:
            return self
        error = self.error
        for secret in secrets:
            if secret and len(secret) >= 8:
                error = error.replace(secret, "[redacted]")
        return DeliveryResult(self.outcome, self.status, self.retry_after, error)


def backoff(attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> timedelta:
    """How long to wait after failed attempt number `attempt` (1 for the first).

    Exponential with full jitter: uniform between 0 and min(MAX_DELAY,
    BASE_DELAY * 2^(attempt-1)), so retries from many notifications that
    failed together (a webhook host was down) spread out instead of arriving
    together. A server's Retry-After is a floor: never sooner than it asked.
    """
    if attempt < 1:
        raise ValueError(f"attempt: counts from 1, not {attempt}")
    ceiling = ceiling_for(attempt).total_seconds()
    delay = (rng or random).uniform(0.0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(max(retry_after, 0.0), MAX_RETRY_AFTER))
    return timedelta(seconds=delay)


def ceiling_for(attempt: int) -> timedelta:
    """The upper end of the jitter window after attempt number `attempt`."""
    # 2^20 * 5 s is far past the cap already; stopping there keeps the number small.
    doublings: int = min(max(attempt - 1, 0), 20)
    return min(MAX_DELAY, BASE_DELAY * (1 << doublings))


def _short(error: str) -> str:
    error = " ".join(error.split())
    return error if len(error) <= _MAX_ERROR else error[: _MAX_ERROR - 1] + "…"
