"""`malsync sync --mal-user`: the live MAL list through the real CLI, to the fake aniSearch."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import webbrowser
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from malsync.auth.tokens import TokenSet, TokenStore
from malsync.cli.main import main
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.fake_mal import CLIENT_ID, FakeMal, MalUser, anime_item, manga_item
from tests.test_oauth import free_port


@pytest.fixture
def mal() -> Iterator[FakeMal]:
    users = {
        "alice": MalUser(
            anime=[anime_item(i) for i in range(1, 1206)],
            manga=[manga_item(i, status="plan_to_read") for i in range(1, 4)],
        ),
        "owner": MalUser(anime=[anime_item(7, comments="mine")], private=True),
    }
    with FakeMal(users=users) as server:
        yield server


@pytest.fixture
def fake() -> Iterator[FakeAniSearch]:
    """aniSearch with a limit high enough for a list past MAL's 1,000-entry pages."""
    with FakeAniSearch(upsert_limit=(5000, 1.0)) as server:
        yield server


@pytest.fixture(autouse=True)
def anisearch_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def mal_section(mal: FakeMal, extra: str = "") -> str:
    """The [myanimelist] settings that point malsync at `mal`, tokens beside the config."""
    return f"""
[myanimelist]
api_url = "{mal.api_url}"
client_id = "{CLIENT_ID}"
authorize_url = "{mal.authorize_url}"
token_url = "{mal.token_url}"
redirect_uri = "http://127.0.0.1:{free_port()}/callback"
token_file = "mal_token.json"
pace_seconds = 0
{extra}
"""


def config_for(tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, extra: str = "") -> Path:
    return write_config(tmp_path, fake.base_url, upsert=(5000, 1.0), extra=mal_section(mal, extra))


def test_a_public_list_is_read_whole_and_sent(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, fake, mal)
    report = tmp_path / "report.json"
    assert sync(config, "--mal-user", "alice", "--report", report) == 0
    # 1,205 anime in two pages of 1,000, the manga in one; each with the client id alone.
    reads = mal.list_requests()
    assert [(r.path, r.query.get("offset", "0")) for r in reads] == [
        ("/v2/users/alice/animelist", "0"),
        ("/v2/users/alice/animelist", "1000"),
        ("/v2/users/alice/mangalist", "0"),
    ]
    assert all(r.query["limit"] == "1000" and r.query["nsfw"] == "true" for r in reads)
    assert all(r.headers.get("X-MAL-CLIENT-ID") == CLIENT_ID for r in reads)
    assert "comments" in reads[0].query["fields"]
    assert len(fake.accepted_puts()) == 1208
    held = fake.rating("anime", 5)
    assert held is not None
    assert (held["status"], held["episodes_watched"], held["notes"]) == (
        "completed",
        12,
        "Great show",
    )
    assert (held["start_date"], held["priority"], held["rewatch_desire"]) == ("2017-10-23", 2, 4)
    manga = fake.rating("manga", 2)
    assert manga is not None and manga["status"] == "bookmark"
    data = json.loads(report.read_text())
    assert {e["source"] for e in data["entries"]} == {"myanimelist:alice"}
    assert data["summary"]["files"] == ["myanimelist:alice"]
    # The client id is nowhere a person or a file could show it.
    shown = capsys.readouterr()
    assert CLIENT_ID not in shown.err + shown.out + report.read_text()
    assert CLIENT_ID.encode() not in (tmp_path / "state.sqlite3").read_bytes()

    # The nightly re-sync of an unchanged list sends nothing.
    assert sync(config, "--mal-user", "alice") == 0
    assert len(fake.puts()) == 1208 and fake.rate_limited == 0


def test_fields_mal_withholds_leave_anisearch_as_it_is(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal
) -> None:
    fake.preload("anime", 1, status="ongoing", notes="written on aniSearch", priority=3)
    mal.faults.missing_fields = frozenset({"comments", "priority", "num_times_rewatched"})
    config = config_for(tmp_path, fake, mal)
    assert sync(config, "--mal-user", "alice", "--media", "anime") == 0
    held = fake.rating("anime", 1)
    assert held is not None
    assert (held["status"], held["notes"], held["priority"]) == (
        "completed",
        "written on aniSearch",
        3,
    )
    body = next(r.body for r in fake.puts() if r.path == "/v1/my/anime/1/ratings")
    assert not {"notes", "priority", "times_rewatched"} & set(body)
    assert {r.path for r in mal.list_requests()} == {"/v2/users/alice/animelist"}


