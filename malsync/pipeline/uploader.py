"""Carry out a run's decisions through the aniSearch session; only the policy of sending lives here.

Each request's answer and the entry's fate reach the checkpoint in one transaction (the
session's journal stores what the request's `Write` settles with its answer), so a run killed
at any moment resumes having lost at most the request in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from malsync.anisearch.answers import ApiResponse, ResponseMeaning
from malsync.anisearch.journal import RatingWriter, Write
from malsync.anisearch.session import RequestFailed
from malsync.errors import ExitStatus, ServerStop, stopped_by
from malsync.ids.title_ids import IdSource
from malsync.net.pacing import Countdown
from malsync.pipeline.decisions import RequestKey
from malsync.pipeline.planner import Decision, Verdict, payload_hash
from malsync.pipeline.records import (
    Action,
    ChangeRecord,
    EntryKey,
    Outcome,
    Settlement,
)

log = logging.getLogger(__name__)


class UploadSession(RatingWriter, Protocol):
    """What `execute` needs of the aniSearch session: its writes, the time its limits need for
    the rest, and its countdown, whose waits the progress bar shows while the run sends."""

    @property
    def countdown(self) -> Countdown: ...

    def eta(self, puts: int, others: int) -> float: ...


class CheckpointEntries(Protocol):
    """The part of the checkpoint that keeps entries' fates between runs."""

    def settle(self, settled: Settlement) -> None: ...

    def settle_many(self, settlements: list[Settlement]) -> None: ...


class Progress(Protocol):
    """Where the run reports progress; the CLI shows it, tests and -q ignore it."""

    def start(self, total: int, unchanged: int) -> None: ...

    def advance(self, outcome: Outcome, eta_seconds: float) -> None: ...

    def waiting(self, seconds_left: float, reason: str) -> None:
        """A wait (for the rate limit, a Retry-After, a retry) runs down; 0 when it is over."""

    def close(self, *, cut_short: bool = False) -> None:
        """The run is over; `cut_short`: by a Ctrl-C or SIGTERM, whose ^C the terminal showed."""


class NoProgress:
    def start(self, total: int, unchanged: int) -> None:
        pass

    def advance(self, outcome: Outcome, eta_seconds: float) -> None:
        pass

    def waiting(self, seconds_left: float, reason: str) -> None:
        pass

    def close(self, *, cut_short: bool = False) -> None:
        pass


@dataclass(frozen=True)
class Execution:
    """What a real run did: what it made of each decision that needed a request (by index), and
    any stop."""

    results: Mapping[int, Settlement]
    stopped: str | None = None
    stop_status: ExitStatus | None = None


def execute(
    decisions: Sequence[Decision],
    session: UploadSession,
    checkpoint: CheckpointEntries,
    run_id: int,
    progress: Progress | None = None,
    owners: Mapping[str, str] | None = None,
) -> Execution:
    """Send every request the decisions need, in order: one per aniSearch title, whose answer
    is every row's of that title (a bundle's members); a stop leaves the rest `not_sent`.

    `owners` names the list each source is (by source, `SourceList.list_name`): each title
    the run holds is recorded as that list's, so only that list's --delete-missing deletes it.
    """
    progress = progress or NoProgress()
    owners = owners or {}
    checkpoint.settle_many(_settled_without_requests(decisions, run_id, owners))
    todo = requests_of(decisions)
    unchanged = sum(1 for decision in decisions if decision.verdict is Verdict.UNCHANGED)
    puts = sum(1 for rows in todo if decisions[rows[0]].action is Action.UPSERT)
    others = len(todo) - puts
    sender = _Sender(session, checkpoint, run_id, owners)
    results: dict[int, Settlement] = {}
    stopped, stop_status = None, None
    progress.start(len(todo), unchanged)
    try:
        with session.countdown.listening(progress.waiting):
            for rows in todo:
                first = decisions[rows[0]]
                settled = sender.send(first, [decisions[index] for index in rows[1:]])
                results.update(dict.fromkeys(rows, settled))
                if first.action is Action.UPSERT:
                    puts -= 1
                else:
                    others -= 1
                progress.advance(settled.outcome, session.eta(puts, others))
    except ServerStop as stop:
        stopped, stop_status = str(stop), ExitStatus.SERVER_STOPPED
    except KeyboardInterrupt as interrupt:
        word, stop_status = stopped_by(interrupt)
        stopped = f"{word}; the checkpoint is saved: run the same command again to resume"
    finally:
        progress.close(cut_short=stop_status in _CUT_SHORT)
    for rows in todo:
        for index in rows:
            if index not in results:
                results[index] = _not_sent(decisions[index], run_id)
    return Execution(results, stopped, stop_status)


