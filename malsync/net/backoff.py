"""Retrying what may pass (5xx, timeouts, dropped connections, maintenance pages): one policy
for every service malsync talks to, as `[retry]` sets it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from malsync.config.settings import RetryOptions

log = logging.getLogger(__name__)


def retrying(
    retry: RetryOptions,
    label: str,
    transient: type[BaseException],
    sleep: Callable[[float], None],
) -> Retrying:
    """Exponential backoff with jitter after each `transient` failure, `retry.attempts` tries in
    all; each new try is said in one line. The last failure is raised as it is."""

    def say_retry(state: RetryCallState) -> None:
        log.info(
            "%s: %s; trying again (%d of %d)",
            label,
            state.outcome.exception() if state.outcome else "failed",
            state.attempt_number + 1,
            retry.attempts,
        )

    return Retrying(
        stop=stop_after_attempt(retry.attempts),
        wait=wait_random_exponential(
            multiplier=retry.initial_wait_seconds, max=retry.max_wait_seconds
        ),
        retry=retry_if_exception_type(transient),
        sleep=sleep,
        reraise=True,
        before_sleep=say_retry,
    )
