"""MAL XML exports as a source: given files, or the newest of each kind in a folder.

(The reading itself is in `malsync.sources.export_xml`.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from malsync.errors import ExportError
from malsync.sources import SourceList
from malsync.sources.export_xml import read_export

log = logging.getLogger(__name__)

# MAL's own names: animelist_1734298612_-_16433979.xml.gz (the number is when it was made).
_EXPORT_NAME = re.compile(r"^(animelist|mangalist)_(\d*)\S*\.xml(?:\.gz)?$")


@dataclass(frozen=True)
class ExportSource:
    path: Path

    def read(self) -> SourceList:
        export = read_export(self.path)
        media = export.media.value if export.media else "no"
        log.info("%s: %d %s entries", self.path, len(export.entries), media)
        covered = frozenset(entry.media for entry in export.entries)
        return SourceList(str(self.path), covered, export.entries)


def export_sources(paths: Sequence[Path]) -> list[ExportSource]:
    """Files as given; a folder stands for its newest anime and manga export (cron's case)."""
    sources: list[ExportSource] = []
    for path in paths:
        if path.is_dir():
            sources.extend(ExportSource(chosen) for chosen in newest_exports(path))
        else:
            sources.append(ExportSource(path))
    return sources


def newest_exports(folder: Path) -> list[Path]:
    """The newest animelist_* and mangalist_* export in `folder`, by MAL's time stamp in the
    name, else by modification time."""
    newest: dict[str, tuple[tuple[int, float], Path]] = {}
    for path in folder.iterdir():
        match = _EXPORT_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        kind, stamp = match.group(1), match.group(2)
        age = (int(stamp) if stamp else 0, path.stat().st_mtime)
        if kind not in newest or age > newest[kind][0]:
            newest[kind] = (age, path)
    if not newest:
        raise ExportError(
            str(folder),
            "holds no MAL export (animelist_*.xml[.gz] or mangalist_*.xml[.gz], as MAL names them)",
        )
    chosen = [newest[kind][1] for kind in sorted(newest)]
    for path in chosen:
        log.info("%s: using the newest export, %s", folder, path.name)
    return chosen
