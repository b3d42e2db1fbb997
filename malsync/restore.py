"""`malsync restore`: put back what a run changed on aniSearch, from the backup taken before it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from malsync.backup import Backup, load_backup
from malsync.checkpoint import ChangeRecord, Checkpoint
from malsync.client import AniSearchClient, Answer
from malsync.config import Settings
from malsync.errors import ExitStatus, ServerStop, StateError
from malsync.mapper import Payload, stored_fields
from malsync.oauth import token_source
from malsync.planner import EntryKey, RemoteRating, RemoteState
from malsync.ratelimit import SlidingWindow
from malsync.records import MediaType, entry_label
from malsync.remote import fetch_remote
from malsync.uploader import READ, UPSERT, ApiCaller, RequestFailed, describe

log = logging.getLogger(__name__)


class Step(str, Enum):
    PUT_BACK = "put back"  # overwrite with the old values
    REPLACE = "replace"  # delete, then put back: the run set fields that were empty before
    DELETE = "delete"  # the run created it


@dataclass(frozen=True)
class RestoreStep:
    key: EntryKey
    title: str
    step: Step
    anisearch_id: int
    body: Payload | None

    @property
    def label(self) -> str:
        return entry_label(self.key[0], self.key[1], self.title)

    def describe(self) -> str:
        return {
            Step.PUT_BACK: f"put back {self.label} as it was",
            Step.REPLACE: f"put back {self.label} as it was (delete, then re-create)",
            Step.DELETE: f"delete {self.label}, which the run created",
        }[self.step]


@dataclass
class RestoreResult:
    backup: Path
    run_id: int
    steps: list[RestoreStep] = field(default_factory=list)
    confirmed: bool = False
    done: int = 0
    failed: list[str] = field(default_factory=list)
    stopped: str | None = None
    exit_status: ExitStatus = ExitStatus.OK


def put_body(rating: RemoteRating, media: MediaType) -> Payload:
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
    before: RemoteState,
    now: RemoteState,
    titles: dict[EntryKey, str],
) -> list[RestoreStep]:
    """What to send so that aniSearch holds, for every title the run wrote, what it held before."""
    steps = []
    for change in changes:
        media, mal_id = change.key
        title = titles.get(change.key, "")
        old = _find(before, change)
        current = _find(now, change)
        if change.action == "upsert" and change.existed is False:
            if current is not None:
                steps.append(
                    RestoreStep(change.key, title, Step.DELETE, current.anisearch_id, None)
                )
            continue
        if old is None:
            log.warning("%s: not in the backup; left as it is", entry_label(media, mal_id, title))
            continue
        wanted = put_body(old, media)
        if current is None:
            steps.append(RestoreStep(change.key, title, Step.PUT_BACK, old.anisearch_id, wanted))
            continue
        held = put_body(current, media)
        if held == wanted:
            continue
        # A field the run filled that was empty before cannot be emptied by a PUT, which leaves
        # out what it does not name: the rating is deleted and re-created from the backup.
        step = Step.REPLACE if set(held) - set(wanted) else Step.PUT_BACK
        steps.append(RestoreStep(change.key, title, step, old.anisearch_id, wanted))
    return steps


def _find(state: RemoteState, change: ChangeRecord) -> RemoteRating | None:
    if change.anisearch_id is not None:
        found = state.by_anisearch_id.get((change.key[0], change.anisearch_id))
        if found is not None:
            return found
    return state.by_mal_id.get(change.key)


def run_restore(
    settings: Settings,
    state: Path | None,
    backup_path: Path | None,
    *,
    dry_run: bool,
    confirm: Callable[[list[RestoreStep]], bool],
) -> RestoreResult:
    state_path = state or settings.sync.state
    tokens = token_source(settings)
    client = AniSearchClient(settings.anisearch, settings.retry, tokens)
    with closing(client), Checkpoint.open(state_path, create=False, exclusive=True) as checkpoint:
        if backup_path is None:
            latest = checkpoint.latest_backup()
            if latest is None:
                raise StateError(f"{state_path}: no run has a backup yet; nothing to restore")
            backup_path = latest[1]
        backup: Backup = load_backup(backup_path)
        changes = checkpoint.changes(backup.run_id)
        limits = settings.limits
        caller = ApiCaller(
            client,
            settings.retry,
            {
                UPSERT: SlidingWindow(
                    limits.upsert_requests,
                    limits.upsert_window_seconds,
                    checkpoint.recent_requests(UPSERT, limits.upsert_window_seconds + 1),
                ),
                READ: SlidingWindow(
                    limits.read_requests,
                    limits.read_window_seconds,
                    checkpoint.recent_requests(READ, limits.read_window_seconds + 1),
                ),
            },
            checkpoint,
        )
        result = RestoreResult(backup.path, backup.run_id)
        attempted: list[EntryKey] = []
        try:
            media = {change.key[0] for change in changes}
            now, _ = fetch_remote(caller, media) if media else (RemoteState.build({}), {})
            result.steps = plan_restore(changes, backup.state, now, checkpoint.titles())
            if dry_run or not result.steps:
                return result
            result.confirmed = confirm(result.steps)
            if not result.confirmed:
                return result
            for step in result.steps:
                attempted.append(step.key)
                problem = _carry_out(caller, step)
                if problem:
                    result.failed.append(f"{step.label}: {problem}")
                    log.warning("%s: %s", step.label, problem)
                else:
                    result.done += 1
        except ServerStop as stop:
            result.stopped = str(stop)
            result.exit_status = ExitStatus.SERVER_STOPPED
        except KeyboardInterrupt:
            result.stopped = "interrupted; run the same restore again to finish it"
            result.exit_status = ExitStatus.INTERRUPTED
        # What aniSearch holds for these is no longer what malsync sent: the next sync sends.
        checkpoint.forget_accepted(attempted, "restored")
        if result.failed and result.exit_status is ExitStatus.OK:
            result.exit_status = ExitStatus.ENTRIES_FAILED
    return result


def _carry_out(caller: ApiCaller, step: RestoreStep) -> str | None:
    """Send one step; None when it worked, else why not."""
    media = step.key[0]
    client = caller.client
    try:
        if step.step in (Step.DELETE, Step.REPLACE):
            answered = caller.call(
                READ, lambda: client.delete_rating(media, step.anisearch_id), step.label
            )
            caller.finish(answered)
            if answered.response.answer is Answer.REJECTED:
                return describe(answered.response)
        if step.body is not None:
            body = step.body
            answered = caller.call(
                UPSERT, lambda: client.put_rating(media, step.anisearch_id, body), step.label
            )
            caller.finish(answered)
            if answered.response.answer is not Answer.OK:
                return describe(answered.response)
    except RequestFailed as failure:
        return str(failure)
    return None
