"""Numbers an export or another source can hold that the API cannot take: never a crash, never
a request aniSearch refuses, and always a warning or reason that names the value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from malsync.cli.main import main
from malsync.pipeline.records import InvalidEntry, ListEntry, MalDate
from malsync.sources.export_xml import read_export
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import anime, export, manga, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.fake_mal import FakeMal, MalUser, anime_item
from tests.test_mal_sync import config_for

KEPT = "left as it is on aniSearch"


def read_both(tmp_path: Path, xml: str) -> tuple[ListEntry | InvalidEntry, ListEntry]:
    """The entry under test and the clean one after it, which must always go on."""
    entries = read_export(write(tmp_path / "values.xml", xml)).entries
    assert len(entries) == 2
    assert isinstance(entries[1], ListEntry)
    return entries[0], entries[1]


@pytest.mark.parametrize(
    ("raw", "used", "why"),
    [
        # Unknown is not zero: a count that cannot be read is left out, never sent as 0.
        ("\u00b2", None, f"is not a number; {KEPT}"),  # superscript two: isdigit() but not int()
        ("\u2460", None, f"is not a number; {KEPT}"),  # circled one
        ("\u0661\u0662", None, f"is not a number; {KEPT}"),  # Arabic-Indic 12: float() takes it
        ("inf", None, f"is not a number; {KEPT}"),
        ("-Infinity", None, f"is not a number; {KEPT}"),
        ("nan", None, f"is not a number; {KEPT}"),
        ("1_000", None, f"is not a number; {KEPT}"),
        ("1e400", None, f"is too large to be a count; {KEPT}"),
        ("9" * 5000, None, f"is too large to be a count; {KEPT}"),
        ("3.7", 3, "is not a whole number; 3 used"),
        ("-3", None, f"is negative; {KEPT}"),
        ("", None, None),  # empty, as a missing element: unknown, as a field MAL's API withholds
        ("12.0", 12, None),
        ("0" * 5000 + "7", 7, None),
        (" 7 ", 7, None),
    ],
)
def test_counts_that_are_no_usable_number_warn_and_the_entry_goes_on(
    tmp_path: Path, raw: str, used: int | None, why: str | None
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
    assert (first.progress, first.volumes) == (2, None)
    assert first.warnings == (
        "my_read_chapters '2.5' is not a whole number; 2 used",
        f"my_read_volumes '\u2460' is not a number; {KEPT}",
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
    assert "times_rewatched" not in puts["/v1/my/anime/3/ratings"]  # 1e400: unknown, not 0
    reported = json.loads(report.read_text())["entries"]
    assert sum(entry["outcome"] == "invalid" for entry in reported) == 2
    assert any(too_big in json.dumps(entry) for entry in reported)
    assert "MAL id '9223372036854775808' is too large" in capsys.readouterr().err

    # The run after must work as the first did: nothing about the refused id is stored.
    assert main(arguments) == first_status
    assert len(fake.puts()) == 2
    assert "Traceback" not in capsys.readouterr().err


UNREADABLE = {1: "\u00b2", 2: "inf", 3: "1e400", 4: "9" * 400, 5: "-3", 6: "twelve"}


@pytest.fixture
def anisearch_holds_progress(fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch) -> FakeAniSearch:
    """aniSearch, signed in to, holding 10 episodes of every UNREADABLE title."""
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    for mal_id in UNREADABLE:
        fake.preload("anime", mal_id, status="ongoing", episodes_watched=10, times_rewatched=1)
    return fake


def assert_progress_kept(fake: FakeAniSearch) -> None:
    bodies = [request.body for request in fake.puts()]
    assert len(bodies) == len(UNREADABLE)
    assert not any("episodes_watched" in body for body in bodies), bodies
    for mal_id in UNREADABLE:
        held = fake.rating("anime", mal_id)
        assert held is not None
        assert (held["status"], held["episodes_watched"], held["times_rewatched"]) == (
            "completed",
            10,
            2,
        )


def test_unreadable_counts_are_never_sent_and_anisearch_keeps_its_progress(
    tmp_path: Path, anisearch_holds_progress: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, anisearch_holds_progress.base_url)
    entries = [
        anime(series_animedb_id=str(mal_id), my_watched_episodes=raw, my_times_watched="2")
        for mal_id, raw in UNREADABLE.items()
    ]
    path = write(tmp_path / "list.xml", export(entries))

    plan = tmp_path / "plan.json"
    assert sync(config, "--dry-run", path, "--report", plan) == 0
    planned = {e["mal_id"]: e for e in json.loads(plan.read_text())["entries"]}
    assert {mal_id: "episodes_watched" in e["payload"] for mal_id, e in planned.items()} == {
        mal_id: False for mal_id in UNREADABLE
    }
    assert all(e["payload"]["times_rewatched"] == 2 for e in planned.values())
    assert planned[1]["warnings"] == [f"my_watched_episodes '\u00b2' is not a number; {KEPT}"]
    assert planned[3]["warnings"] == [
        f"my_watched_episodes '1e400' is too large to be a count; {KEPT}"
    ]
    assert planned[5]["warnings"] == [f"my_watched_episodes '-3' is negative; {KEPT}"]

    assert sync(config, "-v", path) == 0
    assert_progress_kept(anisearch_holds_progress)
    err = capsys.readouterr().err
    nines = "9" * 40 + "..."
    assert f"my_watched_episodes '{nines}' is too large to be a count; {KEPT}" in err
    assert f"my_watched_episodes 'twelve' is not a number; {KEPT}" in err


def test_the_live_list_leaves_unreadable_counts_out_the_same_way(
    tmp_path: Path, anisearch_holds_progress: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As JSON can hold them: a string, a float too large (1e400 reads as infinity), negative.
    counts: dict[int, object] = {1: "\u00b2", 2: "inf", 3: 1e400, 4: 10**400, 5: -3, 6: "twelve"}
    items = [anime_item(mal_id, num_episodes_watched=raw) for mal_id, raw in counts.items()]
    with FakeMal(users={"alice": MalUser(anime=items)}) as mal:
        config = config_for(tmp_path, anisearch_holds_progress, mal)
        assert sync(config, "-v", "--mal-user", "alice", "--media", "anime") == 0
    assert_progress_kept(anisearch_holds_progress)
    err = capsys.readouterr().err
    assert f"num_episodes_watched -3 is negative; {KEPT}" in err
    assert f"num_episodes_watched 'twelve' is not a count; {KEPT}" in err
