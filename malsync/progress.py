"""The progress bar for interactive runs (tqdm); part of the CLI layer, the core only calls it."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from typing import NoReturn, TextIO

from tqdm import tqdm

from malsync.records import Outcome


class BarAwareHandler(logging.Handler):
    """Writes log lines to stderr above a running progress bar instead of through it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream = stream or sys.stderr

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # logging must never take the run down
            self.handleError(record)


class BarProgress:
    """Counts per outcome beside the bar, and an ETA from the rate limit rather than the past rate.

    tqdm's own estimate would extrapolate the first burst of requests, which the limit allows
    only once per window.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._bar: tqdm[NoReturn] | None = None  # a bar without an iterable
        self._counts: Counter[str] = Counter()

    def start(self, total: int, unchanged: int) -> None:
        self._counts = Counter({Outcome.UNCHANGED.value: unchanged})
        self._bar = tqdm(
            total=total,
            file=self._stream,
            unit="entry",
            dynamic_ncols=True,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]",
        )
        self._show(None)

    def advance(self, outcome: Outcome, eta_seconds: float) -> None:
        self._counts[outcome.value] += 1
        if self._bar is not None:
            self._bar.update(1)
        self._show(eta_seconds)

    def _show(self, eta_seconds: float | None) -> None:
        if self._bar is None:
            return
        parts = [
            f"{name} {self._counts[name]}"
            for name in ("uploaded", "unchanged", "failed", "not_found")
            if self._counts[name] or name in ("uploaded", "unchanged")
        ]
        if eta_seconds is not None:
            parts.append(f"eta {tqdm.format_interval(eta_seconds)}")
        self._bar.set_postfix_str(", ".join(parts), refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
