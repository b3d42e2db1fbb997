"""Requests to aniSearch, throttled, retried and checkpointed; and the run that sends the plan.

`ApiCaller` is the one way any request goes out (reads, writes, deletes, restores): it waits for
the rate window, retries what may be retried, renews the token once after a 401 and stops the
run where aniSearch asks it to. `Uploader` sends a plan's entries through it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dateutil import parser as date_parser
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from malsync.checkpoint import ChangeRecord, Checkpoint, Settlement
from malsync.client import AniSearchClient, Answer, ApiResponse
from malsync.config import RetryOptions
from malsync.errors import ExitStatus, ServerStop
from malsync.planner import Action, Outcome, PlanItem, payload_hash
from malsync.records import entry_label
from malsync.report import Report
from malsync.tokens import TokenRenewalError

log = logging.getLogger(__name__)

# The checkpoint's names for the two rate windows: PUT, and GET/DELETE.
UPSERT = "upsert"
READ = "read"
# A Retry-After longer than this is not waited out inside a run: the run stops and says when.
_LONGEST_WAIT_SECONDS = 15 * 60


class Limiter(Protocol):
    def acquire(self) -> float: ...

    def record(self, at: float) -> None: ...

    def hold_until(self, moment: float) -> None: ...

    def hold_for_full_window(self) -> None: ...

    def eta(self, remaining: int) -> float: ...


class Progress(Protocol):
    """Where the uploader reports progress; the CLI shows it, tests and -q ignore it."""

    def start(self, total: int, unchanged: int) -> None: ...

    def advance(self, outcome: Outcome, eta_seconds: float) -> None: ...

    def close(self) -> None: ...


class NoProgress:
    def start(self, total: int, unchanged: int) -> None:
        pass

    def advance(self, outcome: Outcome, eta_seconds: float) -> None:
        pass

    def close(self) -> None:
        pass


class RequestFailed(Exception):
    """A request that kept failing (5xx, timeouts, dropped connections) after every retry."""

    def __init__(self, response: ApiResponse, tries: int) -> None:
        super().__init__(f"{describe(response)} (gave up after {tries} tries)")
        self.response = response


class _Transient(Exception):
    def __init__(self, response: ApiResponse) -> None:
        super().__init__(response.message)
        self.response = response


@dataclass(frozen=True)
class Answered:
    """A final answer (OK, 404 or another 4xx), with its request still open in the checkpoint."""

    response: ApiResponse
    request_id: int | None
    at: float


@dataclass
class ApiCaller:
    client: AniSearchClient
    retry: RetryOptions
    limiters: Mapping[str, Limiter]
    checkpoint: Checkpoint | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def call(self, kind: str, send: Callable[[], ApiResponse], label: str) -> Answered:
        """Send until there is a final answer; raises RequestFailed or ServerStop."""
        retry = self.retry
        retrying = Retrying(
            stop=stop_after_attempt(retry.attempts),
            wait=wait_random_exponential(
                multiplier=retry.initial_wait_seconds, max=retry.max_wait_seconds
            ),
            retry=retry_if_exception_type(_Transient),
            sleep=self.sleep,
            reraise=True,
            before_sleep=lambda state: log.info(
                "%s: %s; trying again (%d of %d)",
                label,
                state.outcome.exception() if state.outcome else "failed",
                state.attempt_number + 1,
                retry.attempts,
            ),
        )
        try:
            return retrying(self._attempt, kind, send)
        except _Transient as failure:
            raise RequestFailed(failure.response, retry.attempts) from None

    def finish(self, answered: Answered, settled: Settlement | None = None) -> None:
        """Close the request in the checkpoint, with the entry's fate in the same transaction."""
        if self.checkpoint is not None and answered.request_id is not None:
            self.checkpoint.request_finished(answered.request_id, answered.at, settled)

    def _attempt(self, kind: str, send: Callable[[], ApiResponse]) -> Answered:
        """One request after the limiter allows it; 429s are waited out here, within bounds."""
        limiter = self.limiters[kind]
        renewed = False
        rate_limited = 0
        while rate_limited < self.retry.rate_limited_attempts:
            limiter.acquire()
            started = self.clock()
            request_id = self.checkpoint.request_started(kind, started) if self.checkpoint else None
            response = send()
            answered = Answered(response, request_id, self.clock())
            limiter.record(answered.at)
            answer = response.answer
            if answer in (Answer.OK, Answer.NOT_FOUND, Answer.REJECTED):
                return answered
            self.finish(answered)
            if answer is Answer.TRANSIENT:
                raise _Transient(response)
            if answer is Answer.UNAUTHORIZED:
                # Once per request: a stored sign-in renews its token and the request goes again.
                if not renewed and self._renew_token():
                    renewed = True
                    continue
                raise ServerStop(
                    f"aniSearch refused the access token ({describe(response)}). "
                    f"{self.client.tokens.renew_hint}, then run the same command again; "
                    "the checkpoint is saved."
                )
            if answer is Answer.FORBIDDEN:
                raise ServerStop(
                    f"aniSearch answered {describe(response)}. malsync stopped at once: retrying "
                    "could get this address blocked. Check [anisearch] contact (it goes into the "
                    "User-Agent) and the token's scopes, wait a while, then run the same command "
                    "again."
                )
            rate_limited += 1
            self._respect_retry_after(limiter, response.retry_after, answered.at)
        raise ServerStop(
            f"aniSearch answered 429 Too Many Requests {self.retry.rate_limited_attempts} times "
            "in a row; another client may be using the same allowance. Run again later."
        )

    def _renew_token(self) -> bool:
        try:
            return self.client.tokens.renew()
        except TokenRenewalError as error:
            raise ServerStop(str(error)) from None

    def _respect_retry_after(self, limiter: Limiter, header: str | None, now: float) -> None:
        delay = parse_retry_after(header, now)
        if delay is None:
            log.info("aniSearch answered 429 without Retry-After; waiting for the window")
            limiter.hold_for_full_window()
            return
        if delay > _LONGEST_WAIT_SECONDS:
            raise ServerStop(
                f"aniSearch asks to wait {delay / 60:.0f} minutes before the next request "
                "(429 Retry-After); run the same command again after that."
            )
        log.info("aniSearch answered 429; waiting %.1f s as it asks", delay)
        limiter.hold_until(now + delay)


