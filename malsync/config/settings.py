"""Settings: defaults, the TOML config file and the environment, merged once into frozen objects."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from malsync.config.config_file import read_config_file
from malsync.config.notify_urls import NotifySettings, notify_settings
from malsync.config.values import (
    MAXIMUMS,
    Table,
    credential,
    guess,
    is_id,
)
from malsync.errors import ConfigError
from malsync.pipeline.records import ID_MAX, ListStatus, MediaType
from malsync.redaction import Secret

APP_NAME = "malsync"
TOKEN_ENV = "ANISEARCH_TOKEN"
DATABASE_TOKEN_ENV = "ANISEARCH_DATABASE_TOKEN"
MAL_CLIENT_ID_ENV = "MAL_CLIENT_ID"
DEFAULT_BASE_URL = "https://api.anisearch.com/v1"
# What aniSearch can reach a person by: an e-mail address or a web address (no parentheses,
# which would end the User-Agent's comment).
CONTACT_PATTERN = re.compile(r"[^\s@()]+@[^\s@()]+\.[^\s@()]+|https?://[^\s/()]+\.[^\s()]+")
# A MAL user name as the API takes it in a path; "@me" is the signed-in user.
MAL_USER_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAL_ME = "@me"
ANISEARCH_STATUSES = ("ongoing", "completed", "on_hold", "dropped", "not_interested", "bookmark")


class ConflictPolicy(str, Enum):
    """What a re-sync does where aniSearch already holds a different rating."""

    MERGE = "merge"  # field by field: what changed on MAL since the last sync wins
    MAL_WINS = "mal-wins"
    KEEP_ANISEARCH = "keep-anisearch"
    NO_REGRESS = "no-regress"


class PartialDates(str, Enum):
    """What becomes of a MAL date without a day (or month)."""

    OMIT = "omit"
    FIRST_DAY = "first_day"


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_checkpoint_file() -> Path:
    return platformdirs.user_data_path(APP_NAME) / "state.sqlite3"


def default_cache_path() -> Path:
    """Where aniSearch's MAL links are kept between runs (Linux: ~/.cache/malsync)."""
    return platformdirs.user_cache_path(APP_NAME)


def default_token_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "token.json"


@dataclass(frozen=True)
class Limits:
    """aniSearch's documented allowances, kept as a sliding window (never a burst past them)."""

    upsert_requests: int = 100  # PUT
    upsert_window_seconds: float = 120.0
    read_requests: int = 10  # GET and DELETE together
    read_window_seconds: float = 60.0


def _default_status_map() -> dict[ListStatus, str]:
    return {
        ListStatus.IN_PROGRESS: "ongoing",
        ListStatus.COMPLETED: "completed",
        ListStatus.ON_HOLD: "on_hold",
        ListStatus.DROPPED: "dropped",
        ListStatus.PLAN_TO_WATCH: "bookmark",
    }


@dataclass(frozen=True)
class MappingOptions:
    """How MAL values become aniSearch fields; the defaults are the issue's documented mapping."""

    status: Mapping[ListStatus, str] = field(default_factory=_default_status_map)
    personal_rating: bool = False
    partial_dates: PartialDates = PartialDates.OMIT
    tags_in_notes: bool = False
    is_visible: bool = True
    touch: bool = False


@dataclass(frozen=True)
class RetryOptions:
    """Backoff for what may pass (5xx, timeouts, dropped connections) and the HTTP timeouts."""

    attempts: int = 5
    initial_wait_seconds: float = 2.0
    max_wait_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 30.0
    rate_limited_attempts: int = 10
    total_timeout_seconds: float = 120.0  # a whole answer, however slowly it trickles in


@dataclass(frozen=True)
class SyncOptions:
    checkpoint_file: Path = field(default_factory=default_checkpoint_file)  # [sync] state
    on_conflict: ConflictPolicy = ConflictPolicy.MERGE


def default_mal_token_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "mal_token.json"


