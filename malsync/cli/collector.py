"""The cyclic garbage collector spaced out while a command runs.

Reading, planning and reporting a long list make about a million objects that live until the
run ends and hold no reference cycles. With CPython's default thresholds (700, 10, 10) the
collector walked them again and again as they were made: a fifth of a 20,000-entry dry run's
time (`benchmarks/bench_import.py`). Rarer passes find the same garbage, later; reference
counting, which frees almost everything, is not touched.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# A young-generation pass every 20,000 new objects instead of 700, an older one every 20
# of those: a large list's records are examined a few times instead of hundreds.
SPACED_THRESHOLDS = (20_000, 20, 20)


@contextmanager
def collection_spaced() -> Iterator[None]:
    """Raise the thresholds for the command, and put back what they were (a test process, or
    a program that imports malsync, keeps its own)."""
    before = gc.get_threshold()
    gc.set_threshold(*SPACED_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
