"""The live MAL list as a source: every requested media type read whole, or nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from malsync.pipeline.records import MediaType
from malsync.sources import SourceList
from malsync.sources.mal_api import ME, MalApiReader, source_label

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MalSource:
    """A live MAL list as a source: every requested media type read whole, or nothing."""

    open_reader: Callable[[], MalApiReader]  # a new reader for every read: the composition root's
    user: str | None  # None: [myanimelist] user
    media: tuple[MediaType, ...] = (MediaType.ANIME, MediaType.MANGA)

    def read(self) -> SourceList:
        with self.open_reader() as reader:
            lists = [reader.read(kind, self.user) for kind in self.media]
            owner = lists[0].user if lists else None
            if owner == ME:
                owner = reader.account_name()
        entries = [entry for read in lists for entry in read.entries]
        origin = lists[0].source if lists else source_label(self.user or "")
        # A list that came back empty covers nothing: an outage or a proxy answering 200 with
        # no data is far likelier than a fan emptying years of list, so nothing is deleted.
        covered = frozenset(read.media for read in lists if read.entries)
        for read in lists:
            if not read.entries:
                log.warning(
                    "%s: the %s list came back empty; --delete-missing deletes nothing of it",
                    read.source,
                    read.media.value,
                )
        return SourceList(origin, covered, entries, live=True, list_name=owner)
