"""Undoing a whole migration: restore --list, --run N, --since N, and a dry run's values."""

from __future__ import annotations

import copy
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import malsync.commands.restore as restore_command
from tests.cli_runner import run
from tests.conftest import write_config
from tests.exports import anime, export, many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def three_runs(tmp_path: Path, fake: FakeAniSearch) -> tuple[Path, dict[str, object]]:
    """A migration in two runs (the second after the first stopped), then one with nothing new."""
    fake.preload("anime", 1, status="ongoing", episodes_watched=3)
    before = copy.deepcopy(fake.ratings)
    config = write_config(tmp_path, fake.base_url)
    first = write(
        tmp_path / "a.xml", export([anime(series_animedb_id="1"), anime(series_animedb_id="2")])
    )
    second = write(
        tmp_path / "b.xml",
        export(
            [
                anime(series_animedb_id="2", my_watched_episodes="63"),
                anime(series_animedb_id="3"),
            ]
        ),
    )
    assert run(config, "sync", first) == 0
    assert run(config, "sync", second) == 0
    assert run(config, "sync", second) == 0  # nothing to send: no backup
    return config, before


def test_list_shows_every_run_with_its_counts_and_backup(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = three_runs(tmp_path, fake)
    capsys.readouterr()
    received = len(fake.received)
    assert run(config, "restore", "--list") == 0
    err = capsys.readouterr().err
    assert len(fake.received) == received  # listing asks aniSearch nothing
    lines = err.splitlines()
    runs = [line for line in lines if line.startswith("  run ")]
    assert [line.split()[1] for line in runs] == ["1", "2", "3"]
    assert "finished  uploaded 2" in runs[0]
    assert "unchanged 2" in runs[2]
    backups = [line.strip() for line in lines if line.strip().startswith("backup:")]
    assert backups[0].endswith("-run1.json") and backups[1].endswith("-run2.json")
    assert backups[2] == "backup: no backup (it changed nothing on aniSearch)"


def test_since_undoes_the_whole_migration_newest_run_first(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, before = three_runs(tmp_path, fake)
    capsys.readouterr()
    # `restore` alone undoes only the latest run with a backup: title 2 keeps run 1's values.
    assert run(config, "restore", "--dry-run") == 0
    err = capsys.readouterr().err
    assert "delete anime 3" in err and "anime 1" not in err

    assert run(config, "restore", "--since", "1", "--dry-run") == 0
    err = capsys.readouterr().err
    assert "(taken before run 2)" in err and "(taken before run 1)" in err
    assert "put back anime 1 'Fullmetal Alchemist: Brotherhood' as it was" in err
    assert "episodes_watched 64 \u2192 3" in err and "status 'completed' \u2192 'ongoing'" in err

    received = len(fake.received)
    assert run(config, "restore", "--since", "1", "--yes") == 0
    assert fake.ratings == before
    assert "Restored 3 of 3 titles." in capsys.readouterr().err
    writes = [(r.method, r.path) for r in fake.received[received:] if r.method != "GET"]
    third = f"/v1/my/anime/{fake.anisearch_id(3)}/ratings"
    assert writes[0] == ("DELETE", third)  # run 2's own title first
    second = f"/v1/my/anime/{fake.anisearch_id(2)}/ratings"
    assert [path for _, path in writes].count(second) == 1  # written by both runs, undone once


def test_run_undoes_one_run_only(tmp_path: Path, fake: FakeAniSearch) -> None:
    config, before = three_runs(tmp_path, fake)
    assert run(config, "restore", "--run", "2", "--yes") == 0
    assert fake.rating("anime", 3) is None
    assert fake.rating("anime", 2) is not None  # run 1 created it
    assert fake.ratings != before


def test_a_run_to_undo_must_exist_and_have_changed_something(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = three_runs(tmp_path, fake)
    capsys.readouterr()
    assert run(config, "restore", "--run", "9") == 2
    assert "there is no run 9; restore --list shows them" in capsys.readouterr().err
    assert run(config, "restore", "--since", "3") == 2
    assert "run 3 changed nothing on aniSearch" in capsys.readouterr().err
    assert run(config, "restore", "--run", "1", "--since", "1") == 2  # one choice at a time


def test_a_dry_run_longer_than_a_screen_writes_the_whole_list(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(tmp_path, fake.base_url)
    assert run(config, "sync", write(tmp_path / "a.xml", many(14))) == 0
    monkeypatch.setenv("LINES", "12")  # a screen of 10 listing lines
    capsys.readouterr()
    assert run(config, "restore", "--dry-run") == 0
    err = capsys.readouterr().err
    listing = tmp_path / "restore-dry-run.txt"
    assert f"  ... the full list of 14 changes is in {listing}" in err
    assert err.count("  delete anime ") == 10
    written = listing.read_text().splitlines()
    assert len(written) == 14 and written[13].startswith("delete anime 14 'Title 14'")
    assert listing.stat().st_mode & 0o777 == 0o600


def _sigterm() -> None:
    signal.raise_signal(signal.SIGTERM)  # held in the test's code, raised in malsync's next line


def _ctrl_c() -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("how", "word", "exit_code"),
    [(_ctrl_c, "interrupted", 130), (_sigterm, "terminated", 143)],
    ids=["ctrl-c", "sigterm"],
)
def test_a_restore_stopped_midway_says_by_what_and_finishes_when_run_again(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    how: Callable[[], None],
    word: str,
    exit_code: int,
) -> None:
    config, before = three_runs(tmp_path, fake)
    carry_out = restore_command._carry_out
    calls: list[int] = []

    def stopped_at_the_second(*args: Any) -> str | None:
        calls.append(1)
        if len(calls) == 2:
            how()
        return carry_out(*args)

    monkeypatch.setattr(restore_command, "_carry_out", stopped_at_the_second)
    capsys.readouterr()
    assert run(config, "restore", "--since", "1", "--yes") == exit_code
    err = capsys.readouterr().err
    assert f"{word}; run the same restore again to finish it" in err, err
    assert fake.ratings != before
    monkeypatch.setattr(restore_command, "_carry_out", carry_out)
    assert run(config, "restore", "--since", "1", "--yes") == 0
    assert fake.ratings == before
