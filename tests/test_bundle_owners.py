"""--delete-missing and a bundle whose members are on two lists: the real CLI against the fake
aniSearch. A run of one list sends the bundle with that list's member only; the other list's
member is still listed there, so the first list's member leaving never deletes the title.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import export, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.test_titles_sync import BEBOP, GANTZ, GANTZ_2, LIST, path

DELETE = ("--delete-missing", "--yes")


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def named_list(folder: Path, user_name: str, *mal_ids: int) -> Path:
    """An export of `user_name`'s list holding the entries `mal_ids`."""
    text = export([LIST[mal_id] for mal_id in mal_ids]).replace(
        "<user_name>t</user_name>", f"<user_name>{user_name}</user_name>"
    )
    assert f"<user_name>{user_name}</user_name>" in text
    return write(folder / f"{user_name}.xml", text)


@pytest.mark.parametrize("first", ["alice", "bob"])
def test_a_bundle_another_list_still_lists_a_member_of_is_not_deleted(
    tmp_path: Path, fake: FakeAniSearch, first: str
) -> None:
    fake.database.link("anime", BEBOP, 101)
    fake.database.bundle("anime", 500, GANTZ, GANTZ_2)
    config = write_config(tmp_path, fake.base_url)
    alice = named_list(tmp_path, "alice", BEBOP, GANTZ)
    bob = named_list(tmp_path, "bob", GANTZ_2)
    for each in [alice, bob] if first == "alice" else [bob, alice]:
        assert sync(config, each) == 0
    assert sync(config, alice) == 0  # alice's run sends the bundle with alice's member only
    assert fake.title("anime", 500) is not None
    # Gantz leaves alice's list; bob still lists Gantz 2nd Stage, a member of the same title.
    assert sync(config, named_list(tmp_path, "alice", BEBOP), *DELETE) == 0
    assert path(500) not in [r.path for r in fake.deletes()]
    assert fake.title("anime", 500) is not None
    assert sync(config, named_list(tmp_path, "bob", GANTZ_2), *DELETE) == 0
    assert path(500) not in [r.path for r in fake.deletes()]
    assert fake.title("anime", 500) is not None
