"""The composition root: the one place that turns the whole `Settings` into what a command uses.

Like httpie's `Environment`, it is made once per command and hands each part only its slice:
the sources (export files or the live MAL list), the MAL reader (with the MAL sign-in, if any),
the aniSearch session (client, token source, rate windows that remember the checkpoint's
requests), the id lookup (hand mappings and aniSearch's MAL links, kept in the user cache
folder), and each command's setup. Nothing below it reads `Settings`, so a new
source or id lookup is wired here and nowhere else. The HTTP clients are imported where they
are built, so that a dry run without sign-in loads no HTTP library.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from malsync.anisearch.journal import RequestJournal
from malsync.anisearch.link_lookup import kept_links
from malsync.anisearch.ratelimit import rate_windows
from malsync.anisearch.session import AniSearchSession
from malsync.auth.providers import MYANIMELIST, Provider
from malsync.auth.token_source import stored_token_source, token_source
from malsync.auth.tokens import TokenStore
from malsync.commands.sync import SyncSetup
from malsync.config.settings import Settings, SignInSettings, default_cache_path
from malsync.errors import SettingError
from malsync.ids.lookup import IdLookup
from malsync.pipeline.records import MediaType
from malsync.sources import Source
from malsync.sources.export import export_sources
from malsync.store.mal_links_cache import LinkCache

if TYPE_CHECKING:  # the HTTP clients, imported where they are built: not for a dry run offline
    from malsync.anisearch.client import AniSearchClient
    from malsync.sources.mal_api import MalApiReader
    from malsync.store.checkpoint import Checkpoint  # opened by the command, if there is one


class Composition:
    """What one command is made of, built from its settings on demand."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def contact(self) -> str:
        """Who is behind the requests: every service's User-Agent names it."""
        return self.settings.contact

    @property
    def checkpoint_file(self) -> Path:
        """The checkpoint, with the command line's --state on top."""
        return self.settings.sync.checkpoint_file

    def sign_in(self, provider: Provider) -> SignInSettings:
        """This installation's client at `provider`, for login, logout and the token files."""
        if provider is MYANIMELIST:
            return self.settings.myanimelist.sign_in
        return self.settings.anisearch.sign_in

    def id_lookup(self, media: frozenset[MediaType], *, may_ask: bool) -> IdLookup:
        """A run's aniSearch ids: the hand mappings, and aniSearch's MAL links for each of
        `media` (the kept copy while fresh, one download within aniSearch's limit where
        `may_ask`, else the older copy or none: then titles go by MAL id)."""
        settings = self.settings
        cache = LinkCache(default_cache_path())
        kinds = sorted(media, key=lambda kind: kind.value)
        if not may_ask or not settings.anisearch.use_mal_links:
            found = [kept_links(settings.anisearch, cache, kind) for kind in kinds]
        else:
            from malsync.anisearch.mal_links import MalLinksSource  # HTTP: for a run that asks

            source = MalLinksSource(settings.anisearch, self.contact, settings.retry, cache)
            try:
                found = [source.lookup(kind) for kind in kinds]
            finally:
                source.close()
        return IdLookup(settings.hand_set_ids, {each.media: each.table for each in found})

    def sources(
        self, exports: Sequence[Path], mal_user: str | None, media: MediaType | None
    ) -> tuple[Source, ...]:
        """Export files (or folders of them), else the live list of `mal_user` (default
        `[myanimelist] user`): one kind per run."""
        if exports:
            return tuple(export_sources(exports))
        user = mal_user or self.settings.myanimelist.user
        if not user:
            raise SettingError(
                "nothing to sync: give MAL export files (or a folder of them), or --mal-user NAME "
                "(or set [myanimelist] user in the config)"
            )
        kinds = (media,) if media is not None else tuple(MediaType)
        from malsync.sources.mal_live import MalSource  # the MAL API's client: for a live list

        return (MalSource(self.mal_reader, user, kinds),)

    def mal_reader(self) -> MalApiReader:
        """The reader a live source uses: the stored MAL sign-in if there is one, else the
        client id. A sign-in MAL already refused to renew is not tried again: its refresh
        token is dead."""
        from malsync.sources.mal_api import MalApiReader

        mal = self.settings.myanimelist
        tokens = stored_token_source(mal.sign_in, self.contact, MYANIMELIST)
        refusal = TokenStore(mal.sign_in.token_file).refused() if tokens else None
        return MalApiReader(
            mal,
            self.settings.retry,
            tokens=None if refusal else tokens,
            refused=refusal.reason if refusal else None,
            contact=self.contact,
        )

    def anisearch_client(self) -> AniSearchClient:
        """The client with the token as settings say. Raises ConfigError (NotSignedIn among
        them) when no request could be made: no token, no contact, a plain-http URL."""
        settings = self.settings
        tokens = token_source(settings.anisearch, self.contact)
        from malsync.anisearch.client import AniSearchClient  # HTTP: once there is a token

        return AniSearchClient(settings.anisearch.base_url, self.contact, settings.retry, tokens)

    def open_session(
        self, checkpoint: Checkpoint | None, client: AniSearchClient | None = None
    ) -> AniSearchSession:
        """The session every command uses: windows that remember, and the client (made here
        unless given; raising as `anisearch_client` does, before anything is sent)."""
        settings = self.settings
        client = client if client is not None else self.anisearch_client()
        limiters = rate_windows(settings.limits, checkpoint)
        # A checkpoint opened read-only (a dry run of one that cannot be written) notes no request.
        noted_in = checkpoint if checkpoint is not None and checkpoint.writable else None
        return AniSearchSession(client, settings.retry, limiters, RequestJournal(noted_in))

    def sync_setup(self) -> SyncSetup:
        settings = self.settings
        return SyncSetup(
            mapping=settings.mapping,
            ids=self.id_lookup,
            on_conflict=settings.sync.on_conflict,
            checkpoint_file=self.checkpoint_file,
            limits=settings.limits,
            anisearch_url=settings.anisearch.base_url,
            open_session=self.open_session,
            connect=self.anisearch_client,
        )
