from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from malsync.config import MappingOptions, PartialDates
from malsync.mapper import map_entry
from malsync.records import ListEntry, ListStatus, MalDate, MediaType

ANIME = ListEntry(
    media=MediaType.ANIME,
    mal_id=5114,
    title="Fullmetal Alchemist: Brotherhood",
    status=ListStatus.COMPLETED,
    score=9,
    progress=64,
    volumes=None,
    start=MalDate(2019, 1, 5),
    finish=MalDate(2019, 3, 27),
    repeating=False,
    times_repeated=2,
    repeat_value=5,
    priority=3,
    comments="Rewatched with friends",
    tags=("classic", "alchemy"),
    source="anime.xml",
)
MANGA = replace(
    ANIME,
    media=MediaType.MANGA,
    mal_id=2,
    title="Berserk",
    status=ListStatus.IN_PROGRESS,
    progress=374,
    volumes=41,
    repeating=True,
)
DEFAULTS = MappingOptions()


def test_anime_body_is_exactly_the_documented_fields() -> None:
    assert map_entry(ANIME, DEFAULTS).payload == {
        "status": "completed",
        "use_myanimelist_id": True,
        "is_visible": True,
        "public_rating": 9,
        "public_fraction": 0,
        "episodes_watched": 64,
        "start_date": "2019-01-05",
        "end_date": "2019-03-27",
        "is_rewatching": False,
        "times_rewatched": 2,
        "rewatch_desire": 5,
        "priority": 3,
        "notes": "Rewatched with friends",
    }


def test_manga_body_uses_manga_fields_only() -> None:
    payload = map_entry(MANGA, DEFAULTS).payload
    assert payload["chapters_read"] == 374
    assert payload["volumes_read"] == 41
    assert payload["is_rereading"] is True
    assert payload["times_reread"] == 2
    assert payload["reread_desire"] == 5
    assert payload["status"] == "ongoing"
    anime_only = {"episodes_watched", "is_rewatching", "times_rewatched", "rewatch_desire"}
    assert not anime_only & payload.keys()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (ListStatus.IN_PROGRESS, "ongoing"),
        (ListStatus.COMPLETED, "completed"),
        (ListStatus.ON_HOLD, "on_hold"),
        (ListStatus.DROPPED, "dropped"),
        (ListStatus.PLAN_TO_WATCH, "bookmark"),
    ],
)
def test_default_status_mapping(status: ListStatus, expected: str) -> None:
    assert map_entry(replace(ANIME, status=status), DEFAULTS).payload["status"] == expected


def test_status_mapping_follows_the_config() -> None:
    options = MappingOptions(status={**DEFAULTS.status, ListStatus.DROPPED: "not_interested"})
    entry = replace(ANIME, status=ListStatus.DROPPED)
    assert map_entry(entry, options).payload["status"] == "not_interested"


def test_unscored_entry_sends_no_rating_at_all() -> None:
    payload = map_entry(replace(ANIME, score=None), MappingOptions(personal_rating=True)).payload
    assert not {"public_rating", "public_fraction", "personal_rating"} & payload.keys()


@pytest.mark.parametrize("score", range(1, 11))
def test_score_maps_to_public_rating_and_optionally_personal(score: int) -> None:
    plain = map_entry(replace(ANIME, score=score), DEFAULTS).payload
    assert (plain["public_rating"], plain["public_fraction"]) == (score, 0)
    assert "personal_rating" not in plain
    personal = map_entry(replace(ANIME, score=score), MappingOptions(personal_rating=True)).payload
    assert personal["personal_rating"] == score * 10


def test_partial_dates_are_omitted_by_default_with_a_warning() -> None:
    entry = replace(ANIME, start=MalDate(2012, 7), finish=MalDate(2011))
    mapped = map_entry(entry, DEFAULTS)
    assert "start_date" not in mapped.payload
    assert "end_date" not in mapped.payload
    assert len(mapped.warnings) == 2
    assert "2012-07-00 is partial; omitted" in mapped.warnings[0]


def test_partial_dates_can_be_rounded_to_the_first_day() -> None:
    entry = replace(ANIME, start=MalDate(2012, 7), finish=MalDate(2011))
    mapped = map_entry(entry, MappingOptions(partial_dates=PartialDates.FIRST_DAY))
    assert mapped.payload["start_date"] == "2012-07-01"
    assert mapped.payload["end_date"] == "2011-01-01"


