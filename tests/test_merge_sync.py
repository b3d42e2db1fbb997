"""Re-syncs that keep both sides' edits: the real CLI against a fake aniSearch edited between
runs (a status and a note changed, a title deleted) while MAL changes other fields."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from malsync.cli.main import main
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import anime, export, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def mal_list(
    tmp_path: Path, *, episodes: str = "10", priority: str = "LOW", note: str = "MAL"
) -> Path:
    """Title 1 being watched with a note, 2 completed and scored, 3 completed."""
    return write(
        tmp_path / "animelist.xml",
        export(
            [
                anime(
                    series_animedb_id="1",
                    series_title="<![CDATA[Title 1]]>",
                    my_status="Watching",
                    my_watched_episodes=episodes,
                    my_comments=f"<![CDATA[{note}]]>",
                ),
                anime(series_animedb_id="2", series_title="<![CDATA[Title 2]]>", my_score="7"),
                anime(
                    series_animedb_id="3", series_title="<![CDATA[Title 3]]>", my_priority=priority
                ),
            ]
        ),
    )


def edit_on_anisearch(fake: FakeAniSearch) -> None:
    """What the user did on aniSearch's site after the first sync."""
    held = fake.rating("anime", 1)
    assert held is not None
    held.update(status="on_hold", notes="edited on aniSearch")
    del fake.ratings[("anime", fake.anisearch_id(2))]


def synced_then_edited(tmp_path: Path, fake: FakeAniSearch) -> Path:
    """A first sync of `mal_list`, then the user's edits on aniSearch; the config."""
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, mal_list(tmp_path)) == 0
    edit_on_anisearch(fake)
    return config


def title_1_holds(fake: FakeAniSearch) -> tuple[object, object, object]:
    held = fake.rating("anime", 1) or {}
    return held.get("status"), held.get("notes"), held.get("episodes_watched")


def entries_of(report: Path) -> dict[int, dict[str, Any]]:
    return {e["mal_id"]: e for e in json.loads(report.read_text())["entries"]}


def puts_since(fake: FakeAniSearch, count: int) -> dict[str, Any]:
    return {r.path: r.body for r in fake.puts()[count:]}


def path(mal_id: int) -> str:
    return f"/v1/my/anime/{mal_id}/ratings"


