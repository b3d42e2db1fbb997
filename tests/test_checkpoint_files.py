"""The checkpoint file under stress: foreign, damaged, full, reached twice, pending requests."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from malsync.cli.main import main
from malsync.errors import CheckpointError
from malsync.pipeline.records import Action, ChangeRecord, MediaType, Outcome, Settlement
from malsync.store.checkpoint import IN_FLIGHT_MARGIN_SECONDS, SCHEMA_VERSION, Checkpoint
from tests.cli_runner import sync
from tests.conftest import write_config
from tests.exports import many, write
from tests.fake_anisearch import GOOD_TOKEN, FakeAniSearch

KEY = (MediaType.ANIME, 5114)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("malsync: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_foreign_database_is_refused_unchanged_even_by_a_dry_run(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = tmp_path / "state.sqlite3"
    db = sqlite3.connect(foreign)
    db.executescript(
        "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT);"
        "INSERT INTO photos (name) VALUES ('cat')"
    )
    db.close()
    before = foreign.read_bytes()
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(2))
    for dry_run in (("--dry-run",), ()):
        assert sync(config, export_path, *dry_run) == 2
        line = one_error_line(capsys.readouterr().err)
        assert str(foreign) in line and "not a malsync checkpoint" in line
    assert foreign.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("state")) == [
        "state.sqlite3"
    ]
    assert fake.puts() == []


def _checkpoint_with_entries(path: Path, count: int = 400) -> None:
    with Checkpoint.open(path) as checkpoint:
        run = checkpoint.start_run(["l.xml"])
        checkpoint.settle_many(
            [
                Settlement((MediaType.ANIME, i), f"Title {i}" * 5, Outcome.UPLOADED, run, f"h{i}")
                for i in range(1000, 1000 + count)
            ]
        )


def test_damaged_pages_stop_before_anything_is_sent_and_status_says_so(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.sqlite3"
    _checkpoint_with_entries(path)
    data = bytearray(path.read_bytes())
    assert len(data) > 6 * 4096
    data[3 * 4096 : 5 * 4096] = b"\xa5" * (2 * 4096)  # the header stays valid
    path.write_bytes(bytes(data))
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "l.xml", many(3))) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(path) in line and "move it aside" in line
    assert fake.received == []
    assert main(["status", "--config", str(config)]) == 2  # shown, and not taken as fine
    assert "move it aside" in capsys.readouterr().out


def test_undecodable_text_is_one_line_not_a_traceback(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.sqlite3"
    _checkpoint_with_entries(path, 3)
    db = sqlite3.connect(path)
    db.execute("UPDATE entries SET accepted_hash = CAST(X'FFFE41' AS TEXT), outcome = 'failed'")
    db.execute("UPDATE entries SET title = CAST(X'C328' AS TEXT)")
    db.commit()
    db.close()
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "l.xml", many(3))) == 2
    assert str(path) in one_error_line(capsys.readouterr().err)
    assert fake.puts() == []
    assert main(["status", "--config", str(config)]) == 2  # shown, and not taken as fine
    out = capsys.readouterr().out
    assert str(path) in out and "damaged" in out


class _FillsUp:
    """A connection whose disk fills up when the answer of request number `after + 1` is stored."""

    def __init__(self, connection: sqlite3.Connection, after: int) -> None:
        self._db = connection
        self._after = after

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        if sql.startswith("UPDATE requests SET finished"):
            self._after -= 1
            if self._after < 0:
                raise sqlite3.OperationalError("database or disk is full")
        return self._db.execute(sql, parameters)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_a_full_disk_mid_run_is_one_line_and_the_run_resumes(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect = sqlite3.connect
    monkeypatch.setattr(
        "malsync.store.checkpoint.sqlite3.connect",
        lambda *a, **k: _FillsUp(connect(*a, **k), after=12),
    )
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(30))
    assert sync(config, export_path) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(tmp_path / "state.sqlite3") in line and "disk is full" in line
    assert 10 < len(fake.puts()) < 30
    monkeypatch.undo()
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)

    db = sqlite3.connect(tmp_path / "state.sqlite3")
    assert db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    db.close()
    assert sync(config, export_path) == 0
    accepted = Counter(r.path for r in fake.accepted_puts())
    assert len(accepted) == 30
    assert sum(accepted.values()) <= 31


def test_a_checkpoint_reached_through_a_symlink_is_locked_as_the_same_file(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    folder_link = tmp_path / "folder-link"
    folder_link.symlink_to(real, target_is_directory=True)
    file_link = tmp_path / "alias.db"
    file_link.symlink_to(real / "s.db")
    with Checkpoint.open(real / "s.db", exclusive=True):
        for other in (folder_link / "s.db", file_link):
            with pytest.raises(
                CheckpointError, match="another malsync run is using this checkpoint"
            ):
                Checkpoint.open(other, exclusive=True)


def test_a_request_in_flight_counts_a_little_after_it_was_sent(tmp_path: Path) -> None:
    now = time.time()
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        checkpoint.request_started("upsert", now - 3)  # killed before its answer
        assert checkpoint.recent_requests("upsert", 120) == [now - 3 + IN_FLIGHT_MARGIN_SECONDS]
    assert IN_FLIGHT_MARGIN_SECONDS > 0


def test_a_change_is_recorded_as_possible_before_its_request_is_answered(tmp_path: Path) -> None:
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        run = checkpoint.start_run(["a.xml"])
        change = ChangeRecord(KEY, Action.UPSERT, None, False, {"status": "completed"})
        uploaded = Settlement(KEY, "FMA", Outcome.UPLOADED, run, "h", written=True, change=change)
        first = checkpoint.request_started("upsert", 1000.0, uploaded)
        assert checkpoint.changes(run) == [change]  # a kill here still leaves it to restore
        checkpoint.request_finished(first, 1000.5)  # a 503: retried
        second = checkpoint.request_started("upsert", 1001.0, uploaded)
        checkpoint.request_finished(second, 1001.5, uploaded)
        assert checkpoint.changes(run) == [change]  # one change, not one per attempt
        assert checkpoint.accepted_hashes() == {KEY: "h"}


def test_a_version_two_checkpoint_gets_the_pending_column(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '2');
        CREATE TABLE changes (run_id INTEGER NOT NULL, media TEXT NOT NULL,
            mal_id INTEGER NOT NULL, anisearch_id INTEGER, action TEXT NOT NULL,
            existed INTEGER, payload TEXT, at REAL NOT NULL);
        INSERT INTO changes VALUES (4, 'anime', 5114, NULL, 'upsert', 0, '{"status": "x"}', 1.0);
        """
    )
    db.commit()
    db.close()
    with Checkpoint.open(path, create=False) as checkpoint:
        assert checkpoint.changes(4) == [
            ChangeRecord(KEY, Action.UPSERT, None, False, {"status": "x"})
        ]
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta").fetchone() == (str(SCHEMA_VERSION),)
    assert SCHEMA_VERSION == 7
    db.close()


