"""Reading what aniSearch holds: one GET of the ratings per media type."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from malsync.anisearch.client import ApiResponse, ResponseMeaning
from malsync.errors import ServerStop
from malsync.pipeline.anisearch_ratings import AniSearchRatings, RawRatings
from malsync.pipeline.records import MediaType


class RatingsReader(Protocol):
    def get_ratings(self, media: MediaType, label: str) -> ApiResponse: ...


def fetch_ratings(
    session: RatingsReader, media: Iterable[MediaType]
) -> tuple[AniSearchRatings, RawRatings]:
    """One GET per media type; raises ServerStop when aniSearch cannot be read."""
    raw: RawRatings = {}
    for kind in sorted(set(media), key=lambda each: each.value):
        label = f"reading your {kind.value} ratings on aniSearch"
        response = session.get_ratings(kind, label)
        body = response.body
        if response.meaning is not ResponseMeaning.OK:
            raise ServerStop(f"{label} failed ({response.describe()}); nothing was sent")
        if not isinstance(body, list):
            raise ServerStop(f"{label} failed (the answer is not a list); nothing was sent")
        raw[kind.value] = [item for item in body if isinstance(item, dict)]
    return AniSearchRatings.from_raw(raw), raw