@dataclass(frozen=True)
class SignInSettings:
    """One service's OAuth 2.0 endpoints and this installation's client there.

    aniSearch's come from `[oauth]`, MAL's from `[myanimelist]`; both are read into this one type.
    """

    authorize_url: str
    token_url: str
    redirect_uri: str
    token_file: Path
    revoke_url: str | None = None  # None: the service documents no revocation (MAL)
    # A Secret at both services (MAL's API agreement forbids disclosing MAL's): never shown.
    client_id: Secret | None = None
    client_secret: Secret | None = None  # only a confidential ("web") client has one


def anisearch_sign_in() -> SignInSettings:
    """aniSearch's endpoints; the client is the user's to ask for (api@anisearch.com)."""
    return SignInSettings(
        authorize_url="https://www.anisearch.com/oauth/authorize",
        token_url="https://www.anisearch.com/oauth/token",
        revoke_url="https://www.anisearch.com/oauth/revoke",
        redirect_uri="http://127.0.0.1:8765/callback",
        token_file=default_token_path(),
    )


def mal_sign_in() -> SignInSettings:
    """MyAnimeList's endpoints; the user registers the client (malsync ships none)."""
    return SignInSettings(
        authorize_url="https://myanimelist.net/v1/oauth2/authorize",
        token_url="https://myanimelist.net/v1/oauth2/token",
        redirect_uri="http://127.0.0.1:8766/callback",  # not aniSearch's 8765: both may run
        token_file=default_mal_token_path(),
    )


@dataclass(frozen=True)
class AniSearchSettings:
    """aniSearch: the API, the token given by the user, and the sign-in (`[oauth]`)."""

    base_url: str = DEFAULT_BASE_URL
    token: Secret | None = None
    token_origin: str = ""  # where `token` came from, for messages: never the token itself
    sign_in: SignInSettings = field(default_factory=anisearch_sign_in)
    # aniSearch's own MAL links (its Database API): which aniSearch title each MAL id is.
    use_mal_links: bool = True
    # The Database API's own token (not the sign-in's): one download an hour instead of a day.
    database_token: Secret | None = None


@dataclass(frozen=True)
class MalSettings:
    """The MyAnimeList API, read live, and the sign-in there; its client id also reads public
    lists without a sign-in."""

    api_url: str = "https://api.myanimelist.net/v2"
    user: str = ""
    pace_seconds: float = 1.0  # between two requests; MAL answers bursts with 403
    sign_in: SignInSettings = field(default_factory=mal_sign_in)


@dataclass(frozen=True)
class Settings:
    anisearch: AniSearchSettings = field(default_factory=AniSearchSettings)
    # `[anisearch] contact`: the person behind the requests, in every service's User-Agent.
    contact: str = ""
    limits: Limits = field(default_factory=Limits)
    mapping: MappingOptions = field(default_factory=MappingOptions)
    # `[mappings.anime]` / `[mappings.manga]`: MAL id -> aniSearch id, for titles aniSearch does
    # not know by their MAL id.
    hand_set_ids: Mapping[MediaType, Mapping[int, int]] = field(default_factory=dict)
    retry: RetryOptions = field(default_factory=RetryOptions)
    sync: SyncOptions = field(default_factory=SyncOptions)
    config_path: Path | None = None  # the config file read; None: there was none (defaults)
    myanimelist: MalSettings = field(default_factory=MalSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)

    def override(
        self, *, checkpoint_file: Path | None = None, on_conflict: ConflictPolicy | None = None
    ) -> Settings:
        """The settings with the command line's values on top: merged here, once."""
        sync = replace(
            self.sync,
            checkpoint_file=(
                checkpoint_file if checkpoint_file is not None else self.sync.checkpoint_file
            ),
            on_conflict=on_conflict if on_conflict is not None else self.sync.on_conflict,
        )
        return replace(self, sync=sync)


_N = TypeVar("_N", "Limits", "RetryOptions")


def load_settings(path: Path | None, env: Mapping[str, str]) -> Settings:
    """Load settings; an explicit path must exist, the default one may be absent."""
    explicit = path is not None
    config_path = path if path is not None else default_config_path()
    data = read_config_file(config_path) if config_path.exists() or explicit else {}
    return settings_from_mapping(data, config_path, env, loaded=bool(data) or explicit)


