"""`--delete-missing` deletes only titles the list being read wrote: each title in the checkpoint
knows its list (a MAL user name: `--mal-user`, `@me` as the account signed in, an export's
<user_name>), so another list read into the same checkpoint never deletes them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from malsync.auth.tokens import TokenSet, TokenStore
from tests.cli_runner import sync
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.fake_mal import FakeMal, MalUser, anime_item, manga_item
from tests.test_mal_sync import config_for

MANGA = ("--media", "manga")
DELETE = ("--delete-missing", "--yes")


@pytest.fixture
def mal() -> Iterator[FakeMal]:
    users = {
        "alice": MalUser(manga=[manga_item(i) for i in (1, 2, 3)]),
        "bob": MalUser(manga=[manga_item(i) for i in (10, 11)]),
        "owner": MalUser(anime=[anime_item(7), anime_item(8)], private=True),
        "other": MalUser(anime=[anime_item(20)], private=True),
    }
    with FakeMal(users=users) as server:
        yield server


@pytest.fixture
def fake() -> Iterator[FakeAniSearch]:
    with FakeAniSearch() as server:
        yield server


@pytest.fixture(autouse=True)
def anisearch_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def held(fake: FakeAniSearch, media: str) -> list[int]:
    """The MAL ids of the `media` ratings aniSearch holds."""
    return sorted(fake_id - 100000 for kind, fake_id in fake.ratings if kind == media)


def test_another_users_list_never_deletes_the_first_ones_titles(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, fake, mal)
    assert sync(config, "--mal-user", "alice", *MANGA) == 0
    # What the refusal used to suggest: one run of bob without --delete-missing.
    assert sync(config, "--mal-user", "bob", *MANGA) == 0
    capsys.readouterr()
    assert sync(config, "--mal-user", "bob", *MANGA, *DELETE) == 0
    assert fake.deletes() == []
    assert held(fake, "manga") == [1, 2, 3, 10, 11]
    err = capsys.readouterr().err
    assert "--delete-missing left 3 titles as they are: alice's list wrote them" in err
    # bob's own titles are still bob's to delete.
    mal.users["bob"].manga = [manga_item(10)]
    assert sync(config, "--mal-user", "bob", *MANGA, *DELETE) == 0
    assert [r.path for r in fake.deletes()] == ["/v1/my/manga/100011/ratings"]
    assert held(fake, "manga") == [1, 2, 3, 10]


def sign_in(tmp_path: Path, mal: FakeMal, user: str) -> None:
    TokenStore(tmp_path / "mal_token.json").save(TokenSet.from_response(mal.issue_token(user)))


def test_me_is_the_account_signed_in_so_another_account_deletes_none_of_the_first(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, fake, mal)
    anime = ("--mal-user", "@me", "--media", "anime")
    sign_in(tmp_path, mal, "owner")
    assert sync(config, *anime) == 0
    assert held(fake, "anime") == [7, 8]
    sign_in(tmp_path, mal, "other")
    capsys.readouterr()
    assert sync(config, *anime, *DELETE) == 0
    assert fake.deletes() == []
    assert held(fake, "anime") == [7, 8, 20]
    assert "left 2 titles as they are: owner's list wrote them" in capsys.readouterr().err
    assert any(r.path == "/v2/users/@me" for r in mal.received)
    # Signed in as owner again, @me and owner's name are one list: what it dropped goes.
    sign_in(tmp_path, mal, "owner")
    mal.users["owner"].anime = [anime_item(8)]
    assert sync(config, *anime, *DELETE) == 0
    assert [r.path for r in fake.deletes()] == ["/v1/my/anime/100007/ratings"]
    mal.users["owner"].anime = [anime_item(9)]
    assert sync(config, "--mal-user", "owner", "--media", "anime", *DELETE) == 0
    assert held(fake, "anime") == [9, 20]


def named_export(path: Path, user_name: str, count: int, first_id: int = 1) -> Path:
    text = many(count, first_id=first_id).replace(
        "<user_name>t</user_name>", f"<user_name>{user_name}</user_name>"
    )
    assert f"<user_name>{user_name}</user_name>" in text
    return write(path, text)


def test_an_exports_titles_are_not_deleted_by_another_users_live_list(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    mal.users["alice"].anime = [anime_item(50)]
    config = config_for(tmp_path, fake, mal)
    assert sync(config, named_export(tmp_path / "a.xml", "carol", 3, first_id=100)) == 0
    capsys.readouterr()
    assert sync(config, "--mal-user", "alice", "--media", "anime", *DELETE) == 0
    assert fake.deletes() == []
    assert held(fake, "anime") == [50, 100, 101, 102]
    assert "left 3 titles as they are: carol's list wrote them" in capsys.readouterr().err


def test_the_same_user_through_an_export_and_then_live_is_one_list(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal
) -> None:
    mal.users["alice"].anime = [anime_item(1), anime_item(2)]
    config = config_for(tmp_path, fake, mal)
    assert sync(config, named_export(tmp_path / "a.xml", "Alice", 3)) == 0
    assert sync(config, "--mal-user", "alice", "--media", "anime", *DELETE) == 0
    assert [r.path for r in fake.deletes()] == ["/v1/my/anime/100003/ratings"]
    assert held(fake, "anime") == [1, 2]


def as_schema_four(path: Path) -> None:
    """The checkpoint as malsync wrote it before it recorded each title's list."""
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE entries DROP COLUMN list_name")
    db.execute("UPDATE meta SET value = '4' WHERE key = 'schema'")
    db.commit()
    db.close()


def test_an_older_checkpoint_learns_each_live_titles_list_from_its_run(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, fake, mal)
    assert sync(config, named_export(tmp_path / "a.xml", "bob", 2, first_id=100)) == 0
    assert sync(config, "--mal-user", "alice", *MANGA) == 0
    assert sync(config, "--mal-user", "bob", *MANGA) == 0
    as_schema_four(tmp_path / "state.sqlite3")
    capsys.readouterr()
    mal.users["bob"].manga = [manga_item(10)]
    mal.users["bob"].anime = [anime_item(100)]
    assert sync(config, "--mal-user", "bob", *DELETE) == 0
    # bob's live title 11 goes; alice's stay, and so does the export's 101: which list wrote
    # it was not recorded, so no list deletes it.
    assert [r.path for r in fake.deletes()] == ["/v1/my/manga/100011/ratings"]
    assert held(fake, "manga") == [1, 2, 3, 10]
    assert held(fake, "anime") == [100, 101]
    err = capsys.readouterr().err
    assert (
        "--delete-missing left 4 titles as they are: malsync did not record which list wrote 1, "
        "alice's list wrote 3; a list deletes only the titles it wrote"
    ) in err
