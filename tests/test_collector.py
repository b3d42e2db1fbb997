"""A command runs with the cyclic collector spaced out, and leaves the process as it found it."""

from __future__ import annotations

import gc
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
