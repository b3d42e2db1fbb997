"""Reading whole lists from the fake MAL API: paging, fields, private lists, faults, secrecy."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
import requests

from malsync.config.settings import MalSettings, RetryOptions, mal_sign_in
from malsync.errors import ConfigError, ExitStatus
from malsync.pipeline.records import InvalidEntry, ListEntry, MediaType
from malsync.redaction import Secret
from malsync.sources.mal_api import (
    MalApiReader,
    MalListPrivate,
    MalReadError,
    MalRefused,
    MalUserNotFound,
)
from tests.fake_mal import CLIENT_ID, FakeMal, MalUser, anime_item, manga_item

FAST_RETRY = RetryOptions(
    attempts=3,
    initial_wait_seconds=0.01,
    max_wait_seconds=0.02,
    connect_timeout_seconds=2,
    read_timeout_seconds=2,
)


@pytest.fixture
def fake() -> Iterator[FakeMal]:
    users = {
        "alice": MalUser(
            anime=[anime_item(i) for i in range(1, 2346)],
            manga=[manga_item(i) for i in range(1, 4)],
        ),
        "hidden": MalUser(anime=[anime_item(1)], private=True),
    }
    with FakeMal(users=users) as server:
        yield server


def reader(fake: FakeMal, **options: Any) -> MalApiReader:
    settings = MalSettings(
        api_url=fake.api_url,
        pace_seconds=options.pop("pace", 0.0),
        sign_in=dataclasses.replace(mal_sign_in(), client_id=Secret(CLIENT_ID)),
    )
    return MalApiReader(settings, FAST_RETRY, contact="tester@example.com", **options)


def assert_no_secret(fake: FakeMal, *texts: str) -> None:
    for text in texts:
        for secret in fake.secrets_seen():
            assert secret not in text


def test_a_list_past_1000_entries_is_read_in_three_requests(fake: FakeMal) -> None:
    with reader(fake) as mal:
        result = mal.read(MediaType.ANIME, "alice")
    assert len(result.entries) == 2345
    assert all(isinstance(entry, ListEntry) for entry in result.entries)
    assert [entry.mal_id for entry in result.entries] == list(range(1, 2346))
    assert {entry.source for entry in result.entries} == {"myanimelist:alice"}
    assert (result.pages, result.requests, result.source) == (3, 3, "myanimelist:alice")
    got = fake.list_requests()
    assert [r.query["offset"] for r in got] == ["0", "1000", "2000"]
    assert {r.query["limit"] for r in got} == {"1000"}
    assert {r.query["nsfw"] for r in got} == {"true"}
    assert {r.path for r in got} == {"/v2/users/alice/animelist"}
    for request in got:
        assert request.headers["X-MAL-CLIENT-ID"] == CLIENT_ID
        assert "Authorization" not in request.headers
        assert request.headers["User-Agent"].startswith("malsync/")
        assert "tester@example.com" in request.headers["User-Agent"]


def test_nsfw_entries_are_read_too(fake: FakeMal) -> None:
    flagged = manga_item(99)
    flagged["nsfw"] = True  # the fake leaves it out unless nsfw=true
    fake.users["alice"].manga.append(flagged)
    with reader(fake) as mal:
        result = mal.read(MediaType.MANGA, "alice")
    assert [entry.mal_id for entry in result.entries] == [1, 2, 3, 99]


def test_fields_beyond_the_base_set_come_because_they_are_named(fake: FakeMal) -> None:
    bare = requests.get(
        f"{fake.api_url}/users/alice/mangalist",
        params={"fields": "list_status", "limit": 1},
        headers={"X-MAL-CLIENT-ID": CLIENT_ID},
        timeout=5,
    ).json()["data"][0]["list_status"]
    assert "priority" not in bare and "comments" not in bare and "tags" not in bare
    with reader(fake) as mal:
        first = mal.read(MediaType.MANGA, "alice").entries[0]
    assert isinstance(first, ListEntry)
    assert (first.priority, first.times_repeated, first.comments, first.volumes) == (1, 0, "", 4)
    fields = fake.list_requests()[-1].query["fields"]
    for name in ("priority", "num_times_reread", "reread_value", "tags", "comments"):
        assert name in fields


def test_fields_mal_leaves_out_stay_unknown(fake: FakeMal) -> None:
    fake.faults.missing_fields = frozenset({"comments", "priority", "score", "tags"})
    with reader(fake) as mal:
        first = mal.read(MediaType.MANGA, "alice").entries[0]
    assert isinstance(first, ListEntry)
    assert (first.comments, first.priority, first.score, first.tags) == (None, None, None, ())
    assert first.progress == 40


@pytest.mark.parametrize("status", [403, 401])
def test_a_private_list_read_with_the_client_id_says_to_sign_in(fake: FakeMal, status: int) -> None:
    fake.private_status = status
    with reader(fake) as mal, pytest.raises(MalListPrivate) as caught:
        mal.read(MediaType.ANIME, "hidden")
    message = str(caught.value)
    assert "\n" not in message
    assert "MAL could not be read: hidden's anime list is private" in message
    assert "malsync login myanimelist" in message
    assert caught.value.exit_status == ExitStatus.SERVER_STOPPED
    assert len(fake.list_requests()) == 1  # not retried
    assert_no_secret(fake, message)


def test_me_needs_a_sign_in_and_sends_nothing(fake: FakeMal) -> None:
    with reader(fake) as mal, pytest.raises(MalListPrivate, match="malsync login myanimelist"):
        mal.read(MediaType.ANIME, "@me")
    assert fake.received == []


def test_an_unknown_user_is_bad_input(fake: FakeMal) -> None:
    with reader(fake) as mal, pytest.raises(MalUserNotFound) as caught:
        mal.read(MediaType.ANIME, "nobody")
    assert caught.value.exit_status == ExitStatus.BAD_INPUT
    assert "no user 'nobody'" in str(caught.value)


def test_a_user_missing_after_the_first_page_is_a_failed_read(fake: FakeMal) -> None:
    fake.faults.scripted.extend(["ok", 404])
    with reader(fake) as mal, pytest.raises(MalReadError) as caught:
        mal.read(MediaType.ANIME, "alice")
    assert not isinstance(caught.value, MalUserNotFound)
    assert caught.value.exit_status == ExitStatus.SERVER_STOPPED
    message = str(caught.value)
    assert message.startswith("MAL could not be read: alice's anime list (HTTP 404")
    assert "nothing of it is used" in message and "no user" not in message


def test_me_is_accepted_in_any_case(fake: FakeMal) -> None:
    with reader(fake) as mal, pytest.raises(MalListPrivate, match="@me needs a sign-in"):
        mal.read(MediaType.ANIME, "@ME")
    assert fake.received == []


def test_the_count_read_is_said_in_the_right_number(
    fake: FakeMal, caplog: pytest.LogCaptureFixture
) -> None:
    fake.users["bob"] = MalUser(anime=[anime_item(1)])
    caplog.set_level(logging.INFO)
    with reader(fake) as mal:
        mal.read(MediaType.ANIME, "bob")
        mal.read(MediaType.MANGA, "bob")
    assert "read 1 anime entry of bob from MAL in 1 page" in caplog.messages
    assert "read 0 manga entries of bob from MAL in 1 page" in caplog.messages


@pytest.mark.parametrize("name", ["", "../v1/oauth2", "a b", "al/ice"])
def test_user_names_that_are_no_names_are_refused_before_any_request(
    fake: FakeMal, name: str
) -> None:
    with reader(fake) as mal, pytest.raises(ConfigError):
        mal.read(MediaType.ANIME, name)
    assert fake.received == []


def test_without_client_id_or_sign_in_nothing_can_be_read(fake: FakeMal) -> None:
    with pytest.raises(ConfigError, match=r"\[myanimelist\] client_id is not set"):
        MalApiReader(MalSettings(api_url=fake.api_url), FAST_RETRY)


def test_html_error_pages_and_dropped_connections_are_retried(
    fake: FakeMal, caplog: pytest.LogCaptureFixture
) -> None:
    fake.faults.scripted.extend([503, 504, "ok", "html200", "drop"])
    caplog.set_level(logging.DEBUG)
    with reader(fake) as mal:
        result = mal.read(MediaType.ANIME, "alice")
    assert len(result.entries) == 2345
    statuses = [r.status for r in fake.list_requests()]
    assert statuses == [503, 504, 200, 200, None, 200, 200]
    assert result.requests == 7
    assert "trying again" in caplog.text
    assert_no_secret(fake, caplog.text)


def test_a_page_that_never_succeeds_gives_no_partial_list(
    fake: FakeMal, caplog: pytest.LogCaptureFixture
) -> None:
    fake.faults.failing_offset = 1000
    caplog.set_level(logging.DEBUG)
    with reader(fake) as mal, pytest.raises(MalReadError) as caught:
        mal.read(MediaType.ANIME, "alice")
    message = str(caught.value)
    assert message.startswith("MAL could not be read: alice's anime list from entry 1000 failed")
    assert "gave up after 3 tries" in message
    assert caught.value.exit_status == ExitStatus.SERVER_STOPPED
    assert [r.query["offset"] for r in fake.list_requests()] == ["0", "1000", "1000", "1000"]
    assert_no_secret(fake, message, caplog.text)


def test_a_burst_gets_403_and_stops_at_once(fake: FakeMal) -> None:
    fake.faults.burst_interval = 60.0  # any second request within a minute is a burst
    with reader(fake, pace=0.0) as mal, pytest.raises(MalRefused) as caught:
        mal.read(MediaType.ANIME, "alice")
    assert str(caught.value).count("DoS detected") == 1
    assert "stopped at once" in str(caught.value)
    assert caught.value.exit_status == ExitStatus.SERVER_STOPPED
    assert [r.status for r in fake.list_requests()] == [200, 403]


def test_pacing_keeps_below_the_burst_limit(fake: FakeMal) -> None:
    fake.faults.burst_interval = 0.15
    with reader(fake, pace=0.2) as mal:
        assert len(mal.read(MediaType.ANIME, "alice").entries) == 2345
    assert [r.status for r in fake.list_requests()] == [200, 200, 200]


def test_pacing_counts_from_the_answer_so_a_slow_answer_makes_no_burst(fake: FakeMal) -> None:
    """MAL counts a request when it arrives (or answers it), which can be well after it was
    sent: spaced from the moment the first page was sent, the second reached MAL right after
    the first and got 403 "DoS detected"; spaced from the first's answer it cannot."""
    fake.faults.burst_interval = 0.3
    fake.faults.held.append(0.6)  # the first page reaches MAL 0.6 s after it is sent
    with reader(fake, pace=0.35) as mal:
        assert len(mal.read(MediaType.ANIME, "alice").entries) == 2345
    received = fake.list_requests()
    assert [r.status for r in received] == [200, 200, 200]
    assert all(later.at - earlier.at >= 0.3 for earlier, later in pairwise(received))


