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

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs are not guarded against each other
    fcntl = None  # type: ignore[assignment]

from malsync import __version__
from malsync.errors import StateError
from malsync.records import Action, EntryKey, MediaType, Outcome

SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    media TEXT NOT NULL,
    mal_id INTEGER NOT NULL,
    title TEXT NOT NULL,
    accepted_hash TEXT,          -- the body aniSearch holds, as far as malsync knows
    accepted_at REAL,
    written INTEGER NOT NULL DEFAULT 0,  -- 1 once malsync itself wrote the rating
    outcome TEXT NOT NULL,
    error TEXT,
    updated_at REAL NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (media, mal_id)
);
CREATE TABLE IF NOT EXISTS changes (  -- what each run wrote, so that restore can undo it
    run_id INTEGER NOT NULL,
    media TEXT NOT NULL,
    mal_id INTEGER NOT NULL,
    anisearch_id INTEGER,
    action TEXT NOT NULL,
    existed INTEGER,             -- whether aniSearch had the rating before; NULL: not read
    payload TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_run ON changes (run_id);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS requests_by_kind ON requests (kind, started);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL,
    files TEXT NOT NULL,
    counts TEXT,
    backup TEXT
);
"""
# Request times older than this are of no use to any rate window.
_REQUEST_MEMORY_SECONDS = 24 * 3600


def _migrate(path: Path, connection: sqlite3.Connection) -> None:
    """Bring an older checkpoint up to this schema in place; refuse only a newer one."""
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is None:
        connection.execute(
            "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
        )
        return
    version = int(row[0]) if str(row[0]).isdecimal() else -1
    if version == SCHEMA_VERSION:
        return
    if not 1 <= version < SCHEMA_VERSION:
        raise StateError(
            f"{path}: checkpoint schema {row[0]} is not supported by malsync {__version__}"
        )
    connection.execute("BEGIN IMMEDIATE")
    try:
        columns = {info[1] for info in connection.execute("PRAGMA table_info(entries)")}
        if "anisearch_id" in columns and sqlite3.sqlite_version_info >= (3, 35):
            # Version 1 kept a column nothing read.
            connection.execute("ALTER TABLE entries DROP COLUMN anisearch_id")
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _lock_beside(path: Path) -> IO[bytes]:
    """An advisory lock next to the checkpoint: two runs at once would share one rate window."""
    handle = open(path.with_name(path.name + ".lock"), "a+b")  # noqa: SIM115 - held until close
    if fcntl is not None:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StateError(
                f"{path}: another malsync run is using this checkpoint; wait for it to finish"
            ) from None
    return handle


def _release(lock: IO[bytes] | None) -> None:
    if lock is not None:
        lock.close()  # closing the file releases the lock


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
        lock = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if exclusive:
                lock = _lock_beside(path)
            connection = sqlite3.connect(path, isolation_level=None, timeout=10)
            connection.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL survives a killed process intact; only a power cut may lose the
            # last commits, which costs at most re-sending them.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
            _migrate(path, connection)
        except sqlite3.DatabaseError as error:
            _release(lock)
            raise StateError(f"{path}: not a malsync checkpoint ({error})") from None
        except OSError as error:
            _release(lock)
            raise StateError(f"{path}: cannot be opened ({error.strerror})") from None
        return cls(path, connection, lock)

    def close(self) -> None:
        self._db.close()
        _release(self._lock)
        self._lock = None

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # Entries

    def accepted_hashes(self) -> dict[EntryKey, str]:
        rows = self._db.execute(
            "SELECT media, mal_id, accepted_hash FROM entries WHERE accepted_hash IS NOT NULL"
        )
        return {(MediaType(media), mal_id): digest for media, mal_id, digest in rows}

    def entries(self, outcomes: tuple[str, ...] | None = None) -> list[EntryRecord]:
        query = "SELECT media, mal_id, title, outcome, error, updated_at FROM entries"
        parameters: tuple[Any, ...] = ()
        if outcomes:
            query += f" WHERE outcome IN ({','.join('?' * len(outcomes))})"
            parameters = outcomes
        rows = self._db.execute(query + " ORDER BY media, mal_id", parameters)
        return [EntryRecord(MediaType(row[0]), *row[1:]) for row in rows]

    def outcome_counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT outcome, COUNT(*) FROM entries GROUP BY outcome")
        return dict(sorted(rows.fetchall()))

    # Requests: one transaction when sent, one with the entry's outcome when answered.

    def request_started(self, kind: str, at: float) -> int:
        with self._transaction() as db:
            cursor = db.execute("INSERT INTO requests (kind, started) VALUES (?, ?)", (kind, at))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def request_finished(
        self, request_id: int, at: float, settled: Settlement | None = None
    ) -> None:
        """Store when the answer came and, if it settles an entry, the entry's fate, atomically."""
        with self._transaction() as db:
            db.execute("UPDATE requests SET finished = ? WHERE id = ?", (at, request_id))
            if settled is not None:
                self._settle(db, settled, at)

    def settle(self, settled: Settlement) -> None:
        with self._transaction() as db:
            self._settle(db, settled, time.time())

    def _settle(self, db: sqlite3.Connection, settled: Settlement, at: float) -> None:
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
            db.execute(
                "INSERT INTO changes (run_id, media, mal_id, anisearch_id, action, existed, "
                "payload, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    settled.run_id,
                    change.key[0].value,
                    change.key[1],
                    change.anisearch_id,
                    change.action.value,
                    None if change.existed is None else int(change.existed),
                    json.dumps(change.payload) if change.payload is not None else None,
                    at,
                ),
            )

    def settle_many(self, settlements: list[Settlement]) -> None:
        """Outcomes that needed no request (unchanged, kept), in one transaction."""
        now = time.time()
        with self._transaction() as db:
            for settled in settlements:
                self._settle(db, settled, now)

    def written_titles(self) -> dict[EntryKey, str]:
        """Titles whose rating malsync itself wrote: the only ones it may ever delete."""
        rows = self._db.execute("SELECT media, mal_id, title FROM entries WHERE written = 1")
        return {(MediaType(media), mal_id): title for media, mal_id, title in rows}

    def titles(self) -> dict[EntryKey, str]:
        rows = self._db.execute("SELECT media, mal_id, title FROM entries")
        return {(MediaType(media), mal_id): title for media, mal_id, title in rows}

    def unmatched(self) -> dict[EntryKey, float]:
        """Titles aniSearch did not know by MAL id, with when it said so."""
        rows = self._db.execute(
            "SELECT media, mal_id, updated_at FROM entries WHERE outcome = 'not_found'"
        )
        return {(MediaType(media), mal_id): at for media, mal_id, at in rows}

    def changes(self, run_id: int) -> list[ChangeRecord]:
        rows = self._db.execute(
            "SELECT media, mal_id, action, anisearch_id, existed, payload FROM changes "
            "WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        )
        return [
            ChangeRecord(
                (MediaType(media), mal_id),
                Action(action),
                anisearch_id,
                None if existed is None else bool(existed),
                json.loads(payload) if payload else None,
            )
            for media, mal_id, action, anisearch_id, existed, payload in rows
        ]

    def recent_requests(self, kind: str, seconds: float) -> list[float]:
        """When recent requests of a kind went out (answered ones count from their answer)."""
        since = time.time() - seconds
        rows = self._db.execute(
            "SELECT COALESCE(finished, started) FROM requests WHERE kind = ? AND started > ?",
            (kind, since - 60),
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
        row = self._db.execute(
            "SELECT id, backup FROM runs WHERE backup IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (row[0], Path(row[1]))

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
        row = self._db.execute(
            "SELECT id, started_at, finished_at, status, files, counts FROM runs "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return RunRecord(
            row[0], row[1], row[2], row[3], json.loads(row[4]), json.loads(row[5] or "{}")
        )
