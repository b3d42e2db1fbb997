"""Syncs that know every title's aniSearch id before sending: the real CLI against the fake
aniSearch, whose Database API links MAL ids to its titles (bundles, parts, unlinked ids) and
whose ratings follow those links (GET shows a bundle under one of its MAL ids, or none).

Each test looks at what the fake received and holds, the report and the files written.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from malsync.cli.main import main
from tests.cli_runner import run, sync
from tests.conftest import write_config
from tests.exports import anime, export, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.test_html_report import cells, entry_rows, parse

GANTZ, GANTZ_2, BEBOP, RECAP, UNLINKED, TRIGUN = 384, 1010, 1, 77, 38840, 6


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


@pytest.fixture
def linked(fake: FakeAniSearch) -> FakeAniSearch:
    """aniSearch's links: Bebop and Trigun one to one, Gantz and Gantz 2nd Stage one title (a
    bundle), a recap split in two titles (parts); MAL id 38840 linked to nothing."""
    fake.database.link("anime", BEBOP, 101)
    fake.database.link("anime", TRIGUN, 106)
    fake.database.bundle("anime", 500, GANTZ, GANTZ_2)
    fake.database.link("anime", RECAP, 701, 702)
    return fake


def entry(mal_id: int, title: str, **values: str) -> str:
    return anime(series_animedb_id=str(mal_id), series_title=f"<![CDATA[{title}]]>", **values)


LIST = {
    BEBOP: entry(BEBOP, "Cowboy Bebop", my_watched_episodes="26", my_score="9"),
    TRIGUN: entry(TRIGUN, "Trigun", my_watched_episodes="26", my_score="6"),
    GANTZ: entry(
        GANTZ,
        "Gantz",
        my_watched_episodes="13",
        my_score="7",
        my_comments="<![CDATA[dark]]>",
        my_start_date="2010-01-05",
        my_finish_date="2010-02-01",
    ),
    GANTZ_2: entry(
        GANTZ_2,
        "Gantz 2nd Stage",
        my_watched_episodes="13",
        my_score="8",
        my_comments="<![CDATA[darker]]>",
        my_start_date="2010-03-01",
        my_finish_date="2010-04-09",
    ),
    RECAP: entry(RECAP, "A Recap", my_watched_episodes="2", my_score="5"),
    UNLINKED: entry(UNLINKED, "Not Linked Yet", my_watched_episodes="12"),
}


def the_list(folder: Path, *mal_ids: int, **changed: dict[str, str]) -> Path:
    entries = [LIST[mal_id] for mal_id in mal_ids or LIST]
    for mal_id, values in changed.items():
        entries[list(mal_ids or LIST).index(int(mal_id[1:]))] = entry(
            int(mal_id[1:]), "Changed", **values
        )
    return write(folder / "animelist.xml", export(entries))


def puts(fake: FakeAniSearch) -> list[tuple[str, Any]]:
    return [(r.path, r.body) for r in fake.puts()]


def put_paths(fake: FakeAniSearch) -> list[str]:
    return [r.path for r in fake.puts()]


def rows(report: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(report.read_text())["entries"]
    return entries


def path(anisearch_id: int) -> str:
    return f"/v1/my/anime/{anisearch_id}/ratings"


MERGED_GANTZ = {
    "status": "completed",
    "is_visible": True,
    "public_rating": 8,  # the mean of 7 and 8, rounded half up
    "public_fraction": 0,
    "episodes_watched": 26,
    "start_date": "2010-01-05",
    "end_date": "2010-04-09",
    "is_rewatching": False,
    "times_rewatched": 0,
    "priority": 1,
    "notes": "Gantz:\ndark\n\nGantz 2nd Stage:\ndarker",
}


def test_titles_go_by_anisearch_id_a_bundle_once_with_merged_values_parts_each_their_share(
    tmp_path: Path, linked: FakeAniSearch
) -> None:
    report = tmp_path / "report.json"
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path), "--report", report) == 0
    assert sorted(put_paths(linked)) == [path(101), path(106), path(500), path(701), path(702)]
    assert all(body["use_myanimelist_id"] is False for _, body in puts(linked))
    assert linked.title("anime", 500) == MERGED_GANTZ
    # Parts: each gets the status, score and the rest; the episodes go to the first part only.
    assert linked.title("anime", 701)["episodes_watched"] == 2
    assert "episodes_watched" not in linked.title("anime", 702)
    assert linked.title("anime", 702)["public_rating"] == 5
    by_id = {(row["mal_id"], row["anisearch_id"]): row for row in rows(report)}
    gantz, gantz_2 = by_id[(GANTZ, 500)], by_id[(GANTZ_2, 500)]
    for member in (gantz, gantz_2):
        assert member["outcome"] == "uploaded" and member["bundle"] == [GANTZ, GANTZ_2]
        assert member["anisearch_url"] == "https://www.anisearch.com/anime/500"
        assert member["ids_from"] == "mal_links"
    assert by_id[(BEBOP, 101)]["anisearch_url"] == "https://www.anisearch.com/anime/101"
    assert by_id[(RECAP, 701)]["parts"] == by_id[(RECAP, 702)]["parts"] == [701, 702]
    summary = json.loads(report.read_text())["summary"]
    assert summary["media"]["anime"]["total"] == len(LIST)  # the recap counts once


def test_unlinked_titles_cost_no_request_and_a_new_mapping_is_sent_on_the_next_run(
    tmp_path: Path, linked: FakeAniSearch
) -> None:
    report = tmp_path / "out" / "report.json"
    config = write_config(tmp_path, linked.base_url)
    export_path = the_list(tmp_path, BEBOP, UNLINKED)
    assert sync(config, export_path, "--report", report) == 0
    assert put_paths(linked) == [path(101)]
    unlinked = next(row for row in rows(report) if row["mal_id"] == UNLINKED)
    assert unlinked["outcome"] == "unmatched"
    assert unlinked["error"] == "aniSearch links no title to MAL id 38840"
    assert unlinked["anisearch_search"] == (
        "https://www.anisearch.com/anime/index?text=Not%20Linked%20Yet"
    )
    assert unlinked["mapping_line"] == '"38840" = '
    with open(tmp_path / "out" / "unmatched.csv", newline="", encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    assert [(row["mal_id"], row["mapping_section"]) for row in listed] == [
        ("38840", "[mappings.anime]")
    ]
    # The cell is the line to paste as it is: with the aniSearch id after it, under its section.
    mapping = f"\n{listed[0]['mapping_section']}\n{listed[0]['mapping_line']}12345\n"
    config.write_text(config.read_text() + mapping)
    assert sync(config, export_path, "--report", report) == 0  # no --retry-unmatched
    assert put_paths(linked) == [path(101), path(12345)]
    assert linked.title("anime", 12345)["episodes_watched"] == 12
    mapped = next(row for row in rows(report) if row["mal_id"] == UNLINKED)
    assert (mapped["outcome"], mapped["ids_from"]) == ("uploaded", "hand_mapping")
    assert not (tmp_path / "out" / "unmatched.csv").exists()


@pytest.mark.parametrize("shows", ["first", "last", "none"])
def test_resyncs_send_nothing_for_an_unchanged_list_and_one_put_for_one_changed_title(
    tmp_path: Path, linked: FakeAniSearch, shows: str
) -> None:
    """Whichever MAL id GET shows a bundle under (or none), the bundle is not sent again when
    a re-sync reads aniSearch because another title changed."""
    linked.bundle_shows = shows
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path)) == 0
    first_run = len(linked.puts())
    assert sync(config, the_list(tmp_path)) == 0
    assert len(linked.puts()) == first_run
    reads_before = sum(1 for r in linked.received if r.path == "/v1/my/anime/ratings")
    changed = {f"m{TRIGUN}": {"my_watched_episodes": "20", "my_score": "6"}}
    assert sync(config, the_list(tmp_path, **changed)) == 0
    assert put_paths(linked)[first_run:] == [path(106)]
    assert sum(1 for r in linked.received if r.path == "/v1/my/anime/ratings") == reads_before + 1
    assert linked.title("anime", 500) == MERGED_GANTZ


@pytest.mark.parametrize("shows", ["first", "last", "none"])
def test_a_bundle_survives_delete_missing_while_a_member_is_listed(
    tmp_path: Path, linked: FakeAniSearch, shows: str
) -> None:
    linked.bundle_shows = shows
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path)) == 0
    sent = len(linked.puts())
    without_gantz = the_list(tmp_path, BEBOP, TRIGUN, GANTZ_2, RECAP, UNLINKED)
    assert sync(config, without_gantz, "--delete-missing", "--yes") == 0
    assert linked.deletes() == []
    # The title is now the one member left: its own values, in one PUT.
    assert put_paths(linked)[sent:] == [path(500)]
    held = linked.title("anime", 500)
    assert held is not None
    assert (held["episodes_watched"], held["public_rating"]) == (13, 8)
    assert held["start_date"] == "2010-03-01" and held["notes"] == "darker"
    neither = the_list(tmp_path, BEBOP, TRIGUN, RECAP, UNLINKED)
    assert sync(config, neither, "--delete-missing", "--yes") == 0
    assert [r.path for r in linked.deletes()] == [path(500)]
    assert linked.title("anime", 500) is None
    assert linked.title("anime", 101) is not None


def test_the_links_are_fetched_once_in_three_runs(tmp_path: Path, linked: FakeAniSearch) -> None:
    config = write_config(tmp_path, linked.base_url)
    for _ in range(3):
        assert sync(config, the_list(tmp_path)) == 0
    assert [(r.media, r.status) for r in linked.database.requests()] == [("anime", 200)]
    assert len(linked.puts()) == 5


def test_a_run_without_the_links_goes_by_mal_id_with_one_warning(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    linked.database.scripted.append(429)  # refused, and there is no copy yet
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path, BEBOP, TRIGUN)) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "aniSearch's MAL links" in line]
    assert len(warnings) == 1 and "sent by their MAL id" in warnings[0]
    assert put_paths(linked) == ["/v1/my/anime/1/ratings", "/v1/my/anime/6/ratings"]
    assert all(body["use_myanimelist_id"] is True for _, body in puts(linked))
    assert linked.title("anime", 101) is not None  # aniSearch put it where it links it
    # Within the limit nothing is asked again, and the run still works.
    assert sync(config, the_list(tmp_path, BEBOP, TRIGUN)) == 0
    assert len(linked.database.requests()) == 1


def test_the_setting_turns_the_links_off(tmp_path: Path, linked: FakeAniSearch) -> None:
    config = write_config(tmp_path, linked.base_url, extra="")
    text = config.read_text().replace("[limits]", "use_mal_links = false\n\n[limits]")
    config.write_text(text)
    assert sync(config, the_list(tmp_path, BEBOP, GANTZ)) == 0
    assert linked.database.requests() == []
    assert put_paths(linked) == ["/v1/my/anime/1/ratings", "/v1/my/anime/384/ratings"]


def test_a_dry_run_asks_for_the_links_only_when_it_talks_to_anisearch(
    tmp_path: Path, linked: FakeAniSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, linked.base_url)
    report = tmp_path / "plan.json"
    monkeypatch.delenv("ANISEARCH_TOKEN")
    assert sync(config, the_list(tmp_path), "--dry-run", "--report", report) == 0
    assert linked.database.requests() == [] and linked.received == []
    assert {row["anisearch_id"] for row in rows(report)} == {None}
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    assert sync(config, the_list(tmp_path), "--dry-run", "--report", report) == 0
    assert len(linked.database.requests()) == 1
    # Five titles to write: the bundle is one request.
    assert json.loads(report.read_text())["summary"]["estimate"]["writes"] == 5
    planned = {row["mal_id"]: row for row in rows(report) if row["outcome"] == "planned"}
    assert planned[GANTZ]["payload"] == {**MERGED_GANTZ, "use_myanimelist_id": False}
    assert rows(report)[-1]["outcome"] == "unmatched"
    # A dry run without a sign-in now plans with the kept copy, still asking nothing.
    monkeypatch.delenv("ANISEARCH_TOKEN")
    assert sync(config, the_list(tmp_path), "--dry-run", "--report", report) == 0
    assert len(linked.database.requests()) == 1
    assert {row["anisearch_id"] for row in rows(report) if row["mal_id"] == GANTZ} == {500}


def _as_before_the_links(checkpoint: Path) -> None:
    """The checkpoint as malsync wrote it before it knew aniSearch's titles (schema 5)."""
    db = sqlite3.connect(checkpoint)
    db.executescript(
        """
        DROP TABLE titles;
        CREATE TABLE old_changes AS SELECT run_id, media, mal_id, anisearch_id, action, existed,
            payload, at, request_id, confirmed FROM changes;
        DROP TABLE changes;
        ALTER TABLE old_changes RENAME TO changes;
        UPDATE meta SET value = '5' WHERE key = 'schema';
        """
    )
    db.close()


