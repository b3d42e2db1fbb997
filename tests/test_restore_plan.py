"""Restore planning on its own: the run's change log, the backup and aniSearch now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from malsync.commands.restore import RestoreAction, plan_restore
from malsync.pipeline.anisearch_ratings import AniSearchRatings
from malsync.pipeline.records import Action, ChangeRecord, MediaType
from malsync.store.backup import load_backup

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


def test_a_title_the_backup_holds_is_put_back_whatever_the_log_says() -> None:
    # The run's log says it created anime 1, but the backup shows it was there: put it back.
    before = ratings_held(held(1, 101, status="dropped"))
    now = ratings_held(held(1, 101, status="completed"))
    steps = plan_restore([upsert(1, False)], before, now, {})
    assert [(s.key[1], s.action, s.body) for s in steps] == [
        (1, RestoreAction.PUT_BACK, {"status": "dropped", "use_myanimelist_id": False})
    ]


def test_a_creation_is_deleted_only_where_the_backup_read_the_media_whole() -> None:
    now = ratings_held(held(1, 101, status="completed"), held(2, 102, status="completed"))
    changes = [upsert(1, False), upsert(2, False)]
    whole = plan_restore(changes, ratings_held(), now, {}, whole=frozenset({ANIME}))
    deleted = [(1, RestoreAction.DELETE), (2, RestoreAction.DELETE)]
    assert [(s.key[1], s.action) for s in whole] == deleted
    # An empty read nothing could check proves nothing: both are kept, nothing is sent.
    unchecked = plan_restore(changes, ratings_held(), now, {(ANIME, 2): "Two"}, run_id=4)
    assert [(s.key[1], s.action, s.run_id) for s in unchecked] == [
        (1, RestoreAction.KEEP, 4),
        (2, RestoreAction.KEEP, 4),
    ]
    assert unchecked[1].describe() == (
        "keep anime 2 'Two': the backup cannot show the run created it"
    )


@pytest.mark.parametrize(
    ("ratings", "whole"),
    [
        ({"anime": [held(1, 101, status="completed")], "manga": []}, {ANIME}),
        ({"anime": []}, set()),
    ],
)
def test_an_older_backup_proves_absence_only_where_it_holds_ratings(
    tmp_path: Path, ratings: dict[str, Any], whole: set[MediaType]
) -> None:
    path = tmp_path / "ratings-20250101T000000Z-run3.json"
    document = {"run_id": 3, "created_at": "2025-01-01T00:00:00+00:00", "ratings": ratings}
    path.write_text(json.dumps(document))
    assert load_backup(path).whole == whole
