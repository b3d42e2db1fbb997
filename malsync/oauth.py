"""Sign-in with aniSearch: OAuth 2.0 authorization code with PKCE (S256), refresh and revoke.

`login` runs the whole browser round trip; `token_source` decides which token a sync uses
(ANISEARCH_TOKEN, then `[anisearch] token`, then the stored sign-in) and renews stored tokens
shortly before they expire and once after a 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from malsync.client import check_url, user_agent
from malsync.config import OAuthSettings, Settings
from malsync.errors import ConfigError, MalsyncError
from malsync.redaction import Secret, redact
from malsync.tokens import TokenRenewalError, TokenSet, TokenSource, TokenStore

log = logging.getLogger(__name__)

SCOPES = ("ratings.anime", "ratings.manga")
_TIMEOUT = (10.0, 30.0)
# Renew this long before expiry (at most a tenth of the token's life, for short-lived tokens).
_RENEW_MARGIN_SECONDS = 60.0
_CLOSE_TAB_PAGE = (
    "<!doctype html><meta charset='utf-8'><title>malsync</title>"
    "<p>{message}</p><p>You can close this tab and go back to malsync.</p>"
)


class LoginError(MalsyncError):
    """The sign-in did not complete; nothing was stored."""


class NotSignedIn(ConfigError):
    """No token anywhere: a real sync cannot start (a dry run just does not compare)."""


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


def new_pkce() -> Pkce:
    """RFC 7636: a 43-128 character verifier and its S256 challenge (plain is refused)."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return Pkce(verifier, challenge)


def authorization_url(oauth: OAuthSettings, state: str, challenge: str) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": oauth.client_id,
            "redirect_uri": oauth.redirect_uri,
            "scope": " ".join(SCOPES),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{oauth.authorize_url}?{query}"


def parse_redirect(redirected: str, expected_state: str) -> str:
    """The authorization code from the address the browser was sent back to."""
    text = redirected.strip()
    query = urlsplit(text).query if "?" in text or "://" in text else text.lstrip("?")
    values = {name: items[0] for name, items in parse_qs(query).items()}
    if "error" in values:
        detail = values.get("error_description", "")
        suffix = f": {detail}" if detail else ""
        raise LoginError(f"aniSearch did not sign you in ({values['error']}{suffix})")
    state = values.get("state", "")
    if not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise LoginError(
            "the answer does not belong to this sign-in (its state differs); nothing was stored"
        )
    code = values.get("code", "")
    if not code:
        raise LoginError("the address holds no authorization code")
    return code


