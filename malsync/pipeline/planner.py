"""Decide each entry's fate, purely: what to send, what to leave, what to delete.

`build_plan` maps every imported entry to the body it would send; `decide` weighs that plan
against the baseline (the checkpoint's memory and, where read, what aniSearch holds) under the
conflict policy. Neither reads a file nor talks to a server, so both are tested directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import replace

from malsync.config.settings import ConflictPolicy, MappingOptions
from malsync.ids.bundles import BY_MAL_ID_FIELD
from malsync.ids.title_ids import IdSource
from malsync.pipeline.anisearch_ratings import AniSearchRating, AniSearchRatings
from malsync.pipeline.decisions import (
    VERDICT_OUTCOMES,
    Baseline,
    Decision,
    Policy,
    Verdict,
    payload_hash,
)
from malsync.pipeline.deletions import (
    deletable,
    deletion_candidates,
    plan_deletions,
    planned_deletions,
    unreadable_media,
)
from malsync.pipeline.mapper import MEDIA_FIELDS, map_entry
from malsync.pipeline.merge import CONTROL_FIELDS, merge, same_value
from malsync.pipeline.records import (
    Change,
    EntryKey,
    ImportedEntry,
    InvalidEntry,
    Outcome,
    Payload,
)

# The records of decisions live in `decisions.py`, the deletion rules in `deletions.py`; both
# are named here too, where every stage has always found them.
__all__ = [
    "VERDICT_OUTCOMES",
    "Baseline",
    "Decision",
    "Policy",
    "Verdict",
    "build_plan",
    "compare",
    "decide",
    "deletable",
    "deletion_candidates",
    "no_regress",
    "payload_hash",
    "pending",
    "plan_deletions",
    "unreadable_media",
]

# A title aniSearch did not know is asked for again after this long even without the flag.
UNMATCHED_RETRY_DAYS = 30.0


def build_plan(entries: Iterable[ImportedEntry], options: MappingOptions) -> list[Decision]:
    """Map every entry (by its MAL id: the title stage, `pipeline.titles`, names aniSearch's
    titles); a title listed twice is sent once, from its last appearance."""
    plan: list[Decision] = []
    last_index: dict[EntryKey, int] = {}
    for entry in entries:
        if isinstance(entry, InvalidEntry):
            plan.append(_decision(entry, Verdict.INVALID, None, entry.warnings, entry.reason))
            continue
        mapped = map_entry(entry, options)
        key = (entry.media, entry.mal_id)
        earlier = last_index.get(key)
        if earlier is not None:
            plan[earlier] = plan[earlier].becomes(
                Verdict.SUPERSEDED, f"listed again later (in {entry.source}); that entry is used"
            )
        last_index[key] = len(plan)
        plan.append(_decision(entry, Verdict.SEND, mapped.payload, mapped.warnings))
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
    # All positional: a keyword costs the frozen dataclass's __init__ half as much again.
    existed, changes = None, ()
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
        existed,
        changes,
        status,
    )


def decide(plan: Sequence[Decision], baseline: Baseline, policy: Policy) -> list[Decision]:
    """Every planned body weighed against the baseline, then the deletions, if asked for.

    Where aniSearch was read, what it holds decides, not the checkpoint: a rating changed (or
    restored) behind malsync's back is sent again.
    """
    decisions = [_decide_upsert(item, baseline, policy) for item in plan]
    if policy.delete_missing:
        decisions += planned_deletions(plan, baseline, policy)
    return decisions


def pending(decisions: Iterable[Decision]) -> bool:
    return any(decision.verdict.needs_request for decision in decisions)


def _decide_upsert(item: Decision, baseline: Baseline, policy: Policy) -> Decision:
    if item.verdict is not Verdict.SEND or item.payload is None or item.key is None:
        return item
    ratings = baseline.anisearch
    compared = ratings is not None and item.media in ratings.media
    if _accepted(item, item.payload, baseline) and not compared and not policy.force:
        return item.becomes(Verdict.UNCHANGED)
    if not policy.retry_unmatched:
        unmatched = _still_unmatched(item, baseline)
        if unmatched is not None:
            return item.becomes(Verdict.UNMATCHED, unmatched)
    if ratings is not None and compared:
        base = _base(item, baseline)
        if policy.on_conflict is ConflictPolicy.MERGE and base is not None:
            return _merged(item, item.payload, base, ratings, policy)
        return _against_anisearch(item, item.payload, ratings, policy)  # merge without a base too
    return item


def _base(item: Decision, baseline: Baseline) -> Payload | None:
    """The body the last sync left for this title: a merge's base. A title sent by aniSearch id
    has its own; one the checkpoint knows only as a MAL entry sent by MAL id (from before the
    links) has that entry's, when it is that entry alone in one title."""
    assert item.key is not None
    title_key = item.title_key
    if title_key is None:
        return baseline.bases.get(item.key)
    if title_key in baseline.titles:
        return baseline.title_bases.get(title_key)
    if item.member_ids != (item.mal_id,) or item.parts:
        return None
    return baseline.bases.get(item.key)


def _accepted(item: Decision, payload: Payload, baseline: Baseline) -> bool:
    """Whether aniSearch accepted exactly this body for this title last time.

    A title sent by aniSearch id is remembered as that title. One the checkpoint knows only as
    a MAL entry sent by MAL id (a checkpoint from before the links) counts as accepted when it
    is that entry alone, in one title, with the same values: aniSearch holds what it was sent.
    """
    # Hashed only where the checkpoint has a hash to compare with (a first run has none).
    assert item.key is not None
    title_key = item.title_key
    kept = baseline.titles.get(title_key) if title_key is not None else None
    if kept is not None:
        return kept.accepted_hash is not None and kept.accepted_hash == payload_hash(payload)
    before = baseline.accepted.get(item.key)
    if before is None:
        return False
    if title_key is None:
        return before == payload_hash(payload)
    if item.member_ids != (item.mal_id,) or item.parts:
        return False
    as_sent_before = payload_hash({**payload, BY_MAL_ID_FIELD: True})
    return before in (payload_hash(payload), as_sent_before)


def _still_unmatched(item: Decision, baseline: Baseline) -> str | None:
    """Titles aniSearch did not know lately are not asked for again on every run: by MAL id,
    the entry; by aniSearch id, that title (a changed mapping or link is asked for at once)."""
    assert item.key is not None
    title_key = item.title_key
    kept = baseline.titles.get(title_key) if title_key is not None else None
    if title_key is None:
        when = baseline.unmatched.get(item.key)
    else:
        when = kept.updated_at if kept and kept.outcome is Outcome.NOT_FOUND else None
    if when is None or baseline.now - when >= UNMATCHED_RETRY_DAYS * 86400:
        return None
    day = dt.datetime.fromtimestamp(when).date().isoformat()
    if title_key is not None:
        by_hand = item.id_source is IdSource.HAND_MAPPING
        change = "change its line in [mappings]" if by_hand else "map it in [mappings]"
        return (
            f"aniSearch had no {item.media.value} with id {title_key[1]} on {day}; not asked "
            f"again (--retry-unmatched asks, or {change})"
        )
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
