"""The pure planning rules: comparing with aniSearch, conflict policies, deletion candidates."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from malsync.config.settings import ConflictPolicy, MappingOptions
from malsync.pipeline.anisearch_ratings import AniSearchRatings, anisearch_rating
from malsync.pipeline.planner import (
    Baseline,
    Decision,
    Policy,
    Verdict,
    build_plan,
    compare,
    decide,
    deletion_candidates,
    no_regress,
    payload_hash,
    plan_deletions,
)
from malsync.pipeline.policy_choices import with_policy_choices
from malsync.pipeline.records import Action, InvalidEntry, ListEntry, ListStatus, MediaType


def rating(**fields: Any) -> Any:
    found = anisearch_rating({"id-anisearch": 100, "id-myanimelist": 1, **fields})
    assert found is not None
    return found


def planned(
    payload: dict[str, Any], mal_id: int = 1, media: MediaType = MediaType.ANIME
) -> Decision:
    return Decision(media, mal_id, "T", "x.xml", Verdict.SEND, payload, ())


def against(
    items: list[Decision], ratings: AniSearchRatings, policy: ConflictPolicy, force: bool = False
) -> list[Decision]:
    return decide(items, Baseline(anisearch=ratings), Policy(policy, force=force))


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


def test_remote_decides_under_each_policy() -> None:
    ratings = AniSearchRatings.build(
        {MediaType.ANIME: [rating(status="completed", episodes_watched=24)]}
    )
    item = planned({"status": "ongoing", "episodes_watched": 10, "use_myanimelist_id": True})
    new = planned({"status": "ongoing", "use_myanimelist_id": True}, mal_id=2)
    mal_wins = against([item, new], ratings, ConflictPolicy.MAL_WINS)
    assert [(i.verdict, i.existed) for i in mal_wins] == [
        (Verdict.SEND, True),
        (Verdict.SEND, False),
    ]
    assert mal_wins[0].anisearch_id == 100
    keep = against([item, new], ratings, ConflictPolicy.KEEP_ANISEARCH)
    assert [i.verdict for i in keep] == [Verdict.KEPT, Verdict.SEND]
    guarded = against([item], ratings, ConflictPolicy.NO_REGRESS)
    assert guarded[0].verdict is Verdict.KEPT  # nothing left that would not move it backwards
    same = planned({"status": "completed", "episodes_watched": 24})
    assert against([same], ratings, ConflictPolicy.MAL_WINS)[0].verdict is Verdict.UNCHANGED
    forced = against([same], ratings, ConflictPolicy.MAL_WINS, force=True)
    assert forced[0].verdict is Verdict.SEND


def test_checkpoint_alone_calls_an_accepted_body_unchanged() -> None:
    body = {"status": "completed", "episodes_watched": 24, "use_myanimelist_id": True}
    accepted = {(MediaType.ANIME, 1): payload_hash(body)}
    decided = decide([planned(body)], Baseline(accepted=accepted), Policy())
    assert decided[0].verdict is Verdict.UNCHANGED
    forced = decide([planned(body)], Baseline(accepted=accepted), Policy(force=True))
    assert forced[0].verdict is Verdict.SEND


def test_what_anisearch_holds_wins_over_the_checkpoint() -> None:
    """A title restored (or edited) on aniSearch after malsync sent it is sent again."""
    body = {"status": "completed", "episodes_watched": 24, "use_myanimelist_id": True}
    accepted = {(MediaType.ANIME, 1): payload_hash(body)}
    ratings = AniSearchRatings.build(
        {MediaType.ANIME: [rating(status="ongoing", episodes_watched=3)]}
    )
    decided = decide([planned(body)], Baseline(accepted=accepted, anisearch=ratings), Policy())
    assert decided[0].verdict is Verdict.SEND
    assert decided[0].changes == (
        ("status", "ongoing", "completed"),
        ("episodes_watched", 3, 24),
    )


def test_unmatched_titles_wait_thirty_days() -> None:
    day = 86400.0
    unmatched = {(MediaType.ANIME, 1): 100 * day}
    body = {"status": "completed", "use_myanimelist_id": True}
    soon = decide([planned(body)], Baseline(unmatched=unmatched, now=110 * day), Policy())
    assert soon[0].verdict is Verdict.UNMATCHED
    assert "--retry-unmatched" in (soon[0].reason or "")
    later = decide([planned(body)], Baseline(unmatched=unmatched, now=131 * day), Policy())
    assert later[0].verdict is Verdict.SEND
    asked = decide(
        [planned(body)],
        Baseline(unmatched=unmatched, now=110 * day),
        Policy(retry_unmatched=True),
    )
    assert asked[0].verdict is Verdict.SEND


def test_build_plan_sends_a_title_listed_twice_once_from_its_last_listing() -> None:
    def entry(source: str, progress: int) -> ListEntry:
        return ListEntry(
            MediaType.ANIME, 5, "T", ListStatus.COMPLETED, None, progress, None, None, None,
            False, 0, None, None, "", (), source,
        )  # fmt: skip

    broken = InvalidEntry(MediaType.ANIME, None, "?", "has no MAL id", "a.xml")
    plan = build_plan([entry("a.xml", 1), broken, entry("b.xml", 2)], MappingOptions())
    assert [d.verdict for d in plan] == [Verdict.SUPERSEDED, Verdict.INVALID, Verdict.SEND]
    assert "b.xml" in (plan[0].reason or "")
    assert plan[2].payload is not None and plan[2].payload["episodes_watched"] == 2


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
    still_there = anisearch_rating({"id-anisearch": 7, "id-myanimelist": 2})
    assert still_there is not None
    ratings = AniSearchRatings.build({MediaType.ANIME: [still_there]})
    deletions = plan_deletions(candidates, ratings)
    assert [(d.action, d.anisearch_id, d.verdict) for d in deletions] == [
        (Action.DELETE, 7, Verdict.DELETE)
    ]
    gone = plan_deletions(candidates, AniSearchRatings.build({MediaType.ANIME: []}))
    assert gone[0].verdict is Verdict.GONE


BASE_BODY = {"status": "ongoing", "episodes_watched": 3, "notes": "n", "use_myanimelist_id": True}


def merged(
    payload: dict[str, Any], held: dict[str, Any] | None, base: dict[str, Any] | None = BASE_BODY
) -> Decision:
    state = AniSearchRatings.build({MediaType.ANIME: [] if held is None else [rating(**held)]})
    bases = {} if base is None else {(MediaType.ANIME, 1): base}
    return decide([planned(payload)], Baseline(bases=bases, anisearch=state), Policy())[0]


def test_merge_sends_only_what_changed_on_mal_and_keeps_mals_whole_body_as_the_next_base() -> None:
    mal = {**BASE_BODY, "episodes_watched": 4}
    held = {"status": "dropped", "episodes_watched": 3, "notes": "mine"}
    decision = merged(mal, held)
    assert decision.verdict is Verdict.SEND
    assert decision.payload == {
        "use_myanimelist_id": True,
        "episodes_watched": 4,
        "status": "dropped",
    }
    assert decision.accepted_body == mal
    assert decision.changes == (("episodes_watched", 3, 4),)


def test_merge_keeps_an_edit_and_a_deletion_made_on_anisearch_alone() -> None:
    kept = merged(dict(BASE_BODY), {"status": "dropped", "episodes_watched": 3, "notes": "n"})
    assert (kept.verdict, kept.reason) == (
        Verdict.KEPT,
        "changed on aniSearch, not on MAL, since the last sync: status",
    )
    assert kept.accepted_body == BASE_BODY  # in step with MAL: the checkpoint keeps the base
    gone = merged(dict(BASE_BODY), None)
    assert (gone.verdict, gone.existed, gone.mal_body) == (Verdict.KEPT, False, None)


def test_merge_without_a_base_decides_exactly_as_mal_wins() -> None:
    held = {"status": "dropped", "episodes_watched": 3}
    for found in (held, None):
        state = AniSearchRatings.build(
            {MediaType.ANIME: [] if found is None else [rating(**found)]}
        )
        by_mal = decide(
            [planned(dict(BASE_BODY))], Baseline(anisearch=state), Policy(ConflictPolicy.MAL_WINS)
        )
        assert merged(dict(BASE_BODY), found, base=None) == by_mal[0]


def test_the_policies_are_compared_only_where_they_differ() -> None:
    held = {"status": "dropped", "episodes_watched": 3, "notes": "n"}
    same = {"status": "ongoing", "episodes_watched": 3, "notes": "n"}
    state = AniSearchRatings.build({MediaType.ANIME: [rating(**held)]})
    other = AniSearchRatings.build({MediaType.ANIME: [rating(**same)]})
    bases = {(MediaType.ANIME, 1): BASE_BODY}
    differs = with_policy_choices(
        [planned(dict(BASE_BODY))], Baseline(bases=bases, anisearch=state), Policy()
    )
    assert dict(differs[0].by_policy) == {
        "merge": "keep aniSearch's status",
        "mal-wins": "send status",
        "keep-anisearch": "keep aniSearch's status",
        "no-regress": "send status",
    }
    agree = with_policy_choices(
        [planned(dict(BASE_BODY))], Baseline(bases=bases, anisearch=other), Policy()
    )
    assert agree[0].by_policy == ()
    assert agree[0].verdict is Verdict.UNCHANGED
