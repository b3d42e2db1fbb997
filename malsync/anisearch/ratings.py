"""Reading what aniSearch holds: one GET of the ratings per media type.

An empty answer is checked against what is known before it: where the checkpoint knows of
ratings there, or the profile counts some, it is an outage, a cache or a lagging copy, and the
read fails (nothing is sent). An empty answer nothing can check is used, but is not taken as
proof that a title was absent before the run (restore deletes nothing on its word).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from malsync.anisearch.account import Profile
from malsync.anisearch.answers import ApiResponse, ResponseMeaning
from malsync.errors import ServerStop
from malsync.pipeline.anisearch_ratings import AniSearchRatings, RawRatings
from malsync.pipeline.records import MediaType, counted

if TYPE_CHECKING:  # opened by the command; a dry run without one never loads it
    from malsync.store.checkpoint import Checkpoint


class RatingsReader(Protocol):
    def get_ratings(self, media: MediaType, label: str) -> ApiResponse: ...


@dataclass(frozen=True)
class KnownRatings:
    """What is known of the ratings aniSearch holds before they are read."""

    checkpoint: Mapping[MediaType, int] = field(default_factory=dict)  # titles it knows there
    profile: Mapping[MediaType, int] | None = None  # the profile's count; None: not read

    @classmethod
    def of(cls, checkpoint: Checkpoint | None, profile: Profile | None) -> KnownRatings:
        return cls(
            checkpoint.known_on_anisearch() if checkpoint is not None else {},
            profile.rated if profile is not None else None,
        )


@dataclass(frozen=True)
class RatingsRead:
    """The ratings as read, and the media types whose read was the whole list: only there does
    a title missing from it prove that aniSearch did not hold it (an empty answer nothing could
    check proves nothing)."""

    ratings: AniSearchRatings
    raw: RawRatings
    whole: frozenset[MediaType]


def fetch_ratings(
    session: RatingsReader, media: Iterable[MediaType], known: KnownRatings | None = None
) -> RatingsRead:
    """One GET per media type; raises ServerStop when aniSearch cannot be read, or answers
    with an empty list where it is known to hold ratings."""
    known = known or KnownRatings()
    raw: RawRatings = {}
    whole: set[MediaType] = set()
    for kind in sorted(set(media), key=lambda each: each.value):
        label = f"reading your {kind.value} ratings on aniSearch"
        response = session.get_ratings(kind, label)
        body = response.body
        if response.meaning is not ResponseMeaning.OK:
            raise ServerStop(f"{label} failed ({response.describe()}); nothing was sent")
        if not isinstance(body, list):
            raise ServerStop(f"{label} failed (the answer is not a list); nothing was sent")
        raw[kind.value] = [item for item in body if isinstance(item, dict)]
        if body or _checked_empty(kind, label, known):
            whole.add(kind)
    return RatingsRead(AniSearchRatings.from_raw(raw), raw, frozenset(whole))


def _checked_empty(media: MediaType, label: str, known: KnownRatings) -> bool:
    """Whether an empty answer is known to be right; ServerStop where it is known wrong."""
    noun = f"{media.value} rating"
    written = known.checkpoint.get(media, 0)
    counted_there = (known.profile or {}).get(media, 0)
    if written or counted_there:
        evidence = (
            f"malsync wrote {counted(written, noun)} there"
            if written
            else f"your aniSearch profile counts {counted(counted_there, noun)}"
        )
        raise ServerStop(
            f"{label} failed: aniSearch answered an empty list, but {evidence} (an outage or a "
            "lagging copy, not your list); nothing was sent. Run again later; if you emptied it "
            "yourself, malsync sync --no-remote-diff --force sends your list again"
        )
    # The profile counting none either: a first migration to an empty account.
    return known.profile is not None and media in known.profile
