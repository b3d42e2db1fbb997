"""One aniSearch session: every request of a command goes out through it.

It waits for the rate windows, retries what may pass, waits out 429s as Retry-After asks and
renews the token once after a 401. Two collaborators do the rest: the journal tells the
checkpoint of each request as it is sent and as it is answered (so that no caller can forget
to), and the countdown sleeps every wait in slices its listener (the progress bar) is told of.
Its methods return final answers: OK, 404, or another 4xx; what must stop the run raises
ServerStop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol

from malsync.anisearch.answers import ApiResponse, ResponseMeaning
from malsync.anisearch.journal import ENDING_MEANINGS, RequestJournal, Write
from malsync.anisearch.ratelimit import (
    Limiter,
    RateWindow,
    respect_retry_after,
    time_needed,
)
from malsync.auth.tokens import TokenRenewalError
from malsync.config.settings import RetryOptions
from malsync.errors import ConfigError, ServerStop
from malsync.net.backoff import Transient, send_retried
from malsync.net.pacing import Countdown
from malsync.pipeline.records import MediaType, Payload, counted

if TYPE_CHECKING:  # the HTTP client is given to the session, made by the composition root
    from malsync.anisearch.client import AniSearchClient
    from malsync.store.checkpoint import Checkpoint  # the command's, if it has one

log = logging.getLogger(__name__)

# Why a request waits, as the bar and -v say it, followed by the time left.
WAIT_FOR_WINDOW = "waiting for aniSearch's limit \u2014 next batch in"
WAIT_AS_ASKED = "aniSearch asked to wait (429) \u2014 next request in"
WAIT_TO_RETRY = "a request failed \u2014 next try in"


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
    journal: RequestJournal = field(default_factory=RequestJournal)
    countdown: Countdown = field(default_factory=Countdown)
    clock: Callable[[], float] = time.time

    @property
    def scopes(self) -> frozenset[str] | None:
        return self.client.tokens.scopes

    def close(self) -> None:
        self.client.close()

    def put_rating(
        self, media: MediaType, item_id: int, payload: Payload, write: Write
    ) -> ApiResponse:
        """`item_id` is a MAL id when the body says use_myanimelist_id, else aniSearch's id."""
        send = partial(self.client.put_rating, media, item_id, payload)
        return self._call(RateWindow.UPSERT, send, write.label, write)

    def delete_rating(self, media: MediaType, anisearch_id: int, write: Write) -> ApiResponse:
        send = partial(self.client.delete_rating, media, anisearch_id)
        return self._call(RateWindow.READ, send, write.label, write)

    def get_ratings(self, media: MediaType, label: str) -> ApiResponse:
        """All ratings of a media type; raises ServerStop when it cannot be read at all."""
        try:
            return self._call(RateWindow.READ, partial(self.client.get_ratings, media), label)
        except RequestFailed as failure:
            raise ServerStop(f"{label} failed: {failure}; nothing was sent") from None

    def get_profile(self, label: str) -> ApiResponse:
        """The signed-in account; a 403 here (a token without user.profile) is an answer, not a
        stop: if aniSearch is refusing this address, the next request stops the run."""
        forbidden_ends = frozenset({ResponseMeaning.FORBIDDEN})
        return self._call(RateWindow.READ, self.client.get_profile, label, None, forbidden_ends)

    def eta(self, puts: int, others: int) -> float:
        """Seconds the limits alone need for this many more requests."""
        return time_needed(self.limiters, puts, others)

    def _call(
        self,
        window: RateWindow,
        send: Callable[[], ApiResponse],
        label: str,
        write: Write | None = None,
        also_final: frozenset[ResponseMeaning] = frozenset(),
    ) -> ApiResponse:
        """Send until there is a final answer; raises RequestFailed or ServerStop."""
        try:
            return send_retried(
                self.retry,
                label,
                partial(self.countdown.pause, reason=WAIT_TO_RETRY),
                lambda: self._within_limits(window, send, write),
                refused=lambda response: response.meaning is ResponseMeaning.UNAUTHORIZED,
                renew=self._renew_token,
                judge=partial(self._final, also_final=also_final),
            )
        except _Transient as failure:
            raise RequestFailed(failure.response, self.retry.attempts) from None

    def _within_limits(
        self, window: RateWindow, send: Callable[[], ApiResponse], write: Write | None
    ) -> ApiResponse:
        """One request after the limiter allows it; 429s are waited out here, within bounds."""
        limiter = self.limiters[window]
        reason = WAIT_FOR_WINDOW
        for _ in range(self.retry.rate_limited_attempts):
            while (wait := limiter.delay()) > 0:
                self.countdown.pause(wait, reason)
            response, answered_at = self._journaled(window, send, write)
            if response.meaning is not ResponseMeaning.RATE_LIMITED:
                return response
            respect_retry_after(limiter, response.retry_after, answered_at)
            reason = WAIT_AS_ASKED
        raise ServerStop(
            f"aniSearch answered 429 Too Many Requests {self.retry.rate_limited_attempts} times "
            "in a row; another client may be using the same allowance. Run again later."
        )

    def _journaled(
        self, window: RateWindow, send: Callable[[], ApiResponse], write: Write | None
    ) -> tuple[ApiResponse, float]:
        """Send once, counted in the window, told to the journal as it goes and as it is
        answered (what the answer settles in the same transaction)."""
        # Counted in the window while it is out and from its answer after; in the checkpoint
        # from its send until its answer is stored, so that a kill between still counts it.
        with self.limiters[window].request():
            sent = self.journal.started(window, self.clock(), write)
            response = send()
            answered_at = self.clock()
        self.journal.answered(sent, response, answered_at)
        return response, answered_at

    def _final(self, response: ApiResponse, also_final: frozenset[ResponseMeaning]) -> ApiResponse:
        """The answer if it ends the request; else retried (Transient) or the run stops."""
        if response.meaning in ENDING_MEANINGS or response.meaning in also_final:
            return response
        if response.meaning is ResponseMeaning.TRANSIENT:
            raise _Transient(response)
        raise self._stop(response)

    def _stop(self, response: ApiResponse) -> ServerStop:
        """Why the run cannot go on after this answer (401 past renewal, 3xx, 403/423)."""
        if response.meaning is ResponseMeaning.UNAUTHORIZED:
            return ServerStop(
                f"aniSearch refused the access token ({response.describe()}). "
                f"{self.client.tokens.renew_hint}, then run the same command again; "
                "the checkpoint is saved."
            )
        if response.meaning is ResponseMeaning.MOVED:
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


class SessionFactory(Protocol):
    """Opens the session a command uses, its rate windows remembering the requests the
    checkpoint holds (None: a dry run without one), with `client` if one was made before (see
    `ClientFactory`); the composition root makes it from the settings."""

    def __call__(
        self, checkpoint: Checkpoint | None, client: AniSearchClient | None = None
    ) -> AniSearchSession: ...


# Makes the client alone, so that a run that could send nothing (no token, no contact, a
# plain-http URL) is refused with ConfigError before it makes any file.
ClientFactory = Callable[[], "AniSearchClient"]


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
