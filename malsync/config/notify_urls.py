"""[notify] urls: where a run that needs a person sends its message, as Apprise URLs.

An Apprise URL often holds a credential itself (a bot token, a webhook's secret path, a mail
password), so each is kept as a Secret: shown only masked, and every part of it that may be a
credential is blanked from any text malsync shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from malsync.config.values import Table
from malsync.errors import ConfigError
from malsync.redaction import Secret

NOTIFY_URLS_ENV = "MALSYNC_NOTIFY_URLS"
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*", re.IGNORECASE)
# A host name with a dot (or an IP address, or localhost) is an address, not a credential;
# a bot token or webhook id in the host's place has no dots.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(
    rf"(?:localhost|(?:{_LABEL}\.)+[a-z]{{2,63}}|\d{{1,3}}(?:\.\d{{1,3}}){{3}}|\[[0-9a-f:.]+\])"
    r"(?::\d{1,5})?",
    re.IGNORECASE,
)
# Between URLs in the environment: spaces, or a comma before the next scheme://.
_BETWEEN = re.compile(r"\s+|,\s*(?=[a-z][a-z0-9+.-]*://)", re.IGNORECASE)
_APPRISE_EXAMPLE = "such as ntfy://my-topic or mailto://user:password@example.com"


@dataclass(frozen=True)
class NotifyUrl:
    """One Apprise URL; `masked` is what config show and messages may name it by."""

    secret: Secret
    scheme: str
    masked: str

    def reveal(self) -> str:
        return self.secret.reveal()


@dataclass(frozen=True)
class NotifySettings:
    urls: tuple[NotifyUrl, ...] = ()
    origin: str = ""  # where the urls came from, for messages: the environment or the file


def notify_url(text: str, where: str) -> NotifyUrl:
    """One URL, checked for the shape every Apprise URL has; refused without showing it."""
    scheme, separator, rest = text.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme) or not rest or not text.isprintable():
        raise ConfigError(f"{where} is not an Apprise URL {_APPRISE_EXAMPLE} (not shown)")
    if any(char.isspace() for char in text):
        raise ConfigError(f"{where} holds a space, which no Apprise URL has (not shown)")
    secret = Secret(text)
    netloc, _, tail = _split_netloc(rest)
    userinfo, at, host = netloc.rpartition("@")
    address = host if _HOST.fullmatch(host) else ""
    for piece in (userinfo, *userinfo.split(":"), *re.split(r"[/?&=#]", tail)):
        Secret(piece)  # remembered for blanking; short pieces are no credentials
    if not address:
        Secret(host)
    scheme = scheme.lower()
    masked = f"{scheme}://" + ("***@" if at else "") + (address or "***")
    return NotifyUrl(secret, scheme, masked + ("/***" if address and tail.strip("/") else ""))


def _split_netloc(rest: str) -> tuple[str, str, str]:
    match = re.search(r"[/?#]", rest)
    if match is None:
        return rest, "", ""
    return rest[: match.start()], rest[match.start()], rest[match.start() :]


def notify_settings(table: Table, env: Mapping[str, str]) -> NotifySettings:
    """[notify] urls, or MALSYNC_NOTIFY_URLS (spaces or commas between URLs), which wins."""
    value = table.get("urls", object, [])
    table.finish()
    if not isinstance(value, list) or not all(isinstance(each, str) for each in value):
        raise table.fail("urls", 'must be a list of Apprise URLs, as ["ntfy://my-topic"]')
    from_env = env.get(NOTIFY_URLS_ENV, "").strip()
    if from_env:
        texts = [text for text in _BETWEEN.split(from_env) if text]
        urls = [notify_url(text, f"{NOTIFY_URLS_ENV} URL {n}") for n, text in enumerate(texts, 1)]
        return NotifySettings(tuple(urls), NOTIFY_URLS_ENV)
    where = f"{table.origin}: [notify] urls"
    urls = [notify_url(text.strip(), f"{where} entry {n}") for n, text in enumerate(value, 1)]
    return NotifySettings(tuple(urls), "[notify] urls" if urls else "")
