"""Decide what each imported entry becomes: a body to send, or the reason it cannot be sent."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import Enum

from malsync.config import MappingOptions
from malsync.mapper import MEDIA_FIELDS, REREADING_FIELD, Payload, map_entry
from malsync.records import ImportedEntry, InvalidEntry, MediaType

EntryKey = tuple[MediaType, int]


class Outcome(str, Enum):
    PLANNED = "planned"
    INVALID = "invalid"
    UPLOADED = "uploaded"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    SUPERSEDED = "superseded"
    KEPT = "kept"  # aniSearch's differing rating was left alone (conflict policy)
    UNMATCHED = "unmatched"  # unknown to aniSearch last time; not retried this run
    DELETED = "deleted"  # --delete-missing removed it from aniSearch


class Action(str, Enum):
    UPSERT = "upsert"
    DELETE = "delete"


# What a field held on aniSearch and what MAL would put there; None where aniSearch had nothing.
Change = tuple[str, object, object]


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One entry's fate so far; `payload` is exactly the body that is (or would be) sent."""

    media: MediaType
    mal_id: int | None
    title: str
    source: str
    outcome: Outcome
    payload: Payload | None
    warnings: tuple[str, ...]
    error: str | None = None
    action: Action = Action.UPSERT
    anisearch_id: int | None = None  # where aniSearch's id is known (mapped by hand, or read)
    existed: bool | None = None  # whether aniSearch had a rating before; None: not read
    changes: tuple[Change, ...] = ()

    @property
    def key(self) -> EntryKey | None:
        return None if self.mal_id is None else (self.media, self.mal_id)

    @property
    def by_mal_id(self) -> bool:
        """Whether the request names the title by its MAL id (else by aniSearch id)."""
        return self.payload is not None and self.payload.get("use_myanimelist_id") is True

    def with_outcome(self, outcome: Outcome, error: str | None = None) -> PlanItem:
        return replace(self, outcome=outcome, error=error)


