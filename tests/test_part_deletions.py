"""--delete-missing deletes an aniSearch title only if malsync itself wrote that title: the
real CLI against the fake aniSearch, with an entry aniSearch splits in two parts (701, 702).

A part found on aniSearch already as MAL has it (unchanged: no PUT was ever sent for it) is
the user's own rating, though malsync wrote the entry's other part: when the entry leaves the
MAL list, only the part malsync wrote is deleted. A checkpoint of schema 6 kept "malsync wrote
it" per MAL entry only; migrated, a part is taken as written only where that is known.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from malsync.pipeline.records import MediaType, Outcome, Settlement
from malsync.store.checkpoint import Checkpoint
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import anime, export, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.test_split_parts import BEBOP, RECAP, deleted_paths, path, put_paths

ANIME = MediaType.ANIME
KEEP = 78  # an entry that stays listed, so that the list is never empty
TITLES = {BEBOP: "Cowboy Bebop", RECAP: "A Recap", KEEP: "A Sequel"}
# Each part as malsync sends it for the recap (my_score 7, 2 episodes): the progress goes
# to the first part only.
AS_MAL: dict[str, Any] = {
    "status": "completed",
    "is_visible": True,
    "public_rating": 7,
    "public_fraction": 0,
    "is_rewatching": False,
    "times_rewatched": 0,
    "priority": 1,
}
PARTS = {701: {**AS_MAL, "episodes_watched": 2}, 702: AS_MAL}


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


@pytest.fixture
def linked(fake: FakeAniSearch) -> FakeAniSearch:
    """Bebop one title (101); the recap split in two (701, 702); the kept entry one (178)."""
    fake.database.link("anime", BEBOP, 101)
    fake.database.link("anime", RECAP, 701, 702)
    fake.database.link("anime", KEEP, 178)
    return fake


def listing(folder: Path, *mal_ids: int) -> Path:
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


def as_schema_six(checkpoint: Path) -> None:
    """The checkpoint as malsync wrote it at schema 6: titles had no `written` of their own."""
    db = sqlite3.connect(checkpoint)
    db.executescript(
        """
        CREATE TABLE old_titles AS SELECT media, anisearch_id, members, accepted_hash,
            accepted_at, accepted_body, outcome, updated_at, run_id FROM titles;
        DROP TABLE titles;
        CREATE TABLE titles (media TEXT NOT NULL, anisearch_id INTEGER NOT NULL,
            members TEXT NOT NULL, accepted_hash TEXT, accepted_at REAL, accepted_body TEXT,
            outcome TEXT NOT NULL, updated_at REAL NOT NULL, run_id INTEGER,
            PRIMARY KEY (media, anisearch_id));
        INSERT INTO titles SELECT * FROM old_titles;
        DROP TABLE old_titles;
        UPDATE meta SET value = '6' WHERE key = 'schema';
        """
    )
    db.close()


def schema_of(checkpoint: Path) -> str:
    db = sqlite3.connect(checkpoint)
    try:
        return str(db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize("found", [701, 702], ids=["first-part-found", "last-part-found"])
@pytest.mark.parametrize("runs", [1, 2], ids=["then-deleted", "unchanged-run-then-deleted"])
def test_a_part_found_as_mal_has_it_is_not_deleted_with_the_part_malsync_wrote(
    tmp_path: Path, linked: FakeAniSearch, found: int, runs: int
) -> None:
    linked.preload_title("anime", found, **PARTS[found])
    wrote = 702 if found == 701 else 701
    config = write_config(tmp_path, linked.base_url)
    for _ in range(runs):  # a second run finds all unchanged: what malsync wrote stays its own
        assert sync(config, listing(tmp_path, BEBOP, RECAP, KEEP)) == 0
    assert put_paths(linked) == [path(101), path(wrote), path(178)]

    assert sync(config, listing(tmp_path, KEEP), "--delete-missing", "--yes") == 0
    assert deleted_paths(linked) == [path(101), path(wrote)]
    assert linked.title("anime", found) == PARTS[found]
    assert linked.title("anime", wrote) is None
    assert linked.title("anime", 178) is not None
    # Nothing more to delete, however often it runs.
    assert sync(config, listing(tmp_path, KEEP), "--delete-missing", "--yes") == 0
    assert len(linked.deletes()) == 2
    assert linked.title("anime", found) == PARTS[found]


def test_parts_malsync_wrote_are_both_deleted(tmp_path: Path, linked: FakeAniSearch) -> None:
    """Written both, deleted both: as before."""
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, listing(tmp_path, BEBOP, RECAP, KEEP)) == 0
    assert sync(config, listing(tmp_path, BEBOP, KEEP), "--delete-missing", "--yes") == 0
    assert deleted_paths(linked) == [path(701), path(702)]


@pytest.mark.parametrize("found", [701, 702], ids=["first-part-found", "last-part-found"])
def test_after_the_migration_from_schema_six_only_the_part_malsync_wrote_is_deleted(
    tmp_path: Path, linked: FakeAniSearch, found: int
) -> None:
    """The part's last fate is malsync's accepted PUT: it is known malsync wrote it. An
    unsplit entry's one title is as its entry: Bebop, found unchanged after its upload."""
    linked.preload_title("anime", found, **PARTS[found])
    wrote = 702 if found == 701 else 701
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, listing(tmp_path, BEBOP, KEEP)) == 0
    assert sync(config, listing(tmp_path, BEBOP, RECAP, KEEP)) == 0
    assert put_paths(linked) == [path(101), path(178), path(wrote)]
    as_schema_six(tmp_path / "state.sqlite3")

    assert sync(config, listing(tmp_path, KEEP), "--delete-missing", "--yes") == 0
    assert deleted_paths(linked) == [path(101), path(wrote)]
    assert linked.title("anime", found) == PARTS[found]
    assert schema_of(tmp_path / "state.sqlite3") == "7"
    assert sync(config, listing(tmp_path, KEEP), "--delete-missing", "--yes") == 0
    assert len(linked.deletes()) == 2