_CUT_SHORT = (ExitStatus.INTERRUPTED, ExitStatus.TERMINATED)


def requests_of(decisions: Sequence[Decision]) -> list[list[int]]:
    """The requests the decisions need, in order, each as the indices of its rows."""
    # By verdict, not action: of the verdicts that send, each is one action (SEND an upsert,
    # DELETE a delete), and the verdict is a field where the action is worked out.
    grouped: dict[tuple[Verdict, RequestKey], list[int]] = {}
    for index, decision in enumerate(decisions):
        if decision.verdict in _SENDING:
            key = decision.request_key
            if key is not None:
                grouped.setdefault((decision.verdict, key), []).append(index)
    return list(grouped.values())


_SENDING = frozenset(verdict for verdict in Verdict if verdict.needs_request)


def _not_sent(decision: Decision, run_id: int) -> Settlement:
    """A decision the run stopped before: reported, not kept (the next run sends it)."""
    assert decision.key is not None
    reason = "not sent: the run stopped before it"
    return Settlement(decision.key, decision.title, Outcome.NOT_SENT, run_id, error=reason)


def _settled_without_requests(
    decisions: Sequence[Decision], run_id: int, owners: Mapping[str, str]
) -> list[Settlement]:
    """What this run decided without a request: unchanged, kept, already deleted."""
    settlements = []
    for decision in decisions:
        key = decision.key
        if key is None:
            continue
        title = _title_of(decision)
        owner = owners.get(decision.source)
        body = decision.accepted_body
        if decision.verdict is Verdict.UNCHANGED and body is not None:
            settlements.append(
                Settlement(
                    key,
                    decision.title,
                    Outcome.UNCHANGED,
                    run_id,
                    payload_hash(body),
                    body,
                    list_name=owner,
                    **title,
                )
            )
        elif decision.verdict is Verdict.KEPT:
            # Merged and in step but for aniSearch's own edits: MAL's body is the new base.
            base = decision.mal_body
            new_base = payload_hash(base) if base is not None else None
            settlements.append(
                Settlement(
                    key,
                    decision.title,
                    Outcome.KEPT,
                    run_id,
                    new_base,
                    base,
                    list_name=owner,
                    **title,
                )
            )
        elif decision.verdict is Verdict.UNMATCHED and decision.parts and decision.title_key:
            # A part not asked for again: its entry stays not_found while it is skipped, as an
            # entry skipped whole does, whatever the other parts' fates (the title is not
            # settled: its 30 days run from when aniSearch said so).
            settlements.append(
                Settlement(key, decision.title, Outcome.NOT_FOUND, run_id, error=decision.reason)
            )
        elif decision.verdict is Verdict.GONE:
            settlements.append(
                Settlement(key, decision.title, Outcome.DELETED, run_id, written=False, **title)
            )
    return settlements


def _title_of(decision: Decision) -> dict[str, Any]:
    """A settlement's title part: the aniSearch title it also settles, where sent by its id."""
    if decision.title_key is None:
        return {}
    return {"title_id": decision.title_key[1], "members": decision.member_ids}


