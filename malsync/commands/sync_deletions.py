"""What --delete-missing adds to a sync around the pure rules (`pipeline/deletions.py`): why a
list leaves titles, a live list read a second time before deleting, and the question asked.

Deletions are per aniSearch title: a title several MAL entries went into (a bundle) is one
deletion, however many of its rows the report shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from malsync.errors import ConfigError
from malsync.pipeline.planner import Baseline, Decision, Policy, Verdict, deletable
from malsync.pipeline.records import EntryKey, ImportedEntry, MediaType, counted, entry_label

log = logging.getLogger(__name__)

ConfirmDeletions = Callable[[Sequence[Decision]], bool]


class LiveSource(Protocol):
    def read(self) -> _Read: ...


class _Read(Protocol):
    @property
    def entries(self) -> Sequence[ImportedEntry]: ...


def say_left(plan: Sequence[Decision], baseline: Baseline, policy: Policy) -> None:
    """One line for the titles --delete-missing leaves because another list wrote them."""
    left = deletable(plan, baseline, policy)[1] if policy.delete_missing else {}
    if not left:
        return
    parts = []
    for name, count in left.items():
        them = "them" if len(left) == 1 else str(count)
        if name is None:
            parts.append(f"malsync did not record which list wrote {them}")
        elif not name:
            parts.append(f"an export that names no <user_name> wrote {them}")
        else:
            parts.append(f"{name}'s list wrote {them}")
    log.warning(
        "--delete-missing left %s as they are: %s; a list deletes only the titles it wrote",
        counted(sum(left.values()), "title"),
        ", ".join(parts),
    )


def deletions_still_gone(live: Sequence[LiveSource], decisions: list[Decision]) -> list[Decision]:
    """Before deleting what a live list no longer holds, a second read must still miss it (a
    list edited while it was read can shift an entry past a page boundary, so that one read
    misses a title still on it). Which list wrote a title the planner checked already. A title
    is kept when any MAL entry that went into it is listed after all; a second read with an
    entry whose MAL id cannot be read deletes nothing of its media type."""
    deletions = [d for d in decisions if d.verdict is Verdict.DELETE]
    if not live or not deletions:
        return decisions
    again = [entry for source in live for entry in source.read().entries]
    listed = {(entry.media, entry.mal_id) for entry in again if entry.mal_id is not None}
    unsure = {entry.media for entry in again if entry.mal_id is None}
    for media in sorted(unsure & {d.media for d in deletions}):
        log.warning(
            "The second read of your MAL list, made before deleting, has %s %s entry without a "
            "usable MAL id: no %s title is deleted this run.",
            "an" if media is MediaType.ANIME else "a",
            media.value,
            media.value,
        )
    kept = {d.request_key for d in deletions if _listed(d, listed) and d.media not in unsure}
    if kept:
        log.warning(
            "Your MAL list changed while it was read: %s on it after all and not deleted.",
            counted(len(kept), "title is", "titles are"),
        )
    return [
        d
        for d in decisions
        if d.verdict is not Verdict.DELETE or (d.request_key not in kept and d.media not in unsure)
    ]


def _listed(deletion: Decision, listed: set[EntryKey]) -> bool:
    return any((deletion.media, mal_id) in listed for mal_id in deletion.member_ids)


def confirm_deletions(decisions: Sequence[Decision], confirm: ConfirmDeletions | None) -> None:
    deletions = [d for d in decisions if d.verdict is Verdict.DELETE]
    if deletions and not (confirm and confirm(deletions)):
        titles = len({d.request_key for d in deletions})
        raise ConfigError(
            f"{counted(titles, 'deletion')} not confirmed; nothing was sent "
            "(--yes confirms them, for runs without a terminal)"
        )


def deletion_lines(deletions: Sequence[Decision]) -> list[str]:
    """One line per title to delete: its entry, and for a bundle the other MAL entries that
    went into it (one rating on aniSearch)."""
    rows: dict[object, list[Decision]] = {}
    for deletion in deletions:
        rows.setdefault(deletion.request_key, []).append(deletion)
    lines = []
    for same in rows.values():
        first = same[0]
        line = f"delete {entry_label(first.media, first.mal_id, first.title)}"
        if len(same) > 1:
            others = ", ".join(entry_label(d.media, d.mal_id, d.title) for d in same[1:])
            line += f" (aniSearch {first.media.value} {first.anisearch_id}, with {others})"
        lines.append(line)
    return lines