def test_after_the_migration_a_part_not_known_to_be_written_is_never_deleted(
    tmp_path: Path, linked: FakeAniSearch
) -> None:
    """Schema 6 cannot tell which part a split entry's mark was for once a later run found
    both unchanged: neither is deleted (the unsplit Bebop is, as before)."""
    linked.preload_title("anime", 702, **PARTS[702])
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, listing(tmp_path, BEBOP, RECAP, KEEP)) == 0
    assert sync(config, listing(tmp_path, BEBOP, RECAP, KEEP)) == 0
    as_schema_six(tmp_path / "state.sqlite3")

    assert sync(config, listing(tmp_path, KEEP), "--delete-missing", "--yes") == 0
    assert deleted_paths(linked) == [path(101)]
    assert linked.title("anime", 701) is not None
    assert linked.title("anime", 702) == PARTS[702]


def test_an_unsplit_entry_is_deleted_after_the_migration(
    tmp_path: Path, linked: FakeAniSearch
) -> None:
    config = write_config(tmp_path, linked.base_url)
    assert sync(config, listing(tmp_path, BEBOP, KEEP)) == 0
    assert sync(config, listing(tmp_path, BEBOP, KEEP)) == 0
    as_schema_six(tmp_path / "state.sqlite3")
    assert sync(config, listing(tmp_path, KEEP), "--delete-missing", "--yes") == 0
    assert deleted_paths(linked) == [path(101)]
    assert linked.title("anime", 101) is None


def test_an_entry_written_by_mal_id_before_the_links_keeps_its_parts(
    tmp_path: Path, linked: FakeAniSearch
) -> None:
    """Written by MAL id, before the checkpoint kept titles (schema 5): aniSearch put it in one
    of the parts, which one is not known, so --delete-missing deletes neither. Bebop, one title,
    is deleted as before."""
    linked.preload_title("anime", 702, **PARTS[702], notes="mine")
    config = write_config(tmp_path, linked.base_url)
    before = tmp_path / "before.toml"
    before.write_text(config.read_text().replace("[limits]", "use_mal_links = false\n\n[limits]"))
    assert sync(before, listing(tmp_path, BEBOP, RECAP, KEEP)) == 0
    assert put_paths(linked) == [path(1), path(77), path(78)]  # by MAL id
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    db.executescript("DROP TABLE titles; UPDATE meta SET value = '5' WHERE key = 'schema';")
    db.close()

    assert sync(config, listing(tmp_path, KEEP), "--delete-missing", "--yes") == 0
    assert deleted_paths(linked) == [path(101)]
    assert linked.title("anime", 702) == {**PARTS[702], "notes": "mine"}
    assert linked.title("anime", 701) is not None


