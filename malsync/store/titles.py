"""The checkpoint's aniSearch titles: what it keeps of each title malsync sends by aniSearch id.

A MAL entry sent by its MAL id is remembered as that entry (`entries`); one whose aniSearch
title is known before sending (a hand mapping, aniSearch's MAL links) is remembered as the title
too, since several entries can go into one title (a bundle) and one entry into several (parts):
the body aniSearch accepted for the title, and which MAL entries went into it, so that a
deletion can tell whether any of them is still listed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from malsync.pipeline.records import EntryKey, KeptTitle, MediaType, Outcome, Settlement

TITLES_TABLE = """
CREATE TABLE IF NOT EXISTS titles (  -- aniSearch titles malsync sends by their aniSearch id
    media TEXT NOT NULL,
    anisearch_id INTEGER NOT NULL,
    members TEXT NOT NULL,       -- JSON: the MAL ids whose entries went into its last body
    accepted_hash TEXT,          -- the body aniSearch holds, as far as malsync knows
    accepted_at REAL,
    accepted_body TEXT,          -- that body (MAL's values, JSON): the base of the next merge
    written INTEGER NOT NULL DEFAULT 0,  -- 1 once malsync itself wrote this title's rating
    outcome TEXT NOT NULL,
    updated_at REAL NOT NULL,
    run_id INTEGER,
    PRIMARY KEY (media, anisearch_id)
);
"""


def settle_title(
    db: sqlite3.Connection,
    media: MediaType,
    anisearch_id: int,
    members: tuple[int, ...],
    outcome: Outcome,
    *,
    digest: str | None,
    body: str | None,
    gone: bool,
    at: float,
    run_id: int,
    written: bool | None = None,
) -> None:
    """A title's fate: a body accepted (or found unchanged) replaces its members too; a title
    gone forgets its body and keeps who went into it. `written` is the settlement's: True for
    malsync's accepted PUT, False for a title gone (deleted, restored), None (unchanged, kept,
    failed) leaves the mark as it was, so a title found as MAL has it is never malsync's."""
    db.execute(
        """
        INSERT INTO titles (media, anisearch_id, members, accepted_hash, accepted_at,
                            accepted_body, written, outcome, updated_at, run_id)
        VALUES (:media, :id, :members, :digest, :accepted_at, :body, COALESCE(:written, 0),
                :outcome, :now, :run)
        ON CONFLICT (media, anisearch_id) DO UPDATE SET
            members = CASE WHEN excluded.accepted_hash IS NULL THEN titles.members
                           ELSE excluded.members END,
            accepted_hash = CASE WHEN :gone THEN NULL
                                 ELSE COALESCE(excluded.accepted_hash, titles.accepted_hash) END,
            accepted_at = CASE WHEN :gone THEN NULL
                               ELSE COALESCE(excluded.accepted_at, titles.accepted_at) END,
            accepted_body = CASE WHEN :deleted THEN NULL
                                 ELSE COALESCE(excluded.accepted_body, titles.accepted_body) END,
            written = COALESCE(:written, titles.written),
            outcome = excluded.outcome,
            updated_at = excluded.updated_at,
            run_id = excluded.run_id
        """,
        {
            "media": media.value,
            "id": anisearch_id,
            "members": json.dumps(sorted(set(members))),
            "digest": None if gone else digest,
            "accepted_at": at if digest and not gone else None,
            "body": None if outcome is Outcome.DELETED else body,
            "deleted": outcome is Outcome.DELETED,
            "outcome": outcome.value,
            "gone": gone,
            "now": at,
            "run": run_id,
            "written": None if written is None else int(written),
        },
    )


@dataclass(frozen=True)
class TitleBefore:
    """A title's members as the checkpoint kept them before a settlement replaces them, and
    whether it then held a body (unreadable members: none, so nothing is inferred from them)."""

    members: frozenset[int]
    held: bool


def title_before(db: sqlite3.Connection, media: MediaType, title_id: int) -> TitleBefore:
    row = db.execute(
        "SELECT members, accepted_hash IS NOT NULL FROM titles "
        "WHERE media = ? AND anisearch_id = ?",
        (media.value, title_id),
    ).fetchone()
    if row is None:
        return TitleBefore(frozenset(), held=False)
    try:
        return TitleBefore(frozenset(int(each) for each in json.loads(row[0])), bool(row[1]))
    except (ValueError, TypeError):
        return TitleBefore(frozenset(), held=False)


def other_lists_members(
    db: sqlite3.Connection, settled: Settlement, left_out: Iterable[int]
) -> tuple[int, ...]:
    """Of the title's members the settled body leaves out, those another list wrote (or a list
    not recorded): a run sends a bundle with its own list's members only, and the other list may
    still hold its member, so that member keeps the title (--delete-missing) and its mark."""
    media = settled.key[0]
    ours = None if settled.list_name is None else settled.list_name.casefold()
    kept = []
    for mal_id in sorted(left_out):
        entry = db.execute(
            "SELECT list_name FROM entries WHERE media = ? AND mal_id = ? AND written = 1",
            (media.value, mal_id),
        ).fetchone()
        if entry is not None and (ours is None or entry[0] is None or entry[0].casefold() != ours):
            kept.append(mal_id)
    return tuple(kept)


def kept_titles(rows: Iterable[Any]) -> dict[EntryKey, KeptTitle]:
    """The titles table's rows (media, aniSearch id, members, hash, outcome, updated at,
    written) as kept titles; a row whose members or outcome cannot be read is left out."""
    kept = {}
    for media, anisearch_id, members, digest, outcome, updated_at, written in rows:
        try:
            ids = tuple(int(each) for each in json.loads(members))
            known = (MediaType(media), int(anisearch_id))
            kept[known] = KeptTitle(
                ids, digest, Outcome(outcome), float(updated_at), written=written == 1
            )
        except (ValueError, TypeError):
            continue
    return kept


TITLE_ROWS = (
    "SELECT media, anisearch_id, members, accepted_hash, outcome, updated_at, written FROM titles"
)
