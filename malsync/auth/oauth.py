"""Sign-in: OAuth 2.0 authorization code with PKCE, refresh and revoke, for each service.

`login` runs the whole browser round trip; what differs between aniSearch and MyAnimeList
(PKCE method, scopes, revoke) comes from their `Provider`. `token_source` decides which token
an aniSearch sync uses (ANISEARCH_TOKEN, then `[anisearch] token`, then the stored sign-in);
`stored_token_source` gives a service's stored sign-in. Stored tokens are renewed shortly before
they expire and once after a 401.
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
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from malsync.auth.loopback import LoginError, RedirectListener
from malsync.auth.providers import (
    ANISEARCH,
    MYANIMELIST,
    Provider,
    Registration,
    anisearch_registration,
    registration,
)
from malsync.auth.tokens import (
    SignOut,
    TokenRefused,
    TokenRenewalError,
    TokenSet,
    TokenSource,
    TokenStore,
)
from malsync.config.settings import OAuthSettings, Settings
from malsync.errors import ConfigError, SettingError
from malsync.net.address import check_url
from malsync.net.messages import status_and_words
from malsync.net.transfer import AnswerTooLarge, Bounds, HttpAnswer, json_session, send
from malsync.redaction import Secret, redact

__all__ = [
    "ANISEARCH",
    "MYANIMELIST",
    "LoginError",
    "NotSignedIn",
    "OAuthClient",
    "Pkce",
    "Provider",
    "RedirectListener",
    "StaticToken",
    "StoredToken",
    "authorization_url",
    "login",
    "logout",
    "new_pkce",
    "parse_redirect",
    "stored_token_source",
    "token_source",
]

log = logging.getLogger(__name__)

SCOPES = ANISEARCH.scopes
# A token answer is a few hundred bytes: 1 MB is far more than enough.
_BOUNDS = Bounds(10.0, 30.0, 60.0, 1024 * 1024)
# Renew this long before expiry (at most a tenth of the token's life, for short-lived tokens).
_RENEW_MARGIN_SECONDS = 60.0


class NotSignedIn(ConfigError):
    """No token anywhere: a real sync cannot start (a dry run just does not compare)."""


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str  # S256; a provider that takes plain sends the verifier instead


def new_pkce() -> Pkce:
    """RFC 7636: a 43-128 character verifier, new for every sign-in, and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)[:96]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return Pkce(verifier, challenge)


def _as_registration(oauth: OAuthSettings | Registration) -> Registration:
    return oauth if isinstance(oauth, Registration) else anisearch_registration(oauth)


def authorization_url(
    oauth: OAuthSettings | Registration,
    state: str,
    challenge: str,
    provider: Provider = ANISEARCH,
) -> str:
    """The address the browser opens; it holds the client id, so it is shown, never logged."""
    client = _as_registration(oauth)
    fields = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": " ".join(provider.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": provider.pkce_method,
    }
    if not provider.scopes:
        del fields["scope"]
    return f"{client.authorize_url}?{urlencode(fields)}"


def parse_redirect(
    redirected: str,
    expected_state: str,
    service: str = ANISEARCH.name,
    redirect_uri: str = "",
) -> str:
    """The authorization code from the address the browser was sent back to."""
    text = redirected.strip()
    query = urlsplit(text).query if "?" in text or "://" in text else text.lstrip("?")
    values = {name: items[0] for name, items in parse_qs(query).items()}
    if "code" not in values and "error" not in values:
        start = f"; it starts with {redirect_uri}?code=…" if redirect_uri else ""
        raise LoginError(f"that is not the address the browser ended on{start}; nothing was stored")
    if "error" in values:
        detail = values.get("error_description", "")
        suffix = f": {detail}" if detail else ""
        raise LoginError(f"{service} did not sign you in ({values['error']}{suffix})")
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
        self,
        oauth: OAuthSettings | Registration,
        contact: str,
        session: requests.Session | None = None,
        *,
        provider: Provider = ANISEARCH,
    ) -> None:
        self._oauth = _as_registration(oauth)
        self._provider = provider
        check_url(self._oauth.token_url, f"{provider.section} token_url")
        if self._oauth.revoke_url is not None:
            check_url(self._oauth.revoke_url, f"{provider.section} revoke_url")
        self._session = json_session(provider.user_agent(contact), session)

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
            refused = error.code == "invalid_grant"  # the refresh token itself is dead
            raise (TokenRefused if refused else TokenRenewalError)(
                f"could not renew the access token ({error}); "
                f"run {self._provider.login_command} again"
            ) from None

    def revoke(self, refresh_token: Secret) -> None:
        if self._oauth.revoke_url is None:
            return  # the service has no revocation: forgetting the tokens is all there is
        secret = self._oauth.client_secret.reveal() if self._oauth.client_secret else ""
        response = self._post(
            self._oauth.revoke_url,
            data={"token": refresh_token.reveal(), "token_type_hint": "refresh_token"},
            auth=(self._oauth.client_id, secret),
        )
        if not 200 <= response.status_code < 300:
            raise _TokenEndpointError(_describe(response))

    def _post(self, url: str, **options: Any) -> HttpAnswer:
        try:
            return send(self._session, "POST", url, _BOUNDS, **options)
        except AnswerTooLarge as error:
            raise _TokenEndpointError(str(error)) from None
        except requests.RequestException as error:
            raise _TokenEndpointError(redact(f"no answer ({type(error).__name__})")) from None

    def _token_request(self, form: dict[str, str]) -> TokenSet:
        response = self._post(self._oauth.token_url, data=form)
        if not 200 <= response.status_code < 300:
            raise _TokenEndpointError(_describe(response), _error_code(response))
        try:
            data = response.json()
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return TokenSet.from_response(data)
        except ValueError as error:
            raise _TokenEndpointError(f"unusable answer: {error}") from None


