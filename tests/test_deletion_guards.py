"""--delete-missing against lists that were not read whole: an entry without a usable id, a
stray entry of the other media type, paging that skips a page. Each deletes nothing it cannot
prove gone, through the real CLI against the fake servers."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import anime, export, manga, many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.fake_mal import FakeMal, MalUser, anime_item, manga_item
from tests.test_mal_sync import config_for


@pytest.fixture(autouse=True)
def anisearch_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


@pytest.fixture
def fake() -> Iterator[FakeAniSearch]:
    with FakeAniSearch(upsert_limit=(5000, 1.0)) as server:
        yield server


def lines_with(text: str, part: str) -> list[str]:
    return [line for line in text.splitlines() if part in line]


def deleted_paths(fake: FakeAniSearch) -> list[str]:
    return [r.path for r in fake.deletes()]


# 1. An entry whose id cannot be read


def test_an_export_entry_without_a_usable_id_deletes_nothing_of_its_media(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "all.xml", many(30))) == 0
    assert sync(config, write(tmp_path / "m.xml", many(2, first_id=500, media="manga"))) == 0
    # Title 12 is really gone from the list; title 7's id is damaged.
    entries = [
        anime(series_animedb_id="7x" if i == 7 else str(i), series_title=f"Title {i}")
        for i in range(1, 31)
        if i != 12
    ]
    broken = write(tmp_path / "broken.xml", export(entries))
    manga_left = write(tmp_path / "m1.xml", many(1, first_id=500, media="manga"))
    capsys.readouterr()
    assert sync(config, broken, manga_left, "--delete-missing", "--yes") == 1
    # No anime title goes, not even 12; the manga list was read whole, so manga 501 goes.
    assert deleted_paths(fake) == [f"/v1/my/manga/{fake.anisearch_id(501)}/ratings"]
    assert len([key for key in fake.ratings if key[0] == "anime"]) == 30
    said = lines_with(capsys.readouterr().err, "not read whole")
    assert said == [
        f"{broken}: anime (no id) 'Title 7': MAL id '7x' is not a positive number; the anime "
        "list was not read whole, so --delete-missing deletes no anime title this run"
    ]


@pytest.mark.parametrize(
    ("broken", "ids", "first"),
    [
        ("string", range(1, 31), "29 anime entries have no usable MAL id; the first:"),
        ("float", [7], "anime (no id) 'Anime 7': MAL id 7.0"),
        ("no_node", [7], "anime (no id): has no node"),
    ],
)
def test_a_live_entry_without_a_usable_id_deletes_nothing_of_its_media(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    broken: str,
    ids: range | list[int],
    first: str,
) -> None:
    users = {
        "carol": MalUser(
            anime=[anime_item(i) for i in range(1, 31)],
            manga=[manga_item(501), manga_item(502)],
        )
    }
    with FakeMal(users=users) as mal:
        config = config_for(tmp_path, fake, mal)
        assert sync(config, "--mal-user", "carol") == 0
        assert len(fake.ratings) == 32
        carol = mal.users["carol"]
        carol.anime = [item for item in carol.anime if item["node"]["id"] != 12]  # really gone
        carol.manga = carol.manga[:1]
        mal.faults.broken_ids = dict.fromkeys(ids, broken)
        capsys.readouterr()
        assert sync(config, "--mal-user", "carol", "--delete-missing", "--yes") == 1
    assert deleted_paths(fake) == [f"/v1/my/manga/{fake.anisearch_id(502)}/ratings"]
    assert len([key for key in fake.ratings if key[0] == "anime"]) == 30
    said = lines_with(capsys.readouterr().err, "not read whole")
    assert len(said) == 1
    assert said[0].startswith(f"myanimelist:carol: {first}")
    assert said[0].endswith(
        "the anime list was not read whole, so --delete-missing deletes no anime title this run"
    )


class BreakingMal(FakeMal):
    """The second read of a list (the one made just before deleting) loses title 1's id."""

    reads = 0

    def _page(self, path: str, name: str, media: str, user: MalUser, query: dict[str, str]) -> Any:
        if media == "anime" and query.get("offset", "0") == "0":
            self.reads += 1
            self.faults.broken_ids = {1: "string"} if self.reads == 3 else {}
        return super()._page(path, name, media, user, query)