@pytest.mark.parametrize("remote_diff", [True, False], ids=["reading", "no-remote-diff"])
def test_the_first_run_after_the_upgrade_sends_nothing_for_titles_that_match(
    tmp_path: Path, linked: FakeAniSearch, remote_diff: bool
) -> None:
    """Read, the ratings match; not read, the body aniSearch accepted by MAL id is the one it
    would be sent by aniSearch id."""
    config = write_config(tmp_path, linked.base_url)
    off = config.read_text().replace("[limits]", "use_mal_links = false\n\n[limits]")
    before = tmp_path / "before.toml"
    before.write_text(off)
    the_list(tmp_path, BEBOP, TRIGUN)
    assert sync(before, tmp_path / "animelist.xml") == 0
    assert put_paths(linked) == ["/v1/my/anime/1/ratings", "/v1/my/anime/6/ratings"]
    _as_before_the_links(tmp_path / "state.sqlite3")
    received = len(linked.received)
    options = () if remote_diff else ("--no-remote-diff",)
    assert sync(config, tmp_path / "animelist.xml", *options) == 0
    assert linked.puts()[2:] == []
    reads = [r.path for r in linked.received[received:]]
    assert reads == ["/v1/my/profile", *(["/v1/my/anime/ratings"] if remote_diff else [])]
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("7",)
    db.close()
    # Once changed on MAL, the title is sent by its aniSearch id.
    changed = {f"m{TRIGUN}": {"my_watched_episodes": "3"}}
    assert sync(config, the_list(tmp_path, BEBOP, TRIGUN, **changed), *options) == 0
    assert put_paths(linked)[2:] == [path(106)]


