"""One aniSearch session: every request of a command goes out through it.

It owns the HTTP client, the rate windows, the retries and the token renewal, and it tells the
request log (the checkpoint) of each request as it is sent and as it is answered, so that no
caller can forget to. Its methods return final answers: OK, 404, or another 4xx; what may be
retried is retried here, and what must stop the run raises ServerStop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from malsync.anisearch.client import AniSearchClient, Answer, ApiResponse
from malsync.anisearch.ratelimit import (
    Limiter,
    RateWindow,
    parse_retry_after,
    time_needed,
)
from malsync.auth.tokens import TokenRenewalError
from malsync.config.settings import RetryOptions
from malsync.errors import ConfigError, ServerStop
from malsync.net.backoff import Transient, send_retried
from malsync.net.pacing import format_wait
from malsync.pipeline.records import MediaType, Payload, counted
from malsync.store.checkpoint import Checkpoint, Settlement

log = logging.getLogger(__name__)

# A Retry-After longer than this is not waited out inside a run: the run stops and says when.
_LONGEST_WAIT_SECONDS = 15 * 60

# Told of every wait as it runs down: (seconds left, why); 0 seconds left when it is over.
WaitListener = Callable[[float, str], None]
# Why a request waits, as the bar and -v say it, followed by the time left.
WAIT_FOR_WINDOW = "waiting for aniSearch's limit \u2014 next batch in"
WAIT_AS_ASKED = "aniSearch asked to wait (429) \u2014 next request in"
WAIT_TO_RETRY = "a request failed \u2014 next try in"


# Answers that end a request: the entry's fate is known (accepted, unknown, refused as sent).
_FINAL = frozenset({Answer.OK, Answer.NOT_FOUND, Answer.REJECTED})


class RequestLog(Protocol):
    """Where requests are remembered: their times for the rate window, and what they settled."""

    def request_started(self, kind: str, at: float, intended: Settlement | None = None) -> int: ...

    def request_finished(
        self, request_id: int, at: float, settled: Settlement | None = None
    ) -> None: ...


# Turns a final answer into what the request log stores with it, in the same transaction.
Settle = Callable[[ApiResponse], Settlement | None]


class RequestFailed(Exception):
    """A request that kept failing (5xx, timeouts, dropped connections) after every retry."""

    def __init__(self, response: ApiResponse, tries: int) -> None:
        super().__init__(f"{response.describe()} (gave up after {counted(tries, 'try', 'tries')})")
        self.response = response


class _Transient(Transient):
    def __init__(self, response: ApiResponse) -> None:
        super().__init__(response.message)
        self.response = response


@dataclass
class AniSearchSession:
    client: AniSearchClient
    retry: RetryOptions
    limiters: Mapping[RateWindow, Limiter]
    requests_log: RequestLog | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    wait_listener: WaitListener | None = None
    # Waits are slept in slices this long, so that a countdown moves and Ctrl-C lands at once.
    wait_slice_seconds: float = 0.5

    @property
    def scopes(self) -> frozenset[str] | None:
        return self.client.tokens.scopes

    def close(self) -> None:
        self.client.close()

    def put_rating(
        self,
        media: MediaType,
        item_id: int,
        payload: Payload,
        label: str,
        settle: Settle | None = None,
        intended: Settlement | None = None,
    ) -> ApiResponse:
        """`item_id` is a MAL id when the body says use_myanimelist_id, else aniSearch's id.

        `intended` is what success would settle; its change is recorded before each attempt.
        """
        return self._call(
            RateWindow.PUT,
            lambda: self.client.put_rating(media, item_id, payload),
            label,
            settle,
            intended=intended,
        )

    def delete_rating(
        self,
        media: MediaType,
        anisearch_id: int,
        label: str,
        settle: Settle | None = None,
        intended: Settlement | None = None,
    ) -> ApiResponse:
        return self._call(
            RateWindow.GET_DELETE,
            lambda: self.client.delete_rating(media, anisearch_id),
            label,
            settle,
            intended=intended,
        )

    def get_ratings(self, media: MediaType, label: str) -> ApiResponse:
        """All ratings of a media type; raises ServerStop when it cannot be read at all."""
        try:
            return self._call(
                RateWindow.GET_DELETE, lambda: self.client.get_ratings(media), label, None
            )
        except RequestFailed as failure:
            raise ServerStop(f"{label} failed: {failure}; nothing was sent") from None

    def get_profile(self, label: str) -> ApiResponse:
        """The signed-in account; a 403 here (a token without user.profile) is an answer, not a
        stop: if aniSearch is refusing this address, the next request stops the run."""
        return self._call(
            RateWindow.GET_DELETE,
            self.client.get_profile,
            label,
            None,
            also_final=frozenset({Answer.FORBIDDEN}),
        )

    def pause(self, seconds: float, reason: str) -> None:
        """Sleep `seconds`, telling the listener what is left after each short slice."""
        if seconds <= 0:
            return
        log.debug("%s %s", reason, format_wait(seconds))
        listener = self.wait_listener
        end = self.clock() + seconds
        slept = 0.0
        # Bounded by both the clock and the time slept: a clock that stands still (or jumps
        # back) cannot make a wait endless.
        while (left := min(end - self.clock(), seconds - slept)) > 0:
            if listener is not None:
                listener(left, reason)
            step = min(self.wait_slice_seconds, left)
            self.sleep(step)
            slept += step
        if listener is not None:
            listener(0.0, reason)

    def _wait_for(self, limiter: Limiter, reason: str) -> None:
        while (wait := limiter.delay()) > 0:
            self.pause(wait, reason)

    def eta(self, puts: int, others: int) -> float:
        """Seconds the limits alone need for this many more requests."""
        return time_needed(self.limiters, puts, others)

    def _call(
        self,
        window: RateWindow,
        send: Callable[[], ApiResponse],
        label: str,
        settle: Settle | None,
        also_final: frozenset[Answer] = frozenset(),
        intended: Settlement | None = None,
    ) -> ApiResponse:
        """Send until there is a final answer; raises RequestFailed or ServerStop."""
        try:
            return send_retried(
                self.retry,
                label,
                partial(self.pause, reason=WAIT_TO_RETRY),
                lambda: self._within_limits(window, send, settle, also_final, intended),
                refused=lambda response: response.answer is Answer.UNAUTHORIZED,
                renew=self._renew_token,
                judge=partial(self._final, also_final=also_final),
            )
        except _Transient as failure:
            raise RequestFailed(failure.response, self.retry.attempts) from None

    def _within_limits(
        self,
        window: RateWindow,
        send: Callable[[], ApiResponse],
        settle: Settle | None,
        also_final: frozenset[Answer],
        intended: Settlement | None,
    ) -> ApiResponse:
        """One request after the limiter allows it; 429s are waited out here, within bounds."""
        limiter = self.limiters[window]
        reason = WAIT_FOR_WINDOW
        for _ in range(self.retry.rate_limited_attempts):
            self._wait_for(limiter, reason)
            response, answered_at = self._logged(window, send, settle, also_final, intended)
            if response.answer is not Answer.RATE_LIMITED:
                return response
            self._respect_retry_after(limiter, response.retry_after, answered_at)
            reason = WAIT_AS_ASKED
        raise ServerStop(
            f"aniSearch answered 429 Too Many Requests {self.retry.rate_limited_attempts} times "
            "in a row; another client may be using the same allowance. Run again later."
        )

    def _final(self, response: ApiResponse, also_final: frozenset[Answer]) -> ApiResponse:
        """The answer if it ends the request; else retried (Transient) or the run stops."""
        if response.answer in _FINAL or response.answer in also_final:
            return response
        if response.answer is Answer.TRANSIENT:
            raise _Transient(response)
        raise self._stop(response)

    def _logged(
        self,
        window: RateWindow,
        send: Callable[[], ApiResponse],
        settle: Settle | None,
        also_final: frozenset[Answer],
        intended: Settlement | None,
    ) -> tuple[ApiResponse, float]:
        """Send once, counted in the window and recorded in the request log, with what a final
        answer settles in the same transaction as the answer."""
        limiter = self.limiters[window]
        limiter.acquire()
        log_ = self.requests_log
        request_id = log_.request_started(window.value, self.clock(), intended) if log_ else None
        response = send()
        answered_at = self.clock()
        limiter.record(answered_at)
        if log_ is not None and request_id is not None:
            final = response.answer in _FINAL or response.answer in also_final
            settled = settle(response) if final and settle is not None else None
            log_.request_finished(request_id, answered_at, settled)
        return response, answered_at

    def _stop(self, response: ApiResponse) -> ServerStop:
        """Why the run cannot go on after this answer (401 past renewal, 3xx, 403/423)."""
        if response.answer is Answer.UNAUTHORIZED:
            return ServerStop(
                f"aniSearch refused the access token ({response.describe()}). "
                f"{self.client.tokens.renew_hint}, then run the same command again; "
                "the checkpoint is saved."
            )
        if response.answer is Answer.MOVED:
            return ServerStop(
                f"aniSearch answered {response.describe()}. malsync does not follow it (the "
                "token would go along); if that address is right, set [anisearch] base_url "
                "to it, then run the same command again."
            )
        return ServerStop(
            f"aniSearch answered {response.describe()}. malsync stopped at once: "
            "retrying could get this address blocked. Check [anisearch] contact (it goes "
            "into the User-Agent) and the token's scopes, wait a while, then run the same "
            "command again."
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


class SessionFactory(Protocol):
    """Opens the session a command uses, its rate windows remembering the requests the
    checkpoint holds (None: a dry run without one), with `client` if one was made before (see
    `ClientFactory`); the composition root makes it from the settings."""

    def __call__(
        self, checkpoint: Checkpoint | None, client: AniSearchClient | None = None
    ) -> AniSearchSession: ...


# Makes the client alone, so that a run that could send nothing (no token, no contact, a
# plain-http URL) is refused with ConfigError before it makes any file.
ClientFactory = Callable[[], AniSearchClient]


def check_scopes(scopes: frozenset[str] | None, media: frozenset[MediaType]) -> None:
    """Say up front, not after the first 403, that the token cannot write some media types."""
    if scopes is None:
        return
    missing = sorted({f"ratings.{kind.value}" for kind in media} - scopes)
    if missing:
        raise ConfigError(
            f"the signed-in token lacks the scope {' and '.join(missing)} needed for these "
            "exports; run malsync login again (it asks for ratings.anime, ratings.manga and "
            "user.profile)"
        )
