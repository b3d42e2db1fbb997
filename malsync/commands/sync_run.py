"""The run proper, once the plan is decided: recorded in the checkpoint, backed up before its
first write, executed, and closed, whatever ends it, so that status never calls it running."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from malsync.errors import CheckpointError, ExitStatus, MalsyncError, stopped_by
from malsync.ids.title_ids import IdSource
from malsync.pipeline.planner import Decision, Verdict, pending
from malsync.pipeline.records import Settlement
from malsync.pipeline.uploader import Progress, execute
from malsync.report.run_report import Report, RunInfo
from malsync.store.backup import backup_folder, prune_backups, write_backup

if TYPE_CHECKING:
    from malsync.anisearch.ratings import RatingsRead
    from malsync.anisearch.session import AniSearchSession
    from malsync.commands.sync import SyncSetup
    from malsync.store.checkpoint import Checkpoint

log = logging.getLogger(__name__)

_RUN_ENDINGS = {
    None: "finished",
    ExitStatus.SERVER_STOPPED: "stopped by the server",
    ExitStatus.INTERRUPTED: "interrupted",
    ExitStatus.TERMINATED: "terminated",
}


def send_run(
    setup: SyncSetup,
    checkpoint: Checkpoint,
    session: AniSearchSession,
    decisions: list[Decision],
    read: RatingsRead | None,
    run: RunInfo,
    progress: Progress | None,
    owners: Mapping[str, str],
) -> Report:
    """The run proper: recorded, backed up before its first write, executed, closed.

    A run ended by an exception is closed too, so that status never calls it running.
    """
    run_id = checkpoint.start_run(list(run.files))
    try:
        if read is not None and pending(decisions):
            run = replace(run, backup=str(_backup(setup, checkpoint, run_id, read)))
        execution = execute(decisions, session, checkpoint, run_id, progress, owners)
    except BaseException as error:
        ending = stopped_by(error)[0] if isinstance(error, KeyboardInterrupt) else "failed"
        with suppress(MalsyncError):  # the checkpoint itself may be what failed
            checkpoint.finish_run(run_id, ending, {})
        raise
    run = replace(run, stopped=execution.stopped, stop_status=execution.stop_status)
    closing = _Closing(checkpoint, run_id, decisions, execution.results, run)
    for _ in range(_CLOSE_TRIES):
        try:
            return closing.close()
        except KeyboardInterrupt as interrupt:
            # Ctrl-C or SIGTERM once every answer was stored: nothing was cut short, and the
            # run is closed and reported all the same (each step once), as stopped by it.
            closing.interrupted(interrupt)
    return closing.close()  # a Ctrl-C pressed again and again: this try may be cut short


# How often a close cut short by Ctrl-C is taken up again: it takes milliseconds.
_CLOSE_TRIES = 5
_LATE_STOP = "{} after the last answer was stored; the checkpoint is saved"


class _Closing:
    """Closing a run that has sent all it would: its report, the unlinked titles it told of,
    and its ending in the checkpoint, each done once, whatever interrupts it and when."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        run_id: int,
        decisions: list[Decision],
        results: Mapping[int, Settlement],
        run: RunInfo,
    ) -> None:
        self._checkpoint, self._run_id = checkpoint, run_id
        self._decisions, self._results, self._run = decisions, results, run
        self._report: Report | None = None
        self._unlinked_kept = False
        self._finished = False

    def interrupted(self, interrupt: KeyboardInterrupt) -> None:
        """An interrupt before the run was closed makes it interrupted; a stop it already had
        (the server's 403, an earlier Ctrl-C) is what it says, as that left titles unsent."""
        if self._finished or self._run.stop_status is not None:
            return
        word, status = stopped_by(interrupt)
        self._run = replace(self._run, stopped=_LATE_STOP.format(word), stop_status=status)
        self._report = None

    def close(self) -> Report:
        if self._report is None:
            self._report = Report.build(self._decisions, self._results, self._run)
        if not self._unlinked_kept:
            _remember_unlinked(self._checkpoint, self._decisions)
            self._unlinked_kept = True
        if not self._finished:
            outcomes = self._report.summary()["outcomes"]
            ending = _RUN_ENDINGS[self._run.stop_status]
            self._checkpoint.finish_run(self._run_id, ending, outcomes)
            self._finished = True
        return self._report


def _remember_unlinked(checkpoint: Checkpoint, decisions: Sequence[Decision]) -> None:
    """The titles aniSearch's links name nothing for, as this run told of them, so that the
    next run tells only of new ones; media types this run did not read keep theirs."""
    media = {d.media for d in decisions}
    unlinked = {
        d.key
        for d in decisions
        if d.key is not None and d.verdict is Verdict.UNMATCHED and d.id_source is IdSource.UNLINKED
    }
    kept = {key for key in checkpoint.unlinked_titles() if key[0] not in media}
    checkpoint.remember_unlinked(kept | unlinked)


def _backup(setup: SyncSetup, checkpoint: Checkpoint, run_id: int, read: RatingsRead) -> Path:
    """The backup before the first write (older ones pruned), or one line naming where it
    could not go."""
    checkpoint_file = setup.checkpoint_file
    try:
        backup = write_backup(checkpoint_file, run_id, setup.anisearch_url, read.raw, read.whole)
    except OSError as error:
        where = error.filename or backup_folder(checkpoint_file)
        raise CheckpointError(
            f"{where}: cannot write the backup of your aniSearch ratings "
            f"({error.strerror or error}); nothing was sent"
        ) from None
    checkpoint.set_backup(run_id, backup)
    log.info("backup of your aniSearch ratings before this run: %s", backup)
    for unchecked in sorted(set(read.raw) - {media.value for media in read.whole}):
        log.warning(
            "aniSearch answered an empty list of your %s ratings and it could not be checked "
            "(the profile's counts need the scope user.profile): restore deletes none of the "
            "titles this run creates, as they may have been there",
            unchecked,
        )
    for old in prune_backups(checkpoint, checkpoint_file, run_id):
        log.debug("deleted %s: no restore needs it any more", old)
    return backup
