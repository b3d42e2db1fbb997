"""Answers a server should not give: bodies too large, bodies trickled past any deadline, and
redirects, which are never followed and, when permanent, stop the run with the new address."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from malsync.anisearch.client import MAX_ANSWER_BYTES
from malsync.cli.main import main
from malsync.config.settings import MalSettings, RetryOptions, mal_sign_in
from malsync.pipeline.records import MediaType
from malsync.redaction import Secret
from malsync.sources.mal_api import MAX_PAGE_BYTES, MalApiReader, MalReadError
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.fake_mal import CLIENT_ID, HUGE_BYTES, MOVED_TO, FakeMal, MalUser, anime_item


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


@pytest.mark.parametrize("declared", [True, False])
def test_a_huge_answer_is_not_read_and_stops_the_run_before_anything_is_sent(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str], declared: bool
) -> None:
    fake.faults.huge_body_bytes = MAX_ANSWER_BYTES + 1024 * 1024
    fake.faults.huge_body_declared = declared
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "l.xml", many(3))) == 3
    err = capsys.readouterr().err
    assert "the answer is larger than 32 MB; it was not read" in err
    assert fake.puts() == []


def test_a_trickled_answer_times_out_at_the_deadline_and_is_retried(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    for mal_id in range(1, 4):  # a ratings list of 300 bytes: 15 seconds at this pace
        fake.preload("anime", mal_id, status="completed", episodes_watched=12)
    fake.faults.trickle_seconds = 0.05
    config = write_config(tmp_path, fake.base_url, attempts=2)
    text = config.read_text().replace("[retry]\n", "[retry]\ntotal_timeout_seconds = 0.5\n")
    config.write_text(text)
    assert sync(config, write(tmp_path / "l.xml", many(3))) == 3
    err = capsys.readouterr().err
    assert "reading your anime ratings on aniSearch failed: no answer in time" in err
    ratings_reads = [r for r in fake.received if r.path == "/v1/my/anime/ratings"]
    assert len(ratings_reads) == 2  # retried like any timeout
    assert fake.puts() == []


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_stops_the_run_and_names_the_new_address(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str], status: int
) -> None:
    fake.faults.redirect = (status, "https://api2.anisearch.example/v2/my/profile")
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "l.xml", many(3))) == 3
    err = capsys.readouterr().err
    assert (
        f"HTTP {status}: moved permanently to https://api2.anisearch.example/v2/my/profile" in err
    )
    assert "set [anisearch] base_url" in err
    assert len(fake.received) == 1  # not retried, not followed


@pytest.fixture
def elsewhere() -> Iterator[FakeAniSearch]:
    with FakeAniSearch() as server:
        yield server


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_no_redirect_is_followed_with_the_token_to_another_host(
    tmp_path: Path, fake: FakeAniSearch, elsewhere: FakeAniSearch, status: int
) -> None:
    target = elsewhere.base_url.replace("127.0.0.1", "localhost")
    fake.faults.redirect = (status, f"{target}/my/anime/ratings")
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "l.xml", many(3))) != 0
    assert elsewhere.received == []
    assert fake.puts() == []


FAST_RETRY = RetryOptions(attempts=2, initial_wait_seconds=0.01, max_wait_seconds=0.02)


@pytest.fixture
def mal() -> Iterator[FakeMal]:
    with FakeMal(users={"alice": MalUser(anime=[anime_item(1)])}) as server:
        yield server


def mal_reader(mal: FakeMal) -> MalApiReader:
    sign_in = dataclasses.replace(mal_sign_in(), client_id=Secret(CLIENT_ID))
    settings = MalSettings(api_url=mal.api_url, pace_seconds=0.0, sign_in=sign_in)
    return MalApiReader(settings, FAST_RETRY, contact="tester@example.com")


def test_a_huge_mal_page_is_not_read(mal: FakeMal) -> None:
    assert HUGE_BYTES > MAX_PAGE_BYTES
    mal.faults.scripted.append("huge")
    with mal_reader(mal) as reader, pytest.raises(MalReadError) as raised:
        reader.read(MediaType.ANIME, "alice")
    assert "the answer is larger than 16 MB; it was not read" in str(raised.value)
    assert len(mal.received) == 1


def test_a_permanent_mal_redirect_names_the_new_address(mal: FakeMal) -> None:
    mal.faults.scripted.append("moved")
    with mal_reader(mal) as reader, pytest.raises(MalReadError) as raised:
        reader.read(MediaType.ANIME, "alice")
    assert f"moved permanently to {MOVED_TO}" in str(raised.value)
    assert "[myanimelist] api_url" in str(raised.value)
    assert len(mal.received) == 1


def pieces(secret: str, length: int = 8) -> set[str]:
    """Every part of `secret` long enough to help someone guess the rest."""
    return {secret[start : start + length] for start in range(len(secret) - length + 1)}


def assert_no_piece_of(secret: str, *shown: str | bytes) -> None:
    for text in shown:
        found = [piece for piece in pieces(secret) if piece in _as_text(text)]
        assert found == [], f"pieces of the secret shown: {found}"


def _as_text(shown: str | bytes) -> str:
    return shown.decode("utf-8", errors="replace") if isinstance(shown, bytes) else shown


@pytest.mark.parametrize("report_name", ["r.json", "r.html"])
def test_a_token_a_server_echoes_where_its_message_is_cut_stays_hidden(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str], report_name: str
) -> None:
    # The token starts at character 278 of the message: the cut at 300 lands inside it.
    fake.faults.echo_authorization = 270
    config = write_config(tmp_path, fake.base_url)
    report = tmp_path / report_name
    assert sync(config, write(tmp_path / "l.xml", many(3)), "--report", str(report)) == 1
    assert [r.status for r in fake.puts()] == [400, 400, 400]
    err = capsys.readouterr().err
    assert "HTTP 400: refused refused" in err  # the message is shown, without the token
    assert_no_piece_of(
        GOOD_TOKEN, err, report.read_bytes(), (tmp_path / "state.sqlite3").read_bytes()
    )


def test_a_client_id_mal_echoes_where_its_message_is_cut_stays_hidden(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    # The client id starts at character 185 of the detail: the cut at 200 lands inside it.
    mal.faults.echo_client_id = 165
    section = f'[myanimelist]\napi_url = "{mal.api_url}"\nclient_id = "{CLIENT_ID}"\n'
    config = write_config(tmp_path, fake.base_url, extra=f"{section}pace_seconds = 0\n")
    arguments = ["sync", "--config", str(config), "--mal-user", "alice", "--dry-run"]
    assert main(arguments) == 3
    err = capsys.readouterr().err
    assert "HTTP 400: invalid_parameters refused refused" in err
    assert_no_piece_of(CLIENT_ID, err)
