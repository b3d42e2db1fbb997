"""The sync command's work: read every export, plan, and (unless a dry run) upload."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from malsync.checkpoint import Checkpoint
from malsync.client import AniSearchClient
from malsync.config import Settings
from malsync.errors import ConfigError, ExitStatus
from malsync.importer import read_export
from malsync.oauth import token_source
from malsync.planner import Outcome, PlanItem, mark_unchanged, plan_entries
from malsync.ratelimit import SlidingWindow
from malsync.records import ImportedEntry, entry_label
from malsync.report import Report
from malsync.uploader import UPSERT, NoProgress, Progress, Uploader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncRequest:
    exports: tuple[Path, ...]
    dry_run: bool = False
    force: bool = False
    state: Path | None = None


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


def check_scopes(scopes: frozenset[str] | None, items: Sequence[PlanItem]) -> None:
    """Say up front, not after the first 403, that the token cannot write some of the entries."""
    if scopes is None:
        return
    needed = {f"ratings.{item.media.value}" for item in items if item.outcome is Outcome.PLANNED}
    missing = sorted(needed - scopes)
    if missing:
        raise ConfigError(
            f"the signed-in token lacks the scope {' and '.join(missing)} needed for these "
            "exports; run malsync login again (it asks for ratings.anime and ratings.manga)"
        )


def run_sync(settings: Settings, request: SyncRequest, progress: Progress | None = None) -> Report:
    items = load_plan(settings, request.exports)
    files = [str(path) for path in request.exports]
    state_path = request.state or settings.sync.state
    if request.dry_run:
        if not request.force and state_path.exists():
            # Show what a real run would skip; reading the checkpoint sends nothing.
            with Checkpoint.open(state_path, create=False) as checkpoint:
                items = mark_unchanged(items, checkpoint.accepted_hashes())
        return Report(items, files, dry_run=True)

    # Before anything is sent: a missing token, contact or scope, or a plain-http URL, stops here.
    tokens = token_source(settings)
    client = AniSearchClient(settings.anisearch, settings.retry, tokens)
    limits = settings.limits
    with closing(client), Checkpoint.open(state_path) as checkpoint:
        checkpoint.forget_old_requests()
        if not request.force:
            items = mark_unchanged(items, checkpoint.accepted_hashes())
        check_scopes(tokens.scopes, items)
        run_id = checkpoint.start_run(files)
        limiter = SlidingWindow(
            limits.upsert_requests,
            limits.upsert_window_seconds,
            history=checkpoint.recent_requests(UPSERT, limits.upsert_window_seconds + 1),
        )
        uploader = Uploader(client, checkpoint, limiter, settings, run_id, progress or NoProgress())
        report = uploader.run(items, files)
        status = {
            None: "finished",
            ExitStatus.SERVER_STOPPED: "stopped by the server",
            ExitStatus.INTERRUPTED: "interrupted",
        }[report.stopped_status]
        counts = report.summary()["outcomes"]
        checkpoint.finish_run(run_id, status, counts)
    return report