def payload_hash(payload: Payload) -> str:
    """A stable digest of a body, so a re-sync can tell what changed since aniSearch accepted it."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def plan_entries(entries: Iterable[ImportedEntry], options: MappingOptions) -> list[PlanItem]:
    """Map every entry; a title listed twice is sent once, from its last appearance."""
    items: list[PlanItem] = []
    last_index: dict[EntryKey, int] = {}
    for entry in entries:
        if isinstance(entry, InvalidEntry):
            items.append(
                PlanItem(
                    entry.media,
                    entry.mal_id,
                    entry.title,
                    entry.source,
                    Outcome.INVALID,
                    None,
                    entry.warnings,
                    entry.reason,
                )
            )
            continue
        mapped = map_entry(entry, options)
        key = (entry.media, entry.mal_id)
        earlier = last_index.get(key)
        if earlier is not None:
            items[earlier] = items[earlier].with_outcome(
                Outcome.SUPERSEDED, f"listed again later (in {entry.source}); that entry is used"
            )
        last_index[key] = len(items)
        items.append(
            PlanItem(
                entry.media,
                entry.mal_id,
                entry.title,
                entry.source,
                Outcome.PLANNED,
                mapped.payload,
                mapped.warnings,
                anisearch_id=mapped.anisearch_id,
            )
        )
    return items


def mark_unchanged(items: list[PlanItem], accepted: Mapping[EntryKey, str]) -> list[PlanItem]:
    """Entries whose body aniSearch already accepted, unchanged since, need not be sent again."""
    return [
        item.with_outcome(Outcome.UNCHANGED) if _already_accepted(item, accepted) else item
        for item in items
    ]


def _already_accepted(item: PlanItem, accepted: Mapping[EntryKey, str]) -> bool:
    key = item.key
    return (
        item.outcome is Outcome.PLANNED
        and item.payload is not None
        and key is not None
        and accepted.get(key) == payload_hash(item.payload)
    )


def mark_unmatched(
    items: list[PlanItem], unmatched: Mapping[EntryKey, float], now: float, retry_after_days: float
) -> list[PlanItem]:
    """Titles aniSearch did not know last time are not asked for again on every run."""
    return [_unless_unmatched(item, unmatched, now, retry_after_days) for item in items]


def _unless_unmatched(
    item: PlanItem, unmatched: Mapping[EntryKey, float], now: float, retry_after_days: float
) -> PlanItem:
    when = unmatched.get(item.key) if item.key is not None else None
    if item.outcome is not Outcome.PLANNED or when is None:
        return item
    if now - when >= retry_after_days * 86400:
        return item
    day = dt.datetime.fromtimestamp(when).date().isoformat()
    return item.with_outcome(
        Outcome.UNMATCHED,
        f"aniSearch did not know this MAL id on {day}; not asked again "
        "(--retry-unmatched asks, or map it in [mappings])",
    )


# Reading what aniSearch holds


@dataclass(frozen=True)
class RemoteRating:
    """One rating as aniSearch holds it, with field names as PUT takes them."""

    anisearch_id: int
    mal_id: int | None
    fields: dict[str, object]


# GET answers with names PUT does not take (the guide's manga example: is_reread).
_READ_NAMES = {"is_reread": REREADING_FIELD, "is_rereading": REREADING_FIELD}
_IDENTITY_FIELDS = ("id-anisearch", "id-myanimelist")
# Request-only fields: not stored, so never compared.
_CONTROL_FIELDS = ("use_myanimelist_id", "touch")


def remote_rating(raw: Mapping[str, object]) -> RemoteRating | None:
    """Normalise one element of `GET /my/{media}/ratings`; None if it has no aniSearch id."""
    anisearch_id = raw.get("id-anisearch")
    mal_id = raw.get("id-myanimelist")
    if not isinstance(anisearch_id, int):
        return None
    fields = {
        _READ_NAMES.get(name, name): value
        for name, value in raw.items()
        if name not in _IDENTITY_FIELDS and value is not None
    }
    return RemoteRating(anisearch_id, mal_id if isinstance(mal_id, int) else None, fields)


@dataclass(frozen=True)
class RemoteState:
    """All ratings read for the media types of a run, found by MAL id or by aniSearch id."""

    media: frozenset[MediaType]
    by_mal_id: Mapping[EntryKey, RemoteRating]
    by_anisearch_id: Mapping[EntryKey, RemoteRating]

    @classmethod
    def build(cls, ratings: Mapping[MediaType, list[RemoteRating]]) -> RemoteState:
        by_mal = {}
        by_anisearch = {}
        for media, found in ratings.items():
            for rating in found:
                by_anisearch[(media, rating.anisearch_id)] = rating
                if rating.mal_id is not None:
                    by_mal[(media, rating.mal_id)] = rating
        return cls(frozenset(ratings), by_mal, by_anisearch)

    def find(self, item: PlanItem) -> RemoteRating | None:
        if item.anisearch_id is not None:
            return self.by_anisearch_id.get((item.media, item.anisearch_id))
        return self.by_mal_id.get(item.key) if item.key is not None else None


def _same(old: object, new: object) -> bool:
    if isinstance(old, str) and isinstance(new, str):
        return old.replace("\r\n", "\n").strip() == new.replace("\r\n", "\n").strip()
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    return old == new


def compare(payload: Payload, remote: RemoteRating) -> tuple[Change, ...]:
    """The fields a PUT of `payload` would change; fields it leaves out change nothing."""
    return tuple(
        (name, remote.fields.get(name), value)
        for name, value in payload.items()
        if name not in _CONTROL_FIELDS and not _same(remote.fields.get(name), value)
    )


def apply_remote(
    items: list[PlanItem], remote: RemoteState, policy: str, force: bool = False
) -> list[PlanItem]:
    """Decide each planned upsert against what aniSearch holds, under the conflict policy.

    With `force`, a body that aniSearch already holds is sent all the same.
    """
    return [_against_remote(item, remote, policy, force) for item in items]


def _against_remote(item: PlanItem, remote: RemoteState, policy: str, force: bool) -> PlanItem:
    if item.outcome is not Outcome.PLANNED or item.action is not Action.UPSERT:
        return item
    payload = item.payload
    if payload is None or item.media not in remote.media:
        return item
    found = remote.find(item)
    if found is None:
        return replace(item, existed=False)
    item = replace(item, existed=True, anisearch_id=found.anisearch_id)
    changes = compare(payload, found)
    if not changes:
        return item if force else replace(item, outcome=Outcome.UNCHANGED, changes=())
    if policy == "keep-anisearch":
        return replace(item, outcome=Outcome.KEPT, changes=changes)
    if policy == "no-regress":
        guarded = no_regress(payload, found)
        guarded_changes = compare(guarded, found)
        if not guarded_changes:
            return replace(item, outcome=Outcome.KEPT, changes=changes)
        return replace(item, payload=guarded, changes=guarded_changes)
    return replace(item, changes=changes)


_PROGRESS_FIELDS = {
    name for media in MEDIA_FIELDS.values() for name in (media.progress, media.volumes) if name
}


def no_regress(payload: Payload, remote: RemoteRating) -> Payload:
    """MAL's body, minus every change that would move aniSearch backwards.

    Progress never goes down, completed never turns back into ongoing, a start date never moves
    later and an end date never earlier. A field left out of a PUT keeps aniSearch's value.
    """
    guarded = dict(payload)
    held = remote.fields
    for name in _PROGRESS_FIELDS & guarded.keys():
        old, new = held.get(name), guarded[name]
        if isinstance(old, int) and isinstance(new, int) and new < old:
            del guarded[name]
    if held.get("status") == "completed" and guarded.get("status") == "ongoing":
        guarded["status"] = "completed"
    for name, later_is_worse in (("start_date", True), ("end_date", False)):
        held_date, new_date = held.get(name), guarded.get(name)
        if isinstance(held_date, str) and isinstance(new_date, str) and held_date:
            moved_later = new_date > held_date
            if new_date != held_date and moved_later == later_is_worse:
                del guarded[name]
    return guarded


def deletion_candidates(
    items: list[PlanItem], written: Mapping[EntryKey, str], media: frozenset[MediaType]
) -> dict[EntryKey, str]:
    """Ratings malsync wrote before whose titles are gone from this run's exports.

    Only media types the run has an export for are looked at: syncing just the anime list must
    not delete the manga. Ratings malsync never wrote are never candidates.
    """
    present = {item.key for item in items if item.key is not None}
    return {
        key: title
        for key, title in sorted(written.items(), key=lambda pair: (pair[0][0].value, pair[0][1]))
        if key not in present and key[0] in media
    }


def plan_deletions(
    candidates: Mapping[EntryKey, str], remote: RemoteState | None
) -> list[PlanItem]:
    """A DELETE for each candidate aniSearch still holds (by aniSearch id, as read).

    Without `remote` (a dry run that cannot read aniSearch) every candidate is listed as planned.
    """
    deletions = []
    for (media, mal_id), title in candidates.items():
        deletion = PlanItem(
            media, mal_id, title, "checkpoint", Outcome.PLANNED, None, (), action=Action.DELETE
        )
        if remote is not None:
            found = remote.by_mal_id.get((media, mal_id))
            if found is None:
                deletion = replace(
                    deletion,
                    outcome=Outcome.DELETED,
                    error="already gone from aniSearch",
                    existed=False,
                )
            else:
                deletion = replace(deletion, anisearch_id=found.anisearch_id, existed=True)
        deletions.append(deletion)
    return deletions