def test_a_title_is_malsync_s_from_its_accepted_put_until_it_is_deleted_or_restored(
    tmp_path: Path,
) -> None:
    """Found unchanged or kept, a title stays as it was; written only by an accepted PUT."""

    def part(outcome: Outcome, anisearch_id: int, **fields: Any) -> Settlement:
        return Settlement((ANIME, RECAP), "A Recap", outcome, 1, title_id=anisearch_id, **fields)

    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        checkpoint.settle(part(Outcome.UNCHANGED, 701, accepted_hash="a"))
        checkpoint.settle(part(Outcome.UPLOADED, 702, accepted_hash="b", written=True))
        checkpoint.settle(part(Outcome.UNCHANGED, 702, accepted_hash="b"))
        checkpoint.settle(part(Outcome.FAILED, 702, error="HTTP 400"))
        assert {k[1]: t.written for k, t in checkpoint.kept_titles().items()} == {
            701: False,
            702: True,
        }
        checkpoint.settle(part(Outcome.RESTORED, 702, written=False))
        assert not checkpoint.kept_titles()[(ANIME, 702)].written
        checkpoint.settle(part(Outcome.UPLOADED, 701, accepted_hash="c", written=True))
        checkpoint.settle(part(Outcome.DELETED, 701, written=False))
        assert not checkpoint.kept_titles()[(ANIME, 701)].written


def test_the_migration_marks_only_titles_known_to_be_written(tmp_path: Path) -> None:
    """A bundle of unsplit entries is as its members; a split entry's parts only by their own
    accepted PUT; a title malsync's entries never wrote, or that is gone, is not written."""
    state = tmp_path / "s.db"
    settle: list[Settlement] = [
        Settlement(
            (ANIME, 384),
            "Gantz",
            Outcome.UPLOADED,
            1,
            "h",
            written=True,
            title_id=500,
            members=(384, 1010),
            others=(((ANIME, 1010), "Gantz 2nd Stage"),),
        ),
        Settlement(
            (ANIME, 384),
            "Gantz",
            Outcome.UNCHANGED,
            2,
            "h",
            title_id=500,
            members=(384, 1010),
            others=(((ANIME, 1010), "Gantz 2nd Stage"),),
        ),
        Settlement((ANIME, 77), "Recap", Outcome.UPLOADED, 1, "p", written=True, title_id=701),
        Settlement((ANIME, 77), "Recap", Outcome.UNCHANGED, 2, "p", title_id=701),
        Settlement((ANIME, 77), "Recap", Outcome.UNCHANGED, 2, "q", title_id=702),
        Settlement((ANIME, 88), "Saga", Outcome.UNCHANGED, 2, "r", title_id=801),
        Settlement((ANIME, 88), "Saga", Outcome.UPLOADED, 2, "s", written=True, title_id=802),
        Settlement((ANIME, 9), "Mine", Outcome.UNCHANGED, 2, "t", title_id=900),
        Settlement((ANIME, 5), "Gone", Outcome.UPLOADED, 1, "u", written=True, title_id=600),
        Settlement((ANIME, 5), "Gone", Outcome.DELETED, 2, written=False, title_id=600),
    ]
    with Checkpoint.open(state) as checkpoint:
        for settled in settle:
            checkpoint.settle(settled)
    as_schema_six(state)
    with Checkpoint.open(state, create=False) as checkpoint:
        marks = {k[1]: t.written for k, t in checkpoint.kept_titles().items()}
    assert marks == {
        500: True,
        701: False,
        702: False,
        801: False,
        802: True,
        900: False,
        600: False,
    }
    assert schema_of(state) == "7"
