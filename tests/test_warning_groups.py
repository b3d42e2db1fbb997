"""Warnings a person can read: one line per kind with a count and the fix; each title's at -v."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from malsync.config.settings import MappingOptions, PartialDates
from malsync.pipeline.planner import Decision, Verdict, build_plan
from malsync.pipeline.records import EntryWarning, MediaType, WarningKind, warning_kind
from malsync.report.warning_groups import warning_groups
from malsync.sources.export_xml import read_export
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import anime, export, many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch

PARTIAL_LINE = (
    "3 titles have a start or finish date without a day; they are sent without it. "
    'To send the 1st of the month instead, set `partial_dates = "first_day"` under `[mapping]`.'
)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def kinds_of(path: Path, options: MappingOptions | None = None) -> dict[int, set[WarningKind]]:
    decisions = build_plan(read_export(path).entries, options or MappingOptions())
    return {d.mal_id or 0: {warning_kind(w) for w in d.warnings} for d in decisions}


def test_each_warning_gets_its_kind_where_it_is_made(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.xml",
        export(
            [
                anime(series_animedb_id="1", my_finish_date="2010-09-00"),
                anime(series_animedb_id="2", my_start_date="2010-13-01"),
                anime(series_animedb_id="3", my_watched_episodes="-4"),
                anime(series_animedb_id="4", my_priority="URGENT"),
                anime(series_animedb_id="5", my_watched_episodes="99999999"),
                anime(series_animedb_id="6"),
            ]
        ),
    )
    assert kinds_of(path) == {
        1: {WarningKind.PARTIAL_DATE_OMITTED},
        2: {WarningKind.BAD_DATE},
        3: {WarningKind.COUNT},
        4: {WarningKind.UNKNOWN_VALUE},
        5: {WarningKind.COUNT},
        6: set(),
    }
    rounded = MappingOptions(partial_dates=PartialDates.FIRST_DAY)
    assert kinds_of(path, rounded)[1] == {WarningKind.PARTIAL_DATE_ROUNDED}


def test_a_warning_stays_text_and_keeps_its_kind_when_copied() -> None:
    warning = EntryWarning("my_score 'x' is odd", WarningKind.UNKNOWN_VALUE)
    assert warning == "my_score 'x' is odd" and isinstance(warning, str)
    for twin in (copy.deepcopy(warning), pickle.loads(pickle.dumps(warning))):
        assert twin == warning and warning_kind(twin) is WarningKind.UNKNOWN_VALUE
    assert warning_kind("a plain string") is WarningKind.OTHER


def _decision(mal_id: int, *warnings: str) -> Decision:
    payload = {"status": "completed"}
    return Decision(MediaType.ANIME, mal_id, f"T{mal_id}", "a.xml", Verdict.SEND, payload, warnings)


def test_groups_count_titles_not_warnings_and_name_the_fix() -> None:
    omitted = WarningKind.PARTIAL_DATE_OMITTED
    decisions = [
        _decision(1, EntryWarning("start partial", omitted), EntryWarning("end partial", omitted)),
        _decision(2, EntryWarning("end partial", omitted), "something else"),
        _decision(3, EntryWarning("bad date", WarningKind.BAD_DATE)),
        _decision(4, EntryWarning("end partial", omitted)),
        _decision(5),
    ]
    assert warning_groups(decisions) == [
        PARTIAL_LINE,
        "1 title has a start or finish date that is no calendar date; it is left out. "
        "Correct the date on MyAnimeList to send it.",
        "1 title has other warnings; they do not stop them being sent.",
    ]
    assert warning_groups([_decision(1)]) == []


def test_a_run_shows_one_grouped_line_and_a_resync_none(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, fake.base_url)
    path = write(tmp_path / "l.xml", many(3, my_finish_date="2010-09-00"))

    assert sync(config, path, "--dry-run") == 0
    err = capsys.readouterr().err
    assert PARTIAL_LINE in err
    assert "my_finish_date" not in err  # no per-title lines without -v

    assert sync(config, path, "--dry-run", "-v") == 0
    err = capsys.readouterr().err
    assert PARTIAL_LINE in err
    assert "anime 2 'Title 2': my_finish_date 2010-09-00 is partial; omitted" in err

    assert sync(config, path, "-q") == 0
    assert "without a day" not in capsys.readouterr().err

    # A re-sync sends nothing, so it has nothing to warn about.
    assert sync(config, path) == 0
    assert "without a day" not in capsys.readouterr().err
    # One title changed: only its warning comes back.
    changed = write(
        tmp_path / "l.xml",
        many(3, my_finish_date="2010-09-00").replace(
            "<my_watched_episodes>64</my_watched_episodes>",
            "<my_watched_episodes>63</my_watched_episodes>",
            1,
        ),
    )
    assert sync(config, changed) == 0
    assert "1 title has a start or finish date without a day; it is sent without it." in (
        capsys.readouterr().err
    )
