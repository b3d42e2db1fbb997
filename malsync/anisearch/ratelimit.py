"""aniSearch's two allowances, as `[limits]` sets them, and what its 429 Retry-After asks.

A real run's windows start with the requests the checkpoint remembers, so that a run right after
another does not go over; a dry run's estimate starts with none.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from enum import Enum
from typing import Protocol

from malsync.config.settings import Limits
from malsync.errors import ServerStop
from malsync.net.pacing import SlidingWindow

log = logging.getLogger(__name__)

# A Retry-After longer than this is not waited out inside a run: the run stops and says when.
_LONGEST_WAIT_SECONDS = 15 * 60


class RateWindow(str, Enum):
    """aniSearch's two allowances; the values are the names the checkpoint stores."""

    UPSERT = "upsert"  # 100 PUT per 2 minutes ([limits] upsert_*)
    READ = "read"  # 10 GET or DELETE per minute ([limits] read_*)


class Limiter(Protocol):
    def delay(self) -> float: ...

    def acquire(self) -> float: ...

    def record(self, at: float) -> None: ...

    def request(self) -> AbstractContextManager[float]: ...

    def hold_until(self, moment: float) -> None: ...

    def hold_for_full_window(self) -> None: ...

    def eta(self, remaining: int) -> float: ...


class CheckpointRequestTimes(Protocol):
    """The part of the checkpoint that says when earlier requests of a window went out."""

    def recent_requests(self, kind: str, seconds: float) -> list[float]: ...


def rate_windows(
    limits: Limits, checkpoint: CheckpointRequestTimes | None = None
) -> dict[RateWindow, SlidingWindow]:
    """One sliding window per allowance, holding the requests `checkpoint` remembers."""

    def window(kind: RateWindow, limit: int, seconds: float) -> SlidingWindow:
        earlier = checkpoint.recent_requests(kind.value, seconds + 1) if checkpoint else []
        return SlidingWindow(limit, seconds, earlier)

    return {
        RateWindow.UPSERT: window(
            RateWindow.UPSERT, limits.upsert_requests, limits.upsert_window_seconds
        ),
        RateWindow.READ: window(RateWindow.READ, limits.read_requests, limits.read_window_seconds),
    }


def time_needed(limiters: Mapping[RateWindow, Limiter], puts: int, others: int) -> float:
    """Seconds the limits alone need for this many more PUTs and GETs or DELETEs."""
    return limiters[RateWindow.UPSERT].eta(puts) + limiters[RateWindow.READ].eta(others)


def respect_retry_after(limiter: Limiter, header: str | None, now: float) -> None:
    """Hold the window after a 429: as long as Retry-After asks (a wait past 15 minutes stops
    the run, saying so), else until our oldest counted request has left it."""
    delay = parse_retry_after(header, now)
    if delay is None:
        log.info("aniSearch answered 429 without Retry-After; waiting for the window")
        limiter.hold_for_full_window()
        return
    if delay > _LONGEST_WAIT_SECONDS:
        raise ServerStop(
            f"aniSearch asks to wait {delay / 60:.0f} minutes before the next request "
            "(429 Retry-After); run the same command again after that."
        )
    log.info("aniSearch answered 429; waiting %.1f s as it asks", delay)
    limiter.hold_until(now + delay)


def parse_retry_after(header: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    from dateutil import parser as date_parser  # for a date, which few servers send

    try:
        moment = date_parser.parse(value)
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return max(0.0, moment.timestamp() - now)
