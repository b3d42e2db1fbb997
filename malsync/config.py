"""Settings: defaults, the TOML config file and the environment, merged once into frozen objects."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import platformdirs

from malsync.errors import ConfigError
from malsync.records import ListStatus, MediaType

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

APP_NAME = "malsync"
TOKEN_ENV = "ANISEARCH_TOKEN"
MAL_CLIENT_ID_ENV = "MAL_CLIENT_ID"
DEFAULT_BASE_URL = "https://api.anisearch.com/v1"
ANISEARCH_STATUSES = ("ongoing", "completed", "on_hold", "dropped", "not_interested", "bookmark")
PARTIAL_DATE_POLICIES = ("omit", "first_day")
CONFLICT_POLICIES = ("mal-wins", "keep-anisearch", "no-regress")


class Secret:
    """A value that never shows itself in repr, str, logs or tracebacks.

    Every secret made in this process is remembered, so that the log filter can blank it out of
    any message, including a renewed access token that arrived in the middle of a run.
    """

    __slots__ = ("_value",)
    _made: ClassVar[set[str]] = set()
    # Shorter values are no credentials, and blanking them would garble every message.
    _REDACT_FROM_LENGTH: ClassVar[int] = 8

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= Secret._REDACT_FROM_LENGTH:
            Secret._made.add(value)

    @classmethod
    def all_values(cls) -> frozenset[str]:
        return frozenset(cls._made)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact(text: str) -> str:
    """Blank out every secret this process knows from a text that is about to be shown."""
    for value in Secret.all_values():
        if value in text:
            text = text.replace(value, "***")
    return text


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_state_path() -> Path:
    return platformdirs.user_data_path(APP_NAME) / "state.sqlite3"


def default_token_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "token.json"


@dataclass(frozen=True)
class ApiSettings:
    base_url: str = DEFAULT_BASE_URL
    contact: str = ""
    token: Secret | None = None
    token_origin: str = ""  # where `token` came from, for messages: never the token itself


@dataclass(frozen=True)
class Limits:
    upsert_requests: int = 100
    upsert_window_seconds: float = 120.0
    read_requests: int = 10
    read_window_seconds: float = 60.0


def _default_status_map() -> dict[ListStatus, str]:
    return {
        ListStatus.IN_PROGRESS: "ongoing",
        ListStatus.COMPLETED: "completed",
        ListStatus.ON_HOLD: "on_hold",
        ListStatus.DROPPED: "dropped",
        ListStatus.PLANNED: "bookmark",
    }


@dataclass(frozen=True)
class MappingOptions:
    """How MAL values become aniSearch fields; the defaults are the issue's documented mapping."""

    status: Mapping[ListStatus, str] = field(default_factory=_default_status_map)
    personal_rating: bool = False
    partial_dates: str = "omit"
    tags_in_notes: bool = False
    is_visible: bool = True
    touch: bool = False
    # Titles aniSearch does not know by their MAL id: MAL id -> aniSearch id, per media type.
    anisearch_ids: Mapping[MediaType, Mapping[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryOptions:
    attempts: int = 5
    initial_wait_seconds: float = 2.0
    max_wait_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 30.0
    rate_limited_attempts: int = 10


@dataclass(frozen=True)
class SyncOptions:
    state: Path = field(default_factory=default_state_path)
    on_conflict: str = "mal-wins"


@dataclass(frozen=True)
class OAuthSettings:
    """aniSearch's OAuth 2.0 endpoints and this installation's client registration."""

    client_id: str = ""
    client_secret: Secret | None = None
    authorize_url: str = "https://www.anisearch.com/oauth/authorize"
    token_url: str = "https://www.anisearch.com/oauth/token"
    revoke_url: str = "https://www.anisearch.com/oauth/revoke"
    redirect_uri: str = "http://127.0.0.1:8765/callback"
    token_file: Path = field(default_factory=default_token_path)


def default_mal_token_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / "mal_token.json"


@dataclass(frozen=True)
class MalSettings:
    """The MyAnimeList API, read live; the user registers the client (malsync ships none)."""

    api_url: str = "https://api.myanimelist.net/v2"
    client_id: Secret | None = None  # MAL's API agreement forbids disclosing it: a Secret
    client_secret: Secret | None = None  # only "web" apps have one
    user: str = ""
    authorize_url: str = "https://myanimelist.net/v1/oauth2/authorize"
    token_url: str = "https://myanimelist.net/v1/oauth2/token"
    redirect_uri: str = "http://127.0.0.1:8766/callback"  # not aniSearch's 8765: both may run
    token_file: Path = field(default_factory=default_mal_token_path)
    pace_seconds: float = 1.0  # between two requests; MAL answers bursts with 403


@dataclass(frozen=True)
class Settings:
    anisearch: ApiSettings = field(default_factory=ApiSettings)
    oauth: OAuthSettings = field(default_factory=OAuthSettings)
    limits: Limits = field(default_factory=Limits)
    mapping: MappingOptions = field(default_factory=MappingOptions)
    retry: RetryOptions = field(default_factory=RetryOptions)
    sync: SyncOptions = field(default_factory=SyncOptions)
    source: Path | None = None
    myanimelist: MalSettings = field(default_factory=MalSettings)


_V = TypeVar("_V")
_KIND_NAMES = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}


class _Table:
    """Reads one TOML table with type checks, and refuses keys it does not know (typos)."""

    def __init__(self, data: Mapping[str, Any], name: str, origin: Path) -> None:
        self.data = data
        self.name = name
        self.origin = origin
        self.used: set[str] = set()

    def fail(self, key: str, why: str) -> ConfigError:
        return ConfigError(f"{self.origin}: [{self.name}] {key} {why}")

    def get(self, key: str, kind: type[_V], default: _V) -> _V:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(key, f"must be {_KIND_NAMES[kind]}, not {value!r}")
        return value

    def positive(self, key: str, kind: type[_V], default: _V) -> _V:
        value = self.get(key, kind, default)
        if not (isinstance(value, int | float) and value > 0):
            raise self.fail(key, "must be greater than 0")
        return value

    def sub(self, key: str) -> _Table:
        self.used.add(key)
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return _Table(value, f"{self.name}.{key}" if self.name else key, self.origin)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "is not a known setting (see config.example.toml)")