def notify_settings_alone(path: Path | None, env: Mapping[str, str]) -> NotifySettings:
    """Where a sync whose config cannot be read sends its message, so that a mistake made
    editing it does not fail the nightly run unheard: MALSYNC_NOTIFY_URLS, else the file's own
    [notify] urls where that much of it can be read, else nowhere."""
    config_path = path if path is not None else default_config_path()
    try:
        data = read_config_file(config_path)
    except ConfigError:
        data = {}
    for tables in (data, {}):  # the file's [notify], then the environment alone
        try:
            return notify_settings(Table(tables, "", config_path).sub("notify"), env)
        except ConfigError:
            continue
    return NotifySettings()


def settings_from_mapping(
    data: Mapping[str, Any], origin: Path, env: Mapping[str, str], loaded: bool = True
) -> Settings:
    top = Table(data, "", origin)
    anisearch, contact = _api_settings(top.sub("anisearch"), top.sub("oauth"), env, origin)
    settings = Settings(
        anisearch=anisearch,
        contact=contact,
        limits=_positive_numbers(top.sub("limits"), Limits),
        mapping=_mapping(top.sub("mapping")),
        hand_set_ids=_hand_set_ids(top.sub("mappings")),
        retry=_positive_numbers(top.sub("retry"), RetryOptions),
        sync=_sync(top.sub("sync"), origin),
        config_path=origin if loaded else None,
        myanimelist=_mal_settings(top.sub("myanimelist"), env, origin),
        notify=notify_settings(top.sub("notify"), env),
    )
    unknown = sorted(set(data) - top.used)
    if unknown:
        raise ConfigError(
            f"{origin}: [{unknown[0]}] is not a known section{guess(unknown[0], top.used)}"
        )
    return settings


def _api_settings(
    table: Table, oauth: Table, env: Mapping[str, str], origin: Path
) -> tuple[AniSearchSettings, str]:
    """`[anisearch]` and its sign-in, `[oauth]`; and the contact, which every service is told."""
    defaults = AniSearchSettings()
    base_url = table.url("base_url", defaults.base_url).rstrip("/")
    contact = table.text("contact", "")
    if contact and not CONTACT_PATTERN.fullmatch(contact):
        raise table.fail(
            "contact", f"must be an e-mail address or a web address (https://…), not {contact!r}"
        )
    file_token = table.secret("token")
    use_mal_links = table.get("use_mal_links", bool, defaults.use_mal_links)
    file_database_token = table.secret("database_token")
    table.finish()
    env_token = credential(env.get(TOKEN_ENV, "").strip(), TOKEN_ENV)
    token = env_token or file_token
    token_origin = TOKEN_ENV if env_token else "[anisearch] token" if file_token else ""
    database_token = credential(env.get(DATABASE_TOKEN_ENV, "").strip(), DATABASE_TOKEN_ENV)
    client_id = oauth.get("client_id", str, "").strip()
    sign_in = _sign_in(
        oauth,
        defaults.sign_in,
        Secret(client_id) if client_id else None,
        origin,
        revoke=True,
    )
    oauth.finish()
    api = AniSearchSettings(
        base_url=base_url,
        token=token,
        token_origin=token_origin,
        sign_in=sign_in,
        use_mal_links=use_mal_links,
        database_token=database_token or file_database_token,
    )
    return api, contact


def _sign_in(
    table: Table,
    defaults: SignInSettings,
    client_id: Secret | None,
    origin: Path,
    *,
    revoke: bool,
) -> SignInSettings:
    """A service's sign-in keys, read the same way in `[oauth]` and `[myanimelist]`."""
    secret = table.get("client_secret", str, "").strip()
    token_file = table.get("token_file", str, "")
    return SignInSettings(
        client_id=client_id,
        client_secret=Secret(secret) if secret else None,
        authorize_url=table.url("authorize_url", defaults.authorize_url),
        token_url=table.url("token_url", defaults.token_url),
        revoke_url=table.url("revoke_url", defaults.revoke_url or "") if revoke else None,
        redirect_uri=table.get("redirect_uri", str, defaults.redirect_uri),
        token_file=_path_near(origin, token_file) if token_file else defaults.token_file,
    )


