"""One empty answer from aniSearch where it holds ratings (an outage, a cache, a lagging copy):
a failed read that sends nothing, never a list of nothing that makes every title new, and
never a backup from which restore would delete ratings the user had before the run."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_runner import run, sync
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch

RATINGS_ONLY = frozenset({"ratings.anime", "ratings.manga"})  # no user.profile: no statistics


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


@pytest.fixture(params=["with profile", "without profile"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeAniSearch]:
    scopes = {GOOD_TOKEN: RATINGS_ONLY} if request.param == "without profile" else {}
    with FakeAniSearch(**({"tokens": scopes} if scopes else {})) as server:
        yield server


def restore(config: Path) -> int:
    return run(config, "restore", "--yes")


def backups(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "backups"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def stop_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "answered an empty list" in line]


@pytest.mark.parametrize("policy", ["mal-wins", "keep-anisearch"])
def test_an_empty_answer_where_malsync_wrote_ratings_is_a_failed_read(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str], policy: str
) -> None:
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "first.xml", many(5))) == 0
    for held in fake.ratings.values():
        held["episodes_watched"] = 3  # changed on aniSearch since: keep-anisearch keeps these
    before = copy.deepcopy(fake.ratings)
    more = write(tmp_path / "all.xml", many(12))
    fake.faults.empty_lists = 1
    sent_before = len(fake.received)
    capsys.readouterr()

    assert sync(config, more, "--on-conflict", policy) == 3
    said = stop_lines(capsys.readouterr().err)
    assert len(said) == 1
    assert "malsync wrote 5 anime ratings there" in said[0] and "nothing was sent" in said[0]
    assert all(r.method == "GET" for r in fake.received[sent_before:])
    assert fake.ratings == before
    assert len(backups(tmp_path)) == 1  # the first run's only

    # The next run reads the real list: the 5 are compared, the 7 new ones are created.
    assert sync(config, more, "--on-conflict", policy) == 0
    assert len(fake.ratings) == 12
    kept = policy == "keep-anisearch"
    episodes = {(fake.rating("anime", i) or {}).get("episodes_watched") for i in range(1, 6)}
    assert episodes == {3 if kept else 64}
    # Restore deletes only the 7 that run created and puts back the 5 it changed.
    assert restore(config) == 0
    assert fake.ratings == before
    restored = 7 if kept else 12
    assert f"Restored {restored} of {restored} titles." in capsys.readouterr().err


def test_an_empty_answer_the_profile_contradicts_stops_a_first_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeAniSearch() as fake:
        for mal_id in range(1, 21):
            fake.preload("anime", mal_id, status="completed", episodes_watched=3)
        before = copy.deepcopy(fake.ratings)
        fake.faults.empty_lists = 1
        config = write_config(tmp_path, fake.base_url)
        fifty = write(tmp_path / "all.xml", many(50))
        assert sync(config, fifty, "--on-conflict", "keep-anisearch") == 3
        said = stop_lines(capsys.readouterr().err)
        assert len(said) == 1 and "your aniSearch profile counts 20 anime ratings" in said[0]
        assert fake.puts() == [] and fake.ratings == before
        assert backups(tmp_path) == []


def test_restore_keeps_what_an_unchecked_empty_read_cannot_show_the_run_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeAniSearch(tokens={GOOD_TOKEN: RATINGS_ONLY}) as fake:
        for mal_id in range(1, 21):  # rated on aniSearch itself; malsync cannot know
            fake.preload("anime", mal_id, status="completed", episodes_watched=3)
        fake.faults.empty_lists = 1
        config = write_config(tmp_path, fake.base_url)
        assert sync(config, write(tmp_path / "all.xml", many(50))) == 0
        err = capsys.readouterr().err
        assert (
            "could not be checked" in err
            and "restore deletes none of the titles this run creates" in err
        )
        (backup,) = backups(tmp_path)
        assert json.loads(backup.read_text())["read_whole"] == []

        assert restore(config) == 1
        assert fake.deletes() == [] and len(fake.ratings) == 50
        err = capsys.readouterr().err
        assert "Kept 50 titles as they are" in err
        assert "the backup cannot show that run 1 created them" in err
        assert "aniSearch already holds what it held" not in err


def test_an_empty_answer_while_restoring_sends_nothing(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.preload("anime", 1, status="dropped")
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "all.xml", many(3))) == 0
    after = copy.deepcopy(fake.ratings)
    fake.faults.empty_lists = 1
    sent_before = len(fake.received)
    capsys.readouterr()
    assert restore(config) == 3
    assert len(stop_lines(capsys.readouterr().err)) == 1
    assert all(r.method == "GET" for r in fake.received[sent_before:])
    assert fake.ratings == after


def test_a_list_really_emptied_on_anisearch_is_sent_again_as_the_stop_says(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "all.xml", many(5))
    assert sync(config, export_path) == 0
    fake.ratings.clear()  # emptied on aniSearch by hand, for good
    capsys.readouterr()
    assert sync(config, export_path) == 3
    (said,) = stop_lines(capsys.readouterr().err)
    assert said.endswith("malsync sync --no-remote-diff --force sends your list again")
    assert sync(config, export_path, "--no-remote-diff", "--force") == 0
    assert len(fake.ratings) == 5
