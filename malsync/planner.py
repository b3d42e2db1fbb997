"""Decide what each imported entry becomes: a body to send, or the reason it cannot be sent."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import Enum

from malsync.config import MappingOptions
from malsync.mapper import Payload, map_entry
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

    @property
    def key(self) -> EntryKey | None:
        return None if self.mal_id is None else (self.media, self.mal_id)

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
