"""Read a whole MAL list live through the MyAnimeList API v2, or fail: never part of one.

One request per 1,000 entries (`limit=1000`, `nsfw=true`, every mapped field named), following
`paging.next` to the end, paced (about one request a second; MAL answers bursts with 403 "DoS
detected"). 5xx, timeouts, dropped connections and pages that are not JSON (MAL's HTML error
pages, even with 200) are retried with the `[retry]` backoff; 403 stops at once. The client id
and tokens go only into request headers, never into a message or a log record. Following the
pages is `mal_paging.py`; what a read gives (the list or its errors) `mal_list.py`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from malsync.auth.providers import MYANIMELIST
from malsync.auth.tokens import TokenRefused, TokenRenewalError, TokenSource
from malsync.config.settings import MAL_ME, MAL_USER_PATTERN, MalSettings, RetryOptions
from malsync.errors import ConfigError, SettingError
from malsync.net.address import check_url
from malsync.net.backoff import Transient, send_retried
from malsync.net.messages import status_and_words
from malsync.net.pacing import SlidingWindow
from malsync.net.transfer import AnswerTooLarge, Bounds, HttpAnswer, json_session, send
from malsync.pipeline.records import ImportedEntry, MediaType, counted
from malsync.redaction import redact
from malsync.sources.mal_api_entries import entry_from_api
from malsync.sources.mal_list import (
    MalList,
    MalListPrivate,
    MalReadError,
    MalRefused,
    MalUserNotFound,
    source_label,
)
from malsync.sources.mal_paging import circle, follow_pages

__all__ = [
    "ME",
    "MalApiReader",
    "MalList",
    "MalListPrivate",
    "MalReadError",
    "MalRefused",
    "MalUserNotFound",
    "entry_from_api",
    "source_label",
]

log = logging.getLogger(__name__)

ME = MAL_ME
# A page holds at most 1,000 entries of about 1 KB: 16 MB is far more than any page needs.
MAX_PAGE_BYTES = 16 * 1024 * 1024


class MalApiReader:
    """Reads whole lists; `tokens` (a MAL sign-in) if given, else the client id."""

    def __init__(
        self,
        settings: MalSettings,
        retry: RetryOptions,
        *,
        tokens: TokenSource | None = None,
        refused: str | None = None,
        contact: str = "",
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_url(settings.api_url, "[myanimelist] api_url")
        if tokens is None and settings.sign_in.client_id is None and refused is None:
            raise SettingError(
                "[myanimelist] client_id is not set (nor MAL_CLIENT_ID): register an API client "
                "at https://myanimelist.net/apiconfig and put its id in the config file, or sign "
                "in with malsync login myanimelist"
            )
        self._settings = settings
        self._retry = retry
        self._tokens = tokens
        self._refused = refused  # why MAL refused the stored sign-in; None: not known so
        self._sleep = sleep
        self._bounds = Bounds.of(retry, MAX_PAGE_BYTES)
        self._session = json_session(MYANIMELIST.user_agent(contact), session)
        # At most one request per `pace_seconds` (from the previous one's answer), retries
        # included, on this reader's clock.
        self._pace = SlidingWindow(1, settings.pace_seconds, clock=clock, sleep=sleep, margin=0.0)
        self._warned = False
        self.requests_sent = 0

    def __enter__(self) -> MalApiReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def read(self, media: MediaType, user: str | None = None) -> MalList:
        """The whole list of `user` (default `[myanimelist] user`), or MalReadError."""
        name = self._user_name(user)
        source = source_label(name)
        before = self.requests_sent
        entries: dict[object, ImportedEntry] = {}
        pages = 0

        def fetch(url: str, first: bool) -> dict[str, Any]:
            return self._fetch(url, media, name, first=first)

        for data, more in follow_pages(self._settings.api_url, media, name, fetch):
            pages += 1
            known = len(entries)
            for item in data:
                entry = entry_from_api(item, media, source)
                # A list edited between two pages can show an entry twice: the later one wins.
                key = entry.mal_id if entry.mal_id is not None else object()
                entries.pop(key, None)
                entries[key] = entry
            if more and len(entries) == known:
                raise circle(name, media, "adds no entry not seen before")
        log.info(
            "read %s of %s from MAL in %s",
            counted(len(entries), f"{media.value} entry", f"{media.value} entries"),
            name,
            counted(pages, "page"),
        )
        return MalList(
            media, name, source, tuple(entries.values()), pages, self.requests_sent - before
        )

    def _user_name(self, user: str | None) -> str:
        name = (user if user is not None else self._settings.user).strip()
        name = ME if name.lower() == ME else name
        if not name:
            raise SettingError(
                "no MAL user to read: give --mal-user NAME (or @me) or set [myanimelist] user"
            )
        if name != ME and not MAL_USER_PATTERN.fullmatch(name):
            raise ConfigError(f"{name!r} is not a MAL user name")
        if self._tokens is None:
            self._without_sign_in(name)
        return name

    def _without_sign_in(self, name: str) -> None:
        """Without the sign-in only a named list can be read, with the client id."""
        refused = self._refused
        if refused is not None and (name == ME or self._settings.sign_in.client_id is None):
            needs = "@me needs" if name == ME else "no client id is set, so reading needs"
            raise MalReadError(
                f"MAL could not be read: {needs} the MyAnimeList sign-in, which MyAnimeList "
                f"refused ({refused}); run malsync login myanimelist again"
            )
        if name == ME:
            raise MalListPrivate(
                "MAL could not be read: @me needs a sign-in; run malsync login myanimelist"
            )
        if refused is not None and not self._warned:
            self._warned = True
            log.warning(
                "the MyAnimeList sign-in was refused; reading %s's public list with the client "
                "id \u2014 run malsync login myanimelist for a private list",
                name,
            )

    def _drop_sign_in(self, refused: TokenRefused, user: str) -> None:
        """MAL refused to renew the sign-in: go on with the client id if that can read `user`."""
        self._tokens, self._refused = None, refused.reason
        self._without_sign_in(user)

    def _fetch(self, url: str, media: MediaType, user: str, *, first: bool) -> dict[str, Any]:
        retry = self._retry
        offset = parse_qs(urlsplit(url).query).get("offset", ["0"])[0]
        where = f"{user}'s {media.value} list from entry {offset}"
        try:
            return send_retried(
                retry,
                f"MAL, {where}",
                self._sleep,
                lambda: self._send(url, user, f"{user}'s {media.value} list"),
                refused=lambda response: response.status_code == 401 and self._tokens is not None,
                renew=lambda: self._renew(user),
                judge=lambda response: self._answer(response, user, media, first),
            )
        except Transient as failure:
            raise MalReadError(
                f"MAL could not be read: {where} failed ({failure}; gave up after "
                f"{retry.attempts} tries); nothing of the {media.value} list is used"
            ) from None

    def _send(self, url: str, user: str, what: str) -> HttpAnswer:
        with self._pace.request():  # the next one is spaced from this one's answer
            headers = self._auth_headers(user)
            self.requests_sent += 1
            return self._get(url, headers, what)

    def _get(self, url: str, headers: dict[str, str], what: str) -> HttpAnswer:
        try:
            return send(self._session, "GET", url, self._bounds, headers=headers)
        except AnswerTooLarge as error:
            raise MalReadError(
                f"MAL could not be read: {what} ({error}); nothing of it is used"
            ) from None
        except requests.Timeout:
            raise Transient("no answer in time") from None
        except requests.ConnectionError:
            raise Transient("the connection failed or was dropped") from None
        except requests.RequestException as error:
            raise Transient(redact(type(error).__name__)) from None

    def account_name(self) -> str:
        """The name of the account signed in (`GET /users/@me`): a list read as @me is known
        by its owner's name, so that signing in as another account reads another list."""
        what = "which account is signed in (@me)"
        try:
            return send_retried(
                self._retry,
                f"MAL, {what}",
                self._sleep,
                lambda: self._send(f"{self._settings.api_url}/users/{ME}", ME, what),
                refused=lambda response: response.status_code == 401 and self._tokens is not None,
                renew=lambda: self._renew(ME),
                judge=lambda response: _account_name(response, what),
            )
        except Transient as failure:
            raise MalReadError(
                f"MAL could not be read: {what} failed ({failure}; gave up after "
                f"{self._retry.attempts} tries); nothing was sent"
            ) from None

    def _auth_headers(self, user: str) -> dict[str, str]:
        if self._tokens is not None:
            try:
                token = self._tokens.current()
            except TokenRefused as refused:
                self._drop_sign_in(refused, user)
            except TokenRenewalError as error:
                raise MalReadError(f"MAL could not be read: {error}") from None
            else:
                return {"Authorization": f"Bearer {token.reveal()}"}
        assert self._settings.sign_in.client_id is not None  # checked in __init__
        return {"X-MAL-CLIENT-ID": self._settings.sign_in.client_id.reveal()}

    def _renew(self, user: str) -> bool:
        assert self._tokens is not None
        try:
            return self._tokens.renew()
        except TokenRefused as refused:
            self._drop_sign_in(refused, user)
            return True  # again, with the client id
        except TokenRenewalError as error:
            raise MalReadError(f"MAL could not be read: {error}") from None

    def _answer(
        self, response: HttpAnswer, user: str, media: MediaType, first: bool
    ) -> dict[str, Any]:
        status = response.status_code
        if status == 200:
            body = _json_or_none(response)
            if isinstance(body, dict) and isinstance(body.get("data"), list):
                return body
            raise Transient("the answer was not the list (an HTML page or other non-JSON)")
        message = status_and_words(response)
        if response.moved_to is not None:
            raise MalReadError(
                f"MAL could not be read: it answered {message}, moved permanently to "
                f"{response.moved_to}; malsync does not follow it (the sign-in would go along). "
                "If that address is right, set [myanimelist] api_url to it"
            )
        if status >= 500 or status in (408, 429):
            raise Transient(message)
        if status in (401, 403):
            raise self._refusal(status, message, user, media, first)
        if status == 404 and first:  # later, the user was there: a 404 is a failed read
            raise MalUserNotFound(f"MAL could not be read: it knows no user {user!r} ({message})")
        raise MalReadError(
            f"MAL could not be read: {user}'s {media.value} list ({message}); nothing of it is used"
        )

    def _refusal(
        self, status: int, message: str, user: str, media: MediaType, first: bool
    ) -> MalReadError:
        dos = "dos" in message.lower()
        if "invalid_client" in message:
            return MalReadError(
                f"MAL could not be read: it does not accept the client id ({message}); check "
                "[myanimelist] client_id or MAL_CLIENT_ID"
            )
        if first and not dos and (self._tokens is None or status == 403):
            # MAL does not say which of 401 and 403 a private list gets: both are taken so.
            return MalListPrivate(
                f"MAL could not be read: {user}'s {media.value} list is private ({message}); "
                "run malsync login myanimelist as its owner, then read it as --mal-user @me"
            )
        if status == 401:
            return MalReadError(
                f"MAL could not be read: it refused the sign-in ({message}); "
                "run malsync login myanimelist again"
            )
        named = "" if dos else "; MAL calls this 'DoS detected'"
        return MalRefused(
            f"MAL could not be read: it refused the request ({message}{named}). malsync "
            "stopped at once, as retrying could get this address "
            "banned; wait a while, keep [myanimelist] pace_seconds at 1 or more, then run again"
        )


def _json_or_none(response: HttpAnswer) -> object:
    """The decoded body, or None for one that is not JSON (MAL's maintenance pages are HTML)."""
    try:
        return response.json()
    except ValueError:
        return None


def _account_name(response: HttpAnswer, what: str) -> str:
    status = response.status_code
    if status == 200:
        body = _json_or_none(response)
        name = body.get("name") if isinstance(body, dict) else None
        if isinstance(name, str) and MAL_USER_PATTERN.fullmatch(name):
            return name
        raise Transient("the answer named no MAL user")
    message = status_and_words(response)
    if status >= 500 or status in (408, 429):
        raise Transient(message)
    failure = MalRefused if status == 403 else MalReadError
    raise failure(f"MAL could not be read: it did not say {what} ({message}); nothing was sent")
