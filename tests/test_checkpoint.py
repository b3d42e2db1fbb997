"""The checkpoint on its own: what it remembers between runs, and old files brought up to date."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from malsync.errors import CheckpointError
from malsync.pipeline.records import Action, ChangeRecord, MediaType, Outcome, Settlement
from malsync.store.checkpoint import SCHEMA_VERSION, Checkpoint

KEY = (MediaType.ANIME, 5114)


def test_an_accepted_body_is_remembered_until_the_title_is_gone(tmp_path: Path) -> None:
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        run = checkpoint.start_run(["a.xml"])
        checkpoint.settle(Settlement(KEY, "FMA", Outcome.UPLOADED, run, "h1", written=True))
        assert checkpoint.accepted_hashes() == {KEY: "h1"}
        assert checkpoint.written_titles() == {KEY: "FMA"}
        # An outcome without a body keeps what aniSearch was last known to hold.
        checkpoint.settle(Settlement(KEY, "FMA", Outcome.KEPT, run))
        assert checkpoint.accepted_hashes() == {KEY: "h1"}
        checkpoint.settle(Settlement(KEY, "FMA", Outcome.RESTORED, run, written=False))
        assert checkpoint.accepted_hashes() == {}
        assert checkpoint.written_titles() == {}
        assert checkpoint.outcome_counts() == {"restored": 1}


def test_the_accepted_body_is_the_base_a_restore_keeps_and_a_deletion_forgets(
    tmp_path: Path,
) -> None:
    body = {"status": "completed", "notes": "Loved it & more", "use_myanimelist_id": True}
    other = (MediaType.MANGA, 2)
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        run = checkpoint.start_run(["a.xml"])
        for key in (KEY, other):
            accepted = Settlement(key, "T", Outcome.UPLOADED, run, "h1", body, written=True)
            checkpoint.settle(accepted)
        checkpoint.settle(Settlement(KEY, "T", Outcome.KEPT, run))
        assert checkpoint.accepted_bodies() == {KEY: body, other: body}
        # Restored: aniSearch no longer holds the body (the hash goes), but MAL said it, so
        # it stays the base: an unchanged MAL list must not undo the restore.
        checkpoint.settle(Settlement(KEY, "T", Outcome.RESTORED, run, written=False))
        # Deleted (no longer on MAL): a title that comes back later is a new one.
        checkpoint.settle(Settlement(other, "T", Outcome.DELETED, run, written=False))
        assert checkpoint.accepted_hashes() == {}
        assert checkpoint.accepted_bodies() == {KEY: body}


def test_a_request_and_the_fate_it_settles_are_stored_together(tmp_path: Path) -> None:
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        run = checkpoint.start_run(["a.xml"])
        request = checkpoint.request_started("upsert", 1000.0)
        change = ChangeRecord(KEY, Action.UPSERT, None, False, {"status": "completed"})
        settled = Settlement(KEY, "FMA", Outcome.UPLOADED, run, "h", written=True, change=change)
        checkpoint.request_finished(request, 1000.5, settled)
        assert checkpoint.changes(run) == [change]
        assert checkpoint.changes(run + 1) == []


def test_recent_requests_count_from_their_answer(tmp_path: Path) -> None:
    import time

    now = time.time()
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        answered = checkpoint.request_started("upsert", now - 5)
        checkpoint.request_finished(answered, now - 4)
        checkpoint.request_started("upsert", now - 3)  # killed before its answer
        checkpoint.request_started("read", now - 2)
        checkpoint.request_started("upsert", now - 500)
        assert sorted(checkpoint.recent_requests("upsert", 120)) == [now - 4, now - 3 + 1.0]
        assert checkpoint.recent_requests("read", 60) == [now - 2 + 1.0]


def test_unmatched_titles_are_the_ones_last_answered_404(tmp_path: Path) -> None:
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        checkpoint.settle(Settlement(KEY, "FMA", Outcome.NOT_FOUND, 1, error="404"))
        checkpoint.settle(Settlement((MediaType.MANGA, 2), "B", Outcome.FAILED, 1, error="400"))
        assert list(checkpoint.unmatched()) == [KEY]
        failed = checkpoint.entries(("failed",))
        assert [(e.media, e.mal_id, e.error) for e in failed] == [(MediaType.MANGA, 2, "400")]


def test_runs_are_recorded_with_their_counts_and_backup(tmp_path: Path) -> None:
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        assert checkpoint.last_run() is None
        run = checkpoint.start_run(["a.xml", "b.xml"])
        checkpoint.set_backup(run, tmp_path / "backup.json")
        checkpoint.finish_run(run, "finished", {"uploaded": 3})
        last = checkpoint.last_run()
        assert last is not None
        assert (last.status, last.files, last.counts) == (
            "finished",
            ["a.xml", "b.xml"],
            {"uploaded": 3},
        )
        assert checkpoint.latest_backup() == (run, tmp_path / "backup.json")


def _version_one_checkpoint(path: Path) -> None:
    """A checkpoint as malsync 0.1 wrote it: schema 1, with the unused anisearch_id column."""
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE entries (
            media TEXT NOT NULL, mal_id INTEGER NOT NULL, title TEXT NOT NULL,
            accepted_hash TEXT, accepted_at REAL, written INTEGER NOT NULL DEFAULT 0,
            anisearch_id INTEGER, outcome TEXT NOT NULL, error TEXT, updated_at REAL NOT NULL,
            run_id INTEGER, PRIMARY KEY (media, mal_id));
        INSERT INTO entries VALUES ('anime', 5114, 'FMA', 'h1', 1.0, 1, NULL, 'uploaded',
                                    NULL, 1.0, 1);
        """
    )
    db.commit()
    db.close()


