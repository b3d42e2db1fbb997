"""Signing in through a browser: OAuth 2.0 authorization code with PKCE, for each service.

`login` runs the whole round trip: the address to open, the answer on the loopback listener
(or pasted), the code exchanged for tokens, stored. What differs between aniSearch and
MyAnimeList (PKCE method, scopes) comes from their `Provider`. Only `malsync login` imports this
module: a sync loads no browser and no HTTP server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from malsync.auth.loopback import RedirectListener
from malsync.auth.oauth import LoginError, OAuthClient
from malsync.auth.providers import ANISEARCH, MYANIMELIST, Provider
from malsync.auth.tokens import TokenSet, TokenStore
from malsync.config.settings import SignInSettings
from malsync.errors import SettingError
from malsync.net.address import check_url

__all__ = [
    "LoginError",
    "Pkce",
    "authorization_url",
    "login",
    "new_pkce",
    "parse_redirect",
]


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


def authorization_url(
    sign_in: SignInSettings,
    state: str,
    challenge: str,
    provider: Provider = ANISEARCH,
) -> str:
    """The address the browser opens; it holds the client id, so it is shown, never logged."""
    fields = {
        "response_type": "code",
        "client_id": sign_in.client_id.reveal() if sign_in.client_id is not None else "",
        "redirect_uri": sign_in.redirect_uri,
        "scope": " ".join(provider.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": provider.pkce_method,
    }
    if not provider.scopes:
        del fields["scope"]
    return f"{sign_in.authorize_url}?{urlencode(fields)}"


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


def login(
    sign_in: SignInSettings,
    contact: str,
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
    if sign_in.client_id is None:
        env = " (nor MAL_CLIENT_ID)" if provider is MYANIMELIST else ""
        raise SettingError(
            f"{provider.section} client_id is not set{env}: {provider.client_id_help} "
            f"{sign_in.redirect_uri}, then put its id in the config file"
        )
    check_url(sign_in.authorize_url, f"{provider.section} authorize_url")
    client = OAuthClient(sign_in, contact, provider=provider)
    pkce = new_pkce()
    state = secrets.token_urlsafe(24)
    listener = (
        RedirectListener(sign_in.redirect_uri, f"{provider.section} redirect_uri", state)
        if read_pasted is None
        else None
    )
    challenge = provider.challenge(pkce.verifier, pkce.challenge)
    url = authorization_url(sign_in, state, challenge, provider)
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
    code = parse_redirect(redirected, state, provider.name, sign_in.redirect_uri)
    tokens = client.exchange(code, pkce.verifier)
    TokenStore(sign_in.token_file, provider.login_command).save(tokens)
    return tokens
