"""The checkpoint: one SQLite file that makes runs resumable and re-syncs cheap.

It holds, per entry, the hash of the last body aniSearch accepted (so an unchanged entry is not
sent again) and its last outcome; the times of recent requests (so a restarted run still
respects the rate window); and a row per run. Every request is committed in its own transaction,
so a `kill -9` at any moment leaves a consistent file and costs at most the request in flight.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from malsync.errors import StateError
from malsync.pipeline.records import Action, EntryKey, MediaType, Outcome
from malsync.store.schema import (
    SCHEMA_VERSION,  # noqa: F401 - part of this module's interface
    create_schema,
    guarded,
    inspect,
    lock_beside,
    migrate,
    release,
    storage_error,
)

# Request times older than this are of no use to any rate window.
_REQUEST_MEMORY_SECONDS = 24 * 3600
# How much later than its sending a request killed in flight is taken to have reached the server.
IN_FLIGHT_MARGIN_SECONDS = 1.0


@dataclass(frozen=True)
class ChangeRecord:
    """One write of a run, as restore needs it."""

    key: EntryKey
    action: Action
    anisearch_id: int | None
    existed: bool | None
    payload: dict[str, Any] | None


@dataclass(frozen=True)
class Settlement:
    """An entry's fate after a request: its outcome and, when accepted, the body's hash."""

    key: EntryKey
    title: str
    outcome: Outcome
    run_id: int
    accepted_hash: str | None = None
    error: str | None = None
    written: bool | None = None  # True: malsync wrote it; False: it is gone; None: unchanged
    change: ChangeRecord | None = None


@dataclass(frozen=True)
class RunRecord:
    id: int
    started_at: float
    finished_at: float | None
    status: str
    files: list[str]
    counts: dict[str, int]
    backup: str | None = None


@dataclass(frozen=True)
class EntryRecord:
    media: MediaType
    mal_id: int
    title: str
    outcome: str
    error: str | None
    updated_at: float


class Checkpoint:
    def __init__(
        self, path: Path, connection: sqlite3.Connection, lock: IO[bytes] | None = None
    ) -> None:
        self.path = path
        self._db = connection
        self._lock = lock

    @classmethod
    def open(cls, path: Path, *, create: bool = True, exclusive: bool = False) -> Checkpoint:
        """Open (or create) the checkpoint; `exclusive` keeps a second writing run out."""
        if not create and not path.exists():
            raise StateError(f"{path}: no checkpoint yet (it is written by the first real sync)")
        inspect(path)
        lock = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                lock = lock_beside(path)
            connection = sqlite3.connect(path, isolation_level=None, timeout=10)
            connection.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL survives a killed process intact; only a power cut may lose the
            # last commits, which costs at most re-sending them.
            connection.execute("PRAGMA synchronous=NORMAL")
            create_schema(connection)
            migrate(path, connection)
            connection.execute(
                "CREATE INDEX IF NOT EXISTS changes_by_request ON changes (request_id)"
            )
        except sqlite3.OperationalError as error:
            # A full disk or a read-only folder: the file may be sound, so say what to fix.
            release(lock)
            raise storage_error(path, error) from None
        except sqlite3.DatabaseError as error:
            release(lock)
            raise StateError(f"{path}: not a malsync checkpoint ({error})") from None
        except OSError as error:
            release(lock)
            raise StateError(f"{path}: cannot be opened ({error.strerror})") from None
        except StateError:
            release(lock)
            raise
        return cls(path, connection, lock)

    def close(self) -> None:
        self._db.close()
        release(self._lock)
        self._lock = None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with guarded(self.path):
            if self._db.in_transaction:
                # A signal (SIGTERM, Ctrl-C) landed between an earlier BEGIN and its ROLLBACK:
                # that transaction committed nothing, so it is rolled back and this one begins.
                self._db.execute("ROLLBACK")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _rows(self, query: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        """Every row of a read, or one line naming the file if it is damaged or unreadable."""
        with guarded(self.path):
            return self._db.execute(query, parameters).fetchall()

    def _row(self, query: str, parameters: tuple[Any, ...] = ()) -> Any | None:
        rows = self._rows(query, parameters)
        return rows[0] if rows else None

    # Entries

    def accepted_hashes(self) -> dict[EntryKey, str]:
        rows = self._rows(
            "SELECT media, mal_id, accepted_hash FROM entries WHERE accepted_hash IS NOT NULL"
        )
        return {(MediaType(media), mal_id): digest for media, mal_id, digest in rows}

    def entries(self, outcomes: tuple[str, ...] | None = None) -> list[EntryRecord]:
        query = "SELECT media, mal_id, title, outcome, error, updated_at FROM entries"
        parameters: tuple[Any, ...] = ()
        if outcomes:
            query += f" WHERE outcome IN ({','.join('?' * len(outcomes))})"
            parameters = outcomes
        rows = self._rows(query + " ORDER BY media, mal_id", parameters)
        return [EntryRecord(MediaType(row[0]), *row[1:]) for row in rows]

    def outcome_counts(self) -> dict[str, int]:
        rows = self._rows("SELECT outcome, COUNT(*) FROM entries GROUP BY outcome")
        return dict(sorted(rows))

    # Requests: one transaction when sent, one with the entry's outcome when answered.

    def request_started(self, kind: str, at: float, intended: Settlement | None = None) -> int:
        """Note a request before it is sent, and the change it would make as a possible one:
        a kill before its answer is stored must not hide that change from restore."""
        with self._transaction() as db:
            cursor = db.execute("INSERT INTO requests (kind, started) VALUES (?, ?)", (kind, at))
            assert cursor.lastrowid is not None
            if intended is not None and intended.change is not None:
                _record_change(db, intended.run_id, intended.change, at, cursor.lastrowid, False)
        return cursor.lastrowid

    def request_finished(
        self, request_id: int, at: float, settled: Settlement | None = None
    ) -> None:
        """Store when the answer came and, if it settles an entry, the entry's fate, atomically."""
        with self._transaction() as db:
            db.execute("UPDATE requests SET finished = ? WHERE id = ?", (at, request_id))
            if settled is not None:
                self._settle(db, settled, at, request_id)

    def settle(self, settled: Settlement) -> None:
        with self._transaction() as db:
            self._settle(db, settled, time.time())

    def _settle(
        self, db: sqlite3.Connection, settled: Settlement, at: float, request_id: int | None = None
    ) -> None:
        media, mal_id = settled.key
        gone = settled.written is False
        db.execute(
            """
            INSERT INTO entries (media, mal_id, title, accepted_hash, accepted_at, written,
                                 outcome, error, updated_at, run_id)
            VALUES (:media, :mal_id, :title, :digest, :accepted_at, COALESCE(:written, 0),
                    :outcome, :error, :now, :run)
            ON CONFLICT (media, mal_id) DO UPDATE SET
                title = excluded.title,
                accepted_hash = CASE WHEN :gone THEN NULL
                                     ELSE COALESCE(excluded.accepted_hash, entries.accepted_hash)
                                END,
                accepted_at = CASE WHEN :gone THEN NULL
                                   ELSE COALESCE(excluded.accepted_at, entries.accepted_at) END,
                written = COALESCE(:written, entries.written),
                outcome = excluded.outcome,
                error = excluded.error,
                updated_at = excluded.updated_at,
                run_id = excluded.run_id
            """,
            {
                "media": media.value,
                "mal_id": mal_id,
                "title": settled.title,
                "digest": settled.accepted_hash,
                "accepted_at": at if settled.accepted_hash else None,
                "written": None if settled.written is None else int(settled.written),
                "gone": gone,
                "outcome": settled.outcome.value,
                "error": settled.error,
                "now": at,
                "run": settled.run_id,
            },
        )
        change = settled.change
        if change is not None:
            confirmed = db.execute(
                "UPDATE changes SET confirmed = 1, at = ? WHERE request_id = ?", (at, request_id)
            )
            if request_id is None or confirmed.rowcount == 0:
                _record_change(db, settled.run_id, change, at, request_id, True)

    def settle_many(self, settlements: list[Settlement]) -> None:
        """Outcomes that needed no request (unchanged, kept), in one transaction."""
        now = time.time()
        with self._transaction() as db:
            for settled in settlements:
                self._settle(db, settled, now)

    def written_titles(self) -> dict[EntryKey, str]:
        """Titles whose rating malsync itself wrote: the only ones it may ever delete."""
        rows = self._rows("SELECT media, mal_id, title FROM entries WHERE written = 1")
        return {(MediaType(media), mal_id): title for media, mal_id, title in rows}

    def titles(self) -> dict[EntryKey, str]:
        rows = self._rows("SELECT media, mal_id, title FROM entries")
        return {(MediaType(media), mal_id): title for media, mal_id, title in rows}

    def unmatched(self) -> dict[EntryKey, float]:
        """Titles aniSearch did not know by MAL id, with when it said so."""
        rows = self._rows(
            "SELECT media, mal_id, updated_at FROM entries WHERE outcome = 'not_found'"
        )
        return {(MediaType(media), mal_id): at for media, mal_id, at in rows}

    def changes(self, run_id: int) -> list[ChangeRecord]:
        rows = self._rows(
            "SELECT media, mal_id, action, anisearch_id, existed, payload, confirmed "
            "FROM changes WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        )
        # Changes made and changes possibly made (sent, answer not recorded), one per title.
        found: dict[EntryKey, tuple[ChangeRecord, bool]] = {}
        for media, mal_id, action, anisearch_id, existed, payload, confirmed in rows:
            record = ChangeRecord(
                (MediaType(media), mal_id),
                Action(action),
                anisearch_id,
                None if existed is None else bool(existed),
                json.loads(payload) if payload else None,
            )
            if record.key not in found or confirmed or not found[record.key][1]:
                found[record.key] = (record, bool(confirmed))
        return [record for record, _ in found.values()]

    def recent_requests(self, kind: str, seconds: float) -> list[float]:
        """When recent requests of a kind went out (answered ones count from their answer).

        One never answered (the run was killed) reached the server a little after it was
        sent: it counts from a moment later, so a restarted run does not go one request early.
        """
        since = time.time() - seconds
        rows = self._rows(
            "SELECT COALESCE(finished, started + ?) FROM requests WHERE kind = ? AND started > ?",
            (IN_FLIGHT_MARGIN_SECONDS, kind, since - 60),
        )
        return [at for (at,) in rows if at > since]

    def forget_old_requests(self) -> None:
        with self._transaction() as db:
            db.execute(
                "DELETE FROM requests WHERE started < ?", (time.time() - _REQUEST_MEMORY_SECONDS,)
            )

    # Runs

    def start_run(self, files: list[str]) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (started_at, status, files) VALUES (?, 'running', ?)",
                (time.time(), json.dumps(files)),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def set_backup(self, run_id: int, backup: Path) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET backup = ? WHERE id = ?", (str(backup), run_id))

    def latest_backup(self) -> tuple[int, Path] | None:
        row = self._row(
            "SELECT id, backup FROM runs WHERE backup IS NOT NULL ORDER BY id DESC LIMIT 1"
        )
        return None if row is None else (row[0], Path(row[1]))

    def backups(self) -> list[tuple[int, Path, bool]]:
        """Each run's backup, newest first, and whether the run recorded a change to undo."""
        rows = self._rows(
            "SELECT id, backup, EXISTS (SELECT 1 FROM changes WHERE changes.run_id = runs.id) "
            "FROM runs WHERE backup IS NOT NULL ORDER BY id DESC"
        )
        return [(run_id, Path(backup), bool(changed)) for run_id, backup, changed in rows]

    def forget_backup(self, run_id: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET backup = NULL WHERE id = ?", (run_id,))

    def finish_run(self, run_id: int, status: str, counts: Mapping[str, int]) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, counts = ? WHERE id = ?",
                (time.time(), status, json.dumps(dict(counts)), run_id),
            )

    def runs(self) -> list[RunRecord]:
        """Every run, oldest first, with its backup: what restore can undo."""
        rows = self._db.execute(
            "SELECT id, started_at, finished_at, status, files, counts, backup FROM runs "
            "ORDER BY id"
        )
        return [
            RunRecord(
                row[0],
                row[1],
                row[2],
                row[3],
                json.loads(row[4]),
                json.loads(row[5] or "{}"),
                row[6],
            )
            for row in rows
        ]

    def last_run(self) -> RunRecord | None:
        row = self._row(
            "SELECT id, started_at, finished_at, status, files, counts FROM runs "
            "ORDER BY id DESC LIMIT 1"
        )
        if row is None:
            return None
        return RunRecord(
            row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5] or "{}")
        )

    # Facts about the checkpoint itself (the aniSearch account it belongs to)

    def meta(self, key: str) -> str | None:
        row = self._row("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _record_change(
    db: sqlite3.Connection,
    run_id: int,
    change: ChangeRecord,
    at: float,
    request_id: int | None,
    confirmed: bool,
) -> None:
    db.execute(
        "INSERT INTO changes (run_id, media, mal_id, anisearch_id, action, existed, payload, at, "
        "request_id, confirmed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            run_id,
            change.key[0].value,
            change.key[1],
            change.anisearch_id,
            change.action.value,
            None if change.existed is None else int(change.existed),
            json.dumps(change.payload) if change.payload is not None else None,
            at,
            request_id,
            int(confirmed),
        ),
    )
