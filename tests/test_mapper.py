from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from malsync.config.settings import MappingOptions, PartialDates
from malsync.pipeline.mapper import MEDIA_FIELDS, map_entry
from malsync.pipeline.records import ListEntry, ListStatus, MalDate, MediaType

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


@pytest.mark.parametrize(
    ("field", "value", "sent", "warning"),
    [
        ("progress", 999_999, 65_535, "episodes_watched 999999 is more than 65535"),
        ("times_repeated", 10**20, 65_535, "times_rewatched 100000000000000000000 is more than"),
        pytest.param(
            "times_repeated", 10**5000, 65_535, "times_rewatched (a number of more", id="huge"
        ),
        ("progress", 3.7, 3, "episodes_watched 3.7 is not a whole number; 3 sent"),
    ],
)
def test_counts_outside_the_api_range_are_clamped_with_a_warning(
    field: str, value: float, sent: int, warning: str
) -> None:
    mapped = map_entry(replace(ANIME, **{field: value}), DEFAULTS)
    name = "episodes_watched" if field == "progress" else "times_rewatched"
    assert mapped.payload[name] == sent
    assert len(mapped.warnings) == 1
    assert mapped.warnings[0].startswith(warning)
    assert mapped.warnings[0].endswith(f"; {sent} sent")


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "12", True])
def test_counts_that_are_no_number_are_left_out_with_a_warning(value: object) -> None:
    mapped = map_entry(replace(MANGA, volumes=value), DEFAULTS)
    assert "volumes_read" not in mapped.payload
    assert mapped.warnings == (f"volumes_read {value!r} is not a number; omitted",)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(-4, "-4"), (-0.5, "-0.5"), (-(10**40), "(a number of more than 30 digits)")],
)
def test_negative_counts_are_left_out_never_sent_as_zero(value: float, shown: str) -> None:
    """A count below 0 says nothing about the real one: 0 would wipe aniSearch's progress."""
    mapped = map_entry(replace(ANIME, progress=value), DEFAULTS)
    assert "episodes_watched" not in mapped.payload
    assert mapped.warnings == (f"episodes_watched {shown} is negative; omitted",)


def test_manga_volume_count_is_clamped_too() -> None:
    mapped = map_entry(replace(MANGA, volumes=70_000, progress=70_001), DEFAULTS)
    assert (mapped.payload["volumes_read"], mapped.payload["chapters_read"]) == (65_535, 65_535)
    assert len(mapped.warnings) == 2


@pytest.mark.parametrize("score", [11, -1, 10**20, 2.5, True])
def test_scores_outside_one_to_ten_send_no_rating(score: object) -> None:
    mapped = map_entry(replace(ANIME, score=score), MappingOptions(personal_rating=True))
    assert not {"public_rating", "public_fraction", "personal_rating"} & mapped.payload.keys()
    assert mapped.warnings == (f"score {score!r} is not a score from 1 to 10; no rating sent",)


def test_score_zero_means_unscored_and_sends_no_rating() -> None:
    mapped = map_entry(replace(ANIME, score=0), DEFAULTS)
    assert "public_rating" not in mapped.payload
    assert mapped.warnings == ()


@pytest.mark.parametrize(
    ("field", "value", "name", "warning"),
    [
        ("repeat_value", 6, "rewatch_desire", "rewatch_desire 6 is outside 0 to 5; omitted"),
        ("repeat_value", -1, "rewatch_desire", "rewatch_desire -1 is outside 0 to 5; omitted"),
        ("priority", 4, "priority", "priority 4 is outside 0 to 3; omitted"),
        ("priority", 2**63, "priority", f"priority {2**63} is outside 0 to 3; omitted"),
    ],
)
def test_scales_outside_the_api_range_are_left_out_with_a_warning(
    field: str, value: int, name: str, warning: str
) -> None:
    mapped = map_entry(replace(ANIME, **{field: value}), DEFAULTS)
    assert name not in mapped.payload
    assert mapped.warnings == (warning,)


COUNTS = {"episodes_watched", "chapters_read", "volumes_read", "times_rewatched", "times_reread"}
absurd_numbers = st.one_of(
    st.none(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, 10, 11, 65_535, 65_536, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
)
absurd_entries = st.builds(
    ListEntry,
    media=st.sampled_from(MediaType),
    mal_id=st.integers(1, 2**63 - 1),
    title=st.text(max_size=5),
    status=st.sampled_from(ListStatus),
    score=absurd_numbers,
    progress=absurd_numbers,
    volumes=absurd_numbers,
    start=dates,
    finish=dates,
    repeating=st.one_of(st.none(), st.booleans()),
    times_repeated=absurd_numbers,
    repeat_value=absurd_numbers,
    priority=absurd_numbers,
    comments=st.one_of(st.none(), st.text(max_size=5)),
    tags=st.just(()),
    source=st.just("x.xml"),
)


@given(absurd_entries, options)
def test_every_body_is_inside_the_api_ranges_whatever_the_record_holds(
    entry: ListEntry, option: MappingOptions
) -> None:
    mapped = map_entry(entry, option)
    payload = mapped.payload
    assert set(payload) <= COMMON | ALLOWED[entry.media]
    for key, value in payload.items():
        if key in RANGES or key in COUNTS:
            assert type(value) is int, (key, value)
            low, high = RANGES.get(key, (0, 65_535))
            assert low <= value <= high, (key, value)
    fields = MEDIA_FIELDS[entry.media]
    sources = {
        fields.progress: entry.progress,
        fields.times_repeated: entry.times_repeated,
        fields.repeat_value: entry.repeat_value,
        "priority": entry.priority,
        "public_rating": entry.score,
        **({fields.volumes: entry.volumes} if fields.volumes else {}),
    }
    for name, value in sources.items():
        if value is None or (name == "public_rating" and value == 0):
            assert name not in payload, "an unknown value was sent"
        elif payload.get(name) != value:
            assert any(w.startswith(name) or w.startswith("score") for w in mapped.warnings)
