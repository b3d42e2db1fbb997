"""Re-syncs against a fake aniSearch already holding ratings: diff, policies, restore, deletes."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from malsync.cli.console import Console
from malsync.cli.main import main, raw_main
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import anime, export, many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch

# What malsync sends for an entry of tests.exports.many() (completed, unscored, 64 episodes).
SENT = {
    "status": "completed",
    "is_visible": True,
    "episodes_watched": 64,
    "is_rewatching": False,
    "times_rewatched": 0,
    "priority": 1,
}


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def put_paths(fake: FakeAniSearch) -> list[str]:
    return [r.path for r in fake.puts()]


def entries_of(report: Path) -> dict[int, dict[str, Any]]:
    return {e["mal_id"]: e for e in json.loads(report.read_text())["entries"]}


def test_a_first_run_sends_only_what_differs(tmp_path: Path, fake: FakeAniSearch) -> None:
    fake.preload("anime", 1, **SENT)
    fake.preload("anime", 2, **{**SENT, "notes": "made on aniSearch"})  # notes: not sent by MAL
    fake.preload("anime", 3, **{**SENT, "status": "ongoing", "episodes_watched": 3})
    report = tmp_path / "r.json"
    assert (
        sync(
            write_config(tmp_path, fake.base_url),
            write(tmp_path / "l.xml", many(5)),
            "--report",
            report,
        )
        == 0
    )
    assert put_paths(fake) == [f"/v1/my/anime/{i}/ratings" for i in (3, 4, 5)]
    assert [r.method for r in fake.received[:1]] == ["GET"]
    entries = entries_of(report)
    assert [entries[i]["outcome"] for i in range(1, 6)] == ["unchanged"] * 2 + ["uploaded"] * 3
    assert entries[3]["changes"] == [
        {"field": "status", "old": "ongoing", "new": "completed"},
        {"field": "episodes_watched", "old": 3, "new": 64},
    ]
    assert fake.rating("anime", 2)["notes"] == "made on aniSearch"


def test_manga_read_names_do_not_make_an_entry_differ_forever(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    manga_sent = {
        "status": "ongoing",
        "is_visible": True,
        "chapters_read": 374,
        "volumes_read": 41,
        "is_rereading": False,  # GET shows it as is_reread
        "times_reread": 0,
        "priority": 1,
    }
    fake.preload("manga", 2, **manga_sent)
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "m.xml", many(1, first_id=2, media="manga"))
    listed = fake._list("manga", fake.ratings)
    assert "is_reread" in listed[0]
    assert "is_rereading" not in listed[0]
    assert sync(config, export_path) == 0
    assert sync(config, export_path, "--force", "--no-remote-diff") == 0
    assert sync(config, export_path) == 0
    assert len(fake.puts()) == 1  # only the forced one


@pytest.fixture
def conflicted(fake: FakeAniSearch) -> FakeAniSearch:
    """aniSearch has title 1 further along than MAL; title 2 is only on MAL."""
    fake.preload(
        "anime",
        1,
        status="completed",
        episodes_watched=24,
        public_rating=8,
        public_fraction=0,
        start_date="2020-01-01",
        end_date="2020-03-01",
        is_visible=True,
    )
    return fake


def conflict_export(tmp_path: Path) -> Path:
    return write(
        tmp_path / "c.xml",
        export(
            [
                anime(
                    series_animedb_id="1",
                    my_status="Watching",
                    my_watched_episodes="10",
                    my_score="9",
                    my_start_date="2020-02-01",
                    my_finish_date="2019-12-31",
                ),
                anime(series_animedb_id="2"),
            ]
        ),
    )


def test_mal_wins_sends_mals_values(tmp_path: Path, conflicted: FakeAniSearch) -> None:
    config = write_config(tmp_path, conflicted.base_url)
    assert sync(config, conflict_export(tmp_path), "--on-conflict", "mal-wins") == 0
    held = conflicted.rating("anime", 1)
    assert held is not None
    assert (held["status"], held["episodes_watched"], held["public_rating"]) == ("ongoing", 10, 9)
    assert (held["start_date"], held["end_date"]) == ("2020-02-01", "2019-12-31")


def test_keep_anisearch_only_adds_missing_titles(tmp_path: Path, conflicted: FakeAniSearch) -> None:
    before = copy.deepcopy(conflicted.rating("anime", 1))
    config = write_config(tmp_path, conflicted.base_url)
    report = tmp_path / "r.json"
    assert (
        sync(
            config, conflict_export(tmp_path), "--on-conflict", "keep-anisearch", "--report", report
        )
        == 0
    )
    assert put_paths(conflicted) == ["/v1/my/anime/2/ratings"]
    assert conflicted.rating("anime", 1) == before
    assert entries_of(report)[1]["outcome"] == "kept"


def test_no_regress_keeps_progress_status_and_dates_but_takes_the_rest(
    tmp_path: Path, conflicted: FakeAniSearch
) -> None:
    config = write_config(tmp_path, conflicted.base_url)
    assert sync(config, conflict_export(tmp_path), "--on-conflict", "no-regress") == 0
    sent = next(r.body for r in conflicted.puts() if r.path == "/v1/my/anime/1/ratings")
    assert sent["status"] == "completed"
    assert "episodes_watched" not in sent
    assert "start_date" not in sent  # MAL's is later
    assert "end_date" not in sent  # MAL's is earlier
    assert sent["public_rating"] == 9
    held = conflicted.rating("anime", 1)
    assert held is not None
    assert (held["status"], held["episodes_watched"], held["public_rating"]) == ("completed", 24, 9)
    assert (held["start_date"], held["end_date"]) == ("2020-01-01", "2020-03-01")


def test_no_regress_lets_progress_and_dates_move_forward(
    tmp_path: Path, conflicted: FakeAniSearch
) -> None:
    config = write_config(tmp_path, conflicted.base_url)
    ahead = write(
        tmp_path / "ahead.xml",
        export(
            [
                anime(
                    series_animedb_id="1",
                    my_watched_episodes="26",
                    my_start_date="2019-06-01",
                    my_finish_date="2020-04-01",
                )
            ]
        ),
    )
    assert sync(config, ahead, "--on-conflict", "no-regress") == 0
    held = conflicted.rating("anime", 1)
    assert held is not None
    assert (held["episodes_watched"], held["start_date"], held["end_date"]) == (
        26,
        "2019-06-01",
        "2020-04-01",
    )


def test_the_dry_run_shows_the_same_decisions_with_old_and_new(
    tmp_path: Path, conflicted: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, conflicted.base_url)
    report = tmp_path / "r.json"
    status = sync(
        config,
        conflict_export(tmp_path),
        "--dry-run",
        "--on-conflict",
        "no-regress",
        "--report",
        report,
    )
    assert status == 0
    assert conflicted.puts() == []
    err = capsys.readouterr().err
    assert "anime 1 'Fullmetal Alchemist: Brotherhood': change: public_rating 8 -> 9" in err
    entries = entries_of(report)
    assert entries[1]["outcome"] == "planned"
    assert entries[1]["payload"]["status"] == "completed"
    assert entries[2]["on_anisearch_before"] is False
    assert not (tmp_path / "state.sqlite3").exists()


def test_restore_puts_back_exactly_what_was_there(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.preload("anime", 1, status="ongoing", episodes_watched=3, is_visible=False)
    fake.preload("anime", 2, **SENT)  # already equal: the run leaves it alone
    fake.preload("manga", 7, status="on_hold", chapters_read=5, is_rereading=True, notes="mine")
    fake.preload("anime", 50, status="dropped")  # not in the export at all
    before = copy.deepcopy(fake.ratings)
    config = write_config(tmp_path, fake.base_url)
    anime_export = write(
        tmp_path / "a.xml",
        export(
            [
                anime(series_animedb_id="1", my_start_date="2021-05-05"),  # a field it lacked
                anime(series_animedb_id="2"),
                anime(series_animedb_id="3"),  # new
            ]
        ),
    )
    manga_export = write(tmp_path / "m.xml", many(1, first_id=7, media="manga"))
    assert sync(config, anime_export, manga_export) == 0
    assert fake.ratings != before
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1
    assert backups[0].stat().st_mode & 0o777 == 0o600

    requests_before = len(fake.received)
    assert main(["restore", "--dry-run", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "delete anime 3" in err
    assert "put back anime 1" in err
    assert all(r.method == "GET" for r in fake.received[requests_before:])

    assert main(["restore", "--config", str(config)]) == 2  # no terminal, no --yes
    assert "Not confirmed: nothing was changed." in capsys.readouterr().err
    assert main(["restore", "--yes", "--config", str(config)]) == 0
    assert fake.ratings == before
    assert "Restored 3 of 3 titles." in capsys.readouterr().err

    # The default merge keeps what the restore put back: MAL has not changed since.
    puts = len(fake.puts())
    assert sync(config, anime_export, manga_export) == 0
    assert len(fake.puts()) == puts
    assert fake.ratings == before
    # The checkpoint knows aniSearch no longer holds what malsync sent: mal-wins sends again.
    assert sync(config, anime_export, manga_export, "--on-conflict", "mal-wins") == 0
    assert len(fake.puts()) == puts + 3


def test_delete_missing_deletes_only_what_malsync_wrote(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.preload("anime", 99, status="completed")  # rated on aniSearch, never by malsync
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "all.xml", many(4))) == 0
    manga_path = write(tmp_path / "m.xml", many(2, first_id=500, media="manga"))
    assert sync(config, manga_path) == 0
    without_2 = write(
        tmp_path / "less.xml",
        export([anime(series_animedb_id=str(i)) for i in (1, 3, 4)]),
    )
    capsys.readouterr()

    report = tmp_path / "dry.json"
    assert sync(config, without_2, "--delete-missing", "--dry-run", "--report", report) == 0
    assert "anime 2 'Title 2': delete (no longer on your MAL list)" in capsys.readouterr().err
    planned = [e for e in json.loads(report.read_text())["entries"] if e["action"] == "delete"]
    assert [(e["media"], e["mal_id"], e["outcome"]) for e in planned] == [("anime", 2, "planned")]
    assert fake.deletes() == []

    assert sync(config, without_2, "--delete-missing") == 2  # not confirmed: nothing sent
    assert "1 deletion not confirmed; nothing was sent" in capsys.readouterr().err
    assert fake.deletes() == []

    assert sync(config, without_2, "--delete-missing", "--yes") == 0
    assert [r.path for r in fake.deletes()] == [f"/v1/my/anime/{fake.anisearch_id(2)}/ratings"]
    assert fake.rating("anime", 2) is None
    assert fake.rating("anime", 99) is not None
    assert fake.rating("manga", 500) is not None  # no manga export in this run: left alone
    assert sync(config, without_2, "--delete-missing", "--yes") == 0
    assert len(fake.deletes()) == 1


def test_unmatched_titles_are_listed_and_not_retried_without_the_flag(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    fake.unknown_mal_ids.add(("anime", 2))
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(3))
    report = tmp_path / "out" / "r.json"
    assert sync(config, export_path, "--report", report) == 1
    with open(tmp_path / "out" / "unmatched.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        [
            "mal_id",
            "title",
            "media",
            "mal_url",
            "anisearch_search",
            "mapping_section",
            "mapping_line",
        ],
        [
            "2",
            "Title 2",
            "anime",
            "https://myanimelist.net/anime/2",
            "https://www.anisearch.com/anime/index?text=Title%202",
            "[mappings.anime]",
            '"2" = ',
        ],
    ]
    asked = put_paths(fake).count("/v1/my/anime/2/ratings")
    assert asked == 1

    assert sync(config, export_path, "--report", report) == 0
    assert put_paths(fake).count("/v1/my/anime/2/ratings") == 1
    assert entries_of(report)[2]["outcome"] == "unmatched"
    assert (tmp_path / "out" / "unmatched.csv").read_text().count("Title 2") == 1

    assert sync(config, export_path, "--retry-unmatched") == 1
    assert put_paths(fake).count("/v1/my/anime/2/ratings") == 2


def test_mapped_titles_are_sent_by_anisearch_id(tmp_path: Path, fake: FakeAniSearch) -> None:
    fake.unknown_mal_ids.add(("anime", 2))
    config = write_config(tmp_path, fake.base_url, extra='\n[mappings.anime]\n"2" = 777\n')
    assert sync(config, write(tmp_path / "l.xml", many(2))) == 0
    request = next(r for r in fake.puts() if r.path == "/v1/my/anime/777/ratings")
    assert request.body["use_myanimelist_id"] is False
    assert fake.ratings[("anime", 777)]["status"] == "completed"
    assert sync(config, write(tmp_path / "l.xml", many(2))) == 0
    assert len(fake.puts()) == 2


def test_no_remote_diff_trusts_the_checkpoint_alone(tmp_path: Path, fake: FakeAniSearch) -> None:
    fake.preload("anime", 1, **SENT)
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "l.xml", many(1)), "--no-remote-diff") == 0
    all_but_profile = [r for r in fake.received if r.path != "/v1/my/profile"]
    assert [r.method for r in all_but_profile] == ["PUT"]


def test_no_remote_diff_refuses_policies_that_need_it(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    path = write(tmp_path / "l.xml", many(1))
    assert sync(config, path, "--no-remote-diff", "--on-conflict", "keep-anisearch") == 2
    assert "--no-remote-diff cannot be combined" in capsys.readouterr().err
    assert fake.received == []


def test_restore_brings_back_what_delete_missing_deleted(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "all.xml", many(3))) == 0
    before = copy.deepcopy(fake.ratings)
    fewer = write(tmp_path / "fewer.xml", export([anime(series_animedb_id="1")]))
    assert sync(config, fewer, "--delete-missing", "--yes") == 0
    assert fake.rating("anime", 2) is None
    assert fake.rating("anime", 3) is None
    assert main(["restore", "--yes", "--config", str(config)]) == 0
    assert fake.ratings == before


def test_an_offline_dry_run_still_lists_the_deletions(
    tmp_path: Path, fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "all.xml", many(2))) == 0
    monkeypatch.delenv("ANISEARCH_TOKEN")
    requests_so_far = len(fake.received)
    report = tmp_path / "r.json"
    fewer = write(tmp_path / "fewer.xml", export([anime(series_animedb_id="1")]))
    assert sync(config, fewer, "--dry-run", "--delete-missing", "--report", report) == 0
    assert len(fake.received) == requests_so_far
    data = json.loads(report.read_text())
    assert data["summary"]["compared_with_anisearch"] is False
    assert [(e["mal_id"], e["action"], e["outcome"]) for e in data["entries"]] == [
        (1, "upsert", "unchanged"),
        (2, "delete", "planned"),
    ]


class Terminal(io.StringIO):
    """Standard input as a person at a keyboard: a terminal, with answers typed in advance."""

    def isatty(self) -> bool:
        return True


class InterruptedTerminal(Terminal):
    """A terminal where the person presses Ctrl-C (or the run gets a SIGTERM) at the question."""

    def readline(self, size: int | None = -1) -> str:
        raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("terminal", "exit_code", "last_line"),
    [
        (InterruptedTerminal(), 130, "malsync: interrupted"),
        (Terminal(""), 2, None),  # Ctrl-D: no answer, no newline typed
    ],
    ids=["ctrl-c", "ctrl-d"],
)
def test_a_question_left_unanswered_ends_its_line_before_anything_else_is_said(
    tmp_path: Path, fake: FakeAniSearch, terminal: Terminal, exit_code: int, last_line: str | None
) -> None:
    """What follows the question starts on a line of its own, not after '[y/N] '."""
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "all.xml", many(2))) == 0
    fewer = write(tmp_path / "fewer.xml", export([anime(series_animedb_id="1")]))
    shown = io.StringIO()
    console = Console(stdin=terminal, stdout=io.StringIO(), stderr=shown)
    argv = ["sync", "--config", str(config), "--delete-missing", str(fewer)]
    assert raw_main(argv, console) == exit_code
    lines = shown.getvalue().splitlines()
    (question,) = [line for line in lines if "[y/N]" in line]
    assert question.endswith("[y/N] "), lines
    if last_line is not None:
        assert lines[-1] == last_line, lines
    assert fake.rating("anime", 2) is not None


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("\n", False)])
def test_a_person_at_the_terminal_is_asked_before_deleting(
    tmp_path: Path, fake: FakeAniSearch, answer: str, deleted: bool
) -> None:
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "all.xml", many(2))) == 0
    fewer = write(tmp_path / "fewer.xml", export([anime(series_animedb_id="1")]))
    shown = io.StringIO()
    console = Console(stdin=Terminal(answer), stdout=io.StringIO(), stderr=shown)
    argv = ["sync", "--config", str(config), "--delete-missing", str(fewer)]
    assert raw_main(argv, console) == (0 if deleted else 2)
    assert "Delete this rating on aniSearch?" in shown.getvalue()
    assert "  delete anime 2 'Title 2'" in shown.getvalue()
    assert (fake.rating("anime", 2) is None) is deleted
