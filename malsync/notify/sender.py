"""Sending a notice through Apprise, one URL at a time, so that each failure is named.

Apprise is an extra (`pip install 'malsync[notify]'`): imported only when there is something
to send. Nothing here raises for a message that did not go out: the run's outcome is the run's,
and a failed message is one warning line for the caller to show.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from malsync.config.notify_urls import NotifyUrl
from malsync.errors import ConfigError
from malsync.net.address import is_loopback
from malsync.notify.notice import Notice
from malsync.redaction import redact

INSTALL_HINT = "pip install 'malsync[notify]'"


class AppriseMissing(ConfigError):
    """[notify] urls are set but the library that sends to them is not installed."""

    def __init__(self) -> None:
        super().__init__(
            f"sending messages needs Apprise, which is not installed: {INSTALL_HINT} "
            "(or pip install apprise into malsync's environment)"
        )


@dataclass(frozen=True)
class Delivery:
    url: NotifyUrl
    problem: str | None = None  # why it was not sent; None: sent

    def warning(self) -> str:
        where = self.url.masked
        return f"malsync: warning: the message could not be sent to {where}: {self.problem}"


def load_apprise() -> ModuleType:
    try:
        import apprise
    except ImportError:
        raise AppriseMissing from None
    return apprise


def send_notice(urls: Sequence[NotifyUrl], notice: Notice) -> list[Delivery]:
    """Send to every URL; raises AppriseMissing only (before sending anything)."""
    apprise = load_apprise()
    return [_send_one(apprise, url, notice) for url in urls]


def _send_one(apprise: ModuleType, url: NotifyUrl, notice: Notice) -> Delivery:
    service = apprise.Apprise()
    if not service.add(url.reveal()):
        return Delivery(url, "Apprise does not take this URL (see the Apprise wiki for its form)")
    if _unencrypted_elsewhere(service[0]):
        return Delivery(
            url,
            "it is unencrypted and goes to another machine; use the secure form "
            f"({url.scheme}s:// for {url.scheme}://) or a service on this machine",
        )
    with _apprise_log() as said:
        try:
            sent = bool(
                service.notify(
                    body=notice.body, title=notice.title, notify_type=notice.severity.value
                )
            )
        except Exception as error:  # a message must never fail the run, whatever Apprise does
            return Delivery(url, f"Apprise failed ({type(error).__name__})")
    if sent:
        return Delivery(url)
    reason = said[-1] if said else "Apprise gives no reason"
    return Delivery(url, _one_line(reason))


def _unencrypted_elsewhere(plugin: Any) -> bool:
    """Plain http (or SMTP without TLS) to another machine: the house rule allows loopback only.

    A service with an unencrypted form names it as `protocol`; `secure` says which form this is;
    a service without a host of the user's (ntfy's cloud, say) always uses its own https.
    """
    host = str(getattr(plugin, "host", "") or "").strip("[]")
    if not getattr(plugin, "protocol", None) or getattr(plugin, "secure", True) or not host:
        return False
    return not is_loopback(host)


@contextmanager
def _apprise_log() -> Iterator[list[str]]:
    """What Apprise says while sending, kept for one warning line instead of printed as is."""
    said: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    logger = logging.getLogger("apprise")
    handler = Keep(logging.WARNING)
    propagate, level = logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    if not logger.isEnabledFor(logging.WARNING):
        logger.setLevel(logging.WARNING)
    try:
        yield said
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        logger.setLevel(level)


def _one_line(text: str) -> str:
    return redact(re.sub(r"\s+", " ", text).strip())[:200]
