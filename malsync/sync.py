"""The sync command's work: read every export, plan against the checkpoint and aniSearch, send."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from malsync.backup import write_backup
from malsync.checkpoint import Checkpoint
from malsync.client import AniSearchClient
from malsync.config import CONFLICT_POLICIES, Settings
from malsync.errors import ConfigError, ExitStatus, ServerStop
from malsync.importer import read_export
from malsync.oauth import NotSignedIn, token_source
from malsync.planner import (
    Action,
    Outcome,
    PlanItem,
    apply_remote,
    deletion_candidates,
    mark_unchanged,
    mark_unmatched,
    plan_deletions,
    plan_entries,
)
from malsync.ratelimit import SlidingWindow
from malsync.records import ImportedEntry, entry_label
from malsync.remote import fetch_remote
from malsync.report import Report
from malsync.uploader import READ, UPSERT, ApiCaller, NoProgress, Progress, Uploader

log = logging.getLogger(__name__)

# A title aniSearch did not know is asked for again after this long even without the flag.
UNMATCHED_RETRY_DAYS = 30.0


@dataclass(frozen=True)
class SyncRequest:
    exports: tuple[Path, ...]
    dry_run: bool = False
    force: bool = False
    state: Path | None = None
    on_conflict: str | None = None  # None: [sync] on_conflict
    remote_diff: bool = True
    delete_missing: bool = False
    retry_unmatched: bool = False


ConfirmDeletions = Callable[[Sequence[PlanItem]], bool]


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


def run_sync(
    settings: Settings,
    request: SyncRequest,
    progress: Progress | None = None,
    confirm_deletions: ConfirmDeletions | None = None,
) -> Report:
    policy = request.on_conflict or settings.sync.on_conflict
    if policy not in CONFLICT_POLICIES:
        raise ConfigError(f"--on-conflict must be one of {', '.join(CONFLICT_POLICIES)}")
    if not request.remote_diff and (policy != "mal-wins" or request.delete_missing):
        raise ConfigError(
            "--no-remote-diff cannot be combined with --on-conflict "
            f"{policy} or --delete-missing: both need to read what aniSearch holds"
        )
    items = load_plan(settings, request.exports)
    files = [str(path) for path in request.exports]
    state_path = request.state or settings.sync.state
    media = frozenset(item.media for item in items)

    with ExitStack() as stack:
        # A dry run opens the checkpoint only if there is one and changes no entry in it; it
        # notes only its reads, so that a run right after it still respects the rate window.
        checkpoint = None
        if not request.dry_run or state_path.exists():
            checkpoint = stack.enter_context(
                Checkpoint.open(
                    state_path, create=not request.dry_run, exclusive=not request.dry_run
                )
            )
            if not request.dry_run:
                checkpoint.forget_old_requests()
            if not request.force:
                items = mark_unchanged(items, checkpoint.accepted_hashes())
            if not request.retry_unmatched:
                items = mark_unmatched(
                    items, checkpoint.unmatched(), time.time(), UNMATCHED_RETRY_DAYS
                )

        caller = _connect(settings, request, items, checkpoint, stack)
        written = checkpoint.written_titles() if checkpoint and request.delete_missing else {}
        candidates = deletion_candidates(items, written, media)
        pending = bool(candidates) or any(item.outcome is Outcome.PLANNED for item in items)
        remote, raw = None, None
        if caller is not None and request.remote_diff and pending:
            try:
                remote, raw = fetch_remote(caller, media)
            except ServerStop as stop:
                report = Report(items, files, dry_run=request.dry_run)
                report.stopped, report.stopped_status = str(stop), ExitStatus.SERVER_STOPPED
                return report
            items = apply_remote(items, remote, policy, request.force)
        items += plan_deletions(candidates, remote)
        _log_changes(items)
        report = Report(items, files, dry_run=request.dry_run)
        report.extra["on_conflict"] = policy
        report.extra["compared_with_anisearch"] = remote is not None
        if request.dry_run:
            return report

        assert checkpoint is not None and caller is not None
        deletions = [i for i in items if i.action is Action.DELETE and i.outcome is Outcome.PLANNED]
        if deletions and not (confirm_deletions and confirm_deletions(deletions)):
            raise ConfigError(
                f"{len(deletions)} deletions were not confirmed; nothing was sent "
                "(--yes confirms them, for runs without a terminal)"
            )
        run_id = checkpoint.start_run(files)
        if raw is not None and any(item.outcome is Outcome.PLANNED for item in items):
            backup = write_backup(state_path, run_id, settings.anisearch.base_url, raw)
            checkpoint.set_backup(run_id, backup)
            report.extra["backup"] = str(backup)
            log.info("backup of your aniSearch ratings before this run: %s", backup)
        Uploader(caller, checkpoint, run_id, progress or NoProgress()).run(report)
        status = {
            None: "finished",
            ExitStatus.SERVER_STOPPED: "stopped by the server",
            ExitStatus.INTERRUPTED: "interrupted",
        }[report.stopped_status]
        checkpoint.finish_run(run_id, status, report.summary()["outcomes"])
    return report


def _connect(
    settings: Settings,
    request: SyncRequest,
    items: Sequence[PlanItem],
    checkpoint: Checkpoint | None,
    stack: ExitStack,
) -> ApiCaller | None:
    """The client for a real run (or fail here, before anything is sent: no token, contact or
    scope, or a plain-http URL); for a dry run, one only where it can read aniSearch, else None
    and the plan is not compared."""
    try:
        tokens = token_source(settings)
        client = AniSearchClient(settings.anisearch, settings.retry, tokens)
        stack.callback(client.close)
        check_scopes(tokens.scopes, items)
    except ConfigError as error:
        if not request.dry_run:
            raise
        if request.remote_diff:
            reason = "not signed in" if isinstance(error, NotSignedIn) else str(error)
            log.info("Not compared with your ratings on aniSearch (%s).", reason)
        return None
    limits = settings.limits

    def window(kind: str, limit: int, seconds: float) -> SlidingWindow:
        history = checkpoint.recent_requests(kind, seconds + 1) if checkpoint else []
        return SlidingWindow(limit, seconds, history)

    limiters = {
        UPSERT: window(UPSERT, limits.upsert_requests, limits.upsert_window_seconds),
        READ: window(READ, limits.read_requests, limits.read_window_seconds),
    }
    return ApiCaller(client, settings.retry, limiters, checkpoint)


def _log_changes(items: Sequence[PlanItem]) -> None:
    """One line per title aniSearch already has and the run would change: old -> new."""
    for item in items:
        label = entry_label(item.media, item.mal_id, item.title)
        if item.action is Action.DELETE and item.outcome is Outcome.PLANNED:
            log.info("%s: delete (no longer in the MAL export)", label)
        elif item.changes and item.outcome in (Outcome.PLANNED, Outcome.KEPT):
            diff = "; ".join(f"{name} {old!r} -> {new!r}" for name, old, new in item.changes)
            verb = "kept as on aniSearch" if item.outcome is Outcome.KEPT else "change"
            log.info("%s: %s: %s", label, verb, diff)
