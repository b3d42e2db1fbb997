"""Numbers an export or another source can hold that the API cannot take: never a crash, never
a request aniSearch refuses, and always a warning or reason that names the value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from malsync.cli.main import main
from malsync.pipeline.records import InvalidEntry, ListEntry, MalDate
from malsync.sources.export_xml import read_export
from tests.conftest import write_config
from tests.exports import anime, export, manga, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch


def read_both(tmp_path: Path, xml: str) -> tuple[ListEntry | InvalidEntry, ListEntry]:
    """The entry under test and the clean one after it, which must always go on."""
    entries = read_export(write(tmp_path / "values.xml", xml)).entries
    assert len(entries) == 2
    assert isinstance(entries[1], ListEntry)
    return entries[0], entries[1]


@pytest.mark.parametrize(
    ("raw", "used", "why"),
    [
        ("\u00b2", 0, "is not a number; 0 used"),  # superscript two: isdigit() but not int()
        ("\u2460", 0, "is not a number; 0 used"),  # circled one
        ("\u0661\u0662", 0, "is not a number; 0 used"),  # Arabic-Indic 12: float() takes it
        ("inf", 0, "is not a number; 0 used"),
        ("-Infinity", 0, "is not a number; 0 used"),
        ("nan", 0, "is not a number; 0 used"),
        ("1_000", 0, "is not a number; 0 used"),
        ("1e400", 0, "is too large to be a count; 0 used"),
        ("9" * 5000, 0, "is too large to be a count; 0 used"),
        ("3.7", 3, "is not a whole number; 3 used"),
        ("-3", 0, "is negative; 0 used"),
        ("12.0", 12, None),
        ("0" * 5000 + "7", 7, None),
        (" 7 ", 7, None),
    ],
)
def test_counts_that_are_no_usable_number_warn_and_the_entry_goes_on(
    tmp_path: Path, raw: str, used: int, why: str | None
) -> None:
    values = {"my_watched_episodes": raw, "my_times_watched": raw}
    first, _ = read_both(tmp_path, export([anime(**values), anime(series_animedb_id="1")]))
    assert isinstance(first, ListEntry)
    assert (first.progress, first.times_repeated) == (used, used)
    if why is None:
        assert first.warnings == ()
    else:
        shown = raw.strip() if len(raw) < 50 else raw[:40] + "..."
        assert first.warnings == (
            f"my_watched_episodes {shown!r} {why}",
            f"my_times_watched {shown!r} {why}",
        )


def test_manga_volumes_are_read_the_same_way(tmp_path: Path) -> None:
    xml = export(
        [manga(my_read_volumes="\u2460", my_read_chapters="2.5"), manga(manga_mangadb_id="3")],
        export_type=2,
    )
    first, _ = read_both(tmp_path, xml)
    assert isinstance(first, ListEntry)
    assert (first.progress, first.volumes) == (2, 0)
    assert first.warnings == (
        "my_read_chapters '2.5' is not a whole number; 2 used",
        "my_read_volumes '\u2460' is not a number; 0 used",
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("\u00b2", "MAL id '\u00b2' is not a positive number"),
        ("\u2460", "MAL id '\u2460' is not a positive number"),
        ("\u0661\u0662", "MAL id '\u0661\u0662' is not a positive number"),
        ("0", "MAL id '0' is not a positive number"),
        ("-5", "MAL id '-5' is not a positive number"),
        ("1e3", "MAL id '1e3' is not a positive number"),
        ("9223372036854775808", "MAL id '9223372036854775808' is too large (at most 2**63 - 1)"),
        ("9" * 5000, f"MAL id '{'9' * 40}...' is too large (at most 2**63 - 1)"),
    ],
)
def test_ids_that_cannot_be_stored_make_the_entry_invalid(
    tmp_path: Path, raw: str, reason: str
) -> None:
    first, _ = read_both(tmp_path, export([anime(series_animedb_id=raw), anime()]))
    assert isinstance(first, InvalidEntry)
    assert first.reason == reason
    assert first.mal_id is None


@pytest.mark.parametrize(
    ("raw", "mal_id"), [(str(2**63 - 1), 2**63 - 1), ("0" * 5000 + "42", 42), ("0042", 42)]
)
def test_the_largest_storable_id_and_leading_zeros_are_kept(
    tmp_path: Path, raw: str, mal_id: int
) -> None:
    first, _ = read_both(tmp_path, export([anime(series_animedb_id=raw), anime()]))
    assert isinstance(first, ListEntry)
    assert first.mal_id == mal_id


def test_dates_in_other_scripts_digits_are_no_dates(tmp_path: Path) -> None:
    arabic = "\u0662\u0660\u0662\u0660-\u0660\u0661-\u0660\u0665"  # 2020-01-05
    first, _ = read_both(tmp_path, export([anime(my_start_date=arabic), anime()]))
    assert isinstance(first, ListEntry)
    assert first.start is None
    assert first.warnings == (f"my_start_date {arabic!r} is not a YYYY-MM-DD date; omitted",)
    second, _ = read_both(tmp_path, export([anime(my_start_date="2020-01-05"), anime()]))
    assert isinstance(second, ListEntry) and second.start == MalDate(2020, 1, 5)


def test_absurd_values_are_never_sent_and_a_later_run_still_works(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    config = write_config(tmp_path, fake.base_url)
    too_big = str(2**63)
    xml = export(
        [
            anime(series_animedb_id="1", my_watched_episodes="999999"),
            anime(series_animedb_id=too_big),
            anime(series_animedb_id="\u00b2"),
            anime(series_animedb_id="3", my_watched_episodes="3.7", my_times_watched="1e400"),
        ]
    )
    path = write(tmp_path / "list.xml", xml)
    report = tmp_path / "report.json"
    arguments = ["sync", "--config", str(config), str(path), "--report", str(report)]
    first_status = main(arguments)
    puts = {request.path: request.body for request in fake.puts()}
    assert set(puts) == {"/v1/my/anime/1/ratings", "/v1/my/anime/3/ratings"}
    assert puts["/v1/my/anime/1/ratings"]["episodes_watched"] == 65535
    assert puts["/v1/my/anime/3/ratings"]["episodes_watched"] == 3
    assert puts["/v1/my/anime/3/ratings"]["times_rewatched"] == 0
    reported = json.loads(report.read_text())["entries"]
    assert sum(entry["outcome"] == "invalid" for entry in reported) == 2
    assert any(too_big in json.dumps(entry) for entry in reported)
    assert "MAL id '9223372036854775808' is too large" in capsys.readouterr().err

    # The run after must work as the first did: nothing about the refused id is stored.
    assert main(arguments) == first_status
    assert len(fake.puts()) == 2
    assert "Traceback" not in capsys.readouterr().err
