"""An entry aniSearch splits in parts is one row of the checkpoint, settled once per part: the
real CLI against the fake aniSearch, one part refused while the others are accepted.

Within a run the entry keeps its worst part's fate (failed, then not_found), whichever part is
sent last: `malsync status` lists it, and a person is told of it once. A later run that
settles the entry starts afresh. A part skipped as unknown keeps its entry not_found; a
part whose deletion was refused is deleted by the next --delete-missing, and nothing more.
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


def deleted_paths(fake: FakeAniSearch, since: int = 0) -> list[str]:
    return [r.path for r in fake.deletes()[since:]]


@pytest.mark.parametrize("refused", [0, 1], ids=["first-part", "last-part"])
def test_a_refused_deletion_of_one_part_is_sent_again_by_the_next_run(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str], refused: int
) -> None:
    """The other part's deletion does not make the entry one malsync no longer wrote."""
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path, BEBOP, RECAP)) == 0
    linked.faults.scripted_method = "DELETE"
    linked.faults.scripted.extend([200] * refused + [400])
    assert sync(config, the_list(tmp_path, BEBOP), "--delete-missing", "--yes") == 1
    assert deleted_paths(linked) == [path(701), path(702)]
    left = 701 if refused == 0 else 702
    assert linked.title("anime", left) is not None

    assert sync(config, the_list(tmp_path, BEBOP), "--delete-missing", "--yes") == 0
    assert deleted_paths(linked, 2) == [path(left)]
    assert linked.title("anime", left) is None
    assert linked.title("anime", 101) is not None
    out = status(config, capsys)
    assert "not on aniSearch as on MAL" not in out
    assert "Entries: deleted 1, uploaded 1" in out

    # Nothing is left to delete: a third run sends no DELETE.
    assert sync(config, the_list(tmp_path, BEBOP), "--delete-missing", "--yes") == 0
    assert len(linked.deletes()) == 3


def test_a_retried_part_deletion_spares_a_part_another_listed_entry_went_into(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    """803 is the saga's third part and the sequel's one title: while the sequel is listed it
    stays, on the run that refuses 801 and on the one that sends 801 again."""
    linked.database.link("anime", SEQUEL, 803)
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, the_list(tmp_path, SAGA, SEQUEL)) == 0
    linked.faults.scripted_method = "DELETE"
    linked.faults.scripted.append(400)
    assert sync(config, the_list(tmp_path, SEQUEL), "--delete-missing", "--yes") == 1
    assert deleted_paths(linked) == [path(801), path(802)]

    assert sync(config, the_list(tmp_path, SEQUEL), "--delete-missing", "--yes") == 0
    assert deleted_paths(linked, 2) == [path(801)]
    assert linked.title("anime", 803) is not None
    assert "not on aniSearch as on MAL" not in status(config, capsys)


def test_parts_malsync_never_wrote_are_not_deleted_after_another_list_run_failed(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint that found the recap's parts on aniSearch as MAL has them (written by a
    run with another checkpoint) never deletes them, whatever the first one's deletions did."""
    first = tmp_path / "first"
    first.mkdir()
    config = write_config(first, linked.base_url)
    assert sync(config, the_list(first, BEBOP, RECAP)) == 0
    other = tmp_path / "other"
    other.mkdir()
    config_other = write_config(other, linked.base_url)
    assert sync(config_other, the_list(other, BEBOP, RECAP)) == 0
    assert len(linked.puts()) == 3  # the second checkpoint found all three as MAL has them

    linked.faults.scripted_method = "DELETE"
    linked.faults.scripted.extend([200, 400])
    assert sync(config_other, the_list(other, BEBOP), "--delete-missing", "--yes") == 0
    assert sync(config_other, the_list(other, BEBOP), "--delete-missing", "--yes") == 0
    assert linked.deletes() == []
    assert linked.title("anime", 701) is not None
    assert linked.title("anime", 702) is not None


def test_a_part_skipped_as_unknown_keeps_its_entry_not_found_and_is_told_once(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    """801 is unknown to aniSearch: the next runs do not ask for it (30 days), and the saga
    stays listed as not_found, not `unchanged` as its other parts are."""
    linked.unknown_anisearch_ids.add(("anime", 801))
    config = write_config(tmp_path, linked.base_url)
    export_path = the_list(tmp_path, SAGA)
    assert sync(config, export_path) == 1
    assert put_paths(linked) == [path(801), path(802), path(803)]
    assert "  not_found: anime 88 'A Saga': aniSearch has no anime with id 801" in status(
        config, capsys
    )

    sent = len(linked.puts())
    capsys.readouterr()
    sync(config, export_path, "-q")
    assert put_paths(linked, sent) == []
    assert "A Saga" not in capsys.readouterr().err  # told already
    out = status(config, capsys)
    assert "Entries: not_found 1\n" in out
    assert "1 entry is not on aniSearch as on MAL:" in out
    assert "  not_found: anime 88 'A Saga': aniSearch had no anime with id 801 on " in out

    # Asked again and still unknown: the person was told, -q says nothing of it.
    capsys.readouterr()
    assert sync(config, export_path, "-q", "--retry-unmatched") == 1
    assert put_paths(linked, sent) == [path(801)]
    assert "A Saga" not in capsys.readouterr().err
    assert "  not_found: anime 88 'A Saga': aniSearch has no anime with id 801" in status(
        config, capsys
    )

    # Known at last: the saga is sent whole, nothing is listed.
    linked.unknown_anisearch_ids.clear()
    assert sync(config, export_path, "--retry-unmatched") == 0
    assert put_paths(linked, sent + 1) == [path(801)]
    out = status(config, capsys)
    assert "not on aniSearch as on MAL" not in out


def test_the_summary_names_the_part_that_failed(
    tmp_path: Path, linked: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two rows of one entry read alike before: which of its aniSearch titles failed was only
    in the JSON report."""
    linked.rejected_anisearch_ids[("anime", 802)] = REFUSED
    config = write_config(tmp_path, linked.base_url)
    capsys.readouterr()
    assert sync(config, the_list(tmp_path, SAGA)) == 1
    err = capsys.readouterr().err
    assert f"  failed: anime 88 'A Saga' (aniSearch 802, part 2 of 3): HTTP 400: {REFUSED}" in err
