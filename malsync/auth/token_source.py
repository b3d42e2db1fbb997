"""The token a run uses: ANISEARCH_TOKEN, then `[anisearch] token`, then the stored sign-in.

A stored sign-in renews itself shortly before it expires and once after a 401, through the
token endpoint (`malsync.auth.oauth`), which is imported only for a stored sign-in: a dry run
without one loads no HTTP library.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from malsync.auth.providers import ANISEARCH, Provider
from malsync.auth.tokens import TokenRefused, TokenRenewalError, TokenSet, TokenSource, TokenStore
from malsync.config.settings import AniSearchSettings, SignInSettings
from malsync.errors import ConfigError
from malsync.redaction import Secret

if TYPE_CHECKING:
    from malsync.auth.oauth import OAuthClient

log = logging.getLogger(__name__)

# Renew this long before expiry (at most a tenth of the token's life, for short-lived tokens).
_RENEW_MARGIN_SECONDS = 60.0


class NotSignedIn(ConfigError):
    """No token anywhere: a real sync cannot start (a dry run just does not compare)."""


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
    import hmac  # hashlib and OpenSSL: only a renewal compares tokens

    return hmac.compare_digest(one.reveal().encode(), other.reveal().encode())


def stored_token_source(
    sign_in: SignInSettings, contact: str, provider: Provider
) -> StoredToken | None:
    """The stored sign-in at `provider`, renewing itself; None when not signed in there."""
    store = TokenStore(sign_in.token_file, provider.login_command)
    tokens = store.load()
    if tokens is None:
        return None
    from malsync.auth.oauth import OAuthClient  # the endpoint, for renewing what is stored

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
