"""The nightly run as cron runs it: a folder of downloads, and the dry run's words for a fan."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from malsync.cli.main import main
from tests.conftest import write_config
from tests.exports import anime, export, manga, many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch


def downloads(folder: Path) -> Path:
    """A download folder as it fills over months: old exports, a newer one, other files."""
    folder.mkdir()
    newest = write(folder / "animelist_1800000000_-_16433979.xml.gz", many(3), gzipped=True)
    older = write(folder / "animelist_1700000000_-_16433979.xml", many(5, first_id=100))
    write(folder / "mangalist_1750000000_-_16433979.xml", export([manga()], export_type=2))
    write(folder / "animelist.xml.bak", many(1))
    (folder / "notes.txt").write_text("not an export")
    # The older export was touched last (copied, say): MAL's stamp in the name decides.
    os.utime(newest, (1_000_000, 1_000_000))
    os.utime(older, (2_000_000, 2_000_000))
    return folder


def test_sync_of_a_folder_takes_the_newest_anime_and_manga_export_and_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = downloads(tmp_path / "downloads")
    report = tmp_path / "plan.json"
    assert main(["sync", "--dry-run", str(folder), "--report", str(report)]) == 0
    err = capsys.readouterr().err
    assert "using the newest export, animelist_1800000000_-_16433979.xml.gz" in err
    assert "using the newest export, mangalist_1750000000_-_16433979.xml" in err
    summary = json.loads(report.read_text())["summary"]
    assert summary["files"] == [
        str(folder / "animelist_1800000000_-_16433979.xml.gz"),
        str(folder / "mangalist_1750000000_-_16433979.xml"),
    ]
    assert (summary["media"]["anime"]["total"], summary["media"]["manga"]["total"]) == (3, 1)


def test_a_folder_without_exports_stops_with_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "downloads"
    empty.mkdir()
    (empty / "animelist.txt").write_text("no")
    assert main(["sync", "--dry-run", str(empty)]) == 2
    err = capsys.readouterr().err
    assert f"malsync: error: {empty}: holds no MAL export (animelist_*.xml[.gz]" in err


def test_the_dry_run_names_mal_statuses_the_time_a_real_run_takes_and_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = [anime(series_animedb_id="1", my_status="Plan to Watch")]
    entries += [anime(series_animedb_id=str(n), my_status="Watching") for n in range(2, 507)]
    path = write(tmp_path / "animelist.xml", export(entries))
    manga_path = write(tmp_path / "mangalist.xml", export([manga()], export_type=2))
    report = tmp_path / "plan.json"
    argv = ["sync", "--dry-run", str(path), str(manga_path), "--report", str(report)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "anime: 506 entries (Watching → ongoing 505, Plan to Watch → bookmark 1)" in err
    assert "manga: 1 entry (Reading → ongoing 1)" in err
    # 507 PUTs at 100 per 120 s, after the profile and a GET per media type
    assert (
        "A real run would send 507 requests for the planned titles after 3 reads, about 10 "
        "minutes at aniSearch's rate limits." in err
    )
    assert f"Report: {report}" in err
    summary = json.loads(report.read_text())["summary"]
    assert summary["media"]["anime"]["mal_status"] == {"plan_to_watch": 1, "watching": 505}
    assert summary["estimate"] == {"requests": 510, "writes": 507, "reads": 3, "seconds": 600.0}


def test_no_unmatched_csv_when_every_title_is_known(
    tmp_path: Path, fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    config = write_config(tmp_path, fake.base_url)
    fake.unknown_mal_ids.add(("anime", 2))
    report = tmp_path / "out" / "report.json"
    export_path = write(tmp_path / "l.xml", many(3))
    argv = ["sync", "--config", str(config), "--report", str(report), "--yes"]
    assert main([*argv, str(export_path)]) == 1
    assert (tmp_path / "out" / "unmatched.csv").exists()
    known = write(tmp_path / "known.xml", many(1))
    assert main([*argv, str(known)]) == 0
    assert not (tmp_path / "out" / "unmatched.csv").exists()  # nor one left from before
    assert main(["sync", "--config", str(config), str(known)]) == 0  # beside the checkpoint
    assert not (tmp_path / "unmatched.csv").exists()