class OAuthClient:
    """The token endpoint's three calls: exchange a code, refresh, revoke."""

    def __init__(
        self, oauth: OAuthSettings, contact: str, session: requests.Session | None = None
    ) -> None:
        for key in ("token_url", "revoke_url"):
            check_url(getattr(oauth, key), f"[oauth] {key}")
        self._oauth = oauth
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = user_agent(contact)

    def _client_fields(self) -> dict[str, str]:
        fields = {"client_id": self._oauth.client_id}
        if self._oauth.client_secret is not None:
            fields["client_secret"] = self._oauth.client_secret.reveal()
        return fields

    def exchange(self, code: str, verifier: str) -> TokenSet:
        code_secret = Secret(code)  # so that no message can show it
        try:
            return self._token_request(
                {
                    "grant_type": "authorization_code",
                    "code": code_secret.reveal(),
                    "redirect_uri": self._oauth.redirect_uri,
                    "code_verifier": Secret(verifier).reveal(),
                    **self._client_fields(),
                }
            )
        except _TokenEndpointError as error:
            raise LoginError(f"the token exchange failed ({error}); nothing was stored") from None

    def refresh(self, refresh_token: Secret) -> TokenSet:
        try:
            return self._token_request(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token.reveal(),
                    **self._client_fields(),
                }
            )
        except _TokenEndpointError as error:
            raise TokenRenewalError(
                f"could not renew the access token ({error}); run malsync login again"
            ) from None

    def revoke(self, refresh_token: Secret) -> None:
        secret = self._oauth.client_secret.reveal() if self._oauth.client_secret else ""
        try:
            response = self._session.post(
                self._oauth.revoke_url,
                data={"token": refresh_token.reveal(), "token_type_hint": "refresh_token"},
                auth=(self._oauth.client_id, secret),
                timeout=_TIMEOUT,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise _TokenEndpointError(redact(f"no answer ({type(error).__name__})")) from None
        with response:
            if not 200 <= response.status_code < 300:
                raise _TokenEndpointError(_describe(response))

    def _token_request(self, form: dict[str, str]) -> TokenSet:
        try:
            response = self._session.post(
                self._oauth.token_url, data=form, timeout=_TIMEOUT, allow_redirects=False
            )
        except requests.RequestException as error:
            raise _TokenEndpointError(redact(f"no answer ({type(error).__name__})")) from None
        with response:
            if not 200 <= response.status_code < 300:
                raise _TokenEndpointError(_describe(response))
            try:
                data = response.json()
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                return TokenSet.from_response(data)
            except ValueError as error:
                raise _TokenEndpointError(f"unusable answer: {error}") from None


class _TokenEndpointError(Exception):
    pass


def _describe(response: requests.Response) -> str:
    detail = ""
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        detail = " ".join(
            str(data[key]) for key in ("error", "error_description", "message") if data.get(key)
        )
    detail = detail or " ".join(response.text.split())[:200]
    return redact(
        f"HTTP {response.status_code}: {detail}" if detail else f"HTTP {response.status_code}"
    )


class RedirectListener:
    """A one-shot HTTP listener on the loopback redirect URI; bound before the browser opens."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        host = parts.hostname or ""
        check_url(redirect_uri, "[oauth] redirect_uri")
        if parts.scheme != "http" or host not in ("127.0.0.1", "localhost"):
            raise ConfigError(
                f"[oauth] redirect_uri {redirect_uri!r} must be http://127.0.0.1:PORT/... or "
                "http://localhost:PORT/..., where malsync itself can receive the answer"
            )
        self.path = parts.path or "/"
        self.received: str | None = None
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != listener.path:
                    self.send_error(404)
                    return
                listener.received = self.path
                error = "error=" in urlsplit(self.path).query
                message = "Sign-in was not completed." if error else "malsync is signed in."
                body = _CLOSE_TAB_PAGE.format(message=message).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        try:
            self._server = HTTPServer(("127.0.0.1", parts.port or 80), Handler)
        except OSError as error:
            raise LoginError(
                f"cannot listen on {redirect_uri} ({error.strerror}); is another login running?"
            ) from None

    def wait(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        self._server.timeout = 0.5
        try:
            while self.received is None:
                if time.monotonic() > deadline:
                    raise LoginError(
                        f"no answer from the browser within {timeout:g} s; nothing was stored "
                        "(try again, or use --paste)"
                    )
                self._server.handle_request()
        finally:
            self._server.server_close()
        return self.received

    def close(self) -> None:
        self._server.server_close()


def login(
    settings: Settings,
    *,
    show: Callable[[str], None],
    open_browser: bool = True,
    read_pasted: Callable[[], str] | None = None,
    timeout: float = 300.0,
) -> TokenSet:
    """Sign in and store the tokens; raises LoginError (nothing stored) when anything fails."""
    oauth = settings.oauth
    if not oauth.client_id:
        raise ConfigError(
            "[oauth] client_id is not set: ask aniSearch (api@anisearch.com) for a client with "
            f"the redirect URI {oauth.redirect_uri}, then put its id in the config file"
        )
    check_url(oauth.authorize_url, "[oauth] authorize_url")
    client = OAuthClient(oauth, settings.anisearch.contact)
    pkce = new_pkce()
    state = secrets.token_urlsafe(24)
    listener = RedirectListener(oauth.redirect_uri) if read_pasted is None else None
    url = authorization_url(oauth, state, pkce.challenge)
    try:
        show(url)
        if open_browser:
            webbrowser.open(url)
        redirected = read_pasted() if read_pasted is not None else None
        if listener is not None:
            redirected = listener.wait(timeout)
    finally:
        if listener is not None:
            listener.close()
    assert redirected is not None
    tokens = client.exchange(parse_redirect(redirected, state), pkce.verifier)
    TokenStore(oauth.token_file).save(tokens)
    return tokens


def logout(settings: Settings) -> tuple[bool, str | None]:
    """Revoke the stored refresh token and delete the store.

    Returns whether a sign-in was stored, and why revoking failed (None if it worked).
    """
    store = TokenStore(settings.oauth.token_file)
    tokens = store.load()
    if tokens is None:
        return False, None
    problem = None
    if tokens.refresh_token is not None and settings.oauth.client_id:
        try:
            OAuthClient(settings.oauth, settings.anisearch.contact).revoke(tokens.refresh_token)
        except (_TokenEndpointError, ConfigError) as error:
            problem = str(error)
    elif tokens.refresh_token is not None:
        problem = "[oauth] client_id is not set"
    store.delete()
    return True, problem


class StaticToken:
    """A token given by the user (environment or config): used as it is, never renewed."""

    renew_hint: ClassVar[str] = (
        "Get a new token (ANISEARCH_TOKEN or [anisearch] token), or remove it and sign in "
        "with malsync login"
    )

    def __init__(self, token: Secret) -> None:
        self._token = token

    @property
    def scopes(self) -> frozenset[str] | None:
        return None

    def current(self) -> Secret:
        return self._token

    def renew(self) -> bool:
        return False


class StoredToken:
    """The signed-in user's tokens: renewed shortly before expiry and once after a 401."""

    renew_hint: ClassVar[str] = "Run malsync login again"

    def __init__(
        self,
        store: TokenStore,
        tokens: TokenSet,
        client: OAuthClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._client = client
        self._clock = clock

    @property
    def scopes(self) -> frozenset[str] | None:
        return self._tokens.scopes

    def current(self) -> Secret:
        lifetime = self._tokens.expires_at - self._tokens.obtained_at
        margin = min(_RENEW_MARGIN_SECONDS, max(lifetime, 0.0) / 10)
        if self._tokens.expires_at - self._clock() <= margin:
            self.renew()
        return self._tokens.access_token

    def renew(self) -> bool:
        refresh_token = self._tokens.refresh_token
        if refresh_token is None:
            raise TokenRenewalError(
                "the access token expired and there is no refresh token; run malsync login again"
            )
        renewed = self._client.refresh(refresh_token)
        if renewed.refresh_token is None:  # the server kept the old refresh token
            renewed = TokenSet(
                renewed.access_token,
                refresh_token,
                renewed.expires_at,
                renewed.scopes or self._tokens.scopes,
                self._tokens.obtained_at,
            )
        elif renewed.scopes is None:
            renewed = TokenSet(
                renewed.access_token,
                renewed.refresh_token,
                renewed.expires_at,
                self._tokens.scopes,
                renewed.obtained_at,
            )
        self._store.save(renewed)
        self._tokens = renewed
        log.info("renewed the aniSearch access token")
        return True


def token_source(settings: Settings) -> TokenSource:
    """ANISEARCH_TOKEN if set, else [anisearch] token, else the stored sign-in."""
    if settings.anisearch.token is not None:
        return StaticToken(settings.anisearch.token)
    store = TokenStore(settings.oauth.token_file)
    tokens = store.load()
    if tokens is None:
        raise NotSignedIn("not signed in to aniSearch: run malsync login (or set ANISEARCH_TOKEN)")
    return StoredToken(store, tokens, OAuthClient(settings.oauth, settings.anisearch.contact))