class _TokenEndpointError(Exception):
    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code  # OAuth's "error" field, e.g. invalid_grant


def _error_code(response: HttpAnswer) -> str:
    try:
        data: Any = response.json()
    except ValueError:
        return ""
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _describe(response: HttpAnswer) -> str:
    described = status_and_words(response)
    if response.moved_to is not None:
        described += f" (moved permanently to {response.moved_to})"
    return described


def login(
    settings: Settings,
    *,
    show: Callable[[str], None],
    open_browser: bool = True,
    read_pasted: Callable[[], str] | None = None,
    timeout: float = 300.0,
    provider: Provider = ANISEARCH,
) -> TokenSet:
    """Sign in to `provider` and store the tokens; raises LoginError (nothing stored) on failure.

    `show` gets the address to open in a browser. It holds the client id (the service needs
    it there), so show it to the user as it is: do not log it or pass it through `redact`.
    """
    client_settings = registration(settings, provider)
    if not client_settings.client_id:
        env = " (nor MAL_CLIENT_ID)" if provider is MYANIMELIST else ""
        raise SettingError(
            f"{provider.section} client_id is not set{env}: {provider.client_id_help} "
            f"{client_settings.redirect_uri}, then put its id in the config file"
        )
    check_url(client_settings.authorize_url, f"{provider.section} authorize_url")
    client = OAuthClient(client_settings, settings.anisearch.contact, provider=provider)
    pkce = new_pkce()
    state = secrets.token_urlsafe(24)
    listener = (
        RedirectListener(client_settings.redirect_uri, f"{provider.section} redirect_uri", state)
        if read_pasted is None
        else None
    )
    challenge = provider.challenge(pkce.verifier, pkce.challenge)
    url = authorization_url(client_settings, state, challenge, provider)
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
    code = parse_redirect(redirected, state, provider.name, client_settings.redirect_uri)
    tokens = client.exchange(code, pkce.verifier)
    TokenStore(client_settings.token_file, provider.login_command).save(tokens)
    return tokens


def logout(settings: Settings, provider: Provider = ANISEARCH) -> SignOut:
    """Revoke the stored refresh token (where the service can) and delete the store.

    A damaged token file is deleted too: it is what stands between the user and a new sign-in.
    """
    client_settings = registration(settings, provider)
    store = TokenStore(client_settings.token_file, provider.login_command)
    if store.delete_if_damaged():
        return SignOut(stored=True, damaged=True)
    tokens = store.load()
    if tokens is None:
        return SignOut(stored=False)
    problem = None
    if tokens.refresh_token is not None and provider.revocable:
        if client_settings.client_id:
            try:
                OAuthClient(client_settings, settings.anisearch.contact, provider=provider).revoke(
                    tokens.refresh_token
                )
            except (_TokenEndpointError, ConfigError) as error:
                problem = str(error)
        else:
            problem = f"{provider.section} client_id is not set"
    store.delete()
    return SignOut(stored=True, problem=problem)


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

    def __init__(
        self,
        store: TokenStore,
        tokens: TokenSet,
        client: OAuthClient,
        clock: Callable[[], float] = time.time,
        provider: Provider = ANISEARCH,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._client = client
        self._clock = clock
        self._provider = provider
        self.renew_hint = f"Run {provider.login_command} again"

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
                "the access token expired and there is no refresh token; "
                f"run {self._provider.login_command} again"
            )
        try:
            renewed = self._client.refresh(refresh_token)
        except TokenRefused as refused:
            self._store.mark_refused(str(refused))
            raise
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
        log.info("renewed the %s access token", self._provider.name)
        return True


def stored_token_source(settings: Settings, provider: Provider) -> StoredToken | None:
    """The stored sign-in at `provider`, renewing itself; None when not signed in there."""
    client_settings = registration(settings, provider)
    store = TokenStore(client_settings.token_file, provider.login_command)
    tokens = store.load()
    if tokens is None:
        return None
    client = OAuthClient(client_settings, settings.anisearch.contact, provider=provider)
    return StoredToken(store, tokens, client, provider=provider)


def token_source(settings: Settings) -> TokenSource:
    """ANISEARCH_TOKEN if set, else [anisearch] token, else the stored sign-in."""
    if settings.anisearch.token is not None:
        return StaticToken(settings.anisearch.token)
    stored = stored_token_source(settings, ANISEARCH)
    if stored is None:
        raise NotSignedIn("not signed in to aniSearch: run malsync login (or set ANISEARCH_TOKEN)")
    return stored
