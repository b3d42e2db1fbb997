"""A fake MyAnimeList API v2 and OAuth server on 127.0.0.1, as the notes describe MAL.

User lists with `limit` (at most 1000), `offset`, `nsfw`, `fields` (list_status sub-fields
beyond the base set only when named inside `list_status{...}`) and `paging.next` as full URLs;
public and private lists (client id alone refused for a private one, 403 or 401); `@me` with a
bearer token; OAuth with PKCE plain only, expiring access tokens and refresh. Fault switches:
HTML 503/504 pages, an HTML page with 200, a page that never succeeds, dropped connections,
a burst limit that answers 403 "DoS detected", list_status objects lacking fields, ids that
come back as strings, floats or without their node, paging.next that skips a page.
`GET /users/@me` names the user a bearer token signs in.
Every request is recorded, so tests can assert what the server received.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.loopback_server import LoopbackServer, QuietHandler

CLIENT_ID = "mal-client-5e1d7c9a0b3f"
CLIENT_SECRET = "mal-secret-77a0c2e4"
_LIST_RE = re.compile(r"^/v2/users/([^/]+)/(anime|manga)list$")
_HTML = "<!DOCTYPE html><html><head><title>{title}</title></head><body>{title}</body></html>"
BASE_FIELDS = {
    "anime": {"status", "score", "num_episodes_watched", "is_rewatching", "updated_at"},
    "manga": {
        "status",
        "score",
        "num_chapters_read",
        "num_volumes_read",
        "is_rereading",
        "updated_at",
    },
}
_DATES = ("start_date", "finish_date")  # part of the base set, when set


@dataclass
class MalUser:
    anime: list[dict[str, Any]] = field(default_factory=list)
    manga: list[dict[str, Any]] = field(default_factory=list)
    private: bool = False


@dataclass
class Faults:
    # The next list requests are answered like this, in order: 503 or 504 (HTML pages),
    # "html200" (an HTML page with status 200), "drop" (connection closed), "dos" (403),
    # "moved" (301 to MOVED_TO), "huge" (200 with a HUGE_BYTES body), or "ok" (answered normally).
    scripted: deque[int | str] = field(default_factory=deque)
    failing_offset: int | None = None  # this page always answers an HTML 503
    echo_client_id: int | None = None  # all list requests: 400, so much filler, the client id
    burst_interval: float = 0.0  # list requests closer together than this get 403 DoS
    # The next list requests reach the server (are counted and answered) this many seconds
    # after they are sent: a slow way in, or a server that counts a request when it answers.
    held: deque[float] = field(default_factory=deque)
    missing_fields: frozenset[str] = frozenset()  # left out of every list_status
    # MAL ids whose item comes back broken: "string" ("17455"), "float" (17455.0) or "no_node"
    broken_ids: dict[int, str] = field(default_factory=dict)


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float
    status: int | None = None  # None: the connection was dropped


def anime_item(mal_id: int, **status: Any) -> dict[str, Any]:
    """A stored anime entry with every list_status field set; `status` overrides them."""
    list_status: dict[str, Any] = {
        "status": "completed",
        "score": 8,
        "num_episodes_watched": 12,
        "is_rewatching": False,
        "updated_at": "2023-04-01T10:00:00+00:00",
        "start_date": "2017-10-23",
        "finish_date": "2017-12",
        "priority": 1,
        "num_times_rewatched": 2,
        "rewatch_value": 4,
        "tags": ["favourite", "rewatch"],
        "comments": "Great show",
    }
    list_status.update(status)
    return {"node": {"id": mal_id, "title": f"Anime {mal_id}"}, "list_status": list_status}


def manga_item(mal_id: int, **status: Any) -> dict[str, Any]:
    list_status: dict[str, Any] = {
        "status": "reading",
        "score": 0,
        "num_chapters_read": 40,
        "num_volumes_read": 4,
        "is_rereading": False,
        "updated_at": "2023-04-01T10:00:00+00:00",
        "start_date": "2017",
        "priority": 0,
        "num_times_reread": 0,
        "reread_value": 0,
        "tags": [],
        "comments": "",
    }
    list_status.update(status)
    return {"node": {"id": mal_id, "title": f"Manga {mal_id}"}, "list_status": list_status}


def parse_fields(text: str) -> dict[str, set[str]]:
    """`a,list_status{x,y},b` -> {"a": set(), "list_status": {"x", "y"}, "b": set()}."""
    fields: dict[str, set[str]] = {}
    name, inner, depth = "", "", 0
    for char in text + ",":
        if char == "{":
            depth += 1
            if depth == 1:
                continue
        elif char == "}":
            depth -= 1
            if depth == 0:
                continue
        if depth:
            inner += char
        elif char == ",":
            if name.strip():
                fields[name.strip()] = {part.strip() for part in inner.split(",") if part.strip()}
            name, inner = "", ""
        else:
            name += char
    return fields


@dataclass
class FakeMal(LoopbackServer):
    users: dict[str, MalUser] = field(default_factory=dict)
    private_status: int = 403  # what a client-id-only read of a private list gets
    client_secret: str | None = None  # set: a "web" app, the token endpoint wants the secret
    access_lifetime: float = 3600.0
    refresh_lifetime: float = 31 * 24 * 3600.0
    authorize_user: str = "owner"  # who signs in at the authorize step
    faults: Faults = field(default_factory=Faults)
    next_url_base: str | None = None  # paging.next points here instead (a hostile server)
    # A hostile paging.next: "stuck" repeats the same offset with a growing x=N; "same_page"
    # moves the offset on but always answers with the first page's entries.
    paging_loop: str | None = None
    # paging.next that skips a page: "jump" names the offset after the next page's; "repeated"
    # names offset twice, the next entry first and the jump last (the value this server reads).
    paging_skip: str | None = None

    def __post_init__(self) -> None:
        self.received: list[Received] = []
        self.tokens: dict[str, tuple[str, float]] = {}  # access token -> user, expiry
        self.refresh_tokens: dict[str, tuple[str, float]] = {}
        self.codes: dict[str, dict[str, str]] = {}
        self.issued_access_tokens: list[str] = []
        self.issued_refresh_tokens: list[str] = []
        self._last_list_request: float | None = None
        self._lock = threading.Lock()

    @property
    def api_url(self) -> str:
        return f"{self.root}/v2"

    @property
    def authorize_url(self) -> str:
        return f"{self.root}/v1/oauth2/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.root}/v1/oauth2/token"

    # What tests look at

    def list_requests(self) -> list[Received]:
        return [r for r in self.received if _LIST_RE.match(r.path)]

    def secrets_seen(self) -> set[str]:
        """Everything that must never appear in malsync's output."""
        found = {CLIENT_ID, CLIENT_SECRET, *self.issued_access_tokens, *self.issued_refresh_tokens}
        return found | set(self.codes)

    def issue_token(self, user: str) -> dict[str, Any]:
        """Tokens for `user`, as the token endpoint hands them out (for tests that skip login)."""
        with self._lock:
            return self._issue(user, time.time())

    # Request handling (called from handler threads)

    def handle(self, handler: _Handler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        source = raw.decode() if method == "POST" else parts.query
        # A parameter given twice counts with its last value, as many web servers read it.
        query = {k: v[-1] for k, v in parse_qs(source, keep_blank_values=True).items()}
        if self.faults.held and _LIST_RE.match(parts.path):
            time.sleep(self.faults.held.popleft())
        now = time.time()
        record = Received(method, parts.path, query, dict(handler.headers.items()), now)
        with self._lock:
            self.received.append(record)
            status, body, headers = self._answer(handler, method, parts.path, query, now)
            record.status = status
        if status is None:
            handler.close_connection = True
            return
        handler.reply(status, body, headers)

    def _answer(
        self, handler: _Handler, method: str, path: str, query: dict[str, str], now: float
    ) -> tuple[int | None, Any, dict[str, str]]:
        if path == "/v1/oauth2/authorize" and method == "GET":
            return self._authorize(query)
        if path == "/v1/oauth2/token" and method == "POST":
            return self._token(query, now)
        if path == "/v2/users/@me" and method == "GET":
            return self._me(handler)
        match = _LIST_RE.match(path)
        if not match or method != "GET":
            return 404, {"error": "not_found"}, {}
        fault = self._fault(query, now)
        if fault is not None:
            return fault
        if self.faults.echo_client_id is not None:
            size = self.faults.echo_client_id
            echoed = f"{('refused ' * size)[:size]} {handler.headers.get('X-MAL-CLIENT-ID')}"
            return 400, {"error": "invalid_parameters", "message": echoed}, {}
        owner = self._caller(handler.headers)
        if isinstance(owner, tuple):
            return owner
        name, media = match.group(1), match.group(2)
        if name == "@me":
            if owner is None:
                return 401, {"error": "invalid_token", "message": "@me needs a token"}, {}
            name = owner
        user = self.users.get(name)
        if user is None:
            return 404, {"error": "not_found", "message": "user not found"}, {}
        if user.private and owner != name:
            return self.private_status, {"error": "forbidden", "message": ""}, {}
        return self._page(path, name, media, user, query)

    def _me(self, handler: _Handler) -> tuple[int, Any, dict[str, str]]:
        """`GET /users/@me`: who the bearer token signs in (MAL's id and name)."""
        owner = self._caller(handler.headers)
        if isinstance(owner, tuple):
            return owner
        if owner is None:
            return 401, {"error": "invalid_token", "message": "@me needs a token"}, {}
        return 200, {"id": sum(map(ord, owner)), "name": owner}, {}

    def _fault(
        self, query: dict[str, str], now: float
    ) -> tuple[int | None, Any, dict[str, str]] | None:
        faults = self.faults
        last, self._last_list_request = self._last_list_request, now
        if faults.burst_interval and last is not None and now - last < faults.burst_interval:
            return 403, {"error": "forbidden", "message": "DoS detected"}, {}
        if faults.scripted:
            kind = faults.scripted.popleft()
            if kind == "ok":
                return None
            if kind == "drop":
                return None, None, {}
            if kind == "dos":
                return 403, {"error": "forbidden", "message": "DoS detected"}, {}
            if kind == "html200":
                return 200, _Html("Maintenance"), {}
            if kind == "moved":
                return 301, _Html("Moved Permanently"), {"Location": MOVED_TO}
            if kind == "huge":
                return 200, _Html(" " * HUGE_BYTES), {}
            return int(kind), _Html(f"{kind} Service Unavailable"), {}
        if faults.failing_offset is not None and query.get("offset", "0") == str(
            faults.failing_offset
        ):
            return 503, _Html("503 Service Unavailable"), {}
        return None

    def _caller(self, headers: Any) -> str | tuple[int, Any, dict[str, str]] | None:
        """The signed-in user's name, None for a client-id-only caller, or a refusal."""
        authorization = headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            known = self.tokens.get(authorization.removeprefix("Bearer "))
            if known is None or known[1] <= time.time():
                return 401, {"error": "invalid_token"}, {}
            return known[0]
        if headers.get("X-MAL-CLIENT-ID") != CLIENT_ID:
            return 401, {"error": "invalid_client"}, {}
        return None

    def _page(
        self, path: str, name: str, media: str, user: MalUser, query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            limit = int(query.get("limit", "100"))
            offset = int(query.get("offset", "0"))
        except ValueError:
            return 400, {"error": "invalid_parameters"}, {}
        if not 1 <= limit <= 1000 or offset < 0:
            return 400, {"error": "invalid_parameters", "message": "limit"}, {}
        entries = user.anime if media == "anime" else user.manga
        if self.paging_loop is not None:
            return self._loop(path, media, entries, query, limit, offset)
        if query.get("nsfw") != "true":
            entries = [item for item in entries if not item.get("nsfw")]
        fields = parse_fields(query.get("fields", ""))
        data = [self._shown(item, media, fields) for item in entries[offset : offset + limit]]
        paging: dict[str, str] = {}
        base = (self.next_url_base or self.root) + path
        if offset + limit < len(entries):
            paging["next"] = f"{base}?{self._onward(query, offset + limit, limit)}"
        if offset > 0:
            paging["previous"] = f"{base}?{urlencode({**query, 'offset': max(0, offset - limit)})}"
        return 200, {"data": data, "paging": paging}, {}

    def _loop(
        self,
        path: str,
        media: str,
        entries: list[dict[str, Any]],
        query: dict[str, str],
        limit: int,
        offset: int,
    ) -> tuple[int, Any, dict[str, str]]:
        fields = parse_fields(query.get("fields", ""))
        data = [self._shown(item, media, fields) for item in entries[:limit]]
        if self.paging_loop == "stuck":
            onward = {**query, "x": int(query.get("x", "0")) + 1}
        else:
            onward = {**query, "offset": offset + limit}
        return 200, {"data": data, "paging": {"next": f"{self.root}{path}?{urlencode(onward)}"}}, {}

    def _onward(self, query: dict[str, str], following: int, limit: int) -> str:
        """The next page's query, or with paging_skip one that passes over a page."""
        rest = [(name, value) for name, value in query.items() if name != "offset"]
        if self.paging_skip == "jump":
            return urlencode([*rest, ("offset", following + limit)])
        if self.paging_skip == "repeated":
            skipped = [("offset", following - limit + 1), ("offset", following + limit)]
            return urlencode([*rest, *skipped])
        return urlencode([*rest, ("offset", following)])

    def _shown(self, item: dict[str, Any], media: str, fields: dict[str, set[str]]) -> Any:
        node = dict(item["node"])
        broken = self.faults.broken_ids.get(node.get("id", 0))
        if broken == "string":
            node["id"] = str(node["id"])
        elif broken == "float":
            node["id"] = float(node["id"])
        shown: dict[str, Any] = {} if broken == "no_node" else {"node": node}
        if "list_status" in fields:
            wanted = BASE_FIELDS[media] | fields["list_status"] | set(_DATES)
            wanted -= self.faults.missing_fields
            stored = item["list_status"]
            shown["list_status"] = {key: stored[key] for key in stored if key in wanted}
        return shown

    # OAuth 2.0 (authorization code with PKCE plain only; refresh)

    def _authorize(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if query.get("response_type") != "code" or query.get("client_id") != CLIENT_ID:
            return 400, {"error": "invalid_request"}, {}
        if query.get("code_challenge_method", "plain") != "plain":
            return 400, {"error": "invalid_request", "message": "only plain is supported"}, {}
        challenge = query.get("code_challenge", "")
        if not 43 <= len(challenge) <= 128 or not query.get("state"):
            return 400, {"error": "invalid_request"}, {}
        code = "code-" + secrets.token_urlsafe(16)
        self.codes[code] = {**query, "user": self.authorize_user}
        answer = urlencode({"code": code, "state": query["state"]})
        return 302, {}, {"Location": f"{query['redirect_uri']}?{answer}"}

    def _token(self, form: dict[str, str], now: float) -> tuple[int, Any, dict[str, str]]:
        if form.get("client_id") != CLIENT_ID or (
            self.client_secret is not None and form.get("client_secret") != self.client_secret
        ):
            return 401, {"error": "invalid_client"}, {}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            asked = self.codes.pop(form.get("code", ""), None)
            if asked is None:
                return 400, {"error": "invalid_grant", "message": "code not valid"}, {}
            if form.get("code_verifier") != asked["code_challenge"]:  # plain: they are equal
                return 400, {"error": "invalid_grant", "message": "PKCE failed"}, {}
            if "redirect_uri" in form and form["redirect_uri"] != asked["redirect_uri"]:
                return 400, {"error": "invalid_grant", "message": "redirect_uri"}, {}
            return 200, self._issue(asked["user"], now), {}
        if grant == "refresh_token":
            known = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if known is None or known[1] <= now:
                return 400, {"error": "invalid_grant", "message": "refresh token"}, {}
            return 200, self._issue(known[0], now), {}
        return 400, {"error": "unsupported_grant_type"}, {}

    def _issue(self, user: str, now: float) -> dict[str, Any]:
        access, refresh = "mat-" + secrets.token_urlsafe(18), "mrt-" + secrets.token_urlsafe(18)
        self.tokens[access] = (user, now + self.access_lifetime)
        self.refresh_tokens[refresh] = (user, now + self.refresh_lifetime)
        self.issued_access_tokens.append(access)
        self.issued_refresh_tokens.append(refresh)
        return {
            "token_type": "Bearer",
            "expires_in": self.access_lifetime,
            "access_token": access,
            "refresh_token": refresh,
        }


MOVED_TO = "https://api.example.net/v3/"
HUGE_BYTES = 17 * 1024 * 1024  # past malsync's 16 MB cap for one page


class _Html(str):
    """A body sent as an HTML page, as MAL's front end does during outages."""

    def __new__(cls, title: str) -> _Html:
        return super().__new__(cls, _HTML.format(title=title))


class _Handler(QuietHandler):
    server_fake: FakeMal

    def reply(self, status: int, body: Any, headers: dict[str, str]) -> None:
        html = isinstance(body, _Html)
        data = body.encode() if html else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if html else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.server_fake.handle(self, "GET")

    def do_POST(self) -> None:
        self.server_fake.handle(self, "POST")


FakeMal.handler_class = _Handler
