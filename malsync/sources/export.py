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
from malsync.pipeline.records import ImportedEntry, MediaType, entry_label
from malsync.sources import SourceList
from malsync.sources.export_xml import ExportFile, read_export

log = logging.getLogger(__name__)

# MAL's own names: animelist_1734298612_-_16433979.xml.gz (the number is when it was made).
_EXPORT_NAME = re.compile(r"^(animelist|mangalist)_(\d*)\S*\.xml(?:\.gz)?$")
_EXPORT_TYPE_CODES = {MediaType.ANIME: 1, MediaType.MANGA: 2}


@dataclass(frozen=True)
class ExportSource:
    path: Path

    def read(self) -> SourceList:
        export = read_export(self.path)
        media = export.media.value if export.media else "no"
        log.info("%s: %d %s entries", self.path, len(export.entries), media)
        return SourceList(
            str(self.path), covered_media(export), export.entries, list_name=export.user_name
        )


def covered_media(export: ExportFile) -> frozenset[MediaType]:
    """The media types whose titles the file lists whole, for --delete-missing: the one it
    declares, if it holds entries of it. An entry of the other kind (a stray <manga> in an
    anime export) is synced, but never makes the other media's titles look gone."""
    held = frozenset(entry.media for entry in export.entries)
    declared = export.declared
    if declared is None:
        if len(held) > 1:
            log.warning(
                "%s: declares no media type (no user_export_type 1 or 2) and holds anime and "
                "manga entries: --delete-missing deletes nothing for it",
                export.path,
            )
            return frozenset()
        return held
    strays = [entry for entry in export.entries if entry.media is not declared]
    if strays:
        log.warning("%s: %s", export.path, _stray_line(strays, declared))
    return held & {declared}


def _stray_line(strays: list[ImportedEntry], declared: MediaType) -> str:
    other = strays[0].media.value
    first = entry_label(strays[0].media, strays[0].mal_id, strays[0].title)
    export = f"{'an' if declared is MediaType.ANIME else 'a'} {declared.value} export "
    export += f"(user_export_type {_EXPORT_TYPE_CODES[declared]})"
    if len(strays) == 1:
        return (
            f"{first} is a {other} entry in {export}: it is synced, but --delete-missing "
            f"deletes no {other} title for it"
        )
    return (
        f"{len(strays)} {other} entries in {export}, the first {first}: they are synced, but "
        f"--delete-missing deletes no {other} title for them"
    )


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
