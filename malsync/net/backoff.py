"""Retrying what may pass (5xx, timeouts, dropped connections, maintenance pages): one policy
for every service malsync talks to, as `[retry]` sets it, and one loop that also renews a
sign-in once when the service refuses its token."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from malsync.config.settings import RetryOptions

if TYPE_CHECKING:
    from tenacity import RetryCallState, Retrying

log = logging.getLogger(__name__)

AnswerT = TypeVar("AnswerT")
ResultT = TypeVar("ResultT")


class Transient(Exception):
    """Worth another try: 5xx, timeouts, dropped connections, a page that is not the answer."""


def retrying(
    retry: RetryOptions,
    label: str,
    transient: type[BaseException],
    sleep: Callable[[float], None],
) -> Retrying:
    """Exponential backoff with jitter after each `transient` failure, `retry.attempts` tries in
    all; each new try is said in one line. The last failure is raised as it is.

    tenacity is loaded here, by the first run that talks to a service: a dry run without
    sign-in, --help and --version do without it."""
    from tenacity import (
        Retrying,
        retry_if_exception_type,
        stop_after_attempt,
        wait_random_exponential,
    )

    def say_retry(state: RetryCallState) -> None:
        log.info(
            "%s: %s; trying again (%d of %d)",
            label,
            state.outcome.exception() if state.outcome else "failed",
            state.attempt_number + 1,
            retry.attempts,
        )

    def wait(seconds: float) -> None:
        # Slept from malsync's own frame, not tenacity's: SIGTERM and Ctrl-C end a backoff at
        # once there (cli/main.py holds them in a library's code until it returns).
        sleep(seconds)

    return Retrying(
        stop=stop_after_attempt(retry.attempts),
        wait=wait_random_exponential(
            multiplier=retry.initial_wait_seconds, max=retry.max_wait_seconds
        ),
        retry=retry_if_exception_type(transient),
        sleep=wait,
        reraise=True,
        before_sleep=say_retry,
    )


def send_retried(
    retry: RetryOptions,
    label: str,
    sleep: Callable[[float], None],
    send: Callable[[], AnswerT],
    *,
    refused: Callable[[AnswerT], bool],
    renew: Callable[[], bool],
    judge: Callable[[AnswerT], ResultT],
) -> ResultT:
    """`judge` the answer to `send` and return what it makes of it; it raises Transient to try
    again (`retry.attempts` tries in all, with backoff; the last Transient is raised as it is).

    An answer `refused` (a 401: the token is no longer valid) has the sign-in `renew`ed once per
    try and the request sent again, if renewing did anything; `judge` gets the answer after it.
    """

    def attempt() -> ResultT:
        answer = send()
        if refused(answer) and renew():
            answer = send()
        return judge(answer)

    return retrying(retry, label, Transient, sleep)(attempt)
