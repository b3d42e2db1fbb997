"""`malsync restore`: put back what a run changed on aniSearch, from the backup taken before it.

`plan_restore` is pure: the run's change log, the backup and aniSearch's ratings now give the
steps. `run_restore` reads, asks and carries them out through the session, telling the checkpoint
of each step as it is answered, so that a killed restore leaves no title marked as synced that
aniSearch no longer holds as malsync sent it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Protocol

from malsync.anisearch.account import bind_account
from malsync.anisearch.answers import ResponseMeaning
from malsync.anisearch.journal import ENDING_MEANINGS, RatingWriter, Write
from malsync.anisearch.ratings import KnownRatings, RatingsReader, fetch_ratings
from malsync.anisearch.session import RequestFailed, SessionFactory
from malsync.errors import CheckpointError, ExitStatus, ServerStop, exit_status, stopped_by
from malsync.pipeline.anisearch_ratings import AniSearchRating, AniSearchRatings
from malsync.pipeline.mapper import stored_fields
from malsync.pipeline.records import (
    Action,
    ChangeRecord,
    EntryKey,
    MediaType,
    Outcome,
    Payload,
    Settlement,
    entry_label,
)
from malsync.store.backup import Backup, load_backup
from malsync.store.checkpoint import Checkpoint
from malsync.store.runs import RunRecord

log = logging.getLogger(__name__)


class RestoreSession(RatingWriter, RatingsReader, Protocol):
    """What a restore sends through: it reads what aniSearch holds now, then writes it back."""


class RestoreAction(str, Enum):
    """What one restore step sends for a title."""

    PUT_BACK = "put back"  # overwrite with the old values
    REPLACE = "replace"  # delete, then put back: the run set fields that were empty before
    DELETE = "delete"  # the run created it
    KEEP = "keep"  # the run created it, by its log, but the backup cannot show it: nothing sent


@dataclass(frozen=True)
class RestoreStep:
    key: EntryKey
    title: str
    action: RestoreAction
    anisearch_id: int
    body: Payload | None
    current: Payload | None = None  # what aniSearch holds now, as a PUT body; None: nothing
    run_id: int = 0  # the run whose backup the values come from
    by_title: bool = False  # the run wrote aniSearch title `anisearch_id`, known beforehand

    @property
    def label(self) -> str:
        return entry_label(self.key[0], self.key[1], self.title)

    def describe(self) -> str:
        return {
            RestoreAction.PUT_BACK: f"put back {self.label} as it was",
            RestoreAction.REPLACE: f"put back {self.label} as it was (delete, then re-create)",
            RestoreAction.DELETE: f"delete {self.label}, which the run created",
            RestoreAction.KEEP: f"keep {self.label}: the backup cannot show the run created it",
        }[self.action]

    def values(self) -> str:
        """Each field that changes back, as it is now and as it will be: `status a -> b`."""
        if self.action is RestoreAction.DELETE:
            return "the whole rating goes"
        if self.action is RestoreAction.KEEP:
            return "left as it is"
        wanted = self.body or {}
        held = self.current or {}
        shown = []
        for name in sorted(set(wanted) | set(held)):
            if name == "use_myanimelist_id" or held.get(name) == wanted.get(name):
                continue
            old = _value(held.get(name))
            new = _value(wanted.get(name))
            shown.append(f"{name} {old} \u2192 {new}")
        return "; ".join(shown) or "as it was"


def _value(value: object) -> str:
    return "(none)" if value is None else repr(value) if isinstance(value, str) else str(value)


@dataclass
class RestoreResult:
    backups: list[tuple[int, Path]]  # the runs undone, newest first, with their backups
    steps: list[RestoreStep] = field(default_factory=list)
    kept: list[RestoreStep] = field(default_factory=list)  # RestoreAction.KEEP: a person must look
    confirmed: bool = False
    done: int = 0
    failed: list[str] = field(default_factory=list)
    stopped: str | None = None
    stop_status: ExitStatus | None = None
    # The runs of a first migration that was stopped and resumed, when this restore undoes only
    # its latest run: `--since` its first undoes the whole of it.
    migration: tuple[int, ...] = ()

    @property
    def exit_status(self) -> ExitStatus:
        return exit_status(self.stop_status, len(self.failed) + len(self.kept))


def put_body(rating: AniSearchRating, media: MediaType) -> Payload:
    """The PUT that re-creates a rating as GET showed it, addressed by aniSearch id."""
    allowed = stored_fields(media)
    body: Payload = {
        name: value
        for name, value in rating.fields.items()
        if name in allowed and isinstance(value, str | int | bool)
    }
    body["use_myanimelist_id"] = False
    return body


def plan_restore(
    changes: Sequence[ChangeRecord],
    before: AniSearchRatings,
    now: AniSearchRatings,
    titles: Mapping[EntryKey, str],
    run_id: int = 0,
    whole: frozenset[MediaType] | None = None,
) -> list[RestoreStep]:
    """What to send so that aniSearch holds, for every title the run wrote, what it held before.

    A title is deleted only where the backup shows it was absent: its media type was read whole
    (`whole`; by default, those the backup holds ratings of); else it is kept (KEEP). A title
    the backup holds is put back, whatever the run's log says.
    """
    if whole is None:
        whole = frozenset(media for media, _ in before.by_anisearch_id)
    steps = []
    for change in changes:
        media, mal_id = change.key
        title = titles.get(change.key, "")
        old = _find(before, change)
        current = _find(now, change)
        step_of = partial(RestoreStep, change.key, title, run_id=run_id, by_title=change.by_title)
        if change.action is Action.UPSERT and change.existed is False and old is None:
            if current is not None:
                held = put_body(current, media)
                action = RestoreAction.DELETE if media in whole else RestoreAction.KEEP
                steps.append(step_of(action, current.anisearch_id, None, held))
            continue
        if old is None:
            log.warning("%s: not in the backup; left as it is", entry_label(media, mal_id, title))
            continue
        wanted = put_body(old, media)
        if current is None:
            steps.append(step_of(RestoreAction.PUT_BACK, old.anisearch_id, wanted, None))
            continue
        held = put_body(current, media)
        if held == wanted:
            continue
        # A field the run filled that was empty before cannot be emptied by a PUT, which leaves
        # out what it does not name: the rating is deleted and re-created from the backup.
        action = RestoreAction.REPLACE if set(held) - set(wanted) else RestoreAction.PUT_BACK
        steps.append(step_of(action, old.anisearch_id, wanted, held))
    return steps


def _find(ratings: AniSearchRatings, change: ChangeRecord) -> AniSearchRating | None:
    """The rating a change was to: by aniSearch id, and only so for a title the run knew by it
    (which MAL id GET shows for a title several MAL entries are is anyone's guess)."""
    media, mal_id = change.key
    found = ratings.find(media, None, change.anisearch_id) if change.anisearch_id else None
    if found is not None or change.by_title:
        return found
    return ratings.find(media, mal_id, None)


@dataclass(frozen=True)
class RunChoice:
    """Which runs to undo: a backup file, one run, a run and every later one; else the latest."""

    backup: Path | None = None
    run: int | None = None
    since: int | None = None


def list_runs(checkpoint_file: Path) -> list[RunRecord]:
    """Every run the checkpoint knows, oldest first, for `restore --list`."""
    with Checkpoint.open(checkpoint_file, create=False, only_reads=True) as checkpoint:
        return checkpoint.runs()


def run_restore(
    open_session: SessionFactory,
    checkpoint_file: Path,
    choice: RunChoice,
    *,
    dry_run: bool,
    confirm: Callable[[RestoreResult], bool],
) -> RestoreResult:
    with Checkpoint.open(
        checkpoint_file, create=False, exclusive=True, only_reads=dry_run
    ) as checkpoint:
        session = open_session(checkpoint)
        try:
            profile = bind_account(session, checkpoint, store=checkpoint.writable)
            backups = _chosen_backups(checkpoint, choice)
            result = RestoreResult([(backup.run_id, backup.path) for backup in backups])
            if choice == RunChoice():
                result.migration = _partly_undone(first_migration(checkpoint.runs()), backups)
            known = KnownRatings.of(checkpoint, profile)
            _restore(session, checkpoint, backups, result, known, dry_run=dry_run, confirm=confirm)
        finally:
            session.close()
    return result


def first_migration(runs: Sequence[RunRecord]) -> tuple[int, ...]:
    """The first migration's runs: the first one and, if it did not finish, the runs after it up
    to the first that did (a first migration stopped and resumed is several runs)."""
    ids = []
    for run in runs:
        ids.append(run.id)
        if run.status == "finished":
            break
    return tuple(ids)


def _partly_undone(migration: tuple[int, ...], backups: Sequence[Backup]) -> tuple[int, ...]:
    """The migration's runs if it took several and these backups undo only a later one."""
    undone = {backup.run_id for backup in backups}
    several = len(migration) > 1 and migration[0] not in undone
    return migration if several and undone <= set(migration) else ()


def _chosen_backups(checkpoint: Checkpoint, choice: RunChoice) -> list[Backup]:
    """The backups of the runs to undo, newest first; a run that changed nothing has none."""
    if choice.backup is not None:
        return [load_backup(choice.backup)]
    runs = checkpoint.runs()
    first = choice.run if choice.run is not None else choice.since
    if first is None:
        latest = checkpoint.latest_backup()
        if latest is None:
            raise CheckpointError(f"{checkpoint.path}: no run has a backup yet; nothing to restore")
        return [load_backup(latest[1])]
    if first not in {run.id for run in runs}:
        raise CheckpointError(
            f"{checkpoint.path}: there is no run {first}; restore --list shows them"
        )
    chosen = [run for run in runs if run.id == first or (choice.since and run.id > first)]
    with_backup = [run for run in chosen if run.backup is not None]
    for run in chosen:
        if run.backup is None:
            log.info("run %d changed nothing on aniSearch (it has no backup): skipped", run.id)
    if not with_backup:
        raise CheckpointError(f"run {first} changed nothing on aniSearch; nothing to restore")
    return [load_backup(Path(run.backup or "")) for run in reversed(with_backup)]


def plan_runs(
    backups: Sequence[Backup],
    changes: Mapping[int, Sequence[ChangeRecord]],
    now: AniSearchRatings,
    titles: Mapping[EntryKey, str],
) -> list[RestoreStep]:
    """Steps that undo several runs, newest first, so that aniSearch holds what it held before
    the oldest of them.

    A title several of them wrote goes back to the backup of the first run that wrote it: the
    later runs' backups hold malsync's own values. So each title gets one step, not one a run.
    """
    first_writer: dict[tuple[str, MediaType, int], int] = {}
    for backup in sorted(backups, key=lambda b: b.run_id):
        for change in changes[backup.run_id]:
            first_writer.setdefault(change.title, backup.run_id)
    steps = []
    for backup in sorted(backups, key=lambda b: b.run_id, reverse=True):
        own = [c for c in changes[backup.run_id] if first_writer[c.title] == backup.run_id]
        steps.extend(plan_restore(own, backup.ratings, now, titles, backup.run_id, backup.whole))
    return steps


def _restore(
    session: RestoreSession,
    checkpoint: Checkpoint,
    backups: Sequence[Backup],
    result: RestoreResult,
    known: KnownRatings,
    *,
    dry_run: bool,
    confirm: Callable[[RestoreResult], bool],
) -> None:
    changes = {backup.run_id: checkpoint.changes(backup.run_id) for backup in backups}
    try:
        media = {change.key[0] for run in changes.values() for change in run}
        now = fetch_ratings(session, media, known).ratings if media else AniSearchRatings.build({})
        planned = plan_runs(backups, changes, now, checkpoint.titles())
        result.steps = [step for step in planned if step.action is not RestoreAction.KEEP]
        result.kept = [step for step in planned if step.action is RestoreAction.KEEP]
        for step in result.kept:
            log.info("%s", step.describe())
        if dry_run or not result.steps:
            return
        result.confirmed = confirm(result)
        if not result.confirmed:
            return
        for step in result.steps:
            problem = _carry_out(session, step, step.run_id)
            if problem:
                result.failed.append(f"{step.label}: {problem}")
                log.warning("%s: %s", step.label, problem)
            else:
                result.done += 1
    except ServerStop as stop:
        result.stopped, result.stop_status = str(stop), ExitStatus.SERVER_STOPPED
    except KeyboardInterrupt as interrupt:
        word, result.stop_status = stopped_by(interrupt)
        result.stopped = f"{word}; run the same restore again to finish it"


def _carry_out(session: RatingWriter, step: RestoreStep, run_id: int) -> str | None:
    """Send one step; None when it worked, else why not.

    The checkpoint forgets what malsync sent for the title with the answer that changes it:
    aniSearch no longer holds that body, so the next sync sends it again.
    """
    media = step.key[0]
    title = step.anisearch_id if step.by_title else None
    restored = Settlement(
        step.key, step.title, Outcome.RESTORED, run_id, written=False, title_id=title
    )
    # Forgetting is always safe: at worst the next sync compares again. So every answer that
    # ends a request settles it.
    write = Write(step.label, restored, settled_by=ENDING_MEANINGS)
    try:
        if step.action in (RestoreAction.DELETE, RestoreAction.REPLACE):
            response = session.delete_rating(media, step.anisearch_id, write)
            if response.meaning is ResponseMeaning.REJECTED:
                return response.describe()
        if step.body is not None:
            response = session.put_rating(media, step.anisearch_id, step.body, write)
            if response.meaning is not ResponseMeaning.OK:
                return response.describe()
    except RequestFailed as failure:
        return str(failure)
    return None
