"""A run's aniSearch MAL links for one media type and where they came from; and the links a run
that does not ask aniSearch has: the kept copy, however old, else none.

Asking aniSearch (one download within its limit) is `mal_links.py`, the HTTP side, which a dry
run without sign-in does not load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from malsync.config.settings import AniSearchSettings
from malsync.pipeline.records import MediaType
from malsync.store.mal_links_cache import LinkCache, LinksUnusable, MalLinks, describe_age

log = logging.getLogger(__name__)


class LinkSource(str, Enum):
    """Where a run's links for a media type came from."""

    DOWNLOADED = "downloaded"
    CACHED = "cached"  # the kept copy, fresh: aniSearch was not asked
    OLDER_COPY = "older_copy"  # asking failed or was not allowed yet: the kept, older copy
    NONE = "none"  # no links at all: titles go by MAL id, as without the links
    OFF = "off"  # [anisearch] use_mal_links = false


@dataclass(frozen=True)
class LinkLookup:
    """A media type's links for one run, and the line that was logged about them ("" if none)."""

    media: MediaType
    source: LinkSource
    links: MalLinks | None = None
    note: str = ""

    @property
    def table(self) -> Mapping[int, tuple[int, ...]] | None:
        """MAL id -> aniSearch ids; None when the run has no links for this media type."""
        return None if self.links is None else self.links.table


def kept_links(
    api: AniSearchSettings, cache: LinkCache, media: MediaType, now: float | None = None
) -> LinkLookup:
    """This run's links without asking aniSearch (a dry run that does not talk to it): the kept
    copy, however old, else none; said in one line at info level, as nothing failed."""
    if not api.use_mal_links:
        return LinkLookup(media, LinkSource.OFF)
    now = time.time() if now is None else now
    try:
        kept = cache.read(media)
    except LinksUnusable as error:
        log.warning("%s.", error)
        kept = None
    if kept is None:
        note = (
            f"aniSearch's MAL links for {media.value}: none kept yet, and this run does not ask "
            f"for them; {media.value} titles are planned by their MAL id"
        )
        log.info("%s.", note)
        return LinkLookup(media, LinkSource.NONE, None, note)
    note = f"aniSearch's MAL links for {media.value}: {copy_note(kept, now)}"
    log.info("%s.", note)
    return LinkLookup(media, LinkSource.CACHED, kept, note)


def copy_note(kept: MalLinks, now: float) -> str:
    """How old the kept copy a run uses is, for the line said about it."""
    return f"using the copy fetched {describe_age(kept.age(now))} ago"