def load_settings(path: Path | None, env: Mapping[str, str]) -> Settings:
    """Load settings; an explicit path must exist, the default one may be absent."""
    explicit = path is not None
    config_path = path if path is not None else default_config_path()
    data: dict[str, Any] = {}
    if config_path.exists() or explicit:
        try:
            with open(config_path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"{config_path}: config file not found") from None
        except IsADirectoryError:
            raise ConfigError(f"{config_path}: is a directory, not a config file") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{config_path}: not valid TOML ({error})") from None
        except OSError as error:
            raise ConfigError(f"{config_path}: cannot be read ({error.strerror})") from None
    return settings_from_mapping(data, config_path, env, loaded=bool(data) or explicit)


def settings_from_mapping(
    data: Mapping[str, Any], origin: Path, env: Mapping[str, str], loaded: bool = True
) -> Settings:
    top = _Table(data, "", origin)
    settings = Settings(
        anisearch=_api_settings(top.sub("anisearch"), env, origin),
        oauth=_oauth(top.sub("oauth"), origin),
        limits=_limits(top.sub("limits")),
        mapping=_mapping(top.sub("mapping"), top.sub("mappings")),
        retry=_retry(top.sub("retry")),
        sync=_sync(top.sub("sync"), origin),
        source=origin if loaded else None,
        myanimelist=_mal_settings(top.sub("myanimelist"), env, origin),
    )
    unknown = sorted(set(data) - top.used)
    if unknown:
        raise ConfigError(
            f"{origin}: [{unknown[0]}] is not a known section (see config.example.toml)"
        )
    return settings


def _api_settings(table: _Table, env: Mapping[str, str], origin: Path) -> ApiSettings:
    base_url = table.get("base_url", str, DEFAULT_BASE_URL).rstrip("/")
    contact = table.get("contact", str, "").strip()
    file_token = table.get("token", str, "").strip()
    table.finish()
    env_token = env.get(TOKEN_ENV, "").strip()
    token = env_token or file_token
    token_origin = TOKEN_ENV if env_token else "[anisearch] token" if file_token else ""
    return ApiSettings(
        base_url=base_url,
        contact=contact,
        token=Secret(token) if token else None,
        token_origin=token_origin,
    )


def _oauth(table: _Table, origin: Path) -> OAuthSettings:
    defaults = OAuthSettings()
    secret = table.get("client_secret", str, "").strip()
    token_file = table.get("token_file", str, "")
    options = OAuthSettings(
        client_id=table.get("client_id", str, "").strip(),
        client_secret=Secret(secret) if secret else None,
        authorize_url=table.get("authorize_url", str, defaults.authorize_url),
        token_url=table.get("token_url", str, defaults.token_url),
        revoke_url=table.get("revoke_url", str, defaults.revoke_url),
        redirect_uri=table.get("redirect_uri", str, defaults.redirect_uri),
        token_file=_path_near(origin, token_file) if token_file else defaults.token_file,
    )
    table.finish()
    return options


