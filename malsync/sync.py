"""The sync command's work: read every export, plan, and (unless a dry run) upload."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from malsync.config import Settings
from malsync.errors import ConfigError
from malsync.importer import read_export
from malsync.planner import Outcome, PlanItem, plan_entries
from malsync.records import ImportedEntry, entry_label
from malsync.report import Report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncRequest:
    exports: tuple[Path, ...]
    dry_run: bool = False
    force: bool = False
    state: Path | None = None
    progress: bool = True


def load_plan(settings: Settings, exports: Sequence[Path]) -> list[PlanItem]:
    """Read every export before anything is sent: a bad file must stop the run while harmless."""
    entries: list[ImportedEntry] = []
    for path in exports:
        export = read_export(path)
        media = export.media.value if export.media else "no"
        log.info("%s: %d %s entries", path, len(export.entries), media)
        entries.extend(export.entries)
    items = plan_entries(entries, settings.mapping)
    for item in items:
        label = entry_label(item.media, item.mal_id, item.title)
        for warning in item.warnings:
            log.warning("%s: %s", label, warning)
        if item.outcome is Outcome.SUPERSEDED:
            log.warning("%s: %s", label, item.error)
        elif item.payload is not None and item.outcome is Outcome.PLANNED:
            log.debug("%s: %s", label, item.payload)
    return items


def run_sync(settings: Settings, request: SyncRequest) -> Report:
    items = load_plan(settings, request.exports)
    files = [str(path) for path in request.exports]
    if request.dry_run:
        return Report(items, files, dry_run=True)
    raise ConfigError("uploading to aniSearch is not available in this version; use --dry-run")
