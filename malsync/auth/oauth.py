"""The token endpoint: exchanging a sign-in's code, refreshing, revoking; and signing out.

Which token a run uses, and renewing it, is `malsync.auth.token_source`, which imports this
module only when a stored sign-in needs the endpoint. Signing in through a browser is
`malsync.auth.browser`, which only `malsync login` imports.
"""

from __future__ import annotations

from typing import Any

import requests

from malsync.auth.providers import ANISEARCH, Provider
from malsync.auth.tokens import (
    SignOut,
    TokenRefused,
    TokenRenewalError,
    TokenSet,
    TokenStore,
)
from malsync.config.settings import SignInSettings
from malsync.errors import ConfigError, MalsyncError
from malsync.net.address import check_url
from malsync.net.messages import status_and_words
from malsync.net.transfer import AnswerTooLarge, Bounds, HttpAnswer, json_session, send
from malsync.redaction import Secret, redact

__all__ = ["LoginError", "OAuthClient", "SignOut", "logout"]

# A token answer is a few hundred bytes: 1 MB is far more than enough.
_BOUNDS = Bounds(10.0, 30.0, 60.0, 1024 * 1024)


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


def _revealed(value: Secret | None) -> str:
    return value.reveal() if value is not None else ""
