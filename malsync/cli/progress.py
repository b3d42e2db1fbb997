"""The progress bar for interactive runs (tqdm); part of the CLI layer, the core only calls it.

tqdm is imported by the first bar, so that commands which show none do not load it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, TextIO

from malsync.net.pacing import format_wait
from malsync.pipeline.records import Outcome

if TYPE_CHECKING:
    from tqdm import tqdm


class BarAwareHandler(logging.Handler):
    """Writes log lines to stderr above a running progress bar instead of through it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stderr

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            bars = sys.modules.get("tqdm")  # not loaded: no bar was ever shown to write around
            if bars is None:
                self.stream.write(line + "\n")
            else:
                bars.tqdm.write(line, file=self.stream)
        except Exception:  # logging must never take the run down
            self.handleError(record)


class BarProgress:
    """Counts per outcome beside the bar, and an ETA from the rate limit rather than the past rate.

    tqdm's own estimate would extrapolate the first burst of requests, which the limit allows
    only once per window.
    """

    def __init__(
        self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream or sys.stderr
        self._clock = clock
        self._bar: tqdm[NoReturn] | None = None  # a bar without an iterable
        self._counts: Counter[str] = Counter()
        self._eta_until: float | None = None  # when the limit lets the last request go
        self._wait: str | None = None  # the countdown of a wait in progress

    def start(self, total: int, unchanged: int) -> None:
        self._counts = Counter({Outcome.UNCHANGED.value: unchanged})
        self._bar = _tqdm()(
            total=total,
            file=self._stream,
            unit="entry",
            dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
        )
        self._show()

    def advance(self, outcome: Outcome, eta_seconds: float) -> None:
        self._counts[outcome.value] += 1
        self._eta_until = self._clock() + eta_seconds
        if self._bar is not None:
            self._bar.update(1)
        self._show()

    def waiting(self, seconds_left: float, reason: str) -> None:
        """Called every slice of a wait: the countdown replaces a bar that would look frozen."""
        self._wait = f"{reason} {format_wait(seconds_left)}" if seconds_left > 0 else None
        self._show()

    def postfix(self) -> str:
        """What the bar shows beside its count: outcomes, the ETA, any wait running down."""
        parts = [
            f"{name} {self._counts[name]}"
            for name in ("uploaded", "unchanged", "failed", "not_found")
            if self._counts[name] or name in ("uploaded", "unchanged")
        ]
        if self._eta_until is not None:
            # Counted down from the limit's estimate, so it keeps moving through a wait.
            left = max(0.0, self._eta_until - self._clock())
            parts.append(f"eta {_tqdm().format_interval(left)}")
        if self._wait is not None:
            parts.append(self._wait)
        return ", ".join(parts)

    def _show(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(self.postfix(), refresh=True)

    def close(self, *, cut_short: bool = False) -> None:
        if self._bar is not None:
            # A bar as wide as the terminal pushed the terminal's ^C onto a line of its own,
            # where a last drawing would show the bar twice: taken off instead (the summary
            # that follows says where the run stopped).
            self._bar.leave = not cut_short
            self._bar.close()
            self._bar = None


def _tqdm() -> type[tqdm[NoReturn]]:
    from tqdm import tqdm

    return tqdm