def test_unknown_dates_are_omitted_silently() -> None:
    mapped = map_entry(replace(ANIME, start=None, finish=None), DEFAULTS)
    assert "start_date" not in mapped.payload
    assert mapped.warnings == ()


def test_empty_rewatch_value_priority_and_notes_are_omitted() -> None:
    entry = replace(ANIME, repeat_value=None, priority=None, comments="")
    payload = map_entry(entry, DEFAULTS).payload
    assert not {"rewatch_desire", "priority", "notes"} & payload.keys()


def test_tags_appended_to_notes_when_asked() -> None:
    assert map_entry(ANIME, MappingOptions(tags_in_notes=True)).payload["notes"] == (
        "Rewatched with friends\nTags: classic, alchemy"
    )
    no_comment = replace(ANIME, comments="")
    assert map_entry(no_comment, MappingOptions(tags_in_notes=True)).payload["notes"] == (
        "Tags: classic, alchemy"
    )


def test_visibility_and_touch_come_from_the_config() -> None:
    payload = map_entry(ANIME, MappingOptions(is_visible=False, touch=True)).payload
    assert payload["is_visible"] is False
    assert payload["touch"] is True
    assert "touch" not in map_entry(ANIME, DEFAULTS).payload


def test_importer_warnings_are_kept() -> None:
    mapped = map_entry(replace(ANIME, warnings=("my_score 'x' ...",)), DEFAULTS)
    assert mapped.warnings == ("my_score 'x' ...",)


RANGES = {
    "public_rating": (0, 10),
    "public_fraction": (0, 9),
    "personal_rating": (0, 100),
    "rewatch_desire": (0, 5),
    "reread_desire": (0, 5),
    "priority": (0, 3),
}
ALLOWED = {
    MediaType.ANIME: {"episodes_watched", "is_rewatching", "times_rewatched", "rewatch_desire"},
    MediaType.MANGA: {
        "chapters_read",
        "volumes_read",
        "is_rereading",
        "times_reread",
        "reread_desire",
    },
}
COMMON = {
    "status",
    "use_myanimelist_id",
    "is_visible",
    "public_rating",
    "public_fraction",
    "personal_rating",
    "start_date",
    "end_date",
    "notes",
    "priority",
    "touch",
}

dates = st.one_of(
    st.none(),
    st.dates().map(lambda d: MalDate(d.year, d.month, d.day)),
    st.builds(MalDate, st.integers(1900, 2100), st.one_of(st.none(), st.integers(1, 12))),
)
entries = st.builds(
    ListEntry,
    media=st.sampled_from(MediaType),
    mal_id=st.integers(1, 10**7),
    title=st.text(max_size=20),
    status=st.sampled_from(ListStatus),
    score=st.one_of(st.none(), st.integers(1, 10)),
    progress=st.integers(0, 10**5),
    volumes=st.one_of(st.none(), st.integers(0, 500)),
    start=dates,
    finish=dates,
    repeating=st.booleans(),
    times_repeated=st.integers(0, 1000),
    repeat_value=st.one_of(st.none(), st.integers(1, 5)),
    priority=st.one_of(st.none(), st.integers(1, 3)),
    comments=st.text(max_size=40),
    tags=st.lists(st.text(min_size=1, max_size=8), max_size=3).map(tuple),
    source=st.just("x.xml"),
)
options = st.builds(
    MappingOptions,
    personal_rating=st.booleans(),
    partial_dates=st.sampled_from(list(PartialDates)),
    tags_in_notes=st.booleans(),
    is_visible=st.booleans(),
    touch=st.booleans(),
)


@given(entries, options)
def test_every_body_stays_inside_the_guide(entry: ListEntry, option: MappingOptions) -> None:
    payload = map_entry(entry, option).payload
    assert set(payload) <= COMMON | ALLOWED[entry.media]
    assert payload["status"] in {"ongoing", "completed", "on_hold", "dropped", "bookmark"}
    assert payload["use_myanimelist_id"] is True
    for key, (low, high) in RANGES.items():
        if key in payload:
            value = payload[key]
            assert isinstance(value, int)
            assert low <= value <= high
    for key in ("start_date", "end_date"):
        if key in payload:
            assert isinstance(payload[key], str)
            assert len(str(payload[key])) == 10
    for value in payload.values():
        if isinstance(value, int) and not isinstance(value, bool):
            assert value >= 0
