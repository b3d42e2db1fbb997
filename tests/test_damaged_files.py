"""Damaged token files and checkpoints: named with the command that mends them, deleted by
logout, shown by status (and status --json) instead of stopping it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from malsync.cli.main import main
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.fake_mal import FakeMal, MalUser, anime_item
from tests.test_mal_sync import mal_section


@pytest.fixture
def mal() -> Iterator[FakeMal]:
    with FakeMal(users={"alice": MalUser(anime=[anime_item(i) for i in range(1, 4)])}) as server:
        yield server


@pytest.fixture(autouse=True)
def no_environment_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANISEARCH_TOKEN", raising=False)
    monkeypatch.delenv("MAL_CLIENT_ID", raising=False)


def config_for(tmp_path: Path, fake: FakeAniSearch, mal: FakeMal) -> Path:
    extra = '\n[oauth]\ntoken_file = "token.json"\n' + mal_section(mal)
    return write_config(tmp_path, fake.base_url, extra=extra)


def damage(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("malsync: error:")]


@pytest.mark.parametrize("text", ["{}", "garbage", "{"])
def test_a_damaged_mal_token_file_names_the_mal_login(
    tmp_path: Path,
    fake: FakeAniSearch,
    mal: FakeMal,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    config = config_for(tmp_path, fake, mal)
    damage(tmp_path / "mal_token.json", text)
    assert main(["sync", "--dry-run", "--config", str(config), "--mal-user", "alice"]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert str(tmp_path / "mal_token.json") in line
    assert "damaged; run malsync login myanimelist again" in line


@pytest.mark.parametrize(
    ("service", "name"), [((), "token.json"), (("myanimelist",), "mal_token.json")]
)
def test_logout_deletes_a_damaged_token_file_and_says_so(
    tmp_path: Path,
    fake: FakeAniSearch,
    mal: FakeMal,
    capsys: pytest.CaptureFixture[str],
    service: tuple[str, ...],
    name: str,
) -> None:
    config = config_for(tmp_path, fake, mal)
    damage(tmp_path / name, "garbage")
    assert main(["logout", *service, "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "damaged" in err and str(tmp_path / name) in err and "deleted" in err
    assert not (tmp_path / name).exists()
    assert fake.received == [] and mal.received == []  # nothing readable to revoke
    assert main(["logout", *service, "--config", str(config)]) == 0
    assert "nothing to do" in capsys.readouterr().err


def test_status_shows_damaged_token_files_and_exits_0(
    tmp_path: Path, fake: FakeAniSearch, mal: FakeMal, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_for(tmp_path, fake, mal)
    damage(tmp_path / "token.json", "garbage")
    damage(tmp_path / "mal_token.json", "{}")
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "token file is damaged; run malsync login again" in out
    assert "token file is damaged; run malsync login myanimelist again" in out
    assert "No checkpoint yet" in out
    assert main(["status", "--json", "--config", str(config)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["anisearch"]["state"] == "damaged"
    assert document["myanimelist"]["state"] == "damaged"
    assert "malsync login myanimelist" in document["myanimelist"]["problem"]
    assert document["checkpoint"]["exists"] is False


def test_status_shows_a_damaged_checkpoint_beside_what_it_can_know_and_exits_2(
    tmp_path: Path,
    fake: FakeAniSearch,
    mal: FakeMal,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = config_for(tmp_path, fake, mal)
    (tmp_path / "state.sqlite3").write_bytes(b"SQLite format 3\x00" + b"\x00" * 100 + b"x" * 700)
    assert main(["status", "--json", "--config", str(config)]) == 2
    document = json.loads(capsys.readouterr().out)
    assert document["anisearch"]["state"] == "not_signed_in"
    assert document["checkpoint"]["path"] == str(tmp_path / "state.sqlite3")
    assert "move it aside" in document["checkpoint"]["problem"]
    assert main(["status", "--config", str(config)]) == 2
    out = capsys.readouterr().out
    assert "Not signed in" in out and "move it aside" in out
    # and a sync still refuses it, with advice that says what a fresh checkpoint loses
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    export_path = write(tmp_path / "l.xml", many(2))
    assert main(["sync", "--config", str(config), str(export_path)]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "loses nothing" not in line
    assert "run history" in line and "--delete-missing" in line
    assert fake.puts() == []