@dataclass
class _Sender:
    session: RatingWriter
    checkpoint: CheckpointEntries
    run_id: int
    owners: Mapping[str, str]

    def send(self, decision: Decision, also: Sequence[Decision] = ()) -> Settlement:
        """One request for `decision`'s title; its answer settles the rows in `also` too (the
        other members of a bundle)."""
        assert decision.key is not None and decision.mal_id is not None
        label = decision.label
        others = tuple((row.key, row.title) for row in also if row.key is not None)
        try:
            if decision.action is Action.DELETE:
                done, response = self._delete(decision, label, others)
            else:
                done, response = self._put(decision, label, others)
        except RequestFailed as failure:
            return self._failed(decision, Outcome.FAILED, str(failure), label, others)
        if response.meaning is ResponseMeaning.OK or (
            decision.action is Action.DELETE and response.meaning is ResponseMeaning.NOT_FOUND
        ):
            # A DELETE answered 404: someone removed it already; either way it is gone now.
            uploaded = done.outcome is Outcome.UPLOADED
            log.log(
                logging.DEBUG if uploaded else logging.INFO,
                "%s: %s",
                label,
                "uploaded" if uploaded else "deleted on aniSearch",
            )
            return done
        if response.meaning is ResponseMeaning.NOT_FOUND:
            return self._failed(
                decision, Outcome.NOT_FOUND, _unknown_title(decision, response), label, others
            )
        return self._failed(decision, Outcome.FAILED, response.describe(), label, others)

    def _put(
        self, decision: Decision, label: str, others: _Others
    ) -> tuple[Settlement, ApiResponse]:
        payload = decision.payload
        target = decision.mal_id if decision.by_mal_id else decision.anisearch_id
        assert payload is not None and target is not None and decision.key is not None
        key = decision.key
        change = ChangeRecord(
            key,
            Action.UPSERT,
            decision.anisearch_id,
            decision.existed,
            payload,
            by_title=decision.by_title,
        )
        accepted = decision.accepted_body or payload
        uploaded = Settlement(
            key,
            decision.title,
            Outcome.UPLOADED,
            self.run_id,
            payload_hash(accepted),
            accepted,
            written=True,
            change=change,
            list_name=self.owners.get(decision.source),
            others=others,
            **_title_of(decision),
        )
        write = Write(label, uploaded)
        return uploaded, self.session.put_rating(decision.media, target, payload, write)

    def _delete(
        self, decision: Decision, label: str, others: _Others
    ) -> tuple[Settlement, ApiResponse]:
        anisearch_id = decision.anisearch_id
        assert anisearch_id is not None and decision.key is not None
        change = ChangeRecord(
            decision.key, Action.DELETE, anisearch_id, True, None, by_title=decision.by_title
        )
        deleted = Settlement(
            decision.key,
            decision.title,
            Outcome.DELETED,
            self.run_id,
            written=False,
            change=change,
            others=others,
            **_title_of(decision),
        )
        # A 404 settles it too: someone deleted it already, and either way it is gone.
        gone = Write(
            label, deleted, settled_by=frozenset({ResponseMeaning.OK, ResponseMeaning.NOT_FOUND})
        )
        return deleted, self.session.delete_rating(decision.media, anisearch_id, gone)

    def _failed(
        self, decision: Decision, outcome: Outcome, error: str, label: str, others: _Others
    ) -> Settlement:
        assert decision.key is not None
        title = _title_of(decision) if outcome is Outcome.NOT_FOUND else {}
        failed = Settlement(
            decision.key, decision.title, outcome, self.run_id, error=error, others=others, **title
        )
        self.checkpoint.settle(failed)
        log.warning("%s: %s: %s", label, outcome.value, error)
        return failed


_Others = tuple[tuple[EntryKey, str], ...]


def _unknown_title(decision: Decision, response: ApiResponse) -> str:
    if decision.by_mal_id:
        return f"aniSearch does not know MAL id {decision.mal_id} ({response.describe()})"
    where = "aniSearch's MAL links" if decision.id_source is IdSource.MAL_LINKS else "[mappings]"
    return f"aniSearch has no {decision.media.value} with id {decision.anisearch_id} (from {where})"
