"""Decide each entry's fate, purely: what to send, what to leave, what to delete.

`build_plan` maps every imported entry to the body it would send; `decide` weighs that plan
against the baseline (the checkpoint's memory and, where read, what aniSearch holds) under the
conflict policy. Neither reads a file nor talks to a server, so both are tested directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from malsync.config.settings import ConflictPolicy, MappingOptions
from malsync.pipeline.anisearch_ratings import AniSearchRating, AniSearchRatings
from malsync.pipeline.id_lookup import NO_IDS, IdLookup
from malsync.pipeline.mapper import MEDIA_FIELDS, map_entry
from malsync.pipeline.merge import CONTROL_FIELDS, Conflict, merge, same_value
from malsync.pipeline.records import (
    Action,
    Change,
    EntryKey,
    ImportedEntry,
    InvalidEntry,
    ListStatus,
    MediaType,
    Outcome,
    Payload,
)

# A title aniSearch did not know is asked for again after this long even without the flag.
UNMATCHED_RETRY_DAYS = 30.0


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


@dataclass(frozen=True, slots=True)
class Decision:
    """One entry's fate as planned; `payload` is exactly the body that is (or would be) sent."""

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

    @property
    def key(self) -> EntryKey | None:
        return None if self.mal_id is None else (self.media, self.mal_id)

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


def build_plan(
    entries: Iterable[ImportedEntry], options: MappingOptions, ids: IdLookup = NO_IDS
) -> list[Decision]:
    """Map every entry, by aniSearch's id where `ids` knows it; a title listed twice is sent
    once, from its last appearance."""
    plan: list[Decision] = []
    last_index: dict[EntryKey, int] = {}
    for entry in entries:
        if isinstance(entry, InvalidEntry):
            plan.append(_decision(entry, Verdict.INVALID, None, entry.warnings, entry.reason))
            continue
        anisearch_id = ids.anisearch_id(entry.media, entry.mal_id)
        mapped = map_entry(entry, options, anisearch_id)
        key = (entry.media, entry.mal_id)
        earlier = last_index.get(key)
        if earlier is not None:
            plan[earlier] = plan[earlier].becomes(
                Verdict.SUPERSEDED, f"listed again later (in {entry.source}); that entry is used"
            )
        last_index[key] = len(plan)
        plan.append(
            _decision(entry, Verdict.SEND, mapped.payload, mapped.warnings, None, anisearch_id)
        )
    return plan


def _decision(
    entry: ImportedEntry,
    verdict: Verdict,
    payload: Payload | None,
    warnings: tuple[str, ...],
    reason: str | None = None,
    anisearch_id: int | None = None,
) -> Decision:
    status = None if isinstance(entry, InvalidEntry) else entry.status
    return Decision(
        entry.media,
        entry.mal_id,
        entry.title,
        entry.source,
        verdict,
        payload,
        warnings,
        reason,
        anisearch_id,
        mal_status=status,
    )


def decide(plan: Sequence[Decision], baseline: Baseline, policy: Policy) -> list[Decision]:
    """Every planned body weighed against the baseline, then the deletions, if asked for.

    Where aniSearch was read, what it holds decides, not the checkpoint: a rating changed (or
    restored) behind malsync's back is sent again.
    """
    decisions = [_decide_upsert(item, baseline, policy) for item in plan]
    if policy.delete_missing:
        decisions += plan_deletions(deletable(plan, baseline, policy)[0], baseline.anisearch)
    return decisions


def deletable(
    plan: Sequence[Decision], baseline: Baseline, policy: Policy
) -> tuple[dict[EntryKey, str], dict[str | None, int]]:
    """The titles --delete-missing may delete, and how many it leaves because another list
    wrote them, by that list (None: which list is not recorded). A list is one MAL user's,
    in any case: bob's list never deletes what alice's wrote, whatever ran last."""
    media = policy.media - unreadable_media(plan)
    ours: dict[EntryKey, str] = {}
    left: dict[str | None, int] = {}
    names: dict[str, str] = {}  # one spelling of each list for the message
    for key, title in deletion_candidates(plan, baseline.written, media).items():
        writer = baseline.writers.get(key)
        if writer is not None and writer.casefold() in policy.lists.get(key[0], frozenset()):
            ours[key] = title
            continue
        if writer is not None:
            writer = names.setdefault(writer.casefold(), writer)
        left[writer] = left.get(writer, 0) + 1
    return ours, left


def unreadable_media(plan: Iterable[Decision]) -> frozenset[MediaType]:
    """Media types with an entry whose MAL id could not be read. Such an entry stands for a
    title that is on the list, but which one is unknown: that list was not read whole, and
    none of its titles may be taken for gone."""
    return frozenset(item.media for item in plan if item.mal_id is None)


def pending(decisions: Iterable[Decision]) -> bool:
    return any(decision.verdict.needs_request for decision in decisions)


def _decide_upsert(item: Decision, baseline: Baseline, policy: Policy) -> Decision:
    if item.verdict is not Verdict.SEND or item.payload is None or item.key is None:
        return item
    ratings = baseline.anisearch
    compared = ratings is not None and item.media in ratings.media
    # Hashed only where the checkpoint has a hash to compare with (a first run has none).
    digest = baseline.accepted.get(item.key)
    accepted = digest is not None and digest == payload_hash(item.payload)
    if accepted and not compared and not policy.force:
        return item.becomes(Verdict.UNCHANGED)
    if not policy.retry_unmatched:
        unmatched = _still_unmatched(item.key, baseline)
        if unmatched is not None:
            return item.becomes(Verdict.UNMATCHED, unmatched)
    if ratings is not None and compared:
        base = baseline.bases.get(item.key)
        if policy.on_conflict is ConflictPolicy.MERGE and base is not None:
            return _merged(item, item.payload, base, ratings, policy)
        return _against_anisearch(item, item.payload, ratings, policy)  # merge without a base too
    return item


