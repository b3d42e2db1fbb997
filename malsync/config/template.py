"""The config file itself: the commented example shipped in the package, a new file written from
it (`malsync init`), and the effective settings shown back with every secret masked."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import fields
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

from malsync.config.notify_urls import NotifyUrl
from malsync.config.settings import Settings, settings_from_mapping
from malsync.errors import ConfigError
from malsync.redaction import Secret

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

EXAMPLE_RESOURCE = "config.example.toml"
# `[oauth]`'s keys, in the order the example has them.
_OAUTH_KEYS = (
    "client_id",
    "client_secret",
    "authorize_url",
    "token_url",
    "revoke_url",
    "redirect_uri",
    "token_file",
)


def example_config() -> str:
    """The commented example that documents every setting, as the package ships it."""
    return resources.files("malsync").joinpath(EXAMPLE_RESOURCE).read_text(encoding="utf-8")


def filled_example(values: dict[tuple[str, str], str]) -> str:
    """The example with `key = ""` in `[section]` set to the given values; the comments stay."""
    lines = []
    section = ""
    for line in example_config().splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped.strip("[]")
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else ""
        value = values.get((section, key))
        filled = value and stripped == f'{key} = ""'
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}\n" if filled else line)
    return "".join(lines)


def check_writable(path: Path, *, force: bool) -> None:
    """Refuse to replace a config file unless asked to: it may hold hours of work."""
    if path.is_dir():
        raise ConfigError(f"{path} is a directory, not a config file")
    if path.exists() and not force:
        raise ConfigError(
            f"{path} exists already; nothing was written (edit it, or malsync init --force "
            "replaces it)"
        )


def write_new_config(path: Path, text: str, *, force: bool) -> None:
    """Write a config file readable only by its owner; an existing one only with `force`."""
    settings_from_mapping(tomllib.loads(text), path, {})  # never write a file malsync refuses
    check_writable(path, force=force)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.new")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _toml_value(value: object) -> str:
    if isinstance(value, Secret):
        return '"(set, not shown)"'
    if isinstance(value, tuple):  # [notify] urls: which services, never their credentials
        return "[" + ", ".join(_toml_value(each) for each in value) + "]"
    if isinstance(value, NotifyUrl):
        return json.dumps(value.masked)
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


def settings_lines(settings: Settings) -> list[str]:
    """The settings a run would use, as TOML; secrets say only whether they are set."""
    lines = []
    for section, rows in _sections(settings):
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in rows)
        if section == "anisearch" and settings.anisearch.token_origin:
            lines.append(f"# the token comes from {settings.anisearch.token_origin}")
        if section == "notify" and settings.notify.origin:
            lines.append(f"# from {settings.notify.origin}; credentials in them are masked")
        lines.append("")
    lines.append("[mapping.status]")
    for status, anisearch in settings.mapping.status.items():
        lines.append(f"{status.value} = {_toml_value(anisearch)}")
    for media, pairs in settings.hand_set_ids.items():
        lines.extend(["", f"[mappings.{media.value}]"])
        lines.extend(f'"{mal_id}" = {anisearch_id}' for mal_id, anisearch_id in pairs.items())
    return lines


def _sections(settings: Settings) -> list[tuple[str, list[tuple[str, object]]]]:
    """Each section's keys as the config file has them (the settings group them by service)."""
    api, mal = settings.anisearch, settings.myanimelist
    mal_sign_in = mal.sign_in
    return [
        (
            "anisearch",
            [
                ("base_url", api.base_url),
                ("contact", settings.contact),
                ("token", api.token),
                ("use_mal_links", api.use_mal_links),
                ("database_token", api.database_token),
            ],
        ),
        ("oauth", [(key, getattr(api.sign_in, key)) for key in _OAUTH_KEYS]),
        (
            "myanimelist",
            [
                ("api_url", mal.api_url),
                ("client_id", mal_sign_in.client_id),
                ("client_secret", mal_sign_in.client_secret),
                ("user", mal.user),
                ("authorize_url", mal_sign_in.authorize_url),
                ("token_url", mal_sign_in.token_url),
                ("redirect_uri", mal_sign_in.redirect_uri),
                ("token_file", mal_sign_in.token_file),
                ("pace_seconds", mal.pace_seconds),
            ],
        ),
        (
            "sync",
            [("state", settings.sync.checkpoint_file), ("on_conflict", settings.sync.on_conflict)],
        ),
        ("mapping", _fields(settings.mapping)),
        ("limits", _fields(settings.limits)),
        ("retry", _fields(settings.retry)),
        ("notify", [("urls", settings.notify.urls)]),
    ]


def _fields(values: Any) -> list[tuple[str, object]]:
    """A section read into one dataclass, key by key (`[mapping.status]` is shown apart)."""
    return [
        (each.name, getattr(values, each.name)) for each in fields(values) if each.name != "status"
    ]
