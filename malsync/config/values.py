"""What a config value may be, beyond its TOML type: the checks `config` applies to each.

Each says whether a value is usable, so that a bad one stops with one line naming the key
instead of a crash (or a hung run) later.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from malsync.errors import ConfigError
from malsync.pipeline.records import ID_MAX
from malsync.redaction import Secret

# The most each number in [limits] and [retry] may be: beyond it a value is a typo, not a wish
# (an hour-long timeout holds the checkpoint's lock for an hour per request).
_TEN_MINUTES, _ONE_DAY = 600.0, 24 * 3600.0
MAXIMUMS: dict[str, float] = {
    "upsert_requests": 100_000,
    "upsert_window_seconds": _ONE_DAY,
    "read_requests": 100_000,
    "read_window_seconds": _ONE_DAY,
    "attempts": 100,
    "initial_wait_seconds": _TEN_MINUTES,
    "max_wait_seconds": _TEN_MINUTES,
    "connect_timeout_seconds": _TEN_MINUTES,
    "read_timeout_seconds": _TEN_MINUTES,
    "rate_limited_attempts": 100,
    "total_timeout_seconds": _TEN_MINUTES,
}


def url_problem(value: str) -> str | None:
    """Why `value` is no http(s) address with a host; None when it is one.

    Whether plain http is allowed (only to loopback) is `client.check_url`'s say.
    """
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        valid = False
    if not valid or not all(" " < char <= "~" for char in value):
        return f"must be an http(s):// address with a host, not {value!r}"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password"
    return None


def is_header_text(value: str) -> bool:
    """One line of printable ASCII: what a header such as the User-Agent can carry."""
    return all(" " <= char <= "~" for char in value)


def is_id(text: str) -> bool:
    """A plain number above 0 that SQLite can hold: ASCII digits only, not "+1", "²" or "¹²"."""
    return text.isascii() and text.isdigit() and 0 < int(text) <= ID_MAX


def credential(value: str, where: str) -> Secret | None:
    """A token or client id (sent in a header), or None if empty; a bad one is refused with a
    message that names where it came from and never shows it."""
    if not value:
        return None
    secret = Secret(value)
    if not secret.fits_header():
        raise ConfigError(
            f"{where} holds a line break, a space or a character outside ASCII, which no token "
            "or id has (its value is not shown); copy it again"
        )
    return secret


_V = TypeVar("_V")
_E = TypeVar("_E", bound=Enum)
_KIND_NAMES = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}
EXAMPLE_HINT = "malsync config example shows every setting"


class Table:
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

    def positive(self, key: str, kind: type[_V], default: _V, maximum: float) -> _V:
        value = self.get(key, kind, default)
        if not (isinstance(value, int | float) and 0 < value <= maximum):  # refuses nan and inf
            raise self.fail(key, f"must be greater than 0 and at most {maximum:g}")
        return value

    def text(self, key: str, default: str) -> str:
        """A value that goes into a header: one line of printable ASCII."""
        value = self.get(key, str, default).strip()
        if not is_header_text(value):
            raise self.fail(key, "must be one line of printable ASCII (it is sent in a header)")
        return value

    def url(self, key: str, default: str) -> str:
        value = self.get(key, str, default).strip()
        problem = url_problem(value)
        if problem:
            raise self.fail(key, problem)
        return value

    def secret(self, key: str) -> Secret | None:
        """A credential sent in a header; a bad one is refused without showing it."""
        return credential(self.get(key, str, "").strip(), f"{self.origin}: [{self.name}] {key}")

    def choice(self, key: str, kind: type[_E], default: _E) -> _E:
        value = self.get(key, str, default.value)
        try:
            return kind(value)
        except ValueError:
            names = ", ".join(str(each.value) for each in kind)
            raise self.fail(key, f"must be one of {names}") from None

    def sub(self, key: str) -> Table:
        self.used.add(key)
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return Table(value, f"{self.name}.{key}" if self.name else key, self.origin)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"is not a known setting{guess(unknown[0], self.used)}")


def guess(unknown: str, known: set[str]) -> str:
    """The likely meant name for a typo, and where every name is listed."""
    close = difflib.get_close_matches(unknown, sorted(known), n=1, cutoff=0.6)
    meant = f"; did you mean `{close[0]}`?" if close else ""
    return f"{meant} ({EXAMPLE_HINT})"
