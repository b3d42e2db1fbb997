"""aniSearch's MAL links: downloaded through the shared plumbing, kept, refreshed within the limit.

Every test runs against the fake Database API (tests/fake_database_api.py) and looks at what it
received, the files kept and the lines logged.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from malsync.anisearch.link_lookup import LinkLookup, LinkSource
from malsync.anisearch.mal_links import MalLinksSource
from malsync.config.settings import AniSearchSettings, RetryOptions
from malsync.errors import ConfigError
from malsync.pipeline.records import MediaType
from malsync.redaction import Secret
from malsync.store.mal_links_cache import LinkCache, links_age
from tests.fake_anisearch import FakeAniSearch
from tests.fake_database_api import DATABASE_TOKEN, FakeDatabaseApi

ANIME, MANGA = MediaType.ANIME, MediaType.MANGA
CONTACT = "tester@example.com"
HOUR, DAY = 3600.0, 86_400.0
RETRY = RetryOptions(
    attempts=3,
    initial_wait_seconds=0.01,
    max_wait_seconds=0.02,
    connect_timeout_seconds=2,
    read_timeout_seconds=2,
    total_timeout_seconds=10,
)


@pytest.fixture
def database(fake: FakeAniSearch) -> FakeDatabaseApi:
    db = fake.database
    db.link("anime", 1, 101)
    db.bundle("anime", 500, 384, 1010)  # Gantz and Gantz 2nd Stage are one aniSearch title
    db.link("anime", 77, 701, 702)  # a recap aniSearch splits in two
    db.link("manga", 13, 724)
    return db


@pytest.fixture
def cache(tmp_path: Path) -> LinkCache:
    return LinkCache(tmp_path / "cache")


def settings(fake: FakeAniSearch, **changes: object) -> AniSearchSettings:
    return replace(AniSearchSettings(base_url=fake.base_url), **changes)  # type: ignore[arg-type]


@pytest.fixture
def source(
    fake: FakeAniSearch, database: FakeDatabaseApi, cache: LinkCache
) -> Iterator[MalLinksSource]:
    made = MalLinksSource(
        settings(fake), CONTACT, RETRY, cache, clock=database.now, sleep=lambda seconds: None
    )
    yield made
    made.close()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_links_are_downloaded_gzipped_kept_and_name_bundles_and_parts(
    source: MalLinksSource, database: FakeDatabaseApi, cache: LinkCache
) -> None:
    found = source.lookup(ANIME)
    assert found.source is LinkSource.DOWNLOADED
    assert found.table == {1: (101,), 384: (500,), 1010: (500,), 77: (701, 702)}
    [request] = database.requests()
    assert request.media == "anime" and request.status == 200
    assert request.query == {"source": ["myanimelist"], "gzip": [""]}
    assert request.headers["User-Agent"].endswith("(tester@example.com)")
    assert "Authorization" not in request.headers  # no account, no token without one
    kept = cache.read(ANIME)
    assert kept is not None and kept.table == found.table
    assert links_age(cache.folder, ANIME, database.now()) == pytest.approx(0, abs=5)
    assert links_age(cache.folder, MANGA) is None


def test_three_runs_in_a_day_ask_once_and_the_fourth_a_day_later_again(
    fake: FakeAniSearch,
    database: FakeDatabaseApi,
    cache: LinkCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for _ in range(3):  # a new source each time, as each run makes its own
        run_lookup(fake, database, cache)
        database.advance(6 * HOUR)
    assert len(database.requests("anime")) == 1
    assert database.requests(status=429) == []
    assert warnings(caplog) == []
    database.advance(6 * HOUR + 1)  # a day and a second since the download
    database.link("anime", 2, 102)
    found = run_lookup(fake, database, cache)
    assert found.source is LinkSource.DOWNLOADED and found.table is not None
    assert found.table[2] == (102,)
    assert len(database.requests("anime")) == 2
    assert database.requests(status=429) == []


def run_lookup(
    fake: FakeAniSearch, database: FakeDatabaseApi, cache: LinkCache, **changes: object
) -> LinkLookup:
    """What one run does: its own source, one lookup of the anime links."""
    made = MalLinksSource(
        settings(fake, **changes), CONTACT, RETRY, cache, clock=database.now, sleep=lambda s: None
    )
    try:
        return made.lookup(ANIME)
    finally:
        made.close()


def test_each_media_type_has_its_own_limit(
    source: MalLinksSource, database: FakeDatabaseApi
) -> None:
    assert source.lookup(ANIME).source is LinkSource.DOWNLOADED
    manga = source.lookup(MANGA)
    assert manga.source is LinkSource.DOWNLOADED and manga.table == {13: (724,)}
    assert [r.media for r in database.requests(status=200)] == ["anime", "manga"]


def test_with_a_database_token_the_links_are_refreshed_hourly_and_the_token_is_sent(
    fake: FakeAniSearch,
    database: FakeDatabaseApi,
    cache: LinkCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = {"database_token": Secret(DATABASE_TOKEN)}
    run_lookup(fake, database, cache, **token)
    database.advance(HOUR - 60)
    found = run_lookup(fake, database, cache, **token)
    assert found.source is LinkSource.CACHED
    database.advance(61)
    found = run_lookup(fake, database, cache, **token)
    assert found.source is LinkSource.DOWNLOADED
    sent = database.requests(status=200)
    assert len(sent) == 2
    assert {r.headers["Authorization"] for r in sent} == {f"Bearer {DATABASE_TOKEN}"}
    assert DATABASE_TOKEN not in caplog.text


def test_a_refused_token_uses_the_kept_copy_says_which_setting_and_is_not_counted(
    fake: FakeAniSearch,
    database: FakeDatabaseApi,
    cache: LinkCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_lookup(fake, database, cache)
    database.advance(DAY + 1)
    wrong = {"database_token": Secret("dbtok-not-this-one-0000")}
    found = run_lookup(fake, database, cache, **wrong)
    assert found.source is LinkSource.OLDER_COPY
    [line] = warnings(caplog)
    assert line == (
        "aniSearch's MAL links for anime: the Database API token ([anisearch] database_token, "
        "or ANISEARCH_DATABASE_TOKEN) was refused (HTTP 401: invalid API token); using the copy "
        "fetched 24 hours ago."
    )
    assert "dbtok-not-this-one" not in caplog.text
    found = run_lookup(fake, database, cache)  # token removed
    assert found.source is LinkSource.DOWNLOADED  # the refusal did not block the next request


def test_a_429_uses_the_kept_copy_with_its_age_and_is_not_asked_again_until_retry_after(
    fake: FakeAniSearch,
    database: FakeDatabaseApi,
    cache: LinkCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_lookup(fake, database, cache)
    database.advance(2 * DAY)
    cache.request_path(ANIME).unlink()  # malsync forgot it asked: the server still knows
    database.anonymous_window = 3 * DAY  # the server counts longer than documented
    found = run_lookup(fake, database, cache)
    assert found.source is LinkSource.OLDER_COPY and found.table is not None
    assert found.table[384] == (500,)
    [line] = warnings(caplog)
    assert line == (
        "aniSearch's MAL links for anime: aniSearch's limit is reached (HTTP 429: rate limit "
        "exceeded); it allows the next request in 24 hours; using the copy fetched 2 days ago."
    )
    assert found.note + "." == line
    asked = len(database.requests())
    for _ in range(3):
        database.advance(7 * HOUR)  # 21 hours of the 24 that Retry-After gave
        again = run_lookup(fake, database, cache)
        assert again.source is LinkSource.OLDER_COPY
    assert len(database.requests()) == asked
    database.advance(3 * HOUR + 2)
    again = run_lookup(fake, database, cache)
    assert again.source is LinkSource.DOWNLOADED
    assert len(database.requests(status=429)) == 1


def test_a_429_without_retry_after_waits_a_whole_window(
    fake: FakeAniSearch, database: FakeDatabaseApi, cache: LinkCache
) -> None:
    database.retry_after = False
    database.scripted.append(429)
    found = run_lookup(fake, database, cache)
    assert found.source is LinkSource.NONE
    database.advance(DAY - 60)
    assert run_lookup(fake, database, cache).source is LinkSource.NONE
    assert len(database.requests()) == 1
    database.advance(61)
    assert run_lookup(fake, database, cache).table is not None


def test_no_copy_at_all_says_so_once_and_the_titles_go_by_mal_id(
    fake: FakeAniSearch,
    database: FakeDatabaseApi,
    cache: LinkCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database.scripted.extend([503, 503, 503])
    found = run_lookup(fake, database, cache)
    assert found == LinkLookup(ANIME, LinkSource.NONE, None, found.note)
    assert found.table is None
    assert len(database.requests()) == RETRY.attempts  # the shared retry policy
    [line] = warnings(caplog)
    assert line == (
        "aniSearch's MAL links for anime: the download failed (HTTP 503: scripted 503), and "
        "there is no copy yet; anime titles are sent by their MAL id, as without the links."
    )
    # The server answered: the next run does not ask inside the limit.
    assert run_lookup(fake, database, cache).table is None
    assert len(database.requests()) == RETRY.attempts


def test_a_server_out_of_reach_is_asked_again_by_the_next_run(
    fake: FakeAniSearch, cache: LinkCache, caplog: pytest.LogCaptureFixture
) -> None:
    closed = FakeAniSearch()
    closed.start()
    address = closed.base_url
    closed.stop()
    made = MalLinksSource(
        AniSearchSettings(base_url=address), CONTACT, RETRY, cache, sleep=lambda s: None
    )
    found = made.lookup(ANIME)
    made.close()
    assert found.source is LinkSource.NONE
    [line] = warnings(caplog)
    assert line.startswith("aniSearch's MAL links for anime: the download failed (")
    assert "Traceback" not in caplog.text
    assert cache.last_request(ANIME) is None  # nothing reached aniSearch: nothing counted


def test_a_refused_user_agent_is_said_and_not_counted(
    fake: FakeAniSearch,
    database: FakeDatabaseApi,
    cache: LinkCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database.scripted.append(423)
    found = run_lookup(fake, database, cache)
    assert found.source is LinkSource.NONE
    assert "check [anisearch] contact" in warnings(caplog)[0]
    assert len(database.requests()) == 1  # 423 is never retried
    assert run_lookup(fake, database, cache).table is not None


def test_the_fake_refuses_a_bare_name_or_a_generic_user_agent_without_counting(
    fake: FakeAniSearch, database: FakeDatabaseApi
) -> None:
    import requests

    url = f"{fake.base_url}/anime/associated?source=myanimelist"
    assert requests.get(url, headers={"User-Agent": "malsync"}, timeout=5).status_code == 423
    assert requests.get(url, headers={"User-Agent": "curl/8"}, timeout=5).status_code == 403
    answer = requests.get(url, headers={"User-Agent": "malsync/1 (a@b.example)"}, timeout=5)
    assert answer.status_code == 200 and answer.headers["x-ratelimit-limit"] == "1"
    assert answer.json()["77"] == [701, 702]
    again = requests.get(url, headers={"User-Agent": "malsync/1 (a@b.example)"}, timeout=5)
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > DAY - 60
    assert again.json() == {"message": "rate limit exceeded"}  # errors stay plain JSON


def test_the_fake_answers_the_one_to_one_links_for_source_unique(
    fake: FakeAniSearch, database: FakeDatabaseApi
) -> None:
    import requests

    url = f"{fake.base_url}/anime/associated?source=myanimelist_unique&gzip"
    answer = requests.get(url, headers={"User-Agent": "malsync/1 (a@b.example)"}, timeout=5)
    assert answer.content[:2] == b"\x1f\x8b"
    assert json.loads(gzip.decompress(answer.content)) == {"1": {"id": 101}}


def test_gzip_on_the_transfer_too_is_read(
    source: MalLinksSource, database: FakeDatabaseApi
) -> None:
    database.content_encoding = True
    assert source.lookup(ANIME).table == {1: (101,), 384: (500,), 1010: (500,), 77: (701, 702)}


def test_turned_off_nothing_is_asked_or_read(
    fake: FakeAniSearch,
    database: FakeDatabaseApi,
    cache: LinkCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    found = run_lookup(fake, database, cache, use_mal_links=False)
    assert found == LinkLookup(ANIME, LinkSource.OFF)
    assert database.requests() == [] and warnings(caplog) == []
    assert not cache.folder.exists()


def test_the_kept_files_are_not_writable_by_others_even_with_a_lax_umask(
    source: MalLinksSource, cache: LinkCache
) -> None:
    old = os.umask(0)
    try:
        source.lookup(ANIME)
    finally:
        os.umask(old)
    for path in (cache.links_path(ANIME), cache.request_path(ANIME)):
        assert stat.S_IMODE(path.stat().st_mode) & 0o022 == 0
    assert sorted(p.name for p in cache.folder.iterdir()) == [
        "mal_links_anime.json",
        "mal_links_anime.request.json",
    ]


def test_a_damaged_kept_copy_is_one_line_and_the_links_are_fetched_anew(
    source: MalLinksSource,
    database: FakeDatabaseApi,
    cache: LinkCache,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache.folder.mkdir(parents=True)
    cache.links_path(ANIME).write_bytes(b"\x00garbage")
    found = source.lookup(ANIME)
    assert found.source is LinkSource.DOWNLOADED
    [line] = warnings(caplog)
    assert line == (
        f"{cache.links_path(ANIME)}: not a malsync links file (delete it; it is fetched anew); "
        "the links are asked for anew."
    )
    assert cache.read(ANIME) is not None


def test_the_cache_folder_unwritable_still_gives_this_run_its_links(
    source: MalLinksSource, cache: LinkCache, caplog: pytest.LogCaptureFixture
) -> None:
    cache.folder.parent.mkdir(parents=True, exist_ok=True)
    cache.folder.write_text("a file where the folder should be")
    found = source.lookup(ANIME)
    assert found.source is LinkSource.DOWNLOADED and found.table is not None
    assert any("Could not keep aniSearch's MAL links in" in line for line in warnings(caplog))


def test_no_contact_is_refused_before_anything_is_sent(
    fake: FakeAniSearch, database: FakeDatabaseApi, cache: LinkCache
) -> None:
    with pytest.raises(ConfigError, match="contact is not set"):
        MalLinksSource(settings(fake), "", RETRY, cache)
    with pytest.raises(ConfigError, match="must be https"):
        MalLinksSource(settings(fake, base_url="http://example.com/v1"), CONTACT, RETRY, cache)
    assert database.requests() == []


def test_status_says_how_old_the_kept_links_are(
    tmp_path: Path,
    fake: FakeAniSearch,
    database: FakeDatabaseApi,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from malsync.cli.main import main
    from malsync.config.settings import default_cache_path
    from tests.conftest import write_config

    assert default_cache_path() == tmp_path / "xdg-cache" / "malsync"  # never the user's own
    config = write_config(tmp_path, fake.base_url)
    assert main(["status", "--config", str(config)]) == 0
    assert "aniSearch's MAL links: anime not fetched yet; manga not fetched yet." in (
        capsys.readouterr().out
    )
    cache = LinkCache(default_cache_path())
    made = MalLinksSource(
        settings(fake), CONTACT, RETRY, cache, clock=lambda: database.now() - 5 * HOUR
    )
    made.lookup(ANIME)
    made.close()
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "aniSearch's MAL links: anime fetched 20" in out
    assert "(5 hours ago); manga not fetched yet." in out
    assert main(["status", "--json", "--config", str(config)]) == 0
    document = json.loads(capsys.readouterr().out)["mal_links"]
    assert document["state"] == "kept" and document["fetched_at"]["manga"] is None
    assert document["fetched_at"]["anime"] == pytest.approx(database.now() - 5 * HOUR, abs=5)
    config.write_text(config.read_text().replace("[limits]", "use_mal_links = false\n[limits]"))
    assert main(["status", "--config", str(config)]) == 0
    assert "aniSearch's MAL links: not used ([anisearch] use_mal_links = false)." in (
        capsys.readouterr().out
    )


def test_the_settings_read_the_switch_and_the_database_token_from_file_and_environment(
    tmp_path: Path,
) -> None:
    from malsync.config.settings import load_settings

    config = tmp_path / "c.toml"
    config.write_text('[anisearch]\nuse_mal_links = false\ndatabase_token = "dbtok-from-file"\n')
    from malsync.config.template import settings_lines

    api = load_settings(config, {}).anisearch
    assert (api.use_mal_links, api.database_token) == (False, Secret("dbtok-from-file"))
    shown = settings_lines(load_settings(config, {}))
    assert {"use_mal_links = false", 'database_token = "(set, not shown)"'} <= set(shown)
    from_env = load_settings(config, {"ANISEARCH_DATABASE_TOKEN": "dbtok-from-env"}).anisearch
    assert from_env.database_token == Secret("dbtok-from-env")
    assert load_settings(None, {}).anisearch.use_mal_links is True
    config.write_text('[anisearch]\nuse_mal_links = "yes"\n')
    with pytest.raises(ConfigError, match=r"\[anisearch\] use_mal_links must be true or false"):
        load_settings(config, {})
    config.write_text('[anisearch]\ndatabase_token = "two words"\n')
    with pytest.raises(ConfigError) as refused:
        load_settings(config, {})
    assert "two words" not in str(refused.value)