def _mal_settings(table: _Table, env: Mapping[str, str], origin: Path) -> MalSettings:
    defaults = MalSettings()
    file_client_id = table.get("client_id", str, "").strip()
    client_id = env.get(MAL_CLIENT_ID_ENV, "").strip() or file_client_id
    secret = table.get("client_secret", str, "").strip()
    token_file = table.get("token_file", str, "")
    pace = table.get("pace_seconds", float, defaults.pace_seconds)
    if not 0 <= pace <= 60:  # also refuses nan
        raise table.fail("pace_seconds", "must be a number of seconds from 0 to 60")
    options = MalSettings(
        api_url=table.get("api_url", str, defaults.api_url).rstrip("/"),
        client_id=Secret(client_id) if client_id else None,
        client_secret=Secret(secret) if secret else None,
        user=table.get("user", str, "").strip(),
        authorize_url=table.get("authorize_url", str, defaults.authorize_url),
        token_url=table.get("token_url", str, defaults.token_url),
        redirect_uri=table.get("redirect_uri", str, defaults.redirect_uri),
        token_file=_path_near(origin, token_file) if token_file else defaults.token_file,
        pace_seconds=pace,
    )
    table.finish()
    return options


def _path_near(origin: Path, value: str) -> Path:
    """A path from the config file; a relative one is taken relative to that file."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else origin.parent / path


def _limits(table: _Table) -> Limits:
    limits = Limits(
        upsert_requests=table.positive("upsert_requests", int, 100),
        upsert_window_seconds=table.positive("upsert_window_seconds", float, 120.0),
        read_requests=table.positive("read_requests", int, 10),
        read_window_seconds=table.positive("read_window_seconds", float, 60.0),
    )
    table.finish()
    return limits


_STATUS_KEYS = {
    "watching": ListStatus.IN_PROGRESS,
    "completed": ListStatus.COMPLETED,
    "on_hold": ListStatus.ON_HOLD,
    "dropped": ListStatus.DROPPED,
    "plan_to_watch": ListStatus.PLANNED,
}


def _anisearch_ids(table: _Table) -> dict[MediaType, dict[int, int]]:
    """[mappings.anime] / [mappings.manga]: "MAL id" = aniSearch id."""
    result: dict[MediaType, dict[int, int]] = {}
    for media in MediaType:
        sub = table.sub(media.value)
        pairs: dict[int, int] = {}
        for key in sub.data:
            value = sub.get(key, int, 0)
            if not key.isdigit() or int(key) <= 0 or value <= 0:
                raise sub.fail(key, 'must map a MAL id to an aniSearch id, as "5114" = 5048')
            pairs[int(key)] = value
        sub.finish()
        if pairs:
            result[media] = pairs
    table.finish()
    return result


def _mapping(table: _Table, overrides: _Table) -> MappingOptions:
    status_table = table.sub("status")
    status = _default_status_map()
    for key, mal_status in _STATUS_KEYS.items():
        value = status_table.get(key, str, status[mal_status])
        if value not in ANISEARCH_STATUSES:
            raise status_table.fail(key, f"must be one of {', '.join(ANISEARCH_STATUSES)}")
        status[mal_status] = value
    status_table.finish()
    partial = table.get("partial_dates", str, "omit")
    if partial not in PARTIAL_DATE_POLICIES:
        raise table.fail("partial_dates", f"must be one of {', '.join(PARTIAL_DATE_POLICIES)}")
    options = MappingOptions(
        status=status,
        personal_rating=table.get("personal_rating", bool, False),
        partial_dates=partial,
        tags_in_notes=table.get("tags_in_notes", bool, False),
        is_visible=table.get("is_visible", bool, True),
        touch=table.get("touch", bool, False),
        anisearch_ids=_anisearch_ids(overrides),
    )
    table.finish()
    return options


def _retry(table: _Table) -> RetryOptions:
    options = RetryOptions(
        attempts=table.positive("attempts", int, 5),
        initial_wait_seconds=table.positive("initial_wait_seconds", float, 2.0),
        max_wait_seconds=table.positive("max_wait_seconds", float, 60.0),
        connect_timeout_seconds=table.positive("connect_timeout_seconds", float, 10.0),
        read_timeout_seconds=table.positive("read_timeout_seconds", float, 30.0),
        rate_limited_attempts=table.positive("rate_limited_attempts", int, 10),
    )
    table.finish()
    return options


def _sync(table: _Table, origin: Path) -> SyncOptions:
    state = table.get("state", str, "")
    policy = table.get("on_conflict", str, "mal-wins")
    if policy not in CONFLICT_POLICIES:
        raise table.fail("on_conflict", f"must be one of {', '.join(CONFLICT_POLICIES)}")
    table.finish()
    return SyncOptions(
        state=_path_near(origin, state) if state else default_state_path(), on_conflict=policy
    )