def test_a_private_list_without_sign_in_stops_before_anything_is_sent(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, fake, mal)
    assert sync(config, "--mal-user", "owner") == 3
    err = capsys.readouterr().err
    assert "private" in err and "malsync login myanimelist" in err
    assert len(err.strip().splitlines()) == 1
    assert fake.received == []


def test_a_list_that_cannot_be_read_deletes_nothing(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, fake, mal)
    assert sync(config, "--mal-user", "alice") == 0
    written = len(fake.ratings)
    mal.faults.failing_offset = 1000  # the second anime page never comes back
    assert sync(config, "--mal-user", "alice", "--delete-missing", "--yes") == 3
    assert "MAL could not be read" in capsys.readouterr().err
    assert len(fake.ratings) == written
    ratings_reads = [r for r in fake.received if r.method != "PUT" and "profile" not in r.path]
    assert [r.method for r in ratings_reads] == ["GET", "GET"]


def test_sign_in_to_mal_then_read_the_private_list_as_me(
    tmp_path: Path,
    fake: FakeAniSearch,
    mal: FakeMal,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = config_for(tmp_path, fake, mal)

    def browser(url: str) -> bool:
        threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10}).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    assert main(["login", "myanimelist", "--config", str(config), "--timeout", "10"]) == 0
    assert "Signed in to MyAnimeList." in capsys.readouterr().err
    assert (tmp_path / "mal_token.json").stat().st_mode & 0o777 == 0o600
    assert main(["status", "--config", str(config)]) == 0
    assert "MyAnimeList: signed in" in capsys.readouterr().out

    mal.authorize_user = "owner"
    assert sync(config, "--mal-user", "@me", "--media", "anime") == 0
    read = mal.list_requests()[-1]
    assert read.path == "/v2/users/@me/animelist"
    assert read.headers["Authorization"].startswith("Bearer ")
    held = fake.rating("anime", 7)
    assert held is not None and held["notes"] == "mine"
    access = mal.issued_access_tokens[-1]
    everything = capsys.readouterr()
    assert access not in everything.err + everything.out
    state = sqlite3.connect(tmp_path / "state.sqlite3")
    assert access not in str(state.execute("SELECT * FROM entries").fetchall())

    assert main(["logout", "myanimelist", "--config", str(config)]) == 0
    assert not (tmp_path / "mal_token.json").exists()
    assert "the stored MyAnimeList sign-in was deleted" in capsys.readouterr().err


