"""The pure planning rules: comparing with aniSearch, conflict policies, deletion candidates."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from malsync.planner import (
    Action,
    Outcome,
    PlanItem,
    RemoteState,
    apply_remote,
    compare,
    deletion_candidates,
    no_regress,
    plan_deletions,
    remote_rating,
)
from malsync.records import MediaType


def rating(**fields: Any) -> Any:
    found = remote_rating({"id-anisearch": 100, "id-myanimelist": 1, **fields})
    assert found is not None
    return found


def planned(
    payload: dict[str, Any], mal_id: int = 1, media: MediaType = MediaType.ANIME
) -> PlanItem:
    return PlanItem(media, mal_id, "T", "x.xml", Outcome.PLANNED, payload, ())


def test_get_names_are_read_as_put_names_and_nulls_as_absent() -> None:
    found = rating(is_reread=True, notes=None, status="completed")
    assert found.fields == {"is_rereading": True, "status": "completed"}
    assert (
        compare({"status": "completed", "is_rereading": True, "use_myanimelist_id": True}, found)
        == ()
    )


def test_compare_names_only_what_the_body_would_change() -> None:
    found = rating(status="ongoing", episodes_watched=3, notes="kept")
    assert compare({"status": "completed", "episodes_watched": 3}, found) == (
        ("status", "ongoing", "completed"),
    )
    assert compare({"is_rewatching": False}, rating(is_rewatching=0)) == (
        ("is_rewatching", 0, False),
    )
    assert compare({"notes": "a\r\nb "}, rating(notes="a\nb")) == ()


def test_apply_remote_under_each_policy() -> None:
    state = RemoteState.build({MediaType.ANIME: [rating(status="completed", episodes_watched=24)]})
    item = planned({"status": "ongoing", "episodes_watched": 10, "use_myanimelist_id": True})
    new = planned({"status": "ongoing", "use_myanimelist_id": True}, mal_id=2)
    mal_wins = apply_remote([item, new], state, "mal-wins")
    assert [(i.outcome, i.existed) for i in mal_wins] == [
        (Outcome.PLANNED, True),
        (Outcome.PLANNED, False),
    ]
    assert mal_wins[0].anisearch_id == 100
    keep = apply_remote([item, new], state, "keep-anisearch")
    assert [i.outcome for i in keep] == [Outcome.KEPT, Outcome.PLANNED]
    guarded = apply_remote([item], state, "no-regress")
    assert guarded[0].outcome is Outcome.KEPT  # nothing left that would not move it backwards
    same = apply_remote(
        [planned({"status": "completed", "episodes_watched": 24})], state, "mal-wins"
    )
    assert same[0].outcome is Outcome.UNCHANGED
    forced = apply_remote(
        [planned({"status": "completed", "episodes_watched": 24})], state, "mal-wins", force=True
    )
    assert forced[0].outcome is Outcome.PLANNED


progress = st.integers(0, 500)
dates = st.one_of(st.none(), st.dates().map(lambda d: d.isoformat()))
statuses = st.sampled_from(["ongoing", "completed", "on_hold", "dropped", "bookmark"])


@given(progress, progress, dates, dates, dates, dates, statuses, statuses)
def test_no_regress_never_moves_anisearch_backwards(
    held_eps: int,
    mal_eps: int,
    held_start: str | None,
    mal_start: str | None,
    held_end: str | None,
    mal_end: str | None,
    held_status: str,
    mal_status: str,
) -> None:
    held = {
        "status": held_status,
        "episodes_watched": held_eps,
        "start_date": held_start,
        "end_date": held_end,
    }
    body: dict[str, Any] = {
        "status": mal_status,
        "episodes_watched": mal_eps,
        "use_myanimelist_id": True,
    }
    if mal_start:
        body["start_date"] = mal_start
    if mal_end:
        body["end_date"] = mal_end
    guarded = no_regress(body, rating(**held))
    after = {**{k: v for k, v in held.items() if v is not None}, **guarded}  # a PUT merges
    assert after["episodes_watched"] >= held_eps
    assert not (held_status == "completed" and after["status"] == "ongoing")
    if held_start:
        assert after["start_date"] <= held_start
    if held_end:
        assert after["end_date"] >= held_end
    # What is not a regression is taken from MAL.
    assert after["episodes_watched"] == max(held_eps, mal_eps)
    if not (held_status == "completed" and mal_status == "ongoing"):
        assert after["status"] == mal_status


def test_deletion_candidates_are_only_written_titles_of_the_runs_media() -> None:
    items = [planned({"status": "completed"}, mal_id=1)]
    written = {
        (MediaType.ANIME, 1): "still there",
        (MediaType.ANIME, 2): "gone from MAL",
        (MediaType.MANGA, 3): "no manga export this run",
    }
    candidates = deletion_candidates(items, written, frozenset({MediaType.ANIME}))
    assert candidates == {(MediaType.ANIME, 2): "gone from MAL"}
    still_there = remote_rating({"id-anisearch": 7, "id-myanimelist": 2})
    assert still_there is not None
    state = RemoteState.build({MediaType.ANIME: [still_there]})
    deletions = plan_deletions(candidates, state)
    assert [(d.action, d.anisearch_id, d.outcome) for d in deletions] == [
        (Action.DELETE, 7, Outcome.PLANNED)
    ]
    gone = plan_deletions(candidates, RemoteState.build({MediaType.ANIME: []}))
    assert gone[0].outcome is Outcome.DELETED
