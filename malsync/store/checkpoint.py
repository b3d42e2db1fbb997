"""The checkpoint: one SQLite file that makes runs resumable and re-syncs cheap.

It holds, per entry, the last body aniSearch accepted and its hash (so an unchanged entry is not
sent again, and a merge knows what changed on either side since) and its last outcome; the times
of recent requests (so a restarted run still respects the rate window); and what each run
changed. Opening the file and its transactions are `connection.py`; the runs and their backups
`runs.py`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from malsync.pipeline.records import (
    Action,
    ChangeRecord,
    EntryKey,
    KeptTitle,
    MediaType,
    Outcome,
    Payload,
    Settlement,
)
from malsync.store.runs import CheckpointRuns
from malsync.store.schema import SCHEMA_VERSION  # noqa: F401 - part of this module's interface
from malsync.store.titles import (
    TITLE_ROWS,
    kept_titles,
    other_lists_members,
    settle_title,
    title_before,
)

# Request times older than this are of no use to any rate window.
_REQUEST_MEMORY_SECONDS = 24 * 3600
# How much later than its sending a request killed in flight is taken to have reached the server.
IN_FLIGHT_MARGIN_SECONDS = 1.0
_PROBLEMS = (Outcome.FAILED.value, Outcome.NOT_FOUND.value)
# An entry aniSearch splits in parts is one row, settled once per part. Within a run the row
# keeps its worst part's outcome and error: failed, then not_found, before all the rest (among
# which, as from one run to the next, the last settlement wins). A restore settles under the id
# of the run it undoes but after it: nothing holds it back.
_WORST_FIRST = (Outcome.FAILED, Outcome.NOT_FOUND)
_STORED_SEVERITY = (
    "CASE entries.outcome "
    + " ".join(
        f"WHEN '{o.value}' THEN {len(_WORST_FIRST) - i} " for i, o in enumerate(_WORST_FIRST)
    )
    + "ELSE 0 END"
)
_HELD = f"entries.run_id IS :run AND {_STORED_SEVERITY} > :severity"
# checkpoint meta: the titles aniSearch's MAL links named nothing for, as a person was told
UNLINKED_KEY = "unlinked_titles"


@dataclass(frozen=True)
class EntryRecord:
    media: MediaType
    mal_id: int
    title: str
    outcome: str
    error: str | None
    updated_at: float


class Checkpoint(CheckpointRuns):
    """Per entry the last accepted body, its hash and outcome; the requests; the runs' changes."""

    # Entries

    def accepted_hashes(self) -> dict[EntryKey, str]:
        rows = self._rows(
            "SELECT media, mal_id, accepted_hash FROM entries WHERE accepted_hash IS NOT NULL"
        )
        return {(MediaType(media), mal_id): digest for media, mal_id, digest in rows}

    def accepted_bodies(self, *, titles: bool = False) -> dict[EntryKey, Payload]:
        """Each title's base for a merge: the body last accepted (none where an older malsync
        or a deletion left only the hash, or nothing). By (media, MAL id) for entries sent by
        MAL id; with `titles`, by (media, aniSearch id) for titles sent by aniSearch id."""
        table, column = ("titles", "anisearch_id") if titles else ("entries", "mal_id")
        rows = self._rows(
            f"SELECT media, {column}, accepted_body FROM {table} "  # noqa: S608 - constants
            "WHERE accepted_body IS NOT NULL"
        )
        bodies = {}
        for media, mal_id, text in rows:
            body = _body(text)
            if body is not None:
                bodies[(MediaType(media), mal_id)] = body
        return bodies

    def entries(self, outcomes: tuple[str, ...] | None = None) -> list[EntryRecord]:
        query = "SELECT media, mal_id, title, outcome, error, updated_at FROM entries"
        parameters: tuple[Any, ...] = ()
        if outcomes:
            query += f" WHERE outcome IN ({','.join('?' * len(outcomes))})"
            parameters = outcomes
        rows = self._rows(query + " ORDER BY media, mal_id", parameters)
        return [EntryRecord(MediaType(row[0]), *row[1:]) for row in rows]

    def outcome_counts(self) -> dict[str, int]:
        """Each title's latest outcome, where a title malsync uploaded and a later run found
        unchanged counts as uploaded: that later run had nothing to do, the title is sent."""
        rows = self._rows(
            "SELECT CASE WHEN outcome = 'unchanged' AND written = 1 THEN 'uploaded' "
            "ELSE outcome END AS latest, COUNT(*) FROM entries GROUP BY latest"
        )
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
        title_id = settled.title_id
        # By aniSearch id, the accepted body is the title's; the entries keep their fates.
        digest = settled.accepted_hash if title_id is None else None
        body = settled.accepted_body if title_id is None else None
        for key, title in ((settled.key, settled.title), *settled.others):
            written = settled.written
            if title_id is not None and settled.outcome is Outcome.DELETED:
                written = None if _other_part_kept(db, key, title_id) else written
            _settle_entry(db, key, title, settled, digest, body, at, written)
        if title_id is not None:
            members = settled.members or (settled.key[1], *(key[1] for key, _ in settled.others))
            if settled.accepted_hash is not None:
                before = title_before(db, settled.key[0], title_id)
                members += other_lists_members(db, settled, before.members - set(members))
                if before.held:
                    _displaced(db, settled.key[0], title_id, before.members - set(members))
            settle_title(
                db,
                settled.key[0],
                title_id,
                members,
                settled.outcome,
                digest=settled.accepted_hash,
                body=_json_body(settled.accepted_body),
                gone=settled.written is False,
                at=at,
                run_id=settled.run_id,
                written=settled.written,
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

    def known_on_anisearch(self) -> dict[MediaType, int]:
        """Per media type, how many titles aniSearch held at the last run that looked: written
        by malsync, or found there as MAL has them (unchanged) or kept. An empty read of
        ratings where this knows of some is an outage, not an emptied list."""
        rows = self._rows(
            "SELECT media, COUNT(*) FROM entries "
            "WHERE written = 1 OR outcome IN ('unchanged', 'kept') GROUP BY media"
        )
        return {MediaType(media): count for media, count in rows}

    def writers(self) -> dict[EntryKey, str | None]:
        """Whose MAL list each title malsync wrote came from (None: not recorded, as before
        schema 5): --delete-missing deletes a title only for that list."""
        rows = self._rows("SELECT media, mal_id, list_name FROM entries WHERE written = 1")
        return {(MediaType(media), mal_id): name for media, mal_id, name in rows}

    def kept_titles(self) -> dict[EntryKey, KeptTitle]:
        """The aniSearch titles malsync sends by aniSearch id, by (media, aniSearch id)."""
        return kept_titles(self._rows(TITLE_ROWS))

    def titles(self) -> dict[EntryKey, str]:
        rows = self._rows("SELECT media, mal_id, title FROM entries")
        return {(MediaType(media), mal_id): title for media, mal_id, title in rows}

    def problem_titles(self) -> frozenset[EntryKey]:
        """Titles whose last outcome was failed or not_found: a person has heard of them."""
        rows = self._rows("SELECT media, mal_id FROM entries WHERE outcome IN (?, ?)", _PROBLEMS)
        return frozenset((MediaType(media), mal_id) for media, mal_id in rows)

    def unlinked_titles(self) -> frozenset[EntryKey]:
        """Titles aniSearch's MAL links named no title for at the last real run: told once."""
        raw = self.meta(UNLINKED_KEY)
        pairs = json.loads(raw) if raw else []
        return frozenset((MediaType(media), int(mal_id)) for media, mal_id in pairs)

    def remember_unlinked(self, keys: Iterable[EntryKey]) -> None:
        pairs = sorted((media.value, mal_id) for media, mal_id in keys)
        self.set_meta(UNLINKED_KEY, json.dumps(pairs))

    def unmatched(self) -> dict[EntryKey, float]:
        """Titles aniSearch did not know by MAL id, with when it said so."""
        rows = self._rows(
            "SELECT media, mal_id, updated_at FROM entries WHERE outcome = 'not_found'"
        )
        return {(MediaType(media), mal_id): at for media, mal_id, at in rows}

    def changes(self, run_id: int) -> list[ChangeRecord]:
        rows = self._rows(
            "SELECT media, mal_id, action, anisearch_id, existed, payload, confirmed, by_title "
            "FROM changes WHERE run_id = ? ORDER BY rowid",
            (run_id,),
        )
        # Changes made and changes possibly made (sent, answer not recorded), one per title.
        found: dict[tuple[str, MediaType, int], tuple[ChangeRecord, bool]] = {}
        for media, mal_id, action, anisearch_id, existed, payload, confirmed, by_title in rows:
            record = ChangeRecord(
                (MediaType(media), mal_id),
                Action(action),
                anisearch_id,
                None if existed is None else bool(existed),
                json.loads(payload) if payload else None,
                by_title=bool(by_title),
            )
            title = record.title
            if title not in found or confirmed or not found[title][1]:
                found[title] = (record, bool(confirmed))
        return [record for record, _ in found.values()]

    def recent_requests(self, kind: str, seconds: float) -> list[float]:
        """When recent requests of a kind went out (answered ones count from their answer).

        One never answered (the run was killed) reached the server a little after it was
        sent: it counts from a moment later, so a restarted run does not go one request early.
        A time later than now was recorded with a clock that was ahead: it counts as now, so
        it waits out one window at most instead of until the clock catches up.
        """
        now = time.time()
        since = now - seconds
        rows = self._rows(
            "SELECT MIN(COALESCE(finished, started + ?), ?) FROM requests "
            "WHERE kind = ? AND started > ?",
            (IN_FLIGHT_MARGIN_SECONDS, now, kind, since - 60),
        )
        return [at for (at,) in rows if at > since]

    def forget_old_requests(self) -> None:
        """Drop request times no window needs; bring those of a clock that was ahead to now."""
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM requests WHERE started < ?", (now - _REQUEST_MEMORY_SECONDS,))
            db.execute(
                "UPDATE requests SET started = MIN(started, :now), finished = MIN(finished, :now)"
                " WHERE started > :now OR finished > :now",
                {"now": now},
            )


def _json_body(body: Payload | None) -> str | None:
    if body is None:
        return None
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _body(text: str) -> Payload | None:
    """A stored body, or None where it cannot be one (then that title has no base)."""
    try:
        loaded = json.loads(text)
    except ValueError:
        return None
    if not isinstance(loaded, dict):
        return None
    return {
        str(name): value for name, value in loaded.items() if isinstance(value, str | int | bool)
    }


# The row of one entry a settlement names (see _WORST_FIRST for its outcome).
_SETTLE_ENTRY = f"""
    INSERT INTO entries (media, mal_id, title, accepted_hash, accepted_at, accepted_body,
                         written, outcome, error, updated_at, run_id, list_name)
    VALUES (:media, :mal_id, :title, :digest, :accepted_at, :body,
            COALESCE(:written, 0), :outcome, :error, :now, :run, :list)
    ON CONFLICT (media, mal_id) DO UPDATE SET
        title = excluded.title,
        accepted_hash = CASE WHEN :gone THEN NULL
                             ELSE COALESCE(excluded.accepted_hash, entries.accepted_hash)
                        END,
        accepted_at = CASE WHEN :gone THEN NULL
                           ELSE COALESCE(excluded.accepted_at, entries.accepted_at) END,
        accepted_body = CASE WHEN :deleted THEN NULL
                             ELSE COALESCE(excluded.accepted_body, entries.accepted_body)
                        END,
        written = COALESCE(:written, entries.written),
        outcome = CASE WHEN {_HELD} THEN entries.outcome ELSE excluded.outcome END,
        error = CASE WHEN {_HELD} THEN entries.error ELSE excluded.error END,
        updated_at = CASE WHEN {_HELD} THEN entries.updated_at ELSE excluded.updated_at END,
        run_id = excluded.run_id,
        list_name = COALESCE(:list, entries.list_name)
"""  # noqa: S608 - constants


def _severity(outcome: Outcome) -> int:
    """How much worse than the rest an outcome is (see _WORST_FIRST); a restore, unbeatable."""
    if outcome is Outcome.RESTORED:
        return len(_WORST_FIRST)
    if outcome in _WORST_FIRST:
        return len(_WORST_FIRST) - _WORST_FIRST.index(outcome)
    return 0


def _settle_entry(
    db: sqlite3.Connection,
    key: EntryKey,
    title: str,
    settled: Settlement,
    digest: str | None,
    body: Payload | None,
    at: float,
    written: bool | None,
) -> None:
    media, mal_id = key
    db.execute(
        _SETTLE_ENTRY,
        {
            "media": media.value,
            "mal_id": mal_id,
            "title": title,
            "digest": digest,
            "accepted_at": at if digest else None,
            "written": None if written is None else int(written),
            "gone": settled.written is False,
            "body": _json_body(body),
            "deleted": settled.outcome is Outcome.DELETED,
            "outcome": settled.outcome.value,
            "error": settled.error,
            "now": at,
            "run": settled.run_id,
            "severity": _severity(settled.outcome),
            "list": settled.list_name,
        },
    )


def _displaced(
    db: sqlite3.Connection, media: MediaType, title_id: int, left_out: Iterable[int]
) -> None:
    """A title now holding other members' values (a bundle whose member left the list, or a
    link aniSearch moved) no longer holds what malsync wrote for a member it leaves out: that
    entry is malsync's no more unless another title still holds it, so --delete-missing does
    not look for it by the run's links, which may name a title the user rated."""
    for mal_id in sorted(left_out):
        if not _other_part_kept(db, (media, mal_id), title_id, written_only=False):
            db.execute(
                "UPDATE entries SET written = 0 WHERE media = ? AND mal_id = ?",
                (media.value, mal_id),
            )


def _other_part_kept(
    db: sqlite3.Connection, key: EntryKey, deleted: int, *, written_only: bool = True
) -> bool:
    """Whether another aniSearch title the entry went into (a part) that malsync wrote is still
    there as far as the checkpoint knows. Deleting one part then leaves the entry one malsync
    wrote: its other parts stay --delete-missing's to delete (a refused DELETE is sent again
    next run). A part malsync only found as MAL has it does not keep the mark."""
    media, mal_id = key
    rows = db.execute(
        "SELECT members FROM titles WHERE media = ? AND anisearch_id != ? "
        "AND accepted_hash IS NOT NULL AND written >= ?",
        (media.value, deleted, int(written_only)),
    )
    for (members,) in rows:
        try:
            if mal_id in json.loads(members):
                return True
        except (ValueError, TypeError):
            continue
    return False


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
        "request_id, confirmed, by_title) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            int(change.by_title),
        ),
    )
