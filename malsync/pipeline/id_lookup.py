"""Which aniSearch title a MAL entry is, where aniSearch cannot tell from the MAL id itself.

A title aniSearch knows by its MAL id is sent with `use_myanimelist_id`; for the others an
`IdLookup` gives aniSearch's own id. The composition root builds the lookup a run uses: today
the ids set by hand in `[mappings.anime]` / `[mappings.manga]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from malsync.pipeline.records import MediaType


class IdLookup(Protocol):
    def anisearch_id(self, media: MediaType, mal_id: int) -> int | None:
        """aniSearch's id for this MAL title; None: it goes by its MAL id."""
        ...


@dataclass(frozen=True)
class HandSetIds:
    """The ids the user set in `[mappings.anime]` / `[mappings.manga]`: MAL id -> aniSearch id."""

    ids: Mapping[MediaType, Mapping[int, int]] = field(default_factory=dict)

    def anisearch_id(self, media: MediaType, mal_id: int) -> int | None:
        return self.ids.get(media, {}).get(mal_id)


NO_IDS = HandSetIds()  # every title goes by its MAL id
