"""Send the planned entries to aniSearch: throttled, retried, checkpointed after every request."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dateutil import parser as date_parser
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from malsync.checkpoint import Checkpoint, Settlement
from malsync.client import AniSearchClient, Answer, ApiResponse
from malsync.config import Settings
from malsync.errors import ExitStatus
from malsync.planner import Outcome, PlanItem, payload_hash
from malsync.records import entry_label
from malsync.report import Report
from malsync.tokens import TokenRenewalError

log = logging.getLogger(__name__)

UPSERT = "upsert"  # the checkpoint's name for PUT requests' rate window
# A Retry-After longer than this is not waited out inside a run: the run stops and says when.
_LONGEST_WAIT_SECONDS = 15 * 60


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


class _Transient(Exception):
    """A retryable failure (5xx, timeout, dropped connection); tenacity retries on it."""

    def __init__(self, response: ApiResponse) -> None:
        super().__init__(response.message)
        self.response = response


class _Stop(Exception):
    """aniSearch refused to go on; no more requests may be sent in this run."""


@dataclass
class Uploader:
    client: AniSearchClient
    checkpoint: Checkpoint
    limiter: Limiter
    settings: Settings
    run_id: int
    progress: Progress = field(default_factory=NoProgress)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def run(self, items: Sequence[PlanItem], files: list[str], dry_run: bool = False) -> Report:
        results = list(items)
        pending = [index for index, item in enumerate(results) if item.outcome is Outcome.PLANNED]
        unchanged = [item.key for item in results if item.outcome is Outcome.UNCHANGED]
        self.checkpoint.mark_unchanged([key for key in unchanged if key is not None], self.run_id)
        self.progress.start(len(pending), len(unchanged))
        report = Report(results, files, dry_run=dry_run)
        try:
            for done, index in enumerate(pending, start=1):
                results[index] = self._upload(results[index])
                eta = self.limiter.eta(len(pending) - done)
                self.progress.advance(results[index].outcome, eta)
        except _Stop as stop:
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
        return report

    def _upload(self, item: PlanItem) -> PlanItem:
        assert item.key is not None and item.payload is not None
        label = entry_label(item.media, item.mal_id, item.title)
        retry = self.settings.retry
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
            response, request_id, answered = retrying(self._attempt, item)
        except _Transient as failure:
            error = f"{_describe(failure.response)} (gave up after {retry.attempts} tries)"
            return self._settle(item, Outcome.FAILED, error, label)

        if response.answer is Answer.OK:
            digest = payload_hash(item.payload)
            self.checkpoint.request_finished(
                request_id,
                answered,
                Settlement(item.key, item.title, Outcome.UPLOADED, self.run_id, digest),
            )
            log.debug("%s: uploaded", label)
            return item.with_outcome(Outcome.UPLOADED)
        self.checkpoint.request_finished(request_id, answered)
        if response.answer is Answer.NOT_FOUND:
            error = f"aniSearch does not know MAL id {item.mal_id} ({_describe(response)})"
            return self._settle(item, Outcome.NOT_FOUND, error, label)
        if response.answer is Answer.REJECTED:
            return self._settle(item, Outcome.FAILED, _describe(response), label)
        if response.answer is Answer.UNAUTHORIZED:
            raise _Stop(
                f"aniSearch refused the access token ({_describe(response)}). "
                f"{self.client.tokens.renew_hint}, then run the same command again; "
                "the checkpoint is saved."
            )
        raise _Stop(
            f"aniSearch answered {_describe(response)}. malsync stopped at once: retrying could "
            "get this address blocked. Check [anisearch] contact (it goes into the User-Agent) "
            "and the token's scopes, wait a while, then run the same command again."
        )

    def _attempt(self, item: PlanItem) -> tuple[ApiResponse, int, float]:
        """One request, after the limiter allows it; 429s are waited out here, within bounds."""
        assert item.payload is not None and item.mal_id is not None
        retry = self.settings.retry
        renewed = False
        rate_limited = 0
        while rate_limited < retry.rate_limited_attempts:
            self.limiter.acquire()
            request_id = self.checkpoint.request_started(UPSERT, self.clock())
            response = self.client.put_rating(item.media, item.mal_id, item.payload)
            answered = self.clock()
            self.limiter.record(answered)
            if response.answer is Answer.TRANSIENT:
                self.checkpoint.request_finished(request_id, answered)
                raise _Transient(response)
            if response.answer is Answer.UNAUTHORIZED and not renewed:
                # Once per request: a stored sign-in renews its token and the request goes again.
                renewed = True
                if self._renew_token():
                    self.checkpoint.request_finished(request_id, answered)
                    continue
            if response.answer is not Answer.RATE_LIMITED:
                return response, request_id, answered
            self.checkpoint.request_finished(request_id, answered)
            rate_limited += 1
            self._respect_retry_after(response.retry_after, answered)
        raise _Stop(
            f"aniSearch answered 429 Too Many Requests {retry.rate_limited_attempts} times in a "
            "row; another client may be using the same allowance. Run again later."
        )

    def _renew_token(self) -> bool:
        try:
            return self.client.tokens.renew()
        except TokenRenewalError as error:
            raise _Stop(str(error)) from None

    def _respect_retry_after(self, header: str | None, now: float) -> None:
        delay = parse_retry_after(header, now)
        if delay is None:
            log.info("aniSearch answered 429 without Retry-After; waiting for the window")
            self.limiter.hold_for_full_window()
            return
        if delay > _LONGEST_WAIT_SECONDS:
            raise _Stop(
                f"aniSearch asks to wait {delay / 60:.0f} minutes before the next request "
                "(429 Retry-After); run the same command again after that."
            )
        log.info("aniSearch answered 429; waiting %.1f s as it asks", delay)
        self.limiter.hold_until(now + delay)

    def _settle(self, item: PlanItem, outcome: Outcome, error: str, label: str) -> PlanItem:
        assert item.key is not None
        self.checkpoint.settle(Settlement(item.key, item.title, outcome, self.run_id, error=error))
        log.warning("%s: %s: %s", label, outcome.value, error)
        return item.with_outcome(outcome, error)


class Limiter(Protocol):
    def acquire(self) -> float: ...

    def record(self, at: float) -> None: ...

    def hold_until(self, moment: float) -> None: ...

    def hold_for_full_window(self) -> None: ...

    def eta(self, remaining: int) -> float: ...


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


def _describe(response: ApiResponse) -> str:
    if response.status is None:
        return response.message
    return f"HTTP {response.status}: {response.message}"
