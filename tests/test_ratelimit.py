"""The sliding window and Retry-After, on a simulated clock."""

from __future__ import annotations

import email.utils

from hypothesis import given, settings
from hypothesis import strategies as st

from malsync.anisearch.ratelimit import parse_retry_after
from malsync.net.pacing import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


@settings(max_examples=50, deadline=None)
@given(
    limit=st.integers(1, 20),
    window=st.floats(0.5, 200),
    latencies=st.lists(st.floats(0, 3), min_size=1, max_size=120),
    history=st.lists(st.floats(0, 300), max_size=30),
)
def test_no_new_request_makes_any_window_hold_more_than_the_limit(
    limit: int, window: float, latencies: list[float], history: list[float]
) -> None:
    clock = Clock()
    earlier = [clock.now - age for age in history]  # an earlier run's requests, from the checkpoint
    limiter = SlidingWindow(limit, window, earlier, clock=clock, sleep=clock.sleep)
    sent: list[float] = []
    for latency in latencies:
        limiter.acquire()
        sent.append(clock.now)
        clock.now += latency
        limiter.record(clock.now)  # counted from its answer, as the uploader does
    everything = earlier + sent
    for moment in sent:
        within = [t for t in everything if moment - window < t <= moment]
        assert len(within) <= limit


@settings(max_examples=50, deadline=None)
@given(
    limit=st.integers(1, 20),
    window=st.floats(0.5, 200),
    latencies=st.lists(st.floats(0, 300), min_size=1, max_size=120),
    history=st.lists(st.floats(0, 300), max_size=30),
)
def test_a_request_is_spaced_from_the_answers_however_late_they_come(
    limit: int, window: float, latencies: list[float], history: list[float]
) -> None:
    """Whenever between its send and its answer the server counted each request, no window
    holds more than the limit: a request goes a full window after the answer `limit` back."""
    clock = Clock()
    earlier = [clock.now - age for age in history]
    limiter = SlidingWindow(limit, window, earlier, clock=clock, sleep=clock.sleep, margin=0.0)
    answered: list[float] = list(earlier)
    for latency in latencies:
        with limiter.request() as sent:
            assert sent == clock.now
            counted_late = [t for t in answered if t > sent - window]
            assert len(counted_late) < limit
            clock.now += latency  # the answer takes this long
        answered.append(clock.now)


def test_full_window_waits_exactly_until_the_oldest_request_leaves() -> None:
    clock = Clock()
    limiter = SlidingWindow(2, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(2):
        limiter.acquire()
        limiter.record(clock.now)
    start = clock.now
    limiter.acquire()
    assert abs(clock.now - (start + 10.0 + limiter.margin)) < 1e-9
    assert limiter.eta(0) == 0.0


def test_history_from_the_checkpoint_is_respected() -> None:
    clock = Clock()
    limiter = SlidingWindow(
        3, 60.0, [clock.now - 1, clock.now - 2, clock.now - 3], clock, clock.sleep
    )
    assert limiter.delay() > 56
    assert limiter.eta(4) >= 57


def test_retry_after_as_seconds_or_http_date() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now) == 90.0
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now) == 0.0
    assert parse_retry_after(None, now) is None
    assert parse_retry_after("soon", now) is None


@settings(max_examples=80, deadline=None)
@given(
    limit=st.integers(1, 20),
    window=st.floats(1, 200),
    remaining=st.integers(1, 90),
    history=st.lists(st.floats(0, 300), max_size=30),
)
def test_eta_is_when_the_last_request_is_actually_sent(
    limit: int, window: float, remaining: int, history: list[float]
) -> None:
    clock = Clock()
    limiter = SlidingWindow(limit, window, [clock.now - age for age in history], clock, clock.sleep)
    start = clock.now
    predicted = limiter.eta(remaining)
    for _ in range(remaining):
        limiter.record(limiter.acquire())  # answers take no time
    waited = clock.now - start
    # the only difference: the small margin each wait adds against clock skew
    assert predicted <= waited + 1e-6
    assert waited <= predicted + (remaining // limit + 1) * limiter.margin + 1e-6


def test_eta_for_a_first_migration_counts_the_window_the_first_batch_fills() -> None:
    limiter = SlidingWindow(100, 120.0, clock=Clock())
    assert limiter.eta(100) == 0.0
    assert limiter.eta(101) == 120.0
    assert limiter.eta(506) == 600.0  # 10 minutes, not 8