def test_a_second_read_without_a_usable_id_deletes_nothing_of_its_media(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    users = {"erin": MalUser(anime=[anime_item(i) for i in range(1, 6)])}
    with BreakingMal(users=users) as mal:
        config = config_for(tmp_path, fake, mal)
        assert sync(config, "--mal-user", "erin", "--media", "anime") == 0
        mal.users["erin"].anime = [item for item in users["erin"].anime if item["node"]["id"] != 3]
        capsys.readouterr()
        arguments = ("--mal-user", "erin", "--media", "anime", "--delete-missing", "--yes")
        assert sync(config, *arguments) == 0
        assert mal.reads == 3
    assert fake.deletes() == []
    assert lines_with(capsys.readouterr().err, "second read") == [
        "The second read of your MAL list, made before deleting, has an anime entry without a "
        "usable MAL id: no anime title is deleted this run."
    ]


# 4. A stray entry of the other media type


def test_a_stray_manga_entry_in_an_anime_export_deletes_no_manga(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "m.xml", many(20, media="manga"))) == 0
    assert sync(config, write(tmp_path / "a.xml", many(6))) == 0
    entries = [anime(series_animedb_id=str(i)) for i in range(1, 6)]  # anime 6 is gone
    stray = manga(manga_mangadb_id="3", manga_title="Title 3")
    animelist = write(tmp_path / "animelist.xml", export([*entries, stray], export_type=1))
    capsys.readouterr()
    assert sync(config, animelist, "--delete-missing", "--yes") == 0
    # The file covers anime, as it declares: anime 6 goes, and not one manga title.
    assert deleted_paths(fake) == [f"/v1/my/anime/{fake.anisearch_id(6)}/ratings"]
    assert len([key for key in fake.ratings if key[0] == "manga"]) == 20
    said = lines_with(capsys.readouterr().err, "manga 3")
    assert said == [
        f"{animelist}: manga 3 'Title 3' is a manga entry in an anime export "
        "(user_export_type 1): it is synced, but --delete-missing deletes no manga title for it"
    ]


def test_a_stray_entry_is_still_compared_with_anisearch(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    fake.preload("manga", 3, status="completed", chapters_read=99)  # rated on aniSearch itself
    config = write_config(tmp_path, fake.base_url)
    stray = manga(manga_mangadb_id="3", manga_title="Title 3")
    animelist = write(tmp_path / "a.xml", export([anime(series_animedb_id="1"), stray]))
    assert sync(config, animelist, "--on-conflict", "keep-anisearch") == 0
    assert [r.path for r in fake.puts()] == ["/v1/my/anime/1/ratings"]
    assert fake.rating("manga", 3) == {"status": "completed", "chapters_read": 99}


def test_an_export_that_declares_no_type_and_mixes_both_deletes_nothing(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "m.xml", many(4, media="manga"))) == 0
    assert sync(config, write(tmp_path / "a.xml", many(4))) == 0
    mixed = write(
        tmp_path / "mixed.xml",
        export([anime(series_animedb_id="1"), manga(manga_mangadb_id="2")], myinfo=""),
    )
    capsys.readouterr()
    assert sync(config, mixed, "--delete-missing", "--yes") == 0
    assert fake.deletes() == []
    assert len(fake.ratings) == 8
    assert lines_with(capsys.readouterr().err, "declares no media type") == [
        f"{mixed}: declares no media type (no user_export_type 1 or 2) and holds anime and manga "
        "entries: --delete-missing deletes nothing for it"
    ]


# 5. Paging that skips a page


@pytest.mark.parametrize(
    ("skip", "why"),
    [
        ("jump", "starts at entry 2000, but this page ended at entry 1000"),
        ("repeated", "names offset more than once"),
    ],
)
def test_paging_that_skips_a_page_is_a_failed_read(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str], skip: str, why: str
) -> None:
    # A re-sync as a nightly run meets it: the whole list (three pages) was synced before, so
    # aniSearch holds every title and the checkpoint knows them; now MAL's paging skips a page.
    users = {"dave": MalUser(anime=[anime_item(i) for i in range(1, 2101)])}
    with FakeMal(users=users) as mal:
        config = config_for(tmp_path, fake, mal)
        assert sync(config, "--mal-user", "dave", "--media", "anime") == 0
        assert len(fake.ratings) == 2100
        ratings_before = copy.deepcopy(fake.ratings)
        requests_before, reads_before = len(fake.received), len(mal.list_requests())
        mal.paging_skip = skip
        capsys.readouterr()
        arguments = ("--mal-user", "dave", "--media", "anime", "--delete-missing", "--yes")
        assert sync(config, *arguments) == 3
        assert len(mal.list_requests()) == reads_before + 1  # the skipping page is not followed
    said = lines_with(capsys.readouterr().err, "MAL could not be read")
    assert said == [
        "malsync: error: MAL could not be read: the next page of dave's anime list "
        f"{why}; it was not followed and nothing of it is used"
    ]
    assert fake.received[requests_before:] == []
    assert fake.ratings == ratings_before
