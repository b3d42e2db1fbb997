"""Restore planning on its own: the run's change log, the backup and aniSearch now."""

from __future__ import annotations

from typing import Any

import pytest

from malsync.commands.restore import RestoreAction, plan_restore
from malsync.pipeline.anisearch_ratings import AniSearchRatings
from malsync.pipeline.records import Action, ChangeRecord, MediaType

ANIME = MediaType.ANIME


def ratings_held(*ratings: dict[str, Any]) -> AniSearchRatings:
    return AniSearchRatings.from_raw({"anime": list(ratings)})


def held(mal_id: int, anisearch_id: int, **fields: Any) -> dict[str, Any]:
    return {"id-anisearch": anisearch_id, "id-myanimelist": mal_id, **fields}


def upsert(mal_id: int, existed: bool, anisearch_id: int | None = None) -> ChangeRecord:
    return ChangeRecord((ANIME, mal_id), Action.UPSERT, anisearch_id, existed, {"status": "x"})


def test_each_kind_of_change_gets_its_step(caplog: pytest.LogCaptureFixture) -> None:
    before = ratings_held(
        held(1, 101, status="ongoing", episodes_watched=3),
        held(2, 102, status="ongoing"),
        held(3, 103, status="completed"),
    )
    now = ratings_held(
        held(1, 101, status="completed", episodes_watched=12),  # changed by the run
        held(2, 102, status="completed", notes="filled by the run"),  # a field it added
        held(3, 103, status="completed"),  # already back as it was
        held(4, 104, status="completed"),  # created by the run
    )
    changes = [upsert(1, True), upsert(2, True), upsert(3, True), upsert(4, False), upsert(5, True)]
    steps = plan_restore(changes, before, now, {(ANIME, 1): "One"})
    assert [(s.key[1], s.action, s.anisearch_id) for s in steps] == [
        (1, RestoreAction.PUT_BACK, 101),
        (2, RestoreAction.REPLACE, 102),
        (4, RestoreAction.DELETE, 104),
    ]
    assert steps[0].body == {
        "status": "ongoing",
        "episodes_watched": 3,
        "use_myanimelist_id": False,
    }
    assert steps[0].describe() == "put back anime 1 'One' as it was"
    assert "anime 5: not in the backup; left as it is" in caplog.text


def test_a_deleted_rating_is_put_back_and_a_gone_creation_needs_nothing() -> None:
    before = ratings_held(held(1, 101, status="dropped"))
    deleted = ChangeRecord((ANIME, 1), Action.DELETE, 101, True, None)
    steps = plan_restore([deleted, upsert(2, False)], before, ratings_held(), {})
    assert [(s.key[1], s.action, s.body) for s in steps] == [
        (1, RestoreAction.PUT_BACK, {"status": "dropped", "use_myanimelist_id": False})
    ]
