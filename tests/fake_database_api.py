"""A fake of aniSearch's Database API: its MAL links, `GET /v1/{anime|manga}/associated`.

It follows `shared/reference/anisearch_api_notes.md`, section "Database API":

- `?source=myanimelist` answers `{"<MAL id>": [<aniSearch id>, ...]}` for every linked MAL id;
  `?source=myanimelist_unique` answers `{"<MAL id>": {"id": <aniSearch id>}}` for the links that
  are one-to-one only. The links are not one-to-one: `bundle` links several MAL ids to one title,
  `split` one MAL id to several titles; a MAL id not linked at all is simply absent.
- The parameter `gzip` gzips the body (it starts with `1f 8b`); error answers stay plain JSON.
- No account is needed. One request per media type per window (86,400 s) without a token, one
  per 3,600 s with an API token (`Authorization: Bearer ...`, not the OAuth user token); beyond
  it 429 with `Retry-After`, and `x-ratelimit-limit: 1`. A request refused for its User-Agent
  (403 generic or missing, 423 a bare project name) does not count against the limit.

Where the notes are silent, the choice is commented where it is made. Its requests are kept
apart from the ratings API's (`FakeAniSearch.received`), so the ratings tests count what they
always counted; `requests()` counts these.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATABASE_TOKEN = "dbtok-7e2c91a4d05b-SECRET"
ANONYMOUS_WINDOW_SECONDS = 86_400.0
TOKEN_WINDOW_SECONDS = 3_600.0
PATH = re.compile(r"^/v1/(anime|manga)/associated$")
_FULL_UA = re.compile(r"^[A-Za-z][\w.-]*/\d[\w.+-]* \([^()]+\)$")
_BARE_NAME_UA = re.compile(r"^[A-Za-z][\w.-]*(/[\w.+-]*)?$")
_GENERIC_UA = re.compile(r"^(python-requests|curl|wget|mozilla|go-http-client|java)", re.I)
SOURCES = ("myanimelist", "myanimelist_unique")

Answer = tuple[int, bytes, dict[str, str]]


@dataclass
class DatabaseRequest:
    media: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float
    status: int | None = None  # None: the connection was dropped

    @property
    def gzip(self) -> bool:
        return "gzip" in self.query


@dataclass
class FakeDatabaseApi:
    anonymous_window: float = ANONYMOUS_WINDOW_SECONDS
    token_window: float = TOKEN_WINDOW_SECONDS
    api_tokens: set[str] = field(default_factory=lambda: {DATABASE_TOKEN})
    retry_after: bool = True  # the notes: "with Retry-After where given"; False leaves it out
    # Faults: the next answers' statuses (0 drops the connection; such a request does not count),
    # a body sent instead of the links on a 200 (hostile input), and gzip on the transfer too.
    scripted: deque[int] = field(default_factory=deque)
    raw_body: bytes | None = None
    content_encoding: bool = False

    def __post_init__(self) -> None:
        self.links: dict[str, dict[int, list[int]]] = {"anime": {}, "manga": {}}
        self.received: list[DatabaseRequest] = []
        self.clock_offset = 0.0
        self._counted: dict[tuple[str, str], float] = {}  # (media, caller) -> last counted at
        self._lock = threading.Lock()

    # Setting up what aniSearch links

    def link(self, media: str, mal_id: int, *anisearch_ids: int) -> None:
        """MAL id -> these aniSearch titles (several: a title aniSearch splits in parts)."""
        self.links[media][mal_id] = list(anisearch_ids)

    def bundle(self, media: str, anisearch_id: int, *mal_ids: int) -> None:
        """Several MAL ids kept as one aniSearch title (Gantz and Gantz 2nd Stage)."""
        for mal_id in mal_ids:
            self.links[media].setdefault(mal_id, []).append(anisearch_id)

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Let time pass for the limit (the windows are a day and an hour)."""
        self.clock_offset += seconds

    # What tests look at

    def requests(
        self, media: str | None = None, status: int | None = None
    ) -> list[DatabaseRequest]:
        return [
            request
            for request in self.received
            if (media is None or request.media == media)
            and (status is None or request.status == status)
        ]

    # Request handling (called from the ratings fake's handler threads)

    @staticmethod
    def serves(path: str) -> bool:
        return PATH.match(urlsplit(path).path) is not None

    def handle(self, handler: Any) -> None:
        parts = urlsplit(handler.path)
        match = PATH.match(parts.path)
        assert match is not None
        query = parse_qs(parts.query, keep_blank_values=True)
        request = DatabaseRequest(match.group(1), query, dict(handler.headers.items()), self.now())
        with self._lock:
            self.received.append(request)
            answer = self._answer(request)
        if answer is None:
            handler.close_connection = True
            return
        request.status = answer[0]
        _write(handler, *answer)

    def _answer(self, request: DatabaseRequest) -> Answer | None:
        if self.scripted:
            scripted = self.scripted.popleft()
            return None if scripted == 0 else _json(scripted, {"message": f"scripted {scripted}"})
        agent = request.headers.get("User-Agent", "")
        if not agent or _GENERIC_UA.match(agent):
            return _json(403, {"message": "missing or generic User-Agent"})
        if not _FULL_UA.match(agent):
            # The notes: a bare project name was answered 423 elsewhere on aniSearch.
            status = 423 if _BARE_NAME_UA.match(agent) else 403
            return _json(status, {"message": "User-Agent must name the application and a contact"})
        caller = self._caller(request.headers.get("Authorization", ""))
        if caller is None:
            # Silent in the notes: how a wrong API token is refused. Chosen: 401, not counted.
            return _json(401, {"message": "invalid API token"})
        source = request.query.get("source", [""])[0]
        if source not in SOURCES:
            # Silent in the notes; chosen: 400, not counted against the limit.
            return _json(400, {"message": f"unknown source {source!r}"})
        window = self.token_window if caller else self.anonymous_window
        key = (request.media, caller)
        last = self._counted.get(key)
        if last is not None and request.at < last + window:
            wait = last + window - request.at
            headers = {"x-ratelimit-limit": "1", "x-ratelimit-remaining": "0"}
            if self.retry_after:
                headers["Retry-After"] = str(max(1, int(wait + 0.999)))
            return _json(429, {"message": "rate limit exceeded"}, headers)
        self._counted[key] = request.at
        return self._links_answer(request.media, source, request.gzip)

    def _caller(self, authorization: str) -> str | None:
        """ "" for a request without a token (limited per address), the token, or None if bad."""
        if not authorization:
            return ""
        token = authorization.removeprefix("Bearer ")
        return token if authorization.startswith("Bearer ") and token in self.api_tokens else None

    def _links_answer(self, media: str, source: str, packed: bool) -> Answer:
        headers = {"x-ratelimit-limit": "1", "x-ratelimit-remaining": "0"}
        if self.raw_body is not None:
            body = self.raw_body
        else:
            body = json.dumps(self._document(media, source)).encode()
        if packed:
            # The notes say only that the body comes gzipped (first bytes 1f 8b), not with which
            # headers: no Content-Encoding, so a client that trusts headers alone would fail.
            body = gzip.compress(body, mtime=0)
        return 200, body, {"Content-Type": "application/json", **headers}

    def _document(self, media: str, source: str) -> dict[str, Any]:
        links = self.links[media]
        if source == "myanimelist":
            return {str(mal_id): ids for mal_id, ids in sorted(links.items()) if ids}
        claimed: dict[int, int] = {}
        for ids in links.values():
            for anisearch_id in ids:
                claimed[anisearch_id] = claimed.get(anisearch_id, 0) + 1
        return {
            str(mal_id): {"id": ids[0]}
            for mal_id, ids in sorted(links.items())
            if len(ids) == 1 and claimed[ids[0]] == 1
        }


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Answer:
    return (
        status,
        json.dumps(body).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )


def _write(handler: Any, status: int, data: bytes, headers: dict[str, str]) -> None:
    accepts = handler.headers.get("Accept-Encoding", "")
    fake: FakeDatabaseApi = handler.server_fake.database
    if fake.content_encoding and status == 200 and "gzip" in accepts:
        data = gzip.compress(data, mtime=0)
        headers = {**headers, "Content-Encoding": "gzip"}
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    # One request a day needs no keep-alive; closing also spares the fake a reset it would print
    # when a client refuses a body by its length and drops the connection.
    handler.send_header("Connection", "close")
    handler.close_connection = True
    handler.end_headers()
    try:
        handler.wfile.write(data)
    except OSError:  # the client gave up: what it should do with a body it will not read
        pass
