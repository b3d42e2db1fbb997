"""Where list entries come from: MAL export files or the MAL API.

Every source yields the same typed records (`records.ListEntry` / `InvalidEntry`), so mapping,
planning and sending never know which one was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from malsync.pipeline.records import ImportedEntry, MediaType


@dataclass(frozen=True)
class SourceList:
    """One list as a source read it, whole: a bad source fails before anything is sent."""

    origin: str  # a file name, or myanimelist:NAME; for messages and the report
    media: frozenset[MediaType]  # what it covers: --delete-missing stays inside this
    entries: Sequence[ImportedEntry]
    live: bool = False  # read from a service now (it can change while read), not from a file
    # Whose list it is, the MAL user name (an export's <user_name>, @me's account): a title
    # this list wrote is deleted by --delete-missing only for this list. "": an export that
    # names no user (those are one list); None: not known, so it deletes nothing.
    list_name: str | None = None


def same_list(first: str | None, second: str | None) -> bool:
    """MAL user names are one name in any case; an unknown list is no list."""
    return first is not None and second is not None and first.casefold() == second.casefold()


class Source(Protocol):
    def read(self) -> SourceList: ...