@dataclass
class Uploader:
    caller: ApiCaller
    checkpoint: Checkpoint
    run_id: int
    progress: Progress = field(default_factory=NoProgress)

    def run(self, report: Report) -> None:
        """Send every planned item; the report's items are replaced by their outcomes."""
        results = report.items
        pending = [index for index, item in enumerate(results) if item.outcome is Outcome.PLANNED]
        self._settle_without_requests(results)
        unchanged = sum(1 for item in results if item.outcome is Outcome.UNCHANGED)
        self.progress.start(len(pending), unchanged)
        upserts = sum(1 for index in pending if results[index].action is Action.UPSERT)
        deletes = len(pending) - upserts
        try:
            for index in pending:
                item = results[index]
                results[index] = self._send(item)
                if item.action is Action.UPSERT:
                    upserts -= 1
                else:
                    deletes -= 1
                eta = self.caller.limiters[UPSERT].eta(upserts) + self.caller.limiters[READ].eta(
                    deletes
                )
                self.progress.advance(results[index].outcome, eta)
        except ServerStop as stop:
            report.stopped = str(stop)
            report.stopped_status = ExitStatus.SERVER_STOPPED
        except KeyboardInterrupt:
            report.stopped = (
                "interrupted; the checkpoint is saved: run the same command again to resume"
            )
            report.stopped_status = ExitStatus.INTERRUPTED
        finally:
            self.progress.close()
        if report.stopped:
            for index in pending:
                if results[index].outcome is Outcome.PLANNED:
                    results[index] = results[index].with_outcome(
                        Outcome.PLANNED, "not sent: the run stopped before it"
                    )

    def _settle_without_requests(self, items: Sequence[PlanItem]) -> None:
        """Record what this run decided without a request: unchanged, kept, already deleted."""
        settlements = []
        for item in items:
            if item.key is None:
                continue
            if item.outcome is Outcome.UNCHANGED and item.payload is not None:
                settlements.append(
                    Settlement(
                        item.key,
                        item.title,
                        Outcome.UNCHANGED,
                        self.run_id,
                        payload_hash(item.payload),
                    )
                )
            elif item.outcome is Outcome.KEPT:
                settlements.append(Settlement(item.key, item.title, Outcome.KEPT, self.run_id))
            elif item.outcome is Outcome.DELETED:
                settlements.append(
                    Settlement(item.key, item.title, Outcome.DELETED, self.run_id, written=False)
                )
        if settlements:
            self.checkpoint.settle_many(settlements)

    def _send(self, item: PlanItem) -> PlanItem:
        assert item.key is not None and item.mal_id is not None
        label = entry_label(item.media, item.mal_id, item.title)
        if item.action is Action.DELETE:
            return self._delete(item, label)
        assert item.payload is not None
        payload = item.payload
        target = item.mal_id if item.by_mal_id else item.anisearch_id
        assert target is not None
        try:
            answered = self.caller.call(
                UPSERT, lambda: self.caller.client.put_rating(item.media, target, payload), label
            )
        except RequestFailed as failure:
            return self._settle(item, Outcome.FAILED, str(failure), label)
        answer = answered.response.answer
        if answer is Answer.OK:
            change = ChangeRecord(item.key, "upsert", item.anisearch_id, item.existed, payload)
            self.caller.finish(
                answered,
                Settlement(
                    item.key,
                    item.title,
                    Outcome.UPLOADED,
                    self.run_id,
                    payload_hash(payload),
                    written=True,
                    change=change,
                ),
            )
            log.debug("%s: uploaded", label)
            return item.with_outcome(Outcome.UPLOADED)
        self.caller.finish(answered)
        if answer is Answer.NOT_FOUND:
            if item.by_mal_id:
                error = (
                    f"aniSearch does not know MAL id {item.mal_id} ({describe(answered.response)})"
                )
            else:
                error = f"aniSearch has no {item.media.value} with id {target} (from [mappings])"
            return self._settle(item, Outcome.NOT_FOUND, error, label)
        return self._settle(item, Outcome.FAILED, describe(answered.response), label)

    def _delete(self, item: PlanItem, label: str) -> PlanItem:
        assert item.key is not None and item.anisearch_id is not None
        anisearch_id = item.anisearch_id
        try:
            answered = self.caller.call(
                READ, lambda: self.caller.client.delete_rating(item.media, anisearch_id), label
            )
        except RequestFailed as failure:
            return self._settle(item, Outcome.FAILED, str(failure), label)
        if answered.response.answer is Answer.REJECTED:
            self.caller.finish(answered)
            return self._settle(item, Outcome.FAILED, describe(answered.response), label)
        # 404: someone removed it already; either way it is gone now.
        change = ChangeRecord(item.key, "delete", anisearch_id, True, None)
        self.caller.finish(
            answered,
            Settlement(
                item.key, item.title, Outcome.DELETED, self.run_id, written=False, change=change
            ),
        )
        log.info("%s: deleted on aniSearch", label)
        return item.with_outcome(Outcome.DELETED)

    def _settle(self, item: PlanItem, outcome: Outcome, error: str, label: str) -> PlanItem:
        assert item.key is not None
        self.checkpoint.settle(Settlement(item.key, item.title, outcome, self.run_id, error=error))
        log.warning("%s: %s: %s", label, outcome.value, error)
        return item.with_outcome(outcome, error)


def parse_retry_after(header: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = date_parser.parse(value)
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return max(0.0, moment.timestamp() - now)


def describe(response: ApiResponse) -> str:
    if response.status is None:
        return response.message
    return f"HTTP {response.status}: {response.message}"
