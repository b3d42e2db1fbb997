"""What aniSearch holds: its ratings as read, normalised to the names PUT takes.

Only the model; reading it is `anisearch/ratings.py`, so that the planner, the restore plan and
the backups use it without loading an HTTP library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from malsync.pipeline.mapper import REREADING_FIELD
from malsync.pipeline.records import EntryKey, MediaType

# The ratings exactly as GET gave them, per media type: what a backup keeps.
RawRatings = dict[str, list[dict[str, Any]]]

# GET answers with names PUT does not take (the guide's manga example: is_reread).
_READ_NAMES = {"is_reread": REREADING_FIELD, "is_rereading": REREADING_FIELD}
_IDENTITY_FIELDS = ("id-anisearch", "id-myanimelist")


@dataclass(frozen=True)
class AniSearchRating:
    """One rating as aniSearch holds it, with field names as PUT takes them."""

    anisearch_id: int
    mal_id: int | None
    fields: dict[str, object]


def anisearch_rating(raw: Mapping[str, object]) -> AniSearchRating | None:
    """Normalise one element of `GET /my/{media}/ratings`; None if it has no aniSearch id."""
    anisearch_id = raw.get("id-anisearch")
    mal_id = raw.get("id-myanimelist")
    if not isinstance(anisearch_id, int) or isinstance(anisearch_id, bool):
        return None
    fields = {
        _READ_NAMES.get(name, name): value
        for name, value in raw.items()
        if name not in _IDENTITY_FIELDS and value is not None
    }
    known_mal_id = mal_id if isinstance(mal_id, int) and not isinstance(mal_id, bool) else None
    return AniSearchRating(anisearch_id, known_mal_id, fields)


@dataclass(frozen=True)
class AniSearchRatings:
    """All ratings read for the media types of a run, found by MAL id or by aniSearch id."""

    media: frozenset[MediaType]
    by_mal_id: Mapping[EntryKey, AniSearchRating]
    by_anisearch_id: Mapping[EntryKey, AniSearchRating]

    @classmethod
    def build(cls, ratings: Mapping[MediaType, list[AniSearchRating]]) -> AniSearchRatings:
        by_mal = {}
        by_anisearch = {}
        for media, found in ratings.items():
            for rating in found:
                by_anisearch[(media, rating.anisearch_id)] = rating
                if rating.mal_id is not None:
                    by_mal[(media, rating.mal_id)] = rating
        return cls(frozenset(ratings), by_mal, by_anisearch)

    @classmethod
    def from_raw(cls, raw: RawRatings) -> AniSearchRatings:
        """From ratings as GET gave them (or as a backup kept them)."""
        return cls.build(
            {
                MediaType(media): [r for r in map(anisearch_rating, items) if r is not None]
                for media, items in raw.items()
            }
        )

    def find(
        self, media: MediaType, mal_id: int | None, anisearch_id: int | None
    ) -> AniSearchRating | None:
        """By aniSearch id where it is known (a title mapped by hand), else by MAL id."""
        if anisearch_id is not None:
            return self.by_anisearch_id.get((media, anisearch_id))
        return self.by_mal_id.get((media, mal_id)) if mal_id is not None else None
