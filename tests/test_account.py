"""A checkpoint belongs to one aniSearch account: another account's run is refused before anything
is sent; a token that cannot say whose it is gets a warning and the run goes on as before."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from malsync.cli.main import main
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import ACCOUNT, GOOD_TOKEN, FakeAniSearch

OTHER_TOKEN = "tok-0b5e77c1d3a94f28-OTHER"
OTHER_ACCOUNT = (815, "someone-else")


@pytest.fixture
def two_accounts(fake: FakeAniSearch) -> FakeAniSearch:
    fake.tokens[OTHER_TOKEN] = fake.tokens[GOOD_TOKEN]
    fake.accounts[OTHER_TOKEN] = OTHER_ACCOUNT
    return fake


def sync_as(
    monkeypatch: pytest.MonkeyPatch, token: str, config: Path, *arguments: str | Path
) -> int:
    """A sync signed in with `token` (as ANISEARCH_TOKEN)."""
    monkeypatch.setenv("ANISEARCH_TOKEN", token)
    return sync(config, *arguments)


def stored_account(state: Path) -> dict[str, str]:
    with sqlite3.connect(state) as db:
        (value,) = db.execute("SELECT value FROM meta WHERE key = 'account'").fetchone()
    return dict(json.loads(value))


def test_another_accounts_run_on_the_same_checkpoint_is_refused(
    tmp_path: Path,
    two_accounts: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, two_accounts.base_url)
    export = write(tmp_path / "l.xml", many(3))
    assert sync_as(monkeypatch, GOOD_TOKEN, config, export) == 0
    assert stored_account(tmp_path / "state.sqlite3") == {"id": "4711", "name": "tester"}
    capsys.readouterr()

    assert sync_as(monkeypatch, OTHER_TOKEN, config, export) == 2
    err = capsys.readouterr().err
    assert (
        "this checkpoint belongs to the aniSearch account tester (id 4711), but you are signed "
        "in as someone-else (id 815); use another --state for this account"
    ) in err
    assert two_accounts.ratings_of(OTHER_ACCOUNT[0]) == {}
    assert len(two_accounts.puts()) == 3  # the first run's, nothing since

    assert sync_as(monkeypatch, OTHER_TOKEN, config, export, "--dry-run") == 2
    assert sync_as(monkeypatch, OTHER_TOKEN, config, export, "--state", str(tmp_path / "b.db")) == 0
    assert len(two_accounts.ratings_of(OTHER_ACCOUNT[0])) == 3


def test_restore_with_another_account_is_refused(
    tmp_path: Path,
    two_accounts: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, two_accounts.base_url)
    assert sync_as(monkeypatch, GOOD_TOKEN, config, write(tmp_path / "l.xml", many(2))) == 0
    monkeypatch.setenv("ANISEARCH_TOKEN", OTHER_TOKEN)
    assert main(["restore", "--yes", "--config", str(config)]) == 2
    assert "belongs to the aniSearch account tester (id 4711)" in capsys.readouterr().err
    assert two_accounts.deletes() == []


def test_a_token_without_the_profile_scope_warns_and_goes_on(
    tmp_path: Path,
    fake: FakeAniSearch,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.tokens[GOOD_TOKEN] = frozenset({"ratings.anime", "ratings.manga"})
    config = write_config(tmp_path, fake.base_url)
    assert sync_as(monkeypatch, GOOD_TOKEN, config, write(tmp_path / "l.xml", many(2))) == 0
    err = capsys.readouterr().err
    assert err.count("Could not check which aniSearch account you are signed in to") == 1
    assert "HTTP 403: token lacks scope user.profile" in err
    assert len(fake.accepted_puts()) == 2
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'account'").fetchone() is None


def test_a_checkpoint_from_before_is_bound_at_its_next_run(
    tmp_path: Path, fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, fake.base_url)
    export = write(tmp_path / "l.xml", many(2))
    fake.tokens[GOOD_TOKEN] = frozenset({"ratings.anime", "ratings.manga"})
    assert sync_as(monkeypatch, GOOD_TOKEN, config, export) == 0
    fake.tokens[GOOD_TOKEN] = frozenset({"ratings.anime", "ratings.manga", "user.profile"})
    assert sync_as(monkeypatch, GOOD_TOKEN, config, export) == 0
    assert stored_account(tmp_path / "state.sqlite3")["id"] == str(ACCOUNT[0])
    assert len(fake.puts()) == 2  # the second run found everything unchanged, as it should
