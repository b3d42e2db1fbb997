"""MAL API list items become the same records as export entries; nothing unknown is ever sent."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from malsync.config.settings import MappingOptions
from malsync.pipeline.mapper import map_entry
from malsync.pipeline.records import (
    InvalidEntry,
    ListEntry,
    ListStatus,
    MalDate,
    MediaType,
    WarningKind,
)
from malsync.sources.mal_api import entry_from_api
from malsync.sources.mal_api_entries import API_FIELDS, requested_fields
from tests.fake_anisearch import _validate
from tests.fake_mal import anime_item, manga_item

SOURCE = "myanimelist:alice"


def entry(item: dict[str, Any], media: MediaType = MediaType.ANIME) -> ListEntry:
    result = entry_from_api(item, media, SOURCE)
    assert isinstance(result, ListEntry), result
    return result


def test_every_anime_field_is_mapped() -> None:
    result = entry(anime_item(5114, status="watching", finish_date="2017-12-31"))
    assert result == ListEntry(
        MediaType.ANIME,
        5114,
        "Anime 5114",
        ListStatus.IN_PROGRESS,
        score=8,
        progress=12,
        volumes=None,
        start=MalDate(2017, 10, 23),
        finish=MalDate(2017, 12, 31),
        repeating=False,
        times_repeated=2,
        repeat_value=4,
        priority=2,
        comments="Great show",
        tags=("favourite", "rewatch"),
        source=SOURCE,
    )


def test_manga_values_zero_means_unset_and_partial_dates_match_the_export() -> None:
    result = entry(manga_item(13, start_date="2017", finish_date="2017-10"), MediaType.MANGA)
    assert result.status is ListStatus.IN_PROGRESS  # reading, like watching
    assert (result.progress, result.volumes) == (40, 4)
    assert result.score is None  # 0 = unscored
    assert result.repeat_value is None  # reread_value 0 = not set
    assert result.priority == 1  # MAL's 0 (low) is the records' 1 LOW
    assert result.times_repeated == 0
    assert result.comments == ""  # returned empty: known to be empty
    # The export writes these as 2017-00-00 and 2017-10-00.
    assert (str(result.start), str(result.finish)) == ("2017-00-00", "2017-10-00")
    assert result.start == MalDate(2017) and result.finish == MalDate(2017, 10)


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("plan_to_watch", ListStatus.PLAN_TO_WATCH),
        ("plan_to_read", ListStatus.PLAN_TO_WATCH),
        ("reading", ListStatus.IN_PROGRESS),
        ("on_hold", ListStatus.ON_HOLD),
        ("dropped", ListStatus.DROPPED),
    ],
)
def test_status_names(word: str, status: ListStatus) -> None:
    assert entry(anime_item(1, status=word)).status is status


@pytest.mark.parametrize(("priority", "expected"), [(0, 1), (1, 2), (2, 3)])
def test_priority_low_medium_high(priority: int, expected: int) -> None:
    assert entry(anime_item(1, priority=priority)).priority == expected


def test_fields_the_api_did_not_return_are_unknown_and_left_out_of_the_body() -> None:
    item = anime_item(7)
    item["list_status"] = {"status": "completed"}
    result = entry(item)
    assert result.warnings == ()
    for name in (
        "score",
        "progress",
        "start",
        "finish",
        "repeating",
        "times_repeated",
        "repeat_value",
        "priority",
        "comments",
    ):
        assert getattr(result, name) is None, name
    payload = map_entry(result, MappingOptions(tags_in_notes=True)).payload
    assert payload == {"status": "completed", "use_myanimelist_id": True, "is_visible": True}


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"node": {"id": 1, "title": "A"}, "list_status": {"status": "rewatching"}}, "unknown"),
        ({"node": {"id": 1, "title": "A"}, "list_status": {}}, "has no status"),
        ({"node": {"title": "A"}, "list_status": {"status": "completed"}}, "has no MAL id"),
        ({"node": {"id": True}, "list_status": {"status": "completed"}}, "not a positive"),
        ({"node": {"id": 2**63}, "list_status": {"status": "completed"}}, "not a positive"),
        ({"node": {"id": -5}, "list_status": {"status": "completed"}}, "not a positive"),
        ({"node": {"id": "12"}, "list_status": {"status": "completed"}}, "not a positive"),
        ({"list_status": {"status": "completed"}}, "has no node"),
        ({"node": {"id": 3, "title": "A"}}, "has no list_status"),
    ],
)
def test_invalid_entries_say_why(item: dict[str, Any], reason: str) -> None:
    result = entry_from_api(item, MediaType.ANIME, SOURCE)
    assert isinstance(result, InvalidEntry)
    assert reason in result.reason
    assert result.source == SOURCE


@pytest.mark.parametrize(
    ("field", "value", "attribute"),
    [
        ("num_episodes_watched", -1, "progress"),
        ("num_episodes_watched", True, "progress"),
        ("num_episodes_watched", 2**40, "progress"),
        ("num_times_rewatched", 1.5, "times_repeated"),
        ("score", 11, "score"),
        ("score", "8", "score"),
        ("rewatch_value", 6, "repeat_value"),
        ("priority", 3, "priority"),
        ("is_rewatching", 1, "repeating"),
        ("start_date", "2017-13", "start"),
        ("start_date", "2017-02-30", "start"),
        ("start_date", "0000", "start"),
        ("finish_date", "23.10.2017", "finish"),
        ("comments", 5, "comments"),
    ],
)
def test_unusable_values_warn_and_stay_unknown(field: str, value: Any, attribute: str) -> None:
    result = entry(anime_item(9, **{field: value}))
    assert getattr(result, attribute) is None
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(f"{field} {value!r}")


def test_tags_that_are_not_a_list_warn() -> None:
    result = entry(anime_item(9, tags="a,b"))
    assert result.tags == ()
    assert result.warnings == ("tags 'a,b' is not a list of words; left as it is on aniSearch",)


def test_every_mapped_field_is_named_in_the_request() -> None:
    for media, own in API_FIELDS.items():
        named = requested_fields(media)
        assert named.startswith("list_status{") and named.endswith("}")
        inner = set(named[len("list_status{") : -1].split(","))
        wanted = {own.progress, own.repeating, own.times_repeated, own.repeat_value}
        wanted |= {"status", "score", "start_date", "finish_date", "priority", "tags", "comments"}
        assert wanted | ({own.volumes} if own.volumes else set()) <= inner


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=6,
)
FIELD_NAMES = [
    "status",
    "score",
    "num_episodes_watched",
    "num_chapters_read",
    "num_volumes_read",
    "is_rewatching",
    "is_rereading",
    "num_times_rewatched",
    "num_times_reread",
    "rewatch_value",
    "reread_value",
    "start_date",
    "finish_date",
    "priority",
    "tags",
    "comments",
]
odd_status = st.dictionaries(
    st.sampled_from(FIELD_NAMES),
    json_values | st.sampled_from(["completed", "reading", "plan_to_read", "2017-10"]),
)


@settings(max_examples=300, deadline=None)
@given(
    node=st.one_of(json_values, st.fixed_dictionaries({"id": json_values, "title": json_values})),
    list_status=st.one_of(json_values, odd_status),
    media=st.sampled_from(list(MediaType)),
)
def test_any_json_gives_a_record_whose_body_aniSearch_accepts(
    node: Any, list_status: Any, media: MediaType
) -> None:
    result = entry_from_api({"node": node, "list_status": list_status}, media, SOURCE)
    assert isinstance(result, ListEntry | InvalidEntry)
    if isinstance(result, ListEntry):
        for options in (MappingOptions(), MappingOptions(partial_dates="first_day")):
            payload = map_entry(result, options).payload
            assert _validate(media.value, payload) is None, payload


def test_control_characters_are_removed_from_text_with_a_warning() -> None:
    item = anime_item(
        14,
        comments="a\x00b\x1b[2J\r\nnext line\tafter a tab\x7f\x9b",
        tags=["fine", "bell\x07", "\x1b[31mred"],
    )
    item["node"]["title"] = "evil\x1b[31mred\x00"
    result = entry(item)
    assert result.title == "evil[31mred"
    assert result.comments == "ab[2J\nnext line\tafter a tab"
    assert result.tags == ("fine", "bell", "[31mred")
    assert [(str(w), w.kind) for w in result.warnings] == [
        ("title: 2 control characters removed", WarningKind.TEXT_REPAIRED),
        ("comments: 4 control characters removed", WarningKind.TEXT_REPAIRED),
        ("tags: 2 control characters removed", WarningKind.TEXT_REPAIRED),
    ]


def test_line_breaks_and_tabs_stay_without_a_warning() -> None:
    result = entry(anime_item(1, comments="one\r\ntwo\n\tthree"))
    assert (result.comments, result.warnings) == ("one\ntwo\n\tthree", ())


# Text as MAL's users type it: any character but control characters (line breaks and tabs aside),
# and none that MAL's HTML reads (`&`, `<`) or that a line break ends (blanks before it): how
# those become the same text as an export's is tests/test_mal_text.py.
typed_text = st.text(
    st.one_of(
        st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="&<"),
        st.sampled_from("\n\t"),
    )
).map(lambda text: re.sub(r"[ \t]+\n", "\n", text))


@settings(max_examples=200, deadline=None)
@given(
    score=st.integers(0, 10),
    progress=st.integers(0, 5000),
    repeat=st.integers(0, 5),
    priority=st.integers(0, 2),
    dates=st.tuples(st.integers(1950, 2100), st.integers(1, 12), st.integers(1, 28)),
    tags=st.lists(typed_text.filter(str.strip), max_size=4),
    comments=typed_text,
)
def test_valid_values_arrive_unchanged(
    score: int,
    progress: int,
    repeat: int,
    priority: int,
    dates: tuple[int, int, int],
    tags: list[str],
    comments: str,
) -> None:
    year, month, day = dates
    item = anime_item(
        1,
        score=score,
        num_episodes_watched=progress,
        rewatch_value=repeat,
        priority=priority,
        start_date=f"{year:04d}-{month:02d}-{day:02d}",
        finish_date=f"{year:04d}-{month:02d}",
        tags=tags,
        comments=comments,
    )
    result = entry(item)
    assert result.warnings == ()
    assert result.score == (score or None)
    assert result.progress == progress
    assert result.repeat_value == (repeat or None)
    assert result.priority == priority + 1
    assert result.start == MalDate(year, month, day)
    assert result.finish == MalDate(year, month)
    assert result.tags == tuple(tag.strip() for tag in tags)
    assert result.comments == comments.strip()
