"""Tokens for a run: the token endpoint (exchange, refresh, revoke), renewal, and sign-out.

What a sync needs to get and renew its token, without a browser or a listener: `token_source`
decides which token an aniSearch sync uses (ANISEARCH_TOKEN, then `[anisearch] token`, then the
stored sign-in); `stored_token_source` gives a service's stored sign-in. Stored tokens are
renewed shortly before they expire and once after a 401. Signing in through a browser is
`malsync.auth.browser`, which only `malsync login` imports.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import requests

from malsync.auth.providers import ANISEARCH, Provider
from malsync.auth.tokens import (
    SignOut,
    TokenRefused,
    TokenRenewalError,
    TokenSet,
    TokenSource,
    TokenStore,
)
from malsync.config.settings import AniSearchSettings, SignInSettings
from malsync.errors import ConfigError, MalsyncError
from malsync.net.address import check_url
from malsync.net.messages import status_and_words
from malsync.net.transfer import AnswerTooLarge, Bounds, HttpAnswer, json_session, send
from malsync.redaction import Secret, redact

__all__ = [
    "LoginError",
    "NotSignedIn",
    "OAuthClient",
    "SignOut",
    "StaticToken",
    "StoredToken",
    "logout",
    "stored_token_source",
    "token_source",
]

log = logging.getLogger(__name__)

# A token answer is a few hundred bytes: 1 MB is far more than enough.
_BOUNDS = Bounds(10.0, 30.0, 60.0, 1024 * 1024)
# Renew this long before expiry (at most a tenth of the token's life, for short-lived tokens).
_RENEW_MARGIN_SECONDS = 60.0


class NotSignedIn(ConfigError):
    """No token anywhere: a real sync cannot start (a dry run just does not compare)."""


class LoginError(MalsyncError):
    """The sign-in did not complete; nothing was stored."""


class OAuthClient:
    """The token endpoint's three calls: exchange a code, refresh, revoke."""

    def __init__(
        self,
        sign_in: SignInSettings,
        contact: str,
        session: requests.Session | None = None,
        *,
        provider: Provider = ANISEARCH,
    ) -> None:
        self._sign_in = sign_in
        self._provider = provider
        check_url(self._sign_in.token_url, f"{provider.section} token_url")
        if self._sign_in.revoke_url is not None:
            check_url(self._sign_in.revoke_url, f"{provider.section} revoke_url")
        self._session = json_session(provider.user_agent(contact), session)

    def _client_fields(self) -> dict[str, str]:
        fields = {"client_id": _revealed(self._sign_in.client_id)}
        if self._sign_in.client_secret is not None:
            fields["client_secret"] = self._sign_in.client_secret.reveal()
        return fields

    def exchange(self, code: str, verifier: str) -> TokenSet:
        code_secret = Secret(code)  # so that no message can show it
        try:
            return self._token_request(
                {
                    "grant_type": "authorization_code",
                    "code": code_secret.reveal(),
                    "redirect_uri": self._sign_in.redirect_uri,
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
            reason = f"could not renew the access token ({error})"
            message = f"{reason}; run {self._provider.login_command} again"
            if error.code == "invalid_grant":  # the refresh token itself is dead
                raise TokenRefused(message, reason) from None
            raise TokenRenewalError(message) from None

    def revoke(self, refresh_token: Secret) -> None:
        if self._sign_in.revoke_url is None:
            return  # the service has no revocation: forgetting the tokens is all there is
        secret = _revealed(self._sign_in.client_secret)
        response = self._post(
            self._sign_in.revoke_url,
            data={"token": refresh_token.reveal(), "token_type_hint": "refresh_token"},
            auth=(_revealed(self._sign_in.client_id), secret),
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
        response = self._post(self._sign_in.token_url, data=form)
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


def logout(sign_in: SignInSettings, contact: str, provider: Provider = ANISEARCH) -> SignOut:
    """Revoke the stored refresh token (where the service can) and delete the store.

    A damaged token file is deleted too: it is what stands between the user and a new sign-in.
    """
    store = TokenStore(sign_in.token_file, provider.login_command)
    if store.delete_if_damaged():
        return SignOut(stored=True, damaged=True)
    tokens = store.load()
    if tokens is None:
        return SignOut(stored=False)
    problem = None
    if tokens.refresh_token is not None and provider.revocable:
        if sign_in.client_id is not None:
            try:
                OAuthClient(sign_in, contact, provider=provider).revoke(tokens.refresh_token)
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
        if self._expiring(self._tokens):
            self.renew()
        return self._tokens.access_token

    def renew(self) -> bool:
        """A new access token, under the renewal lock: the one another run renewed meanwhile
        if the token file holds it, else one asked for here."""
        with self._store.renewing():
            newer = self._take_newer()
            if newer:
                return True
            try:
                renewed = self._refreshed()
            except TokenRefused as refused:
                # Another run that takes no lock may have renewed while this one asked: the
                # refresh token it spent is this one. Once more, with what it stored.
                newer = self._take_newer()
                if newer is None:
                    self._store.mark_refused(refused.reason)
                    raise
                if newer:
                    return True
                try:
                    renewed = self._refreshed()
                except TokenRefused as again:
                    self._store.mark_refused(again.reason)
                    raise
            self._store.save(renewed)
            self._tokens = renewed
        log.info("renewed the %s access token", self._provider.name)
        return True

    def _expiring(self, tokens: TokenSet) -> bool:
        lifetime = tokens.expires_at - tokens.obtained_at
        margin = min(_RENEW_MARGIN_SECONDS, max(lifetime, 0.0) / 10)
        return tokens.expires_at - self._clock() <= margin

    def _take_newer(self) -> bool | None:
        """Take the tokens in the file if another run stored new ones: None if it did not,
        else whether they are good for a while yet (False: they need renewing too)."""
        try:
            stored = self._store.load()
        except ConfigError:
            return None  # damaged meanwhile: what this run holds is all there is
        held = self._tokens
        if stored is None or (
            _same(stored.access_token, held.access_token)
            and _same(stored.refresh_token, held.refresh_token)
        ):
            return None
        self._tokens = stored
        if self._expiring(stored):
            return False
        log.info("took the %s access token another malsync run renewed", self._provider.name)
        return True

    def _refreshed(self) -> TokenSet:
        """New tokens from the service for the refresh token held now."""
        held = self._tokens
        refresh_token = held.refresh_token
        if refresh_token is None:
            raise TokenRenewalError(
                "the access token expired and there is no refresh token; "
                f"run {self._provider.login_command} again"
            )
        renewed = self._client.refresh(refresh_token)
        if renewed.refresh_token is None:  # the server kept the old refresh token
            return TokenSet(
                renewed.access_token,
                refresh_token,
                renewed.expires_at,
                renewed.scopes or held.scopes,
                held.obtained_at,
            )
        if renewed.scopes is None:
            return replace(renewed, scopes=held.scopes)
        return renewed


def _same(one: Secret | None, other: Secret | None) -> bool:
    if one is None or other is None:
        return one is other
    return hmac.compare_digest(one.reveal().encode(), other.reveal().encode())


def stored_token_source(
    sign_in: SignInSettings, contact: str, provider: Provider
) -> StoredToken | None:
    """The stored sign-in at `provider`, renewing itself; None when not signed in there."""
    store = TokenStore(sign_in.token_file, provider.login_command)
    tokens = store.load()
    if tokens is None:
        return None
    client = OAuthClient(sign_in, contact, provider=provider)
    return StoredToken(store, tokens, client, provider=provider)


def token_source(api: AniSearchSettings, contact: str) -> TokenSource:
    """ANISEARCH_TOKEN if set, else [anisearch] token, else the stored sign-in."""
    if api.token is not None:
        return StaticToken(api.token)
    stored = stored_token_source(api.sign_in, contact, ANISEARCH)
    if stored is None:
        raise NotSignedIn("not signed in to aniSearch: run malsync login (or set ANISEARCH_TOKEN)")
    return stored


def _revealed(value: Secret | None) -> str:
    return value.reveal() if value is not None else ""