def test_the_dry_run_reads_mal_and_sends_nothing(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal
) -> None:
    config = config_for(tmp_path, fake, mal, extra='user = "alice"')
    report = tmp_path / "plan.json"
    assert sync(config, "--dry-run", "--media", "manga", "--report", report) == 0
    assert [r.path for r in mal.list_requests()] == ["/v2/users/alice/mangalist"]
    assert [r.method for r in fake.received] == ["GET"]  # compared with aniSearch, no write
    outcomes = json.loads(report.read_text())["summary"]["outcomes"]
    assert outcomes == {"planned": 3}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--mal-user", "alice", "x.xml"], "give export files or --mal-user, not both"),
        (["--media", "anime", "x.xml"], "--media goes with --mal-user"),
        ([], "nothing to sync"),
    ],
)
def test_source_options_that_do_not_go_together(
    tmp_path: Path,
    fake: FakeAniSearch,
    mal: FakeMal,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    assert sync(config_for(tmp_path, fake, mal), *arguments) == 2
    assert message in capsys.readouterr().err


class ShiftingMal(FakeMal):
    """A fan removes title 3 on MAL while malsync reads the first page of the anime list."""

    armed = False

    def _page(self, path: str, name: str, media: str, user: MalUser, query: dict[str, str]) -> Any:
        answer = super()._page(path, name, media, user, query)
        if self.armed and media == "anime" and query.get("offset", "0") == "0":
            user.anime = [item for item in user.anime if item["node"]["id"] != 3]
            self.armed = False
        return answer


def test_a_list_edited_while_read_deletes_only_what_is_really_gone(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    users = {"alice": MalUser(anime=[anime_item(i) for i in range(1, 1006)])}
    with ShiftingMal(users=users) as mal:
        config = config_for(tmp_path, fake, mal)
        assert sync(config, "--mal-user", "alice", "--media", "anime") == 0
        mal.armed = True
        assert (
            sync(config, "--mal-user", "alice", "--media", "anime", "--delete-missing", "--yes")
            == 0
        )
        # The read missed title 1001 (it slid onto page 1 after page 1 was served); the second
        # read, made before deleting, still lists it: nothing is deleted.
        assert fake.rating("anime", 1001) is not None
        assert fake.deletes() == []
        assert "changed while it was read: 1 title is on it after all" in capsys.readouterr().err
        # The next night deletes title 3, which is really gone.
        assert (
            sync(config, "--mal-user", "alice", "--media", "anime", "--delete-missing", "--yes")
            == 0
        )
        assert [r.path for r in fake.deletes()] == ["/v1/my/anime/100003/ratings"]
        assert fake.rating("anime", 1001) is not None


def test_an_empty_live_list_deletes_nothing(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, fake, mal)
    assert sync(config, "--mal-user", "alice", "--media", "manga") == 0
    mal.users["alice"].manga = []  # an outage answering 200 with no data looks just like this
    assert sync(config, "--mal-user", "alice", "--media", "manga", "--delete-missing", "--yes") == 0
    assert fake.deletes() == []
    assert len([key for key in fake.ratings if key[0] == "manga"]) == 3
    assert "the manga list came back empty; --delete-missing deletes nothing" in (
        capsys.readouterr().err
    )


def test_another_users_list_deletes_none_of_the_titles_the_first_list_wrote(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    mal.users["bob"] = MalUser(manga=[manga_item(1)])
    config = config_for(tmp_path, fake, mal)
    assert sync(config, "--mal-user", "alice", "--media", "manga") == 0
    capsys.readouterr()
    assert sync(config, "--mal-user", "bob", "--media", "manga", "--delete-missing", "--yes") == 0
    err = capsys.readouterr().err
    # Title 1 is on bob's list too (and sent as bob has it); alice's 2 and 3 are not deleted.
    assert "--delete-missing left 2 titles as they are: alice's list wrote them" in err
    assert fake.deletes() == [] and len(fake.puts()) == 4
    assert all(fake.rating("manga", mal_id) is not None for mal_id in (1, 2, 3))


def expired_sign_in(tmp_path: Path, mal: FakeMal) -> None:
    """A stored MAL sign-in whose access token ran out and whose refresh token MAL refuses."""
    tokens = TokenSet.from_response(mal.issue_token("owner"))
    TokenStore(tmp_path / "mal_token.json").save(replace(tokens, expires_at=time.time() - 10))
    mal.refresh_tokens.clear()


def refresh_requests(mal: FakeMal) -> list[str]:
    return [r.query.get("grant_type", "") for r in mal.received if r.path.endswith("/token")]


def test_a_refused_sign_in_reads_a_named_public_list_with_the_client_id(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, fake, mal)
    expired_sign_in(tmp_path, mal)
    for _night in range(2):
        assert sync(config, "--dry-run", "--mal-user", "alice", "--media", "manga") == 0
        err = capsys.readouterr().err
        assert err.count("the MyAnimeList sign-in was refused") == 1
        assert "reading alice's public list with the client id" in err
        assert "run malsync login myanimelist for a private list" in err
    # The dead refresh token went out once; the next night knew it was refused.
    assert refresh_requests(mal) == ["refresh_token"]
    reads = mal.list_requests()
    assert len(reads) == 2
    assert all(r.headers.get("X-MAL-CLIENT-ID") == CLIENT_ID for r in reads)
    assert not any("Authorization" in r.headers for r in reads)


def test_a_refused_sign_in_cannot_read_a_private_list_or_me(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, fake, mal)
    expired_sign_in(tmp_path, mal)
    assert sync(config, "--mal-user", "owner", "--media", "anime") == 3
    err = capsys.readouterr().err
    assert "owner's anime list is private" in err and "malsync login myanimelist" in err
    assert sync(config, "--mal-user", "@me", "--media", "anime") == 3
    err = capsys.readouterr().err
    assert "@me needs the MyAnimeList sign-in" in err
    assert "run malsync login myanimelist again" in err
    assert len(err.strip().splitlines()) == 1
    assert refresh_requests(mal) == ["refresh_token"]
    assert [r.path for r in mal.list_requests()] == ["/v2/users/owner/animelist"]
    assert fake.received == []


def test_an_empty_live_list_is_said_to_be_the_mal_list_not_an_export(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    mal.users["alice"].manga = []
    config = config_for(tmp_path, fake, mal)
    assert sync(config, "--dry-run", "--mal-user", "alice", "--media", "manga") == 0
    err = capsys.readouterr().err
    assert "No entries on the MAL list." in err
    assert "export" not in err
