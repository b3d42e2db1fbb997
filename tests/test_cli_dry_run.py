from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from malsync.cli.main import main
from tests.conftest import SAMPLES
from tests.exports import anime, export, write

SAMPLE_FILES = sorted(str(path) for path in SAMPLES.iterdir() if ".xml" in path.name)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a dry run opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_dry_run_on_the_samples_needs_no_token_and_no_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_network: None
) -> None:
    report_path = tmp_path / "out" / "report.json"
    status = main(["sync", "--dry-run", *SAMPLE_FILES, "--report", str(report_path)])
    err = capsys.readouterr().err
    assert status == 0
    assert "Dry run: nothing was sent to aniSearch." in err
    assert (
        "anime: 10 entries (Watching → ongoing 1, Completed → completed 4, On-Hold → on_hold 2, "
        "Dropped → dropped 1, Plan to Watch → bookmark 2)" in err
    )
    assert (
        "manga: 4 entries (Reading → ongoing 1, Completed → completed 1, Dropped → dropped 1, "
        "Plan to Read → bookmark 1)" in err
    )
    assert "Outcome: planned 14" in err

    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["summary"]["outcomes"] == {"planned": 14}
    assert report["summary"]["dry_run"] is True
    assert len(report["entries"]) == 14
    berserk = next(e for e in report["entries"] if e["media"] == "manga" and e["mal_id"] == 2)
    assert berserk["outcome"] == "planned"
    assert berserk["error"] is None
    assert berserk["payload"] == {
        "status": "ongoing",
        "use_myanimelist_id": True,
        "is_visible": True,
        "public_rating": 10,
        "public_fraction": 0,
        "chapters_read": 374,
        "volumes_read": 41,
        "is_rereading": True,
        "times_reread": 1,
        "reread_desire": 5,
        "priority": 3,
        "notes": "Still waiting \u2026",
    }
    assert berserk["warnings"] == [
        'my_start_date 2015-03-00 is partial; omitted (partial_dates = "first_day" sends it)'
    ]
    blood = next(e for e in report["entries"] if e["mal_id"] == 150)
    assert blood["payload"]["notes"] == "こんにちは\nDownloaded Episodes: 50"
    assert "my_comments: 7 invalid UTF-8 byte(s) repaired" in blood["warnings"]


def test_invalid_entries_are_reported_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "a.xml",
        export([anime(series_animedb_id="7", my_status="Binging"), anime(series_animedb_id="8")]),
    )
    report_path = tmp_path / "r.json"
    status = main(["sync", "--dry-run", str(path), "--report", str(report_path)])
    err = capsys.readouterr().err
    assert status == 1
    assert "1 entry cannot be sent:" in err
    assert "invalid: anime 7 'Fullmetal Alchemist: Brotherhood': unknown status 'Binging'" in err
    entries = json.loads(report_path.read_text())["entries"]
    assert [(e["mal_id"], e["outcome"], e["payload"] is None) for e in entries] == [
        (7, "invalid", True),
        (8, "planned", False),
    ]
    assert entries[0]["error"] == "unknown status 'Binging'"


def test_quiet_prints_nothing_when_all_is_well(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "--dry-run", "-q", *SAMPLE_FILES]) == 0
    assert capfd.readouterr() == ("", "")  # not the summary, not the partial dates


def test_quiet_still_names_entries_that_cannot_be_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "a.xml", export([anime(series_animedb_id="7", my_status="Binging")]))
    assert main(["sync", "--dry-run", "-q", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "1 entry cannot be sent:",
        "  invalid: anime 7 'Fullmetal Alchemist: Brotherhood': unknown status 'Binging'",
        "Look closer: malsync status",
    ]


def test_verbose_shows_each_body(capsys: pytest.CaptureFixture[str]) -> None:
    main(["sync", "--dry-run", "-v", *SAMPLE_FILES])
    err = capsys.readouterr().err
    assert 'anime 1 \'Cowboy Bebop\': {"status": "bookmark"' in err


def test_config_changes_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[mapping]\npartial_dates = "first_day"\npersonal_rating = true\n'
        '[mapping.status]\nplan_to_watch = "not_interested"\n'
    )
    report_path = tmp_path / "r.json"
    status = main(
        ["sync", "--dry-run", "--config", str(config), *SAMPLE_FILES, "--report", str(report_path)]
    )
    assert status == 0
    entries = {(e["media"], e["mal_id"]): e for e in json.loads(report_path.read_text())["entries"]}
    assert entries[("anime", 1)]["payload"]["status"] == "not_interested"
    assert entries[("anime", 21)]["payload"]["start_date"] == "2011-01-01"
    assert entries[("anime", 5114)]["payload"]["personal_rating"] == 100


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[mapping]\npartial_dates = 'guess'\n", "[mapping] partial_dates must be one of"),
        (
            "[limits]\nupsert_requests = 'many'\n",
            "[limits] upsert_requests must be a whole number, not 'many'",
        ),
        ("[anisearch]\nbaseurl = 'x'\n", "[anisearch] baseurl is not a known setting"),
        ("[mapping.status]\ncompleted = 'done'\n", "[mapping.status] completed must be one of"),
        ("not toml at all = = =", "not valid TOML"),
    ],
)
def test_bad_config_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: str, message: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config)
    assert main(["sync", "--dry-run", "--config", str(path), *SAMPLE_FILES]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert str(path) in err[0]
    assert message in err[0]


def test_missing_explicit_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["sync", "--dry-run", "--config", str(missing), *SAMPLE_FILES]) == 2
    assert f"{missing}: config file not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        (b"\x00\x01\x02binary\xff", "binary data"),
        (b"<html><body>MyAnimeList</body></html>", "HTML page"),
        (b'{"data": []}', "looks like JSON"),
        (b"<?xml version='1.0'?><feed/>", "root <feed>"),
    ],
)
def test_bad_export_stops_the_run_with_exit_2_and_no_traceback(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    good = write(tmp_path / "good.xml", export([anime()]))
    bad = write(tmp_path / "bad.xml", content)
    result = subprocess.run(
        [sys.executable, "-m", "malsync", "sync", "--dry-run", str(good), str(bad)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("malsync: error")]
    assert len(lines) == 1
    assert str(bad) in lines[0]
    assert reason in lines[0]
    assert "Traceback" not in result.stderr
    assert "Outcome" not in result.stderr


def test_truncated_gzip_export_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whole = (SAMPLES / "mangalist_sample.xml.gz").read_bytes()
    cut = write(tmp_path / "cut.xml.gz", whole[:400])
    assert main(["sync", "--dry-run", str(cut)]) == 2
    assert f"{cut}: is a truncated gzip file" in capsys.readouterr().err


def test_real_exports_plan_every_entry(real_exports: Path, tmp_path: Path) -> None:
    for export_path in sorted(real_exports.glob("*.xml*")):
        report_path = tmp_path / f"{export_path.name}.json"
        assert (
            main(["sync", "--dry-run", "-q", str(export_path), "--report", str(report_path)]) == 0
        )
        report = json.loads(report_path.read_text())
        assert {e["outcome"] for e in report["entries"]} == {"planned"}
        assert report["summary"]["total"] in (506, 112, 109)


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync"]) == 2
    assert "nothing to sync: give MAL export files" in capsys.readouterr().err
