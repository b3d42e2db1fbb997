"""An entry aniSearch splits in parts is one row of the checkpoint, settled once per part: the
real CLI against the fake aniSearch, one part refused while the others are accepted.

Within a run the entry keeps its worst part's fate (failed, then not_found), whichever part is
sent last: `malsync status` lists it, and a person is told of it once. A later run that
settles the entry starts afresh.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from malsync.cli.main import main
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import anime, export, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch

BEBOP, RECAP, SEQUEL, SAGA = 1, 77, 78, 88
TITLES = {BEBOP: "Cowboy Bebop", RECAP: "A Recap", SEQUEL: "A Sequel", SAGA: "A Saga"}
REFUSED = "this part is refused"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


@pytest.fixture
def linked(fake: FakeAniSearch) -> FakeAniSearch:
    """Bebop one title; the recap split in two (701, 702); the saga in three (801 to 803)."""
    fake.database.link("anime", BEBOP, 101)
    fake.database.link("anime", RECAP, 701, 702)
    fake.database.link("anime", SAGA, 801, 802, 803)
    return fake


def the_list(folder: Path, *mal_ids: int) -> Path:
    entries = [
        anime(
            series_animedb_id=str(mal_id),
            series_title=f"<![CDATA[{TITLES[mal_id]}]]>",
            my_watched_episodes="2",
            my_score="7",
        )
        for mal_id in mal_ids
    ]
    return write(folder / "animelist.xml", export(entries))


def status(config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["status", "--config", str(config)]) == 0
    return capsys.readouterr().out


def put_paths(fake: FakeAniSearch, since: int = 0) -> list[str]:
    return [r.path for r in fake.puts()[since:]]


def path(anisearch_id: int) -> str:
    return f"/v1/my/anime/{anisearch_id}/ratings"


@pytest.mark.parametrize("refused", [701, 702], ids=["first-part", "last-part"])
def test_a_refused_part_keeps_its_entry_failed_until_a_run_sends_it(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str], refused: int
) -> None:
    linked.rejected_anisearch_ids[("anime", refused)] = REFUSED
    config = write_config(tmp_path, linked.base_url)
    export_path = the_list(tmp_path, BEBOP, RECAP)
    assert sync(config, export_path) == 1
    assert put_paths(linked) == [path(101), path(701), path(702)]
    out = status(config, capsys)
    assert "Entries: failed 1, uploaded 1" in out
    assert "1 entry is not on aniSearch as on MAL:" in out
    assert f"  failed: anime 77 'A Recap': HTTP 400: {REFUSED}" in out

    # The next night it fails again: the person was told, -q says nothing of it.
    sent = len(linked.puts())
    assert sync(config, export_path, "-q") == 1
    assert put_paths(linked, sent) == [path(refused)]
    assert "A Recap" not in capsys.readouterr().err
    assert f"  failed: anime 77 'A Recap': HTTP 400: {REFUSED}" in status(config, capsys)

    # Accepted at last: the entry is uploaded, nothing is listed.
    del linked.rejected_anisearch_ids[("anime", refused)]
    sent = len(linked.puts())
    assert sync(config, export_path) == 0
    assert put_paths(linked, sent) == [path(refused)]
    out = status(config, capsys)
    assert "Entries: uploaded 2" in out
    assert "not on aniSearch as on MAL" not in out


@pytest.mark.parametrize(
    ("unknown", "refused", "listed"),
    [
        ({801}, set(), "not_found: anime 88 'A Saga': aniSearch has no anime with id 801"),
        ({801}, {802}, f"failed: anime 88 'A Saga': HTTP 400: {REFUSED}"),
        ({802}, {801}, f"failed: anime 88 'A Saga': HTTP 400: {REFUSED}"),
    ],
    ids=["unknown-then-accepted", "unknown-then-refused", "refused-then-unknown"],
)
def test_a_failed_part_outranks_an_unknown_one_and_both_outrank_an_accepted_one(
    tmp_path: Path,
    linked: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    unknown: set[int],
    refused: set[int],
    listed: str,
) -> None:
    linked.unknown_anisearch_ids.update(("anime", anisearch_id) for anisearch_id in unknown)
    for anisearch_id in refused:
        linked.rejected_anisearch_ids[("anime", anisearch_id)] = REFUSED
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path, SAGA)) == 1
    assert put_paths(linked) == [path(801), path(802), path(803)]
    out = status(config, capsys)
    assert f"Entries: {listed.split(':')[0]} 1\n" in out
    assert "1 entry is not on aniSearch as on MAL:" in out
    assert f"  {listed}" in out


@pytest.mark.parametrize("refused", [701, 702])
def test_a_part_that_is_also_a_bundle_settles_each_member_by_its_worst_part(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str], refused: int
) -> None:
    """702 is the recap's second part and the sequel's one title: one request for both."""
    linked.database.link("anime", SEQUEL, 702)
    linked.rejected_anisearch_ids[("anime", refused)] = REFUSED
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path, RECAP, SEQUEL)) == 1
    assert put_paths(linked) == [path(701), path(702)]
    out = status(config, capsys)
    assert f"  failed: anime 77 'A Recap': HTTP 400: {REFUSED}" in out
    sequel_failed = f"  failed: anime 78 'A Sequel': HTTP 400: {REFUSED}" in out
    assert sequel_failed is (refused == 702)
    assert ("Entries: failed 2" if refused == 702 else "Entries: failed 1, uploaded 1") in out


@pytest.mark.parametrize("refused", [0, 1], ids=["first-part", "last-part"])
def test_a_refused_deletion_of_one_part_leaves_the_entry_failed(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str], refused: int
) -> None:
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path, BEBOP, RECAP)) == 0
    linked.faults.scripted_method = "DELETE"
    linked.faults.scripted.extend([200] * refused + [400])
    assert sync(config, the_list(tmp_path, BEBOP), "--delete-missing", "--yes") == 1
    assert [r.path for r in linked.deletes()] == [path(701), path(702)]
    out = status(config, capsys)
    assert "1 entry is not on aniSearch as on MAL:" in out
    assert "  failed: anime 77 'A Recap': HTTP 400: scripted 400" in out


def test_a_restore_of_the_run_is_not_held_back_by_its_failed_part(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A restore settles under the id of the run it undoes, after it: its outcome is newer."""
    linked.rejected_anisearch_ids[("anime", 701)] = REFUSED
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path, RECAP)) == 1
    assert main(["restore", "--yes", "--config", str(config)]) == 0
    assert [r.path for r in linked.deletes()] == [path(702)]
    out = status(config, capsys)
    assert "Entries: restored 1" in out
    assert "not on aniSearch as on MAL" not in out