def test_restore_puts_a_bundle_back_as_it_was(tmp_path: Path, linked: FakeAniSearch) -> None:
    made_there = {"status": "ongoing", "episodes_watched": 3, "notes": "mine"}
    linked.preload_title("anime", 500, **made_there)
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path, GANTZ, GANTZ_2)) == 0
    assert put_paths(linked) == [path(500)]
    assert run(config, "restore", "--yes") == 0
    assert linked.title("anime", 500) == made_there
    restored = len(linked.puts())
    # The merge keeps the restore (changed on aniSearch, not on MAL, since the bundle's body);
    # mal-wins sends the bundle again, by aniSearch id.
    assert sync(config, the_list(tmp_path, GANTZ, GANTZ_2)) == 0
    assert len(linked.puts()) == restored
    assert sync(config, the_list(tmp_path, GANTZ, GANTZ_2), "--on-conflict", "mal-wins") == 0
    assert put_paths(linked)[restored:] == [path(500)]
    assert linked.title("anime", 500) == {**made_there, **MERGED_GANTZ}


def test_status_says_how_old_the_kept_links_are(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path, BEBOP)) == 0
    capsys.readouterr()
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "aniSearch's MAL links: anime fetched" in out and "(0 minutes ago)" in out


def test_the_html_report_groups_a_bundle_and_links_every_title(
    tmp_path: Path, linked: FakeAniSearch
) -> None:
    page = tmp_path / "report.html"
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path), "--report", page) == 0
    tree = parse(page.read_text()).root
    by_mal_id = {cells(row)[2]: row for row in entry_rows(tree) if cells(row)[2] != str(RECAP)}
    gantz, gantz_2, bebop = by_mal_id[str(GANTZ)], by_mal_id[str(GANTZ_2)], by_mal_id[str(BEBOP)]
    assert cells(gantz)[7] == "500\none title with MAL 1010"
    assert cells(gantz_2)[7] == "500\none title with MAL 384"
    assert gantz.attrs.get("class") == gantz_2.attrs.get("class") == "grouped"
    assert "class" not in bebop.attrs and cells(bebop)[7] == "101"
    links = [a.attrs["href"] for a in gantz.all("a")]
    assert "https://www.anisearch.com/anime/500" in links
    rows_in_order = [cells(row)[2] for row in entry_rows(tree)]
    assert rows_in_order.index(str(GANTZ_2)) == rows_in_order.index(str(GANTZ)) + 1
    unmatched = [cells(row) for row in tree.by_id("unmatched").all("tr") if row.all("td")]
    assert unmatched == [
        [
            "Not Linked Yet",
            str(UNLINKED),
            "search aniSearch",
            '"38840" = ',
            "aniSearch links no title to MAL id 38840",
        ]
    ]
