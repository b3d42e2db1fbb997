"""The MAL XML export as a source (the reading itself is in `malsync.importer`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from malsync.importer import read_export
from malsync.sources import SourceList

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportSource:
    path: Path

    def read(self) -> SourceList:
        export = read_export(self.path)
        media = export.media.value if export.media else "no"
        log.info("%s: %d %s entries", self.path, len(export.entries), media)
        covered = frozenset(entry.media for entry in export.entries)
        return SourceList(str(self.path), covered, export.entries)
