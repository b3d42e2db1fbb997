"""Pacing: client-side sliding windows, so that no service malsync talks to sees a burst, and
the countdown a wait is slept in.

aniSearch's two allowances (`anisearch.ratelimit`) are windows of 100 and 10 requests; MAL's
pace is a window of one request per `pace_seconds`. Both count each request from when it is sent
until its answer is back, and from its answer after that (`SlidingWindow.request`).
"""

from __future__ import annotations

import bisect
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Told of every wait as it runs down: (seconds left, why); 0 seconds left when it is over.
WaitListener = Callable[[float, str], None]


class SlidingWindow:
    """At most `limit` requests in any `window` seconds.

    A sliding window is safe whatever window the server counts in: if no interval of `window`
    seconds holds more than `limit` requests, no fixed window can either. Times are wall-clock
    seconds, so that they can be stored in the checkpoint and respected by the next run.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        history: Iterable[float] = (),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        margin: float | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        # The server counts arrival times, which we cannot see; a small margin absorbs the
        # difference between its clock and ours.
        self.margin = min(0.25, window * 0.002) if margin is None else margin
        self._clock = clock
        self._sleep = sleep
        self._times: deque[float] = deque(sorted(history)[-limit:])
        self._not_before = 0.0

    def _forget_old(self, now: float) -> None:
        if self._times and self._times[-1] > now:
            # Counted ahead of now: the clock went back. Counted as sent now, they hold the
            # window for one window at most, not until the clock catches up.
            self._times = deque(min(at, now) for at in self._times)
        while self._times and self._times[0] <= now - self.window - self.margin:
            self._times.popleft()

    def delay(self) -> float:
        """Seconds to wait before the next request is allowed."""
        now = self._clock()
        self._forget_old(now)
        wait = max(0.0, self._not_before - now)
        if len(self._times) >= self.limit:
            wait = max(wait, self._times[0] + self.window + self.margin - now)
        return wait

    def acquire(self) -> float:
        """Wait until a request is allowed and return the time it may be sent."""
        while (wait := self.delay()) > 0:
            self._sleep(wait)
        return self._clock()

    def record(self, at: float) -> None:
        """Count a request that was sent (or completed) at `at`; `request` counts one of ours."""
        self._times.append(at)
        while len(self._times) > self.limit:
            self._times.popleft()

    def request(self) -> AbstractContextManager[float]:
        """Wait until a request is allowed, then count it for the block that sends it (giving
        the time it may be sent): from then while it is out, and from when its answer came back
        (or the block failed) after it.

        A server counts a request when it arrives or when it answers, at some moment between
        the two; counted at the later, the next one goes a full spacing after it however the
        server counts, where one counted at its send could arrive close behind a slow one.
        """
        return self._counted(self.acquire())

    @contextmanager
    def _counted(self, sent: float) -> Iterator[float]:
        self.record(sent)
        try:
            yield sent
        finally:
            self._answered(sent, max(sent, self._clock()))

    def _answered(self, sent: float, at: float) -> None:
        """Count the request sent at `sent` from `at` instead."""
        if sent in self._times:  # else moved to now by a clock that went back: counted twice
            self._times.remove(sent)
        bisect.insort(self._times, at)
        while len(self._times) > self.limit:
            self._times.popleft()

    def hold_until(self, moment: float) -> None:
        """Send nothing before `moment` (after a 429 with Retry-After)."""
        self._not_before = max(self._not_before, moment)

    def hold_for_full_window(self) -> None:
        """After a 429 without Retry-After: wait until our oldest counted request leaves the window.

        If we have counted none, someone else spent the allowance; wait a whole window.
        """
        now = self._clock()
        self._forget_old(now)
        oldest = self._times[0] if self._times else now
        self.hold_until(oldest + self.window + self.margin)

    def eta(self, remaining: int) -> float:
        """Seconds until the last of `remaining` more requests may be sent, by the limit alone.

        Request i of them waits for the one `limit` places before it to leave the window:
        counting back in steps of `limit`, it lands either on a request already counted (whose
        time is known) or on one of the first free places (sent now).
        """
        now = self._clock()
        self._forget_old(now)
        hold = max(0.0, self._not_before - now)
        if remaining <= 0:
            return hold
        last = remaining - 1
        steps = last // self.limit
        place = last - steps * self.limit  # < limit
        free = self.limit - len(self._times)
        start = now if place < free else self._times[place - free] + self.window
        return max(hold, start - now + steps * self.window)


def format_wait(seconds: float) -> str:
    """A wait as a countdown shows it: 0:07, 1:32, 1:02:05 (whole seconds, rounded up)."""
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass
class Countdown:
    """Waits slept in short slices, each told to the listener (the progress bar) as it runs
    down: the countdown moves, and Ctrl-C lands at once, not at the end of a two-minute sleep."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    slice_seconds: float = 0.5
    listener: WaitListener | None = None

    def pause(self, seconds: float, reason: str) -> None:
        """Sleep `seconds`, telling the listener what is left before each slice and at the end."""
        if seconds <= 0:
            return
        log.debug("%s %s", reason, format_wait(seconds))
        listener = self.listener
        end = self.clock() + seconds
        slept = 0.0
        # Bounded by both the clock and the time slept: a clock that stands still (or jumps
        # back) cannot make a wait endless.
        while (left := min(end - self.clock(), seconds - slept)) > 0:
            if listener is not None:
                listener(left, reason)
            step = min(self.slice_seconds, left)
            self.sleep(step)
            slept += step
        if listener is not None:
            listener(0.0, reason)

    @contextmanager
    def listening(self, listener: WaitListener) -> Iterator[None]:
        """Tell `listener` of the waits inside the block; the one before is back after it."""
        before, self.listener = self.listener, listener
        try:
            yield
        finally:
            self.listener = before
