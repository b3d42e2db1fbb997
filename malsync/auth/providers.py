"""The services malsync signs in to, and what differs between them, each said in one place.

The OAuth round trip, the token store and renewal are shared (`malsync.auth.oauth`); a `Provider`
holds what is not: PKCE method, scopes, whether tokens can be revoked, how long refresh tokens
live, and the words used in messages. A `Registration` is this installation's client at that
service, taken from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from malsync import __version__
from malsync.config.settings import OAuthSettings, Settings
from malsync.net.address import user_agent
from malsync.redaction import Secret

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


@dataclass(frozen=True)
class Registration:
    """This installation's client at one service; the id is kept out of repr (MAL: secret)."""

    client_id: str = field(repr=False)
    client_secret: Secret | None
    authorize_url: str
    token_url: str
    revoke_url: str | None
    redirect_uri: str
    token_file: Path


def registration(settings: Settings, provider: Provider) -> Registration:
    if provider is MYANIMELIST:
        mal = settings.myanimelist
        return Registration(
            client_id=mal.client_id.reveal() if mal.client_id is not None else "",
            client_secret=mal.client_secret,
            authorize_url=mal.authorize_url,
            token_url=mal.token_url,
            revoke_url=None,
            redirect_uri=mal.redirect_uri,
            token_file=mal.token_file,
        )
    return anisearch_registration(settings.oauth)


def anisearch_registration(oauth: OAuthSettings) -> Registration:
    return Registration(
        client_id=oauth.client_id,
        client_secret=oauth.client_secret,
        authorize_url=oauth.authorize_url,
        token_url=oauth.token_url,
        revoke_url=oauth.revoke_url,
        redirect_uri=oauth.redirect_uri,
        token_file=oauth.token_file,
    )