def test_a_version_one_checkpoint_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _version_one_checkpoint(path)
    with Checkpoint.open(path, create=False) as checkpoint:
        assert checkpoint.accepted_hashes() == {KEY: "h1"}
        assert checkpoint.written_titles() == {KEY: "FMA"}
        assert checkpoint.accepted_bodies() == {}  # no base: the next run is mal-wins for it
        run = checkpoint.start_run(["a.xml"])
        body = {"status": "completed"}
        checkpoint.settle(Settlement(KEY, "FMA", Outcome.UPLOADED, run, "h2", body))
        assert checkpoint.accepted_bodies() == {KEY: body}
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    columns = {row[1] for row in db.execute("PRAGMA table_info(entries)")}
    assert "anisearch_id" not in columns
    db.close()


def test_a_newer_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with Checkpoint.open(path):
        pass
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    db.commit()
    db.close()
    with pytest.raises(CheckpointError, match="schema 99 is not supported"):
        Checkpoint.open(path)


def test_a_second_writer_is_kept_out(tmp_path: Path) -> None:
    with Checkpoint.open(tmp_path / "s.db", exclusive=True):
        with pytest.raises(CheckpointError, match="another malsync run is using this checkpoint"):
            Checkpoint.open(tmp_path / "s.db", exclusive=True)


def test_a_transaction_a_signal_cut_off_does_not_block_the_next(tmp_path: Path) -> None:
    """SIGTERM or Ctrl-C right after BEGIN leaves a transaction open; the run's ending (the
    not-sent entries, the run's record) must still be written."""
    with Checkpoint.open(tmp_path / "s.db") as checkpoint:
        run = checkpoint.start_run([])
        checkpoint._db.execute("BEGIN IMMEDIATE")  # what the interrupted transaction left
        checkpoint.settle(Settlement(KEY, "FMA", Outcome.NOT_SENT, run))
        checkpoint.finish_run(run, "interrupted", {"not_sent": 1})
        assert checkpoint.outcome_counts() == {"not_sent": 1}
        last = checkpoint.last_run()
        assert last is not None and last.status == "interrupted"


def test_a_version_three_checkpoint_gets_the_body_column_and_keeps_its_hashes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v3.db"
    with Checkpoint.open(path) as checkpoint:
        checkpoint.settle(Settlement(KEY, "FMA", Outcome.UPLOADED, 1, "h1", written=True))
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE entries DROP COLUMN accepted_body")  # as schema 3 had it
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema'")
    db.commit()
    db.close()
    with Checkpoint.open(path, create=False) as checkpoint:
        assert checkpoint.accepted_hashes() == {KEY: "h1"}
        assert checkpoint.accepted_bodies() == {}
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    assert "accepted_body" in {row[1] for row in db.execute("PRAGMA table_info(entries)")}
    db.close()
