"""Which aniSearch title or titles each MAL entry is, and why, decided before anything is sent.

In this order: a hand mapping in the config (`[mappings.anime] "5114" = 5048`); else aniSearch's
own MAL links; else, where the run has no links for the media type, the MAL id itself (sent with
`use_myanimelist_id`, as before the links). While links exist, a MAL id they name no title for is
unlinked: unmatched, with nothing sent, and a hand mapping added for it is used on the next run.

The links are not one-to-one: several MAL ids can name one title (a bundle, merged by
`pipeline.bundles`), one MAL id several titles (parts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from malsync.pipeline.records import EntryKey, MediaType

# [mappings.anime] / [mappings.manga], as `Settings.hand_set_ids` holds them: MAL id -> aniSearch
# id, per media type.
HandMappings = Mapping[MediaType, Mapping[int, int]]
# aniSearch's links per media type: MAL id -> aniSearch ids. A media type that is absent (or
# None) has no links this run, which is not the same as links that name no title for a MAL id.
LinkTables = Mapping[MediaType, Mapping[int, tuple[int, ...]] | None]


_NO_MAPPINGS: Mapping[int, int] = {}


class IdSource(str, Enum):
    """Why an entry goes to the title(s) it goes to; the values are what reports may store."""

    HAND_MAPPING = "hand_mapping"  # the config's [mappings.*]
    MAL_LINKS = "mal_links"  # aniSearch's MAL links
    MAL_ID = "mal_id"  # no links this run: by MAL id, aniSearch decides
    UNLINKED = "unlinked"  # the links name no title for it: unmatched, nothing sent


@dataclass(frozen=True, slots=True)
class TitleIds:
    """One MAL entry's aniSearch ids (ascending; empty when by MAL id or unlinked) and why."""

    media: MediaType
    mal_id: int
    anisearch_ids: tuple[int, ...]
    source: IdSource

    @property
    def key(self) -> EntryKey:
        return (self.media, self.mal_id)

    @property
    def by_mal_id(self) -> bool:
        return self.source is IdSource.MAL_ID

    @property
    def is_split(self) -> bool:
        """Whether aniSearch splits this MAL entry into several titles (parts)."""
        return len(self.anisearch_ids) > 1

    @property
    def unmatched_reason(self) -> str | None:
        return unlinked_reason(self.mal_id) if self.source is IdSource.UNLINKED else None


def unlinked_reason(mal_id: int) -> str:
    return f"aniSearch links no title to MAL id {mal_id}"


def title_ids(media: MediaType, mal_id: int, hand: HandMappings, links: LinkTables) -> TitleIds:
    """One entry's aniSearch ids: the hand mapping, else the links, else the MAL id itself."""
    mapped = hand.get(media, _NO_MAPPINGS).get(mal_id)
    if mapped is not None:
        return TitleIds(media, mal_id, (mapped,), IdSource.HAND_MAPPING)
    table = links.get(media)
    if table is None:
        return TitleIds(media, mal_id, (), IdSource.MAL_ID)
    linked = table.get(mal_id)
    if not linked:
        return TitleIds(media, mal_id, (), IdSource.UNLINKED)
    if len(linked) > 1:
        linked = tuple(sorted(set(linked)))
    return TitleIds(media, mal_id, tuple(linked), IdSource.MAL_LINKS)


def goes_by_mal_id(media: MediaType, mal_id: int, hand: HandMappings, links: LinkTables) -> bool:
    """Whether `title_ids` gives the entry its MAL id (no hand mapping, and no links this run
    for its media type), without making the TitleIds: the title stage asks it of every entry."""
    return hand.get(media, _NO_MAPPINGS).get(mal_id) is None and links.get(media) is None


def resolve_title_ids(
    keys: Iterable[EntryKey], hand: HandMappings, links: LinkTables
) -> dict[EntryKey, TitleIds]:
    """Every entry's aniSearch ids and why, keyed by (media, MAL id)."""
    return {key: title_ids(key[0], key[1], hand, links) for key in keys}
