"""Hostile link tables, from the server or a damaged cache file: one clear line, no traceback."""

from __future__ import annotations

import gzip
import logging
import random
from pathlib import Path

import pytest

from malsync.anisearch import mal_links
from malsync.anisearch.link_lookup import LinkSource
from malsync.anisearch.mal_links import MalLinksSource
from malsync.config.settings import AniSearchSettings
from malsync.pipeline.records import MediaType
from malsync.store.mal_links_cache import LinkCache, LinksUnusable, MalLinks, decode_links
from tests.fake_anisearch import FakeAniSearch
from tests.test_mal_links import CONTACT, RETRY

ANIME = MediaType.ANIME
GOOD = ",".join(f'"{n}":[{n + 1000}]' for n in range(1, 11))  # ten usable links


def decoded(text: str | bytes) -> dict[int, tuple[int, ...]]:
    raw = text.encode() if isinstance(text, str) else text
    return decode_links(raw, "the answer").table


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html><body>Maintenance</body></html>", "the answer: not JSON ("),
        (b"\xff\xfe{}", "the answer: not UTF-8 text"),
        (b"[1, 2, 3]", "the answer: not a JSON object of MAL ids"),
        (b'"links"', "the answer: not a JSON object of MAL ids"),
        (b"{}", "the answer: lists no links"),
        (b'{"1": []}', "the answer: lists no links"),
        (b'{"message": "internal error"}', "1 of 1 entries are no links (the first: 'message'"),
        (b'{"a": [1], "b": [2], "3": [4]}', "2 of 3 entries are no links (the first: 'a' is"),
        (b"[" * 100_000, "the answer: not JSON ("),
        (gzip.compress(b'{"1": [2]}')[:-6], "the answer: damaged gzip (cut short)"),
        (b"\x1f\x8bnot gzip at all", "the answer: damaged gzip ("),
    ],
)
def test_an_unusable_table_is_refused_in_one_line(body: bytes, why: str) -> None:
    with pytest.raises(LinksUnusable) as refused:
        decode_links(body, "the answer")
    message = str(refused.value)
    assert why in message
    assert "\n" not in message and len(message) < 200


def test_a_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"{" + b" " * (40 * 2**20) + b"}", compresslevel=9)
    assert len(bomb) < 100_000
    with pytest.raises(LinksUnusable, match="larger than 32 MB unpacked"):
        decode_links(bomb, "the answer")


def test_duplicates_are_joined_and_ids_sorted_once() -> None:
    table = decoded('{"5": [9, 1], "5": [2, 2], "005": [3], "6": [4]}')
    assert table == {5: (1, 2, 3, 9), 6: (4,)}


@pytest.mark.parametrize(
    "bad",
    [
        '"99999999999999999999999": [5]',  # a MAL id beyond what any id column holds
        '"7": [99999999999999999999999]',
        '"7": [0]',
        '"7": [-4]',
        '"7": [true]',
        '"7": [1.0]',
        '"7": ["12"]',
        '"7": 12',
        '"7": {"id": 12}',
        '"+7": [12]',
        '"\u0667": [12]',  # an Arabic-Indic digit seven
        '"": [12]',
    ],
)
def test_an_entry_that_is_no_link_is_left_out_and_counted(bad: str) -> None:
    read = decode_links(f"{{{GOOD},{bad}}}".encode(), "the answer")
    assert read.table == decoded(f"{{{GOOD}}}")
    assert read.skipped == 1 and read.first_problem


def test_a_mal_id_naming_dozens_of_titles_is_left_out() -> None:
    many = ",".join(str(n) for n in range(1, 40))
    read = decode_links(f'{{{GOOD},"77": [{many}]}}'.encode(), "the answer")
    assert 77 not in read.table and read.skipped == 1
    assert read.first_problem == "MAL id 77 links more than 32 titles"


def test_control_characters_in_a_bad_key_are_not_shown_raw() -> None:
    with pytest.raises(LinksUnusable) as refused:
        decode_links(b'{"\\u001b[31mred": [1]}', "the answer")
    assert "\x1b" not in str(refused.value)


def serve(fake: FakeAniSearch, tmp_path: Path, body: bytes) -> tuple[MalLinksSource, LinkCache]:
    fake.database.raw_body = body
    cache = LinkCache(tmp_path / "cache")
    api = AniSearchSettings(base_url=fake.base_url)
    return MalLinksSource(api, CONTACT, RETRY, cache, sleep=lambda s: None), cache


def test_a_hostile_answer_is_one_line_falls_back_and_counts_against_the_limit(
    fake: FakeAniSearch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, cache = serve(fake, tmp_path, b"<html>Service Unavailable</html>")
    cache.write(MalLinks(ANIME, {1: (2,)}, 0.0))  # a copy from 1970
    found = source.lookup(ANIME)
    assert found.source is LinkSource.OLDER_COPY and found.table == {1: (2,)}
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.startswith(
        "aniSearch's MAL links for anime: the download is unusable (aniSearch's answer: not JSON ("
    )
    assert line.endswith("days ago.") and "; using the copy fetched " in line
    assert "Traceback" not in caplog.text
    assert cache.read(ANIME) == MalLinks(ANIME, {1: (2,)}, 0.0)  # the good copy stays
    assert source.lookup(ANIME).source is LinkSource.OLDER_COPY
    assert len(fake.database.requests()) == 1  # not asked again inside the limit
    source.close()


def test_a_partly_damaged_answer_is_used_with_one_line_for_what_was_left_out(
    fake: FakeAniSearch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, _ = serve(fake, tmp_path, f'{{{GOOD},"x": [1]}}'.encode())
    found = source.lookup(ANIME)
    source.close()
    assert found.source is LinkSource.DOWNLOADED and found.table is not None
    assert len(found.table) == 10
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "aniSearch's MAL links for anime: 1 entry left out (the first: 'x' is no MAL id)."
    ]


def test_an_answer_over_the_size_cap_is_not_read(
    fake: FakeAniSearch,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(mal_links, "MAX_LINKS_BYTES", 1000)
    rng = random.Random(5)
    links = ",".join(f'"{n}":[{rng.randrange(10**9)}]' for n in range(1, 2000))
    source, _ = serve(fake, tmp_path, f"{{{links}}}".encode())  # gzipped still over 1000 bytes
    found = source.lookup(ANIME)
    source.close()
    assert found.source is LinkSource.NONE
    assert "the answer is larger than 1000 bytes; it was not read" in caplog.text


def test_a_kept_file_of_the_other_media_type_or_damaged_inside_is_one_line(
    tmp_path: Path,
) -> None:
    cache = LinkCache(tmp_path)
    cache.write(MalLinks(MediaType.MANGA, {13: (724,)}, 1.0))
    cache.links_path(ANIME).write_bytes(cache.links_path(MediaType.MANGA).read_bytes())
    with pytest.raises(LinksUnusable, match="not a malsync links file"):
        cache.read(ANIME)
    text = cache.links_path(MediaType.MANGA).read_text()
    cache.links_path(MediaType.MANGA).write_text(text.replace("724]", "724"))
    with pytest.raises(LinksUnusable, match=r"mal_links_manga\.json: not JSON"):
        cache.read(MediaType.MANGA)
    cache.request_path(ANIME).write_text('{"asked_at": "Infinity"}')
    assert cache.last_request(ANIME) is None
    cache.request_path(ANIME).write_text("[1]")
    assert cache.last_request(ANIME) is None
