"""Following a MAL list's pages to the end: 1,000 entries a page, each next page checked to be
the API's own address and to start right after the entries received, so that paging that goes
round, or skips a page, stops at once: either would be taken for the whole list."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from malsync.pipeline.records import MediaType
from malsync.sources.mal_api_entries import requested_fields
from malsync.sources.mal_list import MalReadError

PAGE_LIMIT = 1000  # MAL's maximum; more is a 400
_MAX_PAGES = 10_000  # ten million entries: a paging loop, not a list

# Fetches one page (its address, whether it is the first) and gives its JSON body.
PageFetch = Callable[[str, bool], dict[str, Any]]


def follow_pages(
    api_url: str, media: MediaType, user: str, fetch: PageFetch
) -> Iterator[tuple[list[Any], bool]]:
    """Each page's items, and whether another page follows."""
    query = {
        "limit": PAGE_LIMIT,
        "offset": 0,
        "nsfw": "true",
        "fields": requested_fields(media),
    }
    url: str | None = (
        f"{api_url}/users/{quote(user, safe='@')}/{media.value}list?{urlencode(query)}"
    )
    offset, pages = 0, 0
    while url is not None:
        if pages >= _MAX_PAGES:
            raise circle(user, media, f"would be page {pages + 1}")
        body = fetch(url, pages == 0)
        pages += 1
        url = _next_url(api_url, body, media, user)
        if url is not None:
            offset = _advanced(url, offset, len(body["data"]), user, media)
        yield body["data"], url is not None


def _next_url(api_url: str, body: dict[str, Any], media: MediaType, user: str) -> str | None:
    paging = body.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    if following is None:
        return None
    if not isinstance(following, str) or not _is_ours(api_url, following):
        raise MalReadError(
            f"MAL could not be read: the next page of {user}'s {media.value} list points "
            "away from [myanimelist] api_url; it was not followed and nothing is used"
        )
    return following


def _is_ours(api_url: str, url: str) -> bool:
    """Only the API's own scheme, host and path get the token (or the client id)."""
    api, there = urlsplit(api_url), urlsplit(url)
    return (
        there.scheme == api.scheme
        and there.netloc == api.netloc
        and there.path.startswith(api.path.rstrip("/") + "/")
    )


def _advanced(url: str, offset: int, received: int, user: str, media: MediaType) -> int:
    """The next page's offset: this one's plus the entries received. Not past this page, the
    pages go round; further on, the entries between are never read; a parameter named twice
    may be read by MAL otherwise than here."""
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    twice = sorted(name for name, values in query.items() if len(values) > 1)
    if twice:
        raise _skipping(user, media, f"names {' and '.join(twice)} more than once")
    given = query.get("offset", [""])[0]
    following = int(given) if given.isascii() and given.isdigit() else -1
    if following <= offset:
        raise circle(user, media, f"does not move past entry {offset}")
    if following != offset + received:
        raise _skipping(
            user,
            media,
            f"starts at entry {following}, but this page ended at entry {offset + received}",
        )
    return following


def _skipping(user: str, media: MediaType, why: str) -> MalReadError:
    return MalReadError(
        f"MAL could not be read: the next page of {user}'s {media.value} list {why}; it was "
        "not followed and nothing of it is used"
    )


def circle(user: str, media: MediaType, why: str) -> MalReadError:
    return MalReadError(
        f"MAL could not be read: the pages of {user}'s {media.value} list lead round in a "
        f"circle (the next page {why}); nothing of it is used"
    )