def test_pacing_waits_between_requests_retries_included(fake: FakeMal) -> None:
    now = [1000.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    fake.faults.scripted.append(503)
    with reader(fake, pace=1.0, clock=lambda: now[0], sleep=sleep) as mal:
        mal.read(MediaType.ANIME, "alice")
    # Four requests (one retried), a second apart on the reader's clock, which moves only by
    # sleeping: the short backoff before the retry counts towards that request's second.
    assert len(fake.list_requests()) == 4
    assert now[0] - 1000.0 == pytest.approx(3.0)
    assert len(waits) == 4 and waits[0] < 0.1 and waits[1] == pytest.approx(1.0 - waits[0])


def test_paging_next_to_another_host_is_not_followed(fake: FakeMal) -> None:
    port = fake.root.rsplit(":", 1)[1]
    fake.next_url_base = f"http://localhost:{port}"  # the same fake under another name
    with reader(fake) as mal, pytest.raises(MalReadError, match="points away"):
        mal.read(MediaType.ANIME, "alice")
    assert len(fake.list_requests()) == 1


@pytest.mark.parametrize(
    ("loop", "why"),
    [
        ("stuck", "does not move past entry 0"),
        ("same_page", "adds no entry not seen before"),
    ],
)
def test_paging_that_goes_round_in_a_circle_stops_at_once(
    fake: FakeMal, loop: str, why: str
) -> None:
    fake.paging_loop = loop
    with reader(fake) as mal, pytest.raises(MalReadError) as caught:
        mal.read(MediaType.ANIME, "alice")
    message = str(caught.value)
    assert message.startswith("MAL could not be read:")
    assert why in message and "nothing of it is used" in message
    assert "\n" not in message
    assert caught.value.exit_status == ExitStatus.SERVER_STOPPED
    assert len(fake.list_requests()) == (1 if loop == "stuck" else 2)


@pytest.mark.parametrize(
    ("skip", "why"),
    [
        ("jump", "starts at entry 2000, but this page ended at entry 1000"),
        ("repeated", "names offset more than once"),
    ],
)
def test_paging_that_skips_a_page_stops_at_once(fake: FakeMal, skip: str, why: str) -> None:
    fake.paging_skip = skip
    with reader(fake) as mal, pytest.raises(MalReadError) as caught:
        mal.read(MediaType.ANIME, "alice")
    message = str(caught.value)
    assert message.startswith("MAL could not be read: the next page of alice's anime list ")
    assert why in message and message.endswith("nothing of it is used")
    assert caught.value.exit_status == ExitStatus.SERVER_STOPPED
    assert len(fake.list_requests()) == 1


def test_a_broken_item_is_invalid_and_the_others_go_on(fake: FakeMal) -> None:
    fake.users["alice"].manga.insert(1, manga_item(50, status="rereading"))
    fake.users["alice"].manga.insert(2, {"node": {"title": "No id"}, "list_status": {}})
    with reader(fake) as mal:
        entries = mal.read(MediaType.MANGA, "alice").entries
    invalid = [entry for entry in entries if isinstance(entry, InvalidEntry)]
    assert [(entry.mal_id, entry.reason) for entry in invalid] == [
        (50, "unknown status 'rereading'"),
        (None, "has no MAL id"),
    ]
    assert len(entries) == 5


def test_the_client_id_is_in_no_message_or_log_record(
    fake: FakeMal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.faults.scripted.extend(["dos"])
    with reader(fake) as mal, pytest.raises(MalRefused) as caught:
        mal.read(MediaType.ANIME, "alice")
    assert repr(mal._settings).count("***") == 1  # the settings' repr hides it too
    assert_no_secret(fake, str(caught.value), caplog.text, repr(mal._settings))
