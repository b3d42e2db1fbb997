"""A command runs with the cyclic collector spaced out, and leaves the process as it found it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from malsync.cli.collector import SPACED_THRESHOLDS, collection_spaced
from malsync.cli.main import main
from tests.exports import many, write


@pytest.fixture
def own_thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(1234, 5, 6)
    yield (1234, 5, 6)
    gc.set_threshold(*before)


def test_thresholds_are_raised_inside_and_put_back_after_a_failure(
    own_thresholds: tuple[int, int, int],
) -> None:
    with pytest.raises(RuntimeError), collection_spaced():
        assert gc.get_threshold() == SPACED_THRESHOLDS
        raise RuntimeError("the command failed")
    assert gc.get_threshold() == own_thresholds


def test_a_dry_run_runs_spaced_and_leaves_the_callers_thresholds(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    own_thresholds: tuple[int, int, int],
) -> None:
    seen: list[tuple[int, int, int]] = []
    import malsync.commands.sync as sync

    reading = sync.read_plan

    def spying(*args: object, **kwargs: object) -> object:
        seen.append(gc.get_threshold())
        return reading(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sync, "read_plan", spying)
    export = write(tmp_path / "list.xml", many(3))
    assert main(["sync", "--dry-run", str(export)]) == 0
    assert seen == [SPACED_THRESHOLDS]
    assert gc.get_threshold() == own_thresholds


def test_two_commands_in_threads_put_back_the_callers_thresholds(
    own_thresholds: tuple[int, int, int],
) -> None:
    """A program running commands in threads: A starts, B starts, A ends, B ends. The last one
    to end puts back the thresholds from before the first (B saved A's raised ones before)."""
    a_started, b_started, a_done = threading.Event(), threading.Event(), threading.Event()
    inside: list[tuple[int, int, int]] = []

    def run(name: str) -> None:
        with collection_spaced():
            if name == "a":
                a_started.set()
                b_started.wait(10)
            else:
                b_started.set()
                a_done.wait(10)
            inside.append(gc.get_threshold())
        if name == "a":
            a_done.set()

    first = threading.Thread(target=run, args=("a",))
    first.start()
    a_started.wait(10)
    second = threading.Thread(target=run, args=("b",))
    second.start()
    first.join(10)
    second.join(10)
    assert inside == [SPACED_THRESHOLDS, SPACED_THRESHOLDS]
    assert gc.get_threshold() == own_thresholds
