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


class Source(Protocol):
    def read(self) -> SourceList: ...
