"""The rough edges a new user met in the first hour, each as that user saw it (issue 19)."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from malsync.cli.console import Console
from malsync.cli.main import main, raw_main
from malsync.store.checkpoint import Checkpoint
from tests.conftest import ROOT, SAMPLES, write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch
from tests.test_oauth import free_port

# The README's first command: two anime exports and a manga export, 14 titles.
README_SAMPLES = [
    str(SAMPLES / "animelist_sample.xml"),
    str(SAMPLES / "animelist_old_damaged.xml"),
    str(SAMPLES / "mangalist_sample.xml.gz"),
]


def test_the_estimate_counts_what_the_real_run_sends_with_the_planned_titles_apart(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = tmp_path / "plan.json"
    assert main(["sync", "--dry-run", *README_SAMPLES, "--report", str(plan)]) == 0
    err = capsys.readouterr().err
    assert "Outcome: planned 14" in err
    assert "16 requests" not in err
    assert "A real run would send 14 requests for the planned titles after 3 reads" in err
    estimate = json.loads(plan.read_text())["summary"]["estimate"]
    assert (estimate["writes"], estimate["reads"]) == (14, 3)

    # The real run sends exactly that: the profile, both rating lists, 14 PUTs.
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    config = write_config(tmp_path, fake.base_url)
    assert main(["sync", "--config", str(config), *README_SAMPLES]) == 0
    assert len(fake.received) == estimate["requests"] == 17


def test_without_the_remote_diff_the_estimate_counts_no_rating_lists(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["sync", "--dry-run", "--no-remote-diff", *README_SAMPLES]) == 0
    assert "send 14 requests for the planned titles after 1 read," in capsys.readouterr().err
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    config = write_config(tmp_path, fake.base_url)
    assert main(["sync", "--no-remote-diff", "--config", str(config), *README_SAMPLES]) == 0
    assert [r.method for r in fake.received].count("GET") == 1  # the profile only
    assert len(fake.received) == 15


def test_the_estimate_says_seconds_and_whose_limits_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export_path = write(tmp_path / "animelist.xml", many(6))
    config = tmp_path / "c.toml"
    config.write_text("[limits]\nupsert_requests = 5\nupsert_window_seconds = 10\n")
    assert main(["sync", "--dry-run", "--config", str(config), str(export_path)]) == 0
    err = capsys.readouterr().err
    # The sixth PUT waits for the first to leave the 10 s window.
    assert "after 2 reads, about 10 seconds at your [limits]." in err
    assert "minute" not in err and "aniSearch's rate limits" not in err

    assert main(["sync", "--dry-run", str(export_path)]) == 0
    assert "after 2 reads, with no waiting at aniSearch's rate limits." in capsys.readouterr().err


def test_the_plan_counts_manga_statuses_in_manga_words(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert main(["sync", "--dry-run", *README_SAMPLES, "--report", str(plan)]) == 0
    media = json.loads(plan.read_text())["summary"]["media"]
    assert media["manga"]["mal_status"] == {
        "completed": 1,
        "dropped": 1,
        "plan_to_read": 1,
        "reading": 1,
    }
    assert media["anime"]["mal_status"]["plan_to_watch"] == 2
    assert media["anime"]["mal_status"]["watching"] == 1


def test_a_run_counts_its_warnings_once_in_one_unit(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    config = write_config(tmp_path, fake.base_url)
    argv = ["sync", "--config", str(config)]
    assert main([*argv, str(write(tmp_path / "a.xml", many(3, my_start_date="2012-07-00")))]) == 0
    capsys.readouterr()
    # The next export has the same three and two new titles, all with a date without a day.
    grown = write(tmp_path / "b.xml", many(5, my_start_date="2012-07-00"))
    assert main([*argv, str(grown)]) == 0
    err = capsys.readouterr().err
    assert "Outcome: unchanged 3, uploaded 2" in err
    assert "2 titles have a start or finish date without a day" in err
    assert "2 titles have warnings (repairs or values left out); --report lists them." in err
    assert "5 entries have warnings" not in err

    assert main([*argv, str(grown)]) == 0  # the nightly run with nothing to send
    err = capsys.readouterr().err
    assert "have warnings" not in err and "without a day" not in err


def test_status_after_a_migration_in_two_runs_counts_each_titles_latest_outcome(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    # On aniSearch already, as MAL has it: malsync never needs to send it.
    fake.preload(
        "anime",
        20,
        status="completed",
        is_visible=True,
        episodes_watched=64,
        is_rewatching=False,
        times_rewatched=0,
        priority=1,
    )
    config = write_config(tmp_path, fake.base_url)
    argv = ["sync", "--config", str(config)]
    assert main([*argv, str(write(tmp_path / "a.xml", many(8)))]) == 0  # stopped after 8, say
    assert main([*argv, str(write(tmp_path / "b.xml", many(20)))]) == 0
    assert "Outcome: unchanged 9, uploaded 11" in capsys.readouterr().err
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "unchanged 9, uploaded 11" not in out
    assert "Entries: unchanged 1, uploaded 19" in out
    assert "  unchanged 9 (already on aniSearch as on MAL), uploaded 11" in out
    assert main(["status", "--json", "--config", str(config)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["checkpoint"]["entries"] == {"unchanged": 1, "uploaded": 19}
    assert document["checkpoint"]["last_run"]["counts"] == {"unchanged": 9, "uploaded": 11}


def test_a_sync_refused_before_sending_leaves_no_checkpoint(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    export_path = write(tmp_path / "animelist.xml", many(2))
    # No token at all: the default checkpoint path is not made.
    assert main(["sync", str(export_path)]) == 2
    assert "not signed in to aniSearch" in capsys.readouterr().err
    assert not (tmp_path / "xdg-data").exists()

    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    config = write_config(tmp_path, fake.base_url, contact="")
    assert main(["sync", "--config", str(config), str(export_path)]) == 2
    assert "[anisearch] contact is not set" in capsys.readouterr().err
    assert list(tmp_path.glob("state.sqlite3*")) == []
    assert fake.received == []


def test_the_checkpoint_is_0600_from_its_first_byte(
    tmp_path: Path, fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    previous = os.umask(0o022)
    state = tmp_path / "new-folder" / "state.sqlite3"
    seen: list[tuple[bool, int]] = []
    connect = sqlite3.connect

    def spying_connect(database: str | Path, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if Path(database) == state:  # what the file is when SQLite first writes to it
            seen.append((state.exists(), stat.S_IMODE(state.stat().st_mode)))
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", spying_connect)
    config = write_config(tmp_path, fake.base_url)
    argv = ["sync", "--config", str(config), "--state", str(state)]
    try:
        assert main([*argv, str(write(tmp_path / "animelist.xml", many(3)))]) == 0
    finally:
        os.umask(previous)
    assert seen and seen[0] == (True, 0o600)
    files = sorted(tmp_path.glob("new-folder/state.sqlite3*"))
    assert state in files
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}
    assert stat.S_IMODE(state.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("exclusive", [True, False])
def test_the_checkpoints_journal_files_are_0600_too(tmp_path: Path, exclusive: bool) -> None:
    previous = os.umask(0o022)
    try:
        with Checkpoint.open(tmp_path / "s.db", exclusive=exclusive) as checkpoint:
            checkpoint.start_run(["animelist.xml"])
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in tmp_path.iterdir()}
    finally:
        os.umask(previous)
    assert modes == {"s.db": 0o600, "s.db-wal": 0o600, "s.db-shm": 0o600}


class Terminal(io.StringIO):
    """Standard input as a person at a keyboard, with the answers typed in advance."""

    def isatty(self) -> bool:
        return True


def test_restore_says_what_it_undoes_before_it_asks_and_offers_since_for_a_resumed_migration(
    tmp_path: Path, fake: FakeAniSearch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "animelist.xml", many(5))
    fake.faults.scripted.extend([200, 200, 403])  # the first migration stopped by aniSearch
    assert main(["sync", "--config", str(config), str(export_path)]) == 3
    assert main(["sync", "--config", str(config), str(export_path)]) == 0  # and resumed
    received = len(fake.received)

    err = io.StringIO()
    console = Console(stdin=Terminal("n\n"), stdout=io.StringIO(), stderr=err)
    assert raw_main(["restore", "--config", str(config)], console) == 2
    said = err.getvalue()
    question = said.index("on aniSearch back? [y/N]")
    assert said.index("(taken before run 2)") < question
    hint = "your first migration took runs 1 to 2 (run 1 did not finish). malsync restore "
    assert said.index(f"{hint}--since 1 undoes it whole.") < question
    assert said.count("(taken before run 2)") == 1
    assert "Not confirmed: nothing was changed." in said
    assert all(r.method == "GET" for r in fake.received[received:])


def test_restore_offers_since_only_for_a_first_migration_that_took_several_runs(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)
    config = write_config(tmp_path, fake.base_url)
    argv = ["sync", "--config", str(config)]
    assert main([*argv, str(write(tmp_path / "a.xml", many(2)))]) == 0  # finished at once
    assert main([*argv, str(write(tmp_path / "b.xml", many(4)))]) == 0
    capsys.readouterr()
    assert main(["restore", "--dry-run", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "(taken before run 2)" in err
    assert "--since" not in err


def test_the_mal_client_id_is_shown_only_in_the_sign_in_address_as_the_readme_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client_id, secret = "mal-client-id-4f1c9e", "mal-web-secret-77ab"
    authorize = "http://127.0.0.1:9/v1/oauth2/authorize"
    config = tmp_path / "c.toml"
    config.write_text(
        f'[anisearch]\ncontact = "tester@example.com"\n[myanimelist]\nclient_id = "{client_id}"\n'
        f'client_secret = "{secret}"\nauthorize_url = "{authorize}"\n'
        f'redirect_uri = "http://127.0.0.1:{free_port()}/callback"\n'
    )
    argv = ["login", "myanimelist", "--no-browser", "--timeout", "0.2", "--config", str(config)]
    assert main(argv) != 0  # nobody signs in
    captured = capsys.readouterr()
    shown = [line for line in (captured.out + captured.err).splitlines() if client_id in line]
    assert len(shown) == 1 and shown[0].startswith(f"{authorize}?")
    assert f"client_id={client_id}" in shown[0]  # OAuth needs it there
    assert secret not in captured.out + captured.err

    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "the client id and the tokens appear in no output" not in readme
    assert (
        "nor does the client id, except in the sign-in address `malsync login myanimelist` "
        "prints or opens: OAuth hands the client id to MAL through that address" in readme
    )