def test_a_full_disk_while_the_checkpoint_is_made_leaves_nothing_half_made(
    tmp_path: Path,
    fake: FakeAniSearch,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connect = sqlite3.connect

    def small_disk(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        connection.execute("PRAGMA max_page_count = 3")  # room for the first table or two
        return connection

    monkeypatch.setattr("malsync.store.checkpoint.sqlite3.connect", small_disk)
    config = write_config(tmp_path, fake.base_url)
    export_path = write(tmp_path / "l.xml", many(3))
    assert sync(config, export_path) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "disk is full" in line and "not a malsync checkpoint" not in line
    assert "free some space" in line
    assert fake.puts() == []
    monkeypatch.undo()
    monkeypatch.setenv("ANISEARCH_TOKEN", GOOD_TOKEN)

    assert sync(config, export_path) == 0
    assert len(fake.accepted_puts()) == 3


def test_a_checkpoint_made_half_way_by_an_older_version_is_taken_as_new(
    tmp_path: Path, fake: FakeAniSearch
) -> None:
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.commit()
    db.close()
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "l.xml", many(3))) == 0
    assert len(fake.accepted_puts()) == 3


def test_a_foreign_database_with_a_table_of_the_same_name_and_rows_is_left_alone(
    tmp_path: Path, fake: FakeAniSearch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = sqlite3.connect(tmp_path / "state.sqlite3")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('owner', 'another program')")
    db.commit()
    db.close()
    config = write_config(tmp_path, fake.base_url)
    assert sync(config, write(tmp_path / "l.xml", many(3))) == 2
    assert "not a malsync checkpoint" in one_error_line(capsys.readouterr().err)
    assert fake.puts() == []
