"""The checkpoint's bookkeeping of runs: each run's files, counts and backup, and the facts
about the checkpoint itself (the account it belongs to, the list it was written from)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from malsync.store.connection import CheckpointConnection


@dataclass(frozen=True)
class RunRecord:
    id: int
    started_at: float
    finished_at: float | None
    status: str
    files: list[str]
    counts: dict[str, int]
    backup: str | None = None


class CheckpointRuns(CheckpointConnection):
    """The part of the checkpoint that keeps runs and backups: what restore can undo and status
    shows."""

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