def test_merge_sends_mals_changes_and_keeps_the_edits_and_the_deletion_made_on_anisearch(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    config = synced_then_edited(tmp_path, fake)
    sent = len(fake.puts())
    report = tmp_path / "r.json"
    # MAL: two more episodes of title 1, title 3 now high priority.
    assert sync(config, mal_list(tmp_path, episodes="12", priority="HIGH"), "--report", report) == 0

    bodies = puts_since(fake, sent)
    assert bodies == {
        path(1): {"use_myanimelist_id": True, "episodes_watched": 12, "status": "on_hold"},
        path(3): {"use_myanimelist_id": True, "priority": 3, "status": "completed"},
    }
    assert title_1_holds(fake) == ("on_hold", "edited on aniSearch", 12)
    assert fake.rating("anime", 2) is None  # deleted there, unchanged on MAL: stays deleted
    entries = entries_of(report)
    assert entries[2]["outcome"] == "kept"
    assert "deleted on aniSearch since the last sync and unchanged on MAL" in entries[2]["error"]
    assert [entries[i]["outcome"] for i in (1, 3)] == ["uploaded", "uploaded"]
    assert json.loads(report.read_text())["summary"]["on_conflict"] == "merge"

    # Merging again: nothing has changed on either side since, so nothing is sent.
    sent = len(fake.puts())
    assert sync(config, mal_list(tmp_path, episodes="12", priority="HIGH"), "--report", report) == 0
    assert fake.puts()[sent:] == []
    assert entries_of(report)[1]["outcome"] == "kept"  # aniSearch's status and note stay


def test_mal_wins_mirrors_mal_over_the_same_edits(tmp_path: Path, fake: FakeAniSearch) -> None:
    config = synced_then_edited(tmp_path, fake)
    changed = mal_list(tmp_path, episodes="12", priority="HIGH")
    assert sync(config, changed, "--on-conflict", "mal-wins") == 0
    assert title_1_holds(fake) == ("ongoing", "MAL", 12)
    title_2 = fake.rating("anime", 2)
    assert title_2 is not None and title_2["public_rating"] == 7  # made again
    assert (fake.rating("anime", 3) or {})["priority"] == 3


def test_mal_wins_makes_a_deleted_title_again_with_nothing_changed_on_mal(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    config = write_config(tmp_path, fake.base_url)
    listed = mal_list(tmp_path)
    assert sync(config, listed) == 0
    held = dict(fake.rating("anime", 2) or {})
    edit_on_anisearch(fake)
    sent = len(fake.puts())
    reads = len([r for r in fake.received if r.method == "GET"])
    assert sync(config, listed, "--on-conflict", "mal-wins") == 0
    # Nothing changed on MAL, yet the run read aniSearch and repaired the drift.
    assert len([r for r in fake.received if r.method == "GET"]) == reads + 2  # profile, ratings
    assert sorted(puts_since(fake, sent)) == [path(1), path(2)]
    assert fake.rating("anime", 2) == held
    assert (fake.rating("anime", 1) or {})["status"] == "ongoing"


def test_a_field_changed_on_both_sides_takes_mals_value_and_is_reported_as_a_conflict(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = synced_then_edited(tmp_path, fake)
    rewritten = mal_list(tmp_path, note="rewritten on MAL")
    plan = tmp_path / "plan.json"
    capsys.readouterr()
    assert sync(config, rewritten, "--dry-run", "--report", plan) == 0
    err = capsys.readouterr().err
    conflict = (
        "anime 1 'Title 1': changed on both sides since the last sync: notes 'MAL' -> "
        "'rewritten on MAL' on MAL, -> 'edited on aniSearch' on aniSearch; MAL's wins"
    )
    assert conflict in err
    assert "1 title was changed on both MAL and aniSearch since the last sync" in err
    planned = json.loads(plan.read_text())
    assert planned["summary"]["conflicts"] == 1
    assert entries_of(plan)[1]["conflicts"] == [
        {
            "field": "notes",
            "base": "MAL",
            "mal": "rewritten on MAL",
            "anisearch": "edited on aniSearch",
        }
    ]
    assert sync(config, rewritten) == 0
    title_1 = fake.rating("anime", 1)
    assert title_1 is not None
    assert (title_1["notes"], title_1["status"]) == ("rewritten on MAL", "on_hold")


def test_the_dry_run_says_per_title_what_each_policy_would_do_where_they_differ(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = synced_then_edited(tmp_path, fake)
    plan = tmp_path / "plan.json"
    capsys.readouterr()
    assert sync(config, mal_list(tmp_path, priority="HIGH"), "--dry-run", "--report", plan) == 0
    err = capsys.readouterr().err
    assert (
        "anime 1 'Title 1': by policy: merge: keep aniSearch's status, notes | mal-wins: send "
        "status, notes | keep-anisearch: keep aniSearch's status, notes | no-regress: send "
        "status, notes"
    ) in err
    assert (
        "anime 2 'Title 2': by policy: merge: leave it deleted | mal-wins: create it | "
        "keep-anisearch: create it | no-regress: create it"
    ) in err
    assert "Another --on-conflict would treat 3 titles otherwise" in err
    entries = entries_of(plan)
    assert entries[2]["by_policy"] == {
        "merge": "leave it deleted",
        "mal-wins": "create it",
        "keep-anisearch": "create it",
        "no-regress": "create it",
    }
    assert entries[3]["by_policy"]["keep-anisearch"] == "keep aniSearch's priority"
    assert entries[3]["by_policy"]["merge"] == "send priority"
    assert fake.puts()[3:] == []


def test_a_restore_sticks_until_the_restored_field_changes_on_mal(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    mine = {"status": "dropped", "episodes_watched": 2, "notes": "my own", "is_visible": False}
    fake.preload("anime", 1, **mine)
    config = write_config(tmp_path, fake.base_url)
    listed = mal_list(tmp_path)
    assert sync(config, listed) == 0  # a first migration: MAL's values over the user's
    assert (fake.rating("anime", 1) or {})["status"] == "ongoing"
    assert main(["restore", "--yes", "--config", str(config)]) == 0
    assert fake.rating("anime", 1) == mine
    assert fake.rating("anime", 2) is None  # the migration made it; the restore took it away

    sent = len(fake.puts())
    assert sync(config, listed) == 0  # MAL unchanged: the restore stays
    assert fake.puts()[sent:] == []
    assert fake.rating("anime", 1) == mine
    assert fake.rating("anime", 2) is None

    assert sync(config, mal_list(tmp_path, episodes="11")) == 0  # one field changes on MAL
    assert puts_since(fake, sent) == {
        path(1): {"use_myanimelist_id": True, "episodes_watched": 11, "status": "dropped"}
    }
    assert fake.rating("anime", 1) == {**mine, "episodes_watched": 11}


def test_titles_of_a_checkpoint_without_bodies_are_sent_as_mal_wins_would(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    config = write_config(tmp_path, fake.base_url)
    listed = mal_list(tmp_path)
    assert sync(config, listed) == 0
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    db.execute("UPDATE entries SET accepted_body = NULL")  # as an older malsync left it
    db.commit()
    db.close()
    edit_on_anisearch(fake)
    assert sync(config, listed) == 0  # no base: no telling an edit from an old value
    assert (fake.rating("anime", 1) or {})["notes"] == "MAL"
    assert fake.rating("anime", 2) is not None
    sent = len(fake.puts())
    edit_on_anisearch(fake)
    assert sync(config, listed) == 0  # the bodies are kept now: the merge has its base
    assert fake.puts()[sent:] == []


def test_no_remote_diff_with_merge_trusts_the_checkpoint_as_mal_wins(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = synced_then_edited(tmp_path, fake)
    sent = len(fake.puts())
    reads = len(fake.received)
    changed = mal_list(tmp_path, episodes="12")
    assert sync(config, changed, "--no-remote-diff", "--on-conflict", "merge") == 0
    assert "nothing to merge with without reading aniSearch" in capsys.readouterr().err
    assert [r.path for r in fake.received[reads:] if r.method == "GET"] == ["/v1/my/profile"]
    # Title 1 changed on MAL: sent whole; the others are unchanged by the checkpoint.
    assert list(puts_since(fake, sent)) == [path(1)]
    assert (fake.rating("anime", 1) or {})["status"] == "ongoing"


def test_the_estimate_counts_the_reads_of_a_run_that_sends_nothing(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    listed = mal_list(tmp_path)
    assert sync(config, listed) == 0
    plan = tmp_path / "plan.json"
    capsys.readouterr()
    assert sync(config, listed, "--dry-run", "--report", plan) == 0
    assert "A real run would make 2 reads and send nothing." in capsys.readouterr().err
    estimate = json.loads(plan.read_text())["summary"]["estimate"]
    before = len(fake.received)
    assert sync(config, listed) == 0
    sent = fake.received[before:]
    assert [r.path for r in sent] == ["/v1/my/profile", "/v1/my/anime/ratings"]
    assert len(sent) == estimate["requests"]