def _mal_settings(table: Table, env: Mapping[str, str], origin: Path) -> MalSettings:
    defaults = MalSettings()
    file_client_id = table.secret("client_id")
    client_id = credential(env.get(MAL_CLIENT_ID_ENV, "").strip(), MAL_CLIENT_ID_ENV)
    client_id = client_id or file_client_id
    sign_in = _sign_in(table, defaults.sign_in, client_id, origin, revoke=False)
    pace = table.get("pace_seconds", float, defaults.pace_seconds)
    if not 0 <= pace <= 60:  # also refuses nan
        raise table.fail("pace_seconds", "must be a number of seconds from 0 to 60")
    options = MalSettings(
        api_url=table.url("api_url", defaults.api_url).rstrip("/"),
        user=table.get("user", str, "").strip(),
        pace_seconds=pace,
        sign_in=sign_in,
    )
    table.finish()
    return options


def _path_near(origin: Path, value: str) -> Path:
    """A path from the config file; a relative one is taken relative to that file."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else origin.parent / path


def _positive_numbers(table: Table, options: type[_N]) -> _N:
    """A table of positive numbers read into `options`; each default is the dataclass's own."""
    defaults = options()
    values = {}
    for each in fields(options):
        default = getattr(defaults, each.name)
        values[each.name] = table.positive(each.name, type(default), default, MAXIMUMS[each.name])
    table.finish()
    return options(**values)


_STATUS_KEYS = {
    "watching": ListStatus.IN_PROGRESS,
    "completed": ListStatus.COMPLETED,
    "on_hold": ListStatus.ON_HOLD,
    "dropped": ListStatus.DROPPED,
    "plan_to_watch": ListStatus.PLAN_TO_WATCH,
}


def _hand_set_ids(table: Table) -> dict[MediaType, dict[int, int]]:
    """[mappings.anime] / [mappings.manga]: "MAL id" = aniSearch id."""
    result: dict[MediaType, dict[int, int]] = {}
    for media in MediaType:
        sub = table.sub(media.value)
        pairs: dict[int, int] = {}
        for key in sub.data:
            value = sub.get(key, int, 0)
            if not is_id(key) or not 0 < value <= ID_MAX:
                raise sub.fail(key, 'must map a MAL id to an aniSearch id, as "5114" = 5048')
            pairs[int(key)] = value
        sub.finish()
        if pairs:
            result[media] = pairs
    table.finish()
    return result


def _mapping(table: Table) -> MappingOptions:
    status_table = table.sub("status")
    status = _default_status_map()
    for key, mal_status in _STATUS_KEYS.items():
        value = status_table.get(key, str, status[mal_status])
        if value not in ANISEARCH_STATUSES:
            raise status_table.fail(key, f"must be one of {', '.join(ANISEARCH_STATUSES)}")
        status[mal_status] = value
    status_table.finish()
    defaults = MappingOptions()
    options = MappingOptions(
        status=status,
        personal_rating=table.get("personal_rating", bool, defaults.personal_rating),
        partial_dates=table.choice("partial_dates", PartialDates, defaults.partial_dates),
        tags_in_notes=table.get("tags_in_notes", bool, defaults.tags_in_notes),
        is_visible=table.get("is_visible", bool, defaults.is_visible),
        touch=table.get("touch", bool, defaults.touch),
    )
    table.finish()
    return options


def _sync(table: Table, origin: Path) -> SyncOptions:
    defaults = SyncOptions()
    path = table.get("state", str, "")
    policy = table.choice("on_conflict", ConflictPolicy, defaults.on_conflict)
    table.finish()
    return SyncOptions(
        checkpoint_file=_path_near(origin, path) if path else defaults.checkpoint_file,
        on_conflict=policy,
    )
