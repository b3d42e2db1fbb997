"""A fake aniSearch ratings API on 127.0.0.1 that enforces what the API guide says.

Bearer tokens and their scopes, a meaningful User-Agent (403 otherwise), the rate limits (429),
the PUT body schema and ranges, `use_myanimelist_id`, unknown ids (404), and switches for the
faults a real server shows: random 5xx, dropped connections, slow replies, 429 without
Retry-After, huge or trickled bodies, redirects, a list read answering 200 [] (a lagging copy).
Each token belongs to an account (with its own ratings and `GET /v1/my/profile`, whose
statistics count them). Every request is recorded, so tests can assert what the server received.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import random
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fake_database_api import FakeDatabaseApi
from tests.loopback_server import LoopbackServer, QuietHandler

GOOD_TOKEN = "tok-3f9a1c7e5b2d4a60-SECRET"
CLIENT_ID = "malsync-test-client"
CLIENT_SECRET = "client-secret-8d1f0b"
ALL_SCOPES = frozenset({"ratings.anime", "ratings.manga", "user.profile"})
ACCOUNT = (4711, "tester")  # GOOD_TOKEN's account, and the one signing in gives tokens for
STATUSES = {"ongoing", "completed", "on_hold", "dropped", "not_interested", "bookmark"}
_UA_RE = re.compile(r"^[A-Za-z][\w.-]*/\d[\w.+-]* \([^()]+\)$")
_GENERIC_UA_RE = re.compile(r"^(python-requests|curl|wget|mozilla|go-http-client|java)", re.I)
_PATH_RE = re.compile(r"^/v1/my/(anime|manga)/(?:(\d+)/)?ratings$")
_PROFILE_PATH = "/v1/my/profile"
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_COMMON_FIELDS: dict[str, tuple[type, int | None, int | None]] = {
    "is_visible": (bool, None, None),
    "public_rating": (int, 0, 10),
    "public_fraction": (int, 0, 9),
    "personal_rating": (int, 0, 100),
    "start_date": (str, None, None),
    "end_date": (str, None, None),
    "notes": (str, None, None),
    "priority": (int, 0, 3),
    "touch": (bool, None, None),
    "use_myanimelist_id": (bool, None, None),
}
_MEDIA_FIELDS: dict[str, dict[str, tuple[type, int | None, int | None]]] = {
    "anime": {
        "episodes_watched": (int, 0, None),
        "is_rewatching": (bool, None, None),
        "times_rewatched": (int, 0, None),
        "rewatch_desire": (int, 0, 5),
    },
    "manga": {
        "chapters_read": (int, 0, None),
        "volumes_read": (int, 0, None),
        "is_rereading": (bool, None, None),
        "times_reread": (int, 0, None),
        "reread_desire": (int, 0, 5),
    },
}
# What GET returns for manga, per the guide's example (PUT says is_rereading).
_GET_NAMES = {"is_rereading": "is_reread"}


@dataclass
class Faults:
    error_rate: float = 0.0  # share of requests answered 503
    drop_rate: float = 0.0  # share of requests whose connection is closed without an answer
    delay_seconds: float = 0.0  # every answer waits this long
    # The next PUTs reach the server (are counted, applied and answered) this many seconds
    # after they are sent: a slow way in, or a server that counts a request at its answer.
    held_puts: deque[float] = field(default_factory=deque)
    retry_after: str | None = "seconds"  # on 429: "seconds", "date", or None (no header)
    scripted: deque[int] = field(default_factory=deque)  # statuses for the next requests...
    scripted_method: str = "PUT"  # ... of this method (0: drop the connection; 200: as usual)
    seed: int = 1
    huge_body_bytes: int = 0  # a successful GET answers with a JSON list this many bytes long...
    huge_body_declared: bool = True  # ... with its Content-Length (else: until the connection ends)
    trickle_seconds: float = 0.0  # every answer's body comes a byte at a time, this far apart
    redirect: tuple[int, str] | None = None  # every API request: this status, this Location
    # Every PUT: 400, its message this many characters of filler, then the Authorization header.
    echo_authorization: int | None = None
    empty_lists: int = 0  # the next this many reads of a whole list answer 200 [] (a lagging copy)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float
    status: int | None = None  # None: the connection was dropped


@dataclass
class FakeAniSearch(LoopbackServer):
    tokens: dict[str, frozenset[str]] = field(default_factory=lambda: {GOOD_TOKEN: ALL_SCOPES})
    upsert_limit: tuple[int, float] = (100, 2.0)
    read_limit: tuple[int, float] = (10, 2.0)
    unknown_mal_ids: set[tuple[str, int]] = field(default_factory=set)
    rejected_mal_ids: dict[tuple[str, int], str] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    echo_token_in_errors: bool = False
    # OAuth: how the authorize step answers ("approve", "deny", "wrong_state") and how long
    # the tokens it hands out live.
    authorize_mode: str = "approve"
    granted_scopes: frozenset[str] = ALL_SCOPES
    access_lifetime: float = 3600.0
    refresh_lifetime: float = 30 * 24 * 3600.0
    # Whose tokens are whose: token -> (account id, name); signing in gives `login_account`'s.
    accounts: dict[str, tuple[int, str]] = field(default_factory=lambda: {GOOD_TOKEN: ACCOUNT})
    login_account: tuple[int, str] = ACCOUNT
    # The Database API on the same host: aniSearch's MAL links (its requests are kept there).
    # The ratings follow them: a PUT with use_myanimelist_id of a linked MAL id writes its
    # (first) linked title, so a bundle's members write one title; GET shows a title several
    # MAL ids are linked to with one of them, as the notes say: "first" or "last" (by MAL id),
    # or "none".
    database: FakeDatabaseApi = field(default_factory=FakeDatabaseApi)
    bundle_shows: str = "first"
    unknown_anisearch_ids: set[tuple[str, int]] = field(default_factory=set)
    # A PUT by aniSearch id to one of these is refused with 400 and this message.
    rejected_anisearch_ids: dict[tuple[str, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.received: list[Received] = []
        # Each account's ratings; `ratings` are ACCOUNT's, what most tests look at.
        self.account_ratings: dict[int, dict[tuple[str, int], dict[str, Any]]] = {}
        self.ratings = self.ratings_of(ACCOUNT[0])
        self.rate_limited = 0
        self._windows: dict[str, deque[float]] = {"upsert": deque(), "read": deque()}
        self._lock = threading.Lock()
        self._random = random.Random(self.faults.seed)
        self.token_expiry: dict[str, float] = {}
        self.codes: dict[str, dict[str, str]] = {}  # code -> what the authorize step was given
        self.spent_codes: set[str] = set()
        self.refresh_tokens: dict[str, tuple[float, frozenset[str]]] = {}  # -> expiry, scopes
        self.revoked: list[str] = []
        self.issued_access_tokens: list[str] = []

    @property
    def base_url(self) -> str:
        return f"{self.root}/v1"

    # Ids: every MAL id is known, as aniSearch id MAL id + 100000, unless listed as unknown.

    @staticmethod
    def anisearch_id(mal_id: int) -> int:
        return mal_id + 100000

    def preload(self, media: str, mal_id: int, **fields: Any) -> None:
        """A rating the user made on aniSearch itself, stored with PUT's field names."""
        self.ratings[(media, self.anisearch_id(mal_id))] = dict(fields)

    def rating(self, media: str, mal_id: int) -> dict[str, Any] | None:
        return self.ratings.get((media, self.anisearch_id(mal_id)))

    def preload_title(self, media: str, anisearch_id: int, **fields: Any) -> None:
        """A rating of aniSearch title `anisearch_id`, made on aniSearch itself."""
        self.ratings[(media, anisearch_id)] = dict(fields)

    def title(self, media: str, anisearch_id: int) -> dict[str, Any] | None:
        return self.ratings.get((media, anisearch_id))

    def ratings_of(self, account_id: int) -> dict[tuple[str, int], dict[str, Any]]:
        return self.account_ratings.setdefault(account_id, {})

    def deletes(self) -> list[Received]:
        return [r for r in self.received if r.method == "DELETE"]

    # What tests look at

    def puts(self) -> list[Received]:
        return [r for r in self.received if r.method == "PUT"]

    def accepted_puts(self) -> list[Received]:
        return [r for r in self.puts() if r.status == 200]

    def max_in_any_window(self, method: str = "PUT") -> int:
        """The most accepted requests that arrived within any one window."""
        window = (self.upsert_limit if method == "PUT" else self.read_limit)[1]
        times = sorted(r.at for r in self.received if r.method == method and r.status == 200)
        best = 0
        start = 0
        for end, at in enumerate(times):
            while times[start] <= at - window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # Request handling (called from handler threads)

    def handle(self, handler: _Handler, method: str) -> None:
        if method == "GET" and self.database.serves(handler.path):
            self.database.handle(handler)
            return
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        if handler.path.startswith("/oauth/"):
            self._oauth(handler, method, raw)
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "<not json>"
        if method == "PUT" and self.faults.held_puts:
            time.sleep(self.faults.held_puts.popleft())
        record = Received(method, handler.path, dict(handler.headers.items()), body, time.time())
        with self._lock:
            self.received.append(record)
            status, answer, headers = self._answer(handler, method, body, record.at)
            if status is None:
                record.status = None
                handler.close_connection = True
                return
            record.status = status
        if self.faults.delay_seconds:
            time.sleep(self.faults.delay_seconds)
        if status == 200 and method == "GET" and self.faults.huge_body_bytes:
            handler.reply_huge(self.faults.huge_body_bytes, declared=self.faults.huge_body_declared)
            return
        handler.reply(status, answer, headers, trickle=self.faults.trickle_seconds)

    def _answer(
        self, handler: _Handler, method: str, body: Any, now: float
    ) -> tuple[int | None, Any, dict[str, str]]:
        faults = self.faults
        if faults.scripted and method == faults.scripted_method:
            scripted = faults.scripted.popleft()
            if scripted == 0:
                return None, None, {}
            if scripted == 429:
                return self._too_many(now, "upsert" if method == "PUT" else "read")
            if scripted != 200:  # a scripted 200 is answered (and stored) as the server would
                return scripted, {"message": f"scripted {scripted}"}, {}
        if faults.echo_authorization is not None and method == "PUT":
            filler = ("refused " * faults.echo_authorization)[: faults.echo_authorization]
            echoed = f"{filler} {handler.headers.get('Authorization')}"
            return 400, {"message": echoed}, {}
        if faults.drop_rate and self._random.random() < faults.drop_rate:
            return None, None, {}
        if faults.error_rate and self._random.random() < faults.error_rate:
            return 503, {"message": "service unavailable"}, {}

        agent = handler.headers.get("User-Agent", "")
        if not _UA_RE.match(agent) or _GENERIC_UA_RE.match(agent):
            return 403, {"message": "missing or generic User-Agent"}, {}
        if faults.redirect is not None:
            return faults.redirect[0], {"message": "moved"}, {"Location": faults.redirect[1]}
        path = handler.path.split("?")[0]
        match = _PATH_RE.match(path)
        if not match and path != _PROFILE_PATH:
            return 404, {"message": "no such endpoint"}, {}
        authorization = handler.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        if token not in self.tokens:
            detail = f" {token}" if self.echo_token_in_errors else ""
            return 401, {"message": f"invalid access token{detail}"}, {}
        if self.token_expiry.get(token, float("inf")) <= now:
            return 401, {"message": "access token expired"}, {}
        scope = f"ratings.{match.group(1)}" if match else "user.profile"
        if scope not in self.tokens[token]:
            return 403, {"message": f"token lacks scope {scope}"}, {}

        kind = "upsert" if method == "PUT" else "read"
        limit, window = self.upsert_limit if kind == "upsert" else self.read_limit
        times = self._windows[kind]
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) >= limit:
            return self._too_many(now, kind)
        times.append(now)

        account_id, name = self.accounts.get(token, ACCOUNT)
        if match is None:
            if method != "GET":
                return 405, {"message": "method not allowed"}, {}
            return 200, self._profile(account_id, name), {}
        media, item_id = match.group(1), match.group(2)
        ratings = self.ratings_of(account_id)
        if method == "GET" and item_id is None:
            if faults.empty_lists:
                faults.empty_lists -= 1
                return 200, [], {}
            return 200, self._list(media, ratings), {}
        if item_id is None:
            return 405, {"message": "method not allowed"}, {}
        if method == "PUT":
            return self._put(media, int(item_id), body, ratings)
        key = (media, int(item_id))
        if key not in ratings:
            return 404, {"message": "rating not found"}, {}
        if method == "GET":
            return 200, [self._shown(media, key[1], ratings[key])], {}
        del ratings[key]
        return 200, {"success": True}, {}

    def _too_many(self, now: float, kind: str) -> tuple[int, Any, dict[str, str]]:
        self.rate_limited += 1
        window = self._windows[kind]
        limit_window = self.upsert_limit[1] if kind == "upsert" else self.read_limit[1]
        wait = max(0.0, window[0] + limit_window - now) if window else limit_window
        headers = {}
        if self.faults.retry_after == "seconds":
            headers["Retry-After"] = str(max(1, round(wait + 0.5)))
        elif self.faults.retry_after == "date":
            headers["Retry-After"] = email.utils.formatdate(now + wait + 1, usegmt=True)
        return 429, {"message": "too many requests"}, headers

    def _put(
        self, media: str, item_id: int, body: Any, ratings: dict[tuple[str, int], dict[str, Any]]
    ) -> tuple[int, Any, dict[str, str]]:
        problem = _validate(media, body)
        if problem:
            return 400, {"message": problem}, {}
        if body.get("use_myanimelist_id"):
            if (media, item_id) in self.unknown_mal_ids:
                return 404, {"message": f"no {media} with MyAnimeList id {item_id}"}, {}
            if (media, item_id) in self.rejected_mal_ids:
                return 400, {"message": self.rejected_mal_ids[(media, item_id)]}, {}
            linked = self.database.links[media].get(item_id)
            anisearch_id = linked[0] if linked else self.anisearch_id(item_id)
        elif (media, item_id) in self.unknown_anisearch_ids:
            return 404, {"message": f"no {media} with id {item_id}"}, {}
        elif (media, item_id) in self.rejected_anisearch_ids:
            return 400, {"message": self.rejected_anisearch_ids[(media, item_id)]}, {}
        else:
            anisearch_id = item_id
        key = (media, anisearch_id)
        stored = ratings.setdefault(key, {})
        for name, value in body.items():
            if name not in ("use_myanimelist_id", "touch"):
                stored[name] = value
        return 200, {"success": True}, {}

    def _list(
        self, media: str, ratings: dict[tuple[str, int], dict[str, Any]]
    ) -> list[dict[str, Any]]:
        return [
            self._shown(media, anisearch_id, fields)
            for (kind, anisearch_id), fields in sorted(ratings.items())
            if kind == media
        ]

    def _profile(self, account_id: int, name: str) -> dict[str, Any]:
        """The profile with its statistics: per media type, the ratings in each status."""
        statistics: dict[str, dict[str, int]] = {
            media: dict.fromkeys(sorted(STATUSES), 0) for media in ("anime", "manga")
        }
        for (media, _), fields in self.ratings_of(account_id).items():
            status = fields.get("status")
            if status in STATUSES:
                statistics[media][status] += 1
        return {"id": account_id, "name": name, "joined_at": "2015-03-01", "statistics": statistics}

    def _shown(self, media: str, anisearch_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        mal_id = anisearch_id - 100000 if anisearch_id > 100000 else None  # see anisearch_id()
        linked = sorted(
            each for each, ids in self.database.links[media].items() if anisearch_id in ids
        )
        if linked:
            shows = {"first": linked[0], "last": linked[-1], "none": None}
            mal_id = shows[self.bundle_shows]
        shown: dict[str, Any] = {"id-anisearch": anisearch_id, "id-myanimelist": mal_id}
        for name, value in fields.items():
            shown[_GET_NAMES.get(name, name) if media == "manga" else name] = value
        return shown

    # OAuth 2.0 (authorization code with PKCE, S256 only; refresh with rotation; revoke)

    def _oauth(self, handler: _Handler, method: str, raw: bytes) -> None:
        parts = urlsplit(handler.path)
        record = Received(method, handler.path, dict(handler.headers.items()), raw, time.time())
        with self._lock:
            self.received.append(record)
            if parts.path == "/oauth/authorize" and method == "GET":
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, body, headers = self._authorize(query)
            elif parts.path == "/oauth/token" and method == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                status, body, headers = self._token(form, time.time())
            elif parts.path == "/oauth/revoke" and method == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                status, body, headers = self._revoke(handler.headers.get("Authorization", ""), form)
            else:
                status, body, headers = 404, {"error": "not_found"}, {}
            record.status = status
        handler.reply(status, body, headers)

    def _authorize(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        required = ("client_id", "redirect_uri", "state", "code_challenge", "scope")
        if query.get("response_type") != "code" or any(not query.get(k) for k in required):
            return 400, {"error": "invalid_request"}, {}
        if query["client_id"] != CLIENT_ID:
            return 400, {"error": "unauthorized_client"}, {}
        if query.get("code_challenge_method") != "S256":
            return 400, {"error": "invalid_request", "error_description": "S256 required"}, {}
        state = query["state"]
        if self.authorize_mode == "deny":
            answer = {"error": "access_denied", "state": state}
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = query
            if self.authorize_mode == "wrong_state":
                state = "not-" + state
            answer = {"code": code, "state": state}
        return 302, {}, {"Location": f"{query['redirect_uri']}?{urlencode(answer)}"}

    def _token(self, form: dict[str, str], now: float) -> tuple[int, Any, dict[str, str]]:
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}, {}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = form.get("code", "")
            if code in self.spent_codes or code not in self.codes:
                return 400, {"error": "invalid_grant", "error_description": "code not valid"}, {}
            self.spent_codes.add(code)
            asked = self.codes.pop(code)
            if form.get("redirect_uri") != asked["redirect_uri"]:
                return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}, {}
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != asked["code_challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE failed"}, {}
            scopes = frozenset(asked["scope"].split()) & self.granted_scopes
            return 200, self._issue(scopes, now), {}
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            known = self.refresh_tokens.pop(refresh, None)
            if known is None or known[0] <= now:
                return 400, {"error": "invalid_grant", "error_description": "refresh token"}, {}
            return 200, self._issue(known[1], now), {}
        return 400, {"error": "unsupported_grant_type"}, {}

    def _issue(self, scopes: frozenset[str], now: float) -> dict[str, Any]:
        access, refresh = "at-" + secrets.token_urlsafe(18), "rt-" + secrets.token_urlsafe(18)
        self.tokens[access] = scopes
        self.accounts[access] = self.login_account
        self.token_expiry[access] = now + self.access_lifetime
        self.refresh_tokens[refresh] = (now + self.refresh_lifetime, scopes)
        self.issued_access_tokens.append(access)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_lifetime,
            "refresh_token": refresh,
            "scope": " ".join(sorted(scopes)),
        }

    def _revoke(self, authorization: str, form: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != f"Basic {expected}":
            return 401, {"error": "invalid_client"}, {}
        token = form.get("token", "")
        self.refresh_tokens.pop(token, None)
        self.revoked.append(token)
        return 200, {}, {}


def _validate(media: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if body.get("status") not in STATUSES:
        return f"status must be one of {sorted(STATUSES)}"
    allowed = {**_COMMON_FIELDS, **_MEDIA_FIELDS[media]}
    for name, value in body.items():
        if name == "status":
            continue
        if name not in allowed:
            return f"unknown field {name} for {media}"
        kind, low, high = allowed[name]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            return f"{name} must be an integer"
        if not isinstance(value, kind):
            return f"{name} must be a {kind.__name__}"
        if kind is int and (
            (low is not None and value < low) or (high is not None and value > high)
        ):
            return f"{name} out of range"
        if name.endswith("_date") and not _DATE_RE.match(value):
            return f"{name} must be YYYY-MM-DD"
    return None


class _Handler(QuietHandler):
    server_fake: FakeAniSearch

    def reply(self, status: int, body: Any, headers: dict[str, str], trickle: float = 0.0) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not trickle:
            self.wfile.write(data)
            return
        try:
            self.wfile.flush()
            for index in range(len(data)):
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
                time.sleep(trickle)
        except OSError:  # the client gave up: what it should do
            self.close_connection = True

    def reply_huge(self, size: int, *, declared: bool) -> None:
        """A JSON list of `size` bytes (`[0,0,...,0]`), written half a megabyte at a time."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if declared:
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        block = b"0," * (1 << 18)
        try:
            self.wfile.write(b"[")
            left = size - 3  # "[" and "0]"
            while left > 0:
                part = block[: min(left, len(block))]
                self.wfile.write(part if len(part) % 2 == 0 else part[:-1] + b" ")
                left -= len(part)
            self.wfile.write(b"0]")
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        self.server_fake.handle(self, "GET")

    def do_PUT(self) -> None:
        self.server_fake.handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server_fake.handle(self, "DELETE")

    def do_POST(self) -> None:
        self.server_fake.handle(self, "POST")


FakeAniSearch.handler_class = _Handler
