"""The run's ids: which aniSearch title each MAL entry is, from what is known before sending.

The composition root builds one per run from the config's hand mappings (`[mappings.anime]`,
`[mappings.manga]`) and aniSearch's MAL links for the run's media types (`anisearch/mal_links`);
the title stage (`pipeline/titles.py`) asks it for every entry. The order of the sources is
`pipeline/title_ids.py`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from malsync.ids.title_ids import HandMappings, LinkTables, TitleIds, goes_by_mal_id, title_ids
from malsync.pipeline.records import MediaType


@dataclass(frozen=True)
class IdLookup:
    """Hand mappings (MAL id -> aniSearch id) and links (MAL id -> aniSearch ids) per media
    type; a media type without links this run is absent from `links` (or None there)."""

    hand: HandMappings = field(default_factory=dict)
    links: LinkTables = field(default_factory=dict)

    def title_ids(self, media: MediaType, mal_id: int) -> TitleIds:
        return title_ids(media, mal_id, self.hand, self.links)

    def goes_by_mal_id(self, media: MediaType, mal_id: int) -> bool:
        return goes_by_mal_id(media, mal_id, self.hand, self.links)


NO_IDS = IdLookup()  # every title goes by its MAL id
