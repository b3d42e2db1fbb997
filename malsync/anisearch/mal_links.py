"""aniSearch's MAL links for a run: the kept copy while it is fresh, else one download, else the
older copy, else none.

aniSearch's Database API (`GET /v1/{anime|manga}/associated?source=myanimelist`) says which of
its titles each MAL id is. It allows one request per media type a day (an hour with a Database
API token), so malsync asks only when its copy is older than that and it has not asked inside
the window since: a request the server answered counts, even a refused one (a 429, a 5xx, an
unusable body), so a failing server is not asked again every run; one that never reached it
(no connection, a timeout) or was refused for its User-Agent or token (which the limit does not
count) does not. A failed download uses the older copy and says how old it is, in one line;
without any copy the run goes on as without the links (titles by MAL id), with one warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import requests

from malsync.anisearch.client import cause_of
from malsync.anisearch.link_lookup import LinkLookup, LinkSource, copy_note
from malsync.anisearch.ratelimit import parse_retry_after
from malsync.config.settings import DATABASE_TOKEN_ENV, AniSearchSettings, RetryOptions
from malsync.net.address import check_url, user_agent
from malsync.net.backoff import retrying
from malsync.net.messages import status_and_words
from malsync.net.transfer import AnswerTooLarge, Bounds, HttpAnswer, json_session, send
from malsync.pipeline.records import MediaType, counted
from malsync.store.mal_links_cache import (
    MAX_LINKS_BYTES,
    LastRequest,
    LinkCache,
    LinksUnusable,
    MalLinks,
    decode_links,
    describe_age,
)

log = logging.getLogger(__name__)

# aniSearch's documented limit: one request per media type per window.
ANONYMOUS_WINDOW_SECONDS = 86_400.0
TOKEN_WINDOW_SECONDS = 3_600.0
# A Retry-After beyond this is taken as this: a bad header must not silence the links for good.
_LONGEST_RETRY_AFTER = 7 * 86_400.0
_NOT_COUNTED = (401, 403, 423)  # refused for the token or the User-Agent: the limit ignores it


class _Failed(Exception):
    """A download that gave no links: why, whether the limit counts it, how long to wait."""

    def __init__(self, why: str, *, counted: bool, wait: float | None = None) -> None:
        super().__init__(why)
        self.counted = counted
        self.wait = wait


class _Transient(_Failed):
    """Worth another try now, as the shared retry policy says: 5xx, timeouts, no connection."""


class MalLinksSource:
    """Looks up each media type's links: construct once per run, `lookup` each media type.

    Raises ConfigError at construction (before anything is sent) for a URL that is not https
    (or loopback) and for a missing contact, which the User-Agent must name.
    """

    def __init__(
        self,
        api: AniSearchSettings,
        contact: str,
        retry: RetryOptions,
        cache: LinkCache,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        check_url(api.base_url, "[anisearch] base_url")
        self._api = api
        self._retry = retry
        self.cache = cache
        self._clock = clock
        self._sleep = sleep
        self._bounds = Bounds.of(retry, MAX_LINKS_BYTES)
        self._session = json_session(user_agent(contact), session)

    @property
    def window_seconds(self) -> float:
        """How often aniSearch allows the links to be asked for, with these settings."""
        return TOKEN_WINDOW_SECONDS if self._api.database_token else ANONYMOUS_WINDOW_SECONDS

    def close(self) -> None:
        self._session.close()

    def lookup(self, media: MediaType) -> LinkLookup:
        """This run's links for `media`: never more than one request, none inside the limit."""
        if not self._api.use_mal_links:
            return LinkLookup(media, LinkSource.OFF)
        now = self._clock()
        kept = self._kept(media)
        allowed_at = self._allowed_at(media, kept, now)
        if now < allowed_at:
            if kept is not None and now - kept.fetched_at < self.window_seconds:
                note = f"aniSearch's MAL links for {media.value}: {copy_note(kept, now)}"
                log.info("%s.", note)
                return LinkLookup(media, LinkSource.CACHED, kept, note)
            why = f"aniSearch allows the next request in {describe_age(allowed_at - now)}"
            return self._fallback(media, kept, why, now)
        try:
            links = self._download(media, now)
        except _Failed as failure:
            if failure.counted:
                wait = min(failure.wait or self.window_seconds, _LONGEST_RETRY_AFTER)
                self._note(media, LastRequest(now, now + wait))
            return self._fallback(media, kept, str(failure), now)
        self._note(media, LastRequest(now))
        self._keep(links)
        linked = counted(len(links.table), "MAL id")
        note = f"aniSearch's MAL links for {media.value}: downloaded, {linked} linked"
        log.info("%s.", note)
        return LinkLookup(media, LinkSource.DOWNLOADED, links, note)

    def _kept(self, media: MediaType) -> MalLinks | None:
        try:
            return self.cache.read(media)
        except LinksUnusable as error:
            log.warning("%s; the links are asked for anew.", error)
            return None

    def _allowed_at(self, media: MediaType, kept: MalLinks | None, now: float) -> float:
        """When the limit allows the next request; a time in the future is read as now (a clock
        set back must not silence the links for as long)."""
        window = self.window_seconds
        moments = [min(kept.fetched_at, now) + window] if kept is not None else []
        last = self.cache.last_request(media)
        if last is not None:
            longest = now + _LONGEST_RETRY_AFTER
            moments += [min(last.asked_at, now) + window, min(last.not_before, longest)]
        return max(moments, default=0.0)

    def _fallback(
        self, media: MediaType, kept: MalLinks | None, why: str, now: float
    ) -> LinkLookup:
        if kept is not None:
            note = f"aniSearch's MAL links for {media.value}: {why}; {copy_note(kept, now)}"
            log.warning("%s.", note)
            return LinkLookup(media, LinkSource.OLDER_COPY, kept, note)
        note = (
            f"aniSearch's MAL links for {media.value}: {why}, and there is no copy yet; "
            f"{media.value} titles are sent by their MAL id, as without the links"
        )
        log.warning("%s.", note)
        return LinkLookup(media, LinkSource.NONE, None, note)

    def _note(self, media: MediaType, request: LastRequest) -> None:
        try:
            self.cache.note_request(media, request)
        except OSError as error:
            log.warning(
                "Could not note the request for aniSearch's MAL links in %s (%s).",
                self.cache.request_path(media),
                error.strerror,
            )

    def _keep(self, links: MalLinks) -> None:
        try:
            self.cache.write(links)
        except OSError as error:
            log.warning(
                "Could not keep aniSearch's MAL links in %s (%s); this run uses them all the same.",
                self.cache.links_path(links.media),
                error.strerror,
            )

    def _download(self, media: MediaType, now: float) -> MalLinks:
        url = f"{self._api.base_url}/{media.value}/associated?source=myanimelist&gzip"
        headers = {}
        if self._api.database_token is not None:
            headers["Authorization"] = f"Bearer {self._api.database_token.reveal()}"
        label = f"aniSearch's MAL links for {media.value}"
        attempts = retrying(self._retry, label, _Transient, self._sleep)
        answer = attempts(self._get, url, headers)
        return self._links(media, answer, now)

    def _get(self, url: str, headers: dict[str, str]) -> HttpAnswer:
        try:
            answer = send(self._session, "GET", url, self._bounds, headers=headers)
        except AnswerTooLarge as error:
            raise _Failed(f"the download failed ({error})", counted=True) from None
        except requests.RequestException as error:
            raise _Transient(f"the download failed ({cause_of(error)})", counted=False) from None
        if answer.status_code >= 500 or answer.status_code == 408:
            raise _Transient(f"the download failed ({status_and_words(answer)})", counted=True)
        return answer

    def _links(self, media: MediaType, answer: HttpAnswer, now: float) -> MalLinks:
        status = answer.status_code
        if 200 <= status < 300:
            try:
                read = decode_links(answer.content, "aniSearch's answer")
            except LinksUnusable as error:
                raise _Failed(f"the download is unusable ({error})", counted=True) from None
            if read.skipped:
                log.warning(
                    "aniSearch's MAL links for %s: %s left out (the first: %s).",
                    media.value,
                    counted(read.skipped, "entry", "entries"),
                    read.first_problem,
                )
            return MalLinks(media, read.table, now)
        raise self._refusal(answer, now)

    def _refusal(self, answer: HttpAnswer, now: float) -> _Failed:
        status = answer.status_code
        if status == 429:
            wait = parse_retry_after(answer.headers.get("Retry-After"), now)
            why = f"aniSearch's limit is reached ({status_and_words(answer)})"
            if wait is not None:
                why += f"; it allows the next request in {describe_age(wait)}"
            return _Failed(why, counted=True, wait=wait)
        if status == 401 and self._api.database_token is not None:
            why = (
                "the Database API token ([anisearch] database_token, or "
                f"{DATABASE_TOKEN_ENV}) was refused"
            )
            return _Failed(f"{why} ({status_and_words(answer)})", counted=False)
        if status in (403, 423):
            why = "aniSearch refused the request (check [anisearch] contact, which names you)"
            return _Failed(f"{why}; {status_and_words(answer)}", counted=False)
        if answer.moved_to is not None:
            return _Failed(f"the Database API moved to {answer.moved_to}", counted=True)
        return _Failed(
            f"the download failed ({status_and_words(answer)})", counted=status not in _NOT_COUNTED
        )
