"""What the planner decides, as records: each entry's verdict and body, the baseline it is
weighed against, the run's policy. Pure data; the rules are `planner.py` and `deletions.py`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

from malsync.config.settings import ConflictPolicy
from malsync.ids.lookup import NO_IDS, IdLookup
from malsync.ids.title_ids import IdSource
from malsync.pipeline.anisearch_ratings import AniSearchRatings
from malsync.pipeline.merge import Conflict
from malsync.pipeline.records import (
    Action,
    Change,
    EntryKey,
    KeptTitle,
    ListStatus,
    MediaType,
    Outcome,
    Payload,
    counted,
    entry_label,
)


class Verdict(str, Enum):
    """What the planner decided for an entry, before anything is sent."""

    SEND = "send"
    DELETE = "delete"  # --delete-missing: malsync wrote it, MAL no longer lists it
    UNCHANGED = "unchanged"
    KEPT = "kept"
    UNMATCHED = "unmatched"
    INVALID = "invalid"
    SUPERSEDED = "superseded"
    GONE = "gone"  # a deletion aniSearch has already made: nothing left to send

    @property
    def needs_request(self) -> bool:
        return self in (Verdict.SEND, Verdict.DELETE)


# How each verdict reads in the report when no request changed it.
VERDICT_OUTCOMES = {
    Verdict.UNCHANGED: Outcome.UNCHANGED,
    Verdict.KEPT: Outcome.KEPT,
    Verdict.UNMATCHED: Outcome.UNMATCHED,
    Verdict.INVALID: Outcome.INVALID,
    Verdict.SUPERSEDED: Outcome.SUPERSEDED,
    Verdict.GONE: Outcome.DELETED,
}


_TITLE_SOURCES = frozenset({IdSource.HAND_MAPPING, IdSource.MAL_LINKS})
# A request's address: ("title", media, aniSearch id) or ("mal", media, MAL id).
RequestKey = tuple[str, MediaType, int]


@dataclass(frozen=True, slots=True)
class Decision:
    """One entry's fate as planned; `payload` is exactly the body that is (or would be) sent.

    A body is never changed in place once made (a stage that sends another makes a new one), so
    rows may share one: the title stage gives an entry sent by its MAL id the mapper's own.
    """

    media: MediaType
    mal_id: int | None
    title: str
    source: str
    verdict: Verdict
    payload: Payload | None
    warnings: tuple[str, ...]
    reason: str | None = None
    anisearch_id: int | None = None  # where aniSearch's id is known (mapped by hand, or read)
    existed: bool | None = None  # whether aniSearch had a rating before; None: not read
    changes: tuple[Change, ...] = ()
    mal_status: ListStatus | None = None  # for people: "Plan to Watch → bookmark"
    # MAL's whole body where a policy sends less of it (None: `payload` is it); on a `kept`
    # title, that it is in step with MAL but for what the merge left as aniSearch has it.
    mal_body: Payload | None = None
    conflicts: tuple[Conflict, ...] = ()  # fields changed on MAL and on aniSearch (merge)
    by_policy: tuple[tuple[str, str], ...] = ()  # dry runs: each policy's effect, if they differ
    # Why the entry goes to `anisearch_id` (pipeline.titles): a hand mapping or aniSearch's MAL
    # links name the title before anything is sent; None: not looked up (by MAL id).
    id_source: IdSource | None = None
    members: tuple[int, ...] = ()  # MAL ids of the entries that went into the title (a bundle)
    parts: tuple[int, ...] = ()  # the entry's aniSearch titles, where aniSearch splits it

    @property
    def key(self) -> EntryKey | None:
        return None if self.mal_id is None else (self.media, self.mal_id)

    @property
    def by_title(self) -> bool:
        """Whether the title's aniSearch id was known before sending: what is remembered of it
        (accepted body, deletion) is then the aniSearch title's, not the MAL entry's."""
        return self.id_source in _TITLE_SOURCES and self.anisearch_id is not None

    @property
    def title_key(self) -> EntryKey | None:
        """(media, aniSearch id) of the title, where `by_title`."""
        return (self.media, self.anisearch_id) if self.by_title and self.anisearch_id else None

    @property
    def request_key(self) -> RequestKey | None:
        """Where its request goes: the rows of one aniSearch title (a bundle's members) share
        it, and it is sent once."""
        if self.title_key is not None:
            return ("title", *self.title_key)
        return None if self.key is None else ("mal", *self.key)

    @property
    def member_ids(self) -> tuple[int, ...]:
        """The MAL ids that went into the title: the bundle's, else the entry's own."""
        if self.members:
            return self.members
        return () if self.mal_id is None else (self.mal_id,)

    @property
    def action(self) -> Action:
        return Action.DELETE if self.verdict in (Verdict.DELETE, Verdict.GONE) else Action.UPSERT

    @property
    def by_mal_id(self) -> bool:
        """Whether the request names the title by its MAL id (else by aniSearch id)."""
        return self.payload is not None and self.payload.get("use_myanimelist_id") is True

    @property
    def accepted_body(self) -> Payload | None:
        """What the checkpoint keeps once aniSearch accepts (or already holds) this title: MAL's
        whole body, the base the next merge tells MAL's changes from."""
        return self.mal_body if self.mal_body is not None else self.payload

    @property
    def label(self) -> str:
        """How messages name its request: the entry, and for a bundle its aniSearch title and
        how many more MAL entries went into it; for a part, which of the entry's titles it is."""
        label = entry_label(self.media, self.mal_id, self.title)
        if len(self.parts) > 1 and self.anisearch_id in self.parts:
            number = self.parts.index(self.anisearch_id) + 1
            return f"{label} (aniSearch {self.anisearch_id}, part {number} of {len(self.parts)})"
        if len(self.members) < 2:
            return label
        more = counted(len(self.members) - 1, "more MAL entry", "more MAL entries")
        return f"{label} (aniSearch {self.anisearch_id}, with {more})"

    def becomes(self, verdict: Verdict, reason: str | None = None) -> Decision:
        return replace(self, verdict=verdict, reason=reason)


@dataclass(frozen=True)
class Baseline:
    """What is known before sending: the checkpoint's memory and, if read, aniSearch's ratings."""

    accepted: Mapping[EntryKey, str] = field(default_factory=dict)
    bases: Mapping[EntryKey, Payload] = field(default_factory=dict)  # the last accepted bodies
    unmatched: Mapping[EntryKey, float] = field(default_factory=dict)
    written: Mapping[EntryKey, str] = field(default_factory=dict)
    writers: Mapping[EntryKey, str | None] = field(default_factory=dict)  # whose list wrote it
    anisearch: AniSearchRatings | None = None
    now: float = 0.0
    # The aniSearch titles malsync sends by their aniSearch id, by (media, aniSearch id); and the
    # run's ids, which say where a title malsync wrote before these were kept went.
    titles: Mapping[EntryKey, KeptTitle] = field(default_factory=dict)
    title_bases: Mapping[EntryKey, Payload] = field(default_factory=dict)  # their last bodies
    ids: IdLookup = NO_IDS


@dataclass(frozen=True)
class Policy:
    """The run's choices that bear on decisions."""

    on_conflict: ConflictPolicy = ConflictPolicy.MERGE
    force: bool = False
    retry_unmatched: bool = False
    delete_missing: bool = False
    media: frozenset[MediaType] = frozenset()  # what the sources cover; deletions stay inside
    # Per media type, the lists (MAL user names, casefolded) read whole: a title is deleted
    # only for the list that wrote it.
    lists: Mapping[MediaType, frozenset[str]] = field(default_factory=dict)


def payload_hash(payload: Payload) -> str:
    """A stable digest of a body, so a re-sync can tell what changed since aniSearch accepted it."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
