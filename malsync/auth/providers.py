"""The services malsync signs in to, and what differs between them, each said in one place.

The OAuth round trip (`malsync.auth.browser`), the token endpoint (`malsync.auth.oauth`), the
token store and renewal (`malsync.auth.tokens`, `malsync.auth.token_source`) are shared; a
`Provider` holds what is not: PKCE method, scopes, whether tokens can be revoked, how long
refresh tokens live, and the words used in messages. This installation's client at each service
is its `SignInSettings`, read from the config.
"""

from __future__ import annotations

from dataclasses import dataclass

from malsync import __version__
from malsync.net.address import user_agent

_MONTH_SECONDS = 30 * 24 * 3600.0


@dataclass(frozen=True)
class Provider:
    key: str  # the word after `malsync login`; "" for aniSearch, the default
    name: str  # how messages name the service
    section: str  # the config section that holds the registration, for messages
    pkce_method: str  # "S256" or "plain": each service accepts only one
    scopes: tuple[str, ...]  # empty: the authorize request carries no scope
    revocable: bool  # False: logout can only forget the tokens
    refresh_lifetime_seconds: float  # the token answer does not say it
    client_id_help: str  # where to get a client id, for the "not set" message

    @property
    def login_command(self) -> str:
        return f"malsync login {self.key}".rstrip()

    def user_agent(self, contact: str) -> str:
        """aniSearch refuses requests without a contact; MAL does not ask for one."""
        if self is ANISEARCH or contact.strip():
            return user_agent(contact)
        return f"malsync/{__version__}"

    def challenge(self, verifier: str, s256_challenge: str) -> str:
        """The code_challenge to send: plain is the verifier itself."""
        return verifier if self.pkce_method == "plain" else s256_challenge


ANISEARCH = Provider(
    key="",
    name="aniSearch",
    section="[oauth]",
    pkce_method="S256",
    scopes=("ratings.anime", "ratings.manga", "user.profile"),  # the profile: whose checkpoint
    revocable=True,
    refresh_lifetime_seconds=_MONTH_SECONDS,
    client_id_help="ask aniSearch (api@anisearch.com) for a client with the redirect URI",
)

# MAL documents no revocation endpoint and only the plain PKCE method; refresh tokens live about
# a month (taken as 30 days, as for aniSearch; MAL's answer does not say).
MYANIMELIST = Provider(
    key="myanimelist",
    name="MyAnimeList",
    section="[myanimelist]",
    pkce_method="plain",
    scopes=(),
    revocable=False,
    refresh_lifetime_seconds=_MONTH_SECONDS,
    client_id_help=(
        "register an API client at https://myanimelist.net/apiconfig (App Type: other) with "
        "the redirect URI"
    ),
)

# The services by the name `malsync login SERVICE` and `logout SERVICE` take; the first is the
# default.
DEFAULT_SERVICE = "anisearch"
PROVIDERS = {provider.key or DEFAULT_SERVICE: provider for provider in (ANISEARCH, MYANIMELIST)}
