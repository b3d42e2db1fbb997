"""The checkpoint's SQLite file: opening it (lock, WAL, schema), transactions, guarded reads.

Every request is committed in its own transaction, so a `kill -9` at any moment leaves a
consistent file and costs at most the request in flight.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from malsync.errors import CheckpointError
from malsync.store.patience import connect
from malsync.store.schema import (
    can_write,
    connect_read_only,
    create_private,
    create_schema,
    guarded,
    inspect,
    lock_file,
    migrate,
    release,
    storage_error,
)

Opened = TypeVar("Opened", bound="CheckpointConnection")


class CheckpointConnection:
    """One SQLite connection to the checkpoint: opened under the lock with its schema, with
    transactions a signal cannot leave open and reads that name the file when it is damaged."""

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection,
        lock: IO[bytes] | None = None,
        *,
        writable: bool = True,
    ) -> None:
        self.path = path
        self._db = connection
        self._lock = lock
        self.writable = writable  # False: opened read-only, for a command that only reads

    @classmethod
    def open(
        cls: type[Opened],
        path: Path,
        *,
        create: bool = True,
        exclusive: bool = False,
        only_reads: bool = False,
    ) -> Opened:
        """Open (or create) the checkpoint; `exclusive` keeps a second writing run out.

        `only_reads`: the command writes nothing it needs, so a checkpoint it cannot write (a
        read-only file or folder) is opened read-only instead of refused.
        """
        if not create and not path.exists():
            raise CheckpointError(
                f"{path}: no checkpoint yet (it is written by the first real sync)"
            )
        inspect(path)
        writable = not (only_reads and path.exists() and not can_write(path))
        lock = None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if exclusive:
                lock = lock_file(path)
            elif create:
                os.close(create_private(path))
            connection = _connect(path) if writable else connect_read_only(path)
        except sqlite3.OperationalError as error:
            # A full disk or a read-only folder: the file may be sound, so say what to fix.
            release(lock)
            raise storage_error(path, error) from None
        except sqlite3.DatabaseError as error:
            release(lock)
            raise CheckpointError(f"{path}: not a malsync checkpoint ({error})") from None
        except OSError as error:
            release(lock)
            raise CheckpointError(f"{path}: cannot be opened ({error.strerror})") from None
        except CheckpointError:
            release(lock)
            raise
        return cls(path, connection, lock, writable=writable)

    def close(self) -> None:
        self._db.close()
        release(self._lock)
        self._lock = None

    def __enter__(self: Opened) -> Opened:
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


def _connect(path: Path) -> sqlite3.Connection:
    """The checkpoint in WAL mode, made or brought up to this schema."""
    connection = connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        # WAL with NORMAL survives a killed process intact; only a power cut may lose the last
        # commits, which costs at most re-sending them.
        connection.execute("PRAGMA synchronous=NORMAL")
        create_schema(connection)
        migrate(path, connection)
        connection.execute("CREATE INDEX IF NOT EXISTS changes_by_request ON changes (request_id)")
    except BaseException:
        connection.close()
        raise
    return connection
