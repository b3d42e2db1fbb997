"""--delete-missing and an entry whose title another entry took over: the real CLI against the
fake aniSearch. A bundle member that left the list while the bundle stayed (its title now holds
the other member's values) is no longer malsync's on aniSearch; when aniSearch later links it to
a title of its own that the user rated by hand, that title is not deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli_runner import sync
from tests.conftest import write_config
from tests.fake_anisearch import FakeAniSearch
from tests.test_part_deletions import AS_MAL, listing, token  # noqa: F401
from tests.test_split_parts import deleted_paths, path, put_paths

BEBOP, RECAP, KEEP = 1, 77, 78


def relink(tmp_path: Path, fake: FakeAniSearch) -> None:
    """The next run downloads aniSearch's links anew (they changed)."""
    shutil.rmtree(tmp_path / "xdg-cache", ignore_errors=True)
    fake.database.advance(3 * 86400)


def test_a_title_the_user_rated_is_not_deleted_for_a_bundle_member_that_left(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    fake.database.link("anime", BEBOP, 101)
    fake.database.bundle("anime", 500, RECAP, KEEP)
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, listing(tmp_path, BEBOP, RECAP, KEEP)) == 0
    # The recap leaves: the bundle stays, with the sequel's values.
    assert sync(config, listing(tmp_path, BEBOP, KEEP), "--delete-missing", "--yes") == 0
    assert put_paths(fake) == [path(101), path(500), path(500)]
    assert deleted_paths(fake) == []
    # aniSearch corrects its links: the recap is a title of its own, one the user rated.
    fake.database.links["anime"][RECAP] = [900]
    fake.database.links["anime"][KEEP] = [500]
    fake.preload_title("anime", 900, **AS_MAL, notes="mine")
    relink(tmp_path, fake)

    assert sync(config, listing(tmp_path, BEBOP, KEEP), "--delete-missing", "--yes") == 0
    assert deleted_paths(fake) == []
    assert fake.title("anime", 900) == {**AS_MAL, "notes": "mine"}
    # The sequel leaving still deletes the bundle malsync wrote.
    assert sync(config, listing(tmp_path, BEBOP), "--delete-missing", "--yes") == 0
    assert deleted_paths(fake) == [path(500)]
    assert fake.title("anime", 900) == {**AS_MAL, "notes": "mine"}
