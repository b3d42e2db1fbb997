"""Each entry's aniSearch title(s), and one body per title: bundles merged, parts each given theirs.

The bodies are the mapper's own (`map_entry`), as they reach this stage in a run.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from malsync.config.settings import MappingOptions
from malsync.ids.bundles import Member, TitlePlan, merge_bundle, merged_status, plan_titles
from malsync.ids.title_ids import (
    IdSource,
    TitleIds,
    goes_by_mal_id,
    resolve_title_ids,
    title_ids,
)
from malsync.pipeline.mapper import map_entry
from malsync.pipeline.records import ListEntry, ListStatus, MalDate, MediaType

ANIME, MANGA = MediaType.ANIME, MediaType.MANGA
OPTIONS = MappingOptions()
WATCHING, DONE, HOLD, DROPPED, PLANNED = (
    ListStatus.IN_PROGRESS,
    ListStatus.COMPLETED,
    ListStatus.ON_HOLD,
    ListStatus.DROPPED,
    ListStatus.PLAN_TO_WATCH,
)
GANTZ = ListEntry(
    media=ANIME,
    mal_id=384,
    title="Gantz",
    status=DONE,
    score=7,
    progress=13,
    volumes=None,
    start=MalDate(2010, 1, 5),
    finish=MalDate(2010, 2, 1),
    repeating=False,
    times_repeated=2,
    repeat_value=3,
    priority=1,
    comments="dark",
    tags=(),
    source="anime.xml",
)
GANTZ_2 = replace(
    GANTZ,
    mal_id=1010,
    title="Gantz 2nd Stage",
    score=8,
    progress=13,
    start=MalDate(2010, 3, 1),
    finish=MalDate(2010, 4, 9),
    times_repeated=1,
    repeat_value=5,
    priority=2,
    comments="darker",
)


def member(entry: ListEntry, options: MappingOptions = OPTIONS) -> Member:
    return Member(entry.media, entry.mal_id, entry.title, map_entry(entry, options).payload)


# The resolver: hand mapping, then the links, then the MAL id


def test_hand_mapping_first_then_the_links_then_the_mal_id() -> None:
    hand = {ANIME: {5114: 5048}}
    links = {ANIME: {5114: (1,), 384: (500,), 77: (702, 701)}}
    assert title_ids(ANIME, 5114, hand, links) == TitleIds(
        ANIME, 5114, (5048,), IdSource.HAND_MAPPING
    )
    assert title_ids(ANIME, 384, hand, links) == TitleIds(ANIME, 384, (500,), IdSource.MAL_LINKS)
    split = title_ids(ANIME, 77, hand, links)
    assert split.anisearch_ids == (701, 702) and split.is_split
    unlinked = title_ids(ANIME, 38840, hand, links)
    assert unlinked.source is IdSource.UNLINKED and unlinked.anisearch_ids == ()
    assert unlinked.unmatched_reason == "aniSearch links no title to MAL id 38840"
    # Manga has no links this run: by MAL id, as before the links, never unmatched.
    by_mal = title_ids(MANGA, 38840, hand, links)
    assert by_mal == TitleIds(MANGA, 38840, (), IdSource.MAL_ID)
    assert by_mal.by_mal_id and by_mal.unmatched_reason is None
    assert title_ids(MANGA, 1, hand, {ANIME: None, MANGA: None}).source is IdSource.MAL_ID
    assert resolve_title_ids([(ANIME, 384), (MANGA, 2)], {}, links) == {
        (ANIME, 384): TitleIds(ANIME, 384, (500,), IdSource.MAL_LINKS),
        (MANGA, 2): TitleIds(MANGA, 2, (), IdSource.MAL_ID),
    }


def test_a_hand_mapping_is_used_for_an_unlinked_title() -> None:
    links = {ANIME: {1: (2,)}}
    assert title_ids(ANIME, 38840, {}, links).source is IdSource.UNLINKED
    mapped = title_ids(ANIME, 38840, {ANIME: {38840: 12345}}, links)
    assert (mapped.anisearch_ids, mapped.source) == ((12345,), IdSource.HAND_MAPPING)


# Planning one request per title


def requests_of(plan: TitlePlan) -> list[tuple[str, int, bool, tuple[int, ...]]]:
    return [
        (r.media.value, r.target, r.by_mal_id, tuple(m.mal_id for m in r.members))
        for r in plan.requests
    ]


def test_a_bundle_is_one_request_with_merged_values_by_anisearch_id() -> None:
    links = {ANIME: {384: (500,), 1010: (500,), 1: (101,)}}
    single = replace(GANTZ, mal_id=1, title="Cowboy Bebop")
    plan = plan_titles([member(GANTZ_2), member(single), member(GANTZ)], {}, links)
    assert requests_of(plan) == [("anime", 500, False, (384, 1010)), ("anime", 101, False, (1,))]
    bundle = plan.requests[0]
    assert bundle.is_bundle and bundle.anisearch_id == 500
    assert bundle.payload == {
        "status": "completed",
        "use_myanimelist_id": False,
        "is_visible": True,
        "public_rating": 8,  # 7 and 8: 7.5, half up
        "public_fraction": 0,
        "episodes_watched": 26,
        "start_date": "2010-01-05",
        "end_date": "2010-04-09",
        "is_rewatching": False,
        "times_rewatched": 1,
        "rewatch_desire": 5,
        "priority": 2,
        "notes": "Gantz:\ndark\n\nGantz 2nd Stage:\ndarker",
    }
    alone = plan.requests[1].payload
    assert alone == {**member(single).payload, "use_myanimelist_id": False}
    assert plan.went_into((ANIME, 1010)) == (bundle,)


def test_unlinked_entries_cost_no_request_and_say_why() -> None:
    links = {ANIME: {384: (500,)}}
    unlinked = replace(GANTZ, mal_id=38840, title="Not on aniSearch")
    plan = plan_titles([member(GANTZ), member(unlinked)], {}, links)
    assert requests_of(plan) == [("anime", 500, False, (384,))]
    assert plan.unmatched == (member(unlinked),)
    assert plan.ids[(ANIME, 38840)].unmatched_reason == "aniSearch links no title to MAL id 38840"
    assert plan.went_into((ANIME, 38840)) == ()


def test_without_links_every_entry_goes_by_its_mal_id_as_before() -> None:
    plan = plan_titles([member(GANTZ), member(GANTZ_2)], {}, {})
    assert requests_of(plan) == [("anime", 384, True, (384,)), ("anime", 1010, True, (1010,))]
    assert [r.payload for r in plan.requests] == [member(GANTZ).payload, member(GANTZ_2).payload]
    assert plan.unmatched == ()


def test_hand_mappings_join_a_linked_title_into_one_bundle() -> None:
    links = {ANIME: {384: (500,)}}
    plan = plan_titles([member(GANTZ), member(GANTZ_2)], {ANIME: {1010: 500}}, links)
    assert requests_of(plan) == [("anime", 500, False, (384, 1010))]
    assert plan.ids[(ANIME, 1010)].source is IdSource.HAND_MAPPING


def test_parts_all_get_the_values_and_only_the_first_the_progress_counts() -> None:
    recap = replace(
        GANTZ, media=MANGA, mal_id=77, title="Recap", progress=30, volumes=3, status=WATCHING
    )
    plan = plan_titles([member(recap)], {}, {MANGA: {77: (702, 701)}})
    assert requests_of(plan) == [("manga", 701, False, (77,)), ("manga", 702, False, (77,))]
    first, second = (r.payload for r in plan.requests)
    whole = {**member(recap).payload, "use_myanimelist_id": False}
    assert first == whole
    assert second == {
        name: value
        for name, value in whole.items()
        if name not in ("chapters_read", "volumes_read")
    }
    assert {"status", "public_rating", "start_date", "notes", "priority", "is_rereading"} <= set(
        second
    )
    assert plan.went_into((MANGA, 77)) == plan.requests


def test_a_part_that_is_also_in_a_bundle_adds_no_count_there() -> None:
    links = {ANIME: {384: (500, 501), 1010: (501,)}}
    plan = plan_titles([member(GANTZ), member(GANTZ_2)], {}, links)
    shared = next(r for r in plan.requests if r.target == 501)
    assert shared.payload["episodes_watched"] == GANTZ_2.progress  # 384's went to 500
    assert [m.mal_id for m in shared.members] == [384, 1010]


def test_an_entry_listed_twice_counts_once_as_its_last() -> None:
    later = replace(GANTZ, score=3)
    plan = plan_titles([member(GANTZ), member(later)], {}, {ANIME: {384: (500,)}})
    [request] = plan.requests
    assert request.payload["public_rating"] == 3 and len(request.members) == 1


# The merge rules


@pytest.mark.parametrize(
    ("statuses", "merged"),
    [
        ((DONE, DONE), "completed"),
        ((PLANNED, PLANNED), "bookmark"),
        ((DONE, WATCHING, DROPPED), "ongoing"),
        ((DONE, HOLD, DROPPED), "on_hold"),
        ((DONE, DROPPED), "dropped"),
        ((DONE, PLANNED), "ongoing"),
        ((HOLD, PLANNED), "on_hold"),
    ],
)
def test_the_merged_status(statuses: tuple[ListStatus, ...], merged: str) -> None:
    members = [member(replace(GANTZ, mal_id=n + 1, status=s)) for n, s in enumerate(statuses)]
    assert merge_bundle(ANIME, members)["status"] == merged
    assert merged_status([]) is None


def test_the_end_date_only_when_the_merged_status_is_completed() -> None:
    body = merge_bundle(ANIME, [member(GANTZ), member(replace(GANTZ_2, status=WATCHING))])
    assert body["status"] == "ongoing"
    assert body["start_date"] == "2010-01-05"
    assert "end_date" not in body


@pytest.mark.parametrize(
    ("scores", "merged"),
    [
        ((7, 8), 8),
        ((7, 7, 8), 7),
        ((7, 8, 8), 8),
        ((1, 2), 2),
        ((9, None), 9),
        ((None, None), None),
    ],
)
def test_the_score_is_the_mean_of_the_scored_rounded_half_up(
    scores: tuple[int | None, ...], merged: int | None
) -> None:
    options = replace(OPTIONS, personal_rating=True)
    members = [
        member(replace(GANTZ, mal_id=n + 1, score=score), options) for n, score in enumerate(scores)
    ]
    body = merge_bundle(ANIME, members)
    assert body.get("public_rating") == merged
    assert body.get("personal_rating") == (None if merged is None else merged * 10)
    assert ("public_fraction" in body) is (merged is not None)


def test_rewatching_if_any_times_the_least_desire_and_priority_the_highest() -> None:
    body = merge_bundle(
        ANIME,
        [
            member(replace(GANTZ, repeating=True, times_repeated=4, repeat_value=None)),
            member(replace(GANTZ_2, repeating=False, times_repeated=1, priority=None)),
        ],
    )
    assert (body["is_rewatching"], body["times_rewatched"]) == (True, 1)
    assert (body["rewatch_desire"], body["priority"]) == (5, 1)


def test_manga_sums_chapters_and_volumes_and_notes_name_an_untitled_member() -> None:
    one = replace(GANTZ, media=MANGA, mal_id=5, title="", progress=100, volumes=10)
    two = replace(one, mal_id=6, title="Second", progress=50, volumes=None, comments="")
    body = merge_bundle(MANGA, [member(two), member(one)])
    assert (body["chapters_read"], body["volumes_read"]) == (150, 10)
    assert body["notes"] == "MAL id 5:\ndark"


def test_counts_never_exceed_what_the_mapper_sends() -> None:
    huge = [member(replace(GANTZ, mal_id=n, progress=60_000)) for n in (1, 2)]
    assert merge_bundle(ANIME, huge)["episodes_watched"] == 65_535


# Properties: any member order, one member, the same input


dates = st.one_of(st.none(), st.dates().map(lambda d: MalDate(d.year, d.month, d.day)))
bundle_members = st.builds(
    ListEntry,
    media=st.just(ANIME),
    mal_id=st.integers(1, 10**6),
    title=st.text(max_size=12),
    status=st.sampled_from(ListStatus),
    score=st.one_of(st.none(), st.integers(1, 10)),
    progress=st.one_of(st.none(), st.integers(0, 2000)),
    volumes=st.none(),
    start=dates,
    finish=dates,
    repeating=st.one_of(st.none(), st.booleans()),
    times_repeated=st.one_of(st.none(), st.integers(0, 9)),
    repeat_value=st.one_of(st.none(), st.integers(1, 5)),
    priority=st.one_of(st.none(), st.integers(1, 3)),
    comments=st.one_of(st.none(), st.text(max_size=20)),
    tags=st.just(()),
    source=st.just("x.xml"),
)
bundles = st.lists(bundle_members, min_size=1, max_size=6, unique_by=lambda e: e.mal_id)


@given(bundles, st.randoms(use_true_random=False))
def test_the_same_bundle_in_any_member_order_gives_the_same_body(
    entries: list[ListEntry], rng: random.Random
) -> None:
    members = [member(entry) for entry in entries]
    shuffled = list(members)
    rng.shuffle(shuffled)
    assert merge_bundle(ANIME, shuffled) == merge_bundle(ANIME, members)
    links = {ANIME: {m.mal_id: (500,) for m in members}}
    assert plan_titles(shuffled, {}, links).requests[0].payload == (
        plan_titles(members, {}, links).requests[0].payload
    )


@given(bundle_members)
def test_one_member_gives_exactly_its_body(entry: ListEntry) -> None:
    alone = member(entry)
    assert merge_bundle(ANIME, [alone]) == alone.payload
    [request] = plan_titles([alone], {}, {ANIME: {entry.mal_id: (9,)}}).requests
    assert request.payload == {**alone.payload, "use_myanimelist_id": False}


@given(bundles)
def test_merging_is_idempotent_and_leaves_the_members_alone(entries: list[ListEntry]) -> None:
    members = [member(entry) for entry in entries]
    before = [dict(m.payload) for m in members]
    merged = merge_bundle(ANIME, members)
    assert merge_bundle(ANIME, members) == merged  # a re-sync of the same list: the same body
    assert merge_bundle(ANIME, [Member(ANIME, 1, "x", merged)]) == merged
    assert [m.payload for m in members] == before
    assert merged.get("status") in {"ongoing", "completed", "on_hold", "dropped", "bookmark"}
    if "episodes_watched" in merged:
        assert merged["episodes_watched"] == sum(
            m.payload.get("episodes_watched", 0)
            for m in members  # type: ignore[misc]
        )
    scored = [m.payload["public_rating"] for m in members if "public_rating" in m.payload]
    if scored:
        assert min(scored) <= merged["public_rating"] <= max(scored)  # type: ignore[operator]


@given(bundle_members, st.integers(2, 4))
def test_a_bundle_of_equal_members_keeps_their_values(entry: ListEntry, copies: int) -> None:
    """Every rule but the sums and the notes is idempotent: x merged with x is x."""
    members = [member(replace(entry, mal_id=entry.mal_id + n)) for n in range(copies)]
    body, merged = members[0].payload, merge_bundle(ANIME, members)
    for name in set(body) | set(merged):
        if name == "episodes_watched":
            assert merged[name] == min(body[name] * copies, 65_535)  # type: ignore[operator]
        elif name == "notes":
            titled = [f"{m.title or f'MAL id {m.mal_id}'}:\n{body[name]}" for m in members]
            assert merged[name] == "\n\n".join(titled)
        elif name == "end_date" and body["status"] != "completed":
            assert name not in merged
        else:
            assert merged.get(name) == body.get(name), name


_IDS = st.integers(min_value=1, max_value=6)
_MEDIA = st.sampled_from([ANIME, MANGA])


@given(
    media=_MEDIA,
    mal_id=_IDS,
    hand=st.dictionaries(_MEDIA, st.dictionaries(_IDS, _IDS, max_size=3), max_size=2),
    links=st.dictionaries(
        _MEDIA,
        st.none() | st.dictionaries(_IDS, st.tuples(_IDS) | st.tuples(_IDS, _IDS), max_size=3),
        max_size=2,
    ),
)
def test_the_title_stages_shortcut_is_title_ids_own_rule(
    media: MediaType,
    mal_id: int,
    hand: dict[MediaType, dict[int, int]],
    links: dict[MediaType, dict[int, tuple[int, ...]] | None],
) -> None:
    """The title stage makes an entry's row at once where `goes_by_mal_id` says so: exactly
    where `title_ids` would send it by its MAL id."""
    by_mal_id = title_ids(media, mal_id, hand, links).source is IdSource.MAL_ID
    assert goes_by_mal_id(media, mal_id, hand, links) is by_mal_id
