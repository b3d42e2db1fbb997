"""Which titles `--delete-missing` deletes, purely: only ones malsync wrote, only where none of
the MAL entries that went into them is still listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from malsync.ids.lookup import IdLookup
from malsync.ids.title_ids import IdSource
from malsync.pipeline.anisearch_ratings import AniSearchRatings
from malsync.pipeline.decisions import Baseline, Decision, Policy, Verdict
from malsync.pipeline.records import EntryKey, MediaType

ALREADY_GONE = "already gone from aniSearch"
# (MAL id, title) of an entry malsync wrote that the run's lists no longer hold.
_Gone = tuple[int, str]


def planned_deletions(
    plan: Sequence[Decision], baseline: Baseline, policy: Policy
) -> list[Decision]:
    """The deletions --delete-missing asks for, one row per MAL entry that is gone.

    An aniSearch title malsync sends by its aniSearch id is deleted only when no entry of this
    run goes into it and none of the MAL entries that went into it is still listed, nor one
    another list wrote (a bundle with a member left is that member's title now: the plan sends
    it that member's values). A title malsync wrote by MAL id goes as before the links: by the
    MAL id GET shows.
    """
    candidates = deletable(plan, baseline, policy)[0]
    gone_into, by_mal_id = _where_they_went(candidates, baseline)
    present = {item.key for item in plan if item.key is not None}
    targeted = {item.title_key for item in plan if item.title_key is not None}
    deletions: list[Decision] = []
    for title_key, gone in gone_into.items():
        media = title_key[0]
        kept = baseline.titles.get(title_key)
        members = sorted({*(kept.members if kept else ()), *(mal_id for mal_id, _ in gone)})
        # Listed, or written and not this run's to delete (another list's): the title stays.
        held = [
            (media, mal_id) in present
            or ((media, mal_id) in baseline.written and (media, mal_id) not in candidates)
            for mal_id in members
        ]
        if title_key not in targeted and not any(held):
            deletions += _title_deletion(title_key, gone, tuple(members), baseline)
    return deletions + plan_deletions(by_mal_id, baseline.anisearch)


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


def _where_they_went(
    candidates: Mapping[EntryKey, str], baseline: Baseline
) -> tuple[dict[EntryKey, list[_Gone]], dict[EntryKey, str]]:
    """The aniSearch titles malsync wrote that each gone entry went into (as the checkpoint kept
    them, else as the run's ids name them), and the entries that went by MAL id.

    An entry's mark says malsync wrote one of its titles, not which: a part (one entry, several
    titles) found on aniSearch as MAL has it is the user's own, though malsync wrote another
    part. So a kept title is deleted only if malsync wrote that title; an entry written before
    its titles were kept goes by the run's ids only where they name one title (by MAL id,
    aniSearch put it in one of the parts, and which one is not known)."""
    went: dict[EntryKey, list[EntryKey]] = {}
    for title_key, kept in baseline.titles.items():
        if kept.accepted_hash is not None:
            for mal_id in kept.members:
                went.setdefault((title_key[0], mal_id), []).append(title_key)
    gone_into: dict[EntryKey, list[_Gone]] = {}
    by_mal_id: dict[EntryKey, str] = {}
    for key, title in candidates.items():
        if key in went:
            into = [each for each in went[key] if baseline.titles[each].written]
        else:
            into = _linked_titles(baseline.ids, key)
            if not into:
                by_mal_id[key] = title
            elif len(into) > 1:
                into = []
        for title_key in into:
            gone_into.setdefault(title_key, []).append((key[1], title))
    return gone_into, by_mal_id


def _linked_titles(ids: IdLookup, key: EntryKey) -> list[EntryKey]:
    found = ids.title_ids(*key)
    if found.source not in (IdSource.HAND_MAPPING, IdSource.MAL_LINKS):
        return []
    return [(key[0], anisearch_id) for anisearch_id in found.anisearch_ids]


def _title_deletion(
    title_key: EntryKey, gone: list[_Gone], members: tuple[int, ...], baseline: Baseline
) -> list[Decision]:
    """A DELETE of one aniSearch title, as a row for each gone entry that went into it; gone
    already where aniSearch was read and does not hold it."""
    media, anisearch_id = title_key
    rows = []
    for mal_id, title in sorted(gone):
        source = baseline.ids.title_ids(media, mal_id).source
        rows.append(
            Decision(
                media,
                mal_id,
                title,
                "checkpoint",
                Verdict.DELETE,
                None,
                (),
                anisearch_id=anisearch_id,
                id_source=source if source is IdSource.HAND_MAPPING else IdSource.MAL_LINKS,
                members=members,
            )
        )
    ratings = baseline.anisearch
    if ratings is None:
        return rows
    if ratings.find(media, None, anisearch_id) is None:
        return [
            replace(row, verdict=Verdict.GONE, reason=ALREADY_GONE, existed=False) for row in rows
        ]
    return [replace(row, existed=True) for row in rows]


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
                    reason=ALREADY_GONE,
                    existed=False,
                )
            else:
                deletion = replace(deletion, anisearch_id=found.anisearch_id, existed=True)
        deletions.append(deletion)
    return deletions