def _still_unmatched(key: EntryKey, baseline: Baseline) -> str | None:
    """Titles aniSearch did not know lately are not asked for again on every run."""
    when = baseline.unmatched.get(key)
    if when is None or baseline.now - when >= UNMATCHED_RETRY_DAYS * 86400:
        return None
    day = dt.datetime.fromtimestamp(when).date().isoformat()
    return (
        f"aniSearch did not know this MAL id on {day}; not asked again "
        "(--retry-unmatched asks, or map it in [mappings])"
    )


def _against_anisearch(
    item: Decision, payload: Payload, ratings: AniSearchRatings, policy: Policy
) -> Decision:
    found = ratings.find(item.media, item.mal_id, item.anisearch_id)
    if found is None:
        return replace(item, existed=False)
    item = replace(item, existed=True, anisearch_id=found.anisearch_id)
    changes = compare(payload, found)
    if not changes:
        return item if policy.force else replace(item, verdict=Verdict.UNCHANGED, changes=())
    if policy.on_conflict is ConflictPolicy.KEEP_ANISEARCH:
        return replace(item, verdict=Verdict.KEPT, changes=changes)
    if policy.on_conflict is ConflictPolicy.NO_REGRESS:
        guarded = no_regress(payload, found)
        guarded_changes = compare(guarded, found)
        if not guarded_changes:
            return replace(item, verdict=Verdict.KEPT, changes=changes)
        return replace(item, payload=guarded, changes=guarded_changes, mal_body=payload)
    return replace(item, changes=changes)


DELETED_KEPT = (
    "deleted on aniSearch since the last sync and unchanged on MAL: not made again "
    "(--on-conflict mal-wins makes it again)"
)


def _merged(
    item: Decision, payload: Payload, base: Payload, ratings: AniSearchRatings, policy: Policy
) -> Decision:
    """The three-way merge (`merge.py`): what changed on MAL since `base` is sent, what
    changed only on aniSearch stays."""
    found = ratings.find(item.media, item.mal_id, item.anisearch_id)
    merged = merge(base, payload, None if found is None else found.fields)
    if merged.body is None:
        return replace(item, verdict=Verdict.KEPT, reason=DELETED_KEPT, existed=False)
    if found is None:
        return replace(item, existed=False)
    item = replace(item, existed=True, anisearch_id=found.anisearch_id)
    changes = compare(merged.body, found)
    if changes or policy.force:
        return replace(
            item,
            payload=merged.body,
            mal_body=payload,
            changes=changes,
            conflicts=merged.conflicts,
        )
    if merged.kept:
        reason = "changed on aniSearch, not on MAL, since the last sync: " + ", ".join(merged.kept)
        changes = compare(payload, found)
        return replace(item, verdict=Verdict.KEPT, reason=reason, changes=changes, mal_body=payload)
    return replace(item, verdict=Verdict.UNCHANGED, changes=())


def compare(payload: Payload, rating: AniSearchRating) -> tuple[Change, ...]:
    """The fields a PUT of `payload` would change; fields it leaves out change nothing."""
    return tuple(
        (name, rating.fields.get(name), value)
        for name, value in payload.items()
        if name not in CONTROL_FIELDS and not same_value(rating.fields.get(name), value)
    )


_PROGRESS_FIELDS = {
    name for media in MEDIA_FIELDS.values() for name in (media.progress, media.volumes) if name
}


def no_regress(payload: Payload, rating: AniSearchRating) -> Payload:
    """MAL's body, minus every change that would move aniSearch backwards.

    Progress never goes down, completed never turns back into ongoing, a start date never moves
    later and an end date never earlier. A field left out of a PUT keeps aniSearch's value.
    """
    guarded = dict(payload)
    held = rating.fields
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
    plan: Sequence[Decision], written: Mapping[EntryKey, str], media: frozenset[MediaType]
) -> dict[EntryKey, str]:
    """Ratings malsync wrote before whose titles are gone from this run's sources.

    Only media types the sources cover are looked at: syncing just the anime list must not
    delete the manga. Ratings malsync never wrote are never candidates.
    """
    present = {item.key for item in plan if item.key is not None}
    return {
        key: title
        for key, title in sorted(written.items(), key=lambda pair: (pair[0][0].value, pair[0][1]))
        if key not in present and key[0] in media
    }


def plan_deletions(
    candidates: Mapping[EntryKey, str], ratings: AniSearchRatings | None
) -> list[Decision]:
    """A DELETE for each candidate aniSearch still holds (by aniSearch id, as read).

    Without `ratings` (a dry run that cannot read aniSearch) every candidate is listed as planned.
    """
    deletions = []
    for (media, mal_id), title in candidates.items():
        deletion = Decision(media, mal_id, title, "checkpoint", Verdict.DELETE, None, ())
        if ratings is not None:
            found = ratings.find(media, mal_id, None)
            if found is None:
                deletion = replace(
                    deletion,
                    verdict=Verdict.GONE,
                    reason="already gone from aniSearch",
                    existed=False,
                )
            else:
                deletion = replace(deletion, anisearch_id=found.anisearch_id, existed=True)
        deletions.append(deletion)
    return deletions
