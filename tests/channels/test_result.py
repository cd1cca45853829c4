"""Delivery results and the backoff between attempts."""

from __future__ import annotations

import random
from datetime import timedelta
from statistics import fmean

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.channels.result import (
    BASE_DELAY,
    MAX_DELAY,
    MAX_RETRY_AFTER,
    DeliveryResult,
    Outcome,
    backoff,
    ceiling_for,
)

attempts = st.integers(min_value=1, max_value=10_000)
retry_afters = st.floats(min_value=0, max_value=MAX_RETRY_AFTER, allow_nan=False)


@given(attempt=attempts, rng=st.randoms(use_true_random=False))
def test_a_backoff_is_never_negative_nor_longer_than_the_cap(attempt: int, rng: random.Random) -> None:
    delay = backoff(attempt, None, rng)
    assert timedelta() <= delay <= MAX_DELAY
    assert delay <= ceiling_for(attempt)


@given(attempt=attempts, retry_after=retry_afters, rng=st.randoms(use_true_random=False))
def test_a_backoff_is_never_sooner_than_the_server_asked(attempt: int, retry_after: float, rng: random.Random) -> None:
    delay = backoff(attempt, retry_after, rng)
    assert delay.total_seconds() >= retry_after - 1e-6  # timedelta keeps microseconds
    assert delay <= max(MAX_DELAY, timedelta(seconds=retry_after))


@given(attempt=attempts)
def test_the_jitter_window_doubles_until_the_cap(attempt: int) -> None:
    assert ceiling_for(attempt) <= ceiling_for(attempt + 1) <= min(MAX_DELAY, 2 * ceiling_for(attempt))
    assert ceiling_for(attempt) >= min(BASE_DELAY, MAX_DELAY)


def test_backoffs_grow_with_attempts_on_average() -> None:
    rng = random.Random(20261123)
    means = [fmean(backoff(n, None, rng).total_seconds() for _ in range(2000)) for n in range(1, 9)]
    assert means == sorted(means)
    assert means[0] == pytest.approx(BASE_DELAY.total_seconds() / 2, rel=0.1)  # full jitter: half the window
    assert means[-1] == pytest.approx(MAX_DELAY.total_seconds() / 2, rel=0.1)


def test_a_huge_retry_after_is_held_to_an_hour() -> None:
    assert backoff(1, 86_400.0, random.Random(1)) == timedelta(seconds=MAX_RETRY_AFTER)


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="attempt"):
        backoff(0)


def test_a_scrubbed_error_shows_no_secret() -> None:
    result = DeliveryResult.retry("https://discord.com/api/webhooks/1/tok3n-secret failed", status=500)
    clean = result.scrubbed("https://discord.com/api/webhooks/1/tok3n-secret", None)
    assert clean.error == "[redacted] failed"
    assert (clean.outcome, clean.status) == (Outcome.RETRY, 500)


def test_errors_are_one_short_line() -> None:
    error = DeliveryResult.permanent("line one\nline two " + "x" * 1000).error
    assert error is not None
    assert "\n" not in error
    assert len(error) <= 300
