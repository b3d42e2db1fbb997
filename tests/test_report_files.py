"""The files a sync leaves for a person: the HTML report, unmatched.csv, the summary's wording."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from malsync.cli.main import main
from malsync.pipeline.planner import Decision, Verdict
from malsync.pipeline.records import MediaType, Outcome
from malsync.report.run_report import Report, RunInfo, summary_lines
from malsync.report.unmatched_csv import write_unmatched
from tests.conftest import settled, write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.test_html_report import parse


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def test_report_html_writes_a_page_that_parses(tmp_path: Path, fake: FakeAniSearch) -> None:
    fake.unknown_mal_ids.add(("anime", 2))
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(3))
    page_path = tmp_path / "out" / "plan.html"
    status = main(["sync", "--config", str(config), str(export_path), "--report", str(page_path)])
    assert status == 1  # one title unknown to aniSearch

    tree = parse(page_path.read_text(encoding="utf-8")).root
    assert [h.text() for h in tree.all("title")] == ["malsync report"]
    rows = tree.by_id("entries").all("tr")
    shown = {row.attrs.get("data-outcome") for row in rows if "data-outcome" in row.attrs}
    assert shown == {"uploaded", "not_found"}
    unmatched = tree.by_id("unmatched").text()
    assert "Title 2" in unmatched and "[mappings.anime]" in unmatched
    assert (tmp_path / "out" / "unmatched.csv").exists()  # beside the report, as with JSON
    assert not list((tmp_path / "out").glob(".*"))  # written atomically: no temporary left


def test_report_json_stays_json(tmp_path: Path, fake: FakeAniSearch) -> None:
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(2))
    report_path = tmp_path / "r.JSON"
    command = ["sync", "--config", str(config), str(export_path), "--report", str(report_path)]
    assert main(command) == 0
    assert json.loads(report_path.read_text())["summary"]["outcomes"] == {"uploaded": 2}


def _decision(mal_id: int, title: str, media: MediaType = MediaType.ANIME) -> Decision:
    return Decision(media, mal_id, title, "a.xml", Verdict.SEND, {"status": "completed"}, ())


def test_unmatched_csv_has_the_search_link_and_the_mapping_line(tmp_path: Path) -> None:
    decisions = [
        _decision(1, "Known"),
        _decision(2, "Kino's Journey: the Beautiful World"),
        _decision(7, "", MediaType.MANGA),
    ]
    results = {
        0: settled(decisions[0], Outcome.UPLOADED),
        1: settled(decisions[1], Outcome.NOT_FOUND, "unknown"),
        2: settled(decisions[2], Outcome.NOT_FOUND, "unknown"),
    }
    report = Report.build(decisions, results, RunInfo(("a.xml",), dry_run=False))
    path = tmp_path / "unmatched.csv"
    assert write_unmatched(report, path) == 2
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [
        {
            "mal_id": "2",
            "title": "Kino's Journey: the Beautiful World",
            "media": "anime",
            "mal_url": "https://myanimelist.net/anime/2",
            "anisearch_search": "https://www.anisearch.com/anime/index"
            "?text=Kino%27s%20Journey%3A%20the%20Beautiful%20World",
            "mapping_section": "[mappings.anime]",
            "mapping_line": '"2" = ',
        },
        {
            "mal_id": "7",
            "title": "",
            "media": "manga",
            "mal_url": "https://myanimelist.net/manga/7",
            "anisearch_search": "",  # nothing to search for
            "mapping_section": "[mappings.manga]",
            "mapping_line": '"7" = ',
        },
    ]


def test_a_stopped_run_says_how_many_were_not_sent_and_how_to_go_on() -> None:
    decisions = [_decision(n, f"T{n}") for n in range(1, 6)]
    results = {
        0: settled(decisions[0], Outcome.UPLOADED),
        1: settled(decisions[1], Outcome.UPLOADED),
    }
    run = RunInfo(("a.xml",), dry_run=False, stopped="interrupted")
    lines = summary_lines(Report.build(decisions, results, run))
    assert "Outcome: uploaded 2, not sent 3 (run the same command again to continue)" in lines


def test_an_old_report_with_not_sent_entries_still_renders() -> None:
    from malsync.report.html import render_html

    old = {"summary": {"outcomes": {"not_sent": 1}}, "entries": [{"outcome": "not_sent"}]}
    tree = parse(render_html(old)).root
    assert "not_sent" in tree.by_id("entries").text()


@pytest.mark.parametrize("title", ['=HYPERLINK("http://evil.example")', "+Anima", "-1", "@x"])
def test_a_title_a_spreadsheet_would_run_is_written_as_text(tmp_path: Path, title: str) -> None:
    sent = [_decision(2, title)]
    report = Report.build(
        sent,
        {0: settled(sent[0], Outcome.NOT_FOUND, "unknown")},
        RunInfo(("a.xml",), dry_run=False),
    )
    path = tmp_path / "unmatched.csv"
    write_unmatched(report, path)
    with open(path, newline="", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    # A leading quote makes Excel and LibreOffice show the cell as text, never as a formula.
    assert row["title"] == "'" + title
