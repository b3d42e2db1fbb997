"""The cyclic garbage collector spaced out while a command runs.

Reading, planning and reporting a long list make about a million objects that live until the
run ends and hold no reference cycles. With CPython's default thresholds (700, 10, 10) the
collector walked them again and again as they were made: a fifth of a 20,000-entry dry run's
time (`benchmarks/bench_import.py`). Rarer passes find the same garbage, later; reference
counting, which frees almost everything, is not touched.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# A young-generation pass every 20,000 new objects instead of 700, an older one every 20
# of those: a large list's records are examined a few times instead of hundreds.
SPACED_THRESHOLDS = (20_000, 20, 20)


class _Spacing:
    """How many commands run now (a program may run several in threads), and the thresholds
    from before the first: the last to end puts those back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.before = gc.get_threshold()


_spacing = _Spacing()


@contextmanager
def collection_spaced() -> Iterator[None]:
    """Raise the thresholds while a command runs, and put back what they were when the last
    one running ends (a test process, or a program that imports malsync, keeps its own)."""
    with _spacing.lock:
        if _spacing.running == 0:
            _spacing.before = gc.get_threshold()
            gc.set_threshold(*SPACED_THRESHOLDS)
        _spacing.running += 1
    try:
        yield
    finally:
        with _spacing.lock:
            _spacing.running -= 1
            if _spacing.running == 0:
                gc.set_threshold(*_spacing.before)
